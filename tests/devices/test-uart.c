/*
 * test-uart.c - the 16550A on COM1: divisor latch, output to the console,
 * THRE interrupts and their IIR acknowledgement, OUT2 gating, loopback and
 * the modem status bits, the RX FIFO fed from the console with trigger
 * levels, character timeout, flow control when the FIFO is full, overrun,
 * IIR priorities, LSR.
 */
#include <string.h>

#include "tests/devices/check.h"
#include "tests/devices/fakevm.h"

#define COM1 0x3f8
enum { DATA, IER, IIR, LCR, MCR, LSR, MSR, SCR };

static struct vm *vm;
static struct device_set *set;

static void out8(unsigned reg, uint8_t v)
{
	devices_pio_write(set, (uint16_t)(COM1 + reg), 1, v);
}

static uint8_t in8(unsigned reg)
{
	return (uint8_t)devices_pio_read(set, (uint16_t)(COM1 + reg), 1);
}

static int irq4(void)
{
	return fakevm_irq_level(vm, 4);
}

static size_t console(char *buf, size_t max)
{
	size_t n = fakevm_console_output(vm, buf, max - 1);

	buf[n] = 0;
	return n;
}

static void drain_rx(void)
{
	for (int i = 0; i < 64 && (in8(LSR) & 0x01); i++)
		in8(DATA);
}

static void test_registers(void)
{
	out8(LCR, 0x83);
	out8(DATA, 0x01);
	out8(IER, 0x00);
	CHECK_EQ(in8(DATA), 0x01);		/* DLL */
	CHECK_EQ(in8(IER), 0x00);		/* DLM */
	CHECK_EQ(in8(LCR), 0x83);
	out8(LCR, 0x03);
	CHECK_EQ(in8(IER), 0x00);		/* IER, not DLM */
	out8(IER, 0xff);
	CHECK_EQ(in8(IER), 0x0f);		/* upper nibble reads 0 */
	out8(IER, 0x00);
	out8(SCR, 0x5a);
	CHECK_EQ(in8(SCR), 0x5a);
	CHECK_EQ(in8(LSR), 0x60);		/* THRE, TEMT, no data */
	CHECK_EQ(in8(IIR), 0x01);
	CHECK_EQ(in8(MSR) & 0xf0, 0xb0);	/* CTS, DSR, DCD: a connected line */
}

static void test_output_and_thre(void)
{
	char buf[64];

	out8(DATA, 'h');
	out8(DATA, 'i');
	CHECK_EQ(console(buf, sizeof(buf)), 2);
	CHECK(!strcmp(buf, "hi"));

	out8(MCR, 0x0b);			/* DTR, RTS, OUT2 */
	out8(IER, 0x02);
	CHECK_EQ(in8(IIR) & 0x0f, 0x02);	/* enabling THRE with THR empty */
	CHECK_EQ(irq4(), 0);			/* reading IIR acknowledged it */
	CHECK_EQ(in8(IIR) & 0x0f, 0x01);
	out8(DATA, '!');
	CHECK_EQ(irq4(), 1);			/* transmitted at once */
	CHECK_EQ(in8(IIR) & 0x0f, 0x02);
	CHECK_EQ(irq4(), 0);

	/* Linux's UART_BUG_THRE test: THRE reasserts when IER is rewritten. */
	out8(IER, 0x00);
	out8(IER, 0x02);
	CHECK_EQ(in8(IIR) & 0x01, 0);

	/* OUT2 gates the IRQ line, as on PCs. */
	out8(DATA, '.');
	CHECK_EQ(irq4(), 1);
	out8(MCR, 0x03);
	CHECK_EQ(irq4(), 0);
	CHECK_EQ(in8(IIR) & 0x0f, 0x02);	/* still pending in the chip */
	out8(MCR, 0x0b);
	out8(IER, 0x00);
	CHECK_EQ(irq4(), 0);
	console(buf, sizeof(buf));
}

static void test_loopback(void)
{
	char buf[64];

	out8(MSR, 0);				/* writes ignored */
	in8(MSR);
	/* Linux's 8250 autoconfig: loopback with RTS and OUT2 reads CTS and DCD. */
	out8(MCR, 0x1a);
	CHECK_EQ(in8(MSR) & 0xf0, 0x90);
	CHECK_EQ(in8(MSR) & 0x0f, 0x00);	/* deltas read once */
	out8(MCR, 0x1f);
	CHECK_EQ(in8(MSR), 0xf0 | 0x02);	/* DSR rose with DTR */
	out8(MCR, 0x1b);
	CHECK_EQ(in8(MSR), 0xb0 | 0x04);	/* RI trailing edge */

	/* Bytes written come back and do not reach the console. */
	out8(DATA, 'L');
	CHECK_EQ(in8(LSR) & 0x01, 0x01);
	CHECK_EQ(in8(DATA), 'L');
	CHECK_EQ(in8(LSR) & 0x01, 0x00);
	CHECK_EQ(console(buf, sizeof(buf)), 0);

	/* Loopback forces OUT2 inactive: no IRQ even with OUT2 set. */
	out8(IER, 0x02);
	CHECK_EQ(irq4(), 0);
	out8(IER, 0x00);
	in8(IIR);
	out8(MCR, 0x10);
	CHECK_EQ(in8(MSR), 0x0b);		/* CTS, DSR, DCD fell */
	out8(MCR, 0x0b);
	CHECK_EQ(in8(MSR), 0xb0 | 0x0b);	/* and are back with the line */
}

static void test_rx_fifo(void)
{
	char buf[64];

	out8(LCR, 0x83);
	out8(DATA, 1);				/* 115200 bit/s */
	out8(IER, 0);
	out8(LCR, 0x03);
	out8(0x02, 0x47);			/* FIFO on, clear, trigger at 4 */
	CHECK_EQ(in8(IIR), 0xc1);
	out8(IER, 0x01);
	out8(MCR, 0x0b);

	fakevm_console_input(vm, "abc", 3);
	CHECK_EQ(fakevm_run_watchers(vm), 1);
	CHECK_EQ(in8(LSR) & 0x01, 0x01);
	CHECK_EQ(in8(IIR), 0xc1);		/* 3 bytes: below the trigger */
	CHECK_EQ(irq4(), 0);

	/* Four character times (10 bits at 115200) later: timeout. */
	fakevm_advance(340000);
	CHECK_EQ(in8(IIR), 0xc1);
	fakevm_advance(10000);
	CHECK_EQ(in8(IIR), 0xcc);
	CHECK_EQ(irq4(), 1);
	CHECK_EQ(in8(DATA), 'a');		/* a read clears the timeout */
	CHECK_EQ(irq4(), 0);
	CHECK_EQ(in8(IIR), 0xc1);

	fakevm_console_input(vm, "defgh", 5);
	fakevm_run_watchers(vm);
	CHECK_EQ(in8(IIR), 0xc4);		/* 7 bytes: at the trigger */
	CHECK_EQ(irq4(), 1);
	CHECK_EQ(in8(DATA), 'b');
	CHECK_EQ(in8(DATA), 'c');
	CHECK_EQ(in8(DATA), 'd');
	CHECK_EQ(in8(IIR), 0xc4);		/* 4 left */
	CHECK_EQ(in8(DATA), 'e');
	CHECK_EQ(in8(IIR), 0xc1);		/* 3: below again */
	for (const char *p = "fgh"; *p; p++)
		CHECK_EQ(in8(DATA), *p);
	CHECK_EQ(in8(LSR) & 0x01, 0);
	fakevm_advance(1000000);
	CHECK_EQ(in8(IIR), 0xc1);		/* no timeout on an empty FIFO */

	/* Trigger levels 1, 8, 14. */
	static const struct {
		uint8_t fcr, level;
	} triggers[] = { { 0x01, 1 }, { 0x81, 8 }, { 0xc1, 14 } };
	for (unsigned t = 0; t < 3; t++) {
		out8(0x02, triggers[t].fcr);
		for (unsigned i = 1; i <= triggers[t].level; i++) {
			fakevm_console_input(vm, "x", 1);
			fakevm_run_watchers(vm);
			CHECK_EQ(in8(IIR), i < triggers[t].level ? 0xc1 : 0xc4);
		}
		drain_rx();
	}
	console(buf, sizeof(buf));
}

/* Input beyond the FIFO waits in the host, nothing is lost. */
static void test_rx_flow_control(void)
{
	char in[40], got[40];
	int in_fd = fakevm_console_in_fd(vm);
	unsigned n = 0;

	out8(0x02, 0xc7);
	for (unsigned i = 0; i < sizeof(in); i++)
		in[i] = (char)('A' + i % 26);
	fakevm_console_input(vm, in, sizeof(in));
	fakevm_run_watchers(vm);
	CHECK(!fakevm_watching(vm, in_fd));	/* full: stopped watching */
	CHECK_EQ(in8(LSR) & 0x03, 0x01);	/* data, no overrun */
	while (n < sizeof(got)) {
		unsigned before = n;

		while (in8(LSR) & 0x01)
			got[n++] = (char)in8(DATA);
		CHECK(fakevm_watching(vm, in_fd));
		fakevm_run_watchers(vm);
		if (n == before)
			break;
	}
	CHECK_EQ(n, sizeof(in));
	CHECK(!memcmp(in, got, sizeof(in)));

	/* Without FIFOs the receiver holds one byte. */
	out8(0x02, 0x00);
	CHECK_EQ(in8(IIR), 0x01);
	fakevm_console_input(vm, "12", 2);
	fakevm_run_watchers(vm);
	CHECK_EQ(in8(IIR), 0x04);
	CHECK(!fakevm_watching(vm, in_fd));
	CHECK_EQ(in8(DATA), '1');
	fakevm_run_watchers(vm);
	CHECK_EQ(in8(DATA), '2');
	CHECK_EQ(in8(IIR), 0x01);
}

static void test_overrun_and_priority(void)
{
	out8(0x02, 0x07);
	out8(MCR, 0x1b);			/* loopback */
	for (int i = 0; i < 17; i++)
		out8(DATA, (uint8_t)i);
	out8(IER, 0x07);			/* RLS, THRE, RDA */
	CHECK_EQ(in8(IIR), 0xc6);		/* line status first */
	CHECK_EQ(in8(LSR), 0x63);		/* DR, OE, THRE, TEMT */
	CHECK_EQ(in8(LSR), 0x61);		/* OE cleared by the read */
	CHECK_EQ(in8(IIR), 0xc4);		/* then received data */
	drain_rx();
	CHECK_EQ(in8(IIR), 0xc2);		/* then THRE */
	CHECK_EQ(in8(IIR), 0xc1);

	/* Modem status comes last, and reading MSR clears it. */
	out8(IER, 0x08);
	out8(MCR, 0x1a);
	CHECK_EQ(in8(IIR), 0xc0);
	in8(MSR);
	CHECK_EQ(in8(IIR), 0xc1);
	out8(IER, 0x00);
	out8(MCR, 0x0b);
	in8(MSR);
}

int main(void)
{
	vm = fakevm_new(64 << 20);
	set = devices_create(vm);
	CHECK(set != NULL);
	if (!set)
		return check_done("test-uart");
	CHECK(fakevm_watching(vm, fakevm_console_in_fd(vm)));
	test_registers();
	test_output_and_thre();
	test_loopback();
	test_rx_fifo();
	test_rx_flow_control();
	test_overrun_and_priority();
	devices_destroy(set);
	CHECK(!fakevm_watching(vm, fakevm_console_in_fd(vm)));
	fakevm_free(vm);
	return check_done("test-uart");
}

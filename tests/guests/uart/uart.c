/*
 * uart.c - COM1's 16550A: scratch register, divisor latch, LSR and IIR
 * values, the THRE interrupt on IRQ4, and loopback mode (MCR bit 4)
 * receiving what it sends: IIR priorities, FIFO order, overrun, modem lines.
 *
 * Nothing is printed while in loopback (it would loop back too): results
 * are kept and checked once COM1 talks to the console again.
 */
#include "../lib/guest.h"

enum { RBR = 0, THR = 0, DLL = 0, IER = 1, DLM = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4, LSR = 5,
       MSR = 6, SCR = 7 };

#define IER_RDA 0x01
#define IER_THRE 0x02
#define IER_RLS 0x04
#define LCR_8N1 0x03
#define LCR_DLAB 0x80
#define MCR_DTR 0x01
#define MCR_RTS 0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10
#define LSR_DR 0x01
#define LSR_OE 0x02
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define FIFO_SIZE 16
#define SPIN 1000000

static volatile unsigned irqs;
static volatile uint8_t irq_iir, irq_iir_again;

static uint8_t rd(unsigned reg)
{
	return inb(COM1 + reg);
}

static void wr(unsigned reg, uint8_t v)
{
	outb(COM1 + reg, v);
}

static void set_divisor(uint16_t d)
{
	wr(LCR, LCR_DLAB | LCR_8N1);
	wr(DLL, d & 0xff);
	wr(DLM, d >> 8);
	wr(LCR, LCR_8N1);
}

static int wait_idle(void)
{
	for (unsigned i = 0; i < SPIN; i++)
		if ((rd(LSR) & (LSR_THRE | LSR_TEMT)) == (LSR_THRE | LSR_TEMT))
			return 1;
	return 0;
}

static void test_registers(void)
{
	int ok;

	wr(SCR, 0x5a);
	ok = rd(SCR) == 0x5a;
	wr(SCR, 0xa5);
	check(ok && rd(SCR) == 0xa5, "the scratch register keeps what is written");
	wr(LCR, LCR_DLAB | LCR_8N1);
	wr(DLL, 0x34);
	wr(DLM, 0x12);
	ok = rd(DLL) == 0x34 && rd(DLM) == 0x12 && rd(LCR) == (LCR_DLAB | LCR_8N1);
	set_divisor(1);
	check(ok, "with DLAB set, the divisor latch and LCR read back");
}

static void test_idle_status(void)
{
	check(wait_idle(), "LSR: THRE and TEMT once the transmitter drains");
	check(!(rd(LSR) & 0x1f), "LSR: no data ready, no errors");
	wr(IER, 0);
	check(rd(IIR) == 0xc1, "IIR: no interrupt pending (0x01), FIFOs on (0xc0)");
	wr(FCR, 0);
	check(rd(IIR) == 0x01, "IIR: bits 7-6 clear with the FIFOs off");
	wr(FCR, 0xc7);
}

static void on_com1(struct trap_frame *f)
{
	irqs++;
	irq_iir = rd(IIR);
	irq_iir_again = rd(IIR);
	wr(IER, 0);
	pic_eoi(4);
}

static void test_thre_interrupt(void)
{
	pic_mask(1 << 4);
	wr(IER, IER_THRE);
	__asm__ volatile("sti" ::: "memory");
	for (unsigned i = 0; i < SPIN && !irqs; i++)
		rd(SCR);	/* a port read per poll, so the bound is long in time */
	__asm__ volatile("cli" ::: "memory");
	pic_mask(0);
	check(irqs == 1, "enabling THRE interrupts raises IRQ4 once");
	check(irq_iir == 0xc2, "IIR identifies THRE (0xc2)");
	check(irq_iir_again == 0xc1, "reading IIR acknowledges THRE");
}

/* Interrupt-driven transmit: each THRE interrupt sends the next byte of this line. */
static const char irq_line[] = "# this line was sent by the THRE interrupt handler\n";
static const char *volatile irq_next;
static volatile unsigned tx_irqs;

static void on_com1_tx(struct trap_frame *f)
{
	tx_irqs++;
	if ((rd(IIR) & 0x0f) == 0x02 && *irq_next)
		wr(THR, *irq_next++);
	else
		wr(IER, 0);
	pic_eoi(4);
}

static void test_irq_transmit(void)
{
	set_handler(VEC_IRQ0 + 4, on_com1_tx);
	irq_next = irq_line;
	pic_mask(1 << 4);
	wr(IER, IER_THRE);
	__asm__ volatile("sti" ::: "memory");
	for (unsigned i = 0; i < SPIN && rd(IER); i++)
		;
	__asm__ volatile("cli" ::: "memory");
	pic_mask(0);
	check(!*irq_next && tx_irqs == sizeof(irq_line), "each THRE interrupt sent one byte");
}

/* What loopback showed, checked after it. */
struct loop_results {
	uint8_t iir_thre, iir_after_write, lsr, iir_rda, rbr, iir_after_read;
	uint8_t fifo[3], iir_rls, lsr_overrun, lsr_again, kept, lsr_drained;
	uint8_t msr_rts_dtr_out2, msr_out1, iir_timeout, iir_timeout_read;
};

static void enter_loopback(void)
{
	wait_idle();
	set_divisor(0xffff);	/* 1.76 bit/s: the receive timeout never fires */
	wr(FCR, 0x07);		/* FIFOs on and cleared, receive trigger at 1 byte */
	wr(MCR, MCR_LOOP | MCR_OUT2 | MCR_RTS | MCR_DTR);
}

static void leave_loopback(void)
{
	wr(IER, 0);
	wr(MCR, MCR_OUT2 | MCR_RTS | MCR_DTR);
	wr(FCR, 0xc7);
	set_divisor(1);
}

static void loop_one_byte(struct loop_results *r)
{
	wr(IER, IER_THRE);
	r->iir_thre = rd(IIR);
	wr(THR, 'L');
	r->iir_after_write = rd(IIR);
	r->lsr = rd(LSR);
	wr(IER, IER_RDA | IER_THRE);
	r->iir_rda = rd(IIR);
	r->rbr = rd(RBR);
	r->iir_after_read = rd(IIR);
	wr(IER, 0);
}

static void loop_fifo(struct loop_results *r)
{
	wr(THR, 'a');
	wr(THR, 'b');
	wr(THR, 'c');
	for (int i = 0; i < 3; i++)
		r->fifo[i] = rd(RBR);
	for (int i = 0; i <= FIFO_SIZE; i++)
		wr(THR, 'A' + i);
	wr(IER, IER_RLS);
	r->iir_rls = rd(IIR);
	wr(IER, 0);
	r->lsr_overrun = rd(LSR);
	r->lsr_again = rd(LSR);
	r->kept = 1;
	for (int i = 0; i < FIFO_SIZE; i++)
		r->kept &= rd(RBR) == 'A' + i;
	r->lsr_drained = rd(LSR);
}

static void loop_modem_lines(struct loop_results *r)
{
	r->msr_rts_dtr_out2 = rd(MSR) & 0xf0;
	wr(MCR, MCR_LOOP | MCR_OUT1);
	r->msr_out1 = rd(MSR) & 0xf0;
}

/* One byte below the trigger level of 4 is reported after four character times. */
static void loop_timeout(struct loop_results *r)
{
	set_divisor(1);
	wr(FCR, 0x47);		/* FIFOs on and cleared, receive trigger at 4 bytes */
	wr(IER, IER_RDA);
	wr(THR, 't');
	for (unsigned i = 0; i < SPIN && (r->iir_timeout = rd(IIR)) != 0xcc; i++)
		;
	rd(RBR);
	r->iir_timeout_read = rd(IIR);
	wr(IER, 0);
}

static void test_loopback(void)
{
	struct loop_results r;

	enter_loopback();
	loop_one_byte(&r);
	loop_fifo(&r);
	loop_modem_lines(&r);
	loop_timeout(&r);
	leave_loopback();
	check(r.iir_thre == 0xc2 && r.iir_after_write == 0xc2, "THRE is pending again after a write to THR");
	check((r.lsr & (LSR_DR | LSR_THRE | LSR_TEMT)) == (LSR_DR | LSR_THRE | LSR_TEMT),
	      "loopback: LSR shows data ready, transmitter empty");
	check(r.iir_rda == 0xc4, "IIR: received data (0xc4) outranks THRE");
	check(r.rbr == 'L', "loopback: RBR holds the byte sent");
	check(r.iir_after_read == 0xc1, "IIR: nothing pending once RBR is read and THRE acknowledged");
	check(r.fifo[0] == 'a' && r.fifo[1] == 'b' && r.fifo[2] == 'c', "loopback: the FIFO keeps order");
	check(r.iir_rls == 0xc6, "IIR: receiver line status (0xc6) on overrun");
	check(r.lsr_overrun & LSR_OE, "LSR: overrun after 17 bytes into the 16-byte FIFO");
	check(!(r.lsr_again & LSR_OE), "reading LSR clears the overrun");
	check(r.kept && !(r.lsr_drained & LSR_DR), "the FIFO kept its first 16 bytes");
	check(r.msr_rts_dtr_out2 == 0xb0, "loopback MSR: RTS->CTS, DTR->DSR, OUT2->DCD");
	check(r.msr_out1 == 0x40, "loopback MSR: OUT1->RI");
	check(r.iir_timeout == 0xcc, "IIR: character timeout (0xcc) below the trigger level");
	check(r.iir_timeout_read == 0xc1, "reading RBR ends the character timeout");
}

void guest_main(uint32_t magic, void *mbi)
{
	guest_init();
	set_handler(VEC_IRQ0 + 4, on_com1);
	test_registers();
	test_idle_status();
	test_thre_interrupt();
	test_irq_transmit();
	test_loopback();
	finish();
}

/*
 * pic.c - the cascaded 8259A pair: masking, EOI, fully nested priorities
 * between IRQ0 (PIT), IRQ8 (RTC periodic, through the slave on IR2) and
 * IRQ4 (COM1 THRE), IRR/ISR/IMR reads, and the poll command.
 *
 * Every wait is for a state the PIC reports (IRR, a delivery), not for a
 * length of time. A spurious IRQ7 is not tested: QEMU withdraws INTR at
 * once when a request goes away, so no guest can provoke one there.
 */
#include "../lib/guest.h"

#define RTC_REG_B 0x0b
#define RTC_REG_C 0x0c
#define RTC_PIE 0x40
#define IER_THRE 0x02
#define SPIN 1000000		/* port polls before a wait gives up: far more than needed */
#define PAUSES 100000000	/* pause loops are cheaper: a bound of seconds, not ms */

static volatile unsigned n_log;
static volatile uint8_t log_irq[8];
static volatile uint16_t log_isr[8];	/* ISR as each handler began */
static volatile int eoi_in_handler, mask_in_handler;
static uint16_t enabled;	/* the IRQs pic_mask() last unmasked */

static void enable(uint16_t irqs)
{
	enabled = irqs;
	pic_mask(irqs);
}

/* Make the device behind irq drop its request, so that it interrupts once. */
static void quiet_source(unsigned irq)
{
	if (irq == 8) {
		cmos_write(RTC_REG_B, cmos_read(RTC_REG_B) & ~RTC_PIE);
		cmos_read(RTC_REG_C);
	} else if (irq == 4) {
		inb(COM1 + 2);	/* reading IIR acknowledges THRE */
		outb(COM1 + 1, 0);
	}
}

static void on_irq(struct trap_frame *f)
{
	unsigned irq = f->vector - VEC_IRQ0;

	if (n_log < sizeof(log_irq)) {
		log_irq[n_log] = irq;
		log_isr[n_log] = pic_read(1);
	}
	n_log++;
	quiet_source(irq);
	if (mask_in_handler)
		enable(enabled & ~(1u << irq));
	if (eoi_in_handler)
		pic_eoi(irq);
}

/* Start a test with interrupts off, an empty log and the handler's policy. */
static void begin(int eoi, int mask)
{
	__asm__ volatile("cli" ::: "memory");
	n_log = 0;
	eoi_in_handler = eoi;
	mask_in_handler = mask;
}

static int wait_irr(uint16_t bits)
{
	for (unsigned i = 0; i < SPIN; i++)
		if ((pic_read(0) & bits) == bits)
			return 1;
	return 0;
}

static int wait_log(unsigned n)
{
	for (unsigned i = 0; i < PAUSES && n_log < n; i++)
		__asm__ volatile("pause");
	return n_log >= n;
}

static void test_imr(void)
{
	begin(1, 1);
	enable(1 << 0 | 1 << 2 | 1 << 9);
	check(inb(PIC1 + 1) == 0xfa && inb(PIC2 + 1) == 0xfd, "IMR reads back the mask");
	enable(0);
}

static void test_mask(void)
{
	begin(1, 1);
	enable(0);
	__asm__ volatile("sti" ::: "memory");
	check(wait_irr(1 << 0), "a masked IRQ0 is latched in IRR");
	check(n_log == 0, "a masked IRQ0 is not delivered");
	enable(1 << 0);
	check(wait_log(1) && n_log == 1 && log_irq[0] == 0, "unmasking IRQ0 delivers it");
	__asm__ volatile("cli" ::: "memory");
}

static void test_eoi(void)
{
	begin(0, 0);
	enable(1 << 0);
	__asm__ volatile("sti" ::: "memory");
	wait_log(1);
	check(pic_read(1) & 1, "ISR shows IRQ0 in service before its EOI");
	check(wait_irr(1 << 0) && n_log == 1, "no second IRQ0 while the first awaits EOI");
	pic_eoi(0);
	check(wait_log(2) && n_log == 2, "EOI lets the next IRQ0 in");
	__asm__ volatile("cli" ::: "memory");
	enable(0);
	pic_eoi(0);
	check(!(pic_read(1) & 1), "EOI clears IRQ0's ISR bit");
}

static void test_priorities(void)
{
	begin(1, 1);
	enable(1 << 0 | 1 << 2 | 1 << 4 | 1 << 8);
	cmos_read(RTC_REG_C);
	cmos_write(RTC_REG_B, cmos_read(RTC_REG_B) | RTC_PIE);
	outb(COM1 + 1, IER_THRE);
	check(wait_irr(1 << 0 | 1 << 2 | 1 << 4 | 1 << 8), "IRQ0, IRQ4 and IRQ8 (via IR2) all pending");
	__asm__ volatile("sti" ::: "memory");
	wait_log(3);
	__asm__ volatile("cli" ::: "memory");
	check(n_log == 3 && log_irq[0] == 0 && log_irq[1] == 8 && log_irq[2] == 4,
	      "delivered in priority order: IRQ0, IRQ8 (slave on IR2), IRQ4");
	check(log_isr[1] == 0x0104, "during IRQ8, ISR shows the slave's IR0 and the master's IR2");
}

/* The slave reaches the CPU only through the master's IR2, masked or not. */
static void test_cascade_mask(void)
{
	begin(1, 1);
	enable(1 << 8);
	cmos_read(RTC_REG_C);
	cmos_write(RTC_REG_B, cmos_read(RTC_REG_B) | RTC_PIE);
	check(wait_irr(1 << 8 | 1 << 2), "IRQ8 pending raises the master's IR2");
	__asm__ volatile("sti\n\tnop\n\tcli" ::: "memory");
	check(n_log == 0, "with IR2 masked at the master, IRQ8 is not delivered");
	enable(1 << 2 | 1 << 8);
	__asm__ volatile("sti\n\tnop\n\tcli" ::: "memory");
	check(n_log == 1 && log_irq[0] == 8, "unmasking IR2 lets IRQ8 through");
}

/* The poll command, with IF clear: the read is the acknowledge. */
static uint8_t poll(void)
{
	outb(PIC1, 0x0c);
	return inb(PIC1);
}

static void test_poll(void)
{
	uint8_t v;
	uint16_t isr;

	begin(1, 1);
	enable(1 << 0);
	wait_irr(1 << 0);
	v = poll();
	isr = pic_read(1);
	outb(PIC1, 0x60);	/* specific EOI for IR0 */
	check(v == 0x80, "poll reports IRQ0 as the highest request");
	check(isr & 1, "poll puts IRQ0 in service");
	check(!(pic_read(1) & 1), "specific EOI ends IRQ0's service");
	enable(0);
}

/* Fully nested mode: in-service levels hold off requests of lower priority only. */
static void test_nesting(void)
{
	begin(1, 1);
	enable(1 << 0);
	wait_irr(1 << 0);
	poll();			/* IRQ0 in service */
	enable(1 << 4);
	outb(COM1 + 1, IER_THRE);
	wait_irr(1 << 4);
	__asm__ volatile("sti\n\tnop\n\tcli" ::: "memory");
	check(n_log == 0, "IRQ4 waits while IRQ0 is in service");
	pic_eoi(0);
	__asm__ volatile("sti\n\tnop\n\tcli" ::: "memory");
	check(n_log == 1 && log_irq[0] == 4, "IRQ0's EOI lets IRQ4 in");

	begin(1, 1);
	outb(COM1 + 1, IER_THRE);
	enable(1 << 4);
	wait_irr(1 << 4);
	poll();			/* IRQ4 in service */
	enable(1 << 0);
	wait_irr(1 << 0);
	__asm__ volatile("sti\n\tnop\n\tcli" ::: "memory");
	quiet_source(4);
	outb(PIC1, 0x64);	/* specific EOI for IR4 */
	check(n_log == 1 && log_irq[0] == 0, "IRQ0 interrupts while IRQ4 is in service");
	check(pic_read(1) == 0, "specific EOI ends IRQ4's service: nothing left in service");
}

/* Initialize the master again with ICW4 icw4 (bit 1: automatic EOI); IMR clears. */
static void init_master(uint8_t icw4)
{
	outb(PIC1, 0x11);
	outb(PIC1 + 1, VEC_IRQ0);
	outb(PIC1 + 1, 1 << 2);
	outb(PIC1 + 1, icw4);
	enable(0);
}

static void test_auto_eoi(void)
{
	begin(0, 0);
	init_master(0x03);
	enable(1 << 0);
	__asm__ volatile("sti" ::: "memory");
	check(wait_log(2), "auto-EOI mode: IRQ0 comes again without an EOI");
	__asm__ volatile("cli" ::: "memory");
	check(!(log_isr[0] & 1) && !(log_isr[1] & 1), "auto-EOI mode: ISR stays clear in the handler");
	init_master(0x01);
}

/* ELCR bit 4 makes IRQ4 level triggered: IRR follows COM1's line instead of latching. */
static void test_triggering(void)
{
	uint8_t elcr = inb(0x4d0);
	int edge_kept, level_dropped;

	begin(1, 1);
	outb(COM1 + 1, IER_THRE);
	wait_irr(1 << 4);
	inb(COM1 + 2);		/* THRE acknowledged: the line falls */
	edge_kept = (pic_read(0) >> 4) & 1;
	outb(0x4d0, elcr | 1 << 4);
	outb(COM1 + 1, 0);
	outb(COM1 + 1, IER_THRE);
	wait_irr(1 << 4);
	inb(COM1 + 2);
	level_dropped = !((pic_read(0) >> 4) & 1);
	outb(COM1 + 1, 0);
	outb(0x4d0, elcr);
	check(edge_kept, "edge-triggered IRQ4 stays in IRR after the line falls");
	check(level_dropped, "level-triggered IRQ4 leaves IRR when the line falls");
	init_master(0x01);	/* forget the latched edge */
}

void guest_main(uint32_t magic, void *mbi)
{
	guest_init();
	pit_init(1000);
	for (unsigned irq = 0; irq < 16; irq++)
		set_handler(VEC_IRQ0 + irq, on_irq);
	test_imr();
	test_mask();
	test_eoi();
	test_priorities();
	test_cascade_mask();
	test_poll();
	test_nesting();
	test_auto_eoi();
	test_triggering();
	finish();
}

/*
 * test-pic.c - the cascaded 8259A pair: initialization, masking, priority
 * and rotation, EOI modes, automatic EOI, IRR/ISR reads, poll, special mask
 * mode, level triggering, spurious IRQ7 and IRQ15, the cascade, ELCR.
 */
#include "tests/devices/check.h"
#include "tests/devices/fakevm.h"

static struct device_set *set;
static const struct intc_ops *intc;
static void *pic;

static void out8(uint16_t port, uint8_t v)
{
	devices_pio_write(set, port, 1, v);
}

static uint8_t in8(uint16_t port)
{
	return (uint8_t)devices_pio_read(set, port, 1);
}

static void irq(unsigned n, int level)
{
	intc->set_irq(pic, n, level);
}

static int pending(void)
{
	return intc->pending(pic);
}

static uint8_t ack(void)
{
	return intc->ack(pic);
}

/* OCW3 selects which of IRR and ISR port 0 reads. */
static uint8_t isr(uint16_t base)
{
	out8(base, 0x0b);
	return in8(base);
}

static uint8_t irr(uint16_t base)
{
	out8(base, 0x0a);
	return in8(base);
}

/* Linux's init_8259A sequence: vectors 0x20 and 0x28, cascade on IR2. */
static void init_pics(uint8_t icw4)
{
	out8(0x20, 0x11);
	out8(0x21, 0x20);
	out8(0x21, 0x04);
	out8(0x21, icw4);
	out8(0xa0, 0x11);
	out8(0xa1, 0x28);
	out8(0xa1, 0x02);
	out8(0xa1, icw4);
	out8(0x21, 0x00);
	out8(0xa1, 0x00);
}

static void eoi_all(void)
{
	for (int i = 0; i < 8; i++) {
		out8(0xa0, 0x20);
		out8(0x20, 0x20);
	}
}

static void test_init_and_mask(void)
{
	init_pics(0x01);
	CHECK_EQ(in8(0x21), 0x00);
	CHECK_EQ(in8(0xa1), 0x00);
	CHECK(!pending());

	out8(0x21, 0x08);		/* mask IRQ3 */
	CHECK_EQ(in8(0x21), 0x08);
	irq(3, 1);
	CHECK(!pending());
	CHECK_EQ(irr(0x20), 0x08);	/* requested, but masked */
	out8(0x21, 0x00);
	CHECK(pending());
	CHECK_EQ(ack(), 0x23);
	CHECK_EQ(isr(0x20), 0x08);
	CHECK_EQ(irr(0x20), 0x00);	/* the edge was consumed */
	irq(3, 0);
	out8(0x20, 0x20);
	CHECK_EQ(isr(0x20), 0x00);

	/* A line held high does not request again without a new edge. */
	irq(3, 1);
	CHECK_EQ(ack(), 0x23);
	out8(0x20, 0x20);
	CHECK(!pending());
	irq(3, 0);
	irq(3, 1);
	CHECK(pending());
	CHECK_EQ(ack(), 0x23);
	out8(0x20, 0x20);
	irq(3, 0);

	/* ICW1 clears the mask. */
	out8(0x21, 0xff);
	init_pics(0x01);
	CHECK_EQ(in8(0x21), 0x00);
}

static void test_priority_and_eoi(void)
{
	init_pics(0x01);
	irq(1, 1);
	CHECK_EQ(ack(), 0x21);
	irq(5, 1);
	CHECK(!pending());		/* IRQ1 in service blocks the lower IRQ5 */
	irq(0, 1);
	CHECK(pending());		/* but not the higher IRQ0 */
	CHECK_EQ(ack(), 0x20);
	CHECK_EQ(isr(0x20), 0x03);
	out8(0x20, 0x20);		/* non-specific EOI ends IRQ0, the highest */
	CHECK_EQ(isr(0x20), 0x02);
	CHECK(!pending());
	out8(0x20, 0x61);		/* specific EOI for IRQ1 */
	CHECK_EQ(isr(0x20), 0x00);
	CHECK(pending());
	CHECK_EQ(ack(), 0x25);
	out8(0x20, 0x65);
	CHECK_EQ(isr(0x20), 0x00);
	irq(0, 0);
	irq(1, 0);
	irq(5, 0);
}

static void test_rotation(void)
{
	init_pics(0x01);
	out8(0x20, 0xc3);		/* set priority: IRQ3 lowest, IRQ4 highest */
	irq(1, 1);
	irq(5, 1);
	CHECK_EQ(ack(), 0x25);		/* 5 outranks 1 now */
	irq(5, 0);
	irq(5, 1);			/* 5 requests again */
	out8(0x20, 0xa0);		/* rotate on non-specific EOI: 5 becomes lowest */
	CHECK_EQ(isr(0x20), 0x00);
	CHECK_EQ(ack(), 0x21);
	out8(0x20, 0x20);
	CHECK_EQ(ack(), 0x25);
	out8(0x20, 0x20);
	irq(1, 0);
	irq(5, 0);

	/* Rotate on specific EOI: the named level becomes the lowest. */
	irq(6, 1);
	CHECK_EQ(ack(), 0x26);
	out8(0x20, 0xe6);
	CHECK_EQ(isr(0x20), 0x00);
	irq(6, 0);
	irq(7, 1);
	irq(0, 1);
	CHECK_EQ(ack(), 0x27);		/* after 6 comes 7, then 0 */
	out8(0x20, 0x20);
	CHECK_EQ(ack(), 0x20);
	out8(0x20, 0x20);
	irq(7, 0);
	irq(0, 0);
	out8(0x20, 0xc7);		/* back to IRQ0 highest */
}

static void test_auto_eoi(void)
{
	init_pics(0x03);		/* 8086 mode with automatic EOI */
	irq(4, 1);
	CHECK_EQ(ack(), 0x24);
	CHECK_EQ(isr(0x20), 0x00);
	irq(3, 1);
	CHECK(pending());		/* nothing in service blocks IRQ3 */
	CHECK_EQ(ack(), 0x23);
	irq(3, 0);
	irq(4, 0);

	/* Rotate in automatic EOI mode: the acknowledged level becomes lowest. */
	out8(0x20, 0x80);
	irq(6, 1);
	CHECK_EQ(ack(), 0x26);
	irq(1, 1);
	irq(7, 1);
	CHECK_EQ(ack(), 0x27);
	CHECK_EQ(ack(), 0x21);
	irq(1, 0);
	irq(6, 0);
	irq(7, 0);
	init_pics(0x01);
}

static void test_poll_and_smm(void)
{
	init_pics(0x01);
	irq(4, 1);
	out8(0x20, 0x0c);		/* poll */
	CHECK_EQ(in8(0x20), 0x84);	/* interrupt, level 4: acknowledged */
	CHECK_EQ(isr(0x20), 0x10);
	out8(0x20, 0x0c);
	CHECK_EQ(in8(0x20) & 0x80, 0);	/* nothing more */
	out8(0x20, 0x20);
	irq(4, 0);

	/* Special mask mode: with IRQ1 in service and masked, IRQ5 gets through. */
	irq(1, 1);
	CHECK_EQ(ack(), 0x21);
	irq(5, 1);
	CHECK(!pending());
	out8(0x21, 0x02);
	out8(0x20, 0x68);		/* set special mask mode */
	CHECK(pending());
	CHECK_EQ(ack(), 0x25);
	out8(0x20, 0x48);		/* reset special mask mode */
	out8(0x21, 0x00);
	eoi_all();
	CHECK_EQ(isr(0x20), 0x00);
	irq(1, 0);
	irq(5, 0);
}

static void test_level_and_spurious(void)
{
	init_pics(0x01);
	out8(0x4d0, 0xff);
	CHECK_EQ(in8(0x4d0), 0xf8);	/* IRQ0-2 cannot be level triggered */
	out8(0x4d1, 0xff);
	CHECK_EQ(in8(0x4d1), 0xde);	/* nor IRQ8 and IRQ13 */
	out8(0x4d0, 0x08);		/* IRQ3 level triggered */
	out8(0x4d1, 0x04);		/* IRQ10 level triggered */

	/* Level: IRR follows the line, and a request still high after EOI repeats. */
	irq(3, 1);
	CHECK_EQ(irr(0x20), 0x08);
	CHECK_EQ(ack(), 0x23);
	CHECK_EQ(irr(0x20), 0x08);
	out8(0x20, 0x20);
	CHECK(pending());
	CHECK_EQ(ack(), 0x23);
	out8(0x20, 0x20);

	/* Withdrawn before INTA: spurious IRQ7, IR7 not put in service. */
	irq(3, 0);
	CHECK_EQ(irr(0x20), 0x00);
	irq(3, 1);
	CHECK(pending());
	irq(3, 0);
	CHECK_EQ(ack(), 0x27);
	CHECK_EQ(isr(0x20), 0x00);

	/* A slave request withdrawn: IRQ15 from the slave, with the master's
	 * IR2 in service (a handler must EOI the master only). */
	irq(10, 1);
	CHECK(pending());
	irq(10, 0);
	CHECK_EQ(ack(), 0x2f);
	CHECK_EQ(isr(0xa0), 0x00);
	CHECK_EQ(isr(0x20), 0x04);
	out8(0x20, 0x20);
	CHECK_EQ(isr(0x20), 0x00);
	CHECK(!pending());

	/* Nothing pending at all: the master answers with IRQ7. */
	CHECK_EQ(ack(), 0x27);

	/* Edge requests are latched even if the line falls before INTA. */
	irq(4, 1);
	irq(4, 0);
	CHECK(pending());
	CHECK_EQ(ack(), 0x24);
	out8(0x20, 0x20);
	out8(0x4d0, 0x00);
	out8(0x4d1, 0x00);
}

static void test_cascade(void)
{
	init_pics(0x01);
	irq(12, 1);
	CHECK(pending());
	CHECK_EQ(irr(0xa0), 0x10);
	CHECK_EQ(ack(), 0x2c);
	CHECK_EQ(isr(0x20), 0x04);
	CHECK_EQ(isr(0xa0), 0x10);

	/* While the slave is in service (fully nested), a higher slave
	 * request waits for the master's EOI... */
	irq(9, 1);
	CHECK(!pending());
	out8(0xa0, 0x20);
	out8(0x20, 0x20);
	CHECK(pending());
	CHECK_EQ(ack(), 0x29);
	out8(0xa0, 0x20);
	out8(0x20, 0x20);

	/* ...unless the master is in special fully nested mode. */
	out8(0x20, 0x11);
	out8(0x21, 0x20);
	out8(0x21, 0x04);
	out8(0x21, 0x11);		/* SFNM */
	out8(0x21, 0x00);
	irq(12, 0);
	irq(12, 1);
	CHECK_EQ(ack(), 0x2c);
	irq(9, 0);
	irq(9, 1);
	CHECK(pending());
	CHECK_EQ(ack(), 0x29);
	CHECK_EQ(isr(0xa0), 0x12);
	out8(0xa0, 0x20);
	out8(0xa0, 0x20);
	out8(0x20, 0x20);
	irq(9, 0);
	irq(12, 0);

	/* Masking the cascade input hides the whole slave. */
	init_pics(0x01);
	out8(0x21, 0x04);
	irq(14, 1);
	CHECK(!pending());
	out8(0x21, 0x00);
	CHECK_EQ(ack(), 0x2e);
	eoi_all();
	irq(14, 0);

	/* ISA IRQ2 arrives as IRQ9. */
	irq(2, 1);
	CHECK_EQ(ack(), 0x29);
	eoi_all();
	irq(2, 0);
}

/* There is no BIOS: the chips start as a BIOS leaves them. */
static void test_power_on(void)
{
	devices_reset(set);
	CHECK_EQ(in8(0x21), 0xfb);
	CHECK_EQ(in8(0xa1), 0xff);
	out8(0x21, 0x00);
	out8(0xa1, 0x00);
	irq(1, 0);
	irq(1, 1);
	CHECK_EQ(ack(), 0x09);
	out8(0x20, 0x20);
	irq(8 + 3, 0);
	irq(8 + 3, 1);
	CHECK_EQ(ack(), 0x73);
	irq(1, 0);
	irq(11, 0);
}

int main(void)
{
	struct vm *vm = fakevm_new(64 << 20);

	set = devices_create(vm);
	CHECK(set != NULL);
	if (!set)
		return check_done("test-pic");
	intc = fakevm_intc(vm, &pic);
	CHECK(intc != NULL);
	test_init_and_mask();
	test_priority_and_eoi();
	test_rotation();
	test_auto_eoi();
	test_poll_and_smm();
	test_level_and_spurious();
	test_cascade();
	test_power_on();
	devices_destroy(set);
	fakevm_free(vm);
	return check_done("test-pic");
}

/*
 * test-cmos.c - the MC146818: setting and reading the time in BCD and
 * binary, 24- and 12-hour modes, the UIP window before each update, the
 * periodic interrupt at 1024 Hz, update-ended and alarm interrupts,
 * register C read-clear, register D, the NMI mask, and the memory-size
 * fields in NVRAM.
 */
#include "tests/devices/check.h"
#include "tests/devices/fakevm.h"

#define MS 1000000ull
#define SEC 1000000000ull

static struct vm *vm;
static struct device_set *set;

static uint8_t rd(uint8_t reg)
{
	devices_pio_write(set, 0x70, 1, reg);
	return (uint8_t)devices_pio_read(set, 0x71, 1);
}

static void wr(uint8_t reg, uint8_t v)
{
	devices_pio_write(set, 0x70, 1, reg);
	devices_pio_write(set, 0x71, 1, v);
}

static unsigned rd16(uint8_t reg)
{
	return rd(reg) | rd((uint8_t)(reg + 1)) << 8;
}

static void start(uint64_t ram)
{
	vm = fakevm_new(ram);
	set = devices_create(vm);
	CHECK(set != NULL);
}

static void stop(void)
{
	devices_destroy(set);
	fakevm_free(vm);
}

static void check_nvram(uint64_t ram, unsigned ext_kb, unsigned high_64k)
{
	unsigned sum = 0;

	start(ram);
	CHECK_EQ(rd16(0x15), 640);
	CHECK_EQ(rd16(0x17), ext_kb);
	CHECK_EQ(rd16(0x30), ext_kb);
	CHECK_EQ(rd16(0x34), high_64k);
	for (uint8_t r = 0x10; r <= 0x2d; r++)
		sum += rd(r);
	CHECK_EQ(rd(0x2e) << 8 | rd(0x2f), sum);
	/* The rest of the NVRAM is plain memory. */
	wr(0x50, 0xa5);
	wr(0x7f, 0x5a);
	CHECK_EQ(rd(0x50), 0xa5);
	CHECK_EQ(rd(0x7f), 0x5a);
	stop();
}

/* Release the divider from reset: the next update is exactly 0.5 s away. */
static void align_divider(void)
{
	wr(0x0a, 0x70);
	wr(0x0a, 0x26);
}

static void test_time_bcd_binary(void)
{
	uint64_t t0;

	/* Linux's order: SET, then the fields one by one; the 31st must
	 * survive whatever month the clock showed before. */
	wr(0x0b, 0x82);
	wr(0x00, 0x59);
	wr(0x02, 0x59);
	wr(0x04, 0x23);
	wr(0x07, 0x31);
	wr(0x08, 0x12);
	wr(0x09, 0x99);
	wr(0x32, 0x19);
	align_divider();
	t0 = fakevm_now();
	fakevm_advance(2 * SEC);
	CHECK_EQ(rd(0x00), 0x59);		/* held while SET */
	CHECK_EQ(rd(0x07), 0x31);
	CHECK_EQ(rd(0x08), 0x12);
	CHECK_EQ(rd(0x0a) & 0x80, 0);		/* no UIP while SET */
	wr(0x0b, 0x02);				/* run: BCD, 24 h */
	CHECK_EQ(rd(0x06), 0x06);		/* 31 Dec 1999 was a Friday */

	/* The divider was released at t0: updates come at t0 + 0.5 s + n s. */
	fakevm_advance(t0 + 2 * SEC + SEC / 2 - 245000 - fakevm_now());
	CHECK_EQ(rd(0x0a), 0x26);
	fakevm_advance(2000);
	CHECK_EQ(rd(0x0a), 0xa6);		/* UIP: an update within 244 us */
	CHECK_EQ(rd(0x00), 0x59);
	fakevm_advance(250000);
	CHECK_EQ(rd(0x0a), 0x26);
	CHECK_EQ(rd(0x00), 0x00);
	CHECK_EQ(rd(0x02), 0x00);
	CHECK_EQ(rd(0x04), 0x00);
	CHECK_EQ(rd(0x06), 0x07);		/* Saturday */
	CHECK_EQ(rd(0x07), 0x01);
	CHECK_EQ(rd(0x08), 0x01);
	CHECK_EQ(rd(0x09), 0x00);
	CHECK_EQ(rd(0x32), 0x20);

	/* Binary and 12-hour modes show the same time differently. */
	fakevm_advance(12 * SEC);
	wr(0x0b, 0x06);
	CHECK_EQ(rd(0x00), 12);
	CHECK_EQ(rd(0x32), 20);
	wr(0x04, 13);
	CHECK_EQ(rd(0x04), 13);
	wr(0x0b, 0x04);				/* binary, 12 h */
	CHECK_EQ(rd(0x04), 0x81);		/* 1 PM */
	wr(0x04, 0x0c);				/* 12 AM = midnight */
	wr(0x0b, 0x06);
	CHECK_EQ(rd(0x04), 0);
	wr(0x0b, 0x00);				/* BCD, 12 h */
	wr(0x04, 0x91);				/* 11 PM */
	wr(0x0b, 0x02);
	CHECK_EQ(rd(0x04), 0x23);
	CHECK_EQ(rd(0x0d), 0x80);		/* VRT */
}

static void test_periodic(void)
{
	unsigned r0 = fakevm_irq_rises(vm, 8), acks = 0;

	rd(0x0c);
	wr(0x0a, 0x26);				/* 1024 Hz */
	wr(0x0b, 0x42);				/* PIE */
	for (int i = 0; i < 10000; i++) {
		fakevm_advance(100000);
		if (fakevm_irq_level(vm, 8)) {
			CHECK_EQ(rd(0x0c) & 0xc0, 0xc0);	/* IRQF, PF */
			acks++;
		}
	}
	CHECK_EQ(fakevm_irq_rises(vm, 8) - r0, 1024);
	CHECK_EQ(acks, 1024);

	/* Unacknowledged, the line stays up: one rise, flags stay set. */
	r0 = fakevm_irq_rises(vm, 8);
	fakevm_advance(100 * MS);
	CHECK_EQ(fakevm_irq_rises(vm, 8) - r0, 1);
	CHECK_EQ(fakevm_irq_level(vm, 8), 1);
	CHECK_EQ(rd(0x0c), 0xc0);
	CHECK_EQ(fakevm_irq_level(vm, 8), 0);
	CHECK_EQ(rd(0x0c), 0x00);		/* read clears */

	/* PF is set at the rate even with PIE off, without an interrupt. */
	wr(0x0b, 0x02);
	wr(0x0a, 0x2f);				/* 2 Hz */
	r0 = fakevm_irq_rises(vm, 8);
	fakevm_advance(600 * MS);
	CHECK_EQ(rd(0x0c) & 0xc0, 0x40);
	CHECK_EQ(fakevm_irq_rises(vm, 8) - r0, 0);
	wr(0x0a, 0x26);
}

static void test_update_and_alarm(void)
{
	unsigned r0;
	uint8_t c;

	align_divider();
	rd(0x0c);
	wr(0x0b, 0x12);				/* UIE */
	r0 = fakevm_irq_rises(vm, 8);
	fakevm_advance(400 * MS);
	CHECK_EQ(fakevm_irq_level(vm, 8), 0);
	fakevm_advance(200 * MS);
	CHECK_EQ(fakevm_irq_level(vm, 8), 1);
	CHECK_EQ(rd(0x0c) & 0xb0, 0x90);	/* IRQF, UF (PF runs at the rate too) */
	fakevm_advance(3 * SEC);
	CHECK_EQ(fakevm_irq_rises(vm, 8) - r0, 2);	/* the line stayed up */
	rd(0x0c);

	/* Setting SET clears UIE. */
	wr(0x0b, 0x92);
	CHECK_EQ(rd(0x0b), 0x82);
	wr(0x0b, 0x02);

	/* Alarm at the second after next. */
	c = rd(0x00);
	c = (uint8_t)(((c >> 4) * 10 + (c & 15) + 2) % 60);
	wr(0x01, (uint8_t)((c / 10) << 4 | c % 10));
	wr(0x03, 0xff);				/* any minute */
	wr(0x05, 0xc0);				/* any hour */
	wr(0x0b, 0x22);				/* AIE */
	rd(0x0c);
	r0 = fakevm_irq_rises(vm, 8);
	fakevm_advance(SEC);
	CHECK_EQ(fakevm_irq_rises(vm, 8) - r0, 0);
	CHECK_EQ(rd(0x0c) & 0x20, 0);		/* an update, but no alarm */
	fakevm_advance(SEC);
	CHECK_EQ(fakevm_irq_rises(vm, 8) - r0, 1);
	CHECK_EQ(rd(0x0c) & 0xb0, 0xb0);	/* IRQF, AF, UF */
	wr(0x0b, 0x02);
}

static void test_nmi_mask(void)
{
	void *cmos = devices_find(set, "cmos");

	CHECK(cmos != NULL);
	devices_pio_write(set, 0x70, 1, 0x8d);
	CHECK_EQ(cmos_nmi_masked(cmos), 1);
	CHECK_EQ(devices_pio_read(set, 0x71, 1), 0x80);	/* index 0x0d still */
	devices_pio_write(set, 0x70, 1, 0x0d);
	CHECK_EQ(cmos_nmi_masked(cmos), 0);
}

int main(void)
{
	check_nvram(256ull << 20, 0xffff, (256 - 16) * 16);
	check_nvram(8ull << 20, 7 * 1024, 0);
	check_nvram(24ull << 20, 23 * 1024, 8 * 16);

	start(64ull << 20);
	CHECK_EQ(rd(0x0a) & 0x7f, 0x26);	/* UIP depends on the host's clock */
	CHECK_EQ(rd(0x0b), 0x02);
	test_time_bcd_binary();
	test_periodic();
	test_update_and_alarm();
	test_nmi_mask();
	stop();
	return check_done("test-cmos");
}

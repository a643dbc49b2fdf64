/*
 * test-pit.c - the 8254 over simulated time: IRQ0 at the programmed rate in
 * modes 2 and 3 (on the exact tick grid, coalesced when the host is late),
 * mode 0 terminal count, modes 1, 4 and 5, counter latch and read-back,
 * BCD and byte access modes, and port 0x61 as Linux's TSC calibration and
 * NetBSD's delay loop use it.
 */
#include "tests/devices/check.h"
#include "tests/devices/fakevm.h"

#define HZ 1193182ull

static struct vm *vm;
static struct device_set *set;

static void out8(uint16_t port, uint8_t v)
{
	devices_pio_write(set, port, 1, v);
}

static uint8_t in8(uint16_t port)
{
	return (uint8_t)devices_pio_read(set, port, 1);
}

/* Control word, then the count as LSB and MSB. */
static void program(unsigned ch, uint8_t ctrl, uint16_t count)
{
	out8(0x43, ctrl);
	out8((uint16_t)(0x40 + ch), (uint8_t)count);
	out8((uint16_t)(0x40 + ch), (uint8_t)(count >> 8));
}

static uint16_t read_count(unsigned ch)
{
	uint16_t lo = in8((uint16_t)(0x40 + ch));

	return (uint16_t)(lo | in8((uint16_t)(0x40 + ch)) << 8);
}

static uint16_t latched_count(unsigned ch)
{
	out8(0x43, (uint8_t)(ch << 6));
	return read_count(ch);
}

static uint8_t status(unsigned ch)
{
	out8(0x43, (uint8_t)(0xe0 | 2u << ch));	/* read-back: status only */
	return in8((uint16_t)(0x40 + ch));
}

static uint64_t ticks(uint64_t ns)
{
	return ns * HZ / 1000000000ull;
}

/* When tick k begins, counted from start. */
static uint64_t tick_time(uint64_t start, uint64_t k)
{
	return start + (k * 1000000000ull + HZ - 1) / HZ;
}

/* t lies exactly on the grid of multiples of n ticks from start. */
static int on_grid(uint64_t start, uint64_t t, uint64_t n)
{
	uint64_t k = ticks(t - start) / n;

	return tick_time(start, k * n) == t || tick_time(start, (k + 1) * n) == t;
}

static void test_mode2_rate(void)
{
	uint64_t start;
	unsigned r0;

	program(0, 0x34, 1193);
	start = fakevm_now();
	r0 = fakevm_irq_rises(vm, 0);
	for (int i = 0; i < 1000; i++)
		fakevm_advance(1000000);
	/* 1193 * 1000 ticks fit in one second, 1193 * 1001 do not. */
	CHECK_EQ(fakevm_irq_rises(vm, 0) - r0, 1000);
	CHECK_EQ(fakevm_irq_last_rise(vm, 0), tick_time(start, 1000 * 1193));
	CHECK_EQ(fakevm_irq_level(vm, 0), 1);

	/* Irregular steps change nothing: deadlines come from the start time. */
	r0 = fakevm_irq_rises(vm, 0);
	for (int i = 0; i < 1000; i++)
		fakevm_advance(333333 + (uint64_t)(i % 7) * 100000);
	CHECK(on_grid(start, fakevm_irq_last_rise(vm, 0), 1193));
	CHECK_EQ(fakevm_irq_rises(vm, 0) - r0,
		 ticks(fakevm_now() - start) / 1193 - ticks(1000000000ull) / 1193);

	/* A late host gets one interrupt for many missed edges, then the grid. */
	r0 = fakevm_irq_rises(vm, 0);
	fakevm_advance_late(50000000);
	CHECK_EQ(fakevm_irq_rises(vm, 0) - r0, 1);
	fakevm_advance(1500000);
	CHECK_EQ(fakevm_irq_rises(vm, 0) - r0, 2);
	CHECK(on_grid(start, fakevm_irq_last_rise(vm, 0), 1193));
}

static void test_mode2_new_count(void)
{
	uint64_t start, boundary;
	unsigned r0;

	program(0, 0x34, 1193);
	start = fakevm_now();
	fakevm_advance(300000);
	/* A new count waits for the end of the current period. */
	out8(0x40, (uint8_t)2386);
	out8(0x40, (uint8_t)(2386 >> 8));
	r0 = fakevm_irq_rises(vm, 0);
	boundary = tick_time(start, 1193);
	fakevm_advance(boundary - fakevm_now());
	CHECK_EQ(fakevm_irq_rises(vm, 0) - r0, 1);
	CHECK_EQ(fakevm_irq_last_rise(vm, 0), boundary);
	fakevm_advance(1500000);
	CHECK_EQ(fakevm_irq_rises(vm, 0) - r0, 1);	/* the next edge is 2386 ticks on */
	fakevm_advance(1000000);
	CHECK_EQ(fakevm_irq_rises(vm, 0) - r0, 2);
	CHECK_EQ(fakevm_irq_last_rise(vm, 0), tick_time(boundary, 2386));
}

static void test_mode3(void)
{
	uint64_t start;
	unsigned r0;

	program(0, 0x36, 2386);
	start = fakevm_now();
	r0 = fakevm_irq_rises(vm, 0);
	for (int i = 0; i < 2000; i++)
		fakevm_advance(500000);
	CHECK_EQ(fakevm_irq_rises(vm, 0) - r0, 500);
	CHECK(on_grid(start, fakevm_irq_last_rise(vm, 0), 2386));

	/* OUT is high for the first half of each period, low for the second. */
	fakevm_advance(tick_time(start, 1000 * 2386 + 500) - fakevm_now());
	CHECK_EQ(status(0), 0x80 | 0x36);
	fakevm_advance(tick_time(start, 1000 * 2386 + 1700) - fakevm_now());
	CHECK_EQ(status(0), 0x36);

	/* Channel 2 in mode 3 with N = 5: OUT high 3 ticks, low 2; the count
	 * steps by two. */
	out8(0x61, 0x01);
	program(2, 0xb6, 5);
	start = fakevm_now();
	for (unsigned k = 0; k < 10; k++) {
		int high = k % 5 < 3;

		fakevm_advance(tick_time(start, k) + 200 - fakevm_now());
		CHECK_EQ((in8(0x61) >> 5) & 1, high);
	}
	fakevm_advance(tick_time(start, 10) + 200 - fakevm_now());
	CHECK_EQ(latched_count(2), 4);
	fakevm_advance(tick_time(start, 11) + 200 - fakevm_now());
	CHECK_EQ(latched_count(2), 2);
	out8(0x61, 0x00);
}

static void test_mode0(void)
{
	uint64_t start;
	unsigned r0;

	out8(0x43, 0x30);
	CHECK_EQ(fakevm_irq_level(vm, 0), 0);	/* OUT low from the control word */
	r0 = fakevm_irq_rises(vm, 0);
	out8(0x40, 1000 & 0xff);
	CHECK_EQ(status(0) & 0x40, 0x40);	/* null count until the MSB */
	out8(0x40, 1000 >> 8);
	start = fakevm_now();
	CHECK_EQ(status(0), 0x30);		/* OUT low, count loaded */
	fakevm_advance(400000);
	CHECK_EQ(latched_count(0), 1000 - ticks(400000));
	fakevm_advance(400000);
	CHECK_EQ(fakevm_irq_rises(vm, 0) - r0, 0);
	fakevm_advance(100000);
	CHECK_EQ(fakevm_irq_rises(vm, 0) - r0, 1);
	CHECK_EQ(fakevm_irq_last_rise(vm, 0), tick_time(start, 1000));
	CHECK_EQ(fakevm_irq_level(vm, 0), 1);
	CHECK_EQ(status(0), 0x80 | 0x30);
	/* The counter wraps on past zero; OUT stays high, no more interrupts. */
	CHECK_EQ(latched_count(0), (65536 + 1000 - ticks(900000)) % 65536);
	fakevm_advance(100000000);
	CHECK_EQ(fakevm_irq_rises(vm, 0) - r0, 1);

	/* Writing the LSB of a new count stops counting and drops OUT. */
	out8(0x40, 10);
	CHECK_EQ(fakevm_irq_level(vm, 0), 0);
	out8(0x40, 0);
	fakevm_advance(tick_time(fakevm_now(), 10) - fakevm_now());
	CHECK_EQ(fakevm_irq_rises(vm, 0) - r0, 2);
}

static void test_mode4(void)
{
	uint64_t start;
	unsigned r0;

	program(0, 0x38, 100);
	start = fakevm_now();
	r0 = fakevm_irq_rises(vm, 0);
	fakevm_advance(tick_time(start, 100) + 10 - fakevm_now());
	CHECK_EQ(status(0) & 0x80, 0);		/* the one-tick strobe */
	fakevm_advance(10000000);
	CHECK_EQ(fakevm_irq_rises(vm, 0) - r0, 1);
	CHECK_EQ(fakevm_irq_last_rise(vm, 0), tick_time(start, 101));
}

static void test_latch_and_readback(void)
{
	uint64_t start;
	uint16_t v;

	out8(0x43, 0x34);
	CHECK_EQ(status(0), 0x80 | 0x40 | 0x34);	/* OUT high, null count */
	out8(0x40, 1193 & 0xff);
	out8(0x40, 1193 >> 8);
	start = fakevm_now();
	fakevm_advance(300000);
	out8(0x43, 0x00);			/* latch channel 0 */
	fakevm_advance(100000);
	out8(0x43, 0x00);			/* a second latch is ignored */
	v = read_count(0);
	CHECK_EQ(v, 1193 - ticks(300000));
	CHECK_EQ(read_count(0), 1193 - ticks(400000));	/* live again */

	/* Read-back of count and status: status first, then the count. */
	out8(0x43, 0xc2);
	CHECK_EQ(in8(0x40), 0x80 | 0x34);
	CHECK_EQ(read_count(0), 1193 - ticks(fakevm_now() - start) % 1193);

	/* Read-back of channels 0 and 2 at once, counts only. */
	program(2, 0xb0, 5000);
	out8(0x43, 0xda);
	fakevm_advance(200000);
	CHECK_EQ(read_count(0), 1193 - ticks(fakevm_now() - 200000 - start) % 1193);
	CHECK_EQ(read_count(2), 5000);		/* gate low: not counting */

	/* Reads and writes have their own byte flip-flops. */
	CHECK_EQ(status(1) & 0x3f, 0x36);
	program(1, 0x74, 0x1234);
	CHECK_EQ(latched_count(1), 0x1234 - ticks(0));
}

static void test_access_modes(void)
{
	uint64_t start;
	unsigned r0;
	uint16_t v;

	/* LSB only: 200 ticks. */
	out8(0x43, 0x14);
	out8(0x40, 200);
	start = fakevm_now();
	r0 = fakevm_irq_rises(vm, 0);
	fakevm_advance(1000000);
	CHECK_EQ(fakevm_irq_rises(vm, 0) - r0, ticks(1000000) / 200);
	CHECK_EQ(in8(0x40), 200 - ticks(1000000) % 200);

	/* MSB only: 0x0100 ticks. */
	out8(0x43, 0x24);
	out8(0x40, 0x01);
	r0 = fakevm_irq_rises(vm, 0);
	fakevm_advance(1000000);
	CHECK_EQ(fakevm_irq_rises(vm, 0) - r0, ticks(1000000) / 256);

	/* BCD: 0x1000 is one thousand ticks, and counts read back in BCD. */
	program(0, 0x35, 0x1000);
	start = fakevm_now();
	r0 = fakevm_irq_rises(vm, 0);
	for (int i = 0; i < 100; i++)
		fakevm_advance(10000000);
	CHECK_EQ(fakevm_irq_rises(vm, 0) - r0, HZ / 1000);
	fakevm_advance(123456);
	v = latched_count(0);
	{
		unsigned d = 1000 - (unsigned)(ticks(fakevm_now() - start) % 1000);

		CHECK_EQ(v, (d / 100 % 10) << 8 | (d / 10 % 10) << 4 | d % 10);
	}
	(void)start;
}

/* Linux's pit_calibrate_tsc: channel 2, mode 0, gate on, wait for OUT2. */
static void test_calibration_loop(void)
{
	const uint16_t latch = HZ / 20;		/* 50 ms */
	uint64_t t0, loops = 0;

	out8(0x61, (in8(0x61) & ~0x02) | 0x01);
	out8(0x43, 0xb0);
	out8(0x42, latch & 0xff);
	out8(0x42, latch >> 8);
	t0 = fakevm_now();
	CHECK_EQ(in8(0x61) & 0x20, 0);
	while (!(in8(0x61) & 0x20) && loops < 100000) {
		fakevm_advance(1000);
		loops++;
	}
	CHECK_EQ(fakevm_now() - t0, ((uint64_t)latch * 1000000000ull + HZ - 1) / HZ / 1000 * 1000 + 1000);
	CHECK_EQ(in8(0x61) & 0x03, 0x01);

	/* The gate pauses mode 0: 100 ticks, gate low for 10 ms, 100 more. */
	out8(0x61, 0x00);
	program(2, 0xb0, 200);
	CHECK_EQ(read_count(2), 200);
	out8(0x61, 0x01);
	t0 = fakevm_now();
	fakevm_advance(tick_time(t0, 100) - t0);
	out8(0x61, 0x00);
	fakevm_advance(10000000);
	CHECK_EQ(in8(0x61) & 0x20, 0);
	CHECK_EQ(latched_count(2), 100);
	out8(0x61, 0x01);
	t0 = fakevm_now();
	fakevm_advance(tick_time(t0, 99) - t0);
	CHECK_EQ(in8(0x61) & 0x20, 0);
	fakevm_advance(tick_time(t0, 100) - fakevm_now());
	CHECK_EQ(in8(0x61) & 0x20, 0x20);

	/* Mode 1: the gate's rising edge starts a one-shot. */
	out8(0x61, 0x00);
	program(2, 0xb2, 300);
	CHECK_EQ(in8(0x61) & 0x20, 0x20);
	fakevm_advance(1000000);
	CHECK_EQ(in8(0x61) & 0x20, 0x20);	/* no trigger yet */
	out8(0x61, 0x01);
	t0 = fakevm_now();
	CHECK_EQ(in8(0x61) & 0x20, 0);
	fakevm_advance(tick_time(t0, 300) - t0);
	CHECK_EQ(in8(0x61) & 0x20, 0x20);

	/* Mode 5: a strobe 300 ticks after the trigger. */
	out8(0x61, 0x00);
	program(2, 0xba, 300);
	out8(0x61, 0x01);
	t0 = fakevm_now();
	fakevm_advance(tick_time(t0, 300) + 10 - t0);
	CHECK_EQ(in8(0x61) & 0x20, 0);
	fakevm_advance(tick_time(t0, 301) - fakevm_now());
	CHECK_EQ(in8(0x61) & 0x20, 0x20);
	out8(0x61, 0x00);
}

/* NetBSD's delay(): sum the decrements of the latched channel 0 count. */
static void test_delay_loop(void)
{
	const uint16_t n = 11932;	/* 100 Hz */
	const uint64_t want = 5000 * HZ / 1000000;
	uint64_t t0, sum = 0;
	unsigned prev, cur;

	program(0, 0x34, n);
	fakevm_advance(1234567);
	t0 = fakevm_now();
	prev = latched_count(0);
	while (sum < want) {
		fakevm_advance(7000);
		cur = latched_count(0);
		sum += cur <= prev ? prev - cur : prev + n - cur;
		prev = cur;
	}
	CHECK(fakevm_now() - t0 >= 5000000);
	CHECK(fakevm_now() - t0 < 5000000 + 7000 + 1000);
}

static void test_refresh_toggle(void)
{
	uint8_t a = in8(0x61) & 0x10;

	fakevm_advance(15085);
	CHECK((in8(0x61) & 0x10) != a);
	fakevm_advance(15085);
	CHECK_EQ(in8(0x61) & 0x10, a);
	out8(0x61, 0x02);
	CHECK_EQ(in8(0x61) & 0x03, 0x02);	/* speaker bit kept */
	out8(0x61, 0x00);
}

int main(void)
{
	vm = fakevm_new(64 << 20);
	set = devices_create(vm);
	CHECK(set != NULL);
	if (!set)
		return check_done("test-pit");
	test_mode2_rate();
	test_mode2_new_count();
	test_mode3();
	test_mode0();
	test_mode4();
	test_latch_and_readback();
	test_access_modes();
	test_calibration_loop();
	test_delay_loop();
	test_refresh_toggle();
	devices_destroy(set);
	fakevm_free(vm);
	return check_done("test-pit");
}

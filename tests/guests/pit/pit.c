/*
 * pit.c - the 8254 timer: channel 0's periodic rate measured against the
 * RTC, channel 2 counting down in mode 0 and polled through port 0x61 (the
 * delay-calibration loop kernels run), the read-back status, and channel 0
 * one-shot modes 0 and 4 interrupting exactly once.
 *
 * Only properties are printed, never counts: the rate is a pass/fail within
 * 5%, so the output is the same on any host that keeps up.
 */
#include "../lib/guest.h"

#define PIT_HZ 1193182u
#define HZ 100
#define RATE_WINDOWS 3
#define PIT_CTRL 0x43
#define PIT_CH0 0x40
#define PIT_CH2 0x42
#define PORT_B 0x61
#define B_GATE2 0x01
#define B_SPEAKER 0x02
#define B_REFRESH 0x10
#define B_OUT2 0x20
#define RTC_SECONDS 0x00
#define RTC_REG_A 0x0a
#define RTC_UIP 0x80
#define SPIN 1000000

static volatile unsigned ticks;

static void on_timer(struct trap_frame *f)
{
	ticks++;
	pic_eoi(0);
}

/* The RTC seconds register, read outside an update cycle. */
static uint8_t rtc_seconds(void)
{
	while (cmos_read(RTC_REG_A) & RTC_UIP)
		;
	return cmos_read(RTC_SECONDS);
}

/*
 * Look at the RTC once per tick until its seconds change. Sleeping in hlt
 * rather than polling leaves the host CPU to the emulator's timers, which
 * a busy guest on a loaded host can starve into losing ticks.
 */
static void wait_second_change(void)
{
	uint8_t s = rtc_seconds();

	while (rtc_seconds() == s)
		__asm__ volatile("hlt");
}

/*
 * Ticks in consecutive one-second RTC windows, until one is within 5% of
 * HZ. A starved host loses ticks (edges merge in the PIC's IRR), so a
 * window may come up short; a wrong rate is wrong in every window.
 */
static int near_hz(unsigned n)
{
	return n >= HZ - HZ / 20 && n <= HZ + HZ / 20;
}

static void test_rate(void)
{
	unsigned start, n = 0;

	pit_init(HZ);
	__asm__ volatile("sti");
	wait_second_change();
	for (int window = 0; window < RATE_WINDOWS; window++) {
		start = ticks;
		wait_second_change();
		n = ticks - start;
		if (near_hz(n))
			break;
	}
	check(near_hz(n), "PIT rate within 5%");
}

/* Mode 2 counts N down to 1, so a latched count of channel 0 lies in 1..N. */
static void test_ch0_latch(void)
{
	const uint32_t n = PIT_HZ / HZ;
	int in_range = 1;

	for (int i = 0; i < 100; i++) {
		uint32_t c;

		outb(PIT_CTRL, 0x00);	/* latch channel 0's count */
		c = inb(PIT_CH0);
		c |= inb(PIT_CH0) << 8;
		in_range &= c >= 1 && c <= n;
	}
	check(in_range, "channel 0 latched counts lie within 1..N in mode 2");
}

/* Load channel 2 in mode 0 with count, its gate open and the speaker off. */
static void start_ch2(uint16_t count)
{
	outb(PORT_B, (inb(PORT_B) & ~B_SPEAKER) | B_GATE2);
	outb(PIT_CTRL, 0xb0);	/* channel 2, LSB then MSB, mode 0, binary */
	outb(PIT_CH2, count & 0xff);
	outb(PIT_CH2, count >> 8);
}

static uint16_t ch2_count(void)
{
	uint8_t lo;

	outb(PIT_CTRL, 0x80);	/* latch channel 2's count */
	lo = inb(PIT_CH2);
	return lo | inb(PIT_CH2) << 8;
}

/* Poll port 0x61 until OUT2 rises; gives up after about a second of ticks. */
static int wait_out2(void)
{
	unsigned end = ticks + HZ;

	while (!(inb(PORT_B) & B_OUT2))
		if (ticks > end)
			return 0;
	return 1;
}

static void test_ch2_countdown(void)
{
	uint16_t first, later;
	uint8_t status;

	start_ch2(0xffff);	/* 55 ms */
	check(!(inb(PORT_B) & B_OUT2), "channel 2 mode 0: OUT2 low while counting");
	outb(PIT_CTRL, 0xe8);	/* read-back: status of channel 2 only */
	status = inb(PIT_CH2);
	check(status == 0x30, "read-back status: OUT low, LSB/MSB, mode 0, binary");
	first = later = ch2_count();
	for (unsigned i = 0; i < SPIN && later == first; i++)
		later = ch2_count();
	check(later < first, "channel 2 counts down");
	check(wait_out2(), "OUT2 (port 0x61 bit 5) rises when the count runs out");
	check(inb(PORT_B) & B_OUT2, "OUT2 stays high after terminal count in mode 0");
}

static void test_refresh_toggle(void)
{
	uint8_t first = inb(PORT_B) & B_REFRESH;
	int toggled = 0;

	for (unsigned i = 0; i < SPIN && !toggled; i++)
		toggled = (inb(PORT_B) & B_REFRESH) != first;
	check(toggled, "port 0x61 bit 4 (refresh) toggles");
}

/* Channel 2 in mode 0 as a 55 ms delay, polled through port 0x61. */
static void delay_55ms(void)
{
	start_ch2(0xffff);
	while (!(inb(PORT_B) & B_OUT2))
		;
}

/*
 * Channel 0 one-shot of 10 ms: wait (up to a second) for its interrupt,
 * then 55 ms more for a second one that must not come. Returns the count.
 */
static unsigned one_shot(uint8_t mode)
{
	unsigned start;
	uint16_t count = PIT_HZ / 100;	/* 10 ms */

	__asm__ volatile("cli");
	outb(PIT_CTRL, 0x30 | mode << 1);	/* the periodic ticks stop here */
	__asm__ volatile("sti\n\tnop\n\tcli");	/* take a tick latched just before */
	start = ticks;
	outb(PIT_CH0, count & 0xff);
	outb(PIT_CH0, count >> 8);
	__asm__ volatile("sti");
	for (int i = 0; i < 20 && ticks == start; i++)
		delay_55ms();
	delay_55ms();
	return ticks - start;
}

static void test_one_shot(void)
{
	check(one_shot(0) == 1, "channel 0 mode 0 (interrupt on terminal count) interrupts once");
	check(one_shot(4) == 1, "channel 0 mode 4 (software strobe) interrupts once");
}

void guest_main(uint32_t magic, void *mbi)
{
	guest_init();
	set_handler(VEC_IRQ0, on_timer);
	pic_init(1 << 0);
	test_rate();
	test_ch0_latch();
	test_ch2_countdown();
	test_refresh_toggle();
	test_one_shot();
	finish();
}

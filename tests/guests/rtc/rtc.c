/*
 * rtc.c - the MC146818 real-time clock at ports 0x70/0x71: registers A-D
 * as a BIOS leaves them and as written, the time fields in BCD and binary
 * and in 12- and 24-hour form, the update-in-progress bit before each
 * update, the periodic interrupt on IRQ8 (through the slave PIC) measured
 * against the RTC's own seconds, register C clearing on read, the NMI-mask
 * bit of the index port, and the NVRAM as scratch storage.
 *
 * Only properties are printed, never the time or counts, so the output is
 * the same on any date and on any host that keeps up.
 */
#include "../lib/guest.h"

#define RTC_INDEX 0x70
#define RTC_DATA 0x71
#define NMI_MASK 0x80
#define SECONDS 0x00
#define MINUTES 0x02
#define HOURS 0x04
#define WEEKDAY 0x06
#define DAY 0x07
#define MONTH 0x08
#define YEAR 0x09
#define REG_A 0x0a
#define REG_B 0x0b
#define REG_C 0x0c
#define REG_D 0x0d
#define A_UIP 0x80
#define A_BIOS 0x26	/* 32.768 kHz time base, rate 6: 1024 Hz */
#define A_RATE_2HZ 0x2f
#define B_PIE 0x40
#define B_DM_BINARY 0x04
#define B_24H 0x02
#define C_IRQF 0x80
#define C_PF 0x40
#define D_VRT 0x80
#define HOUR_PM 0x80
#define NVRAM_SCRATCH 0x40
#define NVRAM_SCRATCH_END 0x50
#define PERIODIC_HZ 1024
#define RATE_WINDOWS 8
#define RETRIES 3
#define SECOND_LIMIT 3		/* RTC seconds a bounded wait may take */
#define SPIN 10000000
#define UIP_POLLS 64

static volatile unsigned rtc_irqs;

/* Register access with interrupts off, so that the handler's read of
 * register C cannot move the index between the two port accesses. */
static uint8_t rd(unsigned reg)
{
	uint32_t fl;
	uint8_t v;

	__asm__ volatile("pushfl\n\tpopl %0\n\tcli" : "=r"(fl) :: "memory");
	v = cmos_read(reg);
	__asm__ volatile("pushl %0\n\tpopfl" :: "r"(fl) : "memory", "cc");
	return v;
}

static void wr(unsigned reg, uint8_t v)
{
	uint32_t fl;

	__asm__ volatile("pushfl\n\tpopl %0\n\tcli" : "=r"(fl) :: "memory");
	cmos_write(reg, v);
	__asm__ volatile("pushl %0\n\tpopfl" :: "r"(fl) : "memory", "cc");
}

/* Register reg read outside an update cycle. */
static uint8_t rd_stable(unsigned reg)
{
	for (unsigned i = 0; i < SPIN && (rd(REG_A) & A_UIP); i++)
		;
	return rd(reg);
}

static int bcd_ok(uint8_t v)
{
	return (v & 0x0f) <= 9 && (v >> 4) <= 9;
}

static unsigned from_bcd(uint8_t v)
{
	return (v >> 4) * 10 + (v & 0x0f);
}

static void test_bios_registers(void)
{
	check((rd(REG_A) & ~A_UIP) == A_BIOS, "register A: 32.768 kHz time base, 1024 Hz rate");
	check(rd(REG_B) == B_24H, "register B: 24-hour BCD, no interrupts enabled");
	check(rd(REG_D) == D_VRT, "register D: VRT set");
	wr(REG_D, 0x00);
	check(rd(REG_D) == D_VRT, "register D ignores writes");
}

static void test_register_writes(void)
{
	wr(REG_A, A_RATE_2HZ);
	check((rd(REG_A) & ~A_UIP) == A_RATE_2HZ, "register A reads back a new rate");
	wr(REG_A, A_BIOS);
	check((rd(REG_A) & ~A_UIP) == A_BIOS, "register A reads back the BIOS value");
	wr(REG_B, B_24H | B_DM_BINARY);
	check(rd(REG_B) == (B_24H | B_DM_BINARY), "register B reads back binary mode");
	wr(REG_B, 0);
	check(rd(REG_B) == 0, "register B reads back 12-hour BCD mode");
	wr(REG_B, B_24H);
	check(rd(REG_B) == B_24H, "register B reads back 24-hour BCD mode");
}

static void test_bcd(void)
{
	uint8_t s, m, h, wd, d, mo, y;

	wr(REG_B, B_24H);
	s = rd_stable(SECONDS);
	m = rd_stable(MINUTES);
	h = rd_stable(HOURS);
	check(bcd_ok(s) && bcd_ok(m) && bcd_ok(h), "BCD mode: seconds, minutes, hours have digits 0-9");
	check(from_bcd(s) < 60 && from_bcd(m) < 60 && from_bcd(h) < 24,
	      "BCD mode: seconds < 60, minutes < 60, hours < 24");
	wd = rd_stable(WEEKDAY);
	d = rd_stable(DAY);
	mo = rd_stable(MONTH);
	y = rd_stable(YEAR);
	check(bcd_ok(wd) && bcd_ok(d) && bcd_ok(mo) && bcd_ok(y) && wd >= 1 && wd <= 7 &&
	      from_bcd(d) >= 1 && from_bcd(d) <= 31 && from_bcd(mo) >= 1 && from_bcd(mo) <= 12,
	      "BCD mode: weekday 1-7, day 1-31, month 1-12, year 00-99");
}

static void test_binary(void)
{
	uint8_t s, m, h, d, mo, y;

	wr(REG_B, B_24H | B_DM_BINARY);
	s = rd_stable(SECONDS);
	m = rd_stable(MINUTES);
	h = rd_stable(HOURS);
	check(s < 60 && m < 60 && h < 24, "binary mode: seconds < 60, minutes < 60, hours < 24");
	d = rd_stable(DAY);
	mo = rd_stable(MONTH);
	y = rd_stable(YEAR);
	check(d >= 1 && d <= 31 && mo >= 1 && mo <= 12 && y <= 99,
	      "binary mode: day 1-31, month 1-12, year 0-99");
	wr(REG_B, B_24H);
}

/*
 * The same minute read in BCD, in binary and in BCD again; if the two BCD
 * readings differ the clock moved on between them, so try again.
 */
static void test_formats_agree(void)
{
	int agree = 0;

	for (int i = 0; i < RETRIES && !agree; i++) {
		uint8_t bcd1, bin, bcd2;

		wr(REG_B, B_24H);
		bcd1 = rd_stable(MINUTES);
		wr(REG_B, B_24H | B_DM_BINARY);
		bin = rd_stable(MINUTES);
		wr(REG_B, B_24H);
		bcd2 = rd_stable(MINUTES);
		agree = bcd1 == bcd2 && from_bcd(bcd1) == bin;
	}
	check(agree, "the binary minutes equal the BCD minutes");
}

/* The 12-hour form of the 24-hour hour h24: 1-12 with bit 7 for PM. */
static uint8_t to_12h(unsigned h24)
{
	return (uint8_t)((h24 % 12 ? h24 % 12 : 12) | (h24 >= 12 ? HOUR_PM : 0));
}

static void test_12h(void)
{
	int bcd_ok12 = 0, bin_ok12 = 0;

	for (int i = 0; i < RETRIES && !bcd_ok12; i++) {
		uint8_t h1, h12, h2;

		wr(REG_B, B_24H);
		h1 = rd_stable(HOURS);
		wr(REG_B, 0);
		h12 = rd_stable(HOURS);
		wr(REG_B, B_24H);
		h2 = rd_stable(HOURS);
		bcd_ok12 = h1 == h2 && bcd_ok(h12 & ~HOUR_PM) &&
			   (h12 & HOUR_PM) == (to_12h(from_bcd(h1)) & HOUR_PM) &&
			   from_bcd(h12 & ~HOUR_PM) == (to_12h(from_bcd(h1)) & ~HOUR_PM);
	}
	check(bcd_ok12, "12-hour BCD mode: hours 1-12 with bit 7 for PM, as the 24-hour clock");
	for (int i = 0; i < RETRIES && !bin_ok12; i++) {
		uint8_t h1, h12, h2;

		wr(REG_B, B_24H | B_DM_BINARY);
		h1 = rd_stable(HOURS);
		wr(REG_B, B_DM_BINARY);
		h12 = rd_stable(HOURS);
		wr(REG_B, B_24H | B_DM_BINARY);
		h2 = rd_stable(HOURS);
		bin_ok12 = h1 == h2 && h1 < 24 && h12 == to_12h(h1);
	}
	check(bin_ok12, "12-hour binary mode: hours 1-12 with bit 7 for PM, as the 24-hour clock");
	wr(REG_B, B_24H);
}

/*
 * Poll register A until UIP shows, for at most SECOND_LIMIT changes of the
 * seconds. Each round reads the seconds, sees UIP clear, then reads register
 * A alone (the index stays put) as fast as the port allows: under lilyvm a
 * port access takes tens of microseconds, and UIP is up for only 244 us
 * before each update. Once UIP clears, the seconds must have moved on from
 * those read before it rose. Interrupts are still off here.
 */
static void test_uip(void)
{
	int seen = 0, advanced = 0, changes = 0;
	uint8_t last = cmos_read(SECONDS);

	while (!seen && changes < SECOND_LIMIT) {
		uint8_t s = cmos_read(SECONDS);

		if (s != last) {
			last = s;
			changes++;
		}
		outb(RTC_INDEX, REG_A);
		if (inb(RTC_DATA) & A_UIP) {	/* s may be from mid-update: start over */
			for (unsigned i = 0; i < SPIN && (inb(RTC_DATA) & A_UIP); i++)
				;
			continue;
		}
		for (int i = 0; i < UIP_POLLS && !seen; i++)
			seen = inb(RTC_DATA) & A_UIP;
		if (seen) {
			for (unsigned i = 0; i < SPIN && (inb(RTC_DATA) & A_UIP); i++)
				;
			advanced = cmos_read(SECONDS) != s;
		}
	}
	check(seen, "UIP (register A bit 7) is seen set before an update");
	check(advanced, "the seconds change when UIP clears");
}

static void on_rtc(struct trap_frame *f)
{
	rtc_irqs++;
	cmos_read(REG_C);	/* interrupts are off in the handler */
	pic_eoi(8);
}

/* Sleep until the RTC's seconds change; the periodic interrupt wakes hlt. */
static void wait_second_change(void)
{
	uint8_t s = rd_stable(SECONDS);

	while (rd_stable(SECONDS) == s)
		__asm__ volatile("hlt");
}

static int near_hz(unsigned n)
{
	return n >= PERIODIC_HZ - PERIODIC_HZ / 4 && n <= PERIODIC_HZ + PERIODIC_HZ / 4;
}

/*
 * Interrupts in consecutive one-second RTC windows, until one is within
 * 25% of 1024 (the next rates are 512 and 2048 Hz, so a wrong rate still
 * fails). A starved host loses ticks, so a window may come up short;
 * a wrong rate is wrong in every window.
 */
static void test_periodic_rate(void)
{
	unsigned start, n = 0;

	wr(REG_A, A_BIOS);
	rd(REG_C);
	wr(REG_B, B_24H | B_PIE);
	pic_mask(1 << 2 | 1 << 8);
	__asm__ volatile("sti");
	wait_second_change();
	for (int window = 0; window < RATE_WINDOWS; window++) {
		start = rtc_irqs;
		wait_second_change();
		n = rtc_irqs - start;
		if (near_hz(n))
			break;
	}
	__asm__ volatile("cli");
	pic_mask(0);
	wr(REG_B, B_24H);
	rd(REG_C);
	check(near_hz(n), "periodic interrupt at rate 6 on IRQ8: 1024 Hz within 25%");
}

/*
 * At 2 Hz, with IRQ8 masked, poll register C until PF shows; a read at once
 * after it must find PF and IRQF clear (the next tick is half a second off).
 */
static void test_reg_c_clears(void)
{
	uint8_t first = 0, second = 0xff, last = rd(SECONDS);
	int changes = 0;

	wr(REG_A, A_RATE_2HZ);
	rd(REG_C);
	wr(REG_B, B_24H | B_PIE);
	while (!(first & C_PF) && changes < SECOND_LIMIT) {
		uint8_t s = rd(SECONDS);

		first = rd(REG_C);
		if (s != last) {
			last = s;
			changes++;
		}
	}
	second = rd(REG_C);
	wr(REG_B, B_24H);
	wr(REG_A, A_BIOS);
	rd(REG_C);
	check((first & (C_PF | C_IRQF)) == (C_PF | C_IRQF), "with PIE set, register C shows PF and IRQF");
	check(!(second & (C_PF | C_IRQF)), "reading register C clears PF and IRQF");
}

/* Index writes with bit 7 (NMI disable) set reach the same registers. */
static void test_nmi_mask_bit(void)
{
	uint8_t a, d, v1, v2;

	outb(RTC_INDEX, NMI_MASK | REG_A);
	a = inb(RTC_DATA);
	outb(RTC_INDEX, NMI_MASK | REG_D);
	d = inb(RTC_DATA);
	check((a & ~A_UIP) == A_BIOS && d == D_VRT, "with the NMI mask bit set, registers A and D read right");
	outb(RTC_INDEX, NMI_MASK | NVRAM_SCRATCH);
	outb(RTC_DATA, 0x5a);
	v1 = rd(NVRAM_SCRATCH);
	wr(NVRAM_SCRATCH + 1, 0xc3);
	outb(RTC_INDEX, NMI_MASK | (NVRAM_SCRATCH + 1));
	v2 = inb(RTC_DATA);
	outb(RTC_INDEX, REG_D);	/* NMIs enabled again */
	check(v1 == 0x5a && v2 == 0xc3, "with the NMI mask bit set, NVRAM writes and reads the same bytes");
}

static int nvram_pattern(uint8_t (*pat)(unsigned))
{
	int ok = 1;

	for (unsigned r = NVRAM_SCRATCH; r < NVRAM_SCRATCH_END; r++)
		wr(r, pat(r));
	for (unsigned r = NVRAM_SCRATCH; r < NVRAM_SCRATCH_END; r++)
		ok &= rd(r) == pat(r);
	return ok;
}

static uint8_t pat1(unsigned r) { return (uint8_t)(r * 0x11 ^ 0xa5); }
static uint8_t pat2(unsigned r) { return (uint8_t)~pat1(r); }

static void test_nvram(void)
{
	check(nvram_pattern(pat1) && nvram_pattern(pat2), "NVRAM bytes 0x40-0x4f keep what is written");
}

void guest_main(uint32_t magic, void *mbi)
{
	guest_init();
	set_handler(VEC_IRQ0 + 8, on_rtc);
	pic_init(0);
	test_bios_registers();
	test_register_writes();
	test_bcd();
	test_binary();
	test_formats_agree();
	test_12h();
	test_uip();
	test_periodic_rate();
	test_reg_c_clears();
	test_nmi_mask_bit();
	test_nvram();
	finish();
}

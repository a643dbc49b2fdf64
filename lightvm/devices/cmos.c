/*
 * cmos.c - the Motorola MC146818 real-time clock and its 128 bytes of
 * battery-backed RAM at 0x70 (index; bit 7 masks NMI) and 0x71 (data),
 * interrupting on IRQ8.
 *
 * The clock starts at the host's UTC time and runs on vm_clock_ns(): the
 * time is kept as seconds at a reference instant of the divider chain
 * (base_ns), and registers are computed when read. Interrupt flags are
 * brought up to date on every access (cmos_sync) and by one timer that is
 * armed only while an enabled source could raise the IRQ line.
 */
#include <stdlib.h>
#include <time.h>

#include "lightvm/devices.h"
#include "lightvm/log.h"

#define RTC_IRQ 8
#define NS_PER_S 1000000000ull
#define UIP_NS 244000ull	/* UIP rises this long before each update */
#define DIVIDER_HZ 32768ull

enum {
	SECONDS = 0x00, SECONDS_ALARM = 0x01, MINUTES = 0x02, MINUTES_ALARM = 0x03,
	HOURS = 0x04, HOURS_ALARM = 0x05, WEEKDAY = 0x06, DAY = 0x07, MONTH = 0x08, YEAR = 0x09,
	REG_A = 0x0a, REG_B = 0x0b, REG_C = 0x0c, REG_D = 0x0d,
	BASE_MEM_LO = 0x15, BASE_MEM_HI = 0x16, EXT_MEM_LO = 0x17, EXT_MEM_HI = 0x18,
	CHECKSUM_HI = 0x2e, CHECKSUM_LO = 0x2f, EXT_MEM2_LO = 0x30, EXT_MEM2_HI = 0x31,
	CENTURY = 0x32, HIGH_MEM_LO = 0x34, HIGH_MEM_HI = 0x35, EQUIPMENT = 0x14,
};

#define A_UIP 0x80
#define A_DV_MASK 0x70
#define A_DV_NORMAL 0x20	/* 32.768 kHz time base */
#define A_RS_MASK 0x0f
#define B_SET 0x80
#define B_PIE 0x40
#define B_AIE 0x20
#define B_UIE 0x10
#define B_SQWE 0x08
#define B_DM_BINARY 0x04
#define B_24H 0x02
#define C_IRQF 0x80
#define C_PF 0x40
#define C_AF 0x20
#define C_UF 0x10
#define D_VRT 0x80

/* The calendar fields; while the clock is held they are kept as written. */
struct rtc_time {
	int sec, min, hour, mday, mon, year;	/* mon 1-12, year in full */
};

struct cmos {
	struct vm *vm;
	struct vm_timer *timer;
	uint8_t index, nmi_masked;
	uint8_t ram[128];	/* alarm bytes, A, B and the NVRAM; time lives below */
	uint8_t flags;		/* register C: PF, AF, UF */
	uint8_t irq_level;
	uint8_t stopped;	/* SET, or the divider not running: time is held */
	struct rtc_time held;	/* the time while stopped */
	int64_t epoch0;		/* the time at base_ns, in seconds since 1970 */
	uint64_t base_ns;	/* an instant where the divider chain starts a second */
	uint64_t synced_ns;	/* flags account for everything up to here */
};

static int time_runs(const struct cmos *c)
{
	return !(c->ram[REG_B] & B_SET) && (c->ram[REG_A] & A_DV_MASK) == A_DV_NORMAL;
}

static int divider_runs(const struct cmos *c)
{
	return (c->ram[REG_A] & A_DV_MASK) == A_DV_NORMAL;
}

/* Seconds since base_ns, or 0 for instants before it. */
static uint64_t seconds_in(const struct cmos *c, uint64_t t)
{
	return t > c->base_ns ? (t - c->base_ns) / NS_PER_S : 0;
}

static void time_from_seconds(int64_t t, struct rtc_time *rt)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	*rt = (struct rtc_time){ tm.tm_sec, tm.tm_min, tm.tm_hour, tm.tm_mday, tm.tm_mon + 1,
				 tm.tm_year + 1900 };
}

/* Seconds since 1970; fields out of range roll over as dates do. */
static int64_t time_to_seconds(const struct rtc_time *rt)
{
	struct tm tm = { .tm_sec = rt->sec, .tm_min = rt->min, .tm_hour = rt->hour,
			 .tm_mday = rt->mday, .tm_mon = rt->mon - 1, .tm_year = rt->year - 1900 };

	return (int64_t)timegm(&tm);
}

static void current_time(const struct cmos *c, uint64_t now, struct rtc_time *rt)
{
	if (c->stopped)
		*rt = c->held;
	else
		time_from_seconds(c->epoch0 + (int64_t)seconds_in(c, now), rt);
}

/* Held, the fields are kept as written (a guest writes a date one field
 * at a time); running, the new time takes effect at once. */
static void set_current_time(struct cmos *c, uint64_t now, const struct rtc_time *rt)
{
	if (c->stopped)
		c->held = *rt;
	else
		c->epoch0 = time_to_seconds(rt) - (int64_t)seconds_in(c, now);
}

/* The periodic rate as a divider of 32768 Hz; 0 if RS selects none. */
static uint64_t periodic_divider(const struct cmos *c)
{
	unsigned rs = c->ram[REG_A] & A_RS_MASK;

	if (!rs)
		return 0;
	if (rs < 3)
		return 64u << rs;	/* RS 1 and 2 give 256 and 128 Hz */
	return 1u << (rs - 1);
}

/* Index of the last periodic tick at or before t. */
static uint64_t periodic_index(const struct cmos *c, uint64_t t, uint64_t div)
{
	if (t <= c->base_ns)
		return 0;
	return muldiv64(t - c->base_ns, DIVIDER_HZ, div * NS_PER_S, 0);
}

static uint64_t periodic_time(const struct cmos *c, uint64_t k, uint64_t div)
{
	return c->base_ns + muldiv64(k, div * NS_PER_S, DIVIDER_HZ, 1);
}

static uint8_t to_reg(const struct cmos *c, int v)
{
	if (c->ram[REG_B] & B_DM_BINARY)
		return (uint8_t)v;
	return (uint8_t)((v / 10) << 4 | v % 10);
}

static int from_reg(const struct cmos *c, uint8_t v)
{
	if (c->ram[REG_B] & B_DM_BINARY)
		return v;
	return (v >> 4) * 10 + (v & 15);
}

static uint8_t hour_to_reg(const struct cmos *c, int hour)
{
	if (c->ram[REG_B] & B_24H)
		return to_reg(c, hour);
	return (uint8_t)(to_reg(c, hour % 12 ? hour % 12 : 12) | (hour >= 12 ? 0x80 : 0));
}

static int hour_from_reg(const struct cmos *c, uint8_t v)
{
	if (c->ram[REG_B] & B_24H)
		return from_reg(c, v);
	return from_reg(c, v & 0x7f) % 12 + ((v & 0x80) ? 12 : 0);
}

/* An alarm byte of 0xc0 or more matches any value. */
static int alarm_matches(const struct cmos *c, int64_t t)
{
	struct rtc_time rt;

	time_from_seconds(t, &rt);
	return (c->ram[SECONDS_ALARM] >= 0xc0 || c->ram[SECONDS_ALARM] == to_reg(c, rt.sec)) &&
	       (c->ram[MINUTES_ALARM] >= 0xc0 || c->ram[MINUTES_ALARM] == to_reg(c, rt.min)) &&
	       (c->ram[HOURS_ALARM] >= 0xc0 || c->ram[HOURS_ALARM] == hour_to_reg(c, rt.hour));
}

/* Updates (one a second while time runs) in (synced_ns, now]: UF, and AF if
 * one of them matched the alarm. Alarms repeat daily, so a long gap needs
 * only its last day checked. */
static void sync_updates(struct cmos *c, uint64_t now)
{
	uint64_t first = seconds_in(c, c->synced_ns) + 1, last = seconds_in(c, now);

	if (c->stopped || now <= c->base_ns || first > last)
		return;
	c->flags |= C_UF;
	if (last - first >= 86400)
		first = last - 86399;
	for (uint64_t n = first; n <= last && !(c->flags & C_AF); n++)
		if (alarm_matches(c, c->epoch0 + (int64_t)n))
			c->flags |= C_AF;
}

/* Bring register C up to now. */
static void cmos_sync(struct cmos *c, uint64_t now)
{
	uint64_t div = periodic_divider(c);

	if (now <= c->synced_ns)
		return;
	if (div && divider_runs(c) && periodic_index(c, now, div) > periodic_index(c, c->synced_ns, div))
		c->flags |= C_PF;
	sync_updates(c, now);
	c->synced_ns = now;
}

static uint8_t irqf(const struct cmos *c)
{
	uint8_t b = c->ram[REG_B];

	if (((c->flags & C_PF) && (b & B_PIE)) || ((c->flags & C_AF) && (b & B_AIE)) ||
	    ((c->flags & C_UF) && (b & B_UIE)))
		return C_IRQF;
	return 0;
}

/* The next instant an enabled source sets its flag, or 0 (none, or IRQ8
 * is already raised and only a read of register C can lower it). */
static uint64_t next_event(const struct cmos *c, uint64_t now)
{
	uint64_t div = periodic_divider(c), t = 0, u;

	if (irqf(c))
		return 0;
	if ((c->ram[REG_B] & B_PIE) && div && divider_runs(c))
		t = periodic_time(c, periodic_index(c, now, div) + 1, div);
	if ((c->ram[REG_B] & (B_UIE | B_AIE)) && !c->stopped) {
		u = c->base_ns + (seconds_in(c, now) + 1) * NS_PER_S;
		if (now < c->base_ns)
			u = c->base_ns + NS_PER_S;
		if (!t || u < t)
			t = u;
	}
	return t;
}

/* Drive IRQ8 from IRQF and arm the timer for the next interrupt. */
static void cmos_update_irq(struct cmos *c)
{
	int level = irqf(c) != 0;

	if (level != c->irq_level) {
		c->irq_level = (uint8_t)level;
		vm_set_irq(c->vm, RTC_IRQ, level);
	}
	vm_timer_arm(c->timer, next_event(c, vm_clock_ns()));
}

static void cmos_timer_fired(void *opaque)
{
	struct cmos *c = opaque;

	cmos_sync(c, vm_clock_ns());
	cmos_update_irq(c);
}

static int update_in_progress(const struct cmos *c, uint64_t now)
{
	if (c->stopped || now < c->base_ns)
		return 0;
	return (now - c->base_ns) % NS_PER_S >= NS_PER_S - UIP_NS;
}

/* Day of the week, 1 = Sunday, from the date. */
static int weekday(const struct rtc_time *rt)
{
	time_t t = (time_t)time_to_seconds(rt);
	struct tm tm;

	gmtime_r(&t, &tm);
	return tm.tm_wday + 1;
}

static uint8_t read_time(const struct cmos *c, unsigned reg, uint64_t now)
{
	struct rtc_time rt;

	current_time(c, now, &rt);
	switch (reg) {
	case SECONDS:
		return to_reg(c, rt.sec);
	case MINUTES:
		return to_reg(c, rt.min);
	case HOURS:
		return hour_to_reg(c, rt.hour);
	case WEEKDAY:
		return to_reg(c, weekday(&rt));
	case DAY:
		return to_reg(c, rt.mday);
	case MONTH:
		return to_reg(c, rt.mon);
	case YEAR:
		return to_reg(c, rt.year % 100);
	default: /* CENTURY */
		return to_reg(c, rt.year / 100);
	}
}

/*
 * A write to a time field. Running, a nonsense date (the 31st of February)
 * rolls over instead of being kept as the chip would. The day of the week
 * always follows the date, so writes to it are ignored.
 */
static void write_time(struct cmos *c, unsigned reg, uint8_t v, uint64_t now)
{
	struct rtc_time rt;

	current_time(c, now, &rt);
	switch (reg) {
	case SECONDS:
		rt.sec = from_reg(c, v);
		break;
	case MINUTES:
		rt.min = from_reg(c, v);
		break;
	case HOURS:
		rt.hour = hour_from_reg(c, v);
		break;
	case WEEKDAY:
		return;
	case DAY:
		rt.mday = from_reg(c, v);
		break;
	case MONTH:
		rt.mon = from_reg(c, v);
		break;
	case YEAR:
		rt.year = rt.year / 100 * 100 + from_reg(c, v) % 100;
		break;
	default: /* CENTURY */
		rt.year = from_reg(c, v) * 100 + rt.year % 100;
		break;
	}
	set_current_time(c, now, &rt);
}

/* Register A or B changed whether time runs: stopping freezes the time,
 * starting continues from it at the divider's phase. */
static void time_run_change(struct cmos *c, uint64_t now, int was_running)
{
	int runs = time_runs(c);

	if (was_running && !runs) {
		current_time(c, now, &c->held);
		c->stopped = 1;
	} else if (!was_running && runs) {
		c->stopped = 0;
		c->epoch0 = time_to_seconds(&c->held) - (int64_t)seconds_in(c, now);
	}
}

/* Releasing the divider from reset (or from a wrong time base) restarts
 * its chain so that the first update comes half a second later. */
static void write_reg_a(struct cmos *c, uint8_t v, uint64_t now)
{
	int was_running = time_runs(c), divider_was = divider_runs(c);

	c->ram[REG_A] = v & ~A_UIP;
	if (!divider_was && divider_runs(c))
		c->base_ns = now >= NS_PER_S / 2 ? now - NS_PER_S / 2 : 0;
	time_run_change(c, now, was_running);
}

static void write_reg_b(struct cmos *c, uint8_t v, uint64_t now)
{
	int was_running = time_runs(c);

	if (v & B_SET)
		v &= ~B_UIE;	/* setting SET clears UIE */
	c->ram[REG_B] = v;
	time_run_change(c, now, was_running);
}

static uint8_t read_reg(struct cmos *c, unsigned reg, uint64_t now)
{
	uint8_t v;

	switch (reg) {
	case SECONDS: case MINUTES: case HOURS: case WEEKDAY:
	case DAY: case MONTH: case YEAR: case CENTURY:
		return read_time(c, reg, now);
	case REG_A:
		return (uint8_t)(c->ram[REG_A] | (update_in_progress(c, now) ? A_UIP : 0));
	case REG_C:
		v = c->flags | irqf(c);
		c->flags = 0;
		return v;
	case REG_D:
		return D_VRT;
	default:
		return c->ram[reg];
	}
}

static void write_reg(struct cmos *c, unsigned reg, uint8_t v, uint64_t now)
{
	switch (reg) {
	case SECONDS: case MINUTES: case HOURS: case WEEKDAY:
	case DAY: case MONTH: case YEAR: case CENTURY:
		write_time(c, reg, v, now);
		break;
	case REG_A:
		write_reg_a(c, v, now);
		break;
	case REG_B:
		write_reg_b(c, v, now);
		break;
	case REG_C:
	case REG_D:
		break;	/* read-only */
	default:
		c->ram[reg] = v;
		break;
	}
}

static uint8_t cmos_readb(void *dev, uint16_t port)
{
	struct cmos *c = dev;
	uint64_t now = vm_clock_ns();
	uint8_t v;

	if (port == 0x70)
		return 0xff;	/* the index register is write-only */
	cmos_sync(c, now);
	v = read_reg(c, c->index, now);
	cmos_update_irq(c);
	return v;
}

static void cmos_writeb(void *dev, uint16_t port, uint8_t v)
{
	struct cmos *c = dev;
	uint64_t now = vm_clock_ns();

	if (port == 0x70) {
		c->index = v & 0x7f;
		c->nmi_masked = v >> 7;
		return;
	}
	cmos_sync(c, now);
	write_reg(c, c->index, v, now);
	cmos_update_irq(c);
}

static uint32_t cmos_pio_read(void *dev, uint16_t port, unsigned size)
{
	return pio_split_read(cmos_readb, dev, port, size);
}

static void cmos_pio_write(void *dev, uint16_t port, unsigned size, uint32_t value)
{
	pio_split_write(cmos_writeb, dev, port, size, value);
}

int cmos_nmi_masked(const void *cmos)
{
	const struct cmos *c = cmos;

	return c->nmi_masked;
}

static void put_u16(uint8_t *ram, unsigned reg, uint64_t v)
{
	if (v > 0xffff)
		v = 0xffff;
	ram[reg] = (uint8_t)v;
	ram[reg + 1] = (uint8_t)(v >> 8);
}

/* The BIOS's fields in NVRAM: memory sizes, equipment, checksum. */
static void nvram_init(struct cmos *c, uint64_t ram_bytes)
{
	const uint64_t mib = 1 << 20;
	uint64_t ext = ram_bytes > mib ? (ram_bytes - mib) / 1024 : 0;
	unsigned sum = 0;

	put_u16(c->ram, BASE_MEM_LO, ram_bytes / 1024 < 640 ? ram_bytes / 1024 : 640);
	put_u16(c->ram, EXT_MEM_LO, ext);
	put_u16(c->ram, EXT_MEM2_LO, ext);
	put_u16(c->ram, HIGH_MEM_LO, ram_bytes > 16 * mib ? (ram_bytes - 16 * mib) / 65536 : 0);
	c->ram[EQUIPMENT] = 0x02;	/* maths coprocessor, no floppy, VGA */
	for (unsigned r = 0x10; r <= 0x2d; r++)
		sum += c->ram[r];
	c->ram[CHECKSUM_HI] = (uint8_t)(sum >> 8);
	c->ram[CHECKSUM_LO] = (uint8_t)sum;
}

/* The RESET pin: interrupt enables and flags clear; the time, the format
 * and the battery-backed RAM survive. */
static void cmos_reset(void *dev)
{
	struct cmos *c = dev;
	uint64_t now = vm_clock_ns();

	cmos_sync(c, now);
	c->ram[REG_B] &= (uint8_t)~(B_PIE | B_AIE | B_UIE | B_SQWE);
	c->flags = 0;
	c->index = 0;
	c->nmi_masked = 0;
	cmos_update_irq(c);
}

static int cmos_create(struct vm *vm, void **dev)
{
	struct cmos *c = calloc(1, sizeof(*c));
	struct timespec ts;
	uint64_t now = vm_clock_ns();

	if (!c) {
		log_error("out of memory");
		return -1;
	}
	c->vm = vm;
	c->timer = vm_timer_new(vm, cmos_timer_fired, c);
	if (!c->timer) {
		log_error("no timer for the RTC");
		free(c);
		return -1;
	}
	/* Start at the host's UTC time, with updates on the host's second boundaries. */
	clock_gettime(CLOCK_REALTIME, &ts);
	c->base_ns = now >= (uint64_t)ts.tv_nsec ? now - (uint64_t)ts.tv_nsec : 0;
	c->epoch0 = (int64_t)ts.tv_sec;
	c->synced_ns = now;
	c->ram[REG_A] = A_DV_NORMAL | 0x06;	/* 32.768 kHz, 1024 Hz: as a BIOS sets it */
	c->ram[REG_B] = B_24H;			/* BCD, 24-hour */
	nvram_init(c, vm_ram_bytes(vm));
	*dev = c;
	return 0;
}

static void cmos_save(void *dev, struct dev_state *s)
{
	struct cmos copy = *(struct cmos *)dev, *c = &copy;
	uint64_t now = vm_clock_ns();

	cmos_sync(c, now);	/* on a copy: saving changes nothing */
	dev_state_put(s, c->ram, sizeof(c->ram));
	state_put_u8(s, c->index);
	state_put_u8(s, c->nmi_masked);
	state_put_u8(s, c->flags);
	state_put_u8(s, c->irq_level);
	state_put_u8(s, c->stopped);
	state_put_u8(s, (uint8_t)c->held.sec);
	state_put_u8(s, (uint8_t)c->held.min);
	state_put_u8(s, (uint8_t)c->held.hour);
	state_put_u8(s, (uint8_t)c->held.mday);
	state_put_u8(s, (uint8_t)c->held.mon);
	state_put_u16(s, (uint16_t)c->held.year);
	/* The time now and the divider's phase within the second: host clock
	 * readings mean nothing in the process that restores. */
	state_put_u64(s, (uint64_t)(c->epoch0 + (int64_t)seconds_in(c, now)));
	state_put_u32(s, (uint32_t)((now - c->base_ns) % NS_PER_S));
}

static int cmos_restore(void *dev, struct dev_state *s)
{
	struct cmos *c = dev, n = *c;
	uint64_t now = vm_clock_ns();
	uint32_t phase;
	int ok = 1;

	dev_state_get(s, n.ram, sizeof(n.ram));
	n.index = state_get_u8(s);
	n.nmi_masked = state_get_bool(s, &ok);
	n.flags = state_get_u8(s);
	n.irq_level = state_get_bool(s, &ok);
	n.stopped = state_get_bool(s, &ok);
	n.held.sec = state_get_u8(s);
	n.held.min = state_get_u8(s);
	n.held.hour = state_get_u8(s);
	n.held.mday = state_get_u8(s);
	n.held.mon = state_get_u8(s);
	n.held.year = state_get_u16(s);
	n.epoch0 = (int64_t)state_get_u64(s);
	phase = state_get_u32(s);
	n.base_ns = now >= phase ? now - phase : 0;
	n.synced_ns = now;
	if (!ok || s->error || n.index > 0x7f || (n.flags & ~(C_PF | C_AF | C_UF)) ||
	    phase >= NS_PER_S ||
	    (n.ram[REG_A] & A_UIP) || n.stopped != !time_runs(&n)) {
		log_error("malformed MC146818 state");
		return -1;
	}
	*c = n;
	/* Flags raised up to the save but not yet on the line: let the timer
	 * raise IRQ8 from the event loop, once every device is restored. */
	vm_timer_arm(c->timer, irqf(c) && !c->irq_level ? now : next_event(c, now));
	return 0;
}

static void cmos_destroy(void *dev)
{
	struct cmos *c = dev;

	vm_timer_free(c->timer);
	free(c);
}

static const struct device_ops cmos_ops = {
	.name = "cmos",
	.ports = { { 0x70, 2 } },
	.create = cmos_create,
	.pio_read = cmos_pio_read,
	.pio_write = cmos_pio_write,
	.reset = cmos_reset,
	.save = cmos_save,
	.restore = cmos_restore,
	.destroy = cmos_destroy,
};

DEVICE_REGISTER(cmos_ops);

/*
 * pit.c - the Intel 8254 interval timer at 0x40-0x43 and the PC's system
 * control port B at 0x61 (channel 2 gate and speaker, OUT2, refresh toggle).
 *
 * Counters are not stepped: each channel remembers when its count started
 * (start_ns) and derives the count and OUT level from vm_clock_ns() at
 * 1193182 Hz whenever the guest looks. Channel 0 drives IRQ0 with one timer
 * armed for its next rising OUT edge; deadlines are computed from start_ns,
 * so periodic interrupts do not drift, and a host that fell behind gets one
 * interrupt for all the edges it missed rather than a flood.
 */
#include <stdlib.h>

#include "lightvm/devices.h"
#include "lightvm/log.h"

#define PIT_HZ 1193182u
#define NS_PER_S 1000000000u
#define REFRESH_NS 15085u	/* port 0x61 bit 4 toggles every 15.085 us on ATs */
#define NO_EDGE UINT64_MAX

/* Port 0x61 bits. */
#define P61_GATE2 0x01
#define P61_SPEAKER 0x02
#define P61_CHECKS 0x0c		/* parity and channel checks: stored, no effect */
#define P61_REFRESH 0x10
#define P61_OUT2 0x20

struct pit_chan {
	uint8_t ctrl;		/* control word bits 5-0: RW, mode, BCD */
	uint8_t gate;
	uint8_t have_count;	/* a count was written since the control word */
	uint8_t counting;	/* the counting element holds the count */
	uint8_t paused;		/* held by a low gate */
	uint8_t frame_edge;	/* this count began with a rising OUT (modes 2, 3 reload) */
	uint8_t write_hi;	/* LSB written, MSB expected */
	uint8_t write_lsb;
	uint8_t read_hi;	/* the next live read returns the MSB */
	uint8_t latch_left;	/* bytes of the latched count still to read */
	uint16_t latch;
	uint8_t status_latched, status;
	uint8_t null_count;
	uint8_t reload_pending;	/* a new count waits for the end of the period */
	uint32_t reload;	/* N: 1..65536 (1..10000 in BCD) */
	uint32_t next_reload;
	uint64_t start_ns;	/* tick 0 of the current count */
	uint64_t paused_ticks;
	uint64_t reload_at_ns;
};

struct pit {
	struct vm *vm;
	struct vm_timer *timer;
	struct pit_chan ch[3];
	uint8_t port61;		/* speaker and check bits */
	uint8_t irq_level;	/* what channel 0 drives on IRQ0 */
	uint64_t last_edge_ns;	/* the latest channel 0 edge already delivered */
};

static unsigned chan_mode(const struct pit_chan *c)
{
	unsigned m = (c->ctrl >> 1) & 7;

	return m > 5 ? m - 4 : m;	/* 6 and 7 are aliases of 2 and 3 */
}

static unsigned chan_rw(const struct pit_chan *c)
{
	return (c->ctrl >> 4) & 3;
}

static uint32_t modulus(const struct pit_chan *c)
{
	return (c->ctrl & 1) ? 10000 : 65536;
}

static uint64_t ticks_between(uint64_t from, uint64_t to)
{
	if (to <= from)
		return 0;
	return muldiv64(to - from, PIT_HZ, NS_PER_S, 0);
}

/* Nanoseconds from tick 0 to the start of tick t (rounded up, so that
 * ticks_between(0, tick_ns(t)) == t). */
static uint64_t tick_ns(uint64_t t)
{
	return muldiv64(t, NS_PER_S, PIT_HZ, 1);
}

/* Apply a count that was waiting for the end of the current period. */
static void chan_sync(struct pit_chan *c, uint64_t now)
{
	if (c->reload_pending && !c->paused && now >= c->reload_at_ns) {
		c->start_ns = c->reload_at_ns;
		c->reload = c->next_reload;
		c->reload_pending = 0;
		c->null_count = 0;
		c->frame_edge = 1;
	}
}

static uint64_t chan_elapsed(const struct pit_chan *c, uint64_t now)
{
	return c->paused ? c->paused_ticks : ticks_between(c->start_ns, now);
}

/* The value in the counting element d ticks into the count. */
static uint32_t count_at(const struct pit_chan *c, uint64_t d)
{
	uint32_t n = c->reload, m = modulus(c), phase, high;

	switch (chan_mode(c)) {
	case 2:
		return n - (uint32_t)(d % n);
	case 3:
		/* Decrements by two; OUT is high for the first ceil(N/2) ticks. */
		phase = (uint32_t)(d % n);
		high = (n + 1) / 2;
		return (n & ~1u) - 2 * (phase < high ? phase : phase - high);
	default:	/* 0, 1, 4, 5 count down and wrap past zero */
		return (uint32_t)((n + m - d % m) % m);
	}
}

static int out_at(const struct pit_chan *c, uint64_t d)
{
	uint32_t n = c->reload;

	switch (chan_mode(c)) {
	case 0:
	case 1:
		return d >= n;
	case 2:
		return d % n != n - 1;
	case 3:
		return d % n < (n + 1) / 2;
	default:	/* 4, 5: low for one tick at terminal count */
		return d != n;
	}
}

/* OUT now: a channel that is not counting shows its mode's initial level,
 * and a gate held low forces it high in modes 2 and 3. */
static int chan_out(struct pit_chan *c, uint64_t now)
{
	unsigned mode = chan_mode(c);

	chan_sync(c, now);
	if (!c->counting)
		return mode != 0;
	if (c->paused && (mode == 2 || mode == 3))
		return 1;
	return out_at(c, chan_elapsed(c, now));
}

static uint16_t to_bcd(uint32_t v)
{
	return (uint16_t)((v / 1000 % 10) << 12 | (v / 100 % 10) << 8 | (v / 10 % 10) << 4 | v % 10);
}

static uint32_t from_bcd(uint16_t v)
{
	return (v >> 12 & 15) * 1000u + (v >> 8 & 15) * 100u + (v >> 4 & 15) * 10u + (v & 15);
}

/* The count as the guest reads it: 16 bits, BCD if programmed so. */
static uint16_t chan_count(struct pit_chan *c, uint64_t now)
{
	uint32_t v;

	chan_sync(c, now);
	if (!c->counting)
		v = c->have_count ? c->reload : 0;
	else
		v = count_at(c, chan_elapsed(c, now));
	v %= modulus(c);
	return (c->ctrl & 1) ? to_bcd(v) : (uint16_t)v;
}

/* Rising OUT edges of the current count, in ticks from its start. */
static uint64_t latest_edge(const struct pit_chan *c, uint64_t d)
{
	uint64_t n = c->reload;

	switch (chan_mode(c)) {
	case 0:
	case 1:
		return d >= n ? n : NO_EDGE;
	case 2:
	case 3:
		if (d >= n)
			return d / n * n;
		return c->frame_edge ? 0 : NO_EDGE;
	default:
		return d >= n + 1 ? n + 1 : NO_EDGE;
	}
}

static uint64_t next_edge(const struct pit_chan *c, uint64_t d)
{
	uint64_t n = c->reload;

	switch (chan_mode(c)) {
	case 0:
	case 1:
		return d < n ? n : NO_EDGE;
	case 2:
	case 3:
		return (d / n + 1) * n;
	default:
		return d < n + 1 ? n + 1 : NO_EDGE;
	}
}

static void irq0_drive(struct pit *p, int level)
{
	if (p->irq_level == level)
		return;
	p->irq_level = (uint8_t)level;
	vm_set_irq(p->vm, 0, level);
}

/* A rising edge on IRQ0; the PIC latches it however briefly OUT was low. */
static void irq0_edge(struct pit *p)
{
	irq0_drive(p, 0);
	irq0_drive(p, 1);
}

/*
 * Deliver the latest channel 0 edge not yet delivered (one, however many
 * passed), then arm the timer for the next one. With deliver clear (during
 * a restore, when the PIC may not hold its state yet) a due edge makes the
 * timer fire at once instead.
 */
static void irq0_update(struct pit *p, int deliver)
{
	struct pit_chan *c = &p->ch[0];
	uint64_t now = vm_clock_ns(), d, e, deadline = 0;

	chan_sync(c, now);
	if (c->counting && !c->paused) {
		d = chan_elapsed(c, now);
		e = latest_edge(c, d);
		if (e != NO_EDGE && c->start_ns + tick_ns(e) > p->last_edge_ns) {
			if (!deliver) {
				vm_timer_arm(p->timer, now);
				return;
			}
			p->last_edge_ns = c->start_ns + tick_ns(e);
			irq0_edge(p);
		}
		e = next_edge(c, d);
		if (e != NO_EDGE)
			deadline = c->start_ns + tick_ns(e);
		if (c->reload_pending && (!deadline || c->reload_at_ns < deadline))
			deadline = c->reload_at_ns;
	}
	trace(TRACE_TIMER, "pit: next IRQ0 edge at %llu", (unsigned long long)deadline);
	vm_timer_arm(p->timer, deadline);
}

static void pit_timer_fired(void *opaque)
{
	irq0_update(opaque, 1);
}

/* Start the count from tick 0 now (held at 0 while a low gate pauses it). */
static void chan_start(struct pit_chan *c, uint64_t now)
{
	unsigned mode = chan_mode(c);

	c->counting = 1;
	c->start_ns = now;
	c->frame_edge = 0;
	c->reload_pending = 0;
	c->null_count = 0;
	c->paused = !c->gate && mode != 1 && mode != 5;
	c->paused_ticks = 0;
}

/* A complete count arrived from the guest. */
static void chan_load(struct pit *p, unsigned idx, uint16_t raw, uint64_t now)
{
	struct pit_chan *c = &p->ch[idx];
	unsigned mode = chan_mode(c);
	uint32_t n = (c->ctrl & 1) ? from_bcd(raw) % 10000 : raw;

	chan_sync(c, now);
	if (n == 0)
		n = modulus(c);
	c->have_count = 1;
	c->null_count = 1;
	if ((mode == 2 || mode == 3) && c->counting && !c->paused) {
		/* A new rate takes effect when the current period ends (the
		 * 8254 reloads mode 3 at a half-period; the full one is kept). */
		uint64_t d = chan_elapsed(c, now);

		c->next_reload = n;
		c->reload_pending = 1;
		c->reload_at_ns = c->start_ns + tick_ns((d / c->reload + 1) * c->reload);
	} else if (mode == 1 || mode == 5) {
		c->next_reload = n;	/* loaded at the next gate trigger */
		if (!c->counting)
			c->reload = n;
	} else {
		c->reload = n;
		chan_start(c, now);
	}
	if (idx == 0) {
		if (mode == 0)
			irq0_drive(p, 0);
		p->last_edge_ns = now;
		irq0_update(p, 1);
	}
}

static void chan_write(struct pit *p, unsigned idx, uint8_t v)
{
	struct pit_chan *c = &p->ch[idx];
	uint64_t now = vm_clock_ns();

	switch (chan_rw(c)) {
	case 1:
		chan_load(p, idx, v, now);
		break;
	case 2:
		chan_load(p, idx, (uint16_t)(v << 8), now);
		break;
	default:
		if (!c->write_hi) {
			c->write_lsb = v;
			c->write_hi = 1;
			/* In mode 0 the first byte stops the count and drops OUT. */
			if (chan_mode(c) == 0) {
				c->counting = 0;
				if (idx == 0) {
					irq0_drive(p, 0);
					irq0_update(p, 1);
				}
			}
			break;
		}
		c->write_hi = 0;
		chan_load(p, idx, (uint16_t)(c->write_lsb | v << 8), now);
		break;
	}
}

static uint8_t chan_read(struct pit_chan *c)
{
	uint16_t v;

	if (c->status_latched) {
		c->status_latched = 0;
		return c->status;
	}
	if (c->latch_left) {
		v = c->latch;
		c->latch_left--;
		/* LSB then MSB for RW=3; the single programmed byte otherwise. */
		if (chan_rw(c) == 3)
			return c->latch_left ? (uint8_t)v : (uint8_t)(v >> 8);
		return chan_rw(c) == 2 ? (uint8_t)(v >> 8) : (uint8_t)v;
	}
	v = chan_count(c, vm_clock_ns());
	switch (chan_rw(c)) {
	case 1:
		return (uint8_t)v;
	case 2:
		return (uint8_t)(v >> 8);
	default:
		c->read_hi ^= 1;
		return c->read_hi ? (uint8_t)v : (uint8_t)(v >> 8);
	}
}

static void chan_latch_count(struct pit_chan *c, uint64_t now)
{
	if (c->latch_left)
		return;		/* a second latch before the read is ignored */
	c->latch = chan_count(c, now);
	c->latch_left = chan_rw(c) == 3 ? 2 : 1;
}

static void chan_latch_status(struct pit_chan *c, uint64_t now)
{
	if (c->status_latched)
		return;
	c->status = (uint8_t)(chan_out(c, now) << 7 | c->null_count << 6 | c->ctrl);
	c->status_latched = 1;
}

/* Read-back: bit 5 clear latches counts, bit 4 clear latches status,
 * bits 1-3 select channels 0-2. */
static void read_back(struct pit *p, uint8_t v, uint64_t now)
{
	for (unsigned i = 0; i < 3; i++) {
		if (!(v & (2u << i)))
			continue;
		if (!(v & 0x20))
			chan_latch_count(&p->ch[i], now);
		if (!(v & 0x10))
			chan_latch_status(&p->ch[i], now);
	}
}

/* A control word resets the channel: no count, OUT at the mode's initial level. */
static void chan_program(struct pit *p, unsigned idx, uint8_t v)
{
	struct pit_chan *c = &p->ch[idx];

	c->ctrl = v & 0x3f;
	c->have_count = 0;
	c->counting = 0;
	c->paused = 0;
	c->reload_pending = 0;
	c->write_hi = 0;
	c->read_hi = 0;
	c->latch_left = 0;
	c->status_latched = 0;
	c->null_count = 1;
	if (idx == 0) {
		irq0_drive(p, chan_mode(c) != 0);
		irq0_update(p, 1);
	}
}

static void pit_control(struct pit *p, uint8_t v)
{
	uint64_t now = vm_clock_ns();
	unsigned idx = v >> 6;

	if (idx == 3)
		read_back(p, v, now);
	else if (((v >> 4) & 3) == 0)
		chan_latch_count(&p->ch[idx], now);
	else
		chan_program(p, idx, v);
}

/* The gate of channel 2 (port 0x61 bit 0): pauses modes 0 and 4, stops and
 * on the rising edge restarts modes 2 and 3, triggers modes 1 and 5. */
static void chan_set_gate(struct pit_chan *c, int gate, uint64_t now)
{
	unsigned mode = chan_mode(c);

	if (c->gate == gate)
		return;
	chan_sync(c, now);
	c->gate = (uint8_t)gate;
	if (!c->have_count)
		return;
	if (mode == 1 || mode == 5) {
		if (gate) {
			c->reload = c->next_reload ? c->next_reload : c->reload;
			chan_start(c, now);
		}
	} else if ((mode == 2 || mode == 3) && gate) {
		chan_start(c, now);
	} else if (!gate && c->counting) {
		c->paused_ticks = chan_elapsed(c, now);
		c->paused = 1;
		c->reload_pending = 0;
	} else if (gate && c->paused) {
		c->start_ns = now - tick_ns(c->paused_ticks);
		c->paused = 0;
	}
}

static uint8_t port61_read(struct pit *p)
{
	uint64_t now = vm_clock_ns();
	uint8_t v = p->port61 | p->ch[2].gate;

	if ((now / REFRESH_NS) & 1)
		v |= P61_REFRESH;
	if (chan_out(&p->ch[2], now))
		v |= P61_OUT2;
	return v;
}

static uint8_t pit_readb(void *dev, uint16_t port)
{
	struct pit *p = dev;

	if (port == 0x61)
		return port61_read(p);
	if (port == 0x43)
		return 0xff;	/* the control register is write-only */
	return chan_read(&p->ch[port - 0x40]);
}

static void pit_writeb(void *dev, uint16_t port, uint8_t v)
{
	struct pit *p = dev;

	if (port == 0x61) {
		p->port61 = v & (P61_SPEAKER | P61_CHECKS);
		chan_set_gate(&p->ch[2], v & P61_GATE2, vm_clock_ns());
	} else if (port == 0x43) {
		pit_control(p, v);
	} else {
		chan_write(p, port - 0x40, v);
	}
}

static uint32_t pit_pio_read(void *dev, uint16_t port, unsigned size)
{
	return pio_split_read(pit_readb, dev, port, size);
}

static void pit_pio_write(void *dev, uint16_t port, unsigned size, uint32_t value)
{
	pio_split_write(pit_writeb, dev, port, size, value);
}

/*
 * Power-on: no channel counts until the guest programs it (there is no BIOS
 * to start the 18.2 Hz tick); gates of channels 0 and 1 are wired high,
 * channel 2's starts low (port 0x61 cleared). OUT is undefined until a
 * control word, so IRQ0 is held low: no edge reaches the PIC before then.
 */
static void pit_reset(void *dev)
{
	struct pit *p = dev;

	for (unsigned i = 0; i < 3; i++) {
		p->ch[i] = (struct pit_chan){ .ctrl = 0x36, .gate = i < 2, .reload = 65536 };
		p->ch[i].null_count = 1;
	}
	p->port61 = 0;
	p->last_edge_ns = 0;
	irq0_drive(p, 0);
	vm_timer_arm(p->timer, 0);
}

static int pit_create(struct vm *vm, void **dev)
{
	struct pit *p = calloc(1, sizeof(*p));

	if (!p) {
		log_error("out of memory");
		return -1;
	}
	p->vm = vm;
	p->timer = vm_timer_new(vm, pit_timer_fired, p);
	if (!p->timer) {
		log_error("no timer for the PIT");
		free(p);
		return -1;
	}
	pit_reset(p);
	*dev = p;
	return 0;
}

static void chan_save(const struct pit_chan *c, struct dev_state *s, uint64_t now)
{
	const uint8_t f[] = { c->ctrl,	      c->gate,	    c->have_count, c->counting,
			      c->paused,      c->frame_edge, c->write_hi,   c->write_lsb,
			      c->read_hi,     c->latch_left, c->status_latched, c->status,
			      c->null_count, c->reload_pending };

	dev_state_put(s, f, sizeof(f));
	state_put_u16(s, c->latch);
	state_put_u32(s, c->reload);
	state_put_u32(s, c->next_reload);
	/* Times are kept relative to now, so a snapshot resumes in any process. */
	state_put_u64(s, now - c->start_ns);
	state_put_u64(s, c->paused_ticks);
	state_put_u64(s, c->reload_at_ns - now);
}

static int chan_load_state(struct pit_chan *c, struct dev_state *s, uint64_t now)
{
	int ok = 1;
	uint32_t m;

	c->ctrl = state_get_u8(s);
	c->gate = state_get_bool(s, &ok);
	c->have_count = state_get_bool(s, &ok);
	c->counting = state_get_bool(s, &ok);
	c->paused = state_get_bool(s, &ok);
	c->frame_edge = state_get_bool(s, &ok);
	c->write_hi = state_get_bool(s, &ok);
	c->write_lsb = state_get_u8(s);
	c->read_hi = state_get_bool(s, &ok);
	c->latch_left = state_get_u8(s);
	c->status_latched = state_get_bool(s, &ok);
	c->status = state_get_u8(s);
	c->null_count = state_get_bool(s, &ok);
	c->reload_pending = state_get_bool(s, &ok);
	c->latch = state_get_u16(s);
	c->reload = state_get_u32(s);
	c->next_reload = state_get_u32(s);
	c->start_ns = now - state_get_u64(s);
	c->paused_ticks = state_get_u64(s);
	c->reload_at_ns = now + state_get_u64(s);
	m = modulus(c);
	if ((c->ctrl & 0xc0) || c->latch_left > 2 || c->reload < 1 || c->reload > m ||
	    c->next_reload > m || (c->reload_pending && c->next_reload < 1))
		ok = 0;
	return ok && !s->error ? 0 : -1;
}

static void pit_save(void *dev, struct dev_state *s)
{
	struct pit *p = dev;
	uint64_t now = vm_clock_ns();

	for (unsigned i = 0; i < 3; i++)
		chan_save(&p->ch[i], s, now);
	state_put_u8(s, p->port61);
	state_put_u8(s, p->irq_level);
	state_put_u64(s, now - p->last_edge_ns);
}

static int pit_restore(void *dev, struct dev_state *s)
{
	struct pit *p = dev;
	uint64_t now = vm_clock_ns();
	struct pit_chan ch[3];
	uint8_t port61, irq_level;
	uint64_t last_edge;
	int ok = 1;

	for (unsigned i = 0; i < 3; i++)
		if (chan_load_state(&ch[i], s, now))
			ok = 0;
	port61 = state_get_u8(s);
	irq_level = state_get_bool(s, &ok);
	last_edge = now - state_get_u64(s);
	if (!ok || s->error || (port61 & ~(P61_SPEAKER | P61_CHECKS)) || !ch[0].gate ||
	    !ch[1].gate) {
		log_error("malformed 8254 state");
		return -1;
	}
	for (unsigned i = 0; i < 3; i++)
		p->ch[i] = ch[i];
	p->port61 = port61;
	p->last_edge_ns = last_edge;
	/* The PIC restores its own view of the line: set ours silently. */
	p->irq_level = irq_level;
	irq0_update(p, 0);
	return 0;
}

static void pit_destroy(void *dev)
{
	struct pit *p = dev;

	vm_timer_free(p->timer);
	free(p);
}

static const struct device_ops pit_ops = {
	.name = "pit",
	.ports = { { 0x40, 4 }, { 0x61, 1 } },
	.create = pit_create,
	.pio_read = pit_pio_read,
	.pio_write = pit_pio_write,
	.reset = pit_reset,
	.save = pit_save,
	.restore = pit_restore,
	.destroy = pit_destroy,
};

DEVICE_REGISTER(pit_ops);

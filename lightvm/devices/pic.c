/*
 * pic.c - the two cascaded Intel 8259A interrupt controllers of the PC
 * (master at 0x20-0x21, slave at 0xa0-0xa1 on the master's IR2) and the
 * PIIX edge/level control registers (ELCR) at 0x4d0-0x4d1.
 *
 * Triggering: a level-triggered request follows its line, so one withdrawn
 * before INTA yields the datasheet's default IR7 (spurious: vector base+7,
 * no ISR bit). An edge-triggered request is latched at the rising edge and
 * kept until INTA even if the line falls: the chip would forget it, but
 * keeping it means a device that pulses its line never loses an interrupt
 * (QEMU and Bochs do the same). Because the cascade input IR2 is edge
 * triggered, a slave request withdrawn before INTA gives the slave's
 * spurious IR7 (IRQ15) with the master's IR2 in service, as on real boards,
 * and Linux's spurious-IRQ15 handler sends the master its EOI.
 */
#include <stdlib.h>

#include "lightvm/devices.h"
#include "lightvm/log.h"

#define ICW1 0x10	/* port 0 write: bit 4 set starts initialization */
#define ICW1_IC4 0x01
#define ICW1_SNGL 0x02
#define ICW1_LTIM 0x08
#define OCW3_SEL 0x08	/* port 0 write: bit 3 set (bit 4 clear) is OCW3 */
#define ICW4_UPM 0x01
#define ICW4_AEOI 0x02
#define ICW4_SFNM 0x10
#define CASCADE_IRQ 2

enum init_step { READY, WANT_ICW2, WANT_ICW3, WANT_ICW4 };

struct i8259 {
	uint8_t irr, isr, imr;
	uint8_t lines;		/* current input levels */
	uint8_t elcr, elcr_mask;	/* level-triggered inputs, writable ELCR bits */
	uint8_t base;		/* ICW2: vector of IR0 */
	uint8_t icw1, icw3, icw4;
	uint8_t lowest;		/* the IR with the lowest priority (rotation) */
	uint8_t init;		/* enum init_step */
	uint8_t read_isr;	/* OCW3 RR/RIS: port 0 reads ISR, else IRR */
	uint8_t poll;		/* OCW3 P: the next read is a poll */
	uint8_t smm;		/* special mask mode */
	uint8_t rotate_aeoi;	/* rotate in automatic EOI mode */
	uint8_t is_master;
};

struct pic {
	struct vm *vm;
	struct i8259 chip[2];	/* master, slave */
	unsigned warned;
};

/* Which inputs the chip treats as level triggered: ELCR, or all with LTIM. */
static uint8_t level_mask(const struct i8259 *c)
{
	return (c->icw1 & ICW1_LTIM) ? 0xff : c->elcr;
}

/* The inputs where the slave's INT arrives (none when the master runs single). */
static uint8_t cascade_mask(const struct i8259 *c)
{
	return (c->icw1 & ICW1_SNGL) ? 0 : c->icw3;
}

/* Priority rank (0 = highest) of the highest-priority bit in mask; 8 if none. */
static unsigned best_rank(const struct i8259 *c, uint8_t mask)
{
	for (unsigned rank = 0; rank < 8; rank++)
		if (mask & (1u << ((c->lowest + 1 + rank) & 7)))
			return rank;
	return 8;
}

static unsigned rank_to_irq(const struct i8259 *c, unsigned rank)
{
	return (c->lowest + 1 + rank) & 7;
}

/*
 * The input this chip would present at INTA, or -1. A request must be
 * unmasked and outrank everything in service; in special mask mode masked
 * in-service levels stop blocking, and in special fully nested mode the
 * master lets a slave interrupt through while that slave is in service.
 */
static int chip_pending(const struct i8259 *c)
{
	unsigned req = best_rank(c, c->irr & ~c->imr);
	uint8_t blocking = c->isr;

	if (req == 8)
		return -1;
	if (c->smm)
		blocking &= ~c->imr;
	if (c->is_master && (c->icw4 & ICW4_SFNM))
		blocking &= ~cascade_mask(c);
	if (req < best_rank(c, blocking))
		return (int)rank_to_irq(c, req);
	return -1;
}

/* Drive input irq of one chip; the request register follows the trigger mode. */
static void chip_set_line(struct i8259 *c, unsigned irq, int level)
{
	uint8_t bit = (uint8_t)(1u << irq);

	if (level) {
		if (!(c->lines & bit) || (level_mask(c) & bit))
			c->irr |= bit;
		c->lines |= bit;
	} else {
		c->lines &= (uint8_t)~bit;
		if (level_mask(c) & bit)
			c->irr &= (uint8_t)~bit;
	}
}

/* The slave's INT output is the master's cascade input. */
static void update_cascade(struct pic *p)
{
	struct i8259 *m = &p->chip[0];
	int level = chip_pending(&p->chip[1]) >= 0;

	for (unsigned irq = 0; irq < 8; irq++)
		if (cascade_mask(m) & (1u << irq))
			chip_set_line(m, irq, level);
}

/* INTA on one chip for input irq: into service (unless automatic EOI), and
 * an edge request is consumed. */
static void chip_ack(struct i8259 *c, unsigned irq)
{
	uint8_t bit = (uint8_t)(1u << irq);

	if (!(c->icw4 & ICW4_AEOI))
		c->isr |= bit;
	else if (c->rotate_aeoi)
		c->lowest = (uint8_t)irq;
	if (!(level_mask(c) & bit))
		c->irr &= (uint8_t)~bit;
}

static void pic_set_irq(void *opaque, unsigned irq, int level)
{
	struct pic *p = opaque;

	/* ISA IRQ2 is wired to the slave's IR1 (IRQ9) on AT boards. */
	if (irq == CASCADE_IRQ)
		irq = 9;
	if (irq > 15) {
		log_warn("no interrupt line %u", irq);
		return;
	}
	trace(TRACE_IRQ, "IRQ%u -> %d", irq, level);
	chip_set_line(&p->chip[irq >> 3], irq & 7, level);
	update_cascade(p);
}

static int pic_pending(void *opaque)
{
	struct pic *p = opaque;

	return chip_pending(&p->chip[0]) >= 0;
}

/*
 * INTA. The master resolves first; if it picks the cascade input the slave
 * supplies the vector. A chip with nothing to offer answers with its IR7
 * vector without setting ISR: the spurious interrupt.
 */
static uint8_t pic_ack(void *opaque)
{
	struct pic *p = opaque;
	struct i8259 *m = &p->chip[0], *s = &p->chip[1];
	int irq = chip_pending(m), sirq;
	uint8_t vector;

	if (irq < 0) {
		trace(TRACE_IRQ, "spurious IRQ7");
		return (uint8_t)(m->base + 7);
	}
	chip_ack(m, (unsigned)irq);
	if (!(cascade_mask(m) & (1u << irq))) {
		vector = (uint8_t)(m->base + irq);
	} else {
		sirq = chip_pending(s);
		if (sirq >= 0) {
			chip_ack(s, (unsigned)sirq);
			vector = (uint8_t)(s->base + sirq);
		} else {
			trace(TRACE_IRQ, "spurious IRQ15");
			vector = (uint8_t)(s->base + 7);
		}
		update_cascade(p);
	}
	trace(TRACE_IRQ, "INTA -> vector %#x", vector);
	return vector;
}

static const struct intc_ops pic_intc = {
	.set_irq = pic_set_irq,
	.pending = pic_pending,
	.ack = pic_ack,
};

/*
 * ICW1: the chip forgets its edges, mask, priorities and in-service levels
 * and waits for ICW2 (and ICW3/ICW4 as ICW1 asks). Lines that are high must
 * fall and rise again before an edge input requests.
 */
static void chip_icw1(struct i8259 *c, uint8_t v)
{
	c->icw1 = v;
	c->icw4 = 0;
	c->imr = 0;
	c->isr = 0;
	c->irr = c->lines & level_mask(c);
	c->lowest = 7;
	c->read_isr = 0;
	c->poll = 0;
	c->smm = 0;
	c->rotate_aeoi = 0;
	c->icw3 = c->is_master ? 0 : 7;
	c->init = WANT_ICW2;
}

/* The in-service level a non-specific EOI ends: the highest priority one. */
static int highest_in_service(const struct i8259 *c)
{
	unsigned rank = best_rank(c, c->isr);

	return rank == 8 ? -1 : (int)rank_to_irq(c, rank);
}

static void chip_ocw2(struct i8259 *c, uint8_t v)
{
	unsigned level = v & 7;
	int irq;

	switch (v >> 5) {
	case 1: /* non-specific EOI */
	case 5: /* rotate on non-specific EOI */
		irq = highest_in_service(c);
		if (irq < 0)
			break;
		c->isr &= (uint8_t)~(1u << irq);
		if (v >> 5 == 5)
			c->lowest = (uint8_t)irq;
		break;
	case 3: /* specific EOI */
		c->isr &= (uint8_t)~(1u << level);
		break;
	case 7: /* rotate on specific EOI */
		c->isr &= (uint8_t)~(1u << level);
		c->lowest = (uint8_t)level;
		break;
	case 6: /* set priority: level becomes the lowest */
		c->lowest = (uint8_t)level;
		break;
	case 4: /* rotate in automatic EOI mode (set) */
	case 0: /* rotate in automatic EOI mode (clear) */
		c->rotate_aeoi = (v >> 5) == 4;
		break;
	default: /* 2: no operation */
		break;
	}
}

static void chip_ocw3(struct i8259 *c, uint8_t v)
{
	if (v & 0x02)
		c->read_isr = v & 0x01;
	if (v & 0x40)
		c->smm = (v >> 5) & 1;
	c->poll = (v >> 2) & 1;
}

static void chip_write_cmd(struct i8259 *c, uint8_t v)
{
	if (v & ICW1)
		chip_icw1(c, v);
	else if (v & OCW3_SEL)
		chip_ocw3(c, v);
	else
		chip_ocw2(c, v);
}

static void chip_write_data(struct pic *p, struct i8259 *c, uint8_t v)
{
	switch (c->init) {
	case WANT_ICW2:
		c->base = v & 0xf8;
		c->init = (c->icw1 & ICW1_SNGL) ? ((c->icw1 & ICW1_IC4) ? WANT_ICW4 : READY)
						: WANT_ICW3;
		break;
	case WANT_ICW3:
		c->icw3 = v;
		c->init = (c->icw1 & ICW1_IC4) ? WANT_ICW4 : READY;
		break;
	case WANT_ICW4:
		c->icw4 = v;
		c->init = READY;
		if (!(v & ICW4_UPM) && !(p->warned & 1)) {
			p->warned |= 1;
			log_warn("8080 mode requested (ICW4 %#x); answering in 8086 mode", v);
		}
		break;
	default: /* OCW1 */
		c->imr = v;
		break;
	}
}

/* Poll command: the read acts as INTA and reports I (bit 7) and the level. */
static uint8_t chip_poll(struct i8259 *c)
{
	int irq = chip_pending(c);

	c->poll = 0;
	if (irq < 0)
		return 0x07;
	chip_ack(c, (unsigned)irq);
	return (uint8_t)(0x80 | irq);
}

static uint8_t pic_readb(void *dev, uint16_t port)
{
	struct pic *p = dev;
	struct i8259 *c;
	uint8_t v;

	if (port == 0x4d0 || port == 0x4d1)
		return p->chip[port - 0x4d0].elcr;
	c = &p->chip[port >= 0xa0];
	if (c->poll) {
		v = chip_poll(c);
		update_cascade(p);
		return v;
	}
	if (port & 1)
		return c->imr;
	return c->read_isr ? c->isr : c->irr;
}

static void pic_writeb(void *dev, uint16_t port, uint8_t v)
{
	struct pic *p = dev;
	struct i8259 *c;

	if (port == 0x4d0 || port == 0x4d1) {
		c = &p->chip[port - 0x4d0];
		c->elcr = v & c->elcr_mask;
		c->irr = (uint8_t)((c->irr & ~c->elcr) | (c->lines & level_mask(c)));
	} else {
		c = &p->chip[port >= 0xa0];
		if (port & 1)
			chip_write_data(p, c, v);
		else
			chip_write_cmd(c, v);
	}
	update_cascade(p);
}

static uint32_t pic_pio_read(void *dev, uint16_t port, unsigned size)
{
	return pio_split_read(pic_readb, dev, port, size);
}

static void pic_pio_write(void *dev, uint16_t port, unsigned size, uint32_t value)
{
	pio_split_write(pic_writeb, dev, port, size, value);
}

/*
 * Power-on state. There is no BIOS, so the chips start as a PC BIOS leaves
 * them: initialized for 8086 mode, cascaded on IR2, vectors 0x08 and 0x70,
 * everything but the cascade masked. Input levels belong to the devices
 * driving them and are kept.
 */
static void chip_reset(struct i8259 *c, int master)
{
	uint8_t lines = c->lines;

	c->is_master = (uint8_t)master;
	c->elcr = 0;
	c->elcr_mask = master ? 0xf8 : 0xde;	/* IRQ0-2, IRQ8 and IRQ13 are edge only */
	chip_icw1(c, ICW1 | ICW1_IC4);
	c->lines = lines;
	c->base = master ? 0x08 : 0x70;
	c->icw3 = master ? 1u << CASCADE_IRQ : CASCADE_IRQ;
	c->icw4 = ICW4_UPM;
	c->imr = master ? (uint8_t)~(1u << CASCADE_IRQ) : 0xff;
	c->irr = 0;
	c->init = READY;
}

static void pic_reset(void *dev)
{
	struct pic *p = dev;

	chip_reset(&p->chip[0], 1);
	chip_reset(&p->chip[1], 0);
	update_cascade(p);
}

static int pic_create(struct vm *vm, void **dev)
{
	struct pic *p = calloc(1, sizeof(*p));

	if (!p) {
		log_error("out of memory");
		return -1;
	}
	p->vm = vm;
	pic_reset(p);
	vm_set_intc(vm, &pic_intc, p);
	*dev = p;
	return 0;
}

static void chip_save(const struct i8259 *c, struct dev_state *s)
{
	const uint8_t f[] = { c->irr,  c->isr,      c->imr,	  c->lines,    c->elcr,
			      c->base, c->icw1,     c->icw3,	  c->icw4,     c->lowest,
			      c->init, c->read_isr, c->poll,	  c->smm,      c->rotate_aeoi };

	dev_state_put(s, f, sizeof(f));
}

static int chip_load(struct i8259 *c, struct dev_state *s)
{
	int ok = 1;

	c->irr = state_get_u8(s);
	c->isr = state_get_u8(s);
	c->imr = state_get_u8(s);
	c->lines = state_get_u8(s);
	c->elcr = state_get_u8(s);
	c->base = state_get_u8(s);
	c->icw1 = state_get_u8(s);
	c->icw3 = state_get_u8(s);
	c->icw4 = state_get_u8(s);
	c->lowest = state_get_u8(s);
	c->init = state_get_u8(s);
	c->read_isr = state_get_bool(s, &ok);
	c->poll = state_get_bool(s, &ok);
	c->smm = state_get_bool(s, &ok);
	c->rotate_aeoi = state_get_bool(s, &ok);
	if ((c->elcr & ~c->elcr_mask) || (c->base & 7) || c->lowest > 7 || c->init > WANT_ICW4 ||
	    !(c->icw1 & ICW1))
		ok = 0;
	return ok && !s->error ? 0 : -1;
}

static void pic_save(void *dev, struct dev_state *s)
{
	struct pic *p = dev;

	chip_save(&p->chip[0], s);
	chip_save(&p->chip[1], s);
}

static int pic_restore(void *dev, struct dev_state *s)
{
	struct pic *p = dev;
	struct i8259 chip[2] = { p->chip[0], p->chip[1] };

	if (chip_load(&chip[0], s) || chip_load(&chip[1], s)) {
		log_error("malformed 8259 state");
		return -1;
	}
	p->chip[0] = chip[0];
	p->chip[1] = chip[1];
	return 0;
}

static void pic_destroy(void *dev)
{
	free(dev);
}

static const struct device_ops pic_ops = {
	.name = "pic",
	.ports = { { 0x20, 2 }, { 0xa0, 2 }, { 0x4d0, 2 } },
	.create = pic_create,
	.pio_read = pic_pio_read,
	.pio_write = pic_pio_write,
	.reset = pic_reset,
	.save = pic_save,
	.restore = pic_restore,
	.destroy = pic_destroy,
};

DEVICE_REGISTER(pic_ops);

/*
 * power.c - the chipset registers a guest uses to power off or reset the
 * machine: the ACPI PM1a control register at 0x604 (where QEMU's i440fx
 * puts it; SLP_EN with SLP_TYP 0, i.e. the value 0x2000, is S5 = off), the
 * PIIX reset control register at 0xcf9 and the fast reset of system
 * control port A at 0x92. The keyboard controller's reset is in i8042.c.
 */
#include <stdlib.h>

#include "lightvm/devices.h"
#include "lightvm/log.h"

#define PM1A_CNT 0x604
#define PORT_A 0x92
#define RST_CNT 0xcf9

#define PM1_SLP_EN 0x2000
#define PM1_SLP_TYP(v) (((v) >> 10) & 7)
#define PM1_WRITABLE 0x1c07	/* SCI_EN, BM_RLD, GBL_RLS, SLP_TYP; SLP_EN reads 0 */
#define SLP_TYP_S5 0

#define RST_SYS 0x02		/* full (hard) reset when RST_CPU fires */
#define RST_CPU 0x04

#define PORTA_RESET 0x01	/* 0 -> 1 resets the CPU */
#define PORTA_A20 0x02		/* A20 gate: always on here */

struct power {
	struct vm *vm;
	uint16_t pm1_cnt;
	uint8_t rst_cnt, port_a;
	uint8_t warned;
};

static uint32_t power_pio_read(void *dev, uint16_t port, unsigned size)
{
	struct power *p = dev;

	switch (port) {
	case PM1A_CNT:
		return p->pm1_cnt;
	case PM1A_CNT + 1:
		return p->pm1_cnt >> 8;
	case RST_CNT:
		return p->rst_cnt;
	default:
		return p->port_a | PORTA_A20;
	}
}

/* SLP_EN enters the sleep state in SLP_TYP; only S5 (off) exists here. */
static void pm1_write(struct power *p, uint16_t v)
{
	p->pm1_cnt = v & PM1_WRITABLE;
	if (!(v & PM1_SLP_EN))
		return;
	if (PM1_SLP_TYP(v) == SLP_TYP_S5) {
		vm_request_stop(p->vm, 0, "ACPI power off (S5)");
	} else if (!p->warned) {
		p->warned = 1;
		log_warn("ACPI sleep type %u is not supported; the guest keeps running",
			 PM1_SLP_TYP(v));
	}
}

static void power_pio_write(void *dev, uint16_t port, unsigned size, uint32_t value)
{
	struct power *p = dev;

	switch (port) {
	case PM1A_CNT:
		pm1_write(p, size == 1 ? (uint16_t)((p->pm1_cnt & 0xff00) | (value & 0xff))
				       : (uint16_t)value);
		break;
	case PM1A_CNT + 1:
		pm1_write(p, (uint16_t)((p->pm1_cnt & 0xff) | (value & 0xff) << 8));
		break;
	case RST_CNT:
		/* The register decodes byte accesses only. */
		if (size != 1)
			break;
		p->rst_cnt = value & RST_SYS;
		if (value & RST_CPU) {
			vm_request_stop(p->vm, 1, "reset control register 0xcf9");
		}
		break;
	default: /* PORT_A */
		if ((value & PORTA_RESET) && !(p->port_a & PORTA_RESET)) {
			vm_request_stop(p->vm, 1, "fast reset through port 0x92");
		}
		p->port_a = value & PORTA_RESET;
		break;
	}
}

static void power_reset(void *dev)
{
	struct power *p = dev;

	p->pm1_cnt = 0;
	p->rst_cnt = 0;
	p->port_a = 0;
}

static int power_create(struct vm *vm, void **dev)
{
	struct power *p = calloc(1, sizeof(*p));

	if (!p) {
		log_error("out of memory");
		return -1;
	}
	p->vm = vm;
	*dev = p;
	return 0;
}

static void power_save(void *dev, struct dev_state *s)
{
	struct power *p = dev;

	state_put_u16(s, p->pm1_cnt);
	state_put_u8(s, p->rst_cnt);
	state_put_u8(s, p->port_a);
}

static int power_restore(void *dev, struct dev_state *s)
{
	struct power *p = dev;
	uint16_t pm1 = state_get_u16(s);
	uint8_t rst = state_get_u8(s), port_a = state_get_u8(s);

	if (s->error || (pm1 & ~PM1_WRITABLE) || (rst & ~RST_SYS) || (port_a & ~PORTA_RESET)) {
		log_error("malformed power-control state");
		return -1;
	}
	p->pm1_cnt = pm1;
	p->rst_cnt = rst;
	p->port_a = port_a;
	return 0;
}

static void power_destroy(void *dev)
{
	free(dev);
}

static const struct device_ops power_ops = {
	.name = "power",
	.ports = { { PM1A_CNT, 2 }, { RST_CNT, 1 }, { PORT_A, 1 } },
	.create = power_create,
	.pio_read = power_pio_read,
	.pio_write = power_pio_write,
	.reset = power_reset,
	.save = power_save,
	.restore = power_restore,
	.destroy = power_destroy,
};

DEVICE_REGISTER(power_ops);

/*
 * pci.c - PCI configuration mechanism #1 (ports 0xcf8 and 0xcfc-0xcff) with
 * a minimal bus: one host bridge at 00:00.0 (an i440FX's IDs, as QEMU's pc
 * machine has), so that a kernel finds the configuration space usable and
 * probes a bus with nothing else on it. Every other function reads all ones.
 * (0xcf9, the reset control register inside the range, is power.c's.)
 */
#include <stdlib.h>

#include "lightvm/devices.h"
#include "lightvm/log.h"

#define CONFIG_ADDRESS 0xcf8
#define CONFIG_DATA 0xcfc
#define ADDR_ENABLE 0x80000000u
#define ADDR_MASK 0x80fffffcu	/* enable, bus, device, function, register */
#define HOST_BRIDGE_ID 0x12378086u	/* device 0x1237, vendor 0x8086 */
#define HOST_BRIDGE_CLASS 0x06000002u	/* host bridge, revision 2 */
#define COMMAND_WRITABLE 0x0146u	/* memory, bus master, parity, SERR */

struct pci {
	uint32_t address;
	uint16_t command;
};

/* The 32-bit register at reg of the function the address selects. */
static uint32_t config_read(const struct pci *p, uint32_t address)
{
	if ((address & 0x00ffff00u) != 0)	/* bus 0, device 0, function 0 only */
		return 0xffffffffu;
	switch (address & 0xfc) {
	case 0x00: return HOST_BRIDGE_ID;
	case 0x04: return p->command;
	case 0x08: return HOST_BRIDGE_CLASS;
	default: return 0;	/* header type 0, no BARs, no capabilities */
	}
}

static uint32_t pci_pio_read(void *dev, uint16_t port, unsigned size)
{
	struct pci *p = dev;
	unsigned shift = 8 * (port & 3);

	if (port == CONFIG_ADDRESS)
		return size == 4 ? p->address : 0xffffffffu;
	if (!(p->address & ADDR_ENABLE))
		return 0xffffffffu;
	return config_read(p, p->address) >> shift;
}

static void pci_pio_write(void *dev, uint16_t port, unsigned size, uint32_t value)
{
	struct pci *p = dev;
	unsigned shift = 8 * (port & 3);

	if (port == CONFIG_ADDRESS) {
		if (size == 4)
			p->address = value & ADDR_MASK;
		return;
	}
	trace(TRACE_IO, "PCI config write %#x to %#x", value, p->address + (port & 3));
	if ((p->address & ADDR_ENABLE) && (p->address & 0x00fffffcu) == 0x04 && shift < 16) {
		uint32_t bytes = (size >= 4 ? 0xffffffffu : (1u << (8 * size)) - 1) << shift;

		p->command = (uint16_t)((p->command & ~bytes) | ((value << shift) & bytes &
								  COMMAND_WRITABLE));
	}
}

static void pci_reset(void *dev)
{
	struct pci *p = dev;

	p->address = 0;
	p->command = 0x0006;	/* memory and bus master on, as firmware leaves it */
}

static int pci_create(struct vm *vm, void **dev)
{
	struct pci *p = calloc(1, sizeof(*p));

	if (!p) {
		log_error("out of memory");
		return -1;
	}
	pci_reset(p);
	*dev = p;
	return 0;
}

static void pci_save(void *dev, struct dev_state *s)
{
	struct pci *p = dev;

	state_put_u32(s, p->address);
	state_put_u16(s, p->command);
}

static int pci_restore(void *dev, struct dev_state *s)
{
	struct pci *p = dev;
	uint32_t address = state_get_u32(s);
	uint16_t command = state_get_u16(s);

	if (s->error || (address & ~ADDR_MASK) || (command & ~COMMAND_WRITABLE)) {
		log_error("malformed PCI configuration state");
		return -1;
	}
	p->address = address;
	p->command = command;
	return 0;
}

static void pci_destroy(void *dev)
{
	free(dev);
}

static const struct device_ops pci_ops = {
	.name = "pci",
	.ports = { { CONFIG_ADDRESS, 1, 1 }, { CONFIG_DATA, 4 } },
	.create = pci_create,
	.pio_read = pci_pio_read,
	.pio_write = pci_pio_write,
	.reset = pci_reset,
	.save = pci_save,
	.restore = pci_restore,
	.destroy = pci_destroy,
};

DEVICE_REGISTER(pci_ops);

/*
 * pci.c - PCI configuration mechanism #1 (ports 0xcf8 and 0xcfc-0xcff) and
 * bus 0: a host bridge at 00:00.0 (an i440FX's IDs, as QEMU's pc machine
 * has) and the functions devices attach with vm_pci_attach() (device.h).
 * For those it keeps what firmware and the guest write in configuration
 * space (the command register, BAR0, the interrupt line) and decodes the I/O
 * ports BAR0 places while I/O decoding is on. Every other function reads
 * all ones. (0xcf9, the reset control register inside the range, is
 * power.c's.)
 */
#include <stdlib.h>

#include "lightvm/devices.h"
#include "lightvm/log.h"

#define CONFIG_ADDRESS 0xcf8
#define CONFIG_DATA 0xcfc
#define ADDR_ENABLE 0x80000000u
#define ADDR_MASK 0x80fffffcu	/* enable, bus, device, function, register */
#define ADDR_SLOT(a) (((a) >> 11) & 31)
#define ADDR_BUS_FN(a) ((a) & 0x00ff0700u)	/* must be 0: bus 0, function 0 */
#define HOST_BRIDGE_ID 0x12378086u	/* device 0x1237, vendor 0x8086 */
#define HOST_BRIDGE_CLASS 0x06000002u	/* host bridge, revision 2 */
#define BRIDGE_COMMAND_WRITABLE 0x0146u	/* memory, bus master, parity, SERR */
#define COMMAND_IO 0x0001u
#define COMMAND_WRITABLE 0x0547u	/* I/O, memory, master, parity, SERR, INTx off */
#define BAR_IO 0x1u
#define IO_BAR_BASE 0xc000u	/* where SeaBIOS starts placing I/O BARs */
#define IO_BAR_STRIDE 0x100u

/* What the configuration space of one function holds beyond its IDs. */
struct slot_config {
	uint32_t bar0;
	uint16_t command;
	uint8_t irq_line;
};

struct pci {
	struct vm *vm;
	uint32_t address;
	struct slot_config slot[PCI_MAX_SLOTS];	/* slot 0: the host bridge's command only */
};

/* The function in slot with a usable BAR0, or NULL. */
static struct pci_function *function_at(const struct pci *p, unsigned slot)
{
	struct pci_function *fn = slot ? vm_pci_function(p->vm, slot) : NULL;

	return fn && fn->io_size >= 4 && fn->io_size <= 256 &&
	       !(fn->io_size & (fn->io_size - 1)) ? fn : NULL;
}

/* Firmware's choices for a function: I/O decoding on at a BAR of its own. */
static void firmware_config(struct pci *p, unsigned slot)
{
	struct pci_function *fn = function_at(p, slot);

	p->slot[slot] = (struct slot_config){ 0, 0, 0 };
	if (fn)
		p->slot[slot] = (struct slot_config){ (IO_BAR_BASE + IO_BAR_STRIDE * slot) | BAR_IO,
						      COMMAND_IO, fn->irq };
}

static uint32_t function_config_read(const struct pci *p, unsigned slot, unsigned reg)
{
	const struct pci_function *fn = function_at(p, slot);
	const struct slot_config *c = &p->slot[slot];

	if (!fn)
		return 0xffffffffu;
	switch (reg) {
	case 0x00: return (uint32_t)fn->device << 16 | fn->vendor;
	case 0x04: return c->command;
	case 0x08: return fn->class_code << 8 | fn->revision;
	case 0x10: return c->bar0;
	case 0x2c: return (uint32_t)fn->subsystem << 16 | fn->subsystem_vendor;
	case 0x3c: return 1u << 8 | c->irq_line;	/* INTA */
	default: return 0;	/* header type 0, one BAR, no ROM, no capabilities */
	}
}

/* The 32-bit register at reg of the function the address selects. */
static uint32_t config_read(const struct pci *p, uint32_t address)
{
	unsigned slot = ADDR_SLOT(address), reg = address & 0xfc;

	if (ADDR_BUS_FN(address))
		return 0xffffffffu;
	if (slot)
		return function_config_read(p, slot, reg);
	switch (reg) {
	case 0x00: return HOST_BRIDGE_ID;
	case 0x04: return p->slot[0].command;
	case 0x08: return HOST_BRIDGE_CLASS;
	default: return 0;	/* header type 0, no BARs, no capabilities */
	}
}

/* Replace the bytes of *reg that the access covers and mask allows. */
static uint32_t merge(uint32_t reg, unsigned shift, unsigned size, uint32_t value, uint32_t mask)
{
	uint32_t bytes = (size >= 4 ? 0xffffffffu : (1u << (8 * size)) - 1) << shift;

	return (reg & ~(bytes & mask)) | ((value << shift) & bytes & mask);
}

static void config_write(struct pci *p, unsigned shift, unsigned size, uint32_t value)
{
	unsigned slot = ADDR_SLOT(p->address), reg = p->address & 0xfc;
	struct slot_config *c = &p->slot[slot];
	struct pci_function *fn = function_at(p, slot);

	if (ADDR_BUS_FN(p->address) || (slot && !fn))
		return;
	if (reg == 0x04)
		c->command = (uint16_t)merge(c->command, shift, size, value,
					     slot ? COMMAND_WRITABLE : BRIDGE_COMMAND_WRITABLE);
	else if (reg == 0x10 && fn)	/* sizing reads back ~(size - 1) | I/O */
		c->bar0 = merge(c->bar0, shift, size, value, ~(uint32_t)(fn->io_size - 1) & ~3u);
	else if (reg == 0x3c && fn)
		c->irq_line = (uint8_t)merge(c->irq_line, shift, size, value, 0xff);
}

/* The slot whose BAR0 holds the whole access, with I/O decoding on; 0 if none. */
static unsigned bar_slot(const struct pci *p, uint16_t port, unsigned size)
{
	for (unsigned slot = 1; slot < PCI_MAX_SLOTS; slot++) {
		const struct pci_function *fn = function_at(p, slot);
		uint32_t base = p->slot[slot].bar0 & ~3u;

		if (fn && (p->slot[slot].command & COMMAND_IO) && port >= base &&
		    (uint32_t)port + size <= base + fn->io_size)
			return slot;
	}
	return 0;
}

static int pci_decodes(void *dev, uint16_t port, unsigned size)
{
	return bar_slot(dev, port, size) != 0;
}

static uint32_t pci_pio_read(void *dev, uint16_t port, unsigned size)
{
	struct pci *p = dev;
	unsigned shift = 8 * (port & 3), slot;

	if (port == CONFIG_ADDRESS)
		return size == 4 ? p->address : 0xffffffffu;
	if (port >= CONFIG_DATA && port < CONFIG_DATA + 4) {
		if (!(p->address & ADDR_ENABLE))
			return 0xffffffffu;
		return config_read(p, p->address) >> shift;
	}
	slot = bar_slot(p, port, size);
	if (!slot)
		return 0xffffffffu;
	return function_at(p, slot)->io_read(function_at(p, slot)->dev,
					     (uint16_t)(port - (p->slot[slot].bar0 & ~3u)), size);
}

static void pci_pio_write(void *dev, uint16_t port, unsigned size, uint32_t value)
{
	struct pci *p = dev;
	unsigned slot;

	if (port == CONFIG_ADDRESS) {
		if (size == 4)
			p->address = value & ADDR_MASK;
		return;
	}
	if (port >= CONFIG_DATA && port < CONFIG_DATA + 4) {
		trace(TRACE_IO, "PCI config write %#x to %#x", value, p->address + (port & 3));
		if (p->address & ADDR_ENABLE)
			config_write(p, 8 * (port & 3), size, value);
		return;
	}
	slot = bar_slot(p, port, size);
	if (slot)
		function_at(p, slot)->io_write(function_at(p, slot)->dev,
					       (uint16_t)(port - (p->slot[slot].bar0 & ~3u)), size,
					       value);
}

static void pci_reset(void *dev)
{
	struct pci *p = dev;

	p->address = 0;
	p->slot[0].command = 0x0006;	/* memory and bus master on, as firmware leaves it */
	for (unsigned slot = 1; slot < PCI_MAX_SLOTS; slot++)
		firmware_config(p, slot);
}

static int pci_create(struct vm *vm, void **dev)
{
	struct pci *p = calloc(1, sizeof(*p));

	if (!p) {
		log_error("out of memory");
		return -1;
	}
	p->vm = vm;
	pci_reset(p);
	*dev = p;
	return 0;
}

static void pci_save(void *dev, struct dev_state *s)
{
	struct pci *p = dev;

	state_put_u32(s, p->address);
	for (unsigned slot = 0; slot < PCI_MAX_SLOTS; slot++) {
		state_put_u32(s, p->slot[slot].bar0);
		state_put_u16(s, p->slot[slot].command);
		state_put_u8(s, p->slot[slot].irq_line);
	}
}

/* True if c holds only what config_write can leave in slot. */
static int slot_config_valid(const struct pci *p, unsigned slot, const struct slot_config *c)
{
	const struct pci_function *fn = function_at(p, slot);

	if (!slot)
		return !(c->command & ~BRIDGE_COMMAND_WRITABLE) && !c->bar0 && !c->irq_line;
	if (!fn)
		return !c->command && !c->bar0 && !c->irq_line;
	return !(c->command & ~COMMAND_WRITABLE) &&
	       (c->bar0 & ((uint32_t)fn->io_size - 1)) == BAR_IO;
}

static int pci_restore(void *dev, struct dev_state *s)
{
	struct pci *p = dev;
	struct slot_config slot[PCI_MAX_SLOTS];
	uint32_t address = state_get_u32(s);
	int ok = !(address & ~ADDR_MASK);

	for (unsigned i = 0; i < PCI_MAX_SLOTS; i++) {
		slot[i].bar0 = state_get_u32(s);
		slot[i].command = state_get_u16(s);
		slot[i].irq_line = state_get_u8(s);
		ok = ok && slot_config_valid(p, i, &slot[i]);
	}
	if (s->error || !ok) {
		log_error("malformed PCI configuration state");
		return -1;
	}
	p->address = address;
	for (unsigned i = 0; i < PCI_MAX_SLOTS; i++)
		p->slot[i] = slot[i];
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
	.decodes = pci_decodes,
};

DEVICE_REGISTER(pci_ops);

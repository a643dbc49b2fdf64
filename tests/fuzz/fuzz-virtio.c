/*
 * fuzz-virtio.c - libFuzzer over what a hostile guest controls in the
 * virtio-net card: its registers and the rings and buffers in its RAM; and,
 * through frames from the "host", the receive path; and the `--net user`
 * option parser on the same input.
 *
 * Input: a count n, n operations of 8 bytes (kind, size, register offset,
 * value), then bytes copied to the start of a 64 KiB guest RAM, where the
 * operations may place the rings (queue PFNs 0-15). Kinds: register write,
 * register read, a frame of value & 0x7ff bytes from the host, a poke of
 * value's low byte at RAM offset (offset << 4), and a driver start that
 * places the receive ring at page 1 and the transmit ring at page 4. The whole input is also
 * parsed as options, and loaded as the card's saved state. The run must end without a sanitizer report, and with
 * every frame the card sends within the buffers the guest gave.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lightvm/device.h"
#include "net-user/netuser.h"

#define RAM_BYTES (64u * 1024)

extern const struct device_ops *const __start_lilyvm_devices[];

struct vm {
	uint8_t ram[RAM_BYTES];
	struct pci_function *fn;
	void (*receive)(void *nic, const uint8_t *frame, size_t len);
	void *nic;
};

static struct vm machine;

void *vm_dma(struct vm *vm, uint64_t gpa, size_t len)
{
	return gpa <= RAM_BYTES && len <= RAM_BYTES - gpa ? vm->ram + gpa : NULL;
}

void vm_count(struct vm *vm, const char *name, uint64_t n)
{
	(void)vm, (void)name, (void)n;
}

void vm_set_irq(struct vm *vm, unsigned irq, int level)
{
	(void)vm, (void)irq, (void)level;
}

int vm_pci_attach(struct vm *vm, struct pci_function *fn)
{
	vm->fn = fn;
	fn->irq = 11;
	return 3;
}

unsigned vm_net_mtu(struct vm *vm)
{
	(void)vm;
	return 65520;
}

int vm_net_present(struct vm *vm)
{
	(void)vm;
	return 1;
}

void vm_net_attach_nic(struct vm *vm, void (*receive)(void *nic, const uint8_t *frame, size_t len),
		       void *nic)
{
	vm->receive = receive;
	vm->nic = nic;
}

static volatile uint8_t sink;

void vm_net_send(struct vm *vm, const uint8_t *frame, size_t len)
{
	(void)vm;
	for (size_t i = 0; i < len; i++)	/* every byte must be readable */
		sink ^= frame[i];
}

/* What a driver does first, so that runs reach the rings quickly: rings at pages 1 and 4. */
static void start_driver(void)
{
	struct pci_function *fn = machine.fn;

	fn->io_write(fn->dev, 0x12, 1, 0);
	fn->io_write(fn->dev, 0x0e, 2, 0);
	fn->io_write(fn->dev, 0x08, 4, 1);
	fn->io_write(fn->dev, 0x0e, 2, 1);
	fn->io_write(fn->dev, 0x08, 4, 4);
	fn->io_write(fn->dev, 0x12, 1, 7);
}

static void run_ops(const uint8_t *data, size_t size, void *dev)
{
	static uint8_t frame[2048];
	unsigned n = size ? data[0] : 0;
	const uint8_t *op = data + 1;

	for (unsigned i = 0; i < n && (size_t)(op + 8 - data) <= size; i++, op += 8) {
		uint16_t offset = (uint16_t)(op[2] | op[3] << 8);
		uint32_t value = (uint32_t)op[4] | (uint32_t)op[5] << 8 | (uint32_t)op[6] << 16 |
				 (uint32_t)op[7] << 24;
		unsigned sz = 1u << (op[1] % 3);

		switch (op[0] % 5) {
		case 0: machine.fn->io_write(machine.fn->dev, offset % 64, sz, value); break;
		case 1: machine.fn->io_read(machine.fn->dev, offset % 64, sz); break;
		case 2:
			memset(frame, (int)value, sizeof(frame));
			machine.receive(machine.nic, frame, value & 0x7ff);
			break;
		case 3: machine.ram[(offset * 16u) % RAM_BYTES] = (uint8_t)value; break;
		case 4: start_driver(); break;
		}
	}
	(void)dev;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct device_ops *ops = __start_lilyvm_devices[0];
	size_t ops_len = size ? 1 + 8 * (size_t)data[0] : 0;
	struct netuser_opts opts;
	char err[256], text[512];
	void *dev;

	memset(&machine, 0, sizeof(machine));
	if (ops_len < size)
		memcpy(machine.ram, data + ops_len,
		       size - ops_len < RAM_BYTES ? size - ops_len : RAM_BYTES);
	if (ops->create(&machine, &dev))
		abort();
	ops->reset(dev);
	run_ops(data, size, dev);
	/* The card's state from the same bytes, as a corrupt snapshot would give it. */
	{
		struct dev_state st = { .buf = (uint8_t *)data, .len = size, .cap = size };

		ops->restore(dev, &st);
	}
	ops->destroy(dev);

	memcpy(text, data, size < sizeof(text) ? size : sizeof(text) - 1);
	text[size < sizeof(text) ? size : sizeof(text) - 1] = 0;
	netuser_parse(text, &opts, err, sizeof(err));
	return 0;
}

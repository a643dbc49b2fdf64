/*
 * debugport.c - the two ports guests write progress to: 0x80, where a PC
 * BIOS posts its POST codes (and Linux writes for an I/O delay), and 0xe9,
 * the Bochs/QEMU debug console, whose bytes go to the guest console.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lightvm/devices.h"
#include "lightvm/log.h"

#define POST_PORT 0x80
#define E9_PORT 0xe9

struct debugport {
	int out_fd;
};

static uint32_t debugport_pio_read(void *dev, uint16_t port, unsigned size)
{
	/* 0xe9 reads back as 0xe9 so that guests can detect the console. */
	return port == E9_PORT ? E9_PORT : 0xffffffffu;
}

static void e9_write(struct debugport *d, uint8_t b)
{
	ssize_t n;

	do
		n = write(d->out_fd, &b, 1);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno != EAGAIN) {
		log_warn("console output: %s; port 0xe9 output is dropped from now on",
			 strerror(errno));
		d->out_fd = -1;
	}
}

static void debugport_pio_write(void *dev, uint16_t port, unsigned size, uint32_t value)
{
	struct debugport *d = dev;

	if (port == POST_PORT) {
		trace(TRACE_IO, "POST code %#x", value);
		return;
	}
	for (unsigned i = 0; i < size && d->out_fd >= 0; i++)
		e9_write(d, (uint8_t)(value >> (8 * i)));
}

static void debugport_reset(void *dev)
{
}

static int debugport_create(struct vm *vm, void **dev)
{
	struct debugport *d = calloc(1, sizeof(*d));
	int in_fd;

	if (!d) {
		log_error("out of memory");
		return -1;
	}
	vm_console_fds(vm, &in_fd, &d->out_fd);
	*dev = d;
	return 0;
}

/* No guest-visible state: an empty record. */
static void debugport_save(void *dev, struct dev_state *s)
{
}

static int debugport_restore(void *dev, struct dev_state *s)
{
	return 0;
}

static void debugport_destroy(void *dev)
{
	free(dev);
}

static const struct device_ops debugport_ops = {
	.name = "debugport",
	.ports = { { POST_PORT, 1 }, { E9_PORT, 1 } },
	.create = debugport_create,
	.pio_read = debugport_pio_read,
	.pio_write = debugport_pio_write,
	.reset = debugport_reset,
	.save = debugport_save,
	.restore = debugport_restore,
	.destroy = debugport_destroy,
};

DEVICE_REGISTER(debugport_ops);

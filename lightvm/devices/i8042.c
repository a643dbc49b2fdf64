/*
 * i8042.c - just enough of the PC keyboard controller (0x60 data, 0x64
 * status and command) for guests to find no keyboard and to reset the
 * machine through it: there is no keyboard or mouse behind it.
 */
#include <stdlib.h>

#include "lightvm/devices.h"
#include "lightvm/log.h"

#define DATA_PORT 0x60
#define CMD_PORT 0x64

#define STATUS_SYS 0x04		/* self-test passed (system flag) */
#define STATUS_CMD 0x08		/* the last write went to the command port */
#define STATUS_UNLOCKED 0x10	/* keyboard not inhibited */

#define CMD_WRITE_OUTPUT 0xd1	/* the next data byte is the output port */
#define OUT_RESET 0x01		/* output port bit 0 drives the CPU reset line (active low) */

struct i8042 {
	struct vm *vm;
	uint8_t last_was_cmd;
	uint8_t want_output;	/* 0xd1 given, output port byte expected */
};

static uint32_t i8042_pio_read(void *dev, uint16_t port, unsigned size)
{
	struct i8042 *k = dev;

	/* Output and input buffers always empty: nothing to read, ready for more. */
	if (port == CMD_PORT)
		return STATUS_SYS | STATUS_UNLOCKED | (k->last_was_cmd ? STATUS_CMD : 0);
	return 0;
}

static void pulse_reset(struct i8042 *k, uint8_t what)
{
	trace(TRACE_IO, "keyboard controller pulses reset (%#x)", what);
	vm_request_stop(k->vm, 1, "keyboard controller reset");
}

/*
 * Commands 0xf0-0xff pulse the output port lines whose bits are clear in
 * the low nibble: 0xfe (and any even one) pulses the reset line. Writing
 * the output port (0xd1) with bit 0 clear holds reset. Others are ignored.
 */
static void i8042_pio_write(void *dev, uint16_t port, unsigned size, uint32_t value)
{
	struct i8042 *k = dev;
	uint8_t v = (uint8_t)value;

	k->last_was_cmd = port == CMD_PORT;
	if (port == DATA_PORT) {
		if (k->want_output && !(v & OUT_RESET))
			pulse_reset(k, v);
		k->want_output = 0;
		return;
	}
	k->want_output = v == CMD_WRITE_OUTPUT;
	if ((v & 0xf0) == 0xf0 && !(v & OUT_RESET))
		pulse_reset(k, v);
}

static void i8042_reset(void *dev)
{
	struct i8042 *k = dev;

	k->last_was_cmd = 0;
	k->want_output = 0;
}

static int i8042_create(struct vm *vm, void **dev)
{
	struct i8042 *k = calloc(1, sizeof(*k));

	if (!k) {
		log_error("out of memory");
		return -1;
	}
	k->vm = vm;
	*dev = k;
	return 0;
}

static void i8042_save(void *dev, struct dev_state *s)
{
	struct i8042 *k = dev;

	state_put_u8(s, k->last_was_cmd);
	state_put_u8(s, k->want_output);
}

static int i8042_restore(void *dev, struct dev_state *s)
{
	struct i8042 *k = dev;
	int ok = 1;
	uint8_t last = state_get_bool(s, &ok), want = state_get_bool(s, &ok);

	if (!ok || s->error) {
		log_error("malformed i8042 state");
		return -1;
	}
	k->last_was_cmd = last;
	k->want_output = want;
	return 0;
}

static void i8042_destroy(void *dev)
{
	free(dev);
}

static const struct device_ops i8042_ops = {
	.name = "i8042",
	.ports = { { DATA_PORT, 1 }, { CMD_PORT, 1 } },
	.create = i8042_create,
	.pio_read = i8042_pio_read,
	.pio_write = i8042_pio_write,
	.reset = i8042_reset,
	.save = i8042_save,
	.restore = i8042_restore,
	.destroy = i8042_destroy,
};

DEVICE_REGISTER(i8042_ops);

/*
 * test-conflict.c - a device that claims a port another device owns stops
 * devices_create with an error naming the port and both devices, and the
 * devices already created are taken down again.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/devices/check.h"
#include "tests/devices/fakevm.h"

static int intruder_create(struct vm *vm, void **dev)
{
	*dev = NULL;
	return 0;
}

static uint32_t intruder_read(void *dev, uint16_t port, unsigned size)
{
	return 0;
}

static void intruder_write(void *dev, uint16_t port, unsigned size, uint32_t value)
{
}

static void intruder_reset(void *dev)
{
}

static void intruder_save(void *dev, struct dev_state *s)
{
}

static int intruder_restore(void *dev, struct dev_state *s)
{
	return 0;
}

static void intruder_destroy(void *dev)
{
}

/* Claims 0x7f-0x80: 0x80 belongs to the debug port. */
static const struct device_ops intruder_ops = {
	.name = "intruder",
	.ports = { { 0x7f, 2 } },
	.create = intruder_create,
	.pio_read = intruder_read,
	.pio_write = intruder_write,
	.reset = intruder_reset,
	.save = intruder_save,
	.restore = intruder_restore,
	.destroy = intruder_destroy,
};

DEVICE_REGISTER(intruder_ops);

int main(void)
{
	struct vm *vm = fakevm_new(64 << 20);
	char path[] = "/tmp/lilyvm-test-conflict-XXXXXX", text[4096];
	int fd = mkstemp(path), saved = dup(2);
	struct device_set *set;
	ssize_t n;

	CHECK(fd >= 0 && saved >= 0);
	fflush(stderr);
	dup2(fd, 2);
	set = devices_create(vm);
	fflush(stderr);
	dup2(saved, 2);
	lseek(fd, 0, SEEK_SET);
	n = read(fd, text, sizeof(text) - 1);
	text[n > 0 ? n : 0] = 0;
	close(fd);
	unlink(path);
	fputs(text, stdout);

	CHECK(set == NULL);
	CHECK(strstr(text, "port 0x80 is claimed by both") != NULL);
	CHECK(strstr(text, "debugport") != NULL);
	CHECK(strstr(text, "intruder") != NULL);
	/* The devices created before the conflict were destroyed. */
	CHECK(!fakevm_watching(vm, fakevm_console_in_fd(vm)));
	fakevm_free(vm);
	return check_done("test-conflict");
}

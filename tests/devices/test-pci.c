/*
 * test-pci.c - configuration mechanism #1: the address register latches
 * what a dword write puts there (enable, bus, device, function, register)
 * and reads it back, as Linux's type-1 probe checks; 00:00.0 is a host
 * bridge with the i440FX's IDs and class; every other function and a
 * disabled address read all ones; byte and word reads see the right lanes;
 * only the command register's writable bits change.
 */
#include "tests/devices/check.h"
#include "tests/devices/fakevm.h"

static struct device_set *set;

static uint32_t cfg_read(unsigned dev, unsigned reg, unsigned size)
{
	devices_pio_write(set, 0xcf8, 4, 0x80000000u | dev << 11 | (reg & 0xfc));
	return devices_pio_read(set, 0xcfc + (reg & 3), size);
}

static void cfg_write(unsigned dev, unsigned reg, unsigned size, uint32_t v)
{
	devices_pio_write(set, 0xcf8, 4, 0x80000000u | dev << 11 | (reg & 0xfc));
	devices_pio_write(set, 0xcfc + (reg & 3), size, v);
}

int main(void)
{
	struct vm *vm = fakevm_new(64ull << 20);

	set = devices_create(vm);
	CHECK(set != NULL);
	devices_pio_write(set, 0xcf8, 4, 0x80000000u);
	CHECK_EQ(devices_pio_read(set, 0xcf8, 4), 0x80000000u);
	CHECK_EQ(cfg_read(0, 0x00, 4), 0x12378086u);
	CHECK_EQ(cfg_read(0, 0x00, 2), 0x8086);
	CHECK_EQ(cfg_read(0, 0x02, 2), 0x1237);
	CHECK_EQ(cfg_read(0, 0x0b, 1), 0x06);	/* class: bridge */
	CHECK_EQ(cfg_read(0, 0x0a, 1), 0x00);	/* subclass: host */
	CHECK_EQ(cfg_read(0, 0x0e, 1), 0x00);	/* header type 0 */
	CHECK_EQ(cfg_read(1, 0x00, 4), 0xffffffffu);
	CHECK_EQ(cfg_read(31, 0x00, 2), 0xffff);
	devices_pio_write(set, 0xcf8, 4, 0x00000000u);	/* enable bit clear */
	CHECK_EQ(devices_pio_read(set, 0xcfc, 4), 0xffffffffu);
	CHECK_EQ(cfg_read(0, 0x04, 2), 0x0006);
	cfg_write(0, 0x04, 2, 0xffff);
	CHECK_EQ(cfg_read(0, 0x04, 2), 0x0146);
	cfg_write(0, 0x05, 1, 0x00);	/* the high byte only */
	CHECK_EQ(cfg_read(0, 0x04, 2), 0x0046);
	cfg_write(0, 0x00, 4, 0);	/* IDs are read-only */
	CHECK_EQ(cfg_read(0, 0x00, 4), 0x12378086u);
	devices_destroy(set);
	fakevm_free(vm);
	return check_done("test-pci");
}

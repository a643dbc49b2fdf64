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

int main(void)
{
	struct vm *vm = fakevm_new(64ull << 20);

	set = devices_create(vm);
	CHECK(set != NULL);
	devices_pio_write(set, 0xcf8, 4, 0x80000000u);
	CHECK_EQ(devices_pio_read(set, 0xcf8, 4), 0x80000000u);
	CHECK_EQ(fakevm_pci_read(set, 0, 0x00, 4), 0x12378086u);
	CHECK_EQ(fakevm_pci_read(set, 0, 0x00, 2), 0x8086);
	CHECK_EQ(fakevm_pci_read(set, 0, 0x02, 2), 0x1237);
	CHECK_EQ(fakevm_pci_read(set, 0, 0x0b, 1), 0x06);	/* class: bridge */
	CHECK_EQ(fakevm_pci_read(set, 0, 0x0a, 1), 0x00);	/* subclass: host */
	CHECK_EQ(fakevm_pci_read(set, 0, 0x0e, 1), 0x00);	/* header type 0 */
	CHECK_EQ(fakevm_pci_read(set, 1, 0x00, 4), 0xffffffffu);
	CHECK_EQ(fakevm_pci_read(set, 31, 0x00, 2), 0xffff);
	devices_pio_write(set, 0xcf8, 4, 0x00000000u);	/* enable bit clear */
	CHECK_EQ(devices_pio_read(set, 0xcfc, 4), 0xffffffffu);
	CHECK_EQ(fakevm_pci_read(set, 0, 0x04, 2), 0x0006);
	fakevm_pci_write(set, 0, 0x04, 2, 0xffff);
	CHECK_EQ(fakevm_pci_read(set, 0, 0x04, 2), 0x0146);
	fakevm_pci_write(set, 0, 0x05, 1, 0x00);	/* the high byte only */
	CHECK_EQ(fakevm_pci_read(set, 0, 0x04, 2), 0x0046);
	fakevm_pci_write(set, 0, 0x00, 4, 0);	/* IDs are read-only */
	CHECK_EQ(fakevm_pci_read(set, 0, 0x00, 4), 0x12378086u);
	devices_destroy(set);
	fakevm_free(vm);
	return check_done("test-pci");
}

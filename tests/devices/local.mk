# tests/devices: unit tests of the device models against a fake machine
# (fakevm.c) whose clock the tests move.
DEVICE_TEST_COMMON = $(LIGHTVM_DEVICE_SOURCES) lightvm/log.h lightvm/log.c \
	tests/devices/fakevm.h tests/devices/fakevm.c tests/devices/check.h
DEVICE_TESTS = tests/devices/test-pic tests/devices/test-pit tests/devices/test-uart \
	tests/devices/test-cmos tests/devices/test-registry tests/devices/test-conflict \
	tests/devices/test-pci tests/devices/test-virtio-net
check_PROGRAMS += $(DEVICE_TESTS)
TESTS += $(DEVICE_TESTS)
tests_devices_test_pic_SOURCES = tests/devices/test-pic.c $(DEVICE_TEST_COMMON)
tests_devices_test_pit_SOURCES = tests/devices/test-pit.c $(DEVICE_TEST_COMMON)
tests_devices_test_uart_SOURCES = tests/devices/test-uart.c $(DEVICE_TEST_COMMON)
tests_devices_test_cmos_SOURCES = tests/devices/test-cmos.c $(DEVICE_TEST_COMMON)
tests_devices_test_registry_SOURCES = tests/devices/test-registry.c $(DEVICE_TEST_COMMON)
tests_devices_test_conflict_SOURCES = tests/devices/test-conflict.c $(DEVICE_TEST_COMMON)
tests_devices_test_pci_SOURCES = tests/devices/test-pci.c $(DEVICE_TEST_COMMON)
tests_devices_test_virtio_net_SOURCES = tests/devices/test-virtio-net.c $(DEVICE_TEST_COMMON)

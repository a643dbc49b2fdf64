# lightvm/devices: the PC device models and the port dispatcher (see
# lightvm/devices/README.md). The devices are found through a linker
# section, so list LIGHTVM_DEVICE_SOURCES in a program's SOURCES (a static
# library would let the linker drop them); the program also needs
# lightvm/log.c and must implement the services of lightvm/device.h and
# vm_ram_bytes() of lightvm/devices.h.
LIGHTVM_DEVICE_SOURCES = lightvm/device.h lightvm/devices.h lightvm/devices.c \
	lightvm/devices/pic.c lightvm/devices/pit.c lightvm/devices/uart.c \
	lightvm/devices/cmos.c lightvm/devices/debugport.c lightvm/devices/i8042.c \
	lightvm/devices/power.c lightvm/devices/pci.c lightvm/virtio.h lightvm/virtio.c \
	lightvm/devices/virtio-net.c
EXTRA_DIST += lightvm/devices/README.md

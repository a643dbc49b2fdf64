/*
 * devices.h - the machine's set of PC devices and the port dispatcher.
 *
 * Every device registered with DEVICE_REGISTER() (see device.h) is created by
 * devices_create(); the monitor then sends every IN and OUT of the guest here.
 * The device objects are found only through the linker section, so list
 * LIGHTVM_DEVICE_SOURCES (lightvm/devices.mk) in a program's SOURCES: a static
 * library would let the linker drop them.
 */
#ifndef LIGHTVM_DEVICES_H
#define LIGHTVM_DEVICES_H

#include <stdint.h>

#include "lightvm/device.h"

struct device_set;

/* Create one of each registered device for vm; NULL (logged) on a port conflict or failure. */
struct device_set *devices_create(struct vm *vm);
/* IN of size (1, 2 or 4) bytes from port; an unclaimed port reads all-ones. */
uint32_t devices_pio_read(struct device_set *set, uint16_t port, unsigned size);
/* OUT of size bytes of value to port; an unclaimed port drops it. */
void devices_pio_write(struct device_set *set, uint16_t port, unsigned size, uint32_t value);
/* Return every device to its power-on state. */
void devices_reset(struct device_set *set);
/* Append every device's state to s as named, length-prefixed records. */
void devices_save(struct device_set *set, struct dev_state *s);
/* Load what devices_save wrote; -1 (logged, devices unchanged) if it is malformed. */
int devices_restore(struct device_set *set, struct dev_state *s);
/* Destroy every device and the set. */
void devices_destroy(struct device_set *set);
/* The state of the device called name (for the few device-specific calls below), or NULL. */
void *devices_find(struct device_set *set, const char *name);

/* True if the guest disabled NMIs with bit 7 of port 0x70 (cmos is devices_find(set, "cmos")). */
int cmos_nmi_masked(const void *cmos);

/* Bytes of guest RAM, read by the CMOS for its memory-size fields (the monitor implements it). */
uint64_t vm_ram_bytes(struct vm *vm);

/*
 * Fixed-width little-endian fields for device save/restore. A short read
 * returns 0 and sets s->error, so a restore reads every field, then checks
 * s->error once.
 */
static inline void state_put_u8(struct dev_state *s, uint8_t v)
{
	dev_state_put(s, &v, 1);
}

static inline void state_put_u16(struct dev_state *s, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)v, (uint8_t)(v >> 8) };

	dev_state_put(s, b, 2);
}

static inline void state_put_u32(struct dev_state *s, uint32_t v)
{
	state_put_u16(s, (uint16_t)v);
	state_put_u16(s, (uint16_t)(v >> 16));
}

static inline void state_put_u64(struct dev_state *s, uint64_t v)
{
	state_put_u32(s, (uint32_t)v);
	state_put_u32(s, (uint32_t)(v >> 32));
}

static inline uint8_t state_get_u8(struct dev_state *s)
{
	uint8_t v = 0;

	dev_state_get(s, &v, 1);
	return v;
}

static inline uint16_t state_get_u16(struct dev_state *s)
{
	uint16_t lo = state_get_u8(s);

	return (uint16_t)(lo | state_get_u8(s) << 8);
}

static inline uint32_t state_get_u32(struct dev_state *s)
{
	uint32_t lo = state_get_u16(s);

	return lo | (uint32_t)state_get_u16(s) << 16;
}

static inline uint64_t state_get_u64(struct dev_state *s)
{
	uint64_t lo = state_get_u32(s);

	return lo | (uint64_t)state_get_u32(s) << 32;
}

/* A flag saved as one byte; anything but 0 or 1 on restore is corruption. */
static inline int state_get_bool(struct dev_state *s, int *ok)
{
	uint8_t v = state_get_u8(s);

	if (v > 1)
		*ok = 0;
	return v;
}

/*
 * a * b / c, rounded down or up, for clock conversions; exact as long as
 * b * c fits in 64 bits (it does for every rate a device uses).
 */
static inline uint64_t muldiv64(uint64_t a, uint64_t b, uint64_t c, int round_up)
{
	return a / c * b + (a % c * b + (round_up ? c - 1 : 0)) / c;
}

/*
 * The ISA bus splits a wide access to an 8-bit device into byte cycles at
 * consecutive ports; byte-wide devices use these to do the same.
 */
static inline uint32_t pio_split_read(uint8_t (*readb)(void *dev, uint16_t port), void *dev,
				      uint16_t port, unsigned size)
{
	uint32_t v = 0;

	for (unsigned i = 0; i < size; i++)
		v |= (uint32_t)readb(dev, (uint16_t)(port + i)) << (8 * i);
	return v;
}

static inline void pio_split_write(void (*writeb)(void *dev, uint16_t port, uint8_t v), void *dev,
				   uint16_t port, unsigned size, uint32_t value)
{
	for (unsigned i = 0; i < size; i++)
		writeb(dev, (uint16_t)(port + i), (uint8_t)(value >> (8 * i)));
}

#endif

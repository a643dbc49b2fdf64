/*
 * device.h - what a device model is and what the monitor offers it.
 *
 * A device is one file with one static struct device_ops, declared with
 * DEVICE_REGISTER(); the monitor finds every registered device through a
 * linker section, so adding a device touches no other file. A device talks
 * to the rest of the machine only through the services declared here.
 */
#ifndef LIGHTVM_DEVICE_H
#define LIGHTVM_DEVICE_H

#include <stddef.h>
#include <stdint.h>

struct vm;

/* A range of I/O ports a device answers. */
struct port_range {
	uint16_t base;
	uint16_t count;
	/* A dword access at base is this device's even where the ports after
	 * base are another's (PCI's 0xcf8 and the reset register 0xcf9). */
	uint8_t dword_at_base;
};

/* Serialized device state: a growing buffer written and read in order. */
struct dev_state {
	uint8_t *buf;
	size_t len, cap, pos;
	int error;		/* set on allocation failure or short read */
};

#define DEVICE_MAX_RANGES 4

struct device_ops {
	const char *name;
	struct port_range ports[DEVICE_MAX_RANGES];	/* unused entries have count 0 */
	/* Allocate the device's state; -1 (with a logged reason) to refuse. */
	int (*create)(struct vm *vm, void **dev);
	/* Read size (1, 2 or 4) bytes from port. */
	uint32_t (*pio_read)(void *dev, uint16_t port, unsigned size);
	/* Write size bytes of value to port. */
	void (*pio_write)(void *dev, uint16_t port, unsigned size, uint32_t value);
	/* Return to power-on state. */
	void (*reset)(void *dev);
	/* Append the device's state to s. */
	void (*save)(void *dev, struct dev_state *s);
	/* Load state written by save; -1 if it is malformed. */
	int (*restore)(void *dev, struct dev_state *s);
	/* Release the state and any host resources. */
	void (*destroy)(void *dev);
};

/* Put a device in the machine; the monitor creates one of each at start. */
#define DEVICE_REGISTER(ops)                                                      \
	static const struct device_ops *const device_entry_##ops                  \
		__attribute__((section("lilyvm_devices"), used, aligned(sizeof(void *)))) = &ops

/* The interrupt controller the CPU asks for vectors (the PIC registers itself). */
struct intc_ops {
	/* Drive ISA interrupt line irq to level (0 or 1). */
	void (*set_irq)(void *intc, unsigned irq, int level);
	/* True if an unmasked interrupt waits for the CPU. */
	int (*pending)(void *intc);
	/* Acknowledge the highest-priority interrupt (INTA) and return its vector. */
	uint8_t (*ack)(void *intc);
};

/* Make intc the machine's interrupt controller. */
void vm_set_intc(struct vm *vm, const struct intc_ops *ops, void *intc);
/* Drive ISA interrupt line irq to level through the interrupt controller. */
void vm_set_irq(struct vm *vm, unsigned irq, int level);

/* Host monotonic time in nanoseconds, the clock of every device timer. */
uint64_t vm_clock_ns(void);

struct vm_timer;
/* A one-shot timer that calls fn(opaque) from the monitor's event loop. */
struct vm_timer *vm_timer_new(struct vm *vm, void (*fn)(void *opaque), void *opaque);
/* Fire at deadline_ns on vm_clock_ns(); 0 disarms. */
void vm_timer_arm(struct vm_timer *t, uint64_t deadline_ns);
/* Disarm and free a timer. */
void vm_timer_free(struct vm_timer *t);

/* Call fn(opaque) from the event loop whenever fd is readable. */
int vm_watch_fd(struct vm *vm, int fd, void (*fn)(void *opaque), void *opaque);
/* Stop watching fd. */
void vm_unwatch_fd(struct vm *vm, int fd);

/* The host file descriptors of the guest console (COM1), -1 if absent. */
void vm_console_fds(struct vm *vm, int *in_fd, int *out_fd);

/* Ask the machine to stop: power-off (reset=0) or reset (reset=1). */
void vm_request_stop(struct vm *vm, int reset, const char *why);

/* Append n bytes to a state buffer. */
void dev_state_put(struct dev_state *s, const void *p, size_t n);
/* Read n bytes from a state buffer; -1 (and s->error) if it is short. */
int dev_state_get(struct dev_state *s, void *p, size_t n);

#endif

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
	/* Optional: true if the device decodes an access to a port no range
	 * above claims (the PCI bus, for the I/O BARs the guest placed). */
	int (*decodes)(void *dev, uint16_t port, unsigned size);
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

/* Host pointer to guest-physical [gpa, gpa+len) for a device's DMA, or NULL if any of it is not RAM. */
void *vm_dma(struct vm *vm, uint64_t gpa, size_t len);

/* Count one event of a device (frames, errors) under name, a string
 * constant; --stats prints every count. */
void vm_count(struct vm *vm, const char *name, uint64_t n);

/*
 * A function on PCI bus 0, described by the device that implements it. The
 * PCI bus (devices/pci.c) serves its configuration space: the IDs, one I/O
 * BAR of io_size ports that firmware put at a fixed address and the guest
 * may move, the command register, and INTA wired to ISA line irq.
 */
struct pci_function {
	uint16_t vendor, device, subsystem_vendor, subsystem;
	uint32_t class_code;	/* base class, subclass, programming interface */
	uint8_t revision;
	uint16_t io_size;	/* BAR0 size in ports: a power of two, 4 to 256 */
	uint8_t irq;		/* set by vm_pci_attach: the line INTA drives */
	void *dev;		/* passed to io_read and io_write */
	/* Read size bytes at offset into BAR0. */
	uint32_t (*io_read)(void *dev, uint16_t offset, unsigned size);
	/* Write size bytes of value at offset into BAR0. */
	void (*io_write)(void *dev, uint16_t offset, unsigned size, uint32_t value);
};

#define PCI_MAX_SLOTS 32
/* Put fn in the next free slot of bus 0 (from 3, as QEMU's pc machine) and set fn->irq; -1 if full. */
int vm_pci_attach(struct vm *vm, struct pci_function *fn);
/* The function in slot, or NULL: for the PCI bus model. */
struct pci_function *vm_pci_function(struct vm *vm, unsigned slot);

/*
 * A host network back end (--net TYPE,...): net-user is one. It registers
 * with NET_BACKEND_REGISTER() and is found by name; the monitor creates the
 * one --net names before the devices, so a NIC finds it with vm_net_present().
 */
struct net_backend_ops {
	const char *name;	/* the TYPE of --net */
	/* Start from the options after "TYPE," ("" if none); -1 with a one-line reason in err. */
	int (*create)(struct vm *vm, const char *options, void **be, char *err, size_t errlen);
	/* Take one Ethernet frame the guest sent. */
	void (*send)(void *be, const uint8_t *frame, size_t len);
	/* The link's MTU: the largest IP packet either side may send. */
	unsigned (*mtu)(void *be);
	/* Stop, and release every host resource. */
	void (*destroy)(void *be);
};

#define NET_BACKEND_REGISTER(ops)                                                 \
	static const struct net_backend_ops *const net_backend_entry_##ops        \
		__attribute__((section("lilyvm_net_backends"), used, aligned(sizeof(void *)))) = &ops

/* True if the machine has a network back end for a NIC to attach to. */
int vm_net_present(struct vm *vm);
/* The NIC: deliver frames from the back end to receive(nic, frame, len). */
void vm_net_attach_nic(struct vm *vm, void (*receive)(void *nic, const uint8_t *frame, size_t len),
		       void *nic);
/* The NIC: the back end's MTU, which it tells the guest driver. */
unsigned vm_net_mtu(struct vm *vm);
/* The NIC: send one frame from the guest to the back end. */
void vm_net_send(struct vm *vm, const uint8_t *frame, size_t len);
/* The back end: deliver one frame to the guest's NIC (dropped if there is none). */
void vm_net_receive(struct vm *vm, const uint8_t *frame, size_t len);

/*
 * Host descriptors that come and go (a back end's sockets), polled with the
 * device timers and watched descriptors. fill() adds them with
 * vm_poll_add() whenever the monitor polls after an I/O signal, a halt, or
 * while wants_poll() is true; dispatch() then reads their vm_poll_revents().
 * The source must put each descriptor in O_ASYNC mode (vm_async_fd) so that
 * it wakes the monitor while the guest runs.
 */
struct vm_poll;
struct poll_source_ops {
	/* True if something happened that the next poll must look at (sent frames). */
	int (*wants_poll)(void *opaque);
	/* Add the descriptors to poll now. */
	void (*fill)(void *opaque, struct vm_poll *p);
	/* Act on what poll() found (every revents may be 0). */
	void (*dispatch)(void *opaque, struct vm_poll *p);
};
/* Poll src (its ops stay valid while registered); -1 if too many sources. */
int vm_add_poll_source(struct vm *vm, const struct poll_source_ops *ops, void *opaque);
/* Stop polling the source registered with opaque. */
void vm_remove_poll_source(struct vm *vm, void *opaque);
/* Add fd for events (POLLIN...); returns the index for vm_poll_revents, -1 if the set is full. */
int vm_poll_add(struct vm_poll *p, int fd, short events);
/* What poll() returned for index (0 for -1). */
short vm_poll_revents(struct vm_poll *p, int index);
/* Make fd signal the monitor when it becomes ready (O_ASYNC, owned by the monitor). */
void vm_async_fd(int fd);

/* Append n bytes to a state buffer. */
void dev_state_put(struct dev_state *s, const void *p, size_t n);
/* Read n bytes from a state buffer; -1 (and s->error) if it is short. */
int dev_state_get(struct dev_state *s, void *p, size_t n);

#endif

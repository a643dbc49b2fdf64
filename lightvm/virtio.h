/*
 * virtio.h - the legacy (0.9.5, "transitional") virtio PCI transport and
 * its split virtqueues, for the virtio device models in lightvm/devices/.
 *
 * A device model embeds a struct virtio_dev, fills in its ops and calls
 * virtio_attach(); the transport then owns BAR0's common registers (features,
 * queue set-up, status, ISR), maps the rings in guest RAM, and hands the
 * device the descriptor chains the guest makes available. Every guest
 * pointer is checked against RAM; a ring the guest corrupts (a descriptor
 * out of range, a loop, an index that runs ahead) is marked broken and no
 * longer served until the guest resets the device, and each such error is
 * counted for --stats.
 */
#ifndef LIGHTVM_VIRTIO_H
#define LIGHTVM_VIRTIO_H

#include <stddef.h>
#include <stdint.h>

#include "lightvm/devices.h"

#define VIRTIO_VENDOR 0x1af4
#define VIRTIO_MAX_QUEUES 3
#define VIRTQ_SIZE 256		/* descriptors per queue, as QEMU's virtio-net */
#define VIRTQ_MAX_CHAIN 64	/* buffers in one chain */

/* Device status bits the guest writes. */
#define VIRTIO_STATUS_DRIVER_OK 4

/* One ring: where the guest put it, and how far the device got. */
struct virtq {
	uint32_t pfn;		/* guest page of the descriptor table, 0 = none */
	uint16_t last_avail;	/* next available-ring entry to take */
	uint16_t used_idx;	/* next used-ring entry to fill */
	int broken;		/* the guest corrupted it: not served until reset */
};

/* One guest buffer of a chain, mapped in the monitor. */
struct virtq_buf {
	uint8_t *p;
	uint32_t len;
	int writable;		/* device-writable (VIRTQ_DESC_F_WRITE) */
};

/* A descriptor chain taken from the available ring. */
struct virtq_chain {
	uint16_t head;
	unsigned n;
	size_t readable, writable;	/* bytes in the buffers of each kind */
	struct virtq_buf buf[VIRTQ_MAX_CHAIN];
};

struct virtio_dev;

/* What a device model adds to the transport. */
struct virtio_ops {
	/* Read size bytes at offset of the device-specific configuration. */
	uint32_t (*config_read)(struct virtio_dev *v, unsigned offset, unsigned size);
	/* The guest notified queue q that it made buffers available. */
	void (*notify)(struct virtio_dev *v, unsigned q);
	/* The guest reset the device (status 0): drop what is in flight. */
	void (*reset)(struct virtio_dev *v);
};

struct virtio_dev {
	struct vm *vm;
	struct pci_function pci;
	const struct virtio_ops *ops;
	uint32_t host_features, guest_features;
	unsigned n_queues, config_size;
	uint16_t queue_sel;
	uint8_t status, isr;
	struct virtq vq[VIRTIO_MAX_QUEUES];
};

/*
 * Put v on the PCI bus as a transitional virtio device of type (1 = network,
 * 2 = block...) with the given PCI class, features, queues and bytes of
 * device configuration; -1 (logged) if the bus is full.
 */
int virtio_attach(struct virtio_dev *v, struct vm *vm, unsigned type, uint32_t class_code,
		  uint32_t features, unsigned n_queues, unsigned config_size,
		  const struct virtio_ops *ops);
/* Power-on state: no rings, status 0, interrupt line low. */
void virtio_reset(struct virtio_dev *v);
/* True if the driver is running (DRIVER_OK) and queue q is set up and sound. */
int virtq_ready(struct virtio_dev *v, unsigned q);
/* Take the next available chain of q into c: 1 if taken, 0 if none (or the ring broke). */
int virtq_pop(struct virtio_dev *v, unsigned q, struct virtq_chain *c);
/* Give back the chain just taken from q, unused (the device cannot take it now). */
void virtq_unpop(struct virtio_dev *v, unsigned q);
/* Return chain c of q to the guest with written bytes filled in. */
void virtq_push(struct virtio_dev *v, unsigned q, const struct virtq_chain *c, uint32_t written);
/* Interrupt the guest for q's used buffers, unless it asked for no interrupts. */
void virtq_interrupt(struct virtio_dev *v, unsigned q);
/* Copy len bytes from the chain's readable buffers, skipping skip bytes; bytes copied. */
size_t virtq_chain_read(const struct virtq_chain *c, size_t skip, void *dst, size_t len);
/* Copy len bytes into the chain's writable buffers, from byte skip of them on; bytes copied. */
size_t virtq_chain_write(const struct virtq_chain *c, size_t skip, const void *src, size_t len);
/* Append the transport's state to s. */
void virtio_save(const struct virtio_dev *v, struct dev_state *s);
/* Load what virtio_save wrote; -1 if it is malformed (v unchanged). */
int virtio_restore(struct virtio_dev *v, struct dev_state *s);

#endif

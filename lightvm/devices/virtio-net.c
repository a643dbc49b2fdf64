/*
 * virtio-net.c - a virtio network card (legacy/transitional PCI, 1af4:1000)
 * between the guest and the machine's network back end (--net; net-user/ is
 * one). Without a back end there is no card.
 *
 * Queue 0 receives, queue 1 transmits. The card offers only what every
 * driver of it speaks: a MAC address, link status and the back end's MTU
 * (up to 65520, 16000 by default: Linux then posts receive buffers of
 * several pages, and the guest's TCP moves that much per frame, so the
 * traps of each frame are paid ten times less often), no offloads, no merged buffers, no indirect descriptors, so that
 * each frame is one chain: a 10-byte virtio_net_hdr (all zero on receive,
 * ignored on transmit) and the Ethernet frame. A transmit notification sends every frame the guest
 * queued, then interrupts once; frames from the back end fill the guest's
 * receive buffers and interrupt once per batch. Frames that find no buffer
 * wait in a bounded queue until the guest adds buffers, then are dropped
 * (TCP recovers); every drop and every guest error is counted for --stats.
 */
#include <stdlib.h>
#include <string.h>

#include "lightvm/devices.h"
#include "lightvm/log.h"
#include "lightvm/virtio.h"

#define VIRTIO_TYPE_NET 1
#define CLASS_ETHERNET 0x020000u
#define F_MTU (1u << 3)
#define F_MAC (1u << 5)
#define F_STATUS (1u << 16)
#define LINK_UP 1
#define RXQ 0
#define TXQ 1
#define HDR_LEN 10		/* struct virtio_net_hdr without num_buffers */
#define MAX_FRAME 65535u	/* the largest frame passed either way */
#define PENDING_MAX 256		/* frames held for a guest short of buffers */
#define CONFIG_SIZE 12		/* mac[6], status, max_virtqueue_pairs, mtu */

struct frame {
	size_t len;
	uint8_t data[];
};

struct vnet {
	struct virtio_dev virtio;	/* first: the transport hands it back */
	struct vm *vm;
	int present;		/* attached to a back end and the PCI bus */
	uint8_t mac[6];
	uint16_t mtu;
	struct frame *pending[PENDING_MAX];	/* a ring of frames waiting for buffers */
	unsigned pend_head, pend_count;
	uint8_t tx_buf[HDR_LEN + MAX_FRAME];
};

/* QEMU's default for the first NIC, which slirp's DHCP and guests know. */
static const uint8_t default_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

static uint32_t vnet_config_read(struct virtio_dev *v, unsigned offset, unsigned size)
{
	struct vnet *n = (struct vnet *)v;
	uint8_t cfg[CONFIG_SIZE] = { 0 };
	uint32_t value = 0;

	memcpy(cfg, n->mac, 6);
	cfg[6] = LINK_UP;
	cfg[8] = 1;	/* one queue pair */
	cfg[10] = (uint8_t)n->mtu;
	cfg[11] = (uint8_t)(n->mtu >> 8);
	memcpy(&value, cfg + offset, size);
	return value;
}

/* Send every frame queued on the transmit ring, then interrupt once. */
static void transmit(struct vnet *n)
{
	struct virtq_chain c;
	unsigned sent = 0;

	while (virtq_pop(&n->virtio, TXQ, &c)) {
		if (c.readable < HDR_LEN || c.readable > sizeof(n->tx_buf)) {
			vm_count(n->vm, "net: malformed frames from the guest", 1);
		} else {
			size_t len = virtq_chain_read(&c, HDR_LEN, n->tx_buf, c.readable - HDR_LEN);

			vm_net_send(n->vm, n->tx_buf, len);
			vm_count(n->vm, "net: frames sent", 1);
			vm_count(n->vm, "net: bytes sent", len);
		}
		virtq_push(&n->virtio, TXQ, &c, 0);
		sent++;
	}
	if (sent)
		virtq_interrupt(&n->virtio, TXQ);
}

/* Put one frame in the next receive buffer: 1 if done, 0 if no buffer fits. */
static int deliver(struct vnet *n, const uint8_t *frame, size_t len)
{
	static const uint8_t hdr[HDR_LEN];
	struct virtq_chain c;

	if (!virtq_pop(&n->virtio, RXQ, &c))
		return 0;
	if (c.writable < HDR_LEN + len) {
		/* Buffers are all the same size: this frame fits none of them. */
		virtq_unpop(&n->virtio, RXQ);
		vm_count(n->vm, "net: frames dropped, larger than the guest's buffers", 1);
		return 1;
	}
	virtq_chain_write(&c, 0, hdr, HDR_LEN);
	virtq_chain_write(&c, HDR_LEN, frame, len);
	virtq_push(&n->virtio, RXQ, &c, (uint32_t)(HDR_LEN + len));
	vm_count(n->vm, "net: frames received", 1);
	vm_count(n->vm, "net: bytes received", len);
	return 1;
}

static void drop_pending(struct vnet *n)
{
	while (n->pend_count) {
		free(n->pending[n->pend_head]);
		n->pend_head = (n->pend_head + 1) % PENDING_MAX;
		n->pend_count--;
	}
	n->pend_head = 0;
}

/* Deliver held frames while buffers last; interrupt if any went in. */
static void flush_pending(struct vnet *n)
{
	unsigned delivered = 0;

	while (n->pend_count) {
		struct frame *f = n->pending[n->pend_head];

		if (!deliver(n, f->data, f->len))
			break;
		free(f);
		n->pend_head = (n->pend_head + 1) % PENDING_MAX;
		n->pend_count--;
		delivered++;
	}
	if (delivered)
		virtq_interrupt(&n->virtio, RXQ);
}

/* A frame from the back end: into a buffer now, or held until there is one. */
static void vnet_receive(void *nic, const uint8_t *data, size_t len)
{
	struct vnet *n = nic;
	struct frame *f;

	if (!virtq_ready(&n->virtio, RXQ)) {
		vm_count(n->vm, "net: frames dropped, no driver", 1);
		return;
	}
	if (!n->pend_count && deliver(n, data, len)) {
		virtq_interrupt(&n->virtio, RXQ);
		return;
	}
	if (n->pend_count == PENDING_MAX || len > MAX_FRAME ||
	    !(f = malloc(sizeof(*f) + len))) {
		vm_count(n->vm, "net: frames dropped, guest short of buffers", 1);
		return;
	}
	f->len = len;
	memcpy(f->data, data, len);
	n->pending[(n->pend_head + n->pend_count++) % PENDING_MAX] = f;
	flush_pending(n);
}

static void vnet_notify(struct virtio_dev *v, unsigned q)
{
	struct vnet *n = (struct vnet *)v;

	if (q == TXQ)
		transmit(n);
	else if (q == RXQ)
		flush_pending(n);
}

static void vnet_virtio_reset(struct virtio_dev *v)
{
	drop_pending((struct vnet *)v);
}

static const struct virtio_ops vnet_virtio_ops = {
	.config_read = vnet_config_read,
	.notify = vnet_notify,
	.reset = vnet_virtio_reset,
};

static int vnet_create(struct vm *vm, void **dev)
{
	struct vnet *n = calloc(1, sizeof(*n));

	if (!n) {
		log_error("out of memory");
		return -1;
	}
	n->vm = vm;
	memcpy(n->mac, default_mac, 6);
	*dev = n;
	if (!vm_net_present(vm))
		return 0;
	n->mtu = (uint16_t)vm_net_mtu(vm);
	if (virtio_attach(&n->virtio, vm, VIRTIO_TYPE_NET, CLASS_ETHERNET, F_MTU | F_MAC | F_STATUS, 2,
			  CONFIG_SIZE, &vnet_virtio_ops))
		return -1;
	vm_net_attach_nic(vm, vnet_receive, n);
	n->present = 1;
	return 0;
}

/* The card has no ports of its own: the PCI bus routes its BAR here. */
static uint32_t vnet_pio_read(void *dev, uint16_t port, unsigned size)
{
	(void)dev, (void)port, (void)size;
	return 0xffffffffu;
}

static void vnet_pio_write(void *dev, uint16_t port, unsigned size, uint32_t value)
{
	(void)dev, (void)port, (void)size, (void)value;
}

static void vnet_reset(void *dev)
{
	struct vnet *n = dev;

	drop_pending(n);
	if (n->present)
		virtio_reset(&n->virtio);
}

/* Frames in flight are not state: a restored guest sees them lost on the wire. */
static void vnet_save(void *dev, struct dev_state *s)
{
	struct vnet *n = dev;

	state_put_u8(s, (uint8_t)n->present);
	if (n->present)
		virtio_save(&n->virtio, s);
}

static int vnet_restore(void *dev, struct dev_state *s)
{
	struct vnet *n = dev;
	uint8_t present = state_get_u8(s);

	if (s->error || present != n->present) {
		log_error("virtio-net state is for a machine %s a network card",
			  present ? "with" : "without");
		return -1;
	}
	if (n->present && virtio_restore(&n->virtio, s))
		return -1;
	drop_pending(n);
	return 0;
}

static void vnet_destroy(void *dev)
{
	drop_pending(dev);
	free(dev);
}

static const struct device_ops virtio_net_ops = {
	.name = "virtio-net",
	.create = vnet_create,
	.pio_read = vnet_pio_read,
	.pio_write = vnet_pio_write,
	.reset = vnet_reset,
	.save = vnet_save,
	.restore = vnet_restore,
	.destroy = vnet_destroy,
};

DEVICE_REGISTER(virtio_net_ops);

/*
 * virtio.c - the legacy virtio PCI transport and split virtqueues (see
 * virtio.h). Register layout and ring layout are those of the virtio 0.9.5
 * specification that Linux's virtio_pci_legacy, NetBSD's virtio(4) and
 * FreeBSD's virtio_pci(4) drive: BAR0 holds the common registers, then the
 * device's configuration (no MSI-X); a queue is one guest-physical area of
 * VIRTQ_SIZE descriptors, the available ring, and, at the next 4 KiB
 * boundary, the used ring.
 *
 * The guest is stopped whenever the monitor runs, so ring accesses need no
 * memory barriers; they do need bounds checks, since the guest writes them.
 */
#include <string.h>

#include "lightvm/log.h"
#include "lightvm/virtio.h"

/* Common registers (offsets into BAR0). */
#define REG_HOST_FEATURES 0x00
#define REG_GUEST_FEATURES 0x04
#define REG_QUEUE_PFN 0x08
#define REG_QUEUE_NUM 0x0c
#define REG_QUEUE_SEL 0x0e
#define REG_QUEUE_NOTIFY 0x10
#define REG_STATUS 0x12
#define REG_ISR 0x13
#define REG_CONFIG 0x14

#define ISR_QUEUE 0x1

#define DESC_F_NEXT 1
#define DESC_F_WRITE 2
#define DESC_F_INDIRECT 4
#define AVAIL_F_NO_INTERRUPT 1

#define PAGE 4096u
#define DESC_BYTES 16u
#define AVAIL_BYTES (4u + 2u * VIRTQ_SIZE + 2u)
#define USED_OFFSET (((DESC_BYTES * VIRTQ_SIZE + AVAIL_BYTES) + PAGE - 1) & ~(PAGE - 1))
#define RING_BYTES (USED_OFFSET + 4u + 8u * VIRTQ_SIZE + 2u)

struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
} __attribute__((packed));

/* The whole ring area of q in the monitor, or NULL if it is not all RAM. */
static uint8_t *ring(struct virtio_dev *v, struct virtq *q)
{
	return q->pfn ? vm_dma(v->vm, (uint64_t)q->pfn * PAGE, RING_BYTES) : NULL;
}

static uint16_t get16(const uint8_t *p)
{
	uint16_t x;

	memcpy(&x, p, 2);
	return x;
}

static void put16(uint8_t *p, uint16_t x)
{
	memcpy(p, &x, 2);
}

static void put32(uint8_t *p, uint32_t x)
{
	memcpy(p, &x, 4);
}

/* Stop serving q: the guest broke it (counted, reported once per reset). */
static int break_queue(struct virtio_dev *v, struct virtq *q, const char *why)
{
	if (!q->broken)
		log_warn("virtio %04x: queue %u: %s; not served until the guest resets the device",
			 v->pci.device, (unsigned)(q - v->vq), why);
	q->broken = 1;
	vm_count(v->vm, "virtio: queues broken by the guest", 1);
	return 0;
}

static void update_irq(struct virtio_dev *v)
{
	vm_set_irq(v->vm, v->pci.irq, v->isr != 0);
}

int virtq_ready(struct virtio_dev *v, unsigned q)
{
	return q < v->n_queues && (v->status & VIRTIO_STATUS_DRIVER_OK) && v->vq[q].pfn &&
	       !v->vq[q].broken;
}

/* Add descriptor d to chain c; 0, or -1 with the reason. */
static int add_buffer(struct virtio_dev *v, struct virtq_chain *c, const struct desc *d,
		      const char **why)
{
	uint8_t *p;

	if (d->flags & DESC_F_INDIRECT)
		return *why = "indirect descriptor (not offered)", -1;
	if (c->n == VIRTQ_MAX_CHAIN)
		return *why = "descriptor chain too long or looping", -1;
	p = d->len ? vm_dma(v->vm, d->addr, d->len) : NULL;
	if (d->len && !p)
		return *why = "buffer outside guest RAM", -1;
	c->buf[c->n++] = (struct virtq_buf){ p, d->len, !!(d->flags & DESC_F_WRITE) };
	if (d->flags & DESC_F_WRITE)
		c->writable += d->len;
	else if (c->writable)
		return *why = "readable buffer after a writable one", -1;
	else
		c->readable += d->len;
	return 0;
}

int virtq_pop(struct virtio_dev *v, unsigned qi, struct virtq_chain *c)
{
	struct virtq *q = &v->vq[qi];
	uint8_t *r, *avail;
	uint16_t avail_idx, i;
	const char *why = NULL;

	if (!virtq_ready(v, qi))
		return 0;
	r = ring(v, q);
	if (!r)
		return break_queue(v, q, "ring outside guest RAM");
	avail = r + DESC_BYTES * VIRTQ_SIZE;
	avail_idx = get16(avail + 2);
	if (avail_idx == q->last_avail)
		return 0;
	if ((uint16_t)(avail_idx - q->last_avail) > VIRTQ_SIZE)
		return break_queue(v, q, "available index ran ahead of the ring");
	*c = (struct virtq_chain){ .head = get16(avail + 4 + 2 * (q->last_avail % VIRTQ_SIZE)) };
	i = c->head;
	for (;;) {
		struct desc d;

		if (i >= VIRTQ_SIZE)
			return break_queue(v, q, "descriptor index out of range");
		memcpy(&d, r + DESC_BYTES * i, sizeof(d));
		if (add_buffer(v, c, &d, &why))
			return break_queue(v, q, why);
		if (!(d.flags & DESC_F_NEXT))
			break;
		i = d.next;
	}
	q->last_avail++;
	return 1;
}

void virtq_unpop(struct virtio_dev *v, unsigned q)
{
	v->vq[q].last_avail--;
}

void virtq_push(struct virtio_dev *v, unsigned qi, const struct virtq_chain *c, uint32_t written)
{
	struct virtq *q = &v->vq[qi];
	uint8_t *r = ring(v, q), *used;

	if (!r)
		return;
	used = r + USED_OFFSET;
	put32(used + 4 + 8 * (q->used_idx % VIRTQ_SIZE), c->head);
	put32(used + 8 + 8 * (q->used_idx % VIRTQ_SIZE), written);
	q->used_idx++;
	put16(used + 2, q->used_idx);
}

void virtq_interrupt(struct virtio_dev *v, unsigned qi)
{
	uint8_t *r = ring(v, &v->vq[qi]);

	if (!r || (get16(r + DESC_BYTES * VIRTQ_SIZE) & AVAIL_F_NO_INTERRUPT))
		return;
	v->isr |= ISR_QUEUE;
	update_irq(v);
}

/* Copy between buf and the chain's buffers of one kind, from byte skip of them on. */
static size_t chain_copy(const struct virtq_chain *c, int writable, size_t skip, uint8_t *buf,
			 size_t len)
{
	size_t done = 0;

	for (unsigned i = 0; i < c->n && done < len; i++) {
		size_t n = c->buf[i].len;

		if (c->buf[i].writable != writable)
			continue;
		if (skip >= n) {
			skip -= n;
			continue;
		}
		n -= skip;
		if (n > len - done)
			n = len - done;
		if (writable)
			memcpy(c->buf[i].p + skip, buf + done, n);
		else
			memcpy(buf + done, c->buf[i].p + skip, n);
		done += n;
		skip = 0;
	}
	return done;
}

size_t virtq_chain_read(const struct virtq_chain *c, size_t skip, void *dst, size_t len)
{
	return chain_copy(c, 0, skip, dst, len);
}

size_t virtq_chain_write(const struct virtq_chain *c, size_t skip, const void *src, size_t len)
{
	return chain_copy(c, 1, skip, (uint8_t *)src, len);
}

void virtio_reset(struct virtio_dev *v)
{
	v->guest_features = 0;
	v->queue_sel = 0;
	v->status = 0;
	v->isr = 0;
	memset(v->vq, 0, sizeof(v->vq));
	update_irq(v);
}

/* The common registers as the guest reads them (ISR without its read side effect). */
static void common_image(const struct virtio_dev *v, uint8_t img[REG_CONFIG])
{
	uint32_t pfn = v->queue_sel < v->n_queues ? v->vq[v->queue_sel].pfn : 0;
	uint16_t num = v->queue_sel < v->n_queues ? VIRTQ_SIZE : 0;

	put32(img + REG_HOST_FEATURES, v->host_features);
	put32(img + REG_GUEST_FEATURES, v->guest_features);
	put32(img + REG_QUEUE_PFN, pfn);
	put16(img + REG_QUEUE_NUM, num);
	put16(img + REG_QUEUE_SEL, v->queue_sel);
	put16(img + REG_QUEUE_NOTIFY, 0);
	img[REG_STATUS] = v->status;
	img[REG_ISR] = v->isr;
}

static uint32_t virtio_io_read(void *dev, uint16_t offset, unsigned size)
{
	struct virtio_dev *v = dev;
	uint8_t img[REG_CONFIG];
	uint32_t value = 0;

	if (offset >= REG_CONFIG)
		return offset - REG_CONFIG + size <= v->config_size ?
			       v->ops->config_read(v, offset - REG_CONFIG, size) : 0xffffffffu;
	if (offset + size > REG_CONFIG)
		return 0xffffffffu;
	common_image(v, img);
	memcpy(&value, img + offset, size);
	if (offset <= REG_ISR && offset + size > REG_ISR) {	/* reading ISR acknowledges */
		v->isr = 0;
		update_irq(v);
	}
	return value;
}

/* The guest placed (pfn != 0) or removed the selected queue. */
static void set_queue_pfn(struct virtio_dev *v, uint32_t pfn)
{
	struct virtq *q;

	if (v->queue_sel >= v->n_queues)
		return;
	q = &v->vq[v->queue_sel];
	*q = (struct virtq){ .pfn = pfn };
	if (pfn && !ring(v, q))
		break_queue(v, q, "ring outside guest RAM");
}

static void set_status(struct virtio_dev *v, uint8_t status)
{
	if (status == 0) {
		virtio_reset(v);
		v->ops->reset(v);
		return;
	}
	v->status = status;
}

static void virtio_io_write(void *dev, uint16_t offset, unsigned size, uint32_t value)
{
	struct virtio_dev *v = dev;

	if (offset == REG_GUEST_FEATURES && size == 4)
		v->guest_features = value & v->host_features;
	else if (offset == REG_QUEUE_PFN && size == 4)
		set_queue_pfn(v, value);
	else if (offset == REG_QUEUE_SEL && size == 2)
		v->queue_sel = (uint16_t)value;
	else if (offset == REG_QUEUE_NOTIFY && size == 2) {
		if (value < v->n_queues)
			v->ops->notify(v, value);
	} else if (offset == REG_STATUS && size == 1)
		set_status(v, (uint8_t)value);
	else
		vm_count(v->vm, "virtio: writes to read-only or unknown registers", 1);
}

int virtio_attach(struct virtio_dev *v, struct vm *vm, unsigned type, uint32_t class_code,
		  uint32_t features, unsigned n_queues, unsigned config_size,
		  const struct virtio_ops *ops)
{
	uint16_t io_size = 32;

	while (io_size < REG_CONFIG + config_size)
		io_size *= 2;
	v->vm = vm;
	v->ops = ops;
	v->host_features = features;
	v->n_queues = n_queues < VIRTIO_MAX_QUEUES ? n_queues : VIRTIO_MAX_QUEUES;
	v->config_size = config_size;
	/* Transitional IDs: 0x1000 + type - 1 for the PCI device, type in the subsystem. */
	v->pci = (struct pci_function){ .vendor = VIRTIO_VENDOR,
					.device = (uint16_t)(0x1000 + type - 1),
					.subsystem_vendor = VIRTIO_VENDOR,
					.subsystem = (uint16_t)type,
					.class_code = class_code,
					.io_size = io_size,
					.dev = v,
					.io_read = virtio_io_read,
					.io_write = virtio_io_write };
	if (vm_pci_attach(vm, &v->pci) < 0) {
		log_error("no free PCI slot for a virtio device");
		return -1;
	}
	return 0;
}

void virtio_save(const struct virtio_dev *v, struct dev_state *s)
{
	state_put_u32(s, v->guest_features);
	state_put_u16(s, v->queue_sel);
	state_put_u8(s, v->status);
	state_put_u8(s, v->isr);
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++) {
		state_put_u32(s, v->vq[i].pfn);
		state_put_u16(s, v->vq[i].last_avail);
		state_put_u16(s, v->vq[i].used_idx);
		state_put_u8(s, (uint8_t)v->vq[i].broken);
	}
}

int virtio_restore(struct virtio_dev *v, struct dev_state *s)
{
	struct virtio_dev copy = *v;
	int ok = 1;

	copy.guest_features = state_get_u32(s);
	copy.queue_sel = state_get_u16(s);
	copy.status = state_get_u8(s);
	copy.isr = state_get_u8(s);
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++) {
		copy.vq[i].pfn = state_get_u32(s);
		copy.vq[i].last_avail = state_get_u16(s);
		copy.vq[i].used_idx = state_get_u16(s);
		copy.vq[i].broken = state_get_bool(s, &ok);
		if (i >= v->n_queues && copy.vq[i].pfn)
			ok = 0;
	}
	if (s->error || !ok || (copy.guest_features & ~v->host_features) || (copy.isr & ~3u)) {
		log_error("malformed virtio state");
		return -1;
	}
	*v = copy;
	update_irq(v);
	return 0;
}

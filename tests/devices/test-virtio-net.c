/*
 * test-virtio-net.c - the virtio-net card and the legacy virtio transport,
 * driven as a guest driver drives them: found on the PCI bus (IDs, class,
 * BAR0, INTA line), features and MAC read, rings placed, frames sent and
 * received through descriptor chains split at odd places, interrupts raised
 * once per batch and acknowledged by reading the ISR, frames held while the
 * guest has no receive buffer and dropped beyond the bound, and a guest that
 * corrupts its rings (descriptor out of range, loop, index running ahead,
 * buffer outside RAM, indirect descriptor) gets its queue stopped and
 * counted, never a crash, until it resets the device.
 */
#include <stdlib.h>
#include <string.h>

#include "tests/devices/check.h"
#include "tests/devices/fakevm.h"

#define RAM (4u << 20)
#define QSIZE 256
#define RXQ_PFN 0x100		/* guest pages of the two rings */
#define TXQ_PFN 0x110
#define BUF_BASE 0x200000u	/* buffers */
#define USED_OFF 0x2000u	/* (16 * 256 + 6 + 2 * 256 + page - 1) & ~(page - 1) */
#define IRQ 11

static struct vm *vm;
static struct device_set *set;
static uint16_t bar;

static uint8_t *ram(uint32_t gpa)
{
	return fakevm_ram(vm) + gpa;
}

static void put16(uint32_t gpa, uint16_t v)
{
	memcpy(ram(gpa), &v, 2);
}

static uint16_t get16(uint32_t gpa)
{
	uint16_t v;

	memcpy(&v, ram(gpa), 2);
	return v;
}

static uint32_t get32(uint32_t gpa)
{
	uint32_t v;

	memcpy(&v, ram(gpa), 4);
	return v;
}

static void set_desc(uint32_t pfn, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	uint8_t *d = ram(pfn * 4096u + 16 * i);

	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
}

/* Make head available as entry idx of the ring at pfn and publish idx + 1. */
static void make_available(uint32_t pfn, uint16_t idx, uint16_t head)
{
	uint32_t avail = pfn * 4096u + 16 * QSIZE;

	put16(avail + 4 + 2 * (idx % QSIZE), head);
	put16(avail + 2, (uint16_t)(idx + 1));
}

static uint16_t used_idx(uint32_t pfn)
{
	return get16(pfn * 4096u + USED_OFF + 2);
}

/* Set up the card as Linux does: features, rings, DRIVER_OK. */
static void driver_start(void)
{
	devices_pio_write(set, bar + 0x12, 1, 0);	/* reset */
	devices_pio_write(set, bar + 0x12, 1, 1 | 2);	/* ACKNOWLEDGE | DRIVER */
	devices_pio_write(set, bar + 0x04, 4, devices_pio_read(set, bar, 4));
	memset(ram(RXQ_PFN * 4096u), 0, 0x3000);
	memset(ram(TXQ_PFN * 4096u), 0, 0x3000);
	devices_pio_write(set, bar + 0x0e, 2, 0);
	CHECK_EQ(devices_pio_read(set, bar + 0x0c, 2), QSIZE);
	devices_pio_write(set, bar + 0x08, 4, RXQ_PFN);
	devices_pio_write(set, bar + 0x0e, 2, 1);
	devices_pio_write(set, bar + 0x08, 4, TXQ_PFN);
	devices_pio_write(set, bar + 0x12, 1, 1 | 2 | 4);	/* DRIVER_OK */
}

static void test_discovery(void)
{
	CHECK_EQ(fakevm_pci_read(set, 3, 0x00, 4), 0x10001af4u);
	CHECK_EQ(fakevm_pci_read(set, 3, 0x08, 4) >> 8, 0x020000u);	/* Ethernet controller */
	CHECK_EQ(fakevm_pci_read(set, 3, 0x2c, 4), 0x00011af4u);	/* subsystem: virtio type 1, network */
	CHECK_EQ(fakevm_pci_read(set, 3, 0x3d, 1), 1);	/* INTA */
	CHECK_EQ(fakevm_pci_read(set, 3, 0x3c, 1), IRQ);
	CHECK_EQ(fakevm_pci_read(set, 3, 0x04, 2) & 1, 1);	/* I/O decoding on, as firmware leaves it */
	bar = (uint16_t)(fakevm_pci_read(set, 3, 0x10, 4) & ~3u);
	CHECK(bar >= 0x1000);
	/* BAR sizing: all ones reads back the size mask with the I/O bit. */
	fakevm_pci_write(set, 3, 0x10, 4, 0xffffffffu);
	CHECK_EQ(fakevm_pci_read(set, 3, 0x10, 4), 0xffffffe1u);
	fakevm_pci_write(set, 3, 0x10, 4, 0xd000);
	CHECK_EQ(fakevm_pci_read(set, 3, 0x10, 4), 0xd001u);
	bar = 0xd000;
	/* The BAR decodes only while I/O decoding is on. */
	fakevm_pci_write(set, 3, 0x04, 2, 0);
	CHECK_EQ(devices_pio_read(set, bar + 0x14, 1), 0xff);
	fakevm_pci_write(set, 3, 0x04, 2, 1);
	CHECK_EQ(devices_pio_read(set, bar + 0x14, 1), 0x52);
	/* Features: MTU, MAC and STATUS; the MAC, link up, one queue pair and
	 * the back end's MTU in the config. */
	CHECK_EQ(devices_pio_read(set, bar + 0x00, 4), (1u << 3) | (1u << 5) | (1u << 16));
	CHECK_EQ(devices_pio_read(set, bar + 0x14, 4), 0x12005452u);
	CHECK_EQ(devices_pio_read(set, bar + 0x18, 2), 0x5634u);
	CHECK_EQ(devices_pio_read(set, bar + 0x1a, 2), 1);
	CHECK_EQ(devices_pio_read(set, bar + 0x1c, 2), 1);
	CHECK_EQ(devices_pio_read(set, bar + 0x1e, 2), 65520);
	/* A slot with nothing in it. */
	CHECK_EQ(fakevm_pci_read(set, 4, 0x00, 4), 0xffffffffu);
}

static void test_transmit(void)
{
	const uint8_t *frame;
	size_t len;
	unsigned before = fakevm_net_sent(vm, 0, &frame, &len);

	driver_start();
	/* Frame 1: the header in one buffer, 60 bytes of frame in two more. */
	memset(ram(BUF_BASE), 0, 10);
	for (int i = 0; i < 60; i++)
		*ram(BUF_BASE + 0x100 + i) = (uint8_t)i;
	set_desc(TXQ_PFN, 0, BUF_BASE, 10, 1, 1);
	set_desc(TXQ_PFN, 1, BUF_BASE + 0x100, 25, 1, 2);
	set_desc(TXQ_PFN, 2, BUF_BASE + 0x100 + 25, 35, 0, 0);
	make_available(TXQ_PFN, 0, 0);
	/* Frame 2: header and frame in one buffer. */
	memset(ram(BUF_BASE + 0x1000), 0xab, 10 + 42);
	set_desc(TXQ_PFN, 5, BUF_BASE + 0x1000, 52, 0, 0);
	make_available(TXQ_PFN, 1, 5);
	fakevm_irq_clear_counts(vm);
	devices_pio_write(set, bar + 0x10, 2, 1);	/* notify the transmit queue */
	CHECK_EQ(fakevm_net_sent(vm, before, &frame, &len), before + 2);
	CHECK_EQ(len, 60);
	CHECK(len == 60 && frame[0] == 0 && frame[59] == 59 && frame[25] == 25);
	fakevm_net_sent(vm, before + 1, &frame, &len);
	CHECK_EQ(len, 42);
	CHECK_EQ(used_idx(TXQ_PFN), 2);
	CHECK_EQ(get32(TXQ_PFN * 4096u + USED_OFF + 4), 0);	/* head of the first */
	CHECK_EQ(get32(TXQ_PFN * 4096u + USED_OFF + 12), 5);	/* head of the second */
	CHECK_EQ(fakevm_irq_rises(vm, IRQ), 1);	/* one interrupt for the batch */
	CHECK_EQ(devices_pio_read(set, bar + 0x13, 1), 1);	/* ISR: queue */
	CHECK_EQ(fakevm_irq_level(vm, IRQ), 0);	/* reading ISR acknowledged it */
	CHECK_EQ(devices_pio_read(set, bar + 0x13, 1), 0);
	/* With VRING_AVAIL_F_NO_INTERRUPT the guest gets no interrupt. */
	put16(TXQ_PFN * 4096u + 16 * QSIZE, 1);
	set_desc(TXQ_PFN, 6, BUF_BASE + 0x1000, 52, 0, 0);
	make_available(TXQ_PFN, 2, 6);
	fakevm_irq_clear_counts(vm);
	devices_pio_write(set, bar + 0x10, 2, 1);
	CHECK_EQ(used_idx(TXQ_PFN), 3);
	CHECK_EQ(fakevm_irq_rises(vm, IRQ), 0);
	/* A chain too short to hold the header is returned, not sent. */
	put16(TXQ_PFN * 4096u + 16 * QSIZE, 0);
	set_desc(TXQ_PFN, 7, BUF_BASE, 4, 0, 0);
	make_available(TXQ_PFN, 3, 7);
	devices_pio_write(set, bar + 0x10, 2, 1);
	CHECK_EQ(used_idx(TXQ_PFN), 4);
	CHECK_EQ(fakevm_net_sent(vm, 0, &frame, &len), before + 3);
	CHECK_EQ(fakevm_count(vm, "net: malformed frames from the guest"), 1);
}

/* Post n receive buffers of size bytes each, header and frame in one. */
static void post_rx(unsigned first, unsigned n, uint32_t size)
{
	uint16_t idx = get16(RXQ_PFN * 4096u + 16 * QSIZE + 2);

	for (unsigned i = 0; i < n; i++) {
		set_desc(RXQ_PFN, first + i, BUF_BASE + 0x10000 + 0x800 * (first + i), size, 2, 0);
		make_available(RXQ_PFN, (uint16_t)(idx + i), (uint16_t)(first + i));
	}
}

static void test_receive(void)
{
	uint8_t frame[1514];

	driver_start();
	for (unsigned i = 0; i < sizeof(frame); i++)
		frame[i] = (uint8_t)(i * 7);
	post_rx(0, 2, 1528);
	fakevm_irq_clear_counts(vm);
	fakevm_net_deliver(vm, frame, sizeof(frame));
	CHECK_EQ(used_idx(RXQ_PFN), 1);
	CHECK_EQ(get32(RXQ_PFN * 4096u + USED_OFF + 8), 10 + sizeof(frame));
	CHECK(!memcmp(ram(BUF_BASE + 0x10000 + 10), frame, sizeof(frame)));
	CHECK_EQ(*ram(BUF_BASE + 0x10000), 0);	/* the header is zero: no offloads */
	CHECK_EQ(fakevm_irq_rises(vm, IRQ), 1);
	/* A buffer split in two writable descriptors takes the frame across both. */
	set_desc(RXQ_PFN, 10, BUF_BASE + 0x30000, 7, 2 | 1, 11);
	set_desc(RXQ_PFN, 11, BUF_BASE + 0x31000, 2000, 2, 0);
	make_available(RXQ_PFN, 2, 10);
	fakevm_net_deliver(vm, frame, 100);	/* into buffer 1, then 10+11 */
	fakevm_net_deliver(vm, frame, 100);
	CHECK_EQ(used_idx(RXQ_PFN), 3);
	CHECK(!memcmp(ram(BUF_BASE + 0x31000 + 3), frame, 100));
	/* No buffer: frames wait, and go in when the guest posts buffers. */
	fakevm_net_deliver(vm, frame, 60);
	fakevm_net_deliver(vm, frame + 1, 60);
	CHECK_EQ(used_idx(RXQ_PFN), 3);
	post_rx(20, 1, 1528);
	devices_pio_write(set, bar + 0x10, 2, 0);	/* notify the receive queue */
	CHECK_EQ(used_idx(RXQ_PFN), 4);
	CHECK(!memcmp(ram(BUF_BASE + 0x10000 + 0x800 * 20 + 10), frame, 60));
	post_rx(21, 1, 1528);
	devices_pio_write(set, bar + 0x10, 2, 0);
	CHECK_EQ(used_idx(RXQ_PFN), 5);
	CHECK(!memcmp(ram(BUF_BASE + 0x10000 + 0x800 * 21 + 10), frame + 1, 60));
	/* The wait is bounded: beyond 256 held frames they are dropped and counted. */
	for (int i = 0; i < 300; i++)
		fakevm_net_deliver(vm, frame, 60);
	CHECK_EQ(fakevm_count(vm, "net: frames dropped, guest short of buffers"), 300 - 256);
	/* A frame larger than the buffers is dropped; the buffer stays the guest's. */
	devices_pio_write(set, bar + 0x12, 1, 0);	/* reset drops the held frames */
	driver_start();
	post_rx(0, 1, 100);
	fakevm_net_deliver(vm, frame, 200);
	CHECK_EQ(used_idx(RXQ_PFN), 0);
	CHECK_EQ(fakevm_count(vm, "net: frames dropped, larger than the guest's buffers"), 1);
	fakevm_net_deliver(vm, frame, 50);
	CHECK_EQ(used_idx(RXQ_PFN), 1);
	/* Before DRIVER_OK, frames are dropped. */
	devices_pio_write(set, bar + 0x12, 1, 0);
	fakevm_net_deliver(vm, frame, 50);
	CHECK_EQ(fakevm_count(vm, "net: frames dropped, no driver"), 1);
}

/* Notify the transmit queue holding one chain from head; 1 if it was sent. */
static int send_chain(uint16_t idx, uint16_t head)
{
	const uint8_t *frame;
	size_t len;
	unsigned before = fakevm_net_sent(vm, 0, &frame, &len);

	make_available(TXQ_PFN, idx, head);
	devices_pio_write(set, bar + 0x10, 2, 1);
	return fakevm_net_sent(vm, 0, &frame, &len) > before;
}

static void test_hostile_rings(void)
{
	const char *broken = "virtio: queues broken by the guest";
	uint64_t n0 = fakevm_count(vm, broken);

	/* A descriptor chain that loops. */
	driver_start();
	set_desc(TXQ_PFN, 0, BUF_BASE, 20, 1, 1);
	set_desc(TXQ_PFN, 1, BUF_BASE, 20, 1, 0);
	CHECK(!send_chain(0, 0));
	CHECK_EQ(fakevm_count(vm, broken), n0 + 1);
	/* The queue stays stopped: a good chain is not served until reset. */
	set_desc(TXQ_PFN, 2, BUF_BASE, 20, 0, 0);
	CHECK(!send_chain(1, 2));
	driver_start();
	set_desc(TXQ_PFN, 2, BUF_BASE, 20, 0, 0);
	CHECK(send_chain(0, 2));
	/* A head index beyond the ring. */
	CHECK(!send_chain(1, 300));
	CHECK_EQ(fakevm_count(vm, broken), n0 + 2);
	/* next beyond the ring. */
	driver_start();
	set_desc(TXQ_PFN, 3, BUF_BASE, 20, 1, 999);
	CHECK(!send_chain(0, 3));
	/* A buffer outside RAM, and one whose length wraps past 4 GiB. */
	driver_start();
	set_desc(TXQ_PFN, 4, RAM - 8, 20, 0, 0);
	CHECK(!send_chain(0, 4));
	driver_start();
	set_desc(TXQ_PFN, 4, 0xfffffffffffffff0ull, 0x20, 0, 0);
	CHECK(!send_chain(0, 4));
	/* An indirect descriptor, which the card never offered. */
	driver_start();
	set_desc(TXQ_PFN, 5, BUF_BASE, 32, 4, 0);
	CHECK(!send_chain(0, 5));
	/* An available index that runs more than the ring ahead. */
	driver_start();
	set_desc(TXQ_PFN, 6, BUF_BASE, 20, 0, 0);
	put16(TXQ_PFN * 4096u + 16 * QSIZE + 4, 6);
	put16(TXQ_PFN * 4096u + 16 * QSIZE + 2, 1000);
	devices_pio_write(set, bar + 0x10, 2, 1);
	CHECK_EQ(used_idx(TXQ_PFN), 0);
	CHECK_EQ(fakevm_count(vm, broken), n0 + 7);
	/* A ring placed outside RAM, and notifications of queues that do not exist. */
	driver_start();
	devices_pio_write(set, bar + 0x0e, 2, 1);
	devices_pio_write(set, bar + 0x08, 4, 0xfffff);
	CHECK_EQ(fakevm_count(vm, broken), n0 + 8);
	devices_pio_write(set, bar + 0x10, 2, 1);
	devices_pio_write(set, bar + 0x10, 2, 7);
	devices_pio_write(set, bar + 0x0e, 2, 9);
	devices_pio_write(set, bar + 0x08, 4, 0x123);
	CHECK_EQ(devices_pio_read(set, bar + 0x0c, 2), 0);	/* queue 9 has no size */
	/* Odd-sized and out-of-range register accesses. */
	CHECK_EQ(devices_pio_read(set, bar + 0x40, 1), 0xff);
	devices_pio_write(set, bar + 0x00, 4, 0);
	CHECK_EQ(devices_pio_read(set, bar + 0x00, 4), (1u << 3) | (1u << 5) | (1u << 16));
}

static void test_save_restore(void)
{
	struct dev_state s = { 0 };

	driver_start();
	devices_save(set, &s);
	devices_pio_write(set, bar + 0x12, 1, 0);
	CHECK_EQ(devices_pio_read(set, bar + 0x12, 1), 0);
	s.pos = 0;
	CHECK_EQ(devices_restore(set, &s), 0);
	CHECK_EQ(devices_pio_read(set, bar + 0x12, 1), 7);
	devices_pio_write(set, bar + 0x0e, 2, 1);
	CHECK_EQ(devices_pio_read(set, bar + 0x08, 4), TXQ_PFN);
	free(s.buf);
}

int main(void)
{
	vm = fakevm_new(RAM);
	fakevm_enable_net(vm);
	set = devices_create(vm);
	CHECK(set != NULL);
	if (!set)
		return check_done("test-virtio-net");
	test_discovery();
	test_transmit();
	test_receive();
	test_hostile_rings();
	test_save_restore();
	devices_destroy(set);
	fakevm_free(vm);
	return check_done("test-virtio-net");
}

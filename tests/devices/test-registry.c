/*
 * test-registry.c - the port dispatcher (unclaimed ports, wide and
 * straddling accesses, unknown ports traced once), the power-off and reset
 * registers, the i8042 and the debug ports, and save/reset/restore of the
 * whole device set, including refusal of truncated and corrupt state.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lightvm/log.h"
#include "tests/devices/check.h"
#include "tests/devices/fakevm.h"

static struct vm *vm;
static struct device_set *set;

static void out(uint16_t port, unsigned size, uint32_t v)
{
	devices_pio_write(set, port, size, v);
}

static uint32_t in(uint16_t port, unsigned size)
{
	return devices_pio_read(set, port, size);
}

static unsigned stops(int *reset)
{
	return fakevm_stops(vm, reset, NULL);
}

static void test_unclaimed(void)
{
	unsigned s0 = stops(NULL);

	CHECK_EQ(in(0x200, 1), 0xff);
	CHECK_EQ(in(0x200, 2), 0xffff);
	CHECK_EQ(in(0x200, 4), 0xffffffff);
	out(0x200, 1, 0);
	out(0x200, 4, 0);
	CHECK_EQ(in(0xfffe, 4), 0xffffffff);	/* runs off the end */
	CHECK_EQ(in(0x200, 3), 0xffffffff);	/* no such access size */

	/* An access that straddles a device and a hole is nobody's; the PCI
	 * address dword at 0xcf8 is PCI's and must not hit the reset register
	 * 0xcf9 (a byte write of 0x04 there would reset). */
	out(0xcf8, 4, 0x80000400);
	CHECK_EQ(in(0xcf8, 4), 0x80000400);
	CHECK_EQ(stops(NULL), s0);
	CHECK_EQ(in(0x3ff, 2), 0xffff);

	/* A wide access inside one 8-bit device is split into bytes. */
	out(0x70, 2, 0x5a50);			/* index 0x50, data 0x5a */
	out(0x70, 1, 0x50);
	CHECK_EQ(in(0x71, 1), 0x5a);
	CHECK_EQ(in(0x70, 2), 0x5aff);		/* 0x70 reads 0xff */
}

static void test_power(void)
{
	int reset = -1;
	unsigned s0 = stops(NULL);

	out(0x604, 2, 0x2000);			/* what the micro-guests write */
	CHECK_EQ(stops(&reset), s0 + 1);
	CHECK_EQ(reset, 0);
	out(0x604, 2, 0x3400);			/* SLP_TYP 5: not supported */
	CHECK_EQ(stops(NULL), s0 + 1);
	CHECK_EQ(in(0x604, 2), 0x1400);		/* SLP_EN reads 0 */
	out(0x605, 1, 0x20);			/* byte write of SLP_EN, type 0 */
	CHECK_EQ(stops(&reset), s0 + 2);
	CHECK_EQ(reset, 0);

	out(0xcf9, 1, 0x02);
	CHECK_EQ(stops(NULL), s0 + 2);
	CHECK_EQ(in(0xcf9, 1), 0x02);
	out(0xcf9, 1, 0x06);			/* Linux's reboot=pci */
	CHECK_EQ(stops(&reset), s0 + 3);
	CHECK_EQ(reset, 1);

	CHECK_EQ(in(0x92, 1), 0x02);		/* A20 on */
	out(0x92, 1, 0x03);
	CHECK_EQ(stops(&reset), s0 + 4);
	CHECK_EQ(reset, 1);
	out(0x92, 1, 0x03);			/* no new 0 -> 1 edge */
	CHECK_EQ(stops(NULL), s0 + 4);
	out(0x92, 1, 0x02);
	CHECK_EQ(stops(NULL), s0 + 4);
}

static void test_i8042(void)
{
	int reset = -1;
	unsigned s0 = stops(NULL);

	CHECK_EQ(in(0x64, 1) & 0x03, 0);	/* both buffers empty */
	CHECK_EQ(in(0x60, 1), 0);
	out(0x64, 1, 0xaa);			/* self-test: accepted, ignored */
	out(0x64, 1, 0xff);			/* pulses nothing (bit 0 set) */
	CHECK_EQ(stops(NULL), s0);
	out(0x64, 1, 0xd1);
	out(0x60, 1, 0xdf);			/* output port, reset line high */
	CHECK_EQ(stops(NULL), s0);
	out(0x64, 1, 0xfe);			/* pulse reset */
	CHECK_EQ(stops(&reset), s0 + 1);
	CHECK_EQ(reset, 1);
	out(0x64, 1, 0xd1);
	out(0x60, 1, 0xde);			/* output port, reset line low */
	CHECK_EQ(stops(&reset), s0 + 2);
}

static void test_debugport(void)
{
	char buf[8] = { 0 };

	out(0xe9, 1, 'o');
	out(0xe9, 1, 'k');
	CHECK_EQ(fakevm_console_output(vm, buf, sizeof(buf) - 1), 2);
	CHECK(!strcmp(buf, "ok"));
	CHECK_EQ(in(0xe9, 1), 0xe9);
	out(0x80, 1, 0x55);
	CHECK_EQ(in(0x80, 1), 0xff);
	CHECK_EQ(fakevm_console_output(vm, buf, sizeof(buf) - 1), 0);
}

/* Put every device in a state far from power-on. */
static void busy_state(void)
{
	static const uint8_t pic_init[][2] = {
		{ 0x20, 0x11 }, { 0x21, 0x20 }, { 0x21, 0x04 }, { 0x21, 0x01 },
		{ 0xa0, 0x11 }, { 0xa1, 0x28 }, { 0xa1, 0x02 }, { 0xa1, 0x01 },
		{ 0x21, 0x10 }, { 0xa1, 0x40 },
	};
	void *pic;
	const struct intc_ops *intc = fakevm_intc(vm, &pic);

	for (unsigned i = 0; i < sizeof(pic_init) / sizeof(pic_init[0]); i++)
		out(pic_init[i][0], 1, pic_init[i][1]);
	out(0x4d0, 1, 0x20);
	intc->set_irq(pic, 3, 1);
	intc->ack(pic);
	intc->set_irq(pic, 4, 1);		/* masked: stays in IRR */
	intc->set_irq(pic, 5, 1);		/* level */
	out(0x20, 1, 0x0b);			/* port 0x20 reads ISR */

	out(0x43, 1, 0x34);			/* channel 0: mode 2 */
	out(0x40, 1, 0xa9);
	out(0x40, 1, 0x04);
	out(0x61, 1, 0x03);
	out(0x43, 1, 0xb0);			/* channel 2: mode 0 */
	out(0x42, 1, 0x00);
	out(0x42, 1, 0x80);
	out(0x43, 1, 0x74);			/* channel 1: LSB written only */
	out(0x41, 1, 0x12);
	fakevm_advance(1234567);
	out(0x43, 1, 0x00);			/* latch channel 0 ... */
	in(0x40, 1);				/* ... and read half of it */

	out(0x3fb, 1, 0x83);
	out(0x3f8, 1, 0x03);
	out(0x3fb, 1, 0x1b);
	out(0x3fa, 1, 0x81);			/* FIFO, trigger 8 */
	out(0x3f9, 1, 0x0f);
	out(0x3fc, 1, 0x0b);
	out(0x3ff, 1, 0x77);
	/* Twelve bytes that wrap around the end of the FIFO's ring. */
	fakevm_console_input(vm, "0123456789", 10);
	fakevm_run_watchers(vm);
	for (int i = 0; i < 8; i++)
		in(0x3f8, 1);
	fakevm_console_input(vm, "abcdefghij", 10);
	fakevm_run_watchers(vm);

	out(0x70, 1, 0x0b);
	out(0x71, 1, 0x46);			/* PIE, binary, 24 h */
	out(0x70, 1, 0x01);
	out(0x71, 1, 0x33);
	out(0x70, 1, 0x60);
	out(0x71, 1, 0x99);
	fakevm_advance(3000000);		/* periodic flags pending */
	out(0x70, 1, 0x8c);			/* NMI masked, index C */

	out(0x604, 2, 0x0001);
	out(0xcf9, 1, 0x02);
	out(0x64, 1, 0x20);
}

/* The same reads, side effects and all, from any state. */
static const struct {
	uint16_t port;
	uint8_t index;		/* CMOS register to select first, or 0xff */
} reads[] = {
	{ 0x20, 0xff }, { 0x21, 0xff }, { 0xa0, 0xff }, { 0xa1, 0xff }, { 0x4d0, 0xff },
	{ 0x4d1, 0xff }, { 0x40, 0xff }, { 0x40, 0xff }, { 0x41, 0xff }, { 0x42, 0xff },
	{ 0x42, 0xff }, { 0x61, 0xff }, { 0x3f9, 0xff }, { 0x3fa, 0xff }, { 0x3fb, 0xff },
	{ 0x3fc, 0xff }, { 0x3fd, 0xff }, { 0x3fe, 0xff }, { 0x3ff, 0xff }, { 0x3f8, 0xff },
	{ 0x3f8, 0xff }, { 0x3f8, 0xff }, { 0x3f8, 0xff }, { 0x3f8, 0xff }, { 0x3f8, 0xff },
	{ 0x3f8, 0xff }, { 0x3f8, 0xff }, { 0x3f8, 0xff }, { 0x3f8, 0xff }, { 0x3fd, 0xff }, { 0x64, 0xff }, { 0x604, 0xff }, { 0xcf9, 0xff },
	{ 0x92, 0xff }, { 0x71, 0xff }, { 0x71, 0x00 }, { 0x71, 0x01 }, { 0x71, 0x04 },
	{ 0x71, 0x0a }, { 0x71, 0x0b }, { 0x71, 0x0c }, { 0x71, 0x0c }, { 0x71, 0x60 },
	{ 0x71, 0x17 },
};
#define NREADS (sizeof(reads) / sizeof(reads[0]))

static void read_all(uint32_t *v, int *nmi)
{
	void *cmos = devices_find(set, "cmos");

	*nmi = cmos_nmi_masked(cmos);
	for (unsigned i = 0; i < NREADS; i++) {
		if (reads[i].index != 0xff)
			out(0x70, 1, reads[i].index);
		v[i] = in(reads[i].port, reads[i].port == 0x604 ? 2 : 1);
	}
}

static struct dev_state save_all(void)
{
	struct dev_state s = { 0 };

	devices_save(set, &s);
	CHECK(!s.error);
	return s;
}

static int restore_bytes(const uint8_t *buf, size_t len)
{
	struct dev_state s = { .buf = (uint8_t *)buf, .len = len };

	return devices_restore(set, &s);
}

static int same_state(const struct dev_state *a, const struct dev_state *b)
{
	return a->len == b->len && !memcmp(a->buf, b->buf, a->len);
}

static void test_round_trip(void)
{
	uint32_t before[NREADS], after_reset[NREADS], after[NREADS];
	int nmi_before, nmi_reset, nmi_after, differ = 0;
	struct dev_state s1, s2;

	busy_state();
	s1 = save_all();
	read_all(before, &nmi_before);
	devices_reset(set);
	read_all(after_reset, &nmi_reset);
	for (unsigned i = 0; i < NREADS; i++)
		differ += before[i] != after_reset[i];
	CHECK(differ > 10);			/* reset really reset */
	CHECK(nmi_reset != nmi_before);

	CHECK_EQ(restore_bytes(s1.buf, s1.len), 0);
	read_all(after, &nmi_after);
	for (unsigned i = 0; i < NREADS; i++)
		if (before[i] != after[i]) {
			fprintf(stderr, "read %u (port %#x, index %#x): %#x before, %#x after restore\n",
				i, reads[i].port, reads[i].index, before[i], after[i]);
			check_failures++;
		}
	CHECK_EQ(nmi_after, nmi_before);

	/* Saved again after a restore, the state is the same, byte for byte. */
	CHECK_EQ(restore_bytes(s1.buf, s1.len), 0);
	s2 = save_all();
	CHECK(same_state(&s1, &s2));
	free(s1.buf);
	free(s2.buf);
}

/* Where a device's record lies in a saved state. */
struct where {
	size_t len_off, data_off, len;
};

static int find_record(const struct dev_state *s, const char *name, struct where *w)
{
	size_t p = 12;

	while (p < s->len) {
		size_t n = s->buf[p], len;

		len = s->buf[p + 1 + n] | s->buf[p + 2 + n] << 8 | s->buf[p + 3 + n] << 16 |
		      (size_t)s->buf[p + 4 + n] << 24;
		if (n == strlen(name) && !memcmp(s->buf + p + 1, name, n)) {
			w->len_off = p + 1 + n;
			w->data_off = p + 5 + n;
			w->len = len;
			return 0;
		}
		p += 5 + n + len;
	}
	return -1;
}

/* The devices' state before each bad restore: not the state being restored,
 * so that a device that took its record before another refused shows. */
static struct dev_state current;

/* Restore a copy of s with one byte changed: it must be refused and
 * leave every device as it was. */
static void expect_refused_patch(const struct dev_state *s, size_t off, uint8_t v, const char *what)
{
	uint8_t *copy = malloc(s->len);
	struct dev_state now;

	memcpy(copy, s->buf, s->len);
	copy[off] = v;
	if (restore_bytes(copy, s->len) != -1) {
		fprintf(stderr, "corrupt state accepted: %s\n", what);
		check_failures++;
	}
	now = save_all();
	if (!same_state(&current, &now)) {
		fprintf(stderr, "a refused restore changed the devices: %s\n", what);
		check_failures++;
	}
	free(now.buf);
	free(copy);
}

static void test_corrupt(void)
{
	struct dev_state s = save_all(), now;
	static const struct {
		const char *device;
		size_t off;
		uint8_t v;
	} bad_fields[] = {
		{ "pic", 9, 9 },	/* lowest priority 9 */
		{ "pic", 5, 0x21 },	/* vector base not a multiple of 8 */
		{ "pic", 11, 2 },	/* a flag that is neither 0 nor 1 */
		{ "pit", 0, 0xc0 },	/* a control word with the read-back select */
		{ "uart", 0, 17 },	/* more bytes than the FIFO holds */
		{ "cmos", 128, 0x80 },	/* index beyond the RAM */
		{ "power", 2, 0x04 },	/* a reset bit stored */
		{ "i8042", 0, 2 },
	};
	struct where w;
	size_t lens[] = { 0, 4, 8, 12, 13, s.len / 2, s.len - 1 };

	devices_reset(set);
	current = save_all();
	CHECK(!same_state(&s, &current));
	for (unsigned i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		CHECK_EQ(restore_bytes(s.buf, lens[i]), -1);
		now = save_all();
		CHECK(same_state(&current, &now));
		free(now.buf);
	}
	expect_refused_patch(&s, 0, 'X', "magic");
	expect_refused_patch(&s, 8, (uint8_t)(s.buf[8] + 1), "device count");
	expect_refused_patch(&s, 13, (uint8_t)(s.buf[13] ^ 0x20), "device name");
	for (unsigned i = 0; i < sizeof(bad_fields) / sizeof(bad_fields[0]); i++) {
		CHECK_EQ(find_record(&s, bad_fields[i].device, &w), 0);
		expect_refused_patch(&s, w.data_off + bad_fields[i].off, bad_fields[i].v,
				     bad_fields[i].device);
	}
	CHECK_EQ(find_record(&s, "i8042", &w), 0);
	expect_refused_patch(&s, w.len_off, (uint8_t)(w.len - 1), "record length one short");
	expect_refused_patch(&s, w.len_off + 3, 0x7f, "record length huge");

	/* A record longer than its device reads is refused too. */
	CHECK_EQ(find_record(&s, "debugport", &w), 0);
	{
		uint8_t *longer = malloc(s.len + 1);

		memcpy(longer, s.buf, w.data_off);
		longer[w.data_off] = 0;
		memcpy(longer + w.data_off + 1, s.buf + w.data_off, s.len - w.data_off);
		longer[w.len_off] = (uint8_t)(w.len + 1);
		CHECK_EQ(restore_bytes(longer, s.len + 1), -1);
		free(longer);
	}
	/* And the good state still restores. */
	CHECK_EQ(restore_bytes(s.buf, s.len), 0);
	now = save_all();
	CHECK(same_state(&s, &now));
	free(now.buf);
	free(current.buf);
	free(s.buf);
}

/* With --trace io, an unclaimed port is reported once, however often used. */
static void test_unknown_traced_once(void)
{
	char path[] = "/tmp/lilyvm-test-registry-XXXXXX", text[65536];
	int fd = mkstemp(path), saved = dup(2);
	ssize_t n;
	unsigned count0 = 0, count1 = 0;

	CHECK(fd >= 0 && saved >= 0);
	log_set_trace("io");
	fflush(stderr);
	dup2(fd, 2);
	for (int i = 0; i < 5; i++)
		in(0x300, 1);
	out(0x300, 2, 0);
	in(0x301, 4);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	lseek(fd, 0, SEEK_SET);
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	unlink(path);
	text[n > 0 ? n : 0] = 0;
	for (char *p = text; (p = strstr(p, "unclaimed port 0x300 ")); p++)
		count0++;
	for (char *p = text; (p = strstr(p, "unclaimed port 0x301 ")); p++)
		count1++;
	CHECK_EQ(count0, 1);
	CHECK_EQ(count1, 1);
}

int main(void)
{
	vm = fakevm_new(64 << 20);
	set = devices_create(vm);
	CHECK(set != NULL);
	if (!set)
		return check_done("test-registry");
	CHECK(devices_find(set, "pic") && devices_find(set, "pit") && devices_find(set, "uart") &&
	      devices_find(set, "cmos") && devices_find(set, "debugport") &&
	      devices_find(set, "power") && devices_find(set, "i8042"));
	CHECK(devices_find(set, "nonesuch") == NULL);
	test_unclaimed();
	test_power();
	test_i8042();
	test_debugport();
	test_round_trip();
	test_corrupt();
	test_unknown_traced_once();
	devices_destroy(set);
	fakevm_free(vm);
	return check_done("test-registry");
}

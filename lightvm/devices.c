/*
 * devices.c - create the registered devices, route port I/O to them, and
 * save, restore and reset them together.
 */
#include <stdlib.h>
#include <string.h>

#include "lightvm/devices.h"
#include "lightvm/log.h"

/* The linker collects every DEVICE_REGISTER() entry between these symbols;
 * they are weak so that a program without devices still links. */
extern const struct device_ops *const __start_lilyvm_devices[] __attribute__((weak));
extern const struct device_ops *const __stop_lilyvm_devices[] __attribute__((weak));

#define NPORTS 65536
#define MAX_DEVICES 255		/* the port map holds an 8-bit index, 0 = unclaimed */
#define SAVE_MAGIC "LILYDEV1"
#define SAVE_MAGIC_LEN 8

struct device_inst {
	const struct device_ops *ops;
	void *dev;
};

struct device_set {
	struct vm *vm;
	unsigned count;
	struct device_inst devs[MAX_DEVICES];
	uint8_t owner[NPORTS];			/* 1 + index into devs, 0 = nobody */
	uint8_t dword_owner[NPORTS];		/* the same, for dword accesses at the port */
	uint8_t reported[NPORTS / 8];		/* unclaimed ports already traced */
};

static int claim_ports(struct device_set *set, unsigned idx)
{
	const struct device_ops *ops = set->devs[idx].ops;

	for (unsigned r = 0; r < DEVICE_MAX_RANGES; r++) {
		const struct port_range *pr = &ops->ports[r];

		if ((uint32_t)pr->base + pr->count > NPORTS) {
			log_error("%s: port range %#x+%u runs past 0xffff", ops->name, pr->base,
				  pr->count);
			return -1;
		}
		for (unsigned p = pr->base; p < (unsigned)pr->base + pr->count; p++) {
			if (set->owner[p]) {
				log_error("port %#x is claimed by both %s and %s", p,
					  set->devs[set->owner[p] - 1].ops->name, ops->name);
				return -1;
			}
			set->owner[p] = (uint8_t)(idx + 1);
		}
		if (pr->count && pr->dword_at_base)
			set->dword_owner[pr->base] = (uint8_t)(idx + 1);
	}
	return 0;
}

static int check_ops(const struct device_ops *ops)
{
	if (!ops->name || !ops->create || !ops->pio_read || !ops->pio_write || !ops->reset ||
	    !ops->save || !ops->restore || !ops->destroy) {
		log_error("device %s lacks an operation", ops->name ? ops->name : "(unnamed)");
		return -1;
	}
	if (strlen(ops->name) > 255) {
		log_error("device name %.32s... is too long", ops->name);
		return -1;
	}
	return 0;
}

struct device_set *devices_create(struct vm *vm)
{
	struct device_set *set = calloc(1, sizeof(*set));

	if (!set) {
		log_error("out of memory");
		return NULL;
	}
	set->vm = vm;
	for (const struct device_ops *const *e = __start_lilyvm_devices; e < __stop_lilyvm_devices;
	     e++) {
		struct device_inst *d = &set->devs[set->count];

		if (set->count == MAX_DEVICES) {
			log_error("more than %d devices registered", MAX_DEVICES);
			goto fail;
		}
		if (check_ops(*e))
			goto fail;
		if (devices_find(set, (*e)->name)) {
			log_error("two devices are called %s", (*e)->name);
			goto fail;
		}
		d->ops = *e;
		if (claim_ports(set, set->count))
			goto fail;
		if (d->ops->create(vm, &d->dev)) {
			log_error("device %s failed to start", d->ops->name);
			goto fail;
		}
		set->count++;
	}
	/* Once more, now that every device exists: the PCI bus learns the
	 * functions devices attached after it was created. */
	devices_reset(set);
	return set;
fail:
	devices_destroy(set);
	return NULL;
}

/* The device that decodes an access no port range claims (a PCI BAR), or NULL. */
static struct device_inst *dynamic_owner(struct device_set *set, uint16_t port, unsigned size)
{
	for (unsigned i = 0; i < set->count; i++)
		if (set->devs[i].ops->decodes && set->devs[i].ops->decodes(set->devs[i].dev, port, size))
			return &set->devs[i];
	return NULL;
}

/* The device that owns every port of the access, or NULL. An access that
 * straddles two devices, or a device and a hole, is decoded by nobody,
 * unless a device claims dword accesses at its port (PCI's 0xcf8, whose
 * dword must not become a byte write to the reset register 0xcf9). Ports
 * no range claims may be decoded by a device that places them at run time. */
static struct device_inst *owner_of(struct device_set *set, uint16_t port, unsigned size)
{
	unsigned o = set->owner[port];

	if (size == 4 && set->dword_owner[port])
		return &set->devs[set->dword_owner[port] - 1];
	if ((uint32_t)port + size > NPORTS)
		return NULL;
	if (!o)
		return dynamic_owner(set, port, size);
	for (unsigned i = 1; i < size; i++)
		if (set->owner[port + i] != o)
			return NULL;
	return &set->devs[o - 1];
}

static uint32_t ones(unsigned size)
{
	return size >= 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
}

static int valid_size(unsigned size)
{
	if (size == 1 || size == 2 || size == 4)
		return 1;
	log_warn("port access of %u bytes", size);
	return 0;
}

/* Trace an unclaimed port the first time the guest touches it. */
static void report_unknown(struct device_set *set, uint16_t port, unsigned size, const char *what)
{
	uint8_t bit = (uint8_t)(1u << (port & 7));

	if (set->reported[port / 8] & bit)
		return;
	set->reported[port / 8] |= bit;
	trace(TRACE_IO, "%s of %u bytes at unclaimed port %#x (reported once)", what, size, port);
}

uint32_t devices_pio_read(struct device_set *set, uint16_t port, unsigned size)
{
	struct device_inst *d;
	uint32_t v;

	if (!valid_size(size))
		return 0xffffffffu;
	d = owner_of(set, port, size);
	if (!d) {
		report_unknown(set, port, size, "read");
		return ones(size);
	}
	v = d->ops->pio_read(d->dev, port, size) & ones(size);
	trace(TRACE_IO, "in%u %#x -> %#x (%s)", size * 8, port, v, d->ops->name);
	return v;
}

void devices_pio_write(struct device_set *set, uint16_t port, unsigned size, uint32_t value)
{
	struct device_inst *d;

	if (!valid_size(size))
		return;
	value &= ones(size);
	d = owner_of(set, port, size);
	if (!d) {
		report_unknown(set, port, size, "write");
		return;
	}
	trace(TRACE_IO, "out%u %#x <- %#x (%s)", size * 8, port, value, d->ops->name);
	d->ops->pio_write(d->dev, port, size, value);
}

void devices_reset(struct device_set *set)
{
	for (unsigned i = 0; i < set->count; i++)
		set->devs[i].ops->reset(set->devs[i].dev);
}

void *devices_find(struct device_set *set, const char *name)
{
	for (unsigned i = 0; i < set->count; i++)
		if (!strcmp(set->devs[i].ops->name, name))
			return set->devs[i].dev;
	return NULL;
}

void devices_destroy(struct device_set *set)
{
	if (!set)
		return;
	for (unsigned i = set->count; i-- > 0;)
		set->devs[i].ops->destroy(set->devs[i].dev);
	free(set);
}

/*
 * Saved form: the magic, a device count, then per device its name (one
 * length byte and the bytes), the length of its state and the state. The
 * lengths let a restore check every record before touching any device.
 */
void devices_save(struct device_set *set, struct dev_state *s)
{
	dev_state_put(s, SAVE_MAGIC, SAVE_MAGIC_LEN);
	state_put_u32(s, set->count);
	for (unsigned i = 0; i < set->count; i++) {
		const struct device_inst *d = &set->devs[i];
		struct dev_state rec = { 0 };
		size_t n = strlen(d->ops->name);

		d->ops->save(d->dev, &rec);
		if (rec.error || rec.len > UINT32_MAX)
			s->error = 1;
		state_put_u8(s, (uint8_t)n);
		dev_state_put(s, d->ops->name, n);
		state_put_u32(s, (uint32_t)rec.len);
		dev_state_put(s, rec.buf, rec.len);
		free(rec.buf);
	}
}

/* Where one device's record lies in the saved state. */
struct record {
	size_t off, len;
};

/* Check the framing of every record and map each to its device; -1 if bad. */
static int parse_records(struct device_set *set, struct dev_state *s, struct record *recs)
{
	char magic[SAVE_MAGIC_LEN];
	uint32_t count;

	if (dev_state_get(s, magic, sizeof(magic))) {
		log_error("device state: truncated before the header ends");
		return -1;
	}
	if (memcmp(magic, SAVE_MAGIC, sizeof(magic))) {
		log_error("device state: not a device snapshot (bad magic)");
		return -1;
	}
	count = state_get_u32(s);
	if (s->error || count != set->count) {
		log_error("device state: holds %u devices, this machine has %u", count, set->count);
		return -1;
	}
	for (unsigned i = 0; i < set->count; i++)
		recs[i].len = SIZE_MAX;
	for (uint32_t r = 0; r < count; r++) {
		char name[256];
		uint8_t n = state_get_u8(s);
		uint32_t len;
		unsigned i;

		if (dev_state_get(s, name, n)) {
			log_error("device state: record %u is truncated", r);
			return -1;
		}
		name[n] = 0;
		len = state_get_u32(s);
		if (s->error || len > s->len - s->pos) {
			log_error("device state: record %u (%s) is truncated", r, name);
			return -1;
		}
		for (i = 0; i < set->count && strcmp(set->devs[i].ops->name, name); i++)
			;
		if (i == set->count || recs[i].len != SIZE_MAX) {
			log_error("device state: unexpected or repeated device \"%s\"", name);
			return -1;
		}
		recs[i].off = s->pos;
		recs[i].len = len;
		s->pos += len;
	}
	return 0;
}

/* Load each device's record; -1 naming the device that refused it. */
static int restore_each(struct device_set *set, const uint8_t *buf, const struct record *recs)
{
	for (unsigned i = 0; i < set->count; i++) {
		const struct device_inst *d = &set->devs[i];
		struct dev_state rec = { .buf = (uint8_t *)buf + recs[i].off, .len = recs[i].len };

		if (d->ops->restore(d->dev, &rec) || rec.error || rec.pos != rec.len) {
			log_error("device state: %s refused its record (%zu bytes)", d->ops->name,
				  recs[i].len);
			return -1;
		}
	}
	return 0;
}

int devices_restore(struct device_set *set, struct dev_state *s)
{
	struct record recs[MAX_DEVICES];
	struct dev_state backup = { 0 };
	size_t start = s->pos;
	int ret = -1;

	if (parse_records(set, s, recs))
		goto refuse;
	/* A device may refuse its record after others took theirs: keep the
	 * current state to put back, so a refused restore changes nothing. */
	devices_save(set, &backup);
	if (backup.error) {
		log_error("device state: out of memory");
		goto refuse;
	}
	if (restore_each(set, s->buf, recs)) {
		struct dev_state again = { .buf = backup.buf, .len = backup.len };
		struct record old[MAX_DEVICES];

		if (parse_records(set, &again, old) || restore_each(set, backup.buf, old))
			log_error("device state: could not put the previous state back");
		goto refuse;
	}
	ret = 0;
	goto out;
refuse:
	s->pos = start;
	s->error = 1;
out:
	free(backup.buf);
	return ret;
}

void dev_state_put(struct dev_state *s, const void *p, size_t n)
{
	if (s->error || n == 0)
		return;
	if (s->len + n > s->cap) {
		size_t cap = s->cap ? s->cap : 256;
		uint8_t *buf;

		while (cap < s->len + n)
			cap *= 2;
		buf = realloc(s->buf, cap);
		if (!buf) {
			s->error = 1;
			return;
		}
		s->buf = buf;
		s->cap = cap;
	}
	memcpy(s->buf + s->len, p, n);
	s->len += n;
}

int dev_state_get(struct dev_state *s, void *p, size_t n)
{
	if (s->error || n > s->len - s->pos) {
		s->error = 1;
		return -1;
	}
	memcpy(p, s->buf + s->pos, n);
	s->pos += n;
	return 0;
}

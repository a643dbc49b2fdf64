/*
 * fakevm.c - the device services of lightvm/device.h for unit tests.
 */
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/devices/fakevm.h"

#define MAX_TIMERS 16
#define MAX_WATCHES 8
#define NIRQ 16

struct vm_timer {
	struct vm *vm;
	void (*fn)(void *opaque);
	void *opaque;
	uint64_t deadline;	/* 0: disarmed */
	int used;
};

struct watch {
	int fd;
	void (*fn)(void *opaque);
	void *opaque;
};

#define MAX_COUNTS 32
#define MAX_SENT 64

struct vm {
	uint64_t ram_bytes;
	uint8_t *ram;
	struct pci_function *pci[PCI_MAX_SLOTS];
	int net;
	void (*nic_receive)(void *nic, const uint8_t *frame, size_t len);
	void *nic;
	uint8_t *sent[MAX_SENT];
	size_t sent_len[MAX_SENT];
	unsigned n_sent;
	const char *count_name[MAX_COUNTS];
	uint64_t count[MAX_COUNTS];
	const struct intc_ops *intc;
	void *intc_opaque;
	int level[NIRQ];
	unsigned rises[NIRQ];
	uint64_t last_rise[NIRQ];
	int in_pipe[2], out_pipe[2];
	struct watch watches[MAX_WATCHES];
	unsigned nwatches;
	unsigned stops;
	int stop_reset;
	const char *stop_why;
};

static uint64_t clock_ns = FAKEVM_T0;
static struct vm_timer timers[MAX_TIMERS];

static void die(const char *what)
{
	fprintf(stderr, "fakevm: %s\n", what);
	exit(99);
}

struct vm *fakevm_new(uint64_t ram_bytes)
{
	struct vm *vm = calloc(1, sizeof(*vm));

	if (!vm || pipe(vm->in_pipe) || pipe(vm->out_pipe))
		die("cannot create the fake machine");
	fcntl(vm->in_pipe[0], F_SETFL, O_NONBLOCK);
	fcntl(vm->out_pipe[0], F_SETFL, O_NONBLOCK);
	vm->ram_bytes = ram_bytes;
	vm->ram = calloc(1, ram_bytes ? ram_bytes : 1);
	if (!vm->ram)
		die("cannot allocate the fake RAM");
	return vm;
}

void fakevm_free(struct vm *vm)
{
	close(vm->in_pipe[0]);
	close(vm->in_pipe[1]);
	close(vm->out_pipe[0]);
	close(vm->out_pipe[1]);
	for (unsigned i = 0; i < vm->n_sent; i++)
		free(vm->sent[i]);
	free(vm->ram);
	free(vm);
}

uint64_t fakevm_now(void)
{
	return clock_ns;
}

static struct vm_timer *earliest_due(uint64_t limit)
{
	struct vm_timer *best = NULL;

	for (unsigned i = 0; i < MAX_TIMERS; i++) {
		struct vm_timer *t = &timers[i];

		if (t->used && t->deadline && t->deadline <= limit &&
		    (!best || t->deadline < best->deadline))
			best = t;
	}
	return best;
}

static void fire_until(uint64_t target, int late)
{
	struct vm_timer *t;
	unsigned n = 0;

	while ((t = earliest_due(target))) {
		if (++n > 10000000)
			die("a timer keeps re-arming in the past");
		if (!late && t->deadline > clock_ns)
			clock_ns = t->deadline;
		t->deadline = 0;
		t->fn(t->opaque);
	}
}

void fakevm_advance(uint64_t ns)
{
	uint64_t target = clock_ns + ns;

	fire_until(target, 0);
	clock_ns = target;
}

void fakevm_advance_late(uint64_t ns)
{
	clock_ns += ns;
	fire_until(clock_ns, 1);
}

int fakevm_run_watchers(struct vm *vm)
{
	int ran = 0;

	for (unsigned i = 0; i < vm->nwatches; i++) {
		struct pollfd pfd = { .fd = vm->watches[i].fd, .events = POLLIN };

		if (poll(&pfd, 1, 0) == 1) {
			vm->watches[i].fn(vm->watches[i].opaque);
			ran++;
		}
	}
	return ran;
}

int fakevm_watching(struct vm *vm, int fd)
{
	for (unsigned i = 0; i < vm->nwatches; i++)
		if (vm->watches[i].fd == fd)
			return 1;
	return 0;
}

int fakevm_irq_level(struct vm *vm, unsigned irq)
{
	return vm->level[irq];
}

unsigned fakevm_irq_rises(struct vm *vm, unsigned irq)
{
	return vm->rises[irq];
}

uint64_t fakevm_irq_last_rise(struct vm *vm, unsigned irq)
{
	return vm->last_rise[irq];
}

void fakevm_irq_clear_counts(struct vm *vm)
{
	memset(vm->rises, 0, sizeof(vm->rises));
}

const struct intc_ops *fakevm_intc(struct vm *vm, void **opaque)
{
	*opaque = vm->intc_opaque;
	return vm->intc;
}

void fakevm_console_input(struct vm *vm, const void *buf, size_t n)
{
	if (write(vm->in_pipe[1], buf, n) != (ssize_t)n)
		die("console input pipe is full");
}

size_t fakevm_console_output(struct vm *vm, char *buf, size_t max)
{
	ssize_t n = read(vm->out_pipe[0], buf, max);

	return n > 0 ? (size_t)n : 0;
}

int fakevm_console_in_fd(struct vm *vm)
{
	return vm->in_pipe[0];
}

unsigned fakevm_stops(struct vm *vm, int *reset, const char **why)
{
	if (reset)
		*reset = vm->stop_reset;
	if (why)
		*why = vm->stop_why;
	return vm->stops;
}

/* The services of lightvm/device.h. */

void vm_set_intc(struct vm *vm, const struct intc_ops *ops, void *intc)
{
	vm->intc = ops;
	vm->intc_opaque = intc;
}

void vm_set_irq(struct vm *vm, unsigned irq, int level)
{
	if (irq >= NIRQ)
		die("IRQ out of range");
	if (level && !vm->level[irq]) {
		vm->rises[irq]++;
		vm->last_rise[irq] = clock_ns;
	}
	vm->level[irq] = level;
	if (vm->intc)
		vm->intc->set_irq(vm->intc_opaque, irq, level);
}

uint64_t vm_clock_ns(void)
{
	return clock_ns;
}

struct vm_timer *vm_timer_new(struct vm *vm, void (*fn)(void *opaque), void *opaque)
{
	for (unsigned i = 0; i < MAX_TIMERS; i++)
		if (!timers[i].used) {
			timers[i] = (struct vm_timer){ vm, fn, opaque, 0, 1 };
			return &timers[i];
		}
	die("out of timers");
	return NULL;
}

void vm_timer_arm(struct vm_timer *t, uint64_t deadline_ns)
{
	t->deadline = deadline_ns;
}

void vm_timer_free(struct vm_timer *t)
{
	if (t)
		memset(t, 0, sizeof(*t));
}

int vm_watch_fd(struct vm *vm, int fd, void (*fn)(void *opaque), void *opaque)
{
	if (fakevm_watching(vm, fd) || vm->nwatches == MAX_WATCHES)
		die("fd watched twice or too many watches");
	vm->watches[vm->nwatches++] = (struct watch){ fd, fn, opaque };
	return 0;
}

void vm_unwatch_fd(struct vm *vm, int fd)
{
	for (unsigned i = 0; i < vm->nwatches; i++)
		if (vm->watches[i].fd == fd) {
			vm->watches[i] = vm->watches[--vm->nwatches];
			return;
		}
	die("unwatching an fd that is not watched");
}

void vm_console_fds(struct vm *vm, int *in_fd, int *out_fd)
{
	*in_fd = vm->in_pipe[0];
	*out_fd = vm->out_pipe[1];
}

void vm_request_stop(struct vm *vm, int reset, const char *why)
{
	vm->stops++;
	vm->stop_reset = reset;
	vm->stop_why = why;
}

uint64_t vm_ram_bytes(struct vm *vm)
{
	return vm->ram_bytes;
}

void *vm_dma(struct vm *vm, uint64_t gpa, size_t len)
{
	return gpa <= vm->ram_bytes && len <= vm->ram_bytes - gpa ? vm->ram + gpa : NULL;
}

void vm_count(struct vm *vm, const char *name, uint64_t n)
{
	unsigned i = 0;

	while (i < MAX_COUNTS && vm->count_name[i] && strcmp(vm->count_name[i], name))
		i++;
	if (i == MAX_COUNTS)
		die("too many counters");
	vm->count_name[i] = name;
	vm->count[i] += n;
}

int vm_pci_attach(struct vm *vm, struct pci_function *fn)
{
	for (unsigned slot = 3; slot < PCI_MAX_SLOTS; slot++)
		if (!vm->pci[slot]) {
			vm->pci[slot] = fn;
			fn->irq = 11;
			return (int)slot;
		}
	return -1;
}

struct pci_function *vm_pci_function(struct vm *vm, unsigned slot)
{
	return slot < PCI_MAX_SLOTS ? vm->pci[slot] : NULL;
}

unsigned vm_net_mtu(struct vm *vm)
{
	(void)vm;
	return 65520;
}

int vm_net_present(struct vm *vm)
{
	return vm->net;
}

void vm_net_attach_nic(struct vm *vm, void (*receive)(void *nic, const uint8_t *frame, size_t len),
		       void *nic)
{
	vm->nic_receive = receive;
	vm->nic = nic;
}

void vm_net_send(struct vm *vm, const uint8_t *frame, size_t len)
{
	if (vm->n_sent == MAX_SENT)
		die("too many frames sent");
	vm->sent[vm->n_sent] = malloc(len ? len : 1);
	if (!vm->sent[vm->n_sent])
		die("out of memory");
	memcpy(vm->sent[vm->n_sent], frame, len);
	vm->sent_len[vm->n_sent++] = len;
}

void fakevm_enable_net(struct vm *vm)
{
	vm->net = 1;
}

uint8_t *fakevm_ram(struct vm *vm)
{
	return vm->ram;
}

void fakevm_net_deliver(struct vm *vm, const void *frame, size_t len)
{
	if (!vm->nic_receive)
		die("no NIC attached");
	vm->nic_receive(vm->nic, frame, len);
}

unsigned fakevm_net_sent(struct vm *vm, unsigned i, const uint8_t **frame, size_t *len)
{
	if (i < vm->n_sent) {
		*frame = vm->sent[i];
		*len = vm->sent_len[i];
	}
	return vm->n_sent;
}

uint64_t fakevm_count(struct vm *vm, const char *name)
{
	for (unsigned i = 0; i < MAX_COUNTS && vm->count_name[i]; i++)
		if (!strcmp(vm->count_name[i], name))
			return vm->count[i];
	return 0;
}

uint32_t fakevm_pci_read(struct device_set *set, unsigned slot, unsigned reg, unsigned size)
{
	devices_pio_write(set, 0xcf8, 4, 0x80000000u | slot << 11 | (reg & 0xfc));
	return devices_pio_read(set, (uint16_t)(0xcfc + (reg & 3)), size);
}

void fakevm_pci_write(struct device_set *set, unsigned slot, unsigned reg, unsigned size,
		      uint32_t v)
{
	devices_pio_write(set, 0xcf8, 4, 0x80000000u | slot << 11 | (reg & 0xfc));
	devices_pio_write(set, (uint16_t)(0xcfc + (reg & 3)), size, v);
}

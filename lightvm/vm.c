/*
 * vm.c - building a machine, and the event loop that serves its devices.
 *
 * While the guest runs, the monitor blocks in waitpid(), the cheapest way to
 * take a stop. Host events reach it as signals: the earliest device timer
 * is mirrored in a POSIX timer (SIGALRM) and watched descriptors signal
 * readiness (SIGIO); either handler kicks the child, which stops, and at
 * every stop one poll(0) over the device timers (timerfds) and watched
 * descriptors serves whatever is ready. No wake-up is lost: a kick sent
 * before waitpid() blocks still stops the child, and an event signalled
 * while no child runs is remembered and kicks it as it resumes. While the
 * guest halts, the same descriptors are waited for in poll().
 */
#include <errno.h>
#include <elf.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "lightvm/cpu.h"
#include "lightvm/devices.h"
#include "lightvm/emulate.h"
#include "lightvm/linux.h"
#include "lightvm/log.h"
#include "lightvm/net.h"
#include "lightvm/paging.h"
#include "lightvm/sitetab.h"
#include "lightvm/symbols.h"
#include "ports/multiboot/multiboot.h"


struct vm_timer {
	struct vm *vm;
	int fd;
	void (*fn)(void *opaque);
	void *opaque;
	uint64_t deadline;	/* 0: not armed */
};

/* The running child a host event must stop, 0 while none runs. */
static volatile pid_t kick_target;
/* A host event came while no child ran: kick it as soon as it runs again. */
static volatile sig_atomic_t wakeup_pending;
/* A descriptor signalled readiness: the poll sources' are polled at the next stop. */
static volatile sig_atomic_t io_signalled;

static void kick_on_signal(int sig)
{
	int saved = errno;

	if (sig == SIGIO)
		io_signalled = 1;

	if (kick_target)
		syscall(SYS_tgkill, kick_target, kick_target, SIGUSR1);
	else
		wakeup_pending = 1;
	errno = saved;
}

static void vfail(struct vm *vm, const char *fmt, va_list ap)
{
	if (vm->stop)
		return;
	vsnprintf(vm->stop_reason, sizeof(vm->stop_reason), fmt, ap);
	vm->stop = 3;
}

void vm_fail(struct vm *vm, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(vm, fmt, ap);
	va_end(ap);
}

void vm_unsupported(struct vm *vm, const char *fmt, ...)
{
	va_list ap;

	vm->unsupported = !vm->stop;
	va_start(ap, fmt);
	vfail(vm, fmt, ap);
	va_end(ap);
}

void vm_request_stop(struct vm *vm, int reset, const char *why)
{
	if (vm->stop)
		return;
	snprintf(vm->stop_reason, sizeof(vm->stop_reason), "%s", why);
	vm->stop = reset ? 2 : 1;
}

void vm_set_intc(struct vm *vm, const struct intc_ops *ops, void *intc)
{
	vm->intc_ops = ops;
	vm->intc = intc;
}

void vm_set_irq(struct vm *vm, unsigned irq, int level)
{
	trace(TRACE_IRQ, "irq %u -> %d", irq, level);
	if (vm->intc_ops)
		vm->intc_ops->set_irq(vm->intc, irq, level);
}

int vm_irq_pending(struct vm *vm)
{
	return vm->intc_ops && vm->intc_ops->pending(vm->intc);
}

uint64_t vm_clock_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + ts.tv_nsec;
}

uint64_t vm_ram_bytes(struct vm *vm)
{
	return vm->ram_bytes;
}

void vm_console_fds(struct vm *vm, int *in_fd, int *out_fd)
{
	*in_fd = vm->console_in;
	*out_fd = vm->console_out;
}

struct vm_timer *vm_timer_new(struct vm *vm, void (*fn)(void *opaque), void *opaque)
{
	struct vm_timer *t = calloc(1, sizeof(*t));
	int slot = 0;

	while (slot < MAX_TIMERS && vm->timers[slot])
		slot++;
	if (!t || slot == MAX_TIMERS ||
	    (t->fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK)) < 0) {
		free(t);
		log_error("cannot create a host timer");
		return NULL;
	}
	*t = (struct vm_timer){ vm, t->fd, fn, opaque, 0 };
	vm->timers[slot] = t;
	return t;
}

/* Mirror the earliest armed timer in the POSIX timer that wakes waitpid(). */
static void rearm_alarm(struct vm *vm)
{
	uint64_t first = 0;
	struct itimerspec its = { { 0, 0 }, { 0, 0 } };

	for (int i = 0; i < MAX_TIMERS; i++)
		if (vm->timers[i] && vm->timers[i]->deadline &&
		    (!first || vm->timers[i]->deadline < first))
			first = vm->timers[i]->deadline;
	its.it_value.tv_sec = first / 1000000000u;
	its.it_value.tv_nsec = first % 1000000000u;
	timer_settime(vm->alarm, TIMER_ABSTIME, &its, NULL);
}

void vm_timer_arm(struct vm_timer *t, uint64_t deadline_ns)
{
	struct itimerspec its = { { 0, 0 }, { deadline_ns / 1000000000u, deadline_ns % 1000000000u } };

	/* A deadline already past still fires: zero would disarm. */
	if (deadline_ns && its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
		its.it_value.tv_nsec = 1;
	t->deadline = deadline_ns;
	timerfd_settime(t->fd, TFD_TIMER_ABSTIME, &its, NULL);
	rearm_alarm(t->vm);
	trace(TRACE_TIMER, "timer %d %s %llu", t->fd, deadline_ns ? "armed for" : "off",
	      (unsigned long long)deadline_ns);
}

void vm_timer_free(struct vm_timer *t)
{
	if (!t)
		return;
	for (int i = 0; i < MAX_TIMERS; i++)
		if (t->vm->timers[i] == t)
			t->vm->timers[i] = NULL;
	close(t->fd);
	free(t);
}

/* Ask for SIGIO when fd becomes ready (on), or stop asking. */
static void signal_readiness(int fd, int on)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || !!(fl & O_ASYNC) == !!on)
		return;
	if (on)
		fcntl(fd, F_SETOWN, getpid());
	fcntl(fd, F_SETFL, on ? fl | O_ASYNC : fl & ~O_ASYNC);
}

int vm_watch_fd(struct vm *vm, int fd, void (*fn)(void *opaque), void *opaque)
{
	if (vm->n_watch == MAX_WATCH)
		return -1;
	vm->watch[vm->n_watch++] = (struct watch){ fd, fn, opaque };
	signal_readiness(fd, 1);
	return 0;
}

void vm_unwatch_fd(struct vm *vm, int fd)
{
	for (size_t i = 0; i < vm->n_watch; i++)
		if (vm->watch[i].fd == fd) {
			vm->watch[i] = vm->watch[--vm->n_watch];
			signal_readiness(fd, 0);
			return;
		}
}

/* What one poll() covers, and who to call for each entry. */
struct vm_poll {
	struct pollfd fds[MAX_TIMERS + MAX_WATCH + MAX_POLL_FDS];
	struct vm_timer *timer[MAX_TIMERS + MAX_WATCH];
	struct watch watch[MAX_TIMERS + MAX_WATCH];
	size_t n, n_own;	/* entries; those of timers and watches (the sources' follow) */
	size_t n_sources;	/* sources filled in: vm->sources[0 .. n_sources) */
	int wakers;		/* timers armed and fds watched: things that can make an interrupt */
};

int vm_poll_add(struct vm_poll *p, int fd, short events)
{
	if (p->n == sizeof(p->fds) / sizeof(p->fds[0]))
		return -1;
	p->fds[p->n] = (struct pollfd){ fd, events, 0 };
	p->wakers++;
	return (int)(p->n++ - p->n_own);
}

short vm_poll_revents(struct vm_poll *p, int index)
{
	return index >= 0 && p->n_own + index < p->n ? p->fds[p->n_own + index].revents : 0;
}

void vm_async_fd(int fd)
{
	signal_readiness(fd, 1);
}

int vm_add_poll_source(struct vm *vm, const struct poll_source_ops *ops, void *opaque)
{
	if (vm->n_sources == MAX_POLL_SOURCES)
		return -1;
	vm->sources[vm->n_sources++] = (struct poll_src){ ops, opaque };
	return 0;
}

void vm_remove_poll_source(struct vm *vm, void *opaque)
{
	for (size_t i = 0; i < vm->n_sources; i++)
		if (vm->sources[i].opaque == opaque) {
			memmove(&vm->sources[i], &vm->sources[i + 1],
				(vm->n_sources - i - 1) * sizeof(vm->sources[0]));
			vm->n_sources--;
			return;
		}
}

/* True if the poll sources must be asked for their descriptors now. */
static int sources_due(struct vm *vm)
{
	int due = io_signalled;

	io_signalled = 0;
	for (size_t i = 0; i < vm->n_sources; i++)
		if (vm->sources[i].ops->wants_poll(vm->sources[i].opaque))
			due = 1;
	return due;
}

static void build_poll_set(struct vm *vm, struct vm_poll *ps, int with_sources)
{
	ps->n = ps->wakers = 0;
	for (int i = 0; i < MAX_TIMERS; i++)
		if (vm->timers[i] && vm->timers[i]->deadline) {
			ps->timer[ps->n] = vm->timers[i];
			ps->fds[ps->n++] = (struct pollfd){ vm->timers[i]->fd, POLLIN, 0 };
			ps->wakers++;
		}
	for (size_t i = 0; i < vm->n_watch; i++) {
		ps->timer[ps->n] = NULL;
		ps->watch[ps->n] = vm->watch[i];
		ps->fds[ps->n++] = (struct pollfd){ vm->watch[i].fd, POLLIN, 0 };
		ps->wakers++;
	}
	ps->n_own = ps->n;
	ps->n_sources = with_sources ? vm->n_sources : 0;
	for (size_t i = 0; i < ps->n_sources; i++)
		vm->sources[i].ops->fill(vm->sources[i].opaque, ps);
}

/* Run the callbacks of everything poll() found ready, then the sources'. */
static void serve(struct vm *vm, struct vm_poll *ps)
{
	for (size_t i = 0; i < ps->n_own; i++) {
		uint64_t expirations;

		if (!ps->fds[i].revents)
			continue;
		if (ps->timer[i]) {
			if (read(ps->fds[i].fd, &expirations, sizeof(expirations)) > 0) {
				ps->timer[i]->deadline = 0;
				ps->timer[i]->fn(ps->timer[i]->opaque);
			}
		} else {
			ps->watch[i].fn(ps->watch[i].opaque);
		}
	}
	for (size_t i = 0; i < ps->n_sources && i < vm->n_sources; i++)
		vm->sources[i].ops->dispatch(vm->sources[i].opaque, ps);
}

/* Serve every timer and descriptor that is ready, without waiting. */
static void serve_ready(struct vm *vm)
{
	struct vm_poll ps;
	int ready;

	build_poll_set(vm, &ps, sources_due(vm));
	ready = ps.n ? poll(ps.fds, ps.n, 0) : 0;
	if (ready > 0 || ps.n_sources)
		serve(vm, &ps);
}

int vm_wait_child(struct vm *vm, struct child_event *ev)
{
	int got;

	kick_target = child_pid(vm->child);
	/* An event signalled while the monitor was busy must not wait for the next stop. */
	if (wakeup_pending) {
		wakeup_pending = 0;
		child_kick(vm->child);
	}
	while (!(got = child_poll(vm->child, ev, 1)) && errno == EINTR)
		;
	kick_target = 0;
	if (!got)
		return -1;
	serve_ready(vm);
	return 0;
}

int vm_wait_interrupt(struct vm *vm)
{
	struct vm_poll ps;

	while (!vm_irq_pending(vm)) {
		if (vm->stop)
			return -1;
		io_signalled = 0;
		build_poll_set(vm, &ps, 1);
		if (!ps.wakers)
			return -1;
		if (poll(ps.fds, ps.n, -1) < 0 && errno != EINTR)
			return -1;
		serve(vm, &ps);
	}
	return 0;
}

void *vm_dma(struct vm *vm, uint64_t gpa, size_t len)
{
	return gpa_ptr(vm, gpa, len);
}

void vm_count(struct vm *vm, const char *name, uint64_t n)
{
	size_t i = 0;

	while (i < vm->n_counters && vm->counters[i].name != name &&
	       strcmp(vm->counters[i].name, name))
		i++;
	if (i == MAX_COUNTERS)
		return;
	if (i == vm->n_counters)
		vm->counters[vm->n_counters++] = (struct counter){ name, 0 };
	vm->counters[i].n += n;
}

/* PIIX wiring as QEMU's SeaBIOS leaves it: slot s's INTA is PIRQ (s & 3),
 * and PIRQA..D are routed to ISA lines 10, 10, 11, 11. */
static uint8_t slot_irq(unsigned slot)
{
	static const uint8_t pirq_line[4] = { 10, 10, 11, 11 };

	return pirq_line[slot & 3];
}

int vm_pci_attach(struct vm *vm, struct pci_function *fn)
{
	for (unsigned slot = 3; slot < PCI_MAX_SLOTS; slot++)
		if (!vm->pci[slot]) {
			vm->pci[slot] = fn;
			fn->irq = slot_irq(slot);
			return (int)slot;
		}
	return -1;
}

struct pci_function *vm_pci_function(struct vm *vm, unsigned slot)
{
	return slot < PCI_MAX_SLOTS ? vm->pci[slot] : NULL;
}

void vm_account(struct vm *vm, enum stat_kind kind, unsigned cls, uint64_t ns)
{
	vm->stats.count[kind]++;
	vm->stats.ns[kind] += ns;
	if (kind == STAT_SITE && cls < LILYVM_CLS_COUNT) {
		vm->stats.site_count[cls]++;
		vm->stats.site_ns[cls] += ns;
	}
}

/* --- building the machine --- */

uint8_t *vm_read_file(const char *path, size_t *len, char *err, size_t errlen)
{
	struct stat st;
	uint8_t *buf = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: %s", path, fd < 0 ? strerror(errno) : "not a regular file");
		goto out;
	}
	buf = malloc(st.st_size ? st.st_size : 1);
	if (!buf || read(fd, buf, st.st_size) != st.st_size) {
		snprintf(err, errlen, "%s: cannot read it", path);
		free(buf);
		buf = NULL;
		goto out;
	}
	*len = st.st_size;
out:
	if (fd >= 0)
		close(fd);
	return buf;
}

static uint32_t mmap_min_addr(void)
{
	unsigned long v = 65536;
	FILE *f = fopen("/proc/sys/vm/mmap_min_addr", "r");

	if (f) {
		if (fscanf(f, "%lu", &v) != 1)
			v = 65536;
		fclose(f);
	}
	return (v + 4095) & ~4095ul;
}

/* Guest RAM and the pages after it (RAM_EXTRA, vm.h), one memfd mapped in the monitor. */
static int make_ram(struct vm *vm, char *err, size_t errlen)
{
	size_t total = vm->ram_bytes + RAM_EXTRA;

	vm->ram_fd = memfd_create("lilyvm-ram", MFD_CLOEXEC);
	if (vm->ram_fd < 0 || ftruncate(vm->ram_fd, total)) {
		snprintf(err, errlen, "cannot create guest RAM: %s", strerror(errno));
		return -1;
	}
	vm->ram = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_SHARED, vm->ram_fd, 0);
	if (vm->ram == MAP_FAILED) {
		vm->ram = NULL;
		snprintf(err, errlen, "cannot map guest RAM: %s", strerror(errno));
		return -1;
	}
	vm->pv_vcpu = (struct lilyvm_pv_vcpu *)(vm->ram + vm->ram_bytes + RAM_PV_VCPU_OFF);
	vm->pv_mapped = vm->ram + vm->ram_bytes + RAM_PV_MAPPED_OFF;
	return 0;
}

/* Where the image's segments are linked and where they load (sitetab and symbols use the former). */
static void note_segments(struct vm *vm, const uint8_t *image, size_t len)
{
	const Elf32_Ehdr *eh = (const Elf32_Ehdr *)image;

	vm->n_segs = 0;
	for (unsigned i = 0; i < eh->e_phnum && vm->n_segs < MAX_SEGS; i++) {
		Elf32_Phdr ph;

		if ((uint64_t)eh->e_phoff + (i + 1) * sizeof(ph) > len)
			break;
		memcpy(&ph, image + eh->e_phoff + i * sizeof(ph), sizeof(ph));
		if (ph.p_type == PT_LOAD && ph.p_vaddr != ph.p_paddr)
			vm->segs[vm->n_segs++] = (struct image_seg){ ph.p_vaddr, ph.p_paddr, ph.p_memsz };
	}
}

uint32_t vm_link_address(const struct vm *vm, uint32_t addr)
{
	for (unsigned i = 0; i < vm->n_segs; i++) {
		const struct image_seg *s = &vm->segs[i];

		if (addr - s->paddr < s->memsz && addr - s->vaddr >= s->memsz)
			return addr - s->paddr + s->vaddr;
	}
	return addr;
}

const char *vm_symbol(const struct vm *vm, uint32_t addr, char *buf, size_t len)
{
	return symtab_describe(vm->syms, vm_link_address(vm, addr), buf, len);
}

int vm_adopt_image(struct vm *vm, const uint8_t *image, size_t len, const char *name, char *err,
		   size_t errlen)
{
	char why[128];

	if (!sitetab_read(image, len, &vm->sites, &vm->n_sites, &vm->pv, err, errlen)) {
		if (!(vm->ahead = calloc(vm->n_sites + 1, 1))) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		vm->syms = symtab_load(image, len);
		note_segments(vm, image, len);
		/* The trampolines are mapped from the memfd into ring 0's views (paging.c). */
		memcpy(vm->ram + vm->ram_bytes + RAM_PV_CODE_OFF, vm->pv.code, vm->pv.code_size);
		return 0;
	}
	snprintf(why, sizeof(why), "%s", err);
	if (!strcmp(why, "the kernel is not rewritten"))
		snprintf(err, errlen, "%s is not rewritten: run `lilyvm-rewrite %s -o %s.rw` and boot "
			 "%s.rw", name, name, name, name);
	else
		snprintf(err, errlen, "%s: %s", name, why);
	return -1;
}

static int load_multiboot(struct vm *vm, char *err, size_t errlen)
{
	struct pc_ram ram = { vm->ram, vm->ram_bytes, vm->ram_va_start };
	struct mb_module mod = { 0 };
	struct mb_boot boot;
	uint8_t *image, *initrd = NULL;
	size_t len, ilen = 0;
	int rc = -1;

	if (!(image = vm_read_file(vm->cfg.kernel, &len, err, errlen)))
		return -1;
	if (vm_adopt_image(vm, image, len, vm->cfg.kernel, err, errlen))
		goto out;
	if (vm->cfg.initrd && !(initrd = vm_read_file(vm->cfg.initrd, &ilen, err, errlen)))
		goto out;
	mod = (struct mb_module){ initrd, ilen, vm->cfg.initrd };
	if (multiboot_load(image, len, &ram, vm->cfg.append ? vm->cfg.append : "", &mod,
			   initrd ? 1 : 0, &boot, err, errlen))
		goto out;
	cpu_reset(vm, 0x08, 0x10);
	vm->cpu.regs.rax = MULTIBOOT_LOADER_MAGIC;
	vm->cpu.regs.rbx = boot.info;
	vm->cpu.regs.rip = boot.entry;
	rc = 0;
out:
	free(image);
	free(initrd);
	return rc;
}

/* SIGALRM (device timers) and SIGIO (watched descriptors) kick the running child. */
static int make_wakeups(struct vm *vm)
{
	struct sigaction sa = { .sa_handler = kick_on_signal };
	struct sigevent sev = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGALRM };

	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGALRM, &sa, NULL) || sigaction(SIGIO, &sa, NULL))
		return -1;
	if (timer_create(CLOCK_MONOTONIC, &sev, &vm->alarm))
		return -1;
	vm->have_alarm = 1;
	return 0;
}

/*
 * Every trap is a round trip between the monitor and a child: on one CPU it
 * costs ~13 us here, across two CPUs of this nested VM ~100 us (wake-ups
 * between CPUs go through the hypervisor). The children inherit the mask.
 */
static void pin_to_this_cpu(void)
{
	cpu_set_t one;
	int cpu = sched_getcpu();

	if (cpu < 0)
		return;
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	if (sched_setaffinity(0, sizeof(one), &one))
		log_warn("cannot pin the monitor to CPU %d: %s", cpu, strerror(errno));
}

struct vm *lvm_create(const struct lvm_config *cfg, char *err, size_t errlen)
{
	struct vm *vm = calloc(1, sizeof(*vm));

	if (!vm) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	vm->cfg = *cfg;
	vm->ram_bytes = cfg->mem_bytes;
	vm->ram_fd = vm->console_in = vm->console_out = -1;
	vm->ram_va_start = mmap_min_addr();
	if (vm->ram_bytes < (2u << 20) || vm->ram_bytes > GUEST_VA_LIMIT - (1u << 20)) {
		snprintf(err, errlen, "guest RAM must be between 2 MiB and %u MiB",
			 (GUEST_VA_LIMIT >> 20) - 1);
		goto fail;
	}
	if (make_ram(vm, err, errlen) || (vm->cfg.linux_bzimage ? linux_load(vm, err, errlen) : load_multiboot(vm, err, errlen)) || emulate_init(vm))
		goto fail;
	pin_to_this_cpu();
	if (make_wakeups(vm) || paging_init(vm, err, errlen))
		goto fail;
	if (vm->cfg.net && net_start(vm, vm->cfg.net, err, errlen))
		goto fail;
	if (lvm_open_console(vm, err, errlen) || !(vm->devs = devices_create(vm))) {
		if (!*err)
			snprintf(err, errlen, "cannot create the devices");
		goto fail;
	}
	return vm;
fail:
	lvm_destroy(vm);
	return NULL;
}

int lvm_guest_pid(const struct vm *vm)
{
	return child_pid(vm->views[0]->child);
}

const char *lvm_exit_reason(const struct vm *vm)
{
	return vm->stop_reason;
}

void lvm_destroy(struct vm *vm)
{
	if (!vm)
		return;
	if (vm->devs)
		devices_destroy(vm->devs);
	net_stop(vm);
	paging_destroy(vm);
	lvm_close_console(vm);
	if (vm->ram)
		munmap(vm->ram, vm->ram_bytes + RAM_EXTRA);
	if (vm->ram_fd >= 0)
		close(vm->ram_fd);
	if (vm->have_alarm)
		timer_delete(vm->alarm);
	if (vm->insn)
		cs_free(vm->insn, 1);
	free(vm->decoded);
	if (vm->cs)
		cs_close(&vm->cs);
	symtab_free(vm->syms);
	free(vm->sites);
	free(vm->pv.code);
	free(vm->ahead);
	free(vm->pv.entries);
	free(vm);
}

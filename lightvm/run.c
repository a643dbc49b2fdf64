/*
 * run.c - the trap loop: resume the guest, take its next stop, turn the
 * stop into what the guest's hardware would have done.
 */
#include <errno.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lightvm/cpu.h"
#include "lightvm/emulate.h"
#include "lightvm/log.h"
#include "lightvm/paging.h"
#include "lightvm/sitetab.h"
#include "lightvm/symbols.h"

#define KICK_SIGNAL SIGUSR1

static const char *where(struct vm *vm, uint32_t addr, char *buf, size_t len)
{
	return vm_symbol(vm, addr, buf, len);
}

/* Up to 15 bytes of guest code at CS:EIP; returns how many could be read. */
static size_t fetch(struct vm *vm, uint8_t *bytes)
{
	return paging_peek(vm, cpu_pc(vm), bytes, LILYVM_MAX_INSN);
}

/* The rewriter's trap form is still in place at this site. */
static int site_intact(const struct lilyvm_site *s, const uint8_t *bytes, size_t n)
{
	if (n < s->len || bytes[0] != LILYVM_TRAP_BYTE)
		return 0;
	for (unsigned i = 1; i < s->len; i++)
		if (bytes[i] != LILYVM_FILL_BYTE)
			return 0;
	return 1;
}

/* Emulate an intact site's original instruction, or its run of them. */
static enum emu_result emulate_site(struct vm *vm, const struct lilyvm_site *s)
{
	return s->flags & LILYVM_SITE_RUN ? emulate_run(vm, s->orig, s->len)
					  : emulate_insn(vm, s->orig, s->len);
}

/* hlt: sleep in the event loop until an interrupt can be delivered. */
static void halt(struct vm *vm)
{
	uint64_t t0 = vm_clock_ns();
	char buf[128], why[200];

	/* Interrupts off: nothing can ever wake it, the machine is done (Linux's
	 * poweroff without ACPI ends so). No interrupt source left: a hang. */
	if (!(vm->cpu.vflags & FL_IF)) {
		snprintf(why, sizeof(why), "the guest stopped the CPU (hlt with interrupts off) at %s",
			 where(vm, cpu_pc(vm), buf, sizeof(buf)));
		vm_request_stop(vm, 0, why);
	} else if (vm_wait_interrupt(vm)) {
		vm_fail(vm, "the guest halted with no interrupt that can wake it, at %s",
			where(vm, cpu_pc(vm), buf, sizeof(buf)));
	}
	vm_account(vm, STAT_HALT, 0, vm_clock_ns() - t0);
}

/* Emulate a run site from off bytes in, where the guest's EIP is; 0 if off is no boundary. */
static int emulate_rest(struct vm *vm, const struct lilyvm_site *s, size_t off, uint64_t t0)
{
	if (!(s->flags & LILYVM_SITE_RUN) || !emulate_boundary(vm, s->orig, s->len, off))
		return 0;
	if (emulate_run(vm, s->orig + off, s->len - off) == EMU_HALT)
		halt(vm);
	vm_account(vm, STAT_SITE, s->cls, vm_clock_ns() - t0);
	return 1;
}

/* An emulation that met something not emulated yet: say which instruction, where. */
static void explain_stop(struct vm *vm, const uint8_t *insn, size_t len, uint32_t pc)
{
	char name[96], sym[128], why[200];

	snprintf(why, sizeof(why), "%.199s", vm->stop_reason);
	snprintf(vm->stop_reason, sizeof(vm->stop_reason), "cannot emulate `%s` at %s: %.199s",
		 emulate_name(vm, insn, len, name, sizeof(name)), where(vm, pc, sym, sizeof(sym)),
		 why);
}

/* The site that holds addr, or NULL: the last one starting at or before it. */
static const struct lilyvm_site *site_containing(const struct vm *vm, uint32_t addr)
{
	size_t lo = 0, hi = vm->n_sites;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (vm->sites[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo || addr - vm->sites[lo - 1].addr >= vm->sites[lo - 1].len)
		return NULL;
	return &vm->sites[lo - 1];
}

/*
 * A trampoline's exit (sites.h): it set IF with an interrupt waiting (go on
 * where it says; the loop delivers the interrupt), or it leaves the rest of
 * its site to the monitor.
 */
static int pv_exit(struct vm *vm, uint64_t t0)
{
	uint32_t pc = cpu_pc(vm), off = pc - LILYVM_PV_CODE;
	struct lilyvm_pv_exit x;

	if (!vm->pv.n || off >= vm->pv.code_size || vm->pv.code_size - off < 1 + sizeof(x) ||
	    vm->pv.code[off] != LILYVM_PV_EXIT_BYTE)
		return 0;
	memcpy(&x, vm->pv.code + off + 1, sizeof(x));
	vm->cpu.regs.rip = x.resume - (pc - (uint32_t)vm->cpu.regs.rip);
	if (x.flags & LILYVM_PV_EXIT_EMULATE) {
		const struct lilyvm_site *s = site_containing(vm, x.resume);

		if (!s || !emulate_rest(vm, s, x.resume - s->addr, t0))
			vm_fail(vm, "a trampoline asked to emulate %#x, which is in no site", x.resume);
		return 1;
	}
	vm->cpu.inhibit = (x.flags & LILYVM_PV_EXIT_SHADOW) != 0;
	vm_account(vm, STAT_PV_EXIT, 0, vm_clock_ns() - t0);
	return 1;
}

/*
 * A jump to a trampoline where it is not mapped: from ring 3, or from code
 * running at its load address while paging is off (the jump is relative,
 * so it lands a segment's link offset away). The site is emulated instead.
 */
static int pv_fallback(struct vm *vm, uint32_t addr, uint64_t t0)
{
	uint32_t pc = cpu_pc(vm);
	const struct lilyvm_pv_entry *e = NULL;
	uint32_t shift = 0;

	if (!vm->pv.n || addr != pc)
		return 0;
	e = sitetab_pv_find(&vm->pv, addr);
	for (unsigned i = 0; !e && i < vm->n_segs; i++) {
		shift = vm->segs[i].vaddr - vm->segs[i].paddr;
		e = sitetab_pv_find(&vm->pv, addr + shift);
	}
	if (!e)
		return 0;
	vm->cpu.regs.rip += e->site - shift - pc;
	return emulate_rest(vm, lilyvm_site_find(vm->sites, vm->n_sites, e->site), 0, t0);
}

/*
 * Where the monitor itself sends the guest (an iret, an exception's return
 * address) may be inside a trampoline site's jump, whose bytes are no
 * instructions: the rest of the site is emulated instead.
 */
static int pv_inside_jump(struct vm *vm)
{
	uint32_t at = vm_link_address(vm, cpu_pc(vm));
	const struct lilyvm_site *s = site_containing(vm, at);

	if (!s || s->form != LILYVM_FORM_PV || at - s->addr >= 5 || at == s->addr)
		return 0;
	if (!emulate_rest(vm, s, at - s->addr, vm_clock_ns()))
		vm_fail(vm, "the guest went into the middle of a rewritten instruction at %#x", s->addr);
	return 1;
}

/*
 * The one instruction an interrupt waits for after sti cannot be stepped
 * natively when it is the first of a trampoline site: the step would only
 * take the jump. It is emulated, and the interrupt comes next.
 */
static int pv_shadow_step(struct vm *vm)
{
	const struct lilyvm_site *s = lilyvm_site_find(vm->sites, vm->n_sites,
						       vm_link_address(vm, cpu_pc(vm)));

	if (!s || s->form != LILYVM_FORM_PV)
		return 0;
	vm->cpu.inhibit = 0;
	if (emulate_run_first(vm, s->orig, s->len) == EMU_HALT)
		halt(vm);
	return 1;
}

/* What the trampolines read and keep: into the vCPU page before the guest runs, */
static void pv_push(struct vm *vm)
{
	if (!vm->pv.n)
		return;
	vm->pv_vcpu->vflags = vm->cpu.vflags;
	vm->pv_vcpu->pending = vm_irq_pending(vm);
	vm->pv_vcpu->cr[0] = vm->cpu.cr0;
	vm->pv_vcpu->cr[2] = vm->cpu.cr2;
	vm->pv_vcpu->cr[3] = vm->cpu.cr3;
	vm->pv_vcpu->cr[4] = vm->cpu.cr4;
}

/* and the flags back at its next stop. Only ring 0 can have changed them. */
static void pv_pull(struct vm *vm)
{
	if (vm->pv.n)
		vm->cpu.vflags = vm->pv_vcpu->vflags & FL_VIRTUAL;
}

#define AHEAD_MAX 24		/* instructions run ahead at most */
#define AHEAD_GIVE_UP 4		/* failures in a row before a place is no longer tried */

/* Whether running ahead may go on: ring 0, nothing to deliver, no shadow, no new event. */
static int may_run_ahead(struct vm *vm, uint64_t deliveries)
{
	return !vm->stop && vm->cpu.cpl == 0 && !vm->cpu.inhibit && vm->deliveries == deliveries &&
	       !((vm->cpu.vflags & FL_IF) && vm_irq_pending(vm));
}

/*
 * One instruction at EIP, emulated: an intact trap site (1), an ordinary
 * instruction (0); -1 for anything else, left for the guest to run.
 */
static int emulate_ahead(struct vm *vm)
{
	uint8_t bytes[LILYVM_MAX_INSN];
	size_t n = fetch(vm, bytes);
	uint32_t at = vm_link_address(vm, cpu_pc(vm));
	const struct lilyvm_site *s = site_containing(vm, at);
	enum emu_result r;

	/* Inside a site (a return into a trampoline site's jump, say) is the loop's to handle. */
	if (!n || (s && s->addr != at))
		return -1;
	if (s) {
		if (s->form != LILYVM_FORM_TRAP || !site_intact(s, bytes, n))
			return -1;
		r = emulate_site(vm, s);
		vm_account(vm, STAT_AHEAD_SITE, 0, 0);
		if (r == EMU_HALT)
			halt(vm);
		return r == EMU_HALT ? -1 : 1;
	}
	if (emulate_ordinary(vm, bytes, n) != EMU_DONE)
		return -1;
	vm_account(vm, STAT_AHEAD, 0, 0);
	return 0;
}

/*
 * After a trap, emulate on. Linux's entry and exit code pushes, loads and
 * pops segment registers and irets a few ordinary instructions apart, and
 * each trap is a ptrace stop (~13 us) where an emulated instruction costs
 * about 1 us: up to AHEAD_MAX instructions are emulated while they lead to
 * the next trap site. It stops at anything else (a trampoline is cheaper
 * run natively), at ring 3, and where an interrupt or exception is due.
 * Each place it starts from (a site, or the guest's entry after a
 * system call, exception or interrupt is delivered: slot n_sites) learns
 * whether it pays: one that reached no trap
 * site AHEAD_GIVE_UP times in a row is tried again only once in 64 times.
 */
static void run_ahead(struct vm *vm, size_t from)
{
	uint8_t *learnt = &vm->ahead[from];
	uint64_t deliveries = vm->deliveries;
	int reached = 0, r = 0;

	if (*learnt >= AHEAD_GIVE_UP) {
		if (++*learnt < AHEAD_GIVE_UP + 64)
			return;
		*learnt = AHEAD_GIVE_UP - 1;	/* one more try */
	}
	for (unsigned i = 0; i < AHEAD_MAX && r >= 0 && may_run_ahead(vm, deliveries); i++)
		reached |= (r = emulate_ahead(vm)) > 0;
	*learnt = reached ? 0 : *learnt + 1;
}

/*
 * Ring 3 is about to retry the access its kernel's #PF handler made
 * possible. Emulated here, the access sets the entry's A and D bits when
 * hardware would, so the page can be mapped with the batch that resumes
 * the guest (paging.c, premap) instead of faulting once more. Only an
 * ordinary instruction, and only if nothing came in between (an interrupt
 * delivered first has moved EIP).
 */
static void retry_ahead(struct vm *vm)
{
	uint8_t bytes[LILYVM_MAX_INSN];
	size_t n;

	if (!vm->retry_access || vm->cpu.cpl != 3 || (uint32_t)vm->cpu.regs.rip != vm->retry_eip)
		return;
	n = fetch(vm, bytes);
	if (n && emulate_ordinary(vm, bytes, n) == EMU_DONE)
		vm_account(vm, STAT_AHEAD, 0, 0);
}

/* A #GP in the child: a rewritten site, a privileged instruction without one, or the guest's own fault. */
static void on_general_protection(struct vm *vm, uint64_t t0)
{
	uint8_t bytes[LILYVM_MAX_INSN];
	size_t n;
	uint32_t pc = cpu_pc(vm);
	const struct lilyvm_site *s = lilyvm_site_find(vm->sites, vm->n_sites, vm_link_address(vm, pc));
	int at_site;

	if (pv_exit(vm, t0))
		return;
	n = fetch(vm, bytes);
	at_site = s && site_intact(s, bytes, n);
	const uint8_t *insn = at_site ? s->orig : bytes;
	size_t len = at_site ? s->len : n;
	enum emu_result r = at_site ? emulate_site(vm, s) : emulate_insn(vm, insn, len);
	char name[96], sym[128];

	if (vm->unsupported)
		explain_stop(vm, insn, len, pc);
	if (at_site) {
		trace(TRACE_SITE, "%s", where(vm, pc, sym, sizeof(sym)));
		vm_account(vm, STAT_SITE, s->cls, vm_clock_ns() - t0);
		if (r == EMU_DONE && !vm->unsupported)
			run_ahead(vm, (size_t)(s - vm->sites));
	} else if (r != EMU_NOT_PRIVILEGED) {
		trace(TRACE_MISS, "`%s` at %s", emulate_name(vm, insn, len, name, sizeof(name)),
		      where(vm, pc, sym, sizeof(sym)));
		vm_account(vm, STAT_MISS, 0, vm_clock_ns() - t0);
	}
	if (r == EMU_HALT)
		halt(vm);
	else if (r == EMU_NOT_PRIVILEGED)
		cpu_fault(vm, EXC_GP, 0);	/* an ordinary instruction's own #GP */
}

/* An instruction the host calls undefined may still be one the monitor emulates. */
static void on_invalid_opcode(struct vm *vm)
{
	uint8_t bytes[LILYVM_MAX_INSN];
	size_t n = fetch(vm, bytes);

	if (emulate_insn(vm, bytes, n) == EMU_NOT_PRIVILEGED)
		cpu_fault(vm, EXC_UD, 0);
}

/*
 * An int3 fill byte of a run site at an instruction boundary: the guest
 * returned into the run (from an exception one of its instructions raised)
 * or branched into it. The rest of the run is emulated from there.
 */
static int resume_run(struct vm *vm, const struct lilyvm_site *s, uint32_t at, uint64_t t0)
{
	vm->cpu.regs.rip--;	/* back onto the int3, where the instruction starts */
	if (emulate_rest(vm, s, at - s->addr, t0))
		return 1;
	vm->cpu.regs.rip++;
	return 0;
}

static void on_breakpoint(struct vm *vm, uint64_t t0)
{
	uint32_t at = vm_link_address(vm, cpu_pc(vm) - 1);
	char sym[128];

	for (const struct lilyvm_site *s = vm->sites; s < vm->sites + vm->n_sites; s++)
		if (at > s->addr && at < s->addr + s->len) {
			if (resume_run(vm, s, at, t0))
				return;
			vm_fail(vm, "the guest jumped into the middle of a rewritten instruction at %s",
				where(vm, s->addr, sym, sizeof(sym)));
			return;
		}
	cpu_deliver(vm, EXC_BP, EV_SOFT, 0, 0);
}

static void on_segv(struct vm *vm, const siginfo_t *si, uint64_t t0)
{
	char sym[128];

	if (si->si_code == SI_KERNEL) {
		on_general_protection(vm, t0);
		return;
	}
	if (pv_fallback(vm, (uint32_t)(uintptr_t)si->si_addr, t0))
		return;
	if (paging_fault(vm, si)) {
		vm_account(vm, STAT_PAGE_FAULT, 0, vm_clock_ns() - t0);
		return;
	}
	vm_fail(vm, "guest access to %#lx, which is not guest RAM (no MMIO device there), at %s",
		(unsigned long)si->si_addr, where(vm, cpu_pc(vm), sym, sizeof(sym)));
}

static void on_signal(struct vm *vm, const siginfo_t *si, uint64_t t0)
{
	switch (si->si_signo) {
	case SIGSEGV:
		on_segv(vm, si, t0);
		return;
	case SIGILL:
		on_invalid_opcode(vm);
		return;
	case SIGTRAP:
		on_breakpoint(vm, t0);
		return;
	case SIGFPE:
		cpu_fault(vm, si->si_code == FPE_INTDIV || si->si_code == FPE_INTOVF ? EXC_DE : EXC_MF, 0);
		return;
	case KICK_SIGNAL:
		vm_account(vm, STAT_KICK, 0, 0);
		return;
	default:
		vm_fail(vm, "unexpected host signal %d in the guest process", si->si_signo);
	}
}

/*
 * A system-call instruction the guest executed (PTRACE_SYSEMU skipped it).
 * Kernel code has none left after rewriting, so this is guest ring 3 or code
 * the kernel wrote at run time: give it to the guest as what it is.
 */
static void on_syscall(struct vm *vm)
{
	struct user_regs_struct *r = &vm->cpu.regs;
	uint8_t insn[2] = { 0, 0 };
	char sym[128];

	r->rax = r->orig_rax;	/* the host put -ENOSYS there */
	guest_read(vm, cpu_pc(vm) - 2, insn, 2);
	trace(TRACE_SYSCALL, "%02x %02x eax=%#x ebx=%#x ecx=%#x edx=%#x at %s cr3 %#x", insn[0],
	      insn[1], (uint32_t)r->rax, (uint32_t)r->rbx, (uint32_t)r->rcx, (uint32_t)r->rdx,
	      where(vm, cpu_pc(vm) - 2, sym, sizeof(sym)), vm->cpu.cr3);
	if (insn[0] == 0xcd) {
		cpu_deliver(vm, insn[1], EV_SOFT, 0, 0);
	} else if (insn[0] == 0x0f && insn[1] == 0x05) {
		r->rip -= 2;
		cpu_fault(vm, EXC_UD, 0);
	} else {
		vm_fail(vm, "sysenter from %s cannot be emulated (CPUID does not offer SEP)",
			where(vm, cpu_pc(vm), sym, sizeof(sym)));
	}
}

static void on_gone(struct vm *vm, int status)
{
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS)
		vm_fail(vm, "the guest process made a host system call and seccomp killed it");
	else if (WIFSIGNALED(status))
		vm_fail(vm, "the guest process was killed by signal %d", WTERMSIG(status));
	else
		vm_fail(vm, "the guest process exited (status %d)", WEXITSTATUS(status));
}

/*
 * Whether a stop ends the interrupt shadow of sti or mov ss. Every stop
 * but a kick means the shadowed instruction ran (natively, or it trapped
 * and is emulated or faults now). A kick can stop the child before that
 * instruction, so the shadow stays; at worst an interrupt then waits one
 * instruction longer, as if the kick had come a little later.
 */
static int ends_shadow(const struct child_event *ev)
{
	return !(ev->kind == CHILD_SIGNAL && ev->info.si_signo == KICK_SIGNAL);
}

static void handle_stop(struct vm *vm, const struct child_event *ev)
{
	uint64_t t0 = vm_clock_ns();

	vm->stops++;
	if (ev->kind == CHILD_GONE) {
		on_gone(vm, ev->status);
		return;
	}
	/* An access through a natively loaded selector faulted: with the guest's
	 * descriptor in place now, the instruction simply runs again. */
	if (cpu_from_host(vm) && ev->kind == CHILD_SIGNAL && ev->info.si_signo == SIGSEGV)
		return;
	if (ends_shadow(ev))
		vm->cpu.inhibit = 0;	/* before emulating: sti or mov ss may set it anew */
	if (ev->kind == CHILD_SYSCALL) {
		on_syscall(vm);
		vm_account(vm, STAT_SYSCALL, 0, vm_clock_ns() - t0);
	} else if (ev->kind == CHILD_SIGNAL) {
		on_signal(vm, &ev->info, t0);
	}
}

/* Deliver a pending external interrupt if the guest can take one now. */
static void deliver_interrupt(struct vm *vm)
{
	uint64_t t0;

	if (vm->cpu.inhibit || !(vm->cpu.vflags & FL_IF) || !vm_irq_pending(vm))
		return;
	t0 = vm_clock_ns();
	cpu_deliver(vm, vm->intc_ops->ack(vm->intc), EV_EXTERNAL, 0, 0);
	vm_account(vm, STAT_IRQ, 0, vm_clock_ns() - t0);
	run_ahead(vm, vm->n_sites);
}

enum lvm_exit lvm_run(struct vm *vm)
{
	struct child_event ev;
	uint64_t deliveries;

	while (!vm->stop) {
		int step;

		deliver_interrupt(vm);
		cpu_lazy_fpu_fault(vm);
		if (vm->stop)
			break;
		/* After sti or mov ss, one more instruction runs before an interrupt;
		 * the shadow ends when a stop shows it ran (handle_stop). */
		step = vm->cpu.inhibit && vm_irq_pending(vm);
		if (vm->pv.n && (pv_inside_jump(vm) || (step && pv_shadow_step(vm))))
			continue;
		if (!step)
			retry_ahead(vm);
		if (paging_before_resume(vm))
			break;
		pv_push(vm);
		if (cpu_to_host(vm) || child_resume(vm->child, step)) {
			vm_fail(vm, "cannot resume the guest process: %s", strerror(errno));
			break;
		}
		if (vm_wait_child(vm, &ev)) {
			vm_fail(vm, "lost the guest process: %s", strerror(errno));
			break;
		}
		pv_pull(vm);
		deliveries = vm->deliveries;
		handle_stop(vm, &ev);
		if (vm->deliveries != deliveries)	/* into the guest's entry code */
			run_ahead(vm, vm->n_sites);
	}
	return vm->stop == 1 ? LVM_POWEROFF : vm->stop == 2 ? LVM_RESET : LVM_ERROR;
}

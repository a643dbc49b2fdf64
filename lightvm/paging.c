/*
 * paging.c - guest paging on top of mmu-emu.
 *
 * A child process is a TLB: a guest-virtual page is mapped at the same
 * address in the child, from the RAM memfd, once an access has shown the
 * guest's page tables allow it, with the protection they give (read-only
 * until the Dirty bit is set, so that the first write still faults and sets
 * it). A host fault is a TLB miss: walk, then map or raise the guest's #PF.
 *
 * There is one child per view: an address space (CR3) as ring 0 sees it
 * (kernel view) or as ring 3 sees it (user view: only pages its kernel lets
 * it reach, since segment limits cannot protect the rest), or guest RAM one
 * to one while paging is off. The monitor runs the guest in the child of
 * the view it needs, moving registers and FPU state over when that changes
 * (a ring change or a CR3 write), so neither a system call nor an address
 * space switch empties a child. Up to MAX_VIEWS children are kept; then the
 * least recently used is emptied and reused.
 *
 * A kept view may be stale: on hardware a CR3 write flushes the TLB. So a
 * CR3 write bumps a generation, and a view from an older one is checked
 * against the guest's tables before it runs again (mmu_space_validate
 * drops each mapping whose PDE or PTE changed). invlpg drops the page in
 * every view; a paging mode change (CR0.PG/WP, CR4.PSE/PGE/PAE) empties
 * them all.
 */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "lightvm/cpu.h"
#include "lightvm/emulate.h"
#include "lightvm/log.h"
#include "lightvm/paging.h"

#define NR32_MMAP2 192
#define NR32_MUNMAP 91
#define NR32_MPROTECT 125
#define REPEAT_LIMIT 4		/* the same fault this often in a row: the model is wrong */
#define FAULT_AROUND 16		/* pages around a fault mapped too when the guest used them */
#define MMU_RETRY 0x100		/* vm.retry_access holds an access */

static struct mmu_regs regs_of(const struct vm *vm)
{
	return (struct mmu_regs){ vm->cpu.cr0, vm->cpu.cr3, vm->cpu.cr4, vm->cpu.efer };
}

static struct mmu_ram ram_of(const struct vm *vm)
{
	return (struct mmu_ram){ vm->ram, vm->ram_bytes };
}

static int paging_on(const struct vm *vm)
{
	return (vm->cpu.cr0 & CR0_PG_BIT) != 0;
}

/* The trampolines' invlpg skips pages no paging view has mapped: note each one mapped (sites.h). */
static void note_mapped(uint8_t *bits, uint32_t va, uint32_t len)
{
	for (uint32_t page = va >> 12; page < (va >> 12) + (len >> 12); page++)
		bits[page >> 3] |= (uint8_t)(1u << (page & 7));
}

/* mmu-emu's changes become host calls queued for the next batch of a view's child. */
static int queue_op(void *opaque, const struct mmu_op *op)
{
	struct view *v = opaque;
	int prot = PROT_READ | (op->noexec ? 0 : PROT_EXEC) | (op->writable ? PROT_WRITE : 0);

	switch (op->kind) {
	case MMU_OP_MAP:
		if (v->kind != VIEW_FLAT && v->kind != VIEW_FLAT_USER)	/* invlpg spares those */
			note_mapped(v->mapped_bits, op->va, op->len);
		return child_queue(v->child, NR32_MMAP2, op->va, op->len, prot,
				   MAP_SHARED | MAP_FIXED, CHILD_RAM_FD, op->gpa >> 12);
	case MMU_OP_UNMAP:
		return child_queue(v->child, NR32_MUNMAP, op->va, op->len, 0, 0, 0, 0);
	default:
		return child_queue(v->child, NR32_MPROTECT, op->va, op->len, prot, 0, 0, 0);
	}
}

static struct mmu_sink sink_of(struct view *v)
{
	return (struct mmu_sink){ queue_op, v };
}

static void check(struct vm *vm, struct view *v, int rc, const char *what)
{
	if (rc && !vm->stop)
		vm_fail(vm, "cannot change the guest process's mappings (%s): %s", what,
			child_error(v->child));
}

/*
 * The trampolines (read+exec), the mapped bitmap (read) and the vCPU page
 * (read+write) in the views of ring 0 and of paging off; never in ring 3's,
 * whose code must neither run the trampolines nor change the virtual flags
 * (sites.h).
 */
static int map_pv(struct vm *vm, struct view *v, int on)
{
	uint32_t base = (uint32_t)(vm->ram_bytes >> 12);
	uint32_t code_len = (vm->pv.code_size + 4095) & ~4095u;

	if (!vm->pv.n || v->pv_mapped == on)
		return 0;
	v->pv_mapped = on;
	if (!on)
		return child_queue(v->child, NR32_MUNMAP, LILYVM_PV_CODE,
				   LILYVM_PV_VCPU + 4096 - LILYVM_PV_CODE, 0, 0, 0, 0);
	return child_queue(v->child, NR32_MMAP2, LILYVM_PV_CODE, code_len, PROT_READ | PROT_EXEC,
			   MAP_SHARED | MAP_FIXED, CHILD_RAM_FD, base + (RAM_PV_CODE_OFF >> 12)) ||
	       child_queue(v->child, NR32_MMAP2, LILYVM_PV_MAPPED, LILYVM_PV_MAPPED_SIZE, PROT_READ,
			   MAP_SHARED | MAP_FIXED, CHILD_RAM_FD, base + (RAM_PV_MAPPED_OFF >> 12)) ||
	       child_queue(v->child, NR32_MMAP2, LILYVM_PV_VCPU, 4096, PROT_READ | PROT_WRITE,
			   MAP_SHARED | MAP_FIXED, CHILD_RAM_FD, base + (RAM_PV_VCPU_OFF >> 12));
}

/* Paging off: every RAM page at its own address, as ring 0 and 3 see it. */
static int map_identity(struct vm *vm, struct view *v)
{
	struct mmu_sink sink = sink_of(v);
	return mmu_space_map(v->space, 0, (uint32_t)vm->ram_bytes, 0, MMU_MAP_WRITE, NULL, &sink);
}

/* Most of the host's mapping budget (vm.max_map_count), leaving room for the stub's. */
static size_t vma_budget(void)
{
	unsigned long v = 65530;
	FILE *f = fopen("/proc/sys/vm/max_map_count", "r");

	if (f) {
		if (fscanf(f, "%lu", &v) != 1)
			v = 65530;
		fclose(f);
	}
	return v > 1024 ? v - v / 16 : v / 2;
}

static void view_free(struct view *v)
{
	if (!v)
		return;
	child_destroy(v->child);
	mmu_space_free(v->space);
	munmap(v, sizeof(*v));
}

/* Zeroed and mapped, not allocated: the LDT shadow's untouched pages cost no memory. */
static struct view *view_alloc(void)
{
	void *p = mmap(NULL, sizeof(struct view), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* A new child process with its own scratch page, locked down, mapping nothing yet. */
static struct view *view_new(struct vm *vm, unsigned slot, char *err, size_t errlen)
{
	struct view *v = view_alloc();
	uint64_t scratch_off = vm->ram_bytes + RAM_SCRATCH_OFF(slot);

	if (!v || !(v->space = mmu_space_new(vm->ram_va_start, GUEST_VA_LIMIT, vma_budget()))) {
		snprintf(err, errlen, "out of memory for a guest address space");
		view_free(v);
		return NULL;
	}
	v->scratch = vm->ram + scratch_off;
	v->mapped_bits = vm->pv_mapped;
	if (child_start(&v->child, vm->ram_fd, scratch_off >> 12, v->scratch, err, errlen)) {
		view_free(v);
		return NULL;
	}
	if (child_lock_down(v->child, v->scratch, SCRATCH_ADDR)) {
		snprintf(err, errlen, "cannot install the guest process's seccomp filter");
		view_free(v);
		return NULL;
	}
	return v;
}

/* Make v the view the guest runs in: its child, its mappings, its LDT, the FPU state. */
static int switch_to(struct vm *vm, struct view *v)
{
	struct view *old = vm->view;

	if (old && old != v && child_copy_fpu(old->child, v->child)) {
		vm_fail(vm, "cannot move the FPU state between guest processes");
		return -1;
	}
	vm->view = v;
	vm->child = v->child;
	vm->space = v->space;
	vm->scratch = v->scratch;
	vm->ldt_shadow = v->ldt_shadow;
	return 0;
}

int paging_init(struct vm *vm, char *err, size_t errlen)
{
	struct view *v = view_new(vm, 0, err, errlen);

	if (!v)
		return -1;
	vm->views[vm->n_views++] = v;
	v->kind = VIEW_FLAT;
	switch_to(vm, v);
	if (map_identity(vm, v) || map_pv(vm, v, 1) || child_flush(v->child)) {
		snprintf(err, errlen, "cannot map guest RAM into the guest process: %s",
			 child_error(v->child));
		return -1;
	}
	return 0;
}

void paging_destroy(struct vm *vm)
{
	for (unsigned i = 0; i < vm->n_views; i++)
		view_free(vm->views[i]);
	vm->n_views = 0;
	vm->view = NULL;
	vm->child = NULL;
	vm->space = NULL;
}

static int is_flat(unsigned kind)
{
	return kind == VIEW_FLAT || kind == VIEW_FLAT_USER;
}

/*
 * The view the guest needs now: paging off, or its address space as ring 0
 * or ring 3 sees it. With paging off both rings see all of RAM, and share a
 * view unless the image has trampolines, which ring 3 must not reach.
 */
static void wanted(const struct vm *vm, unsigned *kind, uint32_t *cr3)
{
	int on = (vm->cpu.cr0 & CR0_PG_BIT) != 0, user = vm->cpu.cpl == 3;

	*kind = !on ? (user && vm->pv.n ? VIEW_FLAT_USER : VIEW_FLAT) : user ? VIEW_USER : VIEW_KERNEL;
	*cr3 = !on ? 0 : vm->cpu.cr3 & (vm->cpu.cr4 & CR4_PAE_BIT ? 0xffffffe0u : 0xfffff000u);
}

/* A view to reuse: one nobody wants, else the least recently used one but the current. */
static struct view *victim(struct vm *vm)
{
	struct view *best = NULL;

	for (unsigned i = 0; i < vm->n_views; i++) {
		struct view *v = vm->views[i];

		if (v == vm->view)
			continue;
		if (v->kind == VIEW_NONE)
			return v;
		if (!best || v->used < best->used)
			best = v;
	}
	return best;
}

/* Find the view for (kind, cr3), or give one the role: a new child while allowed, else the LRU. */
static struct view *pick_view(struct vm *vm)
{
	unsigned kind;
	uint32_t cr3;
	struct view *v = NULL;
	char err[256];

	wanted(vm, &kind, &cr3);
	for (unsigned i = 0; i < vm->n_views && !v; i++)
		if (vm->views[i]->kind == kind && vm->views[i]->cr3 == cr3)
			v = vm->views[i];
	if (!v && vm->n_views < MAX_VIEWS && !(victim(vm) && victim(vm)->kind == VIEW_NONE)) {
		if (!(v = view_new(vm, vm->n_views, err, sizeof(err)))) {
			vm_fail(vm, "%s", err);
			return NULL;
		}
		vm->views[vm->n_views++] = v;
		vm->stats.views_made++;
	} else if (!v) {
		struct mmu_sink sink;

		v = victim(vm);
		sink = sink_of(v);
		check(vm, v, mmu_space_flush(v->space, &sink), "reuse");
		vm->stats.views_reused++;
	}
	if (v->kind != kind || v->cr3 != cr3) {
		v->kind = kind;
		v->cr3 = cr3;
		v->tlb_gen = vm->tlb_gen;	/* empty: nothing to check */
		if (is_flat(kind))
			check(vm, v, map_identity(vm, v), "paging off");
		check(vm, v, map_pv(vm, v, kind == VIEW_FLAT || kind == VIEW_KERNEL), "trampolines");
	}
	v->used = ++vm->view_clock;
	return v;
}

/* A view last used before a TLB flush keeps only what the guest's tables still say. */
static void revalidate(struct vm *vm, struct view *v)
{
	struct mmu_regs regs = regs_of(vm);
	struct mmu_ram ram = ram_of(vm);
	struct mmu_sink sink = sink_of(v);

	if (is_flat(v->kind) || v->tlb_gen == vm->tlb_gen)
		return;
	regs.cr3 = v->cr3;
	check(vm, v, mmu_space_validate(v->space, &regs, &ram, &sink), "CR3 write");
	v->tlb_gen = vm->tlb_gen;
}

int paging_translate(struct vm *vm, uint32_t lin, unsigned access, uint64_t *gpa)
{
	struct mmu_regs regs = regs_of(vm);
	struct mmu_ram ram = ram_of(vm);
	struct mmu_xlat x;
	uint32_t err;

	if (mmu_translate(&regs, &ram, lin, access, &x, &err)) {
		vm->cpu.cr2 = lin;
		vm->cpu.pf_pending = 1;
		vm->cpu.pf_err = err;
		return -1;
	}
	*gpa = x.gpa;
	return 0;
}

size_t paging_peek(struct vm *vm, uint32_t lin, void *buf, size_t len)
{
	uint8_t *b = buf;
	size_t n = 0;

	while (n < len) {
		struct mmu_regs regs = regs_of(vm);
		struct mmu_ram ram = ram_of(vm);
		uint32_t at = lin + n, err;
		size_t chunk = 4096 - (at & 4095);
		struct mmu_xlat x;
		uint64_t gpa = at;
		const uint8_t *p;

		chunk = chunk < len - n ? chunk : len - n;
		if (at >= GUEST_VA_LIMIT || at < lin)	/* the child has the monitor's pages there */
			break;
		if (paging_on(vm)) {
			if (mmu_space_lookup(vm->space, at, &gpa) & MMU_MAP_PRESENT)
				gpa += at & 4095;
			else if (mmu_translate(&regs, &ram, at, MMU_PEEK, &x, &err))
				break;
			else
				gpa = x.gpa;
		}
		if (!(p = gpa_ptr(vm, gpa, chunk)))
			break;
		memcpy(b + n, p, chunk);
		n += chunk;
	}
	return n;
}

/* How the child may hold a page the walk allowed for access. */
static unsigned map_flags(const struct vm *vm, const struct mmu_xlat *x, unsigned access)
{
	struct mmu_regs regs = regs_of(vm);
	unsigned f = 0;

	if (x->page_size > MMU_PAGE)
		f |= MMU_MAP_LARGE;
	if (x->nx)
		f |= MMU_MAP_NOEXEC;
	/* Writable only once dirty, so that the first write still sets D. */
	if (x->dirty && mmu_allows(&regs, x, (access & MMU_USER) | MMU_WRITE))
		f |= MMU_MAP_WRITE;
	return f;
}

/* Make the translation real in the child: the page, or all of a 4 MiB page that is RAM. */
static void map_translation(struct vm *vm, uint32_t lin, const struct mmu_xlat *x, unsigned flags)
{
	struct mmu_sink sink = sink_of(vm->view);
	struct mmu_origin origin = { { x->upper[0], x->upper[1] }, x->leaf };
	uint32_t va = x->page_lin, len = x->page_size;
	uint64_t gpa = x->page_gpa;

	if (gpa >= vm->ram_bytes) {
		va = lin & ~4095u;	/* no RAM behind it: the junk page reads and writes */
		len = 4096;
		gpa = vm->ram_bytes + RAM_JUNK_OFF;
	} else if (gpa + len > vm->ram_bytes) {
		len = vm->ram_bytes - gpa;	/* a 4 MiB page that runs past the end of RAM */
		if (lin >= va + len) {
			va = lin & ~4095u;
			len = 4096;
			gpa = vm->ram_bytes + RAM_JUNK_OFF;
		}
	}
	check(vm, vm->view, mmu_space_map(vm->space, va, len, gpa, flags, &origin, &sink), "map");
}

/*
 * Map lin ahead of its access if the guest's tables already allow it and
 * already say it was accessed (and written, for a write): no entry changes,
 * as with a translation the processor caches early. Saves the fault.
 */
static void premap(struct vm *vm, uint32_t lin, unsigned access)
{
	struct mmu_regs regs = regs_of(vm);
	struct mmu_ram ram = ram_of(vm);
	struct mmu_xlat x;
	uint32_t err;

	if (lin < vm->ram_va_start || lin >= GUEST_VA_LIMIT ||
	    (mmu_space_lookup(vm->space, lin, NULL) & MMU_MAP_PRESENT) ||
	    mmu_translate(&regs, &ram, lin, access | MMU_PEEK, &x, &err) || !(x.leaf & PTE_A) ||
	    ((access & MMU_WRITE) && !x.dirty) || x.gpa >= vm->ram_bytes)
		return;
	map_translation(vm, lin, &x, map_flags(vm, &x, access));
}

/* Neighbours of a 4 KiB page just mapped, in the same aligned window of FAULT_AROUND pages. */
static void map_around(struct vm *vm, uint32_t lin, unsigned access)
{
	uint32_t first = lin & ~(FAULT_AROUND * 4096 - 1);

	for (uint32_t i = 0; i < FAULT_AROUND; i++)
		if (first + i * 4096 != (lin & ~4095u))
			premap(vm, first + i * 4096, access & MMU_USER);
}

/*
 * What the instruction at CS:EIP was doing at lin when the host said the
 * page is not mapped: fetching itself (the page of EIP, or the next one
 * for an instruction that crosses into it), writing, or reading.
 */
static unsigned classify(struct vm *vm, uint32_t lin)
{
	uint32_t pc = cpu_pc(vm);
	uint8_t bytes[LILYVM_MAX_INSN];
	size_t n, len = 0;
	int w;

	if (!(mmu_space_lookup(vm->space, pc, NULL) & MMU_MAP_PRESENT))
		return MMU_FETCH;
	n = paging_peek(vm, pc, bytes, sizeof(bytes));
	w = emulate_writes_at(vm, bytes, n, lin, &len);
	if (w < 0 || ((pc + len - 1) >> 12 != pc >> 12 && (lin >> 12) == (pc + len - 1) >> 12 &&
		      !(mmu_space_lookup(vm->space, lin, NULL) & MMU_MAP_PRESENT)))
		return MMU_FETCH;
	return w ? MMU_WRITE : 0;
}

/*
 * A page the child holds refused an access: always readable, so a write,
 * unless the page is not executable and the instruction is on it.
 */
static int fetched_from(struct vm *vm, uint32_t lin, unsigned state)
{
	uint32_t pc = cpu_pc(vm);

	return (state & MMU_MAP_NOEXEC) &&
	       (lin >> 12 == pc >> 12 || lin >> 12 == (pc + LILYVM_MAX_INSN - 1) >> 12);
}

/*
 * Paging off, an access past the end of RAM: on a PC that reaches no
 * memory, reads float and writes vanish (QEMU reads zeros). The junk page
 * stands in, as for page tables that point outside RAM.
 */
static int beyond_ram(struct vm *vm, uint32_t lin)
{
	struct mmu_xlat x = { .gpa = lin, .page_lin = lin & ~4095u, .page_size = MMU_PAGE,
			      .page_gpa = lin & ~4095u, .writable = 1, .dirty = 1 };

	if (lin < vm->ram_bytes || lin < vm->ram_va_start || lin >= GUEST_VA_LIMIT)
		return 0;
	map_translation(vm, lin, &x, MMU_MAP_WRITE);
	return 1;
}

/*
 * The same fault, allowed by the guest's tables, again and again means the
 * child does not hold what the model says. Only back-to-back stops count,
 * in the same view: other address spaces run the same code at the same
 * addresses, and faults the guest takes are not counted (a #PF handler may
 * well need several tries).
 */
static int repeating(struct vm *vm, uint32_t lin, unsigned access)
{
	if (vm->last_fault_lin == lin && vm->last_fault_access == access &&
	    vm->last_fault_eip == (uint32_t)vm->cpu.regs.rip && vm->last_fault_view == vm->view &&
	    vm->last_fault_stop + 1 == vm->stops) {
		vm->last_fault_stop = vm->stops;
		if (++vm->fault_repeats >= REPEAT_LIMIT) {
			vm_fail(vm, "the guest faults at %#x again and again though its page tables "
				"allow the access (monitor mapping error)", lin);
			return 1;
		}
		return 0;
	}
	vm->last_fault_lin = lin;
	vm->last_fault_access = access;
	vm->last_fault_eip = (uint32_t)vm->cpu.regs.rip;
	vm->last_fault_view = vm->view;
	vm->last_fault_stop = vm->stops;
	vm->fault_repeats = 0;
	return 0;
}

/*
 * A fault at an address the child can never map (page 0, the monitor's top
 * pages). If the guest's tables do not allow the access either (a NULL
 * pointer in a guest program), it is the guest's #PF, as on hardware; only
 * an access they allow is one the monitor cannot carry out.
 */
static int unmappable_fault(struct vm *vm, uint32_t lin, unsigned access)
{
	struct mmu_regs regs = regs_of(vm);
	struct mmu_ram ram = ram_of(vm);
	struct mmu_xlat x;
	uint32_t err;

	if (mmu_translate(&regs, &ram, lin, access | classify(vm, lin), &x, &err)) {
		vm->cpu.cr2 = lin;
		cpu_fault(vm, EXC_PF, err);
		return 1;
	}
	vm_unsupported(vm, "the guest uses linear address %#x, which its host process cannot "
		       "map (see the layout in lightvm/README.md)", lin);
	return 1;
}

int paging_fault(struct vm *vm, const siginfo_t *si)
{
	uint32_t lin = (uint32_t)(uintptr_t)si->si_addr, err;
	unsigned access = vm->cpu.cpl == 3 ? MMU_USER : 0, state;
	struct mmu_regs regs = regs_of(vm);
	struct mmu_ram ram = ram_of(vm);
	struct mmu_xlat x;

	if (si->si_code != SEGV_MAPERR && si->si_code != SEGV_ACCERR)
		return 0;
	if (!paging_on(vm))
		return beyond_ram(vm, lin);
	if (lin < vm->ram_va_start || lin >= GUEST_VA_LIMIT)
		return unmappable_fault(vm, lin, access);
	state = mmu_space_lookup(vm->space, lin, NULL);
	if (si->si_code == SEGV_ACCERR && (state & MMU_MAP_PRESENT))
		access |= fetched_from(vm, lin, state) ? MMU_FETCH : MMU_WRITE;
	else
		access |= classify(vm, lin);
	trace(TRACE_PF, "%s at %#x, eip %#x, cpl %u", access & MMU_FETCH ? "fetch" :
	      access & MMU_WRITE ? "write" : "read", lin, (uint32_t)vm->cpu.regs.rip, vm->cpu.cpl);
	if (mmu_translate(&regs, &ram, lin, access, &x, &err)) {
		if (access & MMU_USER) {	/* ring 3 will retry once its kernel is done */
			vm->retry_lin = lin;
			vm->retry_access = (access & ~MMU_FETCH) | MMU_RETRY;
			vm->retry_eip = (uint32_t)vm->cpu.regs.rip;
		}
		vm->cpu.cr2 = lin;
		cpu_fault(vm, EXC_PF, err);
		return 1;
	}
	if (repeating(vm, lin, access))
		return 1;
	map_translation(vm, lin, &x, map_flags(vm, &x, access));
	if (x.page_size == MMU_PAGE)
		map_around(vm, lin, access);
	return 1;
}

/* A paging mode change: no mapping made under the old rules stays. */
static void flush_all_views(struct vm *vm)
{
	for (unsigned i = 0; i < vm->n_views; i++) {
		struct view *v = vm->views[i];
		struct mmu_sink sink = sink_of(v);

		check(vm, v, mmu_space_flush(v->space, &sink), "paging mode change");
		v->kind = VIEW_NONE;
	}
	memset(vm->pv_mapped, 0, LILYVM_PV_MAPPED_SIZE);
}

void paging_cr_written(struct vm *vm, unsigned cr, uint32_t old)
{
	uint32_t now = cr == 0 ? vm->cpu.cr0 : cr == 3 ? vm->cpu.cr3 : vm->cpu.cr4;
	uint32_t cr0_flush = CR0_PG_BIT | CR0_WP_BIT;
	uint32_t cr4_flush = CR4_PSE_BIT | CR4_PAE_BIT | CR4_PGE_BIT;

	if (cr == 3)
		vm->tlb_gen++;	/* every view checks itself against the tables when next used */
	else if ((cr == 0 && ((old ^ now) & cr0_flush)) || (cr == 4 && ((old ^ now) & cr4_flush)))
		flush_all_views(vm);
}

void paging_efer_written(struct vm *vm, uint64_t old)
{
	if ((old ^ vm->cpu.efer) & EFER_NXE_BIT)
		flush_all_views(vm);
}

void paging_invlpg(struct vm *vm, uint32_t lin)
{
	if (!paging_on(vm))
		return;
	for (unsigned i = 0; i < vm->n_views; i++) {
		struct view *v = vm->views[i];
		struct mmu_sink sink = sink_of(v);

		if (!is_flat(v->kind))
			check(vm, v, mmu_space_invalidate(v->space, lin, &sink), "invlpg");
	}
	/* No paging view maps the page now: the next invlpg of it needs no trap. */
	vm->pv_mapped[lin >> 15] &= (uint8_t)~(1u << ((lin >> 12) & 7));
}

int paging_before_resume(struct vm *vm)
{
	struct view *v = pick_view(vm);

	if (!v || (v != vm->view && switch_to(vm, v)))
		return -1;
	revalidate(vm, v);
	if (v->kind == VIEW_USER && vm->retry_access) {
		premap(vm, vm->retry_lin, vm->retry_access & ~MMU_RETRY);
		vm->retry_access = 0;
	}
	if (child_flush(v->child))
		check(vm, v, -1, "batch");
	return vm->stop ? -1 : 0;
}

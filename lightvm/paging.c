/*
 * paging.c - guest paging on top of mmu-emu.
 *
 * The child is the guest's TLB: a guest-virtual page is mapped at the same
 * address in the child, from the RAM memfd, once an access has shown the
 * guest's page tables allow it, with the protection they give (read-only
 * until the Dirty bit is set, so that the first write still faults and sets
 * it). A host fault is a TLB miss: walk, then map or raise the guest's #PF.
 * CR3 writes, invlpg and CR0/CR4 changes drop mappings as the TLB would
 * drop entries. Guest ring 3 runs only with pages its kernel lets it reach:
 * before it runs, supervisor pages are unmapped (mmu_space_hide_supervisor).
 *
 * With paging off, guest RAM is mapped one to one.
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

static struct mmu_regs regs_of(const struct vm *vm)
{
	return (struct mmu_regs){ vm->cpu.cr0, vm->cpu.cr3, vm->cpu.cr4 };
}

static struct mmu_ram ram_of(const struct vm *vm)
{
	return (struct mmu_ram){ vm->ram, vm->ram_bytes };
}

static int paging_on(const struct vm *vm)
{
	return (vm->cpu.cr0 & CR0_PG_BIT) != 0;
}

/* mmu-emu's changes become host calls queued for the child's next batch. */
static int queue_op(void *opaque, const struct mmu_op *op)
{
	struct vm *vm = opaque;
	int prot = PROT_READ | PROT_EXEC | (op->writable ? PROT_WRITE : 0);

	switch (op->kind) {
	case MMU_OP_MAP:
		return child_queue(vm->child, NR32_MMAP2, op->va, op->len, prot,
				   MAP_SHARED | MAP_FIXED, CHILD_RAM_FD, op->gpa >> 12);
	case MMU_OP_UNMAP:
		return child_queue(vm->child, NR32_MUNMAP, op->va, op->len, 0, 0, 0, 0);
	default:
		return child_queue(vm->child, NR32_MPROTECT, op->va, op->len, prot, 0, 0, 0);
	}
}

static struct mmu_sink sink_of(struct vm *vm)
{
	return (struct mmu_sink){ queue_op, vm };
}

static void check(struct vm *vm, int rc, const char *what)
{
	if (rc && !vm->stop)
		vm_fail(vm, "cannot change the guest process's mappings (%s): %s", what,
			child_error(vm->child));
}

/* Paging off: every RAM page at its own address, as ring 0 and 3 see it. */
static int map_identity(struct vm *vm)
{
	struct mmu_sink sink = sink_of(vm);
	unsigned all = MMU_MAP_WRITE | MMU_MAP_USER | MMU_MAP_USER_WRITE;

	return mmu_space_map(vm->space, 0, (uint32_t)vm->ram_bytes, 0, all, &sink);
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

int paging_init(struct vm *vm, char *err, size_t errlen)
{
	vm->space = mmu_space_new(vm->ram_va_start, GUEST_VA_LIMIT, vma_budget());
	if (!vm->space || map_identity(vm) || child_flush(vm->child)) {
		snprintf(err, errlen, "cannot map guest RAM into the guest process: %s",
			 vm->space ? child_error(vm->child) : "out of memory");
		return -1;
	}
	return 0;
}

void paging_destroy(struct vm *vm)
{
	mmu_space_free(vm->space);
	vm->space = NULL;
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

	if (x->user)
		f |= MMU_MAP_USER;
	if (x->user && x->writable)
		f |= MMU_MAP_USER_WRITE;
	if (x->global)
		f |= MMU_MAP_GLOBAL;
	if (x->page_size == MMU_LARGE)
		f |= MMU_MAP_LARGE;
	/* Writable only once dirty, so that the first write still sets D. */
	if (x->dirty && mmu_allows(&regs, x, (access & MMU_USER) | MMU_WRITE))
		f |= MMU_MAP_WRITE;
	return f;
}

/* Make the translation real in the child: the page, or all of a 4 MiB page that is RAM. */
static void map_translation(struct vm *vm, uint32_t lin, const struct mmu_xlat *x, unsigned flags)
{
	struct mmu_sink sink = sink_of(vm);
	uint32_t va = x->page_lin, len = x->page_size;
	uint64_t gpa = x->page_gpa;

	if (gpa >= vm->ram_bytes) {
		va = lin & ~4095u;	/* no RAM behind it: the junk page reads and writes */
		len = 4096;
		gpa = vm->ram_bytes + 4096;
	} else if (gpa + len > vm->ram_bytes) {
		len = vm->ram_bytes - gpa;	/* a 4 MiB page that runs past the end of RAM */
		if (lin >= va + len) {
			va = lin & ~4095u;
			len = 4096;
			gpa = vm->ram_bytes + 4096;
		}
	}
	if (!(flags & MMU_MAP_USER) || ((flags & MMU_MAP_WRITE) && !(flags & MMU_MAP_USER_WRITE)))
		vm->supervisor_mapped = 1;
	check(vm, mmu_space_map(vm->space, va, len, gpa, flags, &sink), "map");
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

/* The same fault again and again means the child does not hold what the model says. */
static int repeating(struct vm *vm, uint32_t lin, unsigned access)
{
	if (vm->last_fault_lin == lin && vm->last_fault_access == access &&
	    vm->last_fault_eip == (uint32_t)vm->cpu.regs.rip) {
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
	vm->fault_repeats = 0;
	return 0;
}

int paging_fault(struct vm *vm, const siginfo_t *si)
{
	uint32_t lin = (uint32_t)(uintptr_t)si->si_addr, err;
	unsigned access = vm->cpu.cpl == 3 ? MMU_USER : 0, state;
	struct mmu_regs regs = regs_of(vm);
	struct mmu_ram ram = ram_of(vm);
	struct mmu_xlat x;

	if (!paging_on(vm) || (si->si_code != SEGV_MAPERR && si->si_code != SEGV_ACCERR))
		return 0;
	if (lin < vm->ram_va_start || lin >= GUEST_VA_LIMIT) {
		vm_unsupported(vm, "the guest uses linear address %#x, which its host process cannot "
			       "map (see the layout in lightvm/README.md)", lin);
		return 1;
	}
	state = mmu_space_lookup(vm->space, lin, NULL);
	if (si->si_code == SEGV_ACCERR && (state & MMU_MAP_PRESENT))
		access |= MMU_WRITE;	/* mapped, readable, executable: it was a write */
	else
		access |= classify(vm, lin);
	if (repeating(vm, lin, access))
		return 1;
	trace(TRACE_PF, "%s at %#x, eip %#x, cpl %u", access & MMU_FETCH ? "fetch" :
	      access & MMU_WRITE ? "write" : "read", lin, (uint32_t)vm->cpu.regs.rip, vm->cpu.cpl);
	if (mmu_translate(&regs, &ram, lin, access, &x, &err)) {
		vm->cpu.cr2 = lin;
		cpu_fault(vm, EXC_PF, err);
		return 1;
	}
	map_translation(vm, lin, &x, map_flags(vm, &x, access));
	return 1;
}

void paging_cr_written(struct vm *vm, unsigned cr, uint32_t old)
{
	struct mmu_sink sink = sink_of(vm);
	uint32_t now = cr == 0 ? vm->cpu.cr0 : cr == 3 ? vm->cpu.cr3 : vm->cpu.cr4;
	uint32_t cr0_flush = CR0_PG_BIT | CR0_WP_BIT;
	uint32_t cr4_flush = CR4_PSE_BIT | CR4_PAE_BIT | CR4_PGE_BIT;

	if (cr == 3 && paging_on(vm)) {
		check(vm, mmu_space_flush(vm->space, 1, &sink), "CR3 write");
	} else if ((cr == 0 && ((old ^ now) & cr0_flush)) || (cr == 4 && ((old ^ now) & cr4_flush))) {
		check(vm, mmu_space_flush(vm->space, 0, &sink), "paging mode change");
		if (!paging_on(vm))
			check(vm, map_identity(vm), "paging off");
	}
}

void paging_invlpg(struct vm *vm, uint32_t lin)
{
	struct mmu_sink sink = sink_of(vm);

	if (paging_on(vm))
		check(vm, mmu_space_invalidate(vm->space, lin, &sink), "invlpg");
}

int paging_before_resume(struct vm *vm)
{
	struct mmu_sink sink = sink_of(vm);

	if (vm->cpu.cpl == 3 && vm->supervisor_mapped && paging_on(vm)) {
		check(vm, mmu_space_hide_supervisor(vm->space, &sink), "entering ring 3");
		vm->supervisor_mapped = 0;
	}
	if (child_flush(vm->child)) {
		check(vm, -1, "batch");
		return -1;
	}
	return vm->stop ? -1 : 0;
}

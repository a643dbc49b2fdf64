/*
 * report.c - what the monitor prints when a guest stops: the guest's
 * registers, a backtrace of the guest kernel stack, and trap statistics.
 */
#include <stdio.h>

#include "lightvm/cpu.h"
#include "lightvm/paging.h"
#include "lightvm/symbols.h"
#include "rewriter/sites.h"

#define MAX_FRAMES 32

static const char *const seg_names[SEG_COUNT] = { "es", "cs", "ss", "ds", "fs", "gs" };

static void dump_registers(struct vm *vm, FILE *f)
{
	const struct cpu *c = &vm->cpu;
	const struct user_regs_struct *r = &c->regs;
	char sym[128];

	fprintf(f, "  eip %s  eflags %08x  cpl %u\n",
		vm_symbol(vm, cpu_pc(vm), sym, sizeof(sym)), cpu_eflags(vm), c->cpl);
	fprintf(f, "  eax %08x ebx %08x ecx %08x edx %08x\n", (uint32_t)r->rax, (uint32_t)r->rbx,
		(uint32_t)r->rcx, (uint32_t)r->rdx);
	fprintf(f, "  esi %08x edi %08x ebp %08x esp %08x\n", (uint32_t)r->rsi, (uint32_t)r->rdi,
		(uint32_t)r->rbp, (uint32_t)r->rsp);
	for (int s = 0; s < SEG_COUNT; s++)
		fprintf(f, "  %s %04x base %08x limit %08x attr %04x\n", seg_names[s], c->seg[s].sel,
			c->seg[s].base, c->seg[s].limit, c->seg[s].attr);
	fprintf(f, "  cr0 %08x cr2 %08x cr3 %08x cr4 %08x\n", c->cr0, c->cr2, c->cr3, c->cr4);
	fprintf(f, "  gdtr %08x/%04x idtr %08x/%04x tr %04x ldtr %04x\n", c->gdtr.base, c->gdtr.limit,
		c->idtr.base, c->idtr.limit, c->tr.sel, c->ldtr.sel);
}

/* Read a 32-bit word of guest memory, touching nothing (no A/D bits). */
static int peek(struct vm *vm, uint32_t addr, uint32_t *v)
{
	return paging_peek(vm, addr, v, 4) == 4 ? 0 : -1;
}

/*
 * A function that has not pushed %ebp yet, or never does (a leaf compiled
 * without a frame), still has its return address on top of the stack.
 */
static int frame_not_set_up(struct vm *vm, uint32_t pc)
{
	uint32_t start = symtab_start(vm->syms, pc), prologue = 0;

	if (!start || peek(vm, start, &prologue))
		return 0;
	return (prologue & 0xffffff) != 0xe58955 || pc < start + 3;
}

/* Walk the guest's frame-pointer chain (kernels built with frame pointers). */
static void backtrace(struct vm *vm, FILE *f)
{
	uint32_t ebp = (uint32_t)vm->cpu.regs.rbp, frame[2], ret;
	char sym[128];
	int i = 1;

	fprintf(f, "guest backtrace:\n  #0 %s\n", vm_symbol(vm, cpu_pc(vm), sym, sizeof(sym)));
	if (frame_not_set_up(vm, cpu_pc(vm)) &&
	    !peek(vm, vm->cpu.seg[SEG_SS].base + (uint32_t)vm->cpu.regs.rsp, &ret))
		fprintf(f, "  #%d %s\n", i++, vm_symbol(vm, ret, sym, sizeof(sym)));
	for (; i < MAX_FRAMES && ebp; i++) {
		if (paging_peek(vm, ebp, frame, sizeof(frame)) != sizeof(frame) || !frame[1])
			break;
		fprintf(f, "  #%d %s\n", i, vm_symbol(vm, frame[1], sym, sizeof(sym)));
		if (frame[0] <= ebp)
			break;	/* frames must go up the stack; anything else is garbage */
		ebp = frame[0];
	}
}

void lvm_dump_guest(struct vm *vm, FILE *f)
{
	fprintf(f, "guest registers:\n");
	dump_registers(vm, f);
	backtrace(vm, f);
}

static const char *const kind_names[STAT_KINDS] = {
	[STAT_SITE] = "rewritten sites", [STAT_MISS] = "misses (no site)",
	[STAT_SYSCALL] = "system-call instructions", [STAT_EXCEPTION] = "exceptions",
	[STAT_IRQ] = "interrupts delivered", [STAT_HALT] = "hlt (time asleep)", [STAT_KICK] = "kicks",
	[STAT_PAGE_FAULT] = "page faults (host)", [STAT_PV_EXIT] = "trampoline exits (IF set)",
	[STAT_AHEAD] = "instructions run ahead", [STAT_AHEAD_SITE] = "sites run ahead (no trap)",
};

static void stat_line(FILE *f, const char *name, uint64_t count, uint64_t ns)
{
	if (count)
		fprintf(f, "  %-26s %10llu %12.1f %10.2f\n", name, (unsigned long long)count,
			ns / 1e3, ns / 1e3 / count);
}

void lvm_print_stats(const struct vm *vm, FILE *f)
{
	fprintf(f, "trap statistics:\n  %-26s %10s %12s %10s\n", "kind", "count", "total us", "avg us");
	for (int k = 0; k < STAT_KINDS; k++)
		stat_line(f, kind_names[k], vm->stats.count[k], vm->stats.ns[k]);
	fprintf(f, "  ptrace stops of the guest: %llu (the other counts include what ran ahead)\n",
		(unsigned long long)vm->stops);
	fprintf(f, "  sites by class:\n");
	for (int c = 1; c < LILYVM_CLS_COUNT; c++)
		stat_line(f, lilyvm_class_name(c), vm->stats.site_count[c], vm->stats.site_ns[c]);
	size_t pages = 0, vmas = 0;

	for (unsigned i = 0; i < vm->n_views; i++) {
		pages += mmu_space_pages(vm->views[i]->space);
		vmas += mmu_space_vmas(vm->views[i]->space);
	}
	fprintf(f, "  guest processes: %u (of %u kept), %llu started, %llu emptied for reuse\n",
		vm->n_views, MAX_VIEWS, (unsigned long long)vm->stats.views_made + 1,
		(unsigned long long)vm->stats.views_reused);
	fprintf(f, "  guest pages mapped at exit: %zu, in %zu host mappings\n", pages, vmas);
	if (vm->n_counters)
		fprintf(f, "device events:\n");
	for (size_t i = 0; i < vm->n_counters; i++)
		fprintf(f, "  %-52s %12llu\n", vm->counters[i].name,
			(unsigned long long)vm->counters[i].n);
}

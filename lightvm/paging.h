/*
 * paging.h - guest paging in the monitor: what the child maps of the guest
 * (mmu-emu's model, made real by batches of host calls in the child), the
 * faults that fill it, and the events that empty it (CR writes, invlpg,
 * entering ring 3).
 */
#ifndef LIGHTVM_PAGING_H
#define LIGHTVM_PAGING_H

#include <signal.h>

#include "lightvm/vm.h"
#include "mmu-emu/mmu.h"

/* Create the mapping model and map guest RAM as paging-off code sees it. */
int paging_init(struct vm *vm, char *err, size_t errlen);
/* Free the model. */
void paging_destroy(struct vm *vm);
/* A SIGSEGV in the child: 1 if paging explains it (mapped, or a #PF raised), 0 if not. */
int paging_fault(struct vm *vm, const siginfo_t *si);
/* CR0, CR3 or CR4 (cr = 0, 3, 4) changed from old: drop what the TLB would drop. */
void paging_cr_written(struct vm *vm, unsigned cr, uint32_t old);
/* EFER changed from old: NXE changes what may execute. */
void paging_efer_written(struct vm *vm, uint64_t old);
/* invlpg lin. */
void paging_invlpg(struct vm *vm, uint32_t lin);
/* Before the child runs: hide supervisor pages from ring 3, run the queued host calls. */
int paging_before_resume(struct vm *vm);
/* Translate lin for the monitor's own access; -1 after recording a #PF (cpu.pf_*, CR2). */
int paging_translate(struct vm *vm, uint32_t lin, unsigned access, uint64_t *gpa);
/* Copy up to len bytes of guest memory at lin as the child sees them, with no side effects; how many. */
size_t paging_peek(struct vm *vm, uint32_t lin, void *buf, size_t len);

#endif

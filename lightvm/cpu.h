/*
 * cpu.h - the virtual CPU: protected-mode segmentation, privilege levels,
 * EFLAGS, and delivery of exceptions and interrupts through the guest IDT
 * exactly as an i386 does it (Intel SDM vol. 3, chapters 5 and 6).
 */
#ifndef LIGHTVM_CPU_H
#define LIGHTVM_CPU_H

#include "lightvm/vm.h"

enum {
	EXC_DE = 0, EXC_DB = 1, EXC_NMI = 2, EXC_BP = 3, EXC_OF = 4, EXC_BR = 5, EXC_UD = 6,
	EXC_NM = 7, EXC_DF = 8, EXC_TS = 10, EXC_NP = 11, EXC_SS = 12, EXC_GP = 13,
	EXC_PF = 14, EXC_MF = 16, EXC_AC = 17, EXC_XM = 19,
};

/* How an event entered the CPU: it decides DPL checks and the saved EIP. */
enum event_kind {
	EV_FAULT,		/* exception: saved EIP is the faulting instruction */
	EV_SOFT,		/* int n / int3 / into: gate DPL checked against CPL */
	EV_EXTERNAL,		/* hardware interrupt */
};

/* The state boot protocols promise: PE on, flat segments with these selectors, ring 0, IF clear. */
void cpu_reset(struct vm *vm, uint16_t code_sel, uint16_t data_sel);
/* Guest EFLAGS as the guest sees it (host arithmetic flags + virtual bits). */
uint32_t cpu_eflags(const struct vm *vm);
/* Write EFLAGS bits in mask (IF and IOPL further limited by CPL/IOPL as popf/iret do). */
void cpu_set_eflags(struct vm *vm, uint32_t value, uint32_t mask);
/* Deliver vector vec of kind through the guest IDT; EIP in regs is the return address. */
void cpu_deliver(struct vm *vm, unsigned vec, enum event_kind kind, int has_err, uint32_t err);
/* Raise a fault: shorthand for cpu_deliver(EV_FAULT) with an error code where the vector has one. */
void cpu_fault(struct vm *vm, unsigned vec, uint32_t err);
/* Load a data or stack segment register with sel as mov/pop/lds do; -1 after raising a fault. */
int cpu_load_seg(struct vm *vm, enum seg_reg r, uint16_t sel);
/* Far jump or call to sel:off (call pushes CS and next); -1 after raising a fault. */
int cpu_far_transfer(struct vm *vm, uint16_t sel, uint32_t off, int call, int op32,
		     uint32_t next);
/* Far return (lret [imm]); -1 after raising a fault. */
int cpu_far_ret(struct vm *vm, int op32, uint16_t imm);
/* Interrupt return; -1 after raising a fault. */
int cpu_iret(struct vm *vm, int op32);
/* Enter the kernel through SYSENTER_CS/ESP/EIP. */
int cpu_sysenter(struct vm *vm);
/* Return to ring 3 from sysenter (EDX=EIP, ECX=ESP). */
int cpu_sysexit(struct vm *vm);
/* Raise the #PF a failed guest_read/guest_write recorded; returns -1. */
int cpu_raise_memory_fault(struct vm *vm);
/* Push size (2 or 4) bytes on the guest stack; -1 if it faults (recorded, not raised). */
int cpu_push(struct vm *vm, uint32_t value, unsigned size);
/* Pop size bytes from the guest stack; -1 if it faults (recorded, not raised). */
int cpu_pop(struct vm *vm, uint32_t *value, unsigned size);
/* Read the 8-byte descriptor for sel from the GDT or LDT; -1 if sel is past the table. */
int cpu_read_desc(struct vm *vm, uint16_t sel, uint64_t *desc);
/* Load LDTR (lldt) or TR (ltr, marks the TSS busy); -1 after raising a fault. */
int cpu_load_system_seg(struct vm *vm, int tr, uint16_t sel);
/* Write CR0; setting TS arms the #NM that lazy FPU switching expects. */
void cpu_set_cr0(struct vm *vm, uint32_t value);
/* Deliver the armed #NM if the guest is about to run ring 3 code with TS set. */
void cpu_lazy_fpu_fault(struct vm *vm);
/* Prepare the host register image for resuming the child (selectors, flags). */
int cpu_to_host(struct vm *vm);
/* Pick up the host register image after a stop; 1 if guest code loaded a segment natively. */
int cpu_from_host(struct vm *vm);
/* The guest's linear address of CS:EIP. */
uint32_t cpu_pc(const struct vm *vm);

#endif

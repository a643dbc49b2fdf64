/*
 * emulate.c - run a privileged or ring-sensitive instruction against the
 * virtual CPU instead of the host.
 *
 * Sites and misses take the same path: the instruction's bytes (a site's
 * original bytes, or what faulted in guest memory) are decoded by capstone
 * with operand detail and executed here by instruction id, with the
 * privilege checks the SDM gives for each.
 */
#include <stdlib.h>
#include <string.h>
#include <x86intrin.h>

#include "lightvm/alu.h"
#include "lightvm/cpu.h"
#include "lightvm/devices.h"
#include "lightvm/emulate.h"
#include "lightvm/log.h"
#include "lightvm/paging.h"

#define CR0_PE 0x1u
#define CR0_TS 0x8u
#define CR0_PG 0x80000000u
#define CR4_TSD 0x4u
#define CR4_SUPPORTED 0x000006b4u	/* TSD, PSE, PAE, PGE, OSFXSR, OSXMMEXCPT */

/* Working state of one emulated instruction. */
struct insn {
	struct vm *vm;
	cs_insn *ci;
	cs_x86 *x;
	uint32_t next;		/* EIP of the following instruction */
	int op32;		/* operand size is 32 bits */
	int in_run;		/* part of a run site: ordinary instructions are emulated too */
};

/*
 * Decoded instructions kept by EIP, direct-mapped: capstone takes ~350 ns
 * to decode one with operand detail, and the monitor emulates the same
 * kernel code (sites, and what runs ahead of them) over and over. An
 * entry is used only for the very bytes it was decoded from.
 */
#define DECODE_SLOTS 2048

struct decoded {
	uint32_t eip;
	int valid;
	cs_insn insn;
	cs_detail detail;
};

int emulate_init(struct vm *vm)
{
	if (cs_open(CS_ARCH_X86, CS_MODE_32, &vm->cs) != CS_ERR_OK)
		return -1;
	cs_option(vm->cs, CS_OPT_DETAIL, CS_OPT_ON);
	vm->insn = cs_malloc(vm->cs);
	vm->decoded = calloc(DECODE_SLOTS, sizeof(*vm->decoded));
	return vm->insn && vm->decoded ? 0 : -1;
}

/* The decoding of bytes at eip, from the cache or capstone; NULL if nothing decodes. */
static cs_insn *decode_cached(struct vm *vm, uint32_t eip, const uint8_t *bytes, size_t len)
{
	struct decoded *d = &vm->decoded[(eip ^ eip >> 11) % DECODE_SLOTS];
	const uint8_t *code = bytes;
	uint64_t addr = eip;
	size_t size = len;

	if (d->valid && d->eip == eip && d->insn.size <= len && !memcmp(d->insn.bytes, bytes, d->insn.size))
		return &d->insn;
	if (!cs_disasm_iter(vm->cs, &code, &size, &addr, vm->insn))
		return NULL;
	d->insn = *vm->insn;
	d->detail = *vm->insn->detail;
	d->insn.detail = &d->detail;
	d->eip = eip;
	d->valid = 1;
	return &d->insn;
}

/* General registers by capstone id: the 32-bit register, and where the bits are. */
static unsigned long long *gpr(struct vm *vm, x86_reg r, unsigned *shift, unsigned *bits)
{
	static const x86_reg r32[] = { X86_REG_EAX, X86_REG_ECX, X86_REG_EDX, X86_REG_EBX,
				       X86_REG_ESP, X86_REG_EBP, X86_REG_ESI, X86_REG_EDI };
	static const x86_reg r16[] = { X86_REG_AX, X86_REG_CX, X86_REG_DX, X86_REG_BX,
				       X86_REG_SP, X86_REG_BP, X86_REG_SI, X86_REG_DI };
	static const x86_reg r8[] = { X86_REG_AL, X86_REG_CL, X86_REG_DL, X86_REG_BL,
				      X86_REG_AH, X86_REG_CH, X86_REG_DH, X86_REG_BH };
	struct user_regs_struct *g = &vm->cpu.regs;
	unsigned long long *regs[] = { &g->rax, &g->rcx, &g->rdx, &g->rbx,
				       &g->rsp, &g->rbp, &g->rsi, &g->rdi };

	for (int i = 0; i < 8; i++) {
		if (r == r32[i] || r == r16[i]) {
			*shift = 0;
			*bits = r == r32[i] ? 32 : 16;
			return regs[i];
		}
		if (r == r8[i]) {
			*shift = i >= 4 ? 8 : 0;
			*bits = 8;
			return regs[i & 3];
		}
	}
	return NULL;
}

static uint32_t get_reg(struct vm *vm, x86_reg r)
{
	unsigned shift, bits;
	unsigned long long *p = gpr(vm, r, &shift, &bits);

	return p ? (uint32_t)(*p >> shift) & (bits == 32 ? ~0u : (1u << bits) - 1) : 0;
}

static void set_reg(struct vm *vm, x86_reg r, uint32_t v)
{
	unsigned shift, bits;
	unsigned long long *p = gpr(vm, r, &shift, &bits);
	uint64_t mask;

	if (!p)
		return;
	mask = (bits == 32 ? 0xffffffffull : (1ull << bits) - 1) << shift;
	*p = (*p & ~mask) | (((uint64_t)v << shift) & mask);
}

static int seg_index(x86_reg r)
{
	switch (r) {
	case X86_REG_ES: return SEG_ES;
	case X86_REG_CS: return SEG_CS;
	case X86_REG_SS: return SEG_SS;
	case X86_REG_DS: return SEG_DS;
	case X86_REG_FS: return SEG_FS;
	case X86_REG_GS: return SEG_GS;
	default: return -1;
	}
}

/* Linear address of a memory operand. */
static uint32_t mem_addr(struct insn *in, const cs_x86_op *op)
{
	int seg = seg_index(op->mem.segment);
	uint32_t ea = (uint32_t)op->mem.disp;

	if (op->mem.base != X86_REG_INVALID)
		ea += get_reg(in->vm, op->mem.base);
	if (op->mem.index != X86_REG_INVALID)
		ea += get_reg(in->vm, op->mem.index) * op->mem.scale;
	if (in->x->addr_size == 2)
		ea &= 0xffff;
	if (seg < 0)
		seg = op->mem.base == X86_REG_ESP || op->mem.base == X86_REG_EBP ||
		      op->mem.base == X86_REG_SP || op->mem.base == X86_REG_BP ? SEG_SS : SEG_DS;
	return in->vm->cpu.seg[seg].base + ea;
}

/* The instruction's own memory accesses: a failure raises the guest's #PF. */
static int emu_read(struct vm *vm, uint32_t lin, void *buf, size_t len)
{
	return guest_read(vm, lin, buf, len) ? cpu_raise_memory_fault(vm) : 0;
}

static int emu_write(struct vm *vm, uint32_t lin, const void *buf, size_t len)
{
	return guest_write(vm, lin, buf, len) ? cpu_raise_memory_fault(vm) : 0;
}

static int emu_push(struct vm *vm, uint32_t value, unsigned size)
{
	return cpu_push(vm, value, size) ? cpu_raise_memory_fault(vm) : 0;
}

static int emu_pop(struct vm *vm, uint32_t *value, unsigned size)
{
	return cpu_pop(vm, value, size) ? cpu_raise_memory_fault(vm) : 0;
}

/* Read operand i of size bytes (register, immediate or memory); -1 on a fault. */
static int read_op(struct insn *in, int i, uint32_t *v, unsigned size)
{
	const cs_x86_op *op = &in->x->operands[i];

	*v = 0;
	switch (op->type) {
	case X86_OP_REG: *v = get_reg(in->vm, op->reg); return 0;
	case X86_OP_IMM: *v = (uint32_t)op->imm; return 0;
	case X86_OP_MEM: return emu_read(in->vm, mem_addr(in, op), v, size);
	default: return -1;
	}
}

static int write_op(struct insn *in, int i, uint32_t v, unsigned size)
{
	const cs_x86_op *op = &in->x->operands[i];

	if (op->type == X86_OP_REG) {
		set_reg(in->vm, op->reg, v);
		return 0;
	}
	return op->type == X86_OP_MEM ? emu_write(in->vm, mem_addr(in, op), &v, size) : -1;
}

static unsigned iopl(const struct vm *vm)
{
	return (vm->cpu.vflags & FL_IOPL) >> 12;
}

/* #GP(0) unless the guest runs at ring 0; returns 1 if it faulted. */
static int need_ring0(struct insn *in)
{
	if (in->vm->cpu.cpl == 0)
		return 0;
	cpu_fault(in->vm, EXC_GP, 0);
	return 1;
}

static int need_iopl(struct insn *in)
{
	if (in->vm->cpu.cpl <= iopl(in->vm))
		return 0;
	cpu_fault(in->vm, EXC_GP, 0);
	return 1;
}

static void set_zf(struct vm *vm, int on)
{
	vm->cpu.regs.eflags = on ? vm->cpu.regs.eflags | FL_ZF : vm->cpu.regs.eflags & ~FL_ZF;
}

static void advance(struct insn *in)
{
	in->vm->cpu.regs.rip = in->next;
}

/* --- interrupt flag, flags image, halting --- */

static enum emu_result do_cli_sti(struct insn *in, int sti)
{
	struct cpu *c = &in->vm->cpu;

	if (need_iopl(in))
		return EMU_DONE;
	if (sti && !(c->vflags & FL_IF))
		c->inhibit = 1;
	c->vflags = sti ? c->vflags | FL_IF : c->vflags & ~FL_IF;
	advance(in);
	return EMU_DONE;
}

static enum emu_result do_hlt(struct insn *in)
{
	if (need_ring0(in))
		return EMU_DONE;
	advance(in);
	return EMU_HALT;
}

static enum emu_result do_pushf(struct insn *in)
{
	unsigned size = in->op32 ? 4 : 2;

	if (emu_push(in->vm, cpu_eflags(in->vm) & ~(FL_VM | FL_RF), size) == 0)
		advance(in);
	return EMU_DONE;
}

static enum emu_result do_popf(struct insn *in)
{
	uint32_t v;

	if (emu_pop(in->vm, &v, in->op32 ? 4 : 2))
		return EMU_DONE;
	cpu_set_eflags(in->vm, v, in->op32 ? 0x257fd5 : 0x7fd5);
	advance(in);
	return EMU_DONE;
}

/* --- port I/O --- */

/*
 * Operand sizes of I/O come from the 0x66 prefix, not from capstone's
 * instruction id: capstone 4 reports 66 f3 6d as insd and 66 f3 ed as
 * in %eax, where the CPU does 16-bit transfers.
 */
static unsigned io_size(const struct insn *in, x86_reg r)
{
	return r == X86_REG_AL ? 1 : in->op32 ? 4 : 2;
}

static enum emu_result do_in_out(struct insn *in, int out)
{
	const cs_x86_op *ops = in->x->operands;
	int data = out ? 1 : 0, port_op = out ? 0 : 1;
	uint16_t port = ops[port_op].type == X86_OP_IMM ? (uint16_t)ops[port_op].imm
							 : (uint16_t)get_reg(in->vm, X86_REG_DX);
	unsigned size = io_size(in, ops[data].reg);
	x86_reg acc = size == 1 ? X86_REG_AL : size == 2 ? X86_REG_AX : X86_REG_EAX;

	if (need_iopl(in))
		return EMU_DONE;
	if (out)
		devices_pio_write(in->vm->devs, port, size, get_reg(in->vm, acc));
	else
		set_reg(in->vm, acc, devices_pio_read(in->vm->devs, port, size));
	trace(TRACE_IO, "%s port %#x size %u", out ? "out" : "in", port, size);
	advance(in);
	return EMU_DONE;
}

static unsigned string_size(const struct insn *in)
{
	return in->ci->id == X86_INS_INSB || in->ci->id == X86_INS_OUTSB ? 1 : in->op32 ? 4 : 2;
}

/* ins/outs, with rep: one element per iteration, ECX counted down. */
static enum emu_result do_string_io(struct insn *in, int out)
{
	struct vm *vm = in->vm;
	unsigned size = string_size(in);
	int rep = in->x->prefix[0] == X86_PREFIX_REP || in->x->prefix[0] == X86_PREFIX_REPNE;
	int src_seg = seg_index(in->x->operands[1].mem.segment);
	uint16_t port = get_reg(vm, X86_REG_DX);
	int step = vm->cpu.regs.eflags & FL_DF ? -(int)size : (int)size;

	if (need_iopl(in))
		return EMU_DONE;
	if (src_seg < 0)
		src_seg = SEG_DS;
	while (!rep || (uint32_t)vm->cpu.regs.rcx) {
		uint32_t v = 0;

		if (out) {
			if (emu_read(vm, vm->cpu.seg[src_seg].base + (uint32_t)vm->cpu.regs.rsi, &v, size))
				return EMU_DONE;
			devices_pio_write(vm->devs, port, size, v);
			vm->cpu.regs.rsi = (uint32_t)(vm->cpu.regs.rsi + step);
		} else {
			v = devices_pio_read(vm->devs, port, size);
			if (emu_write(vm, vm->cpu.seg[SEG_ES].base + (uint32_t)vm->cpu.regs.rdi, &v, size))
				return EMU_DONE;
			vm->cpu.regs.rdi = (uint32_t)(vm->cpu.regs.rdi + step);
		}
		if (!rep)
			break;
		vm->cpu.regs.rcx = (uint32_t)(vm->cpu.regs.rcx - 1);
	}
	advance(in);
	return EMU_DONE;
}

/* --- descriptor tables and system segments --- */

static enum emu_result do_load_dtr(struct insn *in, struct dtr *d)
{
	uint32_t lim = 0, base = 0, a;

	if (need_ring0(in))
		return EMU_DONE;
	a = mem_addr(in, &in->x->operands[0]);
	if (emu_read(in->vm, a, &lim, 2) || emu_read(in->vm, a + 2, &base, 4))
		return EMU_DONE;
	d->limit = lim;
	d->base = in->op32 ? base : base & 0xffffff;
	advance(in);
	return EMU_DONE;
}

static enum emu_result do_store_dtr(struct insn *in, const struct dtr *d)
{
	uint32_t a = mem_addr(in, &in->x->operands[0]);

	if (emu_write(in->vm, a, &d->limit, 2) == 0 && emu_write(in->vm, a + 2, &d->base, 4) == 0)
		advance(in);
	return EMU_DONE;
}

static enum emu_result do_load_system(struct insn *in, int tr)
{
	uint32_t sel;

	if (need_ring0(in) || read_op(in, 0, &sel, 2))
		return EMU_DONE;
	if (cpu_load_system_seg(in->vm, tr, sel) == 0)
		advance(in);
	return EMU_DONE;
}

/* Stores of a 16-bit value: registers take it zero-extended, memory 16 bits. */
static enum emu_result store16(struct insn *in, uint32_t v)
{
	if (write_op(in, 0, in->x->operands[0].type == X86_OP_REG ? v & 0xffff : v, 2) == 0)
		advance(in);
	return EMU_DONE;
}

static enum emu_result do_lmsw(struct insn *in)
{
	uint32_t v;
	struct cpu *c = &in->vm->cpu;

	if (need_ring0(in) || read_op(in, 0, &v, 2))
		return EMU_DONE;
	cpu_set_cr0(in->vm, (c->cr0 & ~0xeu) | (v & 0xf) | (c->cr0 & CR0_PE));
	advance(in);
	return EMU_DONE;
}

/* --- control and debug registers --- */

static uint32_t *control_reg(struct vm *vm, x86_reg r)
{
	switch (r) {
	case X86_REG_CR0: return &vm->cpu.cr0;
	case X86_REG_CR2: return &vm->cpu.cr2;
	case X86_REG_CR3: return &vm->cpu.cr3;
	case X86_REG_CR4: return &vm->cpu.cr4;
	default: break;
	}
	if (r >= X86_REG_DR0 && r <= X86_REG_DR7)
		return &vm->cpu.dr[r - X86_REG_DR0];
	return NULL;
}

static int write_cr(struct insn *in, x86_reg r, uint32_t v)
{
	struct vm *vm = in->vm;
	uint32_t old;

	if (r == X86_REG_CR0 && (v & CR0_PG) && !(v & CR0_PE)) {
		cpu_fault(vm, EXC_GP, 0);
		return -1;
	}
	if (r == X86_REG_CR4 && (v & ~CR4_SUPPORTED)) {
		cpu_fault(vm, EXC_GP, 0);
		return -1;
	}
	old = *control_reg(vm, r);
	if (r == X86_REG_CR0)
		cpu_set_cr0(vm, v);
	else
		*control_reg(vm, r) = v;
	if (r == X86_REG_CR0 || r == X86_REG_CR3 || r == X86_REG_CR4)
		paging_cr_written(vm, r == X86_REG_CR0 ? 0 : r == X86_REG_CR3 ? 3 : 4, old);
	return 0;
}

static enum emu_result do_mov_cr(struct insn *in)
{
	const cs_x86_op *ops = in->x->operands;
	uint32_t *to = control_reg(in->vm, ops[0].reg), *from = control_reg(in->vm, ops[1].reg);

	if (need_ring0(in))
		return EMU_DONE;
	if (to && write_cr(in, ops[0].reg, get_reg(in->vm, ops[1].reg)))
		return EMU_DONE;
	if (from)
		set_reg(in->vm, ops[0].reg, *from);
	advance(in);
	return EMU_DONE;
}

/* --- segment registers --- */

static enum emu_result do_mov_seg(struct insn *in)
{
	const cs_x86_op *ops = in->x->operands;
	int to = ops[0].type == X86_OP_REG ? seg_index(ops[0].reg) : -1;
	int from = ops[1].type == X86_OP_REG ? seg_index(ops[1].reg) : -1;
	uint32_t v;

	if (to >= 0) {
		if (to == SEG_CS) {
			cpu_fault(in->vm, EXC_UD, 0);
			return EMU_DONE;
		}
		if (read_op(in, 1, &v, 2) || cpu_load_seg(in->vm, to, v))
			return EMU_DONE;
		in->vm->cpu.inhibit |= to == SEG_SS;
		advance(in);
		return EMU_DONE;
	}
	return store16(in, in->vm->cpu.seg[from].sel);
}

static enum emu_result do_push_seg(struct insn *in)
{
	int r = seg_index(in->x->operands[0].reg);

	if (emu_push(in->vm, in->vm->cpu.seg[r].sel, in->op32 ? 4 : 2) == 0)
		advance(in);
	return EMU_DONE;
}

/*
 * The ordinary instructions a run site may hold (rewriter/scan.c and
 * rewriter/pv.c say which): mov, push, pop, lea, add, sub, cmp, and, or,
 * xor, test, inc, dec, short conditional branches, and a direct call or
 * jump at its end, with register, memory and immediate operands. Emulated only there: in a run, or in what is left of
 * a trampoline's site when ring 3 runs it or the guest returns into it.
 */
static enum emu_result do_mov(struct insn *in)
{
	unsigned size = in->x->operands[0].size;
	uint32_t v;

	if (read_op(in, 1, &v, size) == 0 && write_op(in, 0, v, size) == 0)
		advance(in);
	return EMU_DONE;
}

static enum emu_result do_push(struct insn *in)
{
	uint32_t v;

	if (read_op(in, 0, &v, 4) == 0 && emu_push(in->vm, v, in->op32 ? 4 : 2) == 0)
		advance(in);
	return EMU_DONE;
}

/* A memory destination based on %esp is addressed after the pop; a fault undoes the pop. */
static enum emu_result do_pop(struct insn *in)
{
	unsigned long long esp = in->vm->cpu.regs.rsp;
	uint32_t v;

	if (emu_pop(in->vm, &v, in->op32 ? 4 : 2))
		return EMU_DONE;
	if (write_op(in, 0, v, in->op32 ? 4 : 2)) {
		in->vm->cpu.regs.rsp = esp;
		return EMU_DONE;
	}
	advance(in);
	return EMU_DONE;
}

/* Two-operand arithmetic (one operand for inc and dec); cmp and test only set flags. */
static enum emu_result do_alu(struct insn *in, enum alu_op op, int store)
{
	unsigned size = in->x->operands[0].size;
	uint32_t a, b = 0, r, fl;

	if (read_op(in, 0, &a, size) || (in->x->op_count > 1 && read_op(in, 1, &b, size)))
		return EMU_DONE;
	r = alu_run(op, a, b, size, (uint32_t)in->vm->cpu.regs.eflags, &fl);
	if (store && write_op(in, 0, r, size))
		return EMU_DONE;
	in->vm->cpu.regs.eflags = fl;
	advance(in);
	return EMU_DONE;
}

/* lea: the offset, without a segment base; no memory access. */
static enum emu_result do_lea(struct insn *in)
{
	const cs_x86_op *m = &in->x->operands[1];
	uint32_t ea = (uint32_t)m->mem.disp;

	if (m->mem.base != X86_REG_INVALID)
		ea += get_reg(in->vm, m->mem.base);
	if (m->mem.index != X86_REG_INVALID)
		ea += get_reg(in->vm, m->mem.index) * m->mem.scale;
	set_reg(in->vm, in->x->operands[0].reg, ea);
	advance(in);
	return EMU_DONE;
}

/* A direct near call or jump (a site's last instruction: rewriter/pv.c). */
static enum emu_result do_call_jmp(struct insn *in, int call)
{
	if (in->x->op_count != 1 || in->x->operands[0].type != X86_OP_IMM || !in->op32)
		return EMU_NOT_PRIVILEGED;
	if (call && emu_push(in->vm, in->next, 4))
		return EMU_DONE;
	in->vm->cpu.regs.rip = (uint32_t)in->x->operands[0].imm;
	return EMU_DONE;
}

static enum emu_result do_ret(struct insn *in)
{
	uint32_t to;

	if (in->x->op_count || !in->op32)
		return EMU_NOT_PRIVILEGED;
	if (emu_pop(in->vm, &to, 4) == 0)
		in->vm->cpu.regs.rip = to;
	return EMU_DONE;
}

/* jcc rel8 (7x) or rel32 (0F 8x): the condition is the opcode's low nibble. */
static enum emu_result do_jcc(struct insn *in)
{
	unsigned cc = in->ci->bytes[in->ci->bytes[0] == 0x0f] & 0x0f;

	if (alu_condition(cc, (uint32_t)in->vm->cpu.regs.eflags))
		in->vm->cpu.regs.rip = (uint32_t)in->x->operands[0].imm;
	else
		advance(in);
	return EMU_DONE;
}

/* An ordinary instruction of a run, or EMU_NOT_PRIVILEGED. */
static enum emu_result dispatch_ordinary(struct insn *in)
{
	const uint8_t *b = in->ci->bytes;
	int jcc = (in->ci->size == 2 && b[0] >= 0x70 && b[0] <= 0x7f) ||
		  (in->ci->size == 6 && b[0] == 0x0f && b[1] >= 0x80 && b[1] <= 0x8f);

	switch (in->ci->id) {
	case X86_INS_ADD: return do_alu(in, ALU_ADD, 1);
	case X86_INS_SUB: return do_alu(in, ALU_SUB, 1);
	case X86_INS_CMP: return do_alu(in, ALU_SUB, 0);
	case X86_INS_AND: return do_alu(in, ALU_AND, 1);
	case X86_INS_TEST: return do_alu(in, ALU_AND, 0);
	case X86_INS_OR: return do_alu(in, ALU_OR, 1);
	case X86_INS_XOR: return do_alu(in, ALU_XOR, 1);
	case X86_INS_INC: return do_alu(in, ALU_INC, 1);
	case X86_INS_DEC: return do_alu(in, ALU_DEC, 1);
	case X86_INS_LEA: return do_lea(in);
	case X86_INS_CALL: return do_call_jmp(in, 1);
	case X86_INS_JMP: return do_call_jmp(in, 0);
	case X86_INS_RET: return do_ret(in);
	}
	return jcc ? do_jcc(in) : EMU_NOT_PRIVILEGED;
}

static enum emu_result do_pop_seg(struct insn *in)
{
	int r = seg_index(in->x->operands[0].reg);
	unsigned long long esp = in->vm->cpu.regs.rsp;
	uint32_t v;

	if (emu_pop(in->vm, &v, in->op32 ? 4 : 2))
		return EMU_DONE;
	if (cpu_load_seg(in->vm, r, v)) {
		in->vm->cpu.regs.rsp = esp;	/* the fault leaves the stack as it was */
		return EMU_DONE;
	}
	in->vm->cpu.inhibit |= r == SEG_SS;
	advance(in);
	return EMU_DONE;
}

static int far_seg(unsigned id)
{
	switch (id) {
	case X86_INS_LDS: return SEG_DS;
	case X86_INS_LES: return SEG_ES;
	case X86_INS_LFS: return SEG_FS;
	case X86_INS_LGS: return SEG_GS;
	default: return SEG_SS;
	}
}

/* Read a far pointer m16:32 (or m16:16) from operand i. */
static int read_far_ptr(struct insn *in, int i, uint32_t *off, uint32_t *sel)
{
	uint32_t a = mem_addr(in, &in->x->operands[i]);
	unsigned size = in->op32 ? 4 : 2;

	*off = *sel = 0;
	return emu_read(in->vm, a, off, size) || emu_read(in->vm, a + size, sel, 2) ? -1 : 0;
}

static enum emu_result do_load_far_ptr(struct insn *in)
{
	uint32_t off, sel;

	if (read_far_ptr(in, 1, &off, &sel) || cpu_load_seg(in->vm, far_seg(in->ci->id), sel))
		return EMU_DONE;
	set_reg(in->vm, in->x->operands[0].reg, off);
	advance(in);
	return EMU_DONE;
}

static enum emu_result do_far_jmp_call(struct insn *in, int call)
{
	const cs_x86_op *ops = in->x->operands;
	uint32_t off, sel;

	if (in->x->op_count == 2 && ops[0].type == X86_OP_IMM) {
		sel = (uint16_t)ops[0].imm;
		off = (uint32_t)ops[1].imm;
	} else if (read_far_ptr(in, 0, &off, &sel)) {
		return EMU_DONE;
	}
	cpu_far_transfer(in->vm, sel, off, call, in->op32, in->next);
	return EMU_DONE;
}

static enum emu_result do_far_ret(struct insn *in)
{
	uint16_t imm = in->x->op_count ? (uint16_t)in->x->operands[0].imm : 0;

	cpu_far_ret(in->vm, in->op32, imm);
	return EMU_DONE;
}

/* --- selector checks: lar, lsl, verr, verw, arpl --- */

/* The descriptor of sel if the current privilege may examine it, else 0. */
static int visible_desc(struct vm *vm, uint16_t sel, uint64_t *d)
{
	uint16_t a;
	unsigned dpl;

	if ((sel & 0xfffc) == 0 || cpu_read_desc(vm, sel, d))
		return 0;
	a = ((*d >> 40) & 0xff) | ((*d >> 52) & 0xf) << 12;
	dpl = (a >> 5) & 3;
	if ((a & 0x18) == 0x18 && (a & 4))	/* conforming code: always visible */
		return 1;
	return dpl >= vm->cpu.cpl && dpl >= (sel & 3u);
}

static enum emu_result do_lar_lsl(struct insn *in, int lsl)
{
	uint32_t sel;
	uint64_t d;
	int ok;

	if (read_op(in, 1, &sel, 2))
		return EMU_DONE;
	ok = visible_desc(in->vm, sel, &d);
	if (ok && !((d >> 44) & 1)) {	/* system descriptors: only some types qualify */
		unsigned type = (d >> 40) & 0xf;
		ok = lsl ? type == 1 || type == 2 || type == 3 || type == 9 || type == 11
			 : type != 0 && type != 8 && type != 10 && type != 13 && type != 14 &&
			   type != 15 && type != 6 && type != 7;
	}
	set_zf(in->vm, ok);
	if (ok) {
		uint32_t limit = (d & 0xffff) | ((d >> 32) & 0xf0000);

		if ((d >> 55) & 1)
			limit = limit << 12 | 0xfff;
		set_reg(in->vm, in->x->operands[0].reg,
			lsl ? limit : (uint32_t)(d >> 32) & 0x00f0ff00);
	}
	advance(in);
	return EMU_DONE;
}

static enum emu_result do_verr_verw(struct insn *in, int write)
{
	uint32_t sel;
	uint64_t d;
	int ok;

	if (read_op(in, 0, &sel, 2))
		return EMU_DONE;
	ok = visible_desc(in->vm, sel, &d) && ((d >> 44) & 1);
	if (ok) {
		unsigned type = (d >> 40) & 0xf;
		ok = write ? !(type & 8) && (type & 2) : !(type & 8) || (type & 2);
	}
	set_zf(in->vm, ok);
	advance(in);
	return EMU_DONE;
}

static enum emu_result do_arpl(struct insn *in)
{
	uint32_t dst, src;

	if (read_op(in, 0, &dst, 2) || read_op(in, 1, &src, 2))
		return EMU_DONE;
	set_zf(in->vm, (dst & 3) < (src & 3));
	if ((dst & 3) < (src & 3) && write_op(in, 0, (dst & ~3u) | (src & 3), 2))
		return EMU_DONE;
	advance(in);
	return EMU_DONE;
}

/* --- MSRs, time stamp counter, CPUID --- */

#define MSR_TSC 0x10
#define MSR_BIOS_SIGN 0x8b	/* IA32_BIOS_SIGN_ID: the microcode revision */
#define MSR_SYSENTER_CS 0x174
#define MSR_SYSENTER_ESP 0x175
#define MSR_SYSENTER_EIP 0x176

/*
 * The guest's TSC is the host's: guest code reads it natively (rdtsc is
 * not rewritten), so an emulated read must agree, and a write cannot move
 * it; writes are dropped (lightvm/README.md).
 */
static uint64_t guest_tsc(const struct vm *vm)
{
	return __rdtsc();
}

/* EFER: execute-disable (NXE) is all the model offers; setting anything else faults. */
static int efer_access(struct vm *vm, uint64_t *v, int write)
{
	uint64_t old = vm->cpu.efer;

	if (!write) {
		*v = old;
		return 0;
	}
	if (*v & ~(uint64_t)EFER_NXE_BIT)
		return -1;
	vm->cpu.efer = *v;
	paging_efer_written(vm, old);
	return 0;
}

static int msr_access(struct vm *vm, uint32_t msr, uint64_t *v, int write)
{
	uint32_t *field;

	switch (msr) {
	case MSR_TSC:
		if (write)
			trace(TRACE_MISS, "wrmsr to the TSC dropped: the guest's TSC is the host's");
		else
			*v = guest_tsc(vm);
		return 0;
	case MSR_EFER:
		return efer_access(vm, v, write);
	case MSR_BIOS_SIGN:
		if (!write)
			*v = 0;	/* microcode revision 0: none loaded; writes are requests to read it */
		return 0;
	case MSR_SYSENTER_CS: field = &vm->cpu.sysenter_cs; break;
	case MSR_SYSENTER_ESP: field = &vm->cpu.sysenter_esp; break;
	case MSR_SYSENTER_EIP: field = &vm->cpu.sysenter_eip; break;
	default: return -1;
	}
	if (write)
		*field = (uint32_t)*v;
	else
		*v = *field;
	return 0;
}

static enum emu_result do_msr(struct insn *in, int write)
{
	struct user_regs_struct *r = &in->vm->cpu.regs;
	uint64_t v = (uint32_t)r->rdx;

	v = v << 32 | (uint32_t)r->rax;
	if (need_ring0(in))
		return EMU_DONE;
	if (msr_access(in->vm, (uint32_t)r->rcx, &v, write)) {
		trace(TRACE_MISS, "%s of unmodelled MSR %#x: #GP", write ? "wrmsr" : "rdmsr",
		      (uint32_t)r->rcx);
		cpu_fault(in->vm, EXC_GP, 0);
		return EMU_DONE;
	}
	if (!write) {
		r->rax = (uint32_t)v;
		r->rdx = (uint32_t)(v >> 32);
	}
	advance(in);
	return EMU_DONE;
}

static enum emu_result do_rdtsc(struct insn *in, int rdtscp)
{
	struct user_regs_struct *r = &in->vm->cpu.regs;
	uint64_t t;

	if ((in->vm->cpu.cr4 & CR4_TSD) && in->vm->cpu.cpl != 0) {
		cpu_fault(in->vm, EXC_GP, 0);
		return EMU_DONE;
	}
	t = guest_tsc(in->vm);
	r->rax = (uint32_t)t;
	r->rdx = (uint32_t)(t >> 32);
	if (rdtscp)
		r->rcx = 0;	/* TSC_AUX: processor 0 */
	advance(in);
	return EMU_DONE;
}

/*
 * The CPUID model: an i686 with the user-level features the host runs
 * natively (FPU, TSC, CX8, CMOV, MMX, FXSR, SSE, SSE2, CLFLUSH) and the
 * system features the monitor emulates (MSR, RDTSCP, and mmu-emu's paging:
 * PSE, PAE, PGE, NX). Nothing it cannot back: no APIC, no SYSENTER, no
 * MTRR/PAT/MCE, no PSE-36.
 */
static void cpuid_model(uint32_t leaf, uint32_t r[4])
{
	static const char brand[48] = "LilyVM virtual i686 CPU";

	memset(r, 0, 16);
	switch (leaf) {
	case 0:
		r[0] = 1;
		memcpy(&r[1], "Genu", 4), memcpy(&r[3], "ineI", 4), memcpy(&r[2], "ntel", 4);
		break;
	case 1:
		r[0] = 0x00000633;	/* family 6, model 3, stepping 3 */
		r[1] = 8 << 8;		/* CLFLUSH line: 64 bytes */
		r[3] = 1u << 0 | 1u << 3 | 1u << 4 | 1u << 5 | 1u << 6 | 1u << 8 | 1u << 13 |
		       1u << 15 | 1u << 19 | 1u << 23 | 1u << 24 | 1u << 25 | 1u << 26;
		break;
	case 0x80000000:
		r[0] = 0x80000004;
		break;
	case 0x80000001:
		r[3] = 1u << 20 | 1u << 27;	/* NX, RDTSCP */
		break;
	case 0x80000002: case 0x80000003: case 0x80000004:
		memcpy(r, brand + 16 * (leaf - 0x80000002), 16);
		break;
	}
}

static enum emu_result do_cpuid(struct insn *in)
{
	struct user_regs_struct *g = &in->vm->cpu.regs;
	uint32_t r[4];

	cpuid_model((uint32_t)g->rax, r);
	g->rax = r[0], g->rbx = r[1], g->rcx = r[2], g->rdx = r[3];
	advance(in);
	return EMU_DONE;
}

/* --- interrupts and returns --- */

static enum emu_result do_int(struct insn *in, unsigned vec)
{
	advance(in);
	cpu_deliver(in->vm, vec, EV_SOFT, 0, 0);
	return EMU_DONE;
}

static enum emu_result do_into(struct insn *in)
{
	if (!(in->vm->cpu.regs.eflags & FL_OF)) {
		advance(in);
		return EMU_DONE;
	}
	return do_int(in, EXC_OF);
}

static enum emu_result do_ud(struct insn *in)
{
	cpu_fault(in->vm, EXC_UD, 0);
	return EMU_DONE;
}

static enum emu_result do_simple_ring0(struct insn *in, uint32_t clear_cr0)
{
	if (need_ring0(in))
		return EMU_DONE;
	cpu_set_cr0(in->vm, in->vm->cpu.cr0 & ~clear_cr0);
	advance(in);
	return EMU_DONE;
}

static enum emu_result do_invlpg(struct insn *in)
{
	if (need_ring0(in))
		return EMU_DONE;
	paging_invlpg(in->vm, mem_addr(in, &in->x->operands[0]));
	advance(in);
	return EMU_DONE;
}

static int is_sensitive_mov(const cs_x86 *x)
{
	for (int i = 0; i < x->op_count; i++)
		if (x->operands[i].type == X86_OP_REG &&
		    (seg_index(x->operands[i].reg) >= 0 || (x->operands[i].reg >= X86_REG_CR0 &&
		     x->operands[i].reg <= X86_REG_CR15) || (x->operands[i].reg >= X86_REG_DR0 &&
		     x->operands[i].reg <= X86_REG_DR15)))
			return 1;
	return 0;
}

static int is_segment_push_pop(const cs_x86 *x)
{
	return x->op_count == 1 && x->operands[0].type == X86_OP_REG &&
	       seg_index(x->operands[0].reg) >= 0;
}

static enum emu_result dispatch_mov_push_pop(struct insn *in)
{
	switch (in->ci->id) {
	case X86_INS_MOV:
		if (!is_sensitive_mov(in->x))
			return in->in_run ? do_mov(in) : EMU_NOT_PRIVILEGED;
		return seg_index(in->x->operands[0].reg) >= 0 ||
		       (in->x->op_count > 1 && in->x->operands[1].type == X86_OP_REG &&
			seg_index(in->x->operands[1].reg) >= 0) ? do_mov_seg(in) : do_mov_cr(in);
	case X86_INS_PUSH:
		if (is_segment_push_pop(in->x))
			return do_push_seg(in);
		return in->in_run ? do_push(in) : EMU_NOT_PRIVILEGED;
	case X86_INS_POP:
		if (is_segment_push_pop(in->x))
			return do_pop_seg(in);
		return in->in_run ? do_pop(in) : EMU_NOT_PRIVILEGED;
	}
	return in->in_run ? dispatch_ordinary(in) : EMU_NOT_PRIVILEGED;
}

static enum emu_result dispatch(struct insn *in)
{
	struct vm *vm = in->vm;

	switch (in->ci->id) {
	case X86_INS_CLI: return do_cli_sti(in, 0);
	case X86_INS_STI: return do_cli_sti(in, 1);
	case X86_INS_HLT: return do_hlt(in);
	case X86_INS_PUSHF: case X86_INS_PUSHFD: return do_pushf(in);
	case X86_INS_POPF: case X86_INS_POPFD: return do_popf(in);
	case X86_INS_IN: return do_in_out(in, 0);
	case X86_INS_OUT: return do_in_out(in, 1);
	case X86_INS_INSB: case X86_INS_INSW: case X86_INS_INSD: return do_string_io(in, 0);
	case X86_INS_OUTSB: case X86_INS_OUTSW: case X86_INS_OUTSD: return do_string_io(in, 1);
	case X86_INS_LGDT: return do_load_dtr(in, &vm->cpu.gdtr);
	case X86_INS_LIDT: return do_load_dtr(in, &vm->cpu.idtr);
	case X86_INS_SGDT: return do_store_dtr(in, &vm->cpu.gdtr);
	case X86_INS_SIDT: return do_store_dtr(in, &vm->cpu.idtr);
	case X86_INS_LLDT: return do_load_system(in, 0);
	case X86_INS_LTR: return do_load_system(in, 1);
	case X86_INS_SLDT: return store16(in, vm->cpu.ldtr.sel);
	case X86_INS_STR: return store16(in, vm->cpu.tr.sel);
	case X86_INS_SMSW: return store16(in, vm->cpu.cr0);
	case X86_INS_LMSW: return do_lmsw(in);
	case X86_INS_CLTS: return do_simple_ring0(in, CR0_TS);
	case X86_INS_INVD: case X86_INS_WBINVD: return do_simple_ring0(in, 0);
	case X86_INS_INVLPG: return do_invlpg(in);
	case X86_INS_RDMSR: return do_msr(in, 0);
	case X86_INS_WRMSR: return do_msr(in, 1);
	case X86_INS_RDTSC: return do_rdtsc(in, 0);
	case X86_INS_RDTSCP: return do_rdtsc(in, 1);
	case X86_INS_RDPMC: cpu_fault(vm, EXC_GP, 0); return EMU_DONE;
	case X86_INS_CPUID: return do_cpuid(in);
	case X86_INS_IRET: case X86_INS_IRETD: cpu_iret(vm, in->op32); return EMU_DONE;
	case X86_INS_INT: return do_int(in, (uint8_t)in->x->operands[0].imm);
	case X86_INS_INT3: return do_int(in, EXC_BP);
	case X86_INS_INTO: return do_into(in);
	case X86_INS_LDS: case X86_INS_LES: case X86_INS_LFS: case X86_INS_LGS: case X86_INS_LSS:
		return do_load_far_ptr(in);
	case X86_INS_LJMP: return do_far_jmp_call(in, 0);
	case X86_INS_LCALL: return do_far_jmp_call(in, 1);
	case X86_INS_RETF: return do_far_ret(in);
	case X86_INS_LAR: return do_lar_lsl(in, 0);
	case X86_INS_LSL: return do_lar_lsl(in, 1);
	case X86_INS_VERR: return do_verr_verw(in, 0);
	case X86_INS_VERW: return do_verr_verw(in, 1);
	case X86_INS_ARPL: return do_arpl(in);
	case X86_INS_SYSENTER: cpu_sysenter(vm); return EMU_DONE;
	case X86_INS_SYSEXIT: cpu_sysexit(vm); return EMU_DONE;
	case X86_INS_SYSCALL: case X86_INS_SYSRET: case X86_INS_MONITOR: case X86_INS_MWAIT:
	case X86_INS_XGETBV: case X86_INS_XSETBV:
		return do_ud(in);
	}
	return dispatch_mov_push_pop(in);
}

/* Decode the instruction in bytes as at EIP into in; 0 if nothing decodes. */
static int decode_at_eip(struct vm *vm, const uint8_t *bytes, size_t len, int in_run,
			 struct insn *in)
{
	*in = (struct insn){ .vm = vm, .in_run = in_run };
	if (!(in->ci = decode_cached(vm, (uint32_t)vm->cpu.regs.rip, bytes, len)))
		return 0;
	in->x = &in->ci->detail->x86;
	in->next = (uint32_t)(vm->cpu.regs.rip + in->ci->size);
	in->op32 = in->x->prefix[2] != X86_PREFIX_OPSIZE;
	return 1;
}

static enum emu_result emulate_one(struct vm *vm, const uint8_t *bytes, size_t len, int in_run)
{
	struct insn in;

	return decode_at_eip(vm, bytes, len, in_run, &in) ? dispatch(&in) : EMU_NOT_PRIVILEGED;
}

enum emu_result emulate_insn(struct vm *vm, const uint8_t *bytes, size_t len)
{
	return emulate_one(vm, bytes, len, 0);
}

/* cld, std: DF is the guest's own (FL_HOST). */
static enum emu_result do_set_df(struct insn *in, int on)
{
	in->vm->cpu.regs.eflags = on ? in->vm->cpu.regs.eflags | FL_DF : in->vm->cpu.regs.eflags & ~FL_DF;
	advance(in);
	return EMU_DONE;
}

/* movzx, movsx: the source's size from its operand, extended to the destination's. */
static enum emu_result do_extend(struct insn *in, int sign)
{
	unsigned from = in->x->operands[1].size, bits = 8 * from;
	uint32_t v;

	if (read_op(in, 1, &v, from))
		return EMU_DONE;
	v &= bits >= 32 ? ~0u : (1u << bits) - 1;
	if (sign && bits < 32 && (v >> (bits - 1)) & 1)
		v |= ~0u << bits;
	set_reg(in->vm, in->x->operands[0].reg, v);
	advance(in);
	return EMU_DONE;
}

/* leave: %esp = %ebp, then pop %ebp. */
static enum emu_result do_leave(struct insn *in)
{
	unsigned long long esp = in->vm->cpu.regs.rsp;
	uint32_t v;

	if (!in->op32)
		return EMU_NOT_PRIVILEGED;
	in->vm->cpu.regs.rsp = (uint32_t)in->vm->cpu.regs.rbp;
	if (emu_pop(in->vm, &v, 4)) {
		in->vm->cpu.regs.rsp = esp;
		return EMU_DONE;
	}
	in->vm->cpu.regs.rbp = v;
	advance(in);
	return EMU_DONE;
}

/* not (no flags) and neg (0 - x, flags as sub). */
static enum emu_result do_not_neg(struct insn *in, int neg)
{
	unsigned size = in->x->operands[0].size;
	uint32_t v, r, fl;

	if (read_op(in, 0, &v, size))
		return EMU_DONE;
	r = neg ? alu_run(ALU_SUB, 0, v, size, (uint32_t)in->vm->cpu.regs.eflags, &fl) : ~v;
	if (write_op(in, 0, r, size))
		return EMU_DONE;
	if (neg)	/* CF is set unless the operand was 0, which sub gives too */
		in->vm->cpu.regs.eflags = fl;
	advance(in);
	return EMU_DONE;
}

/*
 * What running ahead (run.c) emulates besides a run's instructions: common
 * flag-free or simple ones of kernel code between two traps.
 */
static enum emu_result dispatch_ahead(struct insn *in)
{
	switch (in->ci->id) {
	case X86_INS_CLD: return do_set_df(in, 0);
	case X86_INS_STD: return do_set_df(in, 1);
	case X86_INS_NOP: advance(in); return EMU_DONE;
	case X86_INS_MOVZX: return do_extend(in, 0);
	case X86_INS_MOVSX: return do_extend(in, 1);
	case X86_INS_LEAVE: return do_leave(in);
	case X86_INS_NOT: return do_not_neg(in, 0);
	case X86_INS_NEG: return do_not_neg(in, 1);
	}
	return dispatch_ordinary(in);
}

enum emu_result emulate_ordinary(struct vm *vm, const uint8_t *bytes, size_t len)
{
	struct insn in;

	if (!decode_at_eip(vm, bytes, len, 1, &in) || in.x->prefix[0] || in.x->prefix[3])
		return EMU_NOT_PRIVILEGED;	/* undecodable; lock, rep; address size */
	switch (in.ci->id) {
	case X86_INS_MOV:
		return is_sensitive_mov(in.x) ? EMU_NOT_PRIVILEGED : do_mov(&in);
	case X86_INS_PUSH:
		return is_segment_push_pop(in.x) ? EMU_NOT_PRIVILEGED : do_push(&in);
	case X86_INS_POP:
		return is_segment_push_pop(in.x) ? EMU_NOT_PRIVILEGED : do_pop(&in);
	}
	return dispatch_ahead(&in);
}

enum emu_result emulate_run_first(struct vm *vm, const uint8_t *bytes, size_t len)
{
	return emulate_one(vm, bytes, len, 1);
}

enum emu_result emulate_run(struct vm *vm, const uint8_t *bytes, size_t len)
{
	uint32_t start = (uint32_t)vm->cpu.regs.rip;
	size_t off = 0;

	for (;;) {
		uint32_t at = start + (uint32_t)off, next;
		enum emu_result r = emulate_one(vm, bytes + off, len - off, 1);

		next = (uint32_t)vm->cpu.regs.rip;
		/* Done, halted, faulted (EIP elsewhere or unchanged) or jumped: the run ends. */
		if (r != EMU_DONE || next <= at || next >= start + len)
			return r;
		off = next - start;
	}
}

int emulate_boundary(struct vm *vm, const uint8_t *bytes, size_t len, size_t off)
{
	const uint8_t *code = bytes;
	uint64_t addr = 0;
	size_t size = len;

	while ((size_t)(code - bytes) < off && cs_disasm_iter(vm->cs, &code, &size, &addr, vm->insn))
		;
	return (size_t)(code - bytes) == off;
}

const char *emulate_name(struct vm *vm, const uint8_t *bytes, size_t len, char *buf,
			 size_t buflen)
{
	const uint8_t *code = bytes;
	uint64_t addr = 0;
	size_t size = len;

	if (cs_disasm_iter(vm->cs, &code, &size, &addr, vm->insn))
		snprintf(buf, buflen, "%s %s", vm->insn->mnemonic, vm->insn->op_str);
	else
		snprintf(buf, buflen, "(undecodable %02x %02x %02x)", bytes[0], len > 1 ? bytes[1] : 0,
			 len > 2 ? bytes[2] : 0);
	return buf;
}

/* Whether [addr, addr+size) touches the page of lin. */
static int touches(uint32_t addr, uint32_t size, uint32_t lin)
{
	return addr >> 12 == lin >> 12 || (addr + size - 1) >> 12 == lin >> 12;
}

/* Instructions that write the stack below ESP without a memory operand saying so. */
static int pushes(unsigned id)
{
	switch (id) {
	case X86_INS_PUSH: case X86_INS_PUSHAL: case X86_INS_PUSHAW: case X86_INS_PUSHF:
	case X86_INS_PUSHFD: case X86_INS_CALL: case X86_INS_LCALL: case X86_INS_ENTER:
		return 1;
	default:
		return 0;
	}
}

/* Instructions that only read their memory operand (capstone 4 marks `test m8, imm` as written). */
static int only_reads(unsigned id)
{
	switch (id) {
	case X86_INS_TEST: case X86_INS_CMP: case X86_INS_BT: case X86_INS_PUSH:
	case X86_INS_CALL: case X86_INS_JMP: case X86_INS_LCALL: case X86_INS_LJMP:
	case X86_INS_BOUND: case X86_INS_COMISS: case X86_INS_COMISD: case X86_INS_UCOMISS:
	case X86_INS_UCOMISD: case X86_INS_FCOM: case X86_INS_FCOMP: case X86_INS_FICOM:
	case X86_INS_FICOMP:
		return 1;
	default:
		return 0;
	}
}

static int stores_string(unsigned id)
{
	switch (id) {
	case X86_INS_STOSB: case X86_INS_STOSW: case X86_INS_STOSD:
	case X86_INS_MOVSB: case X86_INS_MOVSW: case X86_INS_MOVSD:
		return 1;
	default:
		return 0;
	}
}

int emulate_writes_at(struct vm *vm, const uint8_t *bytes, size_t len, uint32_t lin,
		      size_t *insn_len)
{
	struct insn in;
	uint32_t esp = (uint32_t)vm->cpu.regs.rsp, edi = (uint32_t)vm->cpu.regs.rdi;

	if (!decode_at_eip(vm, bytes, len, 0, &in))
		return -1;
	*insn_len = in.ci->size;
	for (int i = 0; i < in.x->op_count; i++) {
		const cs_x86_op *op = &in.x->operands[i];

		if (op->type == X86_OP_MEM && (op->access & CS_AC_WRITE) && !only_reads(in.ci->id) &&
		    touches(mem_addr(&in, op), op->size ? op->size : 4, lin))
			return 1;
	}
	if (pushes(in.ci->id) && touches(vm->cpu.seg[SEG_SS].base + esp - 32, 32, lin))
		return 1;
	return stores_string(in.ci->id) && touches(vm->cpu.seg[SEG_ES].base + edi, 4, lin);
}

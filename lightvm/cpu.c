/*
 * cpu.c - the virtual CPU's protected-mode machinery.
 *
 * Guest segment registers hold the guest's selectors and descriptor caches;
 * the child's registers hold host selectors: the host's flat 32-bit code
 * and data selectors where the guest descriptor is flat, otherwise a shadow
 * entry in the child's LDT with the guest's base, limit and type (the host
 * forces DPL 3, so privilege is kept here, in cpu.cpl).
 */
#include <asm/ldt.h>
#include <string.h>

#include "lightvm/cpu.h"
#include "lightvm/log.h"

#define HOST_FLAT_CODE32 0x23	/* __USER32_CS */
#define HOST_FLAT_DATA 0x2b	/* __USER_DS */
#define NR32_MODIFY_LDT 123

/* Descriptor attribute bits (access byte, then the flags nibble at 12). */
#define A_ACCESSED 0x01u
#define A_RW 0x02u		/* code: readable; data: writable */
#define A_DC 0x04u		/* code: conforming; data: expand-down */
#define A_CODE 0x08u
#define A_S 0x10u		/* code or data, not system */
#define A_PRESENT 0x80u
#define A_DB 0x4000u
#define A_G 0x8000u
#define A_DPL(a) (((a) >> 5) & 3u)

/* A fault raised while delivering or executing, returned instead of taken. */
struct fault {
	int vec;		/* -1: none */
	uint32_t err;
};

static const struct fault no_fault = { -1, 0 };

static struct fault make_fault(unsigned vec, uint32_t err)
{
	return (struct fault){ (int)vec, err };
}

/* After a failed guest memory access: the #PF it met, or else the fault vec. */
static struct fault mem_fault_or(struct vm *vm, unsigned vec, uint32_t err)
{
	if (vm->cpu.pf_pending) {
		vm->cpu.pf_pending = 0;
		return make_fault(EXC_PF, vm->cpu.pf_err);
	}
	return make_fault(vec, err);
}

int cpu_raise_memory_fault(struct vm *vm)
{
	if (vm->cpu.pf_pending && !vm->stop) {
		vm->cpu.pf_pending = 0;
		cpu_fault(vm, EXC_PF, vm->cpu.pf_err);
	}
	return -1;
}

static uint32_t desc_base(uint64_t d)
{
	return ((d >> 16) & 0xffffff) | ((d >> 56) & 0xff) << 24;
}

static uint32_t desc_limit(uint64_t d)
{
	uint32_t l = (d & 0xffff) | ((d >> 32) & 0xf0000);

	return (d >> 55) & 1 ? l << 12 | 0xfff : l;
}

static uint16_t desc_attr(uint64_t d)
{
	return ((d >> 40) & 0xff) | ((d >> 52) & 0xf) << 12;
}

static int is_code(uint16_t attr)
{
	return (attr & (A_S | A_CODE)) == (A_S | A_CODE);
}

static int is_data(uint16_t attr)
{
	return (attr & (A_S | A_CODE)) == A_S;
}

static void set_cache(struct seg *s, uint16_t sel, uint64_t d)
{
	s->sel = sel;
	s->base = desc_base(d);
	s->limit = desc_limit(d);
	s->attr = desc_attr(d);
}

static void set_flat(struct seg *s, uint16_t sel, int code, unsigned dpl)
{
	s->sel = sel;
	s->base = 0;
	s->limit = 0xffffffff;
	s->attr = A_PRESENT | A_S | A_RW | A_ACCESSED | dpl << 5 | A_DB | A_G |
		  (code ? A_CODE : 0);
}

uint32_t cpu_pc(const struct vm *vm)
{
	return vm->cpu.seg[SEG_CS].base + (uint32_t)vm->cpu.regs.rip;
}

void cpu_reset(struct vm *vm, uint16_t code_sel, uint16_t data_sel)
{
	struct cpu *c = &vm->cpu;

	memset(c->seg, 0, sizeof(c->seg));
	set_flat(&c->seg[SEG_CS], code_sel, 1, 0);
	for (int r = 0; r < SEG_COUNT; r++)
		if (r != SEG_CS)
			set_flat(&c->seg[r], data_sel, 0, 0);
	c->cr0 = 0x11;		/* PE, ET */
	c->cr2 = c->cr3 = c->cr4 = 0;
	c->xcr0 = 1;
	c->vflags = 0;
	c->cpl = 0;
	c->inhibit = 0;
	c->gdtr = c->idtr = (struct dtr){ 0, 0xffff };
	memset(&c->ldtr, 0, sizeof(c->ldtr));
	memset(&c->tr, 0, sizeof(c->tr));
	c->tr.attr = A_PRESENT | 0xb;	/* a busy 32-bit TSS at 0, as after reset */
	c->tr.limit = 0xffff;
	c->regs.eflags = 0x2;
}

#define CR0_TS 0x8u
#define CR0_ET 0x10u

void cpu_set_cr0(struct vm *vm, uint32_t value)
{
	if ((value & CR0_TS) && !(vm->cpu.cr0 & CR0_TS))
		vm->cpu.nm_armed = 1;
	if (!(value & CR0_TS))
		vm->cpu.nm_armed = 0;
	vm->cpu.cr0 = value | CR0_ET;
}

/*
 * Ring 3 cannot make FPU instructions fault, so CR0.TS is honoured eagerly:
 * after the guest sets TS (switching tasks lazily), the #NM it expects at the
 * next task's first FPU instruction is delivered before that task runs any
 * instruction. The guest's handler then loads the right FPU state, as it
 * would have; a task that never touches the FPU pays one #NM it would not
 * have taken. Once per setting of TS, so a handler that keeps TS set cannot
 * loop.
 */
void cpu_lazy_fpu_fault(struct vm *vm)
{
	if (!vm->cpu.nm_armed || vm->cpu.cpl != 3 || !(vm->cpu.cr0 & CR0_TS))
		return;
	vm->cpu.nm_armed = 0;
	cpu_fault(vm, EXC_NM, 0);
}

uint32_t cpu_eflags(const struct vm *vm)
{
	return ((uint32_t)vm->cpu.regs.eflags & FL_HOST) | 0x2 | vm->cpu.vflags;
}

void cpu_set_eflags(struct vm *vm, uint32_t value, uint32_t mask)
{
	struct cpu *c = &vm->cpu;
	unsigned iopl = (c->vflags & FL_IOPL) >> 12;

	if (c->cpl > 0)
		mask &= ~FL_IOPL;
	if (c->cpl > iopl)
		mask &= ~FL_IF;
	c->regs.eflags = (c->regs.eflags & ~(FL_HOST & mask)) | (value & FL_HOST & mask);
	c->vflags = (c->vflags & ~(FL_VIRTUAL & mask)) | (value & FL_VIRTUAL & mask);
}

int cpu_read_desc(struct vm *vm, uint16_t sel, uint64_t *desc)
{
	const struct cpu *c = &vm->cpu;
	uint32_t base = sel & 4 ? c->ldtr.base : c->gdtr.base;
	uint32_t limit = sel & 4 ? c->ldtr.limit : c->gdtr.limit;
	uint32_t off = sel & ~7u;

	vm->cpu.pf_pending = 0;
	if ((sel & 4) && !(c->ldtr.attr & A_PRESENT))
		return -1;
	if (off + 7 > limit)
		return -1;
	return guest_read_sys(vm, base + off, desc, 8);
}

/* Hardware sets the accessed bit of a descriptor it loads; so do we. */
static void mark_accessed(struct vm *vm, uint16_t sel, uint64_t *d)
{
	uint32_t base = sel & 4 ? vm->cpu.ldtr.base : vm->cpu.gdtr.base;
	uint8_t access = (*d >> 40) & 0xff;

	if (access & A_ACCESSED)
		return;
	access |= A_ACCESSED;
	*d |= (uint64_t)A_ACCESSED << 40;
	guest_write_sys(vm, base + (sel & ~7u) + 5, &access, 1);
}

static int is_flat(const struct seg *s)
{
	return s->base == 0 && s->limit == 0xffffffff && (s->attr & A_DB) &&
	       (s->attr & A_RW) && !(is_data(s->attr) && (s->attr & A_DC));
}

/* Write a shadow of the guest segment into host LDT slot; -1 if the host refuses. */
static int write_ldt(struct vm *vm, unsigned slot, const struct seg *s)
{
	struct user_desc u = {
		.entry_number = slot,
		.base_addr = s->base,
		.limit = s->attr & A_G ? s->limit >> 12 : s->limit,
		.seg_32bit = !!(s->attr & A_DB),
		.contents = is_code(s->attr) ? 2 + !!(s->attr & A_DC) : !!(s->attr & A_DC),
		.read_exec_only = !(s->attr & A_RW),
		.limit_in_pages = !!(s->attr & A_G),
		.seg_not_present = 0,
		.useable = 1,
	};
	uint64_t key = (uint64_t)s->base << 32 ^ s->limit ^ (uint64_t)s->attr << 16 ^ 1;

	if (vm->ldt_shadow[slot] == key)
		return 0;
	memcpy(vm->scratch, &u, sizeof(u));
	if (child_syscall(vm->child, NR32_MODIFY_LDT, 1, SCRATCH_ADDR, sizeof(u), 0, 0, 0))
		return -1;
	vm->ldt_shadow[slot] = key;
	trace(TRACE_SEG, "host LDT slot %u: base %#x limit %#x attr %#x", slot, s->base,
	      s->limit, s->attr);
	return 0;
}

/* Give a loaded guest segment its host selector. */
static int shadow(struct vm *vm, struct seg *s)
{
	unsigned slot = ((s->sel >> 3) + (s->sel & 4 ? LDT_SLOTS / 2 : 0)) % LDT_SLOTS;

	if (!(s->attr & A_PRESENT)) {
		s->host_sel = 0;
		return 0;
	}
	if (is_flat(s)) {
		s->host_sel = is_code(s->attr) ? HOST_FLAT_CODE32 : HOST_FLAT_DATA;
		return 0;
	}
	if (slot == 0)
		slot = LDT_SLOTS - 1;
	if (write_ldt(vm, slot, s)) {
		vm_fail(vm, "the host refused a shadow descriptor for selector %#x", s->sel);
		return -1;
	}
	s->host_sel = slot << 3 | 7;
	return 0;
}

int cpu_to_host(struct vm *vm)
{
	struct cpu *c = &vm->cpu;
	unsigned long long *host[SEG_COUNT] = {
		[SEG_ES] = &c->regs.es, [SEG_CS] = &c->regs.cs, [SEG_SS] = &c->regs.ss,
		[SEG_DS] = &c->regs.ds, [SEG_FS] = &c->regs.fs, [SEG_GS] = &c->regs.gs,
	};

	for (int r = 0; r < SEG_COUNT; r++) {
		if (shadow(vm, &c->seg[r]))
			return -1;
		*host[r] = c->seg[r].host_sel;
	}
	/* With FSGSBASE the host loads these bases as they are, not from the descriptor. */
	c->regs.fs_base = c->seg[SEG_FS].base;
	c->regs.gs_base = c->seg[SEG_GS].base;
	c->regs.eflags = (c->regs.eflags & FL_HOST) | 0x202;
	c->regs.orig_rax = -1;
	return child_set_regs(vm->child, &c->regs);
}

/* The child's register for a data segment, as GETREGS reports it. */
static uint16_t host_data_sel(const struct user_regs_struct *r, enum seg_reg s)
{
	switch (s) {
	case SEG_ES: return r->es;
	case SEG_DS: return r->ds;
	case SEG_FS: return r->fs;
	default: return r->gs;
	}
}

/*
 * Guest code that was not rewritten (guest ring 3) loads segment registers
 * natively. A selector the host has no usable descriptor for faults and is
 * emulated; one the host does have (its flat or 64-bit segments) loads the
 * host's descriptor instead of the guest's. So a data segment register that
 * no longer holds what the monitor put there holds a guest selector: load it
 * the guest's way. Returns 1 if one was found.
 */
static int adopt_native_loads(struct vm *vm)
{
	static const enum seg_reg data[] = { SEG_ES, SEG_DS, SEG_FS, SEG_GS };
	int found = 0;

	for (size_t i = 0; i < sizeof(data) / sizeof(data[0]); i++) {
		uint16_t sel = host_data_sel(&vm->cpu.regs, data[i]);

		if (sel == vm->cpu.seg[data[i]].host_sel)
			continue;
		trace(TRACE_SEG, "guest loaded %#x natively into segment register %d", sel, data[i]);
		found = 1;
		if (cpu_load_seg(vm, data[i], sel))
			break;	/* the guest's fault is on its way */
	}
	return found;
}

int cpu_from_host(struct vm *vm)
{
	child_get_regs(vm->child, &vm->cpu.regs);
	return adopt_native_loads(vm);
}

/* Stack pushes and pops, honouring the B bit of SS. */
static uint32_t sp_mask(const struct vm *vm)
{
	return vm->cpu.seg[SEG_SS].attr & A_DB ? 0xffffffff : 0xffff;
}

int cpu_push(struct vm *vm, uint32_t value, unsigned size)
{
	struct cpu *c = &vm->cpu;
	uint32_t mask = sp_mask(vm), sp = ((uint32_t)c->regs.rsp - size) & mask;

	if (guest_write(vm, c->seg[SEG_SS].base + sp, &value, size))
		return -1;
	c->regs.rsp = (c->regs.rsp & ~(uint64_t)mask) | sp;
	return 0;
}

int cpu_pop(struct vm *vm, uint32_t *value, unsigned size)
{
	struct cpu *c = &vm->cpu;
	uint32_t mask = sp_mask(vm), sp = (uint32_t)c->regs.rsp & mask;

	*value = 0;
	if (guest_read(vm, c->seg[SEG_SS].base + sp, value, size))
		return -1;
	c->regs.rsp = (c->regs.rsp & ~(uint64_t)mask) | ((sp + size) & mask);
	return 0;
}

/* Checks for a data segment register load (SDM mov: protected-mode exceptions). */
static struct fault check_data_seg(struct vm *vm, uint16_t sel, uint64_t d)
{
	uint16_t a = desc_attr(d);
	unsigned dpl = A_DPL(a), rpl = sel & 3;

	if (!is_data(a) && !(is_code(a) && (a & A_RW)))
		return make_fault(EXC_GP, sel & 0xfffc);
	if ((is_data(a) || !(a & A_DC)) && (rpl > dpl || vm->cpu.cpl > dpl))
		return make_fault(EXC_GP, sel & 0xfffc);
	if (!(a & A_PRESENT))
		return make_fault(EXC_NP, sel & 0xfffc);
	return no_fault;
}

static struct fault check_stack_seg(unsigned cpl, uint16_t sel, uint64_t d, unsigned vec)
{
	uint16_t a = desc_attr(d);

	if ((sel & 3) != cpl || A_DPL(a) != cpl || !is_data(a) || !(a & A_RW))
		return make_fault(vec, sel & 0xfffc);
	if (!(a & A_PRESENT))
		return make_fault(EXC_SS, sel & 0xfffc);
	return no_fault;
}

static struct fault load_seg(struct vm *vm, enum seg_reg r, uint16_t sel)
{
	struct seg *s = &vm->cpu.seg[r];
	struct fault f;
	uint64_t d;

	if ((sel & 0xfffc) == 0) {
		if (r == SEG_SS)
			return make_fault(EXC_GP, 0);
		memset(s, 0, sizeof(*s));
		s->sel = sel;
		return no_fault;
	}
	if (cpu_read_desc(vm, sel, &d))
		return mem_fault_or(vm, EXC_GP, sel & 0xfffc);
	f = r == SEG_SS ? check_stack_seg(vm->cpu.cpl, sel, d, EXC_GP) : check_data_seg(vm, sel, d);
	if (f.vec >= 0)
		return f;
	mark_accessed(vm, sel, &d);
	set_cache(s, sel, d);
	trace(TRACE_SEG, "%s = %#x base %#x limit %#x", "ECSDFG" + 0, sel, s->base, s->limit);
	return no_fault;
}

int cpu_load_seg(struct vm *vm, enum seg_reg r, uint16_t sel)
{
	struct fault f = load_seg(vm, r, sel);

	if (f.vec < 0)
		return 0;
	cpu_fault(vm, f.vec, f.err);
	return -1;
}

/* Checks for loading CS through a far jump, call or return (SDM vol. 2, jmp/call/ret/iret). */
static struct fault check_code_seg(uint16_t sel, uint64_t d, unsigned cpl, int ret)
{
	uint16_t a = desc_attr(d);
	unsigned dpl = A_DPL(a), rpl = sel & 3;

	if (!is_code(a))
		return make_fault(EXC_GP, sel & 0xfffc);
	if (ret) {
		if (rpl < cpl || ((a & A_DC) ? dpl > rpl : dpl != rpl))
			return make_fault(EXC_GP, sel & 0xfffc);
	} else if ((a & A_DC) ? dpl > cpl : (rpl > cpl || dpl != cpl)) {
		return make_fault(EXC_GP, sel & 0xfffc);
	}
	if (!(a & A_PRESENT))
		return make_fault(EXC_NP, sel & 0xfffc);
	return no_fault;
}

static void load_cs(struct vm *vm, uint16_t sel, uint64_t d, unsigned cpl)
{
	set_cache(&vm->cpu.seg[SEG_CS], (sel & 0xfffc) | cpl, d);
	vm->cpu.cpl = cpl;
}

/* Data segments the new, less privileged level may not use become null (iret, ret). */
static void drop_inner_segments(struct vm *vm)
{
	static const enum seg_reg regs[] = { SEG_ES, SEG_DS, SEG_FS, SEG_GS };

	for (size_t i = 0; i < sizeof(regs) / sizeof(regs[0]); i++) {
		struct seg *s = &vm->cpu.seg[regs[i]];

		if ((is_data(s->attr) || !(s->attr & A_DC)) && A_DPL(s->attr) < vm->cpu.cpl)
			memset(s, 0, sizeof(*s));
	}
}

static struct fault switch_stack(struct vm *vm, unsigned cpl, unsigned size);

/* Copy n parameters of size bytes from the caller's stack (before the switch) onto the new one. */
static struct fault copy_parameters(struct vm *vm, const struct seg *old_ss, uint32_t old_esp,
				    unsigned n, unsigned size)
{
	for (unsigned i = n; i-- > 0;) {
		uint32_t v = 0;

		if (guest_read_sys(vm, old_ss->base + old_esp + i * size, &v, size) ||
		    cpu_push(vm, v, size))
			return mem_fault_or(vm, EXC_SS, 0);
	}
	return no_fault;
}

/*
 * A far call or jump through a call gate (SDM 5.8.4-5.8.6): the gate's DPL
 * must admit CPL and RPL; the target code segment may be more privileged
 * (conforming ones keep CPL); a call to an inner ring switches to the
 * TSS's stack for it, pushes the old SS:ESP and copies the gate's
 * parameter count of words; a jump must stay in its ring.
 */
static struct fault through_call_gate(struct vm *vm, uint16_t sel, uint64_t gate, int call,
				      uint32_t next)
{
	struct cpu *c = &vm->cpu;
	unsigned size = ((gate >> 40) & 0xf) == 0xc ? 4 : 2, params = (gate >> 32) & 0x1f;
	uint16_t tsel = (gate >> 16) & 0xffff, old_cs = c->seg[SEG_CS].sel;
	uint32_t off = (uint32_t)(gate & 0xffff) | (size == 4 ? (uint32_t)(gate >> 32) & 0xffff0000 : 0);
	uint32_t old_esp = (uint32_t)c->regs.rsp;
	struct seg old_ss = c->seg[SEG_SS];
	unsigned old_cpl = c->cpl, dpl, new_cpl;
	struct fault f;
	uint64_t d;

	if (((gate >> 45) & 3) < c->cpl || ((gate >> 45) & 3) < (sel & 3u))
		return make_fault(EXC_GP, sel & 0xfffc);
	if (!((gate >> 47) & 1))
		return make_fault(EXC_NP, sel & 0xfffc);
	if ((tsel & 0xfffc) == 0)
		return make_fault(EXC_GP, 0);
	if (cpu_read_desc(vm, tsel, &d))
		return mem_fault_or(vm, EXC_GP, tsel & 0xfffc);
	dpl = A_DPL(desc_attr(d));
	if (!is_code(desc_attr(d)) || dpl > c->cpl ||
	    (!call && !(desc_attr(d) & A_DC) && dpl != c->cpl))
		return make_fault(EXC_GP, tsel & 0xfffc);
	if (!(desc_attr(d) & A_PRESENT))
		return make_fault(EXC_NP, tsel & 0xfffc);
	new_cpl = desc_attr(d) & A_DC ? c->cpl : dpl;
	if (call && new_cpl < c->cpl) {
		f = switch_stack(vm, new_cpl, size);
		if (f.vec < 0)
			f = copy_parameters(vm, &old_ss, old_esp, params, size);
	} else {
		f = no_fault;
	}
	if (f.vec < 0 && call && (cpu_push(vm, old_cs, size) || cpu_push(vm, next, size)))
		f = mem_fault_or(vm, EXC_SS, 0);
	if (f.vec >= 0) {	/* as before the instruction; the caller puts ESP back */
		c->seg[SEG_SS] = old_ss;
		c->cpl = old_cpl;
		return f;
	}
	mark_accessed(vm, tsel, &d);
	load_cs(vm, tsel, d, new_cpl);
	c->regs.rip = off;
	return no_fault;
}

static struct fault far_transfer(struct vm *vm, uint16_t sel, uint32_t off, int call, int op32,
				 uint32_t next)
{
	struct cpu *c = &vm->cpu;
	unsigned size = op32 ? 4 : 2;
	struct fault f;
	uint64_t d;

	if ((sel & 0xfffc) == 0 || cpu_read_desc(vm, sel, &d))
		return mem_fault_or(vm, EXC_GP, sel & 0xfffc);
	if (!(desc_attr(d) & A_S) && (((d >> 40) & 0xf) == 0xc || ((d >> 40) & 0xf) == 0x4))
		return through_call_gate(vm, sel, d, call, next);
	if (!(desc_attr(d) & A_S)) {
		vm_unsupported(vm, "far %s through a task gate or TSS (selector %#x), a task "
			       "switch, is not emulated", call ? "call" : "jmp", sel);
		return make_fault(EXC_GP, sel & 0xfffc);
	}
	f = check_code_seg(sel, d, c->cpl, 0);
	if (f.vec >= 0)
		return f;
	if (call && (cpu_push(vm, c->seg[SEG_CS].sel, size) || cpu_push(vm, next, size)))
		return mem_fault_or(vm, EXC_SS, 0);
	mark_accessed(vm, sel, &d);
	load_cs(vm, sel, d, c->cpl);
	c->regs.rip = op32 ? off : off & 0xffff;
	return no_fault;
}

/*
 * Raise the fault a far transfer ran into. Faults are restartable: the
 * guest's handler sees ESP as it was before the instruction, whatever the
 * instruction popped or pushed before it met the bad selector.
 */
static void fault_restart(struct vm *vm, struct fault f, uint64_t esp)
{
	vm->cpu.regs.rsp = esp;
	cpu_fault(vm, f.vec, f.err);
}

int cpu_far_transfer(struct vm *vm, uint16_t sel, uint32_t off, int call, int op32,
		     uint32_t next)
{
	uint64_t esp = vm->cpu.regs.rsp;
	struct fault f = far_transfer(vm, sel, off, call, op32, next);

	if (f.vec < 0)
		return 0;
	fault_restart(vm, f, esp);
	return -1;
}

/* Return to an outer ring: pop SS:ESP and switch stacks (far ret and iret). */
static struct fault return_outer(struct vm *vm, uint16_t cs, uint64_t cs_desc, unsigned size,
				 uint16_t imm)
{
	struct cpu *c = &vm->cpu;
	uint32_t esp, ss;
	uint64_t d;
	struct fault f;

	c->regs.rsp += imm;
	if (cpu_pop(vm, &esp, size) || cpu_pop(vm, &ss, size))
		return mem_fault_or(vm, EXC_SS, 0);
	if ((ss & 0xfffc) == 0 || cpu_read_desc(vm, ss, &d))
		return mem_fault_or(vm, EXC_GP, ss & 0xfffc);
	f = check_stack_seg(cs & 3, ss, d, EXC_GP);
	if (f.vec >= 0)
		return f;
	load_cs(vm, cs, cs_desc, cs & 3);
	set_cache(&c->seg[SEG_SS], ss, d);
	c->regs.rsp = (esp + imm) & (size == 4 ? 0xffffffff : 0xffff);
	drop_inner_segments(vm);
	return no_fault;
}

static struct fault pop_code_selector(struct vm *vm, unsigned size, uint32_t *eip,
				      uint32_t *cs, uint64_t *d)
{
	if (cpu_pop(vm, eip, size) || cpu_pop(vm, cs, size))
		return mem_fault_or(vm, EXC_SS, 0);
	if ((*cs & 0xfffc) == 0 || cpu_read_desc(vm, *cs, d))
		return mem_fault_or(vm, EXC_GP, *cs & 0xfffc);
	return check_code_seg(*cs, *d, vm->cpu.cpl, 1);
}

int cpu_far_ret(struct vm *vm, int op32, uint16_t imm)
{
	struct cpu *c = &vm->cpu;
	unsigned size = op32 ? 4 : 2;
	uint32_t eip, cs;
	uint64_t d, esp = c->regs.rsp;
	struct fault f = pop_code_selector(vm, size, &eip, &cs, &d);

	if (f.vec < 0 && (cs & 3) > c->cpl) {
		f = return_outer(vm, cs, d, size, imm);
	} else if (f.vec < 0) {
		load_cs(vm, cs, d, c->cpl);
		c->regs.rsp += imm;
	}
	if (f.vec >= 0) {
		fault_restart(vm, f, esp);
		return -1;
	}
	c->regs.rip = eip;
	return 0;
}

int cpu_iret(struct vm *vm, int op32)
{
	struct cpu *c = &vm->cpu;
	unsigned size = op32 ? 4 : 2, old_cpl = c->cpl;
	uint32_t eip, cs, fl;
	uint64_t d, esp = c->regs.rsp;
	struct fault f;

	if (c->vflags & FL_NT) {
		vm_unsupported(vm, "iret with NT set (a task return) is not emulated");
		return -1;
	}
	f = pop_code_selector(vm, size, &eip, &cs, &d);
	if (f.vec < 0 && cpu_pop(vm, &fl, size))
		f = mem_fault_or(vm, EXC_SS, 0);
	if (f.vec < 0 && old_cpl == 0 && (fl & FL_VM) && op32) {
		vm_unsupported(vm, "iret to virtual-8086 mode is not emulated");
		return -1;
	}
	if (f.vec < 0 && (cs & 3) > old_cpl)
		f = return_outer(vm, cs, d, size, 0);
	else if (f.vec < 0)
		load_cs(vm, cs, d, old_cpl);
	if (f.vec >= 0) {
		fault_restart(vm, f, esp);
		return -1;
	}
	/* Privilege rules for IF and IOPL apply at the level iret ran at. */
	c->cpl = old_cpl;
	cpu_set_eflags(vm, fl, op32 ? 0x257fd5 : 0x7fd5);
	c->cpl = cs & 3;
	c->regs.rip = eip;
	return 0;
}

int cpu_sysenter(struct vm *vm)
{
	struct cpu *c = &vm->cpu;
	uint16_t cs = c->sysenter_cs & 0xfffc;

	if (!cs) {
		cpu_fault(vm, EXC_GP, 0);
		return -1;
	}
	set_flat(&c->seg[SEG_CS], cs, 1, 0);
	set_flat(&c->seg[SEG_SS], cs + 8, 0, 0);
	c->cpl = 0;
	c->vflags &= ~FL_IF;
	c->regs.rsp = c->sysenter_esp;
	c->regs.rip = c->sysenter_eip;
	return 0;
}

int cpu_sysexit(struct vm *vm)
{
	struct cpu *c = &vm->cpu;
	uint16_t cs = c->sysenter_cs & 0xfffc;

	if (!cs || c->cpl != 0) {
		cpu_fault(vm, EXC_GP, 0);
		return -1;
	}
	set_flat(&c->seg[SEG_CS], (cs + 16) | 3, 1, 3);
	set_flat(&c->seg[SEG_SS], (cs + 24) | 3, 0, 3);
	c->cpl = 3;
	c->regs.rsp = (uint32_t)c->regs.rcx;
	c->regs.rip = (uint32_t)c->regs.rdx;
	return 0;
}

int cpu_load_system_seg(struct vm *vm, int tr, uint16_t sel)
{
	struct seg *s = tr ? &vm->cpu.tr : &vm->cpu.ldtr;
	uint64_t d;
	uint16_t a;

	if (vm->cpu.cpl != 0) {
		cpu_fault(vm, EXC_GP, 0);
		return -1;
	}
	if (!tr && (sel & 0xfffc) == 0) {
		memset(s, 0, sizeof(*s));
		return 0;
	}
	if ((sel & 4) || (sel & 0xfffc) == 0 || cpu_read_desc(vm, sel, &d)) {
		struct fault f = mem_fault_or(vm, EXC_GP, sel & 0xfffc);

		cpu_fault(vm, f.vec, f.err);
		return -1;
	}
	a = desc_attr(d);
	if ((a & A_S) || (tr ? (a & 0xf) != 9 && (a & 0xf) != 1 : (a & 0xf) != 2)) {
		cpu_fault(vm, EXC_GP, sel & 0xfffc);
		return -1;
	}
	if (!(a & A_PRESENT)) {
		cpu_fault(vm, EXC_NP, sel & 0xfffc);
		return -1;
	}
	if (tr) {		/* ltr marks the TSS busy in the guest's GDT */
		uint8_t access = ((d >> 40) & 0xff) | 2;

		guest_write_sys(vm, vm->cpu.gdtr.base + (sel & ~7u) + 5, &access, 1);
		d |= 2ull << 40;
	}
	set_cache(s, sel, d);
	return 0;
}

/* The inner-ring stack from the TSS for privilege level cpl. */
static struct fault tss_stack(struct vm *vm, unsigned cpl, uint32_t *esp, uint16_t *ss)
{
	const struct seg *tr = &vm->cpu.tr;
	int is32 = (tr->attr & 0x8) != 0;
	uint32_t off = is32 ? 4 + 8 * cpl : 2 + 4 * cpl;
	uint32_t v = 0;
	uint16_t s = 0;

	if (off + (is32 ? 7 : 3) > tr->limit)
		return make_fault(EXC_TS, tr->sel & 0xfffc);
	if (guest_read_sys(vm, tr->base + off, &v, is32 ? 4 : 2) ||
	    guest_read_sys(vm, tr->base + off + (is32 ? 4 : 2), &s, 2))
		return mem_fault_or(vm, EXC_TS, tr->sel & 0xfffc);
	*esp = v;
	*ss = s;
	return no_fault;
}

/* Switch to the inner stack of cpl, pushing the outer SS:ESP there. */
static struct fault switch_stack(struct vm *vm, unsigned cpl, unsigned size)
{
	struct cpu *c = &vm->cpu;
	uint32_t old_esp = c->regs.rsp, esp;
	uint16_t old_ss = c->seg[SEG_SS].sel, ss;
	struct seg saved = c->seg[SEG_SS];
	uint64_t d;
	struct fault f = tss_stack(vm, cpl, &esp, &ss);

	if (f.vec >= 0)
		return f;
	if ((ss & 0xfffc) == 0 || cpu_read_desc(vm, ss, &d))
		return mem_fault_or(vm, EXC_TS, ss & 0xfffc);
	f = check_stack_seg(cpl, ss, d, EXC_TS);
	if (f.vec >= 0)
		return f;
	set_cache(&c->seg[SEG_SS], ss, d);
	c->regs.rsp = esp;
	c->cpl = cpl;		/* the pushes are the inner ring's accesses */
	if (cpu_push(vm, old_ss, size) || cpu_push(vm, old_esp, size)) {
		c->seg[SEG_SS] = saved;
		c->regs.rsp = old_esp;
		return mem_fault_or(vm, EXC_SS, ss & 0xfffc);
	}
	return no_fault;
}

/* One attempt to deliver a vector; a fault on the way is returned, not taken. */
static struct fault deliver_once(struct vm *vm, unsigned vec, enum event_kind kind, int has_err,
				 uint32_t err)
{
	struct cpu *c = &vm->cpu;
	uint32_t ext = kind == EV_EXTERNAL, idt_err = vec * 8 + 2 + ext;
	uint64_t gate, d;
	unsigned type, new_cpl, size;
	uint32_t fl = cpu_eflags(vm), eip = c->regs.rip;
	uint16_t cs_sel = c->seg[SEG_CS].sel, sel;
	struct fault f;

	c->pf_pending = 0;
	if (vec * 8 + 7 > c->idtr.limit || guest_read_sys(vm, c->idtr.base + vec * 8, &gate, 8))
		return mem_fault_or(vm, EXC_GP, idt_err);
	type = (gate >> 40) & 0x1f;
	if (type == 5) {
		vm_unsupported(vm, "vector %u goes through a task gate, which is not emulated", vec);
		return make_fault(EXC_GP, idt_err);
	}
	if (type != 0x0e && type != 0x0f && type != 0x06 && type != 0x07)
		return make_fault(EXC_GP, idt_err);
	if (kind == EV_SOFT && ((gate >> 45) & 3) < c->cpl)
		return make_fault(EXC_GP, idt_err);
	if (!((gate >> 47) & 1))
		return make_fault(EXC_NP, idt_err);
	sel = (gate >> 16) & 0xffff;
	if ((sel & 0xfffc) == 0 || cpu_read_desc(vm, sel, &d))
		return mem_fault_or(vm, EXC_GP, (sel & 0xfffc) + ext);
	if (!is_code(desc_attr(d)) || A_DPL(desc_attr(d)) > c->cpl)
		return make_fault(EXC_GP, (sel & 0xfffc) + ext);
	if (!(desc_attr(d) & A_PRESENT))
		return make_fault(EXC_NP, (sel & 0xfffc) + ext);
	size = type & 8 ? 4 : 2;
	new_cpl = desc_attr(d) & A_DC ? c->cpl : A_DPL(desc_attr(d));
	if (new_cpl < c->cpl && (f = switch_stack(vm, new_cpl, size)).vec >= 0)
		return f;
	if (cpu_push(vm, fl, size) || cpu_push(vm, cs_sel, size) || cpu_push(vm, eip, size) ||
	    (has_err && cpu_push(vm, err, size)))
		return mem_fault_or(vm, EXC_SS, 0);
	load_cs(vm, sel, d, new_cpl);
	c->vflags &= ~(FL_TF | FL_NT | (type & 1 ? 0 : FL_IF));
	c->regs.rip = size == 4 ? (uint32_t)((gate & 0xffff) | (gate >> 32 & 0xffff0000))
				: (uint32_t)(gate & 0xffff);
	return no_fault;
}

static int has_error_code(unsigned vec)
{
	return vec == EXC_DF || (vec >= EXC_TS && vec <= EXC_PF) || vec == EXC_AC;
}

/* A state snapshot so a failed delivery can be rolled back before #DF. */
struct saved_state {
	struct user_regs_struct regs;
	struct seg cs, ss;
	unsigned cpl;
	uint32_t vflags;
};

static void save_state(const struct vm *vm, struct saved_state *s)
{
	s->regs = vm->cpu.regs;
	s->cs = vm->cpu.seg[SEG_CS];
	s->ss = vm->cpu.seg[SEG_SS];
	s->cpl = vm->cpu.cpl;
	s->vflags = vm->cpu.vflags;
}

static void restore_state(struct vm *vm, const struct saved_state *s)
{
	vm->cpu.regs = s->regs;
	vm->cpu.seg[SEG_CS] = s->cs;
	vm->cpu.seg[SEG_SS] = s->ss;
	vm->cpu.cpl = s->cpl;
	vm->cpu.vflags = s->vflags;
}

static int is_contributory(int vec)
{
	return vec == EXC_DE || (vec >= EXC_TS && vec <= EXC_GP);
}

/* SDM table 6-5: which pairs of exceptions make a double fault. */
static int makes_double_fault(unsigned first, enum event_kind kind, int second)
{
	if (kind != EV_FAULT)
		return 0;
	if (is_contributory(first))
		return is_contributory(second);
	return first == EXC_PF && (second == EXC_PF || is_contributory(second));
}

void cpu_deliver(struct vm *vm, unsigned vec, enum event_kind kind, int has_err, uint32_t err)
{
	struct saved_state s;
	struct fault f;

	if (vm->stop)
		return;	/* the machine stops where it is, for the report */
	vm->deliveries++;
	trace(TRACE_EXC, "vector %u err %#x at %#x cpl %u", vec, err, cpu_pc(vm), vm->cpu.cpl);
	if (kind == EV_FAULT)
		vm_account(vm, STAT_EXCEPTION, 0, 0);
	save_state(vm, &s);
	f = deliver_once(vm, vec, kind, has_err, err);
	if (f.vec < 0 || vm->stop)
		return;
	restore_state(vm, &s);
	if (vec == EXC_DF) {
		vm_fail(vm, "triple fault: the double fault could not be delivered (fault %d, error %#x)",
			f.vec, f.err);
	} else if (makes_double_fault(vec, kind, f.vec)) {
		f = deliver_once(vm, EXC_DF, EV_FAULT, 1, 0);
		if (f.vec >= 0 && !vm->stop) {
			restore_state(vm, &s);	/* the report shows where the first fault hit */
			vm_fail(vm, "triple fault: vector %u, then a double fault, could not be delivered",
				vec);
		}
	} else {
		/* The two are handled one after the other: the new fault is taken instead. */
		cpu_deliver(vm, f.vec, EV_FAULT, has_error_code(f.vec), f.err);
	}
}

void cpu_fault(struct vm *vm, unsigned vec, uint32_t err)
{
	cpu_deliver(vm, vec, EV_FAULT, has_error_code(vec), err);
}

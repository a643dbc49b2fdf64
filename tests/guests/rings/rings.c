/*
 * rings.c - privilege transitions: ring 0 -> 3 -> 0 through a DPL 3 gate
 * and iret, the TSS stack switch (the frame at the top of esp0 with ring 3's
 * SS:ESP on it), a timer interrupt in ring 3, a timer interrupt nested in a
 * trap-gate handler (and held off by an interrupt gate), far call, far ret
 * and far jmp within ring 0, lret to ring 3, and far returns that fault.
 */
#include "../lib/guest.h"

#define SEL_KCODE2 0x30		/* GDT 6: a second flat ring 0 code segment */
#define SYS_EXIT 0
#define SYS_PING 1
#define SYS_LRET 2
#define PING_REPLY 42
#define FL_IF 0x200u
#define SPIN 1000000		/* port polls before a wait gives up */
#define PAUSES 100000000	/* pause loops are cheaper: a bound of seconds, not ms */

void user_return(void);

static uint8_t user_stack[4096] __attribute__((aligned(16)));
static uint8_t user_stack2[4096] __attribute__((aligned(16)));
static uint8_t kernel_stack[4096] __attribute__((aligned(16)));
static volatile unsigned ticks;

#define KERNEL_STACK_TOP (kernel_stack + sizeof(kernel_stack))

static uint16_t read_cs(void)
{
	uint16_t v;

	__asm__ volatile("mov %%cs, %0" : "=r"(v));
	return v;
}

static uint16_t read_ss(void)
{
	uint16_t v;

	__asm__ volatile("mov %%ss, %0" : "=r"(v));
	return v;
}

static uint16_t read_fs(void)
{
	uint16_t v;

	__asm__ volatile("mov %%fs, %0" : "=r"(v));
	return v;
}

static int on_stack(uint32_t esp, const uint8_t *stack)
{
	return esp > (uint32_t)stack && esp <= (uint32_t)stack + 4096;
}

/* A frame from ring 3 ends exactly at the top of the TSS's esp0 stack. */
static int frame_at_stack_top(struct trap_frame *f)
{
	return (uint8_t *)(&f->user_ss + 1) == KERNEL_STACK_TOP;
}

/* --- ring 3 and back --- */

/* What the kernel saw of ring 3's calls, and what ring 3 saw of itself. */
static volatile struct {
	uint16_t cs, ss, frame_cs, frame_ss;
	uint32_t frame_esp;
	int at_top;
} ping;
static volatile struct {
	uint16_t cs, ss, fs, cs_after_iret;
	uint32_t esp_at_int, reply;
} user;
static volatile struct {
	uint16_t cs, ss, fs;
	int on_stack2;
} after_lret;
static volatile struct {
	int seen, at_top, ss_ok, esp_ok;
} user_tick;

/* Enter ring 3 at fn on stack with lret; FS keeps a ring 0 selector, which lret must null. */
static void __attribute__((noreturn)) lret_to_user(void (*fn)(void), uint8_t *stack_top)
{
	__asm__ volatile("mov %w0, %%ds\n\tmov %w0, %%es\n\tmov %w1, %%fs\n\t"
			 "push %0\n\tpush %2\n\tpush %3\n\tpush %4\n\tlret"
			 :: "r"((uint32_t)SEL_UDATA), "r"((uint32_t)SEL_KDATA), "r"(stack_top),
			    "i"(SEL_UCODE), "r"(fn) : "memory");
	__builtin_unreachable();
}

static void user_after_lret(void)
{
	uint8_t here;

	after_lret.cs = read_cs();
	after_lret.ss = read_ss();
	after_lret.fs = read_fs();
	after_lret.on_stack2 = on_stack((uint32_t)&here, user_stack2);
	__asm__ volatile("int %0" :: "i"(VEC_SYSCALL), "a"(SYS_EXIT) : "memory");
}

static void on_syscall(struct trap_frame *f)
{
	if (f->eax == SYS_PING) {
		ping.cs = read_cs();
		ping.ss = read_ss();
		ping.frame_cs = f->cs;
		ping.frame_ss = f->user_ss;
		ping.frame_esp = f->user_esp;
		ping.at_top = frame_at_stack_top(f);
		f->eax = PING_REPLY;
	} else if (f->eax == SYS_LRET) {
		lret_to_user(user_after_lret, user_stack2 + sizeof(user_stack2));
	} else {
		user_return();
	}
}

/* Ring 3 spins until a timer interrupt has come and gone. */
static void wait_tick_in_ring3(void)
{
	unsigned t = ticks;

	while (ticks == t)
		;
}

static void user_main(void)
{
	uint32_t reply;

	user.cs = read_cs();
	user.ss = read_ss();
	user.fs = read_fs();
	__asm__ volatile("mov %%esp, %1\n\tint %2" : "=a"(reply), "=m"(user.esp_at_int)
			 : "i"(VEC_SYSCALL), "a"(SYS_PING) : "memory");
	user.reply = reply;
	user.cs_after_iret = read_cs();
	wait_tick_in_ring3();
	__asm__ volatile("int %0" :: "i"(VEC_SYSCALL), "a"(SYS_LRET) : "memory");
}

static void test_user_round_trip(void)
{
	pic_mask(1 << 0);
	run_user(user_main, user_stack + sizeof(user_stack));
	pic_mask(0);
	check(user.cs == SEL_UCODE && user.ss == SEL_UDATA, "iret entered ring 3 with its CS and SS");
	check(user.fs == 0, "iret to ring 3 nulled FS, which held a ring 0 selector");
	check(ping.cs == SEL_KCODE && ping.ss == SEL_KDATA,
	      "int 0x80 through a DPL 3 gate runs the handler in ring 0 on SS0");
	check(ping.at_top, "the handler's frame sits at the top of the TSS esp0 stack");
	check(ping.frame_cs == SEL_UCODE && ping.frame_ss == SEL_UDATA &&
	      ping.frame_esp == user.esp_at_int, "the frame holds ring 3's CS and SS:ESP");
	check(user.reply == PING_REPLY && user.cs_after_iret == SEL_UCODE,
	      "iret returned to ring 3 with the handler's EAX");
	check(user_tick.seen && user_tick.at_top && user_tick.ss_ok && user_tick.esp_ok,
	      "a timer interrupt in ring 3 switches to esp0 and saves ring 3's SS:ESP");
	check(after_lret.cs == SEL_UCODE && after_lret.ss == SEL_UDATA && after_lret.on_stack2,
	      "lret to ring 3 loads CS and the popped SS:ESP");
	check(after_lret.fs == 0, "lret to ring 3 nulled FS, which held a ring 0 selector");
}

/* --- nested interrupts --- */

static volatile struct {
	int active, seen;
	uint32_t outer, inner;
	uint16_t inner_cs;
	uint32_t flags;
	int held_off;
} nest;

static void on_timer(struct trap_frame *f)
{
	ticks++;
	if ((f->cs & 3) == 3 && !user_tick.seen) {
		user_tick.seen = 1;
		user_tick.at_top = frame_at_stack_top(f);
		user_tick.ss_ok = f->user_ss == SEL_UDATA;
		user_tick.esp_ok = on_stack(f->user_esp, user_stack);
	}
	if (nest.active && !nest.seen) {
		nest.seen = 1;
		nest.inner = (uint32_t)f;
		nest.inner_cs = f->cs;
	}
	pic_eoi(0);
}

static uint32_t get_flags(void)
{
	uint32_t fl;

	__asm__ volatile("pushf\n\tpop %0" : "=r"(fl));
	return fl;
}

/* A trap gate: IF stays set, so the timer can interrupt this handler. */
static void on_trap_gate(struct trap_frame *f)
{
	nest.outer = (uint32_t)f;
	nest.active = 1;	/* first: a tick may come at any instruction from here */
	nest.flags = get_flags();
	for (unsigned i = 0; i < PAUSES && !nest.seen; i++)
		__asm__ volatile("pause");
	nest.active = 0;
}

/* An interrupt gate: the timer request waits in IRR until the handler returns. */
static void on_interrupt_gate(struct trap_frame *f)
{
	unsigned t = ticks, i;

	for (i = 0; i < SPIN && !(pic_read(0) & 1); i++)
		;
	nest.held_off = i < SPIN && ticks == t;
}

static void test_nesting(void)
{
	unsigned t;

	pic_mask(1 << 0);
	__asm__ volatile("sti\n\tint %0\n\tcli" :: "i"(VEC_SPARE1) : "memory");
	check(nest.flags & FL_IF, "a trap-gate handler runs with IF set");
	check(nest.seen, "a timer interrupt nests inside the trap-gate handler");
	check(nest.inner < nest.outer && nest.outer - nest.inner < 512 && nest.inner_cs == SEL_KCODE,
	      "the nested frame is pushed below the outer one, on the same stack");
	t = ticks;
	__asm__ volatile("sti\n\tint %0\n\tnop\n\tcli" :: "i"(VEC_SPARE2) : "memory");
	check(nest.held_off, "an interrupt-gate handler holds the timer off");
	check(ticks != t, "the held-off tick arrives once the handler returns");
	pic_mask(0);
}

/* --- far transfers within ring 0 --- */

static void test_far_call(void)
{
	uint16_t cs_in, cs_after;
	uint32_t pushed_cs;

	__asm__ volatile("lcall %[sel], $1f\n\tjmp 2f\n"
			 "1:\tmov %%cs, %[in]\n\tmov 4(%%esp), %[pushed]\n\tlret\n"
			 "2:\tmov %%cs, %[after]"
			 : [in] "=&r"(cs_in), [pushed] "=&r"(pushed_cs), [after] "=r"(cs_after)
			 : [sel] "i"(SEL_KCODE2) : "memory");
	check(cs_in == SEL_KCODE2, "lcall to another ring 0 code segment runs with its CS");
	check((pushed_cs & 0xffff) == SEL_KCODE, "lcall pushed the caller's CS");
	check(cs_after == SEL_KCODE, "lret returned to the caller's CS");
}

static void test_far_ret_imm(void)
{
	uint32_t before, after;

	__asm__ volatile("mov %%esp, %[before]\n\tpush $1\n\tpush $2\n\t"
			 "lcall %[sel], $1f\n\tjmp 2f\n"
			 "1:\tlret $8\n"
			 "2:\tmov %%esp, %[after]"
			 : [before] "=&r"(before), [after] "=r"(after) : [sel] "i"(SEL_KCODE2) : "memory");
	check(before == after, "lret $8 also releases 8 bytes of parameters");
}

static void test_far_jmp_and_pointer(void)
{
	uint16_t via_jmp, via_ptr, back;
	struct {
		uint32_t off;
		uint16_t sel;
	} __attribute__((packed)) ptr;

	__asm__ volatile("ljmp %[sel2], $1f\n1:\tmov %%cs, %[in]\n\tljmp %[sel], $2f\n2:\t"
			 "mov %%cs, %[out]"
			 : [in] "=&r"(via_jmp), [out] "=r"(back)
			 : [sel2] "i"(SEL_KCODE2), [sel] "i"(SEL_KCODE) : "memory");
	check(via_jmp == SEL_KCODE2 && back == SEL_KCODE, "ljmp switches CS and back");
	ptr.sel = SEL_KCODE2;
	__asm__ volatile("movl $1f, %[ptr]\n\tlcall *%[ptr]\n\tjmp 2f\n"
			 "1:\tmov %%cs, %[in]\n\tlret\n2:"
			 : [ptr] "+m"(ptr), [in] "=&r"(via_ptr) :: "memory");
	check(via_ptr == SEL_KCODE2, "lcall through a far pointer in memory");
}

/* --- far transfers that fault: #GP(selector), and nothing popped --- */

static volatile uint32_t recover, fault_vec, fault_err;

static void on_fault(struct trap_frame *f)
{
	fault_vec = f->vector;
	fault_err = f->error;
	f->eip = recover;
}

static void test_faulting_returns(void)
{
	uint32_t before, at;

	fault_vec = fault_err = 0xdead;
	__asm__ volatile("movl $1f, %[rec]\n\tlcall %[sel], $1f\n1:"
			 : [rec] "=m"(recover) : [sel] "i"(SEL_UCODE) : "memory");
	check(fault_vec == 13 && fault_err == (SEL_UCODE & ~3), "lcall to ring 3 code raises #GP(selector)");

	fault_vec = fault_err = 0xdead;
	__asm__ volatile("movl $1f, %[rec]\n\tmov %%esp, %[before]\n\t"
			 "push %[bad]\n\tpush $1f\n\tlret\n"
			 "1:\tmov %%esp, %[at]\n\tmov %[before], %%esp"
			 : [rec] "=m"(recover), [before] "=&r"(before), [at] "=&r"(at)
			 : [bad] "i"(SEL_KDATA) : "memory");
	check(fault_vec == 13 && fault_err == SEL_KDATA, "lret to a data selector raises #GP(selector)");
	check(at == before - 8, "the faulting lret left ESP as it was");

	fault_vec = fault_err = 0xdead;
	__asm__ volatile("movl $1f, %[rec]\n\tmov %%esp, %[before]\n\t"
			 "pushf\n\tpush %[bad]\n\tpush $1f\n\tiret\n"
			 "1:\tmov %%esp, %[at]\n\tmov %[before], %%esp"
			 : [rec] "=m"(recover), [before] "=&r"(before), [at] "=&r"(at)
			 : [bad] "i"(SEL_KDATA) : "memory");
	check(fault_vec == 13 && fault_err == SEL_KDATA, "iret to a data selector raises #GP(selector)");
	check(at == before - 12, "the faulting iret left ESP as it was");

	fault_vec = fault_err = 0xdead;
	__asm__ volatile("movl $1f, %[rec]\n\tmov %%esp, %[before]\n\t"
			 "push %[bad]\n\tpush %[before]\n\tpushf\n\tpush %[cs3]\n\tpush $1f\n\tiret\n"
			 "1:\tmov %%esp, %[at]\n\tmov %[before], %%esp"
			 : [rec] "=m"(recover), [before] "=&r"(before), [at] "=&r"(at)
			 : [bad] "i"(SEL_KDATA), [cs3] "i"(SEL_UCODE) : "memory");
	check(fault_vec == 13 && fault_err == SEL_KDATA,
	      "iret to ring 3 with a ring 0 SS raises #GP(SS selector)");
	check(at == before - 20 && read_cs() == SEL_KCODE, "that iret left ESP and CPL as they were");
}

void guest_main(uint32_t magic, void *mbi)
{
	guest_init();
	gdt_set(SEL_KCODE2 >> 3, 0, 0xfffff, 0x9a, 0xc);
	set_kernel_stack(KERNEL_STACK_TOP);
	pit_init(1000);
	set_handler(VEC_IRQ0, on_timer);
	set_handler(VEC_SYSCALL, on_syscall);
	allow_user_int(VEC_SYSCALL);
	set_handler(VEC_SPARE1, on_trap_gate);
	set_trap_gate(VEC_SPARE1);
	set_handler(VEC_SPARE2, on_interrupt_gate);
	set_handler(13, on_fault);
	test_user_round_trip();
	test_nesting();
	test_far_call();
	test_far_ret_imm();
	test_far_jmp_and_pointer();
	test_faulting_returns();
	finish();
}

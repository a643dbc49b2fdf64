/*
 * callgate.c - far calls and jumps through call gates, in the same ring
 * and from ring 3 into ring 0 with parameters copied to the inner stack,
 * the far return to the outer ring, and the faults of a gate ring 3 may not
 * use or that is not present. Then a far call through a task gate, a task
 * switch, which lilyvm does not emulate: under QEMU the new task prints the
 * last line and powers off; lilyvm must stop with one line naming the
 * instruction, its address and the function it is in
 * (tests/guests/unemulated.sh, which also compares the lines before it).
 */
#include "../lib/guest.h"

#define SEL_GATE 0x40		/* GDT 8: call gate, DPL 0, to gate_ret */
#define SEL_JGATE 0x48		/* GDT 9: call gate, DPL 0, to gate_jmp_target */
#define SEL_UGATE 0x53		/* GDT 10: call gate, DPL 3, 2 parameters, to inner_entry */
#define SEL_NPGATE 0x5b		/* GDT 11: call gate, DPL 3, not present */
#define SEL_TASKGATE 0x60	/* GDT 12: task gate to the TSS at GDT 13 */
#define SEL_TSS2 0x68		/* GDT 13: a second task's TSS */

void user_return(void);
void gate_ret(void);
void gate_jmp_target(void);
void inner_entry(void);
void jumped_back(void);

/* What the ring 0 side of the ring 3 call saw: CS, the two parameters, the caller's SS:ESP. */
volatile uint32_t inner_cs, inner_p0, inner_p1, inner_old_esp, inner_old_ss;
volatile uint32_t jumped;

__asm__(".text\n"
	".type gate_ret, @function\ngate_ret:\n\tlret\n"
	".type gate_jmp_target, @function\ngate_jmp_target:\n\t"
	"movl $1, jumped\n\tjmp jumped_back\n"
	/* [esp] EIP, CS, parameter 0, parameter 1, old ESP, old SS */
	".type inner_entry, @function\ninner_entry:\n\t"
	"push %eax\n\t"
	"mov %cs, %eax\n\tmov %eax, inner_cs\n\t"
	"mov 12(%esp), %eax\n\tmov %eax, inner_p0\n\t"
	"mov 16(%esp), %eax\n\tmov %eax, inner_p1\n\t"
	"mov 20(%esp), %eax\n\tmov %eax, inner_old_esp\n\t"
	"mov 24(%esp), %eax\n\tmov %eax, inner_old_ss\n\t"
	"pop %eax\n\t"
	"lret $8\n");

static uint8_t user_stack[4096] __attribute__((aligned(16)));
static uint8_t task_stack[4096] __attribute__((aligned(16)));
static volatile uint32_t user_cs_after, user_esp_before, user_esp_after, user_fault_vec,
	user_fault_err, user_faults;
static volatile unsigned fault_vec, fault_err;

/* The two 32-bit words a gate is made of: offset, target selector, parameters, type, DPL, P. */
static void set_gate(unsigned idx, uint16_t target_sel, uint32_t off, unsigned params,
		     unsigned dpl, int present)
{
	uint8_t access = (uint8_t)((present ? 0x80 : 0) | dpl << 5 | 0xc);

	/* gdt_set builds segment descriptors: base = selector | param count << 16 | offset's top
	 * byte, limit = offset's low 20 bits, flags = offset bits 20-23. */
	gdt_set(idx, target_sel | params << 16 | (off & 0xff000000), off & 0xfffff, access,
		(off >> 20) & 0xf);
}

static void on_fault(struct trap_frame *f)
{
	fault_vec = f->vector;
	fault_err = f->error;
	if (f->cs & 3) {	/* ring 3's lcall: 7 bytes */
		user_faults++;
		user_fault_vec = f->vector;
		user_fault_err = f->error;
		f->eip += 7;
	}
}

static void on_syscall(struct trap_frame *f)
{
	user_return();
}

static void user_main(void)
{
	uint32_t cs;

	__asm__ volatile("mov %%esp, %0\n\tpush $0x2222\n\tpush $0x1111\n\tlcall %2, $0\n\t"
			 "mov %%esp, %1" : "=&r"(user_esp_before), "=r"(user_esp_after)
			 : "i"(SEL_UGATE) : "memory");
	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	user_cs_after = cs;
	__asm__ volatile("lcall %0, $0" :: "i"(SEL_GATE) : "memory");	/* DPL 0: #GP */
	__asm__ volatile("lcall %0, $0" :: "i"(SEL_NPGATE) : "memory");	/* not present: #NP */
	__asm__ volatile("int %0" :: "i"(VEC_SYSCALL), "a"(0));
}

static void __attribute__((noinline)) call_through_gate(void)
{
	__asm__ volatile("lcall %0, $0" :: "i"(SEL_GATE) : "memory");
}

static void __attribute__((noinline)) test_same_ring(void)
{
	call_through_gate();
	check(1, "a far call through a call gate returns");
	__asm__ volatile("ljmp %0, $0\n\t.globl jumped_back\njumped_back:" :: "i"(SEL_JGATE) : "memory");
	check(jumped == 1, "a far jump through a call gate reaches its target");
}

static void test_from_ring3(void)
{
	run_user(user_main, user_stack + sizeof(user_stack));
	check(inner_cs == SEL_KCODE, "ring 3 through a DPL 3 gate runs at ring 0");
	check(inner_p0 == 0x1111 && inner_p1 == 0x2222, "the gate's two parameters are copied");
	check(inner_old_ss == SEL_UDATA && inner_old_esp == user_esp_before - 8,
	      "the inner stack holds the caller's SS:ESP");
	check(user_cs_after == SEL_UCODE && user_esp_after == user_esp_before,
	      "lret $8 returns to ring 3 and drops the parameters");
	check(user_faults == 2 && user_fault_vec == 11 && user_fault_err == SEL_NPGATE - 3,
	      "a DPL 0 gate is #GP and a not-present one #NP from ring 3");
}

/* The second task: under QEMU it runs after the task switch and ends the test. */
static void task_entry(void)
{
	check(1, "a far call through a task gate switches tasks");
	finish();
}

static struct {
	uint32_t link, esp0, ss0, esp1, ss1, esp2, ss2, cr3, eip, eflags;
	uint32_t eax, ecx, edx, ebx, esp, ebp, esi, edi;
	uint32_t es, cs, ss, ds, fs, gs, ldt, iomap;
} tss2;

static void __attribute__((noinline)) switch_task(void)
{
	__asm__ volatile("lcall %0, $0" :: "i"(SEL_TASKGATE) : "memory");
}

void guest_main(uint32_t magic, void *mbi)
{
	guest_init();
	set_handler(11, on_fault);
	set_handler(13, on_fault);
	set_handler(VEC_SYSCALL, on_syscall);
	allow_user_int(VEC_SYSCALL);
	set_gate(SEL_GATE >> 3, SEL_KCODE, (uint32_t)gate_ret, 0, 0, 1);
	set_gate(SEL_JGATE >> 3, SEL_KCODE, (uint32_t)gate_jmp_target, 0, 0, 1);
	set_gate(SEL_UGATE >> 3, SEL_KCODE, (uint32_t)inner_entry, 2, 3, 1);
	set_gate(SEL_NPGATE >> 3, SEL_KCODE, (uint32_t)inner_entry, 0, 3, 0);
	test_same_ring();
	test_from_ring3();
	tss2.eip = (uint32_t)task_entry;
	tss2.eflags = 0x2;
	tss2.esp = (uint32_t)(task_stack + sizeof(task_stack));
	tss2.cs = SEL_KCODE;
	tss2.ss = tss2.ds = tss2.es = tss2.fs = tss2.gs = SEL_KDATA;
	tss2.iomap = sizeof(tss2) << 16;
	gdt_set(SEL_TSS2 >> 3, (uint32_t)&tss2, sizeof(tss2) - 1, 0x89, 0);
	gdt_set(SEL_TASKGATE >> 3, SEL_TSS2, 0, 0x85, 0);	/* task gate: selector in base 0-15 */
	switch_task();
	check(0, "the task switch came back");
	finish();
}

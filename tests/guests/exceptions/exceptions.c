/*
 * exceptions.c - each fault a kernel meets, with its vector, error code and
 * saved EIP: #DE #UD #BP #OF #GP #NP #SS, and faults from ring 3.
 */
#include "../lib/guest.h"

#define SEL_NOT_PRESENT 0x30	/* GDT 6: a data segment marked not present */
#define SEL_READ_ONLY 0x38	/* GDT 7: a read-only data segment */
#define SEL_DPL0_DATA SEL_KDATA

void user_return(void);

static volatile uint32_t recover, fault_vec, fault_err, fault_eip, fault_cs;
static uint8_t user_stack[4096] __attribute__((aligned(16)));

/* Record the fault and resume at the test's recovery label. */
static void on_fault(struct trap_frame *f)
{
	fault_vec = f->vector;
	fault_err = f->error;
	fault_eip = f->eip;
	fault_cs = f->cs;
	f->eip = recover;
}

static void reset_fault(void)
{
	fault_vec = fault_err = fault_eip = 0xdead;
}

/*
 * Run one faulting instruction; at receives its address. The variable part
 * continues the asm operands: more outputs after a comma, then inputs and
 * clobbers, e.g. FAULT(at, "ud2", : : "memory").
 */
#define FAULT(at, insn, ...)                                                          \
	do {                                                                           \
		reset_fault();                                                         \
		__asm__ volatile("movl $1f, %[rec]\n\tmovl $0f, %[a]\n0:\t" insn "\n1:" \
				 : [rec] "=m"(recover), [a] "=&r"(at)__VA_ARGS__);      \
	} while (0)

static void test_divide(void)
{
	uint32_t at, a = 1, d = 0;

	FAULT(at, "xor %%ecx, %%ecx\n\tdiv %%ecx", , "+a"(a), "+d"(d) : : "ecx", "memory");
	check(fault_vec == 0 && fault_eip == at + 2, "#DE from div by zero, EIP at the div");
}

static void test_invalid_opcode(void)
{
	uint32_t at;

	FAULT(at, "ud2", : : "memory");
	check(fault_vec == 6 && fault_eip == at, "#UD from ud2, EIP at ud2");
}

static void test_breakpoint(void)
{
	uint32_t at;

	FAULT(at, "int3", : : "memory");
	check(fault_vec == 3 && fault_eip == at + 1, "#BP from int3, EIP after it");
}

static void test_overflow(void)
{
	uint32_t at, a = 0x7fffffff;

	FAULT(at, "add $1, %%eax\n\tinto", , "+a"(a) : : "memory");
	check(fault_vec == 4 && fault_eip == at + 4, "#OF from into with OF set, EIP after it");
}

static void test_selector_past_gdt(void)
{
	uint32_t at;

	FAULT(at, "mov %%cx, %%es", : "c"(0x1234) : "memory");
	check(fault_vec == 13 && fault_err == 0x1234 && fault_eip == at,
	      "#GP(selector) loading a selector past the GDT limit");
}

static void test_not_present(void)
{
	uint32_t at;

	FAULT(at, "mov %%cx, %%es", : "c"(SEL_NOT_PRESENT) : "memory");
	check(fault_vec == 11 && fault_err == SEL_NOT_PRESENT, "#NP(selector) for a not-present segment");
	FAULT(at, "mov %%ss, %%dx\n\tmov %%cx, %%ss\n\tmov %%dx, %%ss", : "c"(SEL_READ_ONLY) : "edx", "memory");
	check(fault_vec == 13 && fault_err == SEL_READ_ONLY,
	      "#GP(selector) loading SS with a read-only segment");
}

static void test_null_ss(void)
{
	uint32_t at;

	FAULT(at, "mov %%cx, %%ss", : "c"(0) : "memory");
	check(fault_vec == 13 && fault_err == 0, "#GP(0) loading SS with the null selector");
}

/* Ring 3: privileged instructions, gates with DPL 0, kernel segments. */
static volatile uint32_t user_results[4][2];

static void user_main(void)
{
	uint32_t at;

	FAULT(at, "cli", : : "memory");
	user_results[0][0] = fault_vec, user_results[0][1] = fault_err;
	FAULT(at, "int $0x40", : : "memory");
	user_results[1][0] = fault_vec, user_results[1][1] = fault_err;
	FAULT(at, "mov %%cx, %%ds", : "c"(SEL_DPL0_DATA) : "memory");
	user_results[2][0] = fault_vec, user_results[2][1] = fault_err;
	FAULT(at, "int3", : : "memory");
	user_results[3][0] = fault_vec, user_results[3][1] = fault_err;
	__asm__ volatile("int $0x80" :: "a"(0));
}

static void on_syscall(struct trap_frame *f)
{
	user_return();
}

static void test_user_faults(void)
{
	run_user(user_main, user_stack + sizeof(user_stack));
	check(user_results[0][0] == 13 && user_results[0][1] == 0, "#GP(0) for cli in ring 3");
	check(user_results[1][0] == 13 && user_results[1][1] == 0x40 * 8 + 2,
	      "#GP(vector*8+2) for int n through a DPL 0 gate from ring 3");
	check(user_results[2][0] == 13 && user_results[2][1] == SEL_DPL0_DATA,
	      "#GP(selector) loading a DPL 0 data segment in ring 3");
	check(user_results[3][0] == 13 && user_results[3][1] == 3 * 8 + 2,
	      "#GP for int3 through a DPL 0 gate from ring 3");
	check((fault_cs & 3) == 3, "the fault frame from ring 3 holds a ring 3 CS");
}

void guest_main(uint32_t magic, void *mbi)
{
	static const unsigned vectors[] = { 0, 3, 4, 6, 11, 12, 13, 0x40 };

	guest_init();
	gdt_set(6, 0, 0xfffff, 0x12, 0xc);	/* not present */
	gdt_set(7, 0, 0xfffff, 0x90, 0xc);	/* read-only data */
	for (unsigned i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++)
		set_handler(vectors[i], on_fault);
	allow_user_int(0x80);
	set_handler(0x80, on_syscall);
	test_divide();
	test_invalid_opcode();
	test_breakpoint();
	test_overflow();
	test_selector_past_gdt();
	test_not_present();
	test_null_ss();
	test_user_faults();
	finish();
}

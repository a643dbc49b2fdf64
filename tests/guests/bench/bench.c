/*
 * bench.c - the benchmark guest (bench/traps.sh): runs one operation n times
 * and powers off. The multiboot command line says which and how often,
 * e.g. "op=cli n=100000" (QEMU: -append, lilyvm: --append). The host times
 * whole runs with n=N and n=0; the difference over N is the cost of one
 * operation, whatever the VM's boot and power-off cost.
 *
 * Each loop body is the one instruction being measured (plus the loop's own
 * compare and branch: op=loop measures those alone), so that under lilyvm
 * one iteration is exactly one trap of that class, or two for the
 * round trips (int + iret).
 */
#include <stddef.h>

#include "../lib/guest.h"
#include "cpuwork.h"

#define MBI_CMDLINE (1u << 2)
#define VEC_NULL_SYSCALL VEC_SPARE1	/* ring 3 gate straight to an iret */
#define VEC_SOFTINT 0x30	/* ring 0 gate straight to an iret */
#define PORT_IN 0x61		/* PC control port B: a device read kernels do */
#define PORT_OUT 0x80		/* POST/delay port: the cheapest device write */

struct op {
	const char *name;
	void (*run)(uint32_t n);
};

void user_return(void);
void null_gate(void);

/*
 * The handler of the null gates: return at once. A real function symbol, so
 * that the rewriter disassembles it and turns its iret into a site.
 */
__asm__(".text\n"
	".globl null_gate\n"
	".type null_gate, @function\n"
	"null_gate:\n\t"
	"iret\n"
	".size null_gate, . - null_gate\n");

static volatile uint32_t user_n;
static uint8_t user_stack[4096] __attribute__((aligned(16)));
static struct cpuwork work;

/* --- the command line --- */

/* What follows prefix in s, or NULL if s does not start with it. */
/* --- descriptor tables, found through the (virtual) IDTR and GDTR --- */

static uint32_t read_eflags(void)
{
	uint32_t fl;

	__asm__ volatile("pushfl\n\tpopl %0" : "=r"(fl));
	return fl;
}

/* --- the operations --- */

static void op_loop(uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		__asm__ volatile("");
}

/* Ring 3: n null system calls, then the runtime's exit call. */
static void user_null_syscalls(void)
{
	for (uint32_t i = 0, n = user_n; i < n; i++)
		__asm__ volatile("int %0" :: "i"(VEC_NULL_SYSCALL) : "memory");
	__asm__ volatile("int $0x80" :: "a"(0));
}

/* Ring 3: n calls through the runtime's entry path (eax=1 returns at once). */
static void user_runtime_syscalls(void)
{
	for (uint32_t i = 0, n = user_n; i < n; i++)
		__asm__ volatile("int $0x80" :: "a"(1) : "memory");
	__asm__ volatile("int $0x80" :: "a"(0));
}

/* The runtime's vector 0x80: eax=0 leaves ring 3, anything else is a no-op. */
static void on_runtime_syscall(struct trap_frame *f)
{
	if (f->eax == 0)
		user_return();
}

static void op_syscall(uint32_t n)
{
	user_n = n;
	run_user(user_null_syscalls, user_stack + sizeof(user_stack));
}

static void op_syscall_c(uint32_t n)
{
	user_n = n;
	run_user(user_runtime_syscalls, user_stack + sizeof(user_stack));
}

static void op_softint(uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		__asm__ volatile("int %0" :: "i"(VEC_SOFTINT) : "memory");
}

static void op_cli(uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		__asm__ volatile("cli");
}

/* Every interrupt source is masked at the PIC, so IF=1 lets nothing in. */
static void op_sti(uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		__asm__ volatile("sti");
	__asm__ volatile("cli");
}

static void op_pushf(uint32_t n)
{
	uint32_t fl;

	for (uint32_t i = 0; i < n; i++)
		__asm__ volatile("pushfl\n\tpopl %0" : "=r"(fl));
}

static void op_popf(uint32_t n)
{
	uint32_t fl = read_eflags();

	for (uint32_t i = 0; i < n; i++)
		__asm__ volatile("pushl %0\n\tpopfl" :: "r"(fl) : "cc");
}

static void op_in(uint32_t n)
{
	uint8_t v;

	for (uint32_t i = 0; i < n; i++)
		__asm__ volatile("inb %1, %0" : "=a"(v) : "i"(PORT_IN));
}

static void op_out(uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		__asm__ volatile("outb %0, %1" :: "a"((uint8_t)0), "i"(PORT_OUT));
}

static void op_mov_to_seg(uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		__asm__ volatile("mov %0, %%ds" :: "r"((uint32_t)SEL_KDATA) : "memory");
}

static void op_mov_from_seg(uint32_t n)
{
	uint32_t sel;

	for (uint32_t i = 0; i < n; i++)
		__asm__ volatile("mov %%ds, %0" : "=r"(sel));
}

/* A same-ring iret to the next instruction; the frame is built with plain
 * pushes, since pushf and push %cs would be traps of their own. */
static void op_iret(uint32_t n)
{
	uint32_t fl = read_eflags();

	for (uint32_t i = 0; i < n; i++)
		__asm__ volatile("pushl %0\n\tpushl %1\n\tpushl $1f\n\tiret\n1:"
				 :: "r"(fl), "i"(SEL_KCODE) : "memory", "cc");
}

static void op_cpuid(uint32_t n)
{
	uint32_t a, b, c, d;

	for (uint32_t i = 0; i < n; i++)
		__asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0), "c"(0));
}

static void op_rdtsc(uint32_t n)
{
	uint32_t lo, hi;

	for (uint32_t i = 0; i < n; i++)
		__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
}

/* Reload the GDT the runtime loaded: what a kernel does on every CPU bring-up
 * and what makes the monitor re-shadow the descriptors. */
static void op_lgdt(uint32_t n)
{
	struct table_ptr gdtr;

	__asm__ volatile("sgdt %0" : "=m"(gdtr));
	for (uint32_t i = 0; i < n; i++)
		__asm__ volatile("lgdt %0" :: "m"(gdtr) : "memory");
}

static void op_cpu(uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		cpuwork_unit(&work);
	gprintf("bench: digest %x%x%x%x%x%x%x%x\n", work.state[0], work.state[1], work.state[2],
		work.state[3], work.state[4], work.state[5], work.state[6], work.state[7]);
}

static const struct op ops[] = {
	{ "loop", op_loop },	       { "syscall", op_syscall },
	{ "syscall-c", op_syscall_c }, { "softint", op_softint },
	{ "cli", op_cli },	       { "sti", op_sti },
	{ "pushf", op_pushf },	       { "popf", op_popf },
	{ "in", op_in },	       { "out", op_out },
	{ "mov-to-seg", op_mov_to_seg }, { "mov-from-seg", op_mov_from_seg },
	{ "iret", op_iret },	       { "cpuid", op_cpuid },
	{ "rdtsc", op_rdtsc },	       { "lgdt", op_lgdt },
	{ "cpu", op_cpu },
};

static const struct op *find_op(const char *name)
{
	for (unsigned i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (cmdline_word_is(name, ops[i].name))
			return &ops[i];
	return NULL;
}

/* Everything an operation may rely on, done before the timed part. */
static void setup(void)
{
	guest_init();
	pic_init(0);	/* every IRQ masked (again, to be sure): sti must let nothing in */
	set_raw_gate(VEC_NULL_SYSCALL, null_gate, 3);
	set_raw_gate(VEC_SOFTINT, null_gate, 0);
	set_handler(VEC_SYSCALL, on_runtime_syscall);
	allow_user_int(VEC_SYSCALL);
	cpuwork_init(&work);
}

void guest_main(uint32_t magic, void *mbi)
{
	const struct multiboot_info *info = mbi;
	const char *cmdline = info->flags & MBI_CMDLINE ? (const char *)info->cmdline : "";
	const char *name = cmdline_arg(cmdline, "op="), *count = cmdline_arg(cmdline, "n=");
	const struct op *op = name ? find_op(name) : NULL;
	uint32_t n = count ? parse_uint(count) : 0;

	setup();
	if (!op) {
		gprintf("bench: no such operation; command line: %s\n", cmdline);
		poweroff();
	}
	op->run(n);
	gprintf("bench: op=%s n=%u done\n", op->name, n);
	poweroff();
}

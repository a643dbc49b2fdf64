/*
 * iflag.c - the interrupt flag: cli, sti, pushf, popf and iret at ring 0
 * and ring 3, the one-instruction interrupt shadow after sti (and its
 * absence after popf and iret), interrupt and trap gates, and IOPL.
 *
 * The rewriter turns stretches of cli/sti/pushf/popf and register moves of
 * five bytes or more into jumps to trampolines (rewriter/sites.h); the
 * tests of test_trampolines() and the *_pv ring 3 code are written to be
 * such stretches, so that ring 0 runs the trampolines, ring 3 the monitor's
 * emulation of the same bytes, and a return into the jump's bytes resumes
 * the emulation.
 *
 * A pending interrupt is made deterministic by waiting, with IF clear, until
 * the PIC's IRR shows IRQ0 from the PIT; the handler records where it
 * interrupted and masks IRQ0 again, so each test sees exactly one delivery.
 */
#include "../lib/guest.h"

#define FL_ARITH 0x8d5u	/* CF PF AF ZF SF DF OF */
#define FL_IF 0x200u
#define FL_IOPL 0x3000u
#define FL_NT 0x4000u
#define FL_AC 0x40000u
#define FL_ID 0x200000u

void user_return(void);

static uint8_t user_stack[4096] __attribute__((aligned(16)));
static volatile unsigned irqs;
static volatile uint32_t irq_eip, irq_eflags;
static volatile uint32_t gate_eflags;

static uint32_t get_flags(void)
{
	uint32_t f;

	__asm__ volatile("pushf\n\tpop %0" : "=r"(f) :: "memory");
	return f;
}

static void set_flags(uint32_t f)
{
	__asm__ volatile("push %0\n\tpopf" :: "r"(f) : "cc", "memory");
}

/* IRQ0: note where it struck, then keep further ticks out until re-armed. */
static void on_timer(struct trap_frame *f)
{
	irqs++;
	irq_eip = f->eip;
	irq_eflags = f->eflags;
	pic_mask(0);
	pic_eoi(0);
}

/* With IF clear, unmask IRQ0 and wait until the PIC holds a request for it. */
static void make_pending(void)
{
	__asm__ volatile("cli" ::: "memory");
	irqs = 0;
	irq_eip = 0;
	pic_mask(1 << 0);
	while (!(pic_read(0) & 1))
		;
}

/* Linux's local_irq_save(): one run site for the rewriter. The value saved
 * is the flags before the cli; afterwards IF is clear; the stack is as it
 * was. Twice: from IF=1 and from IF=0. */
static void test_irq_save(void)
{
	uint32_t saved, esp0, esp1;

	__asm__ volatile("sti" ::: "memory");
	__asm__ volatile("mov %%esp, %1\n\tpushf\n\tpop %%ebx\n\tcli\n\tmov %%esp, %2\n\t"
			 "mov %%ebx, %0" : "=r"(saved), "=&r"(esp0), "=&r"(esp1) :: "ebx", "memory");
	check((saved & FL_IF) && !(get_flags() & FL_IF) && esp0 == esp1,
	      "pushf; pop %ebx; cli from IF=1: %ebx has IF, IF is clear, %esp unchanged");
	__asm__ volatile("pushf\n\tpop %%esi\n\tcli\n\tmov %%esi, %0" : "=r"(saved) :: "esi",
			 "memory");
	check(!(saved & FL_IF) && !(get_flags() & FL_IF) && (saved & 0x2),
	      "pushf; pop %esi; cli from IF=0: %esi has IF clear and bit 1 set");
}

static void test_cli_sti(void)
{
	__asm__ volatile("cli" ::: "memory");
	check(!(get_flags() & FL_IF), "pushf after cli shows IF=0");
	__asm__ volatile("sti" ::: "memory");
	check(get_flags() & FL_IF, "pushf after sti shows IF=1");
	__asm__ volatile("cli" ::: "memory");
	set_flags(get_flags() | FL_IF);
	check(get_flags() & FL_IF, "popf sets IF");
	set_flags(get_flags() & ~FL_IF);
	check(!(get_flags() & FL_IF), "popf clears IF");
	check((get_flags() & 0x802a) == 0x2, "pushf: bit 1 reads 1, bits 3, 5 and 15 read 0");
}

/* popf v, then pushf at once, before compiled code can touch the arithmetic flags. */
static uint32_t popf_pushf(uint32_t v)
{
	uint32_t seen;

	__asm__ volatile("push %1\n\tpopf\n\tpushf\n\tpop %0\n\tcld" : "=r"(seen) : "r"(v)
			 : "cc", "memory");
	return seen;
}

/* Arithmetic flags and DF (which the host runs natively) and the system bits. */
static void test_other_flags(void)
{
	uint32_t base = get_flags() & ~FL_ARITH, seen;

	check((popf_pushf(base | FL_ARITH) & FL_ARITH) == FL_ARITH &&
	      !(popf_pushf(base) & FL_ARITH), "popf sets and clears CF PF AF ZF SF DF OF");
	__asm__ volatile("pushf\n\torl $0x8d5, (%%esp)\n\tpush %%cs\n\tpush $1f\n\tiret\n1:\t"
			 "pushf\n\tpop %0\n\tcld" : "=r"(seen) :: "cc", "memory");
	check((seen & FL_ARITH) == FL_ARITH, "iret restores CF PF AF ZF SF DF OF");
	seen = popf_pushf(base | FL_AC | FL_ID | FL_NT);
	check((seen & (FL_AC | FL_ID | FL_NT)) == (FL_AC | FL_ID | FL_NT) &&
	      !(popf_pushf(base) & (FL_AC | FL_ID | FL_NT)), "popf sets and clears AC, ID and NT");
	__asm__ volatile("pushw %0\n\tpopfw" :: "r"((uint16_t)(base | FL_IF)) : "cc", "memory");
	seen = get_flags();
	__asm__ volatile("cli" ::: "memory");
	check(seen & FL_IF, "popfw (16-bit) sets IF too");
}

static void test_iret_if(void)
{
	__asm__ volatile("sti" ::: "memory");
	__asm__ volatile("pushf\n\tandl $~0x200, (%%esp)\n\tpush %%cs\n\tpush $1f\n\tiret\n1:"
			 ::: "memory");
	check(!(get_flags() & FL_IF), "iret restores IF=0 from the frame");
	__asm__ volatile("pushf\n\torl $0x200, (%%esp)\n\tpush %%cs\n\tpush $1f\n\tiret\n1:"
			 ::: "memory");
	check(get_flags() & FL_IF, "iret restores IF=1 from the frame");
	__asm__ volatile("cli" ::: "memory");
}

/* Hardware takes a pending interrupt only after the instruction after sti. */
static void test_sti_shadow(void)
{
	uint32_t after;

	make_pending();
	__asm__ volatile("sti\n\tcli" ::: "memory");
	check(irqs == 0, "sti; cli: no interrupt in the sti shadow");
	check(pic_read(0) & 1, "sti; cli: IRQ0 is still pending afterwards");
	__asm__ volatile("movl $1f, %0\n\tsti\n\tnop\n1:\tcli" : "=r"(after) :: "memory");
	check(irqs == 1 && irq_eip == after, "sti; nop: the pending IRQ arrives right after the nop");
	check(irq_eflags & FL_IF, "the interrupt frame holds IF=1");
	make_pending();
	__asm__ volatile("movl $1f, %0\n\tsti\n\thlt\n1:\tcli" : "=r"(after) :: "memory");
	check(irqs == 1 && irq_eip == after, "sti; hlt: the pending IRQ wakes hlt and returns after it");
}

/* popf and iret have no shadow: the interrupt comes before the next instruction. */
static void test_no_shadow(void)
{
	uint32_t at;

	make_pending();
	__asm__ volatile("movl $1f, %0\n\tpush %1\n\tpopf\n1:\tnop\n\tcli"
			 : "=&r"(at) : "r"(get_flags() | FL_IF) : "cc", "memory");
	check(irqs == 1 && irq_eip == at, "popf setting IF takes a pending IRQ at once");
	make_pending();
	__asm__ volatile("movl $1f, %0\n\tpushf\n\torl $0x200, (%%esp)\n\tpush %%cs\n\tpush $1f\n\t"
			 "iret\n1:\tnop\n\tcli" : "=&r"(at) :: "memory");
	check(irqs == 1 && irq_eip == at, "iret setting IF takes a pending IRQ at its target");
}

static void on_gate(struct trap_frame *f)
{
	gate_eflags = get_flags();
}

static void test_gates(void)
{
	__asm__ volatile("sti\n\tint %0\n\tcli" :: "i"(VEC_SPARE1) : "memory");
	check(!(gate_eflags & FL_IF), "an interrupt gate clears IF");
	__asm__ volatile("sti\n\tint %0\n\tcli" :: "i"(VEC_SPARE2) : "memory");
	check(gate_eflags & FL_IF, "a trap gate leaves IF set");
}

static void test_iopl_ring0(void)
{
	set_flags(get_flags() | FL_IOPL);
	check((get_flags() & FL_IOPL) == FL_IOPL, "popf at ring 0 sets IOPL 3");
	set_flags(get_flags() & ~FL_IOPL);
	check(!(get_flags() & FL_IOPL), "popf at ring 0 clears IOPL");
}

/*
 * The arithmetic flags of a + b as pushf shows them right after the add,
 * which is one trampoline site with it (the nop keeps the site from
 * growing forward instead).
 */
static uint32_t arith_pushf(uint32_t a, uint32_t b)
{
	uint32_t f;

	__asm__ volatile("add %2, %1\n\tpushf\n\tpop %0\n\tnop" : "=r"(f), "+a"(a) : "ri"(b) : "cc");
	return f & FL_ARITH;
}

/* Where the call in called_from_site() returned to, as the callee saw it. */
static volatile uint32_t callee_saw;

static __attribute__((noinline, used)) void note_return_address(void)
{
	callee_saw = (uint32_t)__builtin_return_address(0);
	__asm__ volatile("" ::: "memory");
}

/* cli, then a call that ends the trampoline site: the callee sees the original return address. */
static uint32_t called_from_site(void)
{
	uint32_t after;

	__asm__ volatile("push %%ebx\n\tpop %%ebx\n\tcli\n\tcall note_return_address\n1:\t"
			 "movl $1b, %0" : "=r"(after) :: "eax", "ecx", "edx", "memory");
	return after;
}

/* Linux's local_irq_restore(): sti only if the saved flags had IF. */
static void irqrestore(uint32_t flags)
{
	__asm__ volatile("test $0x200, %0\n\tje 1f\n\tsti\n1:\tnop" :: "r"(flags) : "cc", "memory");
}

/*
 * Trampolines: irqsave and irqrestore shapes, popf, and the exit they take
 * when sti meets a pending interrupt (delivered after the instruction that
 * follows the sti, as the shadow wants).
 */
static void test_trampolines(void)
{
	uint32_t saved, seen, after;

	__asm__ volatile("sti" ::: "memory");
	__asm__ volatile("push %%ebx\n\tpush %%ecx\n\tpushf\n\tpop %%eax\n\tcli\n\tpop %%ecx\n\t"
			 "pop %%ebx" : "=a"(saved) :: "memory");
	check((saved & FL_IF) && (saved & 0x2) && !(get_flags() & FL_IF),
	      "trampoline: irqsave from IF=1 saves IF, clears it");
	__asm__ volatile("push %%ebx\n\tpush %%ecx\n\tpush %1\n\tpopf\n\tpushf\n\tpop %0\n\t"
			 "pop %%ecx\n\tpop %%ebx" : "=a"(seen) : "r"(saved & ~FL_IF) : "cc", "memory");
	check(seen == (saved & ~FL_IF), "trampoline: popf then pushf gives the value back");
	__asm__ volatile("stc\n\tpush %%ebx\n\tpop %%ebx\n\tpushf\n\tpop %%eax\n\tcli\n\t"
			 "sbb %0, %0" : "=c"(seen) :: "eax", "cc", "memory");
	check(seen == ~0u, "trampoline: pushf and cli keep the host's carry");
	check(arith_pushf(0x7fffffff, 1) == 0x894 && arith_pushf(0, -1) == 0x84,
	      "trampoline: add's CF PF AF ZF SF OF reach pushf");
	__asm__ volatile("stc\n\tpushf\n\tpush %%cs\n\tpush $1f\n\tiret\n1:\tsbb %0, %0"
			 : "=r"(seen) :: "cc", "memory");
	check(seen == ~0u && !(get_flags() & FL_IF), "trampoline: sync_core's iret to itself "
	      "keeps the flags");
	__asm__ volatile("sti" ::: "memory");
	seen = called_from_site();
	check(callee_saw == seen && !(get_flags() & FL_IF), "trampoline: a call ending the site "
	      "returns where it would have");
	irqrestore(FL_IF);
	check(get_flags() & FL_IF, "trampoline: irqrestore of IF=1 (test, je, sti) sets IF");
	__asm__ volatile("cli" ::: "memory");
	irqrestore(0);
	check(!(get_flags() & FL_IF), "trampoline: irqrestore of IF=0 jumps over the sti");
	make_pending();
	__asm__ volatile("movl $1f, %0\n\tpush %%ebx\n\tpop %%ebx\n\tpush %%ecx\n\tpop %%ecx\n\t"
			 "sti\n\tnop\n1:\tcli" : "=d"(after) :: "memory");
	check(irqs == 1 && irq_eip == after, "trampoline: sti with an interrupt pending exits, "
	      "delivery after one more instruction");
	make_pending();
	__asm__ volatile("movl $1f, %0\n\tpush %%ebx\n\tpush %%ecx\n\tpush %1\n\tpopf\n1:\t"
			 "pop %%ecx\n\tpop %%ebx\n\tcli" : "=&d"(after) : "r"(saved | FL_IF)
			 : "cc", "memory");
	check(irqs == 1 && irq_eip == after, "trampoline: popf setting IF delivers what waits, "
	      "right after it");
}

/* What ring 3 saw: IF after popf tries to clear it, IOPL after popf tries to change it. */
static volatile uint32_t user_if_before, user_if_popf, user_iopl_popf, user_if_cli, user_if_sti,
	user_if_iret;

static void on_syscall(struct trap_frame *f)
{
	user_return();
}

static void leave_user(void)
{
	__asm__ volatile("int %0" :: "i"(VEC_SYSCALL), "a"(0));
}

static void user_iopl0(void)
{
	user_if_before = get_flags() & FL_IF;
	set_flags(get_flags() & ~FL_IF);
	user_if_popf = get_flags() & FL_IF;
	set_flags(get_flags() | FL_IOPL);
	user_iopl_popf = get_flags() & FL_IOPL;
	__asm__ volatile("pushf\n\tandl $~0x200, (%%esp)\n\tpush %%cs\n\tpush $1f\n\tiret\n1:"
			 ::: "memory");
	user_if_iret = get_flags() & FL_IF;
	leave_user();
}

static volatile uint32_t user_gp, user_pv_saved, user_pv_if, user_pv_arith, user_pv_restored,
	user_pv_call;

/* #GP from ring 3: count it and step over the one-byte instruction (cli). */
static void on_gp(struct trap_frame *f)
{
	user_gp++;
	f->eip++;
}

/* Trampoline-shaped code in ring 3 with IOPL 0: cli faults at the site's
 * start, and the handler returns into the jump's bytes. */
static void user_iopl0_pv(void)
{
	__asm__ volatile("cli\n\tpush %%ebx\n\tpop %%ebx\n\tpush %%ecx\n\tpop %%ecx" ::: "memory");
	user_pv_if = get_flags() & FL_IF;
	leave_user();
}

/* And with IOPL 3, where it works. */
static void user_iopl3_pv(void)
{
	uint32_t saved;

	__asm__ volatile("push %%ebx\n\tpush %%ecx\n\tpushf\n\tpop %%eax\n\tcli\n\tpop %%ecx\n\t"
			 "pop %%ebx" : "=a"(saved) :: "memory");
	user_pv_saved = saved;
	user_pv_if = get_flags() & FL_IF;
	user_pv_arith = arith_pushf(0x7fffffff, 1) << 16 | arith_pushf(0, -1);
	irqrestore(FL_IF);
	user_pv_restored = get_flags() & FL_IF;
	user_pv_call = called_from_site() == callee_saw && !(get_flags() & FL_IF);
	__asm__ volatile("sti" ::: "memory");
	__asm__ volatile("push %%ebx\n\tpop %%ebx\n\tpush %%ecx\n\tpop %%ecx\n\tsti" ::: "memory");
	leave_user();
}

static void user_iopl3(void)
{
	set_flags(get_flags() & ~FL_IF);
	user_if_popf = get_flags() & FL_IF;
	set_flags(get_flags() & ~FL_IOPL);
	user_iopl_popf = get_flags() & FL_IOPL;
	__asm__ volatile("sti" ::: "memory");
	user_if_sti = get_flags() & FL_IF;
	__asm__ volatile("cli" ::: "memory");
	user_if_cli = get_flags() & FL_IF;
	leave_user();
}

static void test_ring3(void)
{
	run_user(user_iopl0, user_stack + sizeof(user_stack));
	check(user_if_before, "ring 3 runs with IF=1");
	check(user_if_popf, "popf at ring 3 with IOPL 0 leaves IF set");
	check(!user_iopl_popf, "popf at ring 3 cannot raise IOPL");
	check(user_if_iret, "iret at ring 3 with IOPL 0 leaves IF set");

	set_flags(get_flags() | FL_IOPL);
	run_user(user_iopl3, user_stack + sizeof(user_stack));
	set_flags(get_flags() & ~FL_IOPL);
	check(!user_if_popf, "popf at ring 3 with IOPL 3 clears IF");
	check(user_iopl_popf == FL_IOPL, "popf at ring 3 cannot lower IOPL");
	check(user_if_sti && !user_if_cli, "sti and cli work at ring 3 with IOPL 3");

	set_handler(13, on_gp);
	run_user(user_iopl0_pv, user_stack + sizeof(user_stack));
	check(user_gp == 1 && user_pv_if, "ring 3, IOPL 0: a trampoline's cli is #GP, "
	      "and the rest runs after it");
	set_flags(get_flags() | FL_IOPL);
	run_user(user_iopl3_pv, user_stack + sizeof(user_stack));
	set_flags(get_flags() & ~FL_IOPL);
	check((user_pv_saved & FL_IF) && !user_pv_if, "ring 3, IOPL 3: a trampoline's irqsave works");
	check(user_pv_arith == (0x894u << 16 | 0x84), "ring 3: the emulated add sets the flags pushf shows");
	check(user_pv_restored, "ring 3, IOPL 3: irqrestore (test, je, sti) emulated sets IF");
	check(user_pv_call, "ring 3, IOPL 3: the emulated call ending a site returns where it should");
}

void guest_main(uint32_t magic, void *mbi)
{
	guest_init();
	pit_init(1000);
	set_handler(VEC_IRQ0, on_timer);
	set_handler(VEC_SPARE1, on_gate);
	set_handler(VEC_SPARE2, on_gate);
	set_trap_gate(VEC_SPARE2);
	set_handler(VEC_SYSCALL, on_syscall);
	allow_user_int(VEC_SYSCALL);
	test_cli_sti();
	test_irq_save();
	test_other_flags();
	test_iret_if();
	test_sti_shadow();
	test_no_shadow();
	test_gates();
	test_iopl_ring0();
	test_trampolines();
	test_ring3();
	finish();
}

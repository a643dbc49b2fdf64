/*
 * descriptors.c - what lar, lsl, verr, verw and arpl report about code,
 * data, system, gate, null, DPL 0 and DPL 3 selectors, at ring 0 and ring 3;
 * and segment pushes, loads and pops in a row, as kernel entry code has
 * them, including a load that faults (#NP) and is restarted by the handler.
 *
 * Segment limits are not enforced for ordinary accesses under lilyvm, so
 * this guest tests only what these instructions show. lar is asked only
 * about descriptors no segment register ever loaded: QEMU does not set the
 * accessed bit when a far jump loads CS, real CPUs and lilyvm do.
 */
#include "../lib/guest.h"

#define SEL_DATA3 0x30		/* DPL 3 writable data, byte granular, limit 0x1234 */
#define SEL_RODATA3 0x38	/* DPL 3 read-only data, page granular */
#define SEL_XCODE0 0x40		/* DPL 0 execute-only code */
#define SEL_CONFORM0 0x48	/* DPL 0 readable conforming code */
#define SEL_XCODE3 0x50		/* DPL 3 execute-only code */
#define SEL_LDT 0x58		/* the LDT below */
#define SEL_CALLGATE3 0x60	/* a DPL 3 32-bit call gate */
#define SEL_INTGATE 0x68	/* an interrupt gate, which has no place in a GDT */
#define SEL_ABSENT0 0x70	/* DPL 0 writable data, not present */
#define SEL_FREE_TSS 0x78	/* an available 32-bit TSS, limit 0x67 */
#define SEL_PAST_GDT 0x80
#define SEL_LDT_DATA3 0x0f	/* LDT entry 1, RPL 3 */
#define SEL_PAST_LDT 0x24
#define UNTOUCHED 0xdeadbeef	/* lar and lsl leave the destination alone on failure */

enum op { LAR, LSL, VERR, VERW };

struct probe {
	enum op op;
	uint16_t sel;
	int valid;		/* ZF expected */
	uint32_t value;		/* what lar or lsl loads when valid */
	const char *name;
};

struct outcome {
	uint8_t zf;
	uint32_t value;
};

static const struct probe ring0_probes[] = {
	{ LAR, SEL_DATA3, 1, 0x0040f200, "lar: DPL 3 writable data, byte granular" },
	{ LAR, SEL_RODATA3, 1, 0x00c0f000, "lar: DPL 3 read-only data, page granular" },
	{ LAR, SEL_XCODE0, 1, 0x00c09800, "lar: DPL 0 execute-only code" },
	{ LAR, SEL_CONFORM0 | 3, 1, 0x00c09e00, "lar: conforming code, whatever the RPL" },
	{ LAR, SEL_XCODE0 | 3, 0, 0, "lar: RPL 3 on a DPL 0 segment fails" },
	{ LAR, SEL_LDT, 1, 0x00008200, "lar: LDT descriptor" },
	{ LAR, SEL_CALLGATE3, 1, 0x0000ec00, "lar: call gate" },
	{ LAR, SEL_INTGATE, 0, 0, "lar: an interrupt gate is not valid" },
	{ LAR, SEL_ABSENT0, 1, 0x00c01200, "lar: a not-present segment, P clear" },
	{ LAR, SEL_FREE_TSS, 1, 0x00008900, "lar: available TSS" },
	{ LAR, SEL_TSS, 1, 0x00008b00, "lar: ltr left the TSS busy" },
	{ LAR, 0, 0, 0, "lar: null selector fails" },
	{ LAR, SEL_PAST_GDT, 0, 0, "lar: selector past the GDT limit fails" },
	{ LAR, SEL_LDT_DATA3, 1, 0x00c0f200, "lar: DPL 3 data in the LDT" },
	{ LAR, SEL_PAST_LDT, 0, 0, "lar: selector past the LDT limit fails" },
	{ LSL, SEL_KCODE, 1, 0xffffffff, "lsl: flat code, page granular" },
	{ LSL, SEL_DATA3, 1, 0x1234, "lsl: byte-granular data" },
	{ LSL, SEL_LDT, 1, 0x1f, "lsl: LDT descriptor" },
	{ LSL, SEL_FREE_TSS, 1, 0x67, "lsl: available TSS" },
	{ LSL, SEL_TSS, 1, 103, "lsl: busy TSS" },
	{ LSL, SEL_CALLGATE3, 0, 0, "lsl: a call gate has no limit" },
	{ LSL, 0, 0, 0, "lsl: null selector fails" },
	{ VERR, SEL_KDATA, 1, 0, "verr: DPL 0 data" },
	{ VERW, SEL_KDATA, 1, 0, "verw: DPL 0 writable data" },
	{ VERW, SEL_KDATA | 3, 0, 0, "verw: RPL 3 on DPL 0 data fails" },
	{ VERR, SEL_KCODE, 1, 0, "verr: readable code" },
	{ VERW, SEL_KCODE, 0, 0, "verw: code is never writable" },
	{ VERR, SEL_RODATA3, 1, 0, "verr: read-only data" },
	{ VERW, SEL_RODATA3, 0, 0, "verw: read-only data fails" },
	{ VERR, SEL_XCODE0, 0, 0, "verr: execute-only code fails" },
	{ VERR, SEL_LDT, 0, 0, "verr: system descriptor fails" },
	{ VERR, SEL_ABSENT0, 1, 0, "verr: the present bit is not checked" },
	{ VERR, 0, 0, 0, "verr: null selector fails" },
	{ VERW, SEL_LDT_DATA3, 1, 0, "verw: writable data in the LDT" },
};

/* After lldt with the null selector. */
static const struct probe no_ldt_probes[] = {
	{ LAR, SEL_LDT_DATA3, 0, 0, "lar: LDT selector fails once lldt loaded null" },
	{ VERR, SEL_LDT_DATA3, 0, 0, "verr: LDT selector fails once lldt loaded null" },
};

static const struct probe ring3_probes[] = {
	{ LAR, SEL_KDATA, 0, 0, "ring 3 lar: DPL 0 data is hidden" },
	{ LAR, SEL_DATA3, 1, 0x0040f200, "ring 3 lar: DPL 3 data" },
	{ LAR, SEL_CONFORM0, 1, 0x00c09e00, "ring 3 lar: DPL 0 conforming code is visible" },
	{ LAR, SEL_XCODE0, 0, 0, "ring 3 lar: DPL 0 code is hidden" },
	{ LAR, SEL_TSS, 0, 0, "ring 3 lar: the DPL 0 TSS is hidden" },
	{ LAR, SEL_CALLGATE3, 1, 0x0000ec00, "ring 3 lar: DPL 3 call gate" },
	{ LSL, SEL_UCODE, 1, 0xffffffff, "ring 3 lsl: user code" },
	{ LSL, SEL_DATA3 | 3, 1, 0x1234, "ring 3 lsl: DPL 3 data" },
	{ LSL, SEL_KDATA, 0, 0, "ring 3 lsl: DPL 0 data is hidden" },
	{ VERR, SEL_RODATA3, 1, 0, "ring 3 verr: DPL 3 read-only data" },
	{ VERW, SEL_RODATA3, 0, 0, "ring 3 verw: DPL 3 read-only data fails" },
	{ VERW, SEL_UDATA, 1, 0, "ring 3 verw: DPL 3 writable data" },
	{ VERW, SEL_KDATA, 0, 0, "ring 3 verw: DPL 0 data fails" },
	{ VERR, SEL_KCODE, 0, 0, "ring 3 verr: DPL 0 code fails" },
	{ VERR, SEL_CONFORM0, 1, 0, "ring 3 verr: readable conforming code" },
	{ VERR, SEL_XCODE3, 0, 0, "ring 3 verr: execute-only user code fails" },
	{ LSL, SEL_LDT_DATA3, 1, 0xffffffff, "ring 3 lsl: DPL 3 data in the LDT" },
};

#define N_RING3 (sizeof(ring3_probes) / sizeof(ring3_probes[0]))

void user_return(void);

static uint8_t user_stack[4096] __attribute__((aligned(16)));
static struct outcome ring3_outcomes[N_RING3];
static const uint64_t ldt[4] = {
	[1] = 0x00cff2000000ffffull,	/* flat DPL 3 writable data */
};

static struct outcome run_probe(enum op op, uint32_t sel)
{
	struct outcome o = { 0, UNTOUCHED };

	switch (op) {
	case LAR:
		__asm__ volatile("lar %2, %0\n\tsetz %1" : "+r"(o.value), "=q"(o.zf) : "r"(sel) : "cc");
		break;
	case LSL:
		__asm__ volatile("lsl %2, %0\n\tsetz %1" : "+r"(o.value), "=q"(o.zf) : "r"(sel) : "cc");
		break;
	case VERR:
		__asm__ volatile("verr %w1\n\tsetz %0" : "=q"(o.zf) : "r"(sel) : "cc");
		break;
	case VERW:
		__asm__ volatile("verw %w1\n\tsetz %0" : "=q"(o.zf) : "r"(sel) : "cc");
		break;
	}
	return o;
}

static int as_expected(const struct probe *p, struct outcome o)
{
	if (p->op == VERR || p->op == VERW)
		return o.zf == p->valid;
	return p->valid ? o.zf && o.value == p->value : !o.zf && o.value == UNTOUCHED;
}

static void run_ring0(const struct probe *p, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		check(as_expected(&p[i], run_probe(p[i].op, p[i].sel)), p[i].name);
}

/* arpl dst, src: dst's RPL becomes src's if lower, with ZF set. */
static int arpl(uint16_t dst, uint16_t src, uint16_t *out)
{
	uint8_t zf;

	__asm__ volatile("arpl %w2, %w0\n\tsetz %1" : "+r"(dst), "=q"(zf) : "r"(src) : "cc");
	*out = dst;
	return zf;
}

static int arpl_mem(uint16_t *dst, uint16_t src)
{
	uint8_t zf;

	__asm__ volatile("arpl %w2, %0\n\tsetz %1" : "+m"(*dst), "=q"(zf) : "r"(src) : "cc");
	return zf;
}

/* The three arpl cases, as one bit each, so that ring 3 can report them too. */
static unsigned arpl_cases(void)
{
	uint16_t r, m = SEL_KDATA;
	unsigned ok = 0;

	ok |= (arpl(SEL_KDATA, SEL_UCODE, &r) && r == (SEL_KDATA | 3)) << 0;
	ok |= (!arpl(SEL_KDATA | 3, SEL_KCODE, &r) && r == (SEL_KDATA | 3)) << 1;
	ok |= (arpl_mem(&m, SEL_UDATA) && m == (SEL_KDATA | 3)) << 2;
	return ok;
}

static void report_arpl(unsigned ok, const char *ring)
{
	gprintf("# arpl at %s\n", ring);
	check(ok & 1, "arpl raises a lower RPL to the source's and sets ZF");
	check(ok & 2, "arpl leaves a higher RPL alone and clears ZF");
	check(ok & 4, "arpl on a memory operand");
}

static volatile unsigned user_arpl;

static void on_syscall(struct trap_frame *f)
{
	user_return();
}

static void user_main(void)
{
	for (unsigned i = 0; i < N_RING3; i++)
		ring3_outcomes[i] = run_probe(ring3_probes[i].op, ring3_probes[i].sel);
	user_arpl = arpl_cases();
	__asm__ volatile("int %0" :: "i"(VEC_SYSCALL), "a"(0));
}

static void test_ring3(void)
{
	run_user(user_main, user_stack + sizeof(user_stack));
	for (unsigned i = 0; i < N_RING3; i++)
		check(as_expected(&ring3_probes[i], ring3_outcomes[i]), ring3_probes[i].name);
	report_arpl(user_arpl, "ring 3");
}

static void make_descriptors(void)
{
	gdt_set(SEL_DATA3 >> 3, 0x1000, 0x1234, 0xf2, 0x4);
	gdt_set(SEL_RODATA3 >> 3, 0, 0xfffff, 0xf0, 0xc);
	gdt_set(SEL_XCODE0 >> 3, 0, 0xfffff, 0x98, 0xc);
	gdt_set(SEL_CONFORM0 >> 3, 0, 0xfffff, 0x9e, 0xc);
	gdt_set(SEL_XCODE3 >> 3, 0, 0xfffff, 0xf8, 0xc);
	gdt_set(SEL_LDT >> 3, (uint32_t)ldt, sizeof(ldt) - 1, 0x82, 0);
	gdt_set(SEL_CALLGATE3 >> 3, 0, 0, 0xec, 0);
	gdt_set(SEL_INTGATE >> 3, 0, 0, 0x8e, 0);
	gdt_set(SEL_ABSENT0 >> 3, 0, 0xfffff, 0x12, 0xc);
	gdt_set(SEL_FREE_TSS >> 3, 0x3000, 0x67, 0x89, 0);
}

static volatile unsigned np_faults;
static volatile uint32_t np_error;

/* #NP: make the absent segment present; iret restarts the load. */
static void on_not_present(struct trap_frame *f)
{
	np_faults++;
	np_error = f->error;
	gdt_set(SEL_ABSENT0 >> 3, 0, 0xfffff, 0x92, 0xc);
}

/*
 * The rewriter makes one run site of what an entry path does (push %fs,
 * %es, %ds; mov $SEL, %edx; mov %edx, %ds; mov %edx, %es) and another of
 * the pops; under lilyvm the #NP of the first load returns into the middle
 * of the run, which the monitor must finish.
 */
static void test_segment_runs(void)
{
	uint16_t ds_in, es_in, fs_after, ds_after, fs_before;
	uint32_t esp0, esp1;

	set_handler(11, on_not_present);
	__asm__ volatile("mov %%fs, %0" : "=m"(fs_before));
	__asm__ volatile("mov %%esp, %2\n\t"
			 "push %%fs\n\tpush %%es\n\tpush %%ds\n\t"
			 "mov %6, %%edx\n\tmov %%edx, %%ds\n\tmov %%edx, %%es\n\t"
			 "mov %%ds, %0\n\tmov %%es, %1\n\t"
			 "pop %%ds\n\tpop %%es\n\tpop %%fs\n\t"
			 "mov %%esp, %3\n\tmov %%fs, %4\n\tmov %%ds, %5"
			 : "=m"(ds_in), "=m"(es_in), "=m"(esp0), "=m"(esp1), "=m"(fs_after),
			   "=m"(ds_after)
			 : "i"(SEL_ABSENT0) : "edx", "memory");
	check(np_faults == 1 && np_error == SEL_ABSENT0,
	      "segment run: loading an absent segment raises #NP once, error code its selector");
	check(ds_in == SEL_ABSENT0 && es_in == SEL_ABSENT0,
	      "segment run: the restarted load and the next one take the new segment");
	check(esp0 == esp1 && ds_after == SEL_KDATA && fs_after == fs_before,
	      "segment run: the pops restore %ds and %fs and the stack");
	gdt_set(SEL_ABSENT0 >> 3, 0, 0xfffff, 0x12, 0xc);
}

void guest_main(uint32_t magic, void *mbi)
{
	guest_init();
	make_descriptors();
	set_handler(VEC_SYSCALL, on_syscall);
	allow_user_int(VEC_SYSCALL);
	__asm__ volatile("lldt %w0" :: "r"(SEL_LDT));
	run_ring0(ring0_probes, sizeof(ring0_probes) / sizeof(ring0_probes[0]));
	report_arpl(arpl_cases(), "ring 0");
	test_ring3();
	__asm__ volatile("lldt %w0" :: "r"(0));
	run_ring0(no_ldt_probes, sizeof(no_ldt_probes) / sizeof(no_ldt_probes[0]));
	test_segment_runs();
	finish();
}

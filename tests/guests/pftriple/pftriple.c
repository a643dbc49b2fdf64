/*
 * pftriple.c - faults while a page fault is being delivered. The mode comes
 * from the command line ("mode=df", "mode=triple" or "mode=cr3"); the guest
 * prints what it does and, in mode df, its checks (pftriple.sh runs it
 * under QEMU and lilyvm and compares):
 *
 *   df      Ring 3 reads a non-present page. The #PF handler is a ring 0
 *           gate, so the CPU switches to TSS.esp0, and that stack's page is
 *           not present: pushing the #PF frame page-faults, which makes a
 *           double fault. The #DF gate leads to ring 1 code whose stack
 *           (TSS.ss1:esp1) is present, so the #DF is delivered; its handler
 *           gives ring 0 a good stack and reports through int 0x81.
 *   triple  The same, with the #DF handler's stack page and code page not
 *           present either: the #DF cannot be pushed, a triple fault.
 *   cr3     Paging on, CR3 loaded with a frame beyond RAM (no global pages):
 *           every walk reads "not present", the next instruction fetch
 *           faults, and neither the #PF nor the #DF can be delivered (the
 *           IDT is behind the walk too): a triple fault.
 *
 * A guest that goes on after a triple fault prints "still running".
 */
#include "../lib/paging.h"

#define SEL_R1CODE 0x31		/* GDT 6, RPL 1: flat ring 1 code */
#define SEL_R1DATA 0x39		/* GDT 7, RPL 1: flat ring 1 data, the #DF stack */
#define VEC_DF 8u
#define VEC_REPORT VEC_SPARE1	/* the #DF handler's way back to ring 0 */
#define NOT_PRESENT_VA 0x50000123u	/* what ring 3 reads */
#define WILD_CR3 0x20000000u	/* 512 MiB: neither RAM nor a device under QEMU's 128 MiB pc */
#define MBI_CMDLINE (1u << 2)

enum { MODE_DF, MODE_TRIPLE, MODE_CR3 };

static int mode;
static uint32_t *pd, *pf_stack, *df_stack;
static uint8_t report_stack[4096] __attribute__((aligned(16)));
static volatile uint32_t df_frame[6], df_esp;
static volatile int df_seen;

void df_entry(void);
void on_double_fault(uint32_t *frame);

/*
 * The #DF entry, alone in its page so that mode triple can unmap it. It
 * runs in ring 1 on TSS.esp1 with the frame err, eip, cs, eflags, esp, ss.
 */
__asm__(".section .text.df, \"ax\"\n"
	".balign 4096\n"
	".globl df_entry\n"
	"df_entry:\n\t"
	"push %esp\n\t"
	"call on_double_fault\n"
	"1:\tjmp 1b\n"
	".balign 4096\n"
	".text");

/* Ring 1: note what the CPU pushed, give ring 0 a stack that exists, and report from there. */
void on_double_fault(uint32_t *frame)
{
	for (unsigned i = 0; i < 6; i++)
		df_frame[i] = frame[i];
	df_esp = (uint32_t)frame;
	df_seen = 1;
	set_kernel_stack(report_stack + sizeof(report_stack));
	__asm__ volatile("int %0" :: "i"(VEC_REPORT) : "memory");
	for (;;)
		;
}

static int same_page(uint32_t a, const void *page)
{
	return (a & PG_FRAME) == (uint32_t)page;
}

/* Ring 0, through int 0x81 from the ring 1 #DF handler. */
static void on_report(struct trap_frame *f)
{
	uint32_t cr2 = read_cr2();

	if (mode != MODE_DF) {
		gprintf("pftriple: still running, which hardware would not be\n");
		poweroff();
	}
	check(df_seen, "the #PF frame could not be pushed on its handler's stack: #DF delivered");
	check(df_frame[0] == 0, "the #DF error code is 0");
	check((f->cs & 3) == 1, "the #DF handler ran in ring 1");
	check(f->user_ss == SEL_R1DATA && same_page(df_esp, df_stack),
	      "the #DF handler ran on ring 1's stack (TSS.ss1:esp1)");
	check(df_frame[5] == SEL_UDATA, "the #DF frame holds ring 3's SS (the stack switch it made)");
	check(pg_fault.vector == PG_NO_FAULT, "the #PF handler never ran");
	check(same_page(cr2, pf_stack), "CR2 names the #PF handler's stack page (the failed push)");
	finish();
}

static void set_mode(const void *mbi)
{
	const struct multiboot_info *info = mbi;
	const char *s = info->flags & MBI_CMDLINE ? (const char *)info->cmdline : "";

	mode = MODE_DF;
	for (; *s; s++) {
		if (s[0] == 'm' && s[1] == 'o' && s[2] == 'd' && s[3] == 'e' && s[4] == '=') {
			if (s[5] == 't')
				mode = MODE_TRIPLE;
			else if (s[5] == 'c')
				mode = MODE_CR3;
			break;
		}
	}
}

/* Ring 1 segments, the TSS's ring 1 stack, and the #DF gate to ring 1. */
static void route_df_to_ring1(void)
{
	struct table_ptr gdtr, idtr;
	uint64_t tss_desc;
	uint32_t tss, handler = (uint32_t)df_entry;
	struct gate *idt;

	gdt_set(6, 0, 0xfffff, 0xba, 0xc);	/* present, DPL 1, code, readable */
	gdt_set(7, 0, 0xfffff, 0xb2, 0xc);	/* present, DPL 1, data, writable */
	__asm__ volatile("sgdt %0" : "=m"(gdtr));
	tss_desc = ((volatile uint64_t *)gdtr.base)[SEL_TSS / 8];
	tss = (uint32_t)((tss_desc >> 16) & 0xffffff) | (uint32_t)(tss_desc >> 56) << 24;
	((volatile uint32_t *)tss)[3] = (uint32_t)df_stack + PAGE;	/* esp1 */
	((volatile uint32_t *)tss)[4] = SEL_R1DATA;			/* ss1 */
	__asm__ volatile("sidt %0" : "=m"(idtr));
	idt = (struct gate *)idtr.base;
	idt[VEC_DF] = (struct gate){ handler & 0xffff, SEL_R1CODE, 0, 0x8e, handler >> 16 };
}

static void unmap(uint32_t va)
{
	*pg_pte(pd, va) = 0;
	invlpg(va);
}

void guest_main(uint32_t magic, void *mbi)
{
	uint32_t v;

	guest_init();
	pg_init();
	set_mode(mbi);
	set_handler(VEC_REPORT, on_report);
	allow_user_int(VEC_REPORT);
	pd = pg_new_directory();
	pf_stack = pg_alloc();
	df_stack = pg_alloc();
	pg_enable(pd);

	if (mode == MODE_CR3) {
		gprintf("pftriple: cr3: paging on, loading CR3 with 0x%x, beyond RAM\n", WILD_CR3);
		write_cr3(WILD_CR3);
		gprintf("pftriple: still running, which hardware would not be\n");
		poweroff();
	}
	route_df_to_ring1();
	unmap((uint32_t)pf_stack);
	set_kernel_stack(pf_stack + PAGE / 4);
	if (mode == MODE_TRIPLE) {
		unmap((uint32_t)df_stack);
		unmap((uint32_t)df_entry);
		gprintf("pftriple: triple: the #PF handler's stack, the #DF handler's stack and code "
			"are not present; ring 3 reads 0x%x\n", NOT_PRESENT_VA);
	} else {
		gprintf("pftriple: df: the #PF handler's stack is not present; ring 3 reads 0x%x\n",
			NOT_PRESENT_VA);
	}
	pg_load(3, NOT_PRESENT_VA, &v);
	gprintf("pftriple: still running, which hardware would not be\n");
	poweroff();
}

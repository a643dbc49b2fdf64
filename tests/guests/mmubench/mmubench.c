/*
 * mmubench.c - the paging benchmark guest (bench/mmu.sh): runs n events of
 * one kind with paging on, then powers off. The multiboot command line says
 * which and how many, e.g. "op=touch n=100000". The host times whole runs
 * with n=N and n=0; the difference over N is the cost of one event, free of
 * the boot, the page-table set-up below and the power-off.
 *
 * Set-up (every op, timed in n=0 too): a page directory that identity-maps
 * [0x10000, 36 MiB) as kernel pages (supervisor, RW) - the image at 1 MiB and
 * a pool of 8192 frames at [4 MiB, 36 MiB) - except the page(s) of ring-3
 * code and of the ring-3 data/stack, which are user pages; then CR0.PG. Every
 * address space made later shares those kernel page tables. No large pages,
 * no global pages, CR0.WP off. Faults reach a bare #PF gate (pf_entry: no
 * segment reloads) that reads CR2 and calls pf_handle().
 *
 * Ops (one event each; bench/README.md states their costs):
 *   touch     ring 3 stores to the next page of a 16 MiB window (4096 pages):
 *             a not-present #PF; the handler maps a pool frame (P|RW|U, no
 *             zeroing, no invlpg: not-present entries are never cached) and
 *             returns; the store is retried. When the window is used up,
 *             ring 3 asks (int $0x80) the kernel to check every page's value,
 *             free the frames, clear the PTEs and reload CR3.
 *   cow       ring 3 stores to the next page of a 4 MiB window (1024 pages)
 *             all mapped read-only to one shared frame: a protection #PF; the
 *             handler copies the 4 KiB frame to a pool frame, maps that RW,
 *             invlpg, returns; the store is retried. When the window is used
 *             up, one int $0x80: check, free, every PTE back to the shared
 *             frame read-only, one CR3 reload (1/1024 of it per event).
 *   switchK   (K = 2, 8, 64) ring 0: mov to CR3 of the next of K directories,
 *             round robin, then a ring-0 load of the word at 0x60000000,
 *             which differs per space and is checked on every event.
 *   switch8-user  ring 3 int $0x81 to a bare gate that loads CR3 of the next
 *             of 8 directories and reads the word at 0x60000000 in ring 0,
 *             iret; ring 3 loads the same word and compares.
 *   fork      a micro fork + exit: a new directory (zeroed, kernel PDEs
 *             copied), a new page table whose 16 PTEs copy the parent's,
 *             read-only in both (frame reference counts), CR3 to the child,
 *             ring 3 (run_user) stores to one page (a COW #PF: 4 KiB copy,
 *             PTE RW, invlpg), exits (int $0x80), CR3 back to the parent,
 *             check, free the child's copy, page table and directory.
 *
 * Prints "mmubench: not ok - ..." and powers off without the "done" line
 * when anything does not add up.
 */
#include <stddef.h>

#include "../lib/guest.h"

#define MBI_CMDLINE (1u << 2)
#define VEC_PF 14
#define VEC_SWITCH VEC_SPARE1	/* ring 3 gate of switch8-user */

#define PG_P 0x1u
#define PG_RW 0x2u
#define PG_U 0x4u
#define PAGE 4096u
#define PF_PRESENT 0x1u		/* #PF error code bits */
#define PF_WRITE 0x2u
#define PF_USER 0x4u

/* Physical memory: the image at 1 MiB, the frame pool above it. */
#define LOW_MAPPED 0x10000u	/* lilyvm cannot map lower */
#define POOL_BASE 0x400000u
#define POOL_FRAMES 8192u
#define KERNEL_END (POOL_BASE + POOL_FRAMES * PAGE)	/* 36 MiB, identity mapped */
#define KERNEL_PDES (KERNEL_END >> 22)

/* The user windows (numbers without suffixes: the ring-3 code uses them too). */
#define TOUCH_BASE 0x40000000
#define TOUCH_PAGES 4096
#define COW_BASE 0x50000000
#define COW_PAGES 1024
#define SWITCH_VA 0x60000000
#define SWITCH_MAGIC 0x5a5a0000
#define MAX_SPACES 64
#define FORK_BASE 0x70000000
#define FORK_PAGES 16

/* int $0x80 calls from ring 3 (eax) */
#define SYS_EXIT 0
#define SYS_TOUCH_RECYCLE 2
#define SYS_COW_REARM 3
#define SYS_MISMATCH 4

#define COW_PAT(w) (0xc0c00000u + (w))
#define FORK_PAT(p, w) (0xf0000000u | (uint32_t)(p) << 16 | (w))

#define STR(x) #x
#define XSTR(x) STR(x)

struct pf_frame {
	uint32_t edx, ecx, eax, error, eip, cs, eflags;
};

void user_return(void);
void pf_entry(void);
void switch_gate(void);
void user_touch(void);
void user_cow(void);
void user_switch(void);
void user_fork_child(void);
extern uint8_t user_text_start[], user_text_end[];

/* Shared with the asm below. */
uint32_t sw_pd[MAX_SPACES];	/* physical addresses of the switch directories */
uint32_t sw_cur, sw_mask, sw_errors;
/* Ring 3's data: [0] n, [1] the fork child's address, [2] its value. A user page. */
volatile uint32_t uparam[1024] __attribute__((aligned(4096)));
static uint8_t ustack[2 * PAGE] __attribute__((aligned(4096)));

/* The boot space: directory, kernel page tables, the windows' page tables. */
static uint32_t pd0[1024] __attribute__((aligned(4096)));
static uint32_t kpt[KERNEL_PDES][1024] __attribute__((aligned(4096)));
static uint32_t touch_pt[TOUCH_PAGES] __attribute__((aligned(4096)));
static uint32_t cow_pt[COW_PAGES] __attribute__((aligned(4096)));
static uint32_t fork_pt[1024] __attribute__((aligned(4096)));

static uint32_t free_frames[POOL_FRAMES];
static uint32_t nfree;
static uint16_t refcnt[POOL_FRAMES];

static enum { PF_NONE, PF_TOUCH, PF_COW, PF_FORK } pf_mode;
static uint32_t faults, copies;
static uint32_t window_base, window_used;	/* touch, cow: first event of the window, events in it */
static uint32_t cow_shared;			/* cow: the read-only frame */
static uint32_t *child_pt;			/* fork: the child's page table */
static char cmdline[256];

/* --- ring 3 code: its own pages, mapped user; plain mov loads and stores --- */
__asm__(".section .text.user, \"ax\", @progbits\n"
	".balign 4096\n"
	".globl user_text_start\n"
	"user_text_start:\n"

	/* touch: store i to page i mod 4096 of the window */
	".globl user_touch\n.type user_touch, @function\n"
	"user_touch:\n\t"
	"mov uparam, %esi\n\t"
	"xor %ebx, %ebx\n\t"
	"mov $" XSTR(TOUCH_BASE) ", %edx\n\t"
	"test %esi, %esi\n\t"
	"jz 3f\n"
	"1:\n\t"
	"mov %ebx, (%edx)\n\t"		/* first touch: #PF, then the retry */
	"inc %ebx\n\t"
	"add $4096, %edx\n\t"
	"cmp $(" XSTR(TOUCH_BASE) " + " XSTR(TOUCH_PAGES) " * 4096), %edx\n\t"
	"jne 2f\n\t"
	"mov $" XSTR(SYS_TOUCH_RECYCLE) ", %eax\n\t"
	"int $0x80\n\t"
	"mov $" XSTR(TOUCH_BASE) ", %edx\n"
	"2:\n\t"
	"cmp %esi, %ebx\n\t"
	"jne 1b\n"
	"3:\n\t"
	"mov $" XSTR(SYS_EXIT) ", %eax\n\t"
	"int $0x80\n"
	".size user_touch, . - user_touch\n"

	/* cow: store i to page i mod 1024 of the read-only window */
	".globl user_cow\n.type user_cow, @function\n"
	"user_cow:\n\t"
	"mov uparam, %esi\n\t"
	"xor %ebx, %ebx\n\t"
	"mov $" XSTR(COW_BASE) ", %edx\n\t"
	"test %esi, %esi\n\t"
	"jz 3f\n"
	"1:\n\t"
	"mov %ebx, (%edx)\n\t"		/* write to a read-only page: #PF, copy, retry */
	"inc %ebx\n\t"
	"add $4096, %edx\n\t"
	"cmp $(" XSTR(COW_BASE) " + " XSTR(COW_PAGES) " * 4096), %edx\n\t"
	"jne 2f\n\t"
	"mov $" XSTR(SYS_COW_REARM) ", %eax\n\t"
	"int $0x80\n\t"
	"mov $" XSTR(COW_BASE) ", %edx\n"
	"2:\n\t"
	"cmp %esi, %ebx\n\t"
	"jne 1b\n"
	"3:\n\t"
	"mov $" XSTR(SYS_EXIT) ", %eax\n\t"
	"int $0x80\n"
	".size user_cow, . - user_cow\n"

	/* switch8-user: int $0x81 switches space and returns the word ring 0 read */
	".globl user_switch\n.type user_switch, @function\n"
	"user_switch:\n\t"
	"mov uparam, %esi\n\t"
	"xor %ebx, %ebx\n\t"
	"test %esi, %esi\n\t"
	"jz 3f\n"
	"1:\n\t"
	"int $" XSTR(VEC_SWITCH) "\n\t"
	"mov " XSTR(SWITCH_VA) ", %ecx\n\t"	/* ring 3 reads the same word */
	"cmp %ecx, %eax\n\t"
	"jne 4f\n\t"
	"inc %ebx\n\t"
	"cmp %esi, %ebx\n\t"
	"jne 1b\n"
	"3:\n\t"
	"mov $" XSTR(SYS_EXIT) ", %eax\n\t"
	"int $0x80\n"
	"4:\n\t"
	"mov $" XSTR(SYS_MISMATCH) ", %eax\n\t"
	"int $0x80\n"
	".size user_switch, . - user_switch\n"

	/* fork: the child stores uparam[2] at uparam[1] and exits */
	".globl user_fork_child\n.type user_fork_child, @function\n"
	"user_fork_child:\n\t"
	"mov uparam+4, %edx\n\t"
	"mov uparam+8, %eax\n\t"
	"mov %eax, (%edx)\n\t"		/* a shared read-only page: COW #PF */
	"mov $" XSTR(SYS_EXIT) ", %eax\n\t"
	"int $0x80\n"
	".size user_fork_child, . - user_fork_child\n"

	".balign 4096\n"
	".globl user_text_end\n"
	"user_text_end:\n"
	".text\n");

/*
 * The #PF gate: no segment reloads (from ring 3, DS/ES hold the flat user
 * data segment, which ring 0 may use), CR2 and the frame to pf_handle().
 */
__asm__(".text\n"
	".globl pf_entry\n.type pf_entry, @function\n"
	"pf_entry:\n\t"
	"push %eax\n\t"
	"push %ecx\n\t"
	"push %edx\n\t"
	"mov %esp, %ecx\n\t"
	"mov %cr2, %eax\n\t"
	"push %ecx\n\t"
	"push %eax\n\t"
	"call pf_handle\n\t"
	"add $8, %esp\n\t"
	"pop %edx\n\t"
	"pop %ecx\n\t"
	"pop %eax\n\t"
	"add $4, %esp\n\t"		/* the error code */
	"iret\n"
	".size pf_entry, . - pf_entry\n"

	/* switch8-user's gate: next space, ring-0 load, checked; eax = the word */
	".globl switch_gate\n.type switch_gate, @function\n"
	"switch_gate:\n\t"
	"push %ecx\n\t"
	"mov sw_cur, %ecx\n\t"
	"inc %ecx\n\t"
	"and sw_mask, %ecx\n\t"
	"mov %ecx, sw_cur\n\t"
	"mov sw_pd(,%ecx,4), %eax\n\t"
	"mov %eax, %cr3\n\t"
	"mov " XSTR(SWITCH_VA) ", %eax\n\t"
	"add $" XSTR(SWITCH_MAGIC) ", %ecx\n\t"
	"cmp %ecx, %eax\n\t"
	"je 1f\n\t"
	"incl sw_errors\n"
	"1:\n\t"
	"pop %ecx\n\t"
	"iret\n"
	".size switch_gate, . - switch_gate\n");

/* --- small helpers --- */

static void __attribute__((noreturn)) fail(const char *what, uint32_t a, uint32_t b)
{
	gprintf("mmubench: not ok - %s (%x, %x)\n", what, a, b);
	poweroff();
}

static inline void write_cr3(uint32_t v)
{
	__asm__ volatile("mov %0, %%cr3" :: "r"(v) : "memory");
}

static inline uint32_t read_cr3(void)
{
	uint32_t v;

	__asm__ volatile("mov %%cr3, %0" : "=r"(v));
	return v;
}

static inline void invlpg(uint32_t va)
{
	__asm__ volatile("invlpg (%0)" :: "r"(va) : "memory");
}

static inline void copy_page(uint32_t to, uint32_t from)
{
	uint32_t d = to, s = from, c = PAGE / 4;

	__asm__ volatile("rep movsl" : "+D"(d), "+S"(s), "+c"(c) :: "memory");
}

static inline void zero_page(uint32_t to)
{
	uint32_t d = to, c = PAGE / 4;

	__asm__ volatile("rep stosl" : "+D"(d), "+c"(c) : "a"(0) : "memory");
}

static inline uint32_t *frame_ptr(uint32_t frame)
{
	return (uint32_t *)frame;	/* the pool is identity mapped */
}

static uint32_t frame_alloc(void)
{
	if (!nfree)
		fail("frame pool exhausted", 0, 0);
	return free_frames[--nfree];
}

static void frame_free(uint32_t frame)
{
	free_frames[nfree++] = frame;
}

static uint16_t *frame_ref(uint32_t frame)
{
	return &refcnt[(frame - POOL_BASE) / PAGE];
}

/* --- the command line --- */

/* --- set-up: the boot space and paging --- */

static int user_page(uint32_t a)
{
	return (a >= (uint32_t)user_text_start && a < (uint32_t)user_text_end) ||
	       (a >= (uint32_t)uparam && a < (uint32_t)uparam + sizeof(uparam)) ||
	       (a >= (uint32_t)ustack && a < (uint32_t)ustack + sizeof(ustack));
}

/* A fresh directory: zeroed, then the shared kernel page tables. */
static void copy_kernel_pdes(uint32_t *pd)
{
	for (unsigned i = 0; i < KERNEL_PDES; i++)
		pd[i] = pd0[i];
}

static void paging_init(void)
{
	if ((uint32_t)&fork_pt[1024] > POOL_BASE || (uint32_t)&refcnt[POOL_FRAMES] > POOL_BASE)
		fail("the image overlaps the frame pool", (uint32_t)&fork_pt[1024], POOL_BASE);
	for (uint32_t a = LOW_MAPPED; a < KERNEL_END; a += PAGE)
		kpt[a >> 22][(a >> 12) & 1023] = a | PG_P | PG_RW | (user_page(a) ? PG_U : 0);
	for (unsigned i = 0; i < KERNEL_PDES; i++)
		pd0[i] = (uint32_t)kpt[i] | PG_P | PG_RW | PG_U;
	for (uint32_t i = 0; i < POOL_FRAMES; i++)	/* popped from the low end first */
		free_frames[i] = KERNEL_END - (i + 1) * PAGE;
	nfree = POOL_FRAMES;
	write_cr3((uint32_t)pd0);
	__asm__ volatile("mov %%cr0, %%eax\n\t"
			 "or $0x80000000, %%eax\n\t"
			 "mov %%eax, %%cr0" ::: "eax", "memory");
}

/* --- the #PF handler --- */

/* touch: a not-present page of the window gets a frame. */
static int touch_fault(uint32_t va, uint32_t err)
{
	uint32_t *pte = &touch_pt[(va - TOUCH_BASE) / PAGE];

	if (va - TOUCH_BASE >= TOUCH_PAGES * PAGE || err != (PF_WRITE | PF_USER) || (*pte & PG_P))
		return 0;
	*pte = frame_alloc() | PG_P | PG_RW | PG_U;
	faults++;
	window_used++;
	return 1;
}

/* cow: a read-only page of the window gets its own copy. */
static int cow_fault(uint32_t va, uint32_t err)
{
	uint32_t *pte = &cow_pt[(va - COW_BASE) / PAGE], copy;

	if (va - COW_BASE >= COW_PAGES * PAGE || err != (PF_PRESENT | PF_WRITE | PF_USER) ||
	    (*pte & (PG_P | PG_RW)) != PG_P)
		return 0;
	copy = frame_alloc();
	copy_page(copy, *pte & ~0xfffu);
	*pte = copy | PG_P | PG_RW | PG_U;
	invlpg(va);
	faults++;
	copies++;
	window_used++;
	return 1;
}

/* fork: the child's write to a shared page. */
static int fork_fault(uint32_t va, uint32_t err)
{
	uint32_t *pte = &child_pt[(va - FORK_BASE) / PAGE], frame, copy;

	if (!child_pt || va - FORK_BASE >= FORK_PAGES * PAGE ||
	    err != (PF_PRESENT | PF_WRITE | PF_USER) || (*pte & (PG_P | PG_RW)) != PG_P)
		return 0;
	frame = *pte & ~0xfffu;
	if (*frame_ref(frame) > 1) {
		copy = frame_alloc();
		copy_page(copy, frame);
		--*frame_ref(frame);
		*frame_ref(copy) = 1;
		*pte = copy | PG_P | PG_RW | PG_U;
		copies++;
	} else {
		*pte |= PG_RW;
	}
	invlpg(va);
	faults++;
	return 1;
}

void pf_handle(uint32_t va, struct pf_frame *f);
void pf_handle(uint32_t va, struct pf_frame *f)
{
	int ok = 0;

	switch (pf_mode) {
	case PF_TOUCH: ok = touch_fault(va, f->error); break;
	case PF_COW: ok = cow_fault(va, f->error); break;
	case PF_FORK: ok = fork_fault(va, f->error); break;
	case PF_NONE: break;
	}
	if (ok)
		return;
	gprintf("mmubench: not ok - unexpected page fault at %x, error %x, eip %x\n", va, f->error,
		f->eip);
	poweroff();
}

/* --- touch --- */

/* Check the window's pages (event window_base + j stored j's value), free them. */
static void touch_recycle(void)
{
	for (uint32_t j = 0; j < TOUCH_PAGES; j++) {
		uint32_t pte = touch_pt[j];

		if (j >= window_used) {
			if (pte)
				fail("touch: a page was mapped without a fault", j, pte);
			continue;
		}
		if ((pte & (PG_P | PG_RW | PG_U)) != (PG_P | PG_RW | PG_U) ||
		    *frame_ptr(pte & ~0xfffu) != window_base + j)
			fail("touch: the retried store did not land", j, pte);
		frame_free(pte & ~0xfffu);
		touch_pt[j] = 0;
	}
	window_base += window_used;
	window_used = 0;
	write_cr3(read_cr3());
}

static void op_touch(uint32_t n, unsigned arg)
{
	(void)arg;
	for (unsigned i = 0; i < TOUCH_PAGES / 1024; i++)
		pd0[(TOUCH_BASE >> 22) + i] = (uint32_t)&touch_pt[i * 1024] | PG_P | PG_RW | PG_U;
	write_cr3((uint32_t)pd0);
	pf_mode = PF_TOUCH;
	uparam[0] = n;
	run_user(user_touch, ustack + sizeof(ustack));
	touch_recycle();
	if (faults != n || window_base != n)
		fail("touch: faults != n", faults, n);
}

/* --- cow --- */

static void cow_rearm(void)
{
	uint32_t ro = cow_shared | PG_P | PG_U;
	const uint32_t *shared = frame_ptr(cow_shared);

	for (uint32_t j = 0; j < COW_PAGES; j++) {
		uint32_t pte = cow_pt[j];
		const uint32_t *p = frame_ptr(pte & ~0xfffu);

		if (j >= window_used) {
			if (pte != ro)
				fail("cow: a page changed without a fault", j, pte);
			continue;
		}
		if ((pte & (PG_P | PG_RW)) != (PG_P | PG_RW) || (pte & ~0xfffu) == cow_shared ||
		    p[0] != window_base + j || p[1] != COW_PAT(1) || p[1023] != COW_PAT(1023))
			fail("cow: the copy or the retried store is wrong", j, pte);
		frame_free(pte & ~0xfffu);
		cow_pt[j] = ro;
	}
	if (shared[0] != COW_PAT(0))
		fail("cow: the shared frame was written", shared[0], COW_PAT(0));
	window_base += window_used;
	window_used = 0;
	write_cr3(read_cr3());
}

static void op_cow(uint32_t n, unsigned arg)
{
	uint32_t *shared;

	(void)arg;
	cow_shared = frame_alloc();
	shared = frame_ptr(cow_shared);
	for (uint32_t w = 0; w < 1024; w++)
		shared[w] = COW_PAT(w);
	for (uint32_t j = 0; j < COW_PAGES; j++)
		cow_pt[j] = cow_shared | PG_P | PG_U;
	pd0[COW_BASE >> 22] = (uint32_t)cow_pt | PG_P | PG_RW | PG_U;
	write_cr3((uint32_t)pd0);
	pf_mode = PF_COW;
	uparam[0] = n;
	run_user(user_cow, ustack + sizeof(ustack));
	cow_rearm();
	if (faults != n || copies != n || window_base != n)
		fail("cow: faults != n", faults, n);
}

/* --- switch --- */

/* K directories, each with its own page at SWITCH_VA holding SWITCH_MAGIC + k. */
static void make_spaces(unsigned k)
{
	for (unsigned s = 0; s < k; s++) {
		uint32_t pd = frame_alloc(), pt = frame_alloc(), data = frame_alloc();

		zero_page(pd);
		zero_page(pt);
		zero_page(data);
		copy_kernel_pdes(frame_ptr(pd));
		frame_ptr(pd)[SWITCH_VA >> 22] = pt | PG_P | PG_RW | PG_U;
		frame_ptr(pt)[(SWITCH_VA >> 12) & 1023] = data | PG_P | PG_RW | PG_U;
		frame_ptr(data)[0] = SWITCH_MAGIC + s;
		sw_pd[s] = pd;
	}
	sw_mask = k - 1;
}

static void op_switch(uint32_t n, unsigned k)
{
	uint32_t s = 0;

	make_spaces(k);
	for (uint32_t i = 0; i < n; i++) {
		write_cr3(sw_pd[s]);
		if (*(volatile uint32_t *)SWITCH_VA != SWITCH_MAGIC + s)
			fail("switch: wrong word in space", s, *(volatile uint32_t *)SWITCH_VA);
		s = (s + 1) & (k - 1);
	}
	write_cr3((uint32_t)pd0);
}

static void op_switch_user(uint32_t n, unsigned k)
{
	make_spaces(k);
	sw_cur = k - 1;		/* the first event switches to space 0 */
	sw_errors = 0;
	set_raw_gate(VEC_SWITCH, switch_gate, 3);
	uparam[0] = n;
	run_user(user_switch, ustack + sizeof(ustack));
	write_cr3((uint32_t)pd0);
	if (sw_errors)
		fail("switch8-user: ring 0 read a wrong word", sw_errors, 0);
}

/* --- fork --- */

static void op_fork(uint32_t n, unsigned arg)
{
	(void)arg;
	for (uint32_t p = 0; p < FORK_PAGES; p++) {	/* the parent's 16 pages */
		uint32_t f = frame_alloc();

		for (uint32_t w = 0; w < 1024; w++)
			frame_ptr(f)[w] = FORK_PAT(p, w);
		fork_pt[p] = f | PG_P | PG_RW | PG_U;
		*frame_ref(f) = 1;
	}
	pd0[FORK_BASE >> 22] = (uint32_t)fork_pt | PG_P | PG_RW | PG_U;
	write_cr3((uint32_t)pd0);
	pf_mode = PF_FORK;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t pd = frame_alloc(), pt = frame_alloc(), page = i % FORK_PAGES;
		uint32_t parent_frame = fork_pt[page] & ~0xfffu, child_frame;
		const uint32_t *c;

		/* fork */
		zero_page(pd);
		zero_page(pt);
		copy_kernel_pdes(frame_ptr(pd));
		child_pt = frame_ptr(pt);
		for (uint32_t p = 0; p < FORK_PAGES; p++) {
			fork_pt[p] &= ~PG_RW;
			child_pt[p] = fork_pt[p];
			++*frame_ref(fork_pt[p] & ~0xfffu);
		}
		frame_ptr(pd)[FORK_BASE >> 22] = pt | PG_P | PG_RW | PG_U;
		/* the parent's PTEs lost RW: the CR3 loads below flush its TLB */
		write_cr3(pd);
		/* the child: one store, then exit */
		uparam[1] = FORK_BASE + page * PAGE;
		uparam[2] = i;
		run_user(user_fork_child, ustack + sizeof(ustack));
		write_cr3((uint32_t)pd0);
		/* check */
		child_frame = child_pt[page] & ~0xfffu;
		c = frame_ptr(child_frame);
		if (child_frame == parent_frame || c[0] != i || c[1] != FORK_PAT(page, 1) ||
		    frame_ptr(parent_frame)[0] != FORK_PAT(page, 0))
			fail("fork: the child's copy is wrong", i, child_pt[page]);
		/* exit: drop the child's references, page table and directory */
		for (uint32_t p = 0; p < FORK_PAGES; p++) {
			uint32_t f = child_pt[p] & ~0xfffu;

			if (--*frame_ref(f) == 0)
				frame_free(f);
		}
		child_pt = NULL;
		frame_free(pt);
		frame_free(pd);
	}
	if (faults != n || copies != n || nfree != POOL_FRAMES - FORK_PAGES)
		fail("fork: faults != n or frames leaked", faults, nfree);
}

/* --- main --- */

static void on_syscall(struct trap_frame *f)
{
	switch (f->eax) {
	case SYS_EXIT: user_return(); break;
	case SYS_TOUCH_RECYCLE: touch_recycle(); break;
	case SYS_COW_REARM: cow_rearm(); break;
	case SYS_MISMATCH: fail("switch8-user: ring 3 read another word than ring 0", f->ebx, f->eax);
	default: fail("bad system call", f->eax, f->eip);
	}
}

struct op {
	const char *name;
	void (*run)(uint32_t n, unsigned arg);
	unsigned arg;
};

static const struct op ops[] = {
	{ "touch", op_touch, 0 },	  { "cow", op_cow, 0 },
	{ "switch2", op_switch, 2 },	  { "switch8", op_switch, 8 },
	{ "switch64", op_switch, 64 },	  { "switch8-user", op_switch_user, 8 },
	{ "fork", op_fork, 0 },
};

static const struct op *find_op(const char *name)
{
	for (unsigned i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (cmdline_word_is(name, ops[i].name))
			return &ops[i];
	return NULL;
}

void guest_main(uint32_t magic, void *mbi)
{
	const struct multiboot_info *info = mbi;
	const char *line = info->flags & MBI_CMDLINE ? (const char *)info->cmdline : "";
	const char *name, *count;
	const struct op *op;
	uint32_t n;
	unsigned i;

	(void)magic;
	for (i = 0; i < sizeof(cmdline) - 1 && line[i]; i++)	/* before paging hides it */
		cmdline[i] = line[i];
	cmdline[i] = 0;
	name = cmdline_arg(cmdline, "op=");
	count = cmdline_arg(cmdline, "n=");
	op = name ? find_op(name) : NULL;
	n = count ? parse_uint(count) : 0;

	guest_init();
	pic_init(0);
	set_raw_gate(VEC_PF, pf_entry, 0);
	set_handler(VEC_SYSCALL, on_syscall);
	allow_user_int(VEC_SYSCALL);
	if (!op) {
		gprintf("mmubench: no such operation; command line: %s\n", cmdline);
		poweroff();
	}
	paging_init();
	op->run(n, op->arg);
	gprintf("mmubench: faults %u copies %u\n", faults, copies);
	gprintf("mmubench: op=%s n=%u done\n", op->name, n);
	poweroff();
}

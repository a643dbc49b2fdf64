/*
 * pgfault.c - the page-fault error code and CR2 for every combination of
 * PDE and PTE (not present, supervisor or user, read-only or writable),
 * ring 0 and ring 3, read and write, CR0.WP off and on; instruction fetches
 * from a non-present page and from a supervisor page in ring 3; accesses
 * that straddle two pages; PDEs/PTEs naming frames beyond RAM, which must
 * not bring the machine down; and a NULL pointer (page 0, which no host
 * process can map) meeting a not-present page, a plain #PF.
 *
 * Each access is printed with what it did ("no fault" or "err=E cr2=0xC"),
 * and checked against what the SDM says for 32-bit paging without PAE: a
 * page is usable by ring 3 only if U/S is set at both levels and writable
 * only if R/W is set at both; ring 0 may write anything present unless
 * CR0.WP is set; an instruction fetch is a read (no I/D bit without NX).
 */
#include "../lib/paging.h"

#define BASE 0x40000000u	/* one 4 MiB region per PDE variant from here */
#define OFFSET 0x124u		/* the accesses' offset in their page */
#define MARK 0x5ee00000u	/* a frame's resting word is MARK + its page's index */

/* The PDE variants, each over its own 4 MiB region, and the PTE variants in each region. */
static const struct variant {
	uint32_t flags;
	const char *name;
} pde_variants[] = {
	{ PG_P | PG_RW | PG_US, "urw" }, { PG_P | PG_US, "uro" },
	{ PG_P | PG_RW, "srw" }, { PG_P, "sro" }, { PG_RW | PG_US, "np" },
}, pte_variants[] = {
	{ PG_RW | PG_US, "np" }, { PG_P, "sro" }, { PG_P | PG_RW, "srw" },
	{ PG_P | PG_US, "uro" }, { PG_P | PG_RW | PG_US, "urw" },
};
#define N_PDE (sizeof(pde_variants) / sizeof(pde_variants[0]))
#define N_PTE (sizeof(pte_variants) / sizeof(pte_variants[0]))

/* Pages for the fetch and straddle tests, in the first (user, writable) region. */
#define STRADDLE_RW 8u		/* present, writable, user */
#define STRADDLE_NP 9u		/* not present */
#define STRADDLE_RO 10u		/* present, read-only, user */
#define STRADDLE_RW2 11u	/* present, writable, user, below STRADDLE_RO2 */
#define STRADDLE_RO2 12u	/* present, read-only, user */
/* Regions for the beyond-RAM tests. */
#define FAR_REGION (BASE + 8 * BIG_PAGE)
#define FAR_PT_REGION (BASE + 9 * BIG_PAGE)

static uint32_t *pd;
static uint32_t *frames[N_PDE][16];	/* the frame behind each test page, by region and index */

static uint32_t page_va(unsigned region, unsigned idx)
{
	return BASE + region * BIG_PAGE + idx * PAGE;
}

/* Map every PDE variant over its region, with every PTE variant and the extra pages in it. */
static void build_regions(void)
{
	static const uint32_t extra[][2] = {
		{ STRADDLE_RW, PG_P | PG_RW | PG_US }, { STRADDLE_NP, PG_RW | PG_US },
		{ STRADDLE_RO, PG_P | PG_US }, { STRADDLE_RW2, PG_P | PG_RW | PG_US },
		{ STRADDLE_RO2, PG_P | PG_US },
	};

	for (unsigned r = 0; r < N_PDE; r++) {
		uint32_t *pt = pg_alloc();

		*pg_pde(pd, page_va(r, 0)) = (uint32_t)pt | pde_variants[r].flags;
		for (unsigned i = 0; i < N_PTE; i++) {
			frames[r][i] = pg_alloc();
			pg_map(pd, page_va(r, i), (uint32_t)frames[r][i], pte_variants[i].flags);
		}
		for (unsigned e = 0; e < sizeof(extra) / sizeof(extra[0]); e++) {
			unsigned i = extra[e][0];

			frames[r][i] = pg_alloc();
			pg_map(pd, page_va(r, i), (uint32_t)frames[r][i], extra[e][1]);
		}
	}
}

/* What the SDM says an access does: 0 for no fault, else the error code | 0x100. */
static uint32_t expected(uint32_t pde, uint32_t pte, int cpl, int write, int wp)
{
	uint32_t err = (write ? PFERR_W : 0) | (cpl ? PFERR_U : 0);
	int user = (pde & PG_US) && (pte & PG_US);
	int writable = (pde & PG_RW) && (pte & PG_RW);

	if (!(pde & PG_P) || !(pte & PG_P))
		return 0x100 | err;
	if (cpl && !user)
		return 0x100 | err | PFERR_P;
	if (write && !writable && (cpl || wp))
		return 0x100 | err | PFERR_P;
	return 0;
}

/* The outcome of the last helper in the form expected() uses, checking CR2 and EIP too. */
static uint32_t observed(int faulted, uint32_t va)
{
	if (!faulted)
		return 0;
	if (pg_fault.vector != VEC_PF || pg_fault.cr2 != va || pg_fault.eip != pg_fault.at)
		return 0xdead;
	return 0x100 | pg_fault.err;
}

/* One access to page idx of region r; checks the fault and what the frame holds after it. */
static void access(unsigned r, unsigned idx, int cpl, int write, int wp)
{
	uint32_t va = page_va(r, idx) + OFFSET, val = 0xdead, want_val;
	volatile uint32_t *word = frames[r][idx] + OFFSET / 4;
	uint32_t want = expected(pde_variants[r].flags, pte_variants[idx].flags, cpl, write, wp);
	int faulted, ok;

	pg_set_wp(wp);
	*word = MARK + idx;
	if (write)
		faulted = pg_store(cpl, va, 0xc0de0000 | va >> 12);
	else
		faulted = pg_load(cpl, va, &val);
	ok = observed(faulted, va) == want;
	/* A write that went through changed the frame, one that faulted did not. */
	want_val = write && !faulted ? 0xc0de0000 | va >> 12 : MARK + idx;
	ok = ok && *word == want_val && (write || faulted || val == MARK + idx);
	check(ok, pg_name("r%d %s pde=%s pte=%s wp=%d: %s", cpl, write ? "write" : "read",
			  pde_variants[r].name, pte_variants[idx].name, wp, pg_fault_str()));
}

static void test_matrix(void)
{
	for (unsigned r = 0; r < N_PDE; r++)
		for (unsigned i = 0; i < N_PTE; i++) {
			/* Through a non-present PDE only the PTE extremes: nothing else can differ. */
			if (!(pde_variants[r].flags & PG_P) && i != 0 && i != N_PTE - 1)
				continue;
			access(r, i, 0, 0, 0);
			access(r, i, 0, 1, 0);
			access(r, i, 0, 1, 1);
			access(r, i, 3, 0, 0);
			access(r, i, 3, 1, 0);
			access(r, i, 3, 1, 1);
		}
	pg_set_wp(0);
}

/* A jump to page idx of region r; a page that may run holds "jmp *%ecx" back. */
static void fetch(unsigned r, unsigned idx, int cpl, uint32_t want, const char *what)
{
	uint32_t va = page_va(r, idx) + OFFSET;
	int faulted;

	*(volatile uint32_t *)(frames[r][idx] + OFFSET / 4) = PG_RET_STUB;
	faulted = pg_exec(cpl, va);
	check(observed(faulted, va) == want, pg_name("r%d fetch from %s: %s", cpl, what, pg_fault_str()));
}

static void test_fetch(void)
{
	fetch(0, 0, 0, 0x100, "a non-present page (no I/D bit without PAE)");
	fetch(0, 0, 3, 0x100 | PFERR_U, "a non-present page");
	fetch(0, 2, 3, 0x100 | PFERR_U | PFERR_P, "a supervisor page");
	fetch(2, 4, 3, 0x100 | PFERR_U | PFERR_P, "a user PTE under a supervisor PDE");
	fetch(0, 3, 0, 0, "a read-only user page (no NX, no SMEP)");
	fetch(1, 4, 3, 0, "a user page under a read-only PDE");
}

/*
 * A 4-byte access 2 bytes before the end of page first: it faults on the
 * page after it, CR2 naming that page's first byte; a store writes nothing
 * to the first page. When the first page is the absent one, CR2 is the
 * access's own address.
 */
static void straddle(int cpl, int write, unsigned first, uint32_t want, uint32_t want_cr2,
		     const char *pages)
{
	uint32_t va = page_va(0, first) + PAGE - 2, val = 0xdead;
	volatile uint32_t *last = frames[0][first] + PAGE / 4 - 1;
	int faulted, ok;

	*last = 0x11223344;
	if (write)
		faulted = pg_store(cpl, va, 0xaabbccdd);
	else
		faulted = pg_load(cpl, va, &val);
	ok = faulted && pg_fault.vector == VEC_PF && 0x100 + pg_fault.err == want &&
	     pg_fault.cr2 == want_cr2 && pg_fault.eip == pg_fault.at && *last == 0x11223344;
	check(ok, pg_name("r%d %s at 0x%x straddling %s: %s", cpl, write ? "write" : "read", va,
			  pages, pg_fault_str()));
}

static void test_straddle(void)
{
	uint32_t second_np = page_va(0, STRADDLE_NP), second_ro = page_va(0, STRADDLE_RO2);

	straddle(0, 0, STRADDLE_RW, 0x100, second_np, "urw into np");
	straddle(0, 1, STRADDLE_RW, 0x100 | PFERR_W, second_np, "urw into np");
	straddle(3, 1, STRADDLE_RW2, 0x100 | PFERR_U | PFERR_W | PFERR_P, second_ro, "urw into uro");
	pg_set_wp(1);
	straddle(0, 1, STRADDLE_RW2, 0x100 | PFERR_W | PFERR_P, second_ro, "urw into uro, wp=1");
	pg_set_wp(0);
	straddle(3, 0, STRADDLE_NP, 0x100 | PFERR_U, page_va(0, STRADDLE_NP) + PAGE - 2, "np into uro");
}

/*
 * Read through a mapping of a frame that is not RAM. Hardware returns
 * something (all ones, a device register); lilyvm may fault instead. The
 * check is only that the guest lives on and sees a read or a #PF at va,
 * so its name holds nothing that depends on the value.
 */
static void far_read(uint32_t va, const char *what)
{
	uint32_t val;
	int faulted = pg_load(0, va, &val);

	check(!faulted || (pg_fault.vector == VEC_PF && pg_fault.cr2 == va),
	      pg_name("r0 read through %s: the guest lives on", what));
}

static void test_beyond_ram(void)
{
	pg_map(pd, FAR_REGION, 0x7ff00000, PG_P | PG_RW);
	pg_map(pd, FAR_REGION + PAGE, 0xfee00000, PG_P | PG_RW);
	*pg_pde(pd, FAR_PT_REGION) = 0x7ff00000 | PG_P | PG_RW;
	far_read(FAR_REGION + 0x30, "a PTE naming frame 0x7ff00000, beyond RAM");
	far_read(FAR_REGION + PAGE + 0x30, "a PTE naming frame 0xfee00000 (local APIC)");
	far_read(FAR_PT_REGION + 0x5000, "a PDE naming a page table at 0x7ff00000, beyond RAM");
}

/* Page 0 not present: reads and writes through a NULL pointer at rings 3 and 0. */
static void test_null(void)
{
	volatile uint32_t *pte = pg_pte(pd, 0);
	uint32_t saved = *pte, val;
	static const struct { int cpl, write; uint32_t err; } cases[] = {
		{ 3, 0, PFERR_U }, { 3, 1, PFERR_U | PFERR_W }, { 0, 0, 0 }, { 0, 1, PFERR_W },
	};

	*pte = 0;
	invlpg(0);
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int faulted = cases[i].write ? pg_store(cases[i].cpl, 0x10, 1) :
					       pg_load(cases[i].cpl, 0x10, &val);

		check(faulted && observed(faulted, 0x10) == (0x100 | cases[i].err),
		      pg_name("r%d %s through a NULL pointer, page 0 not present: %s", cases[i].cpl,
			      cases[i].write ? "write" : "read", pg_fault_str()));
	}
	*pte = saved;
	invlpg(0);
}

void guest_main(uint32_t magic, void *mbi)
{
	guest_init();
	pg_init();
	pd = pg_new_directory();
	build_regions();
	pg_enable(pd);
	test_matrix();
	test_fetch();
	test_straddle();
	test_beyond_ram();
	test_null();
	finish();
}

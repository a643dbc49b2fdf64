/*
 * pgfault-pae.c - the page-fault error code and CR2 under PAE paging (64-bit
 * entries, 4 PDPTEs, 2 MiB pages): the pgfault matrix of PDE and PTE
 * (not present, supervisor or user, read-only or writable), ring 0 and
 * ring 3, read and write, CR0.WP off and on; instruction fetches; reserved
 * bits (bit MAXPHYADDR or bit 62 of a PTE or PDE, bit 13 of a 2 MiB PDE,
 * bit 63 while EFER.NXE is clear), which fault with RSVD, but not in a
 * non-present entry; 2 MiB pages (CR4.PSE clear: PAE ignores it); a
 * not-present PDPTE; and, if CPUID offers NX, execute-disable pages under
 * EFER.NXE: a fetch faults with the I/D bit, data reads and writes do not.
 *
 * The SDM's rules: a page is usable by ring 3 only if U/S is set in the PDE
 * and PTE, writable only if R/W is set in both (ring 0 may write it anyway
 * with CR0.WP clear), executable only if XD is clear in both; a PDPTE has no
 * R/W, U/S or XD. The I/D bit (0x10) is set for a fetch, whatever the fault,
 * only with EFER.NXE set (or CR4.SMEP, never set here). RSVD (0x8) comes with
 * P (0x1), reserved bits being looked at only in present entries; QEMU 7.2
 * leaves P clear, so P is not compared for those (see pg_fault_str()).
 */
#include "../lib/paging.h"

#define BASE 0x40000000u	/* one 2 MiB region per PDE variant from here (PDPTE 1) */
#define OFFSET 0x124u		/* the accesses' offset in their page */
#define BIG_OFFSET 0x1ff124u	/* ... in a 2 MiB page: in its last 4 KiB */
#define MARK 0x5ee00000u	/* a test word's resting value */
#define NP_PDPTE_VA 0x80005000u	/* under PDPTE 2, made not present for a while */

/* The PDE variants, each over its own 2 MiB region, and the PTE variants in each region. */
static const struct variant {
	uint64_t flags;
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

/* More pages of region 0 (user, writable PDE), after the PTE variants. */
enum {
	P_XD = N_PTE,		/* user, writable, bit 63 set */
	P_XD_SUP,		/* supervisor, writable, bit 63 set */
	P_RSVD_M,		/* user, writable, bit MAXPHYADDR set */
	P_RSVD_62,		/* user, writable, bit 62 set */
	P_NP_RSVD,		/* not present, bit 62 set */
	N_PAGES
};
/* More regions, after the PDE variants. */
enum {
	R_PDE_XD = N_PDE,	/* a PDE with bit 63 set over a user, writable PTE */
	R_PDE_RSVD,		/* a PDE with bit MAXPHYADDR set over a user, writable PTE */
	R_BIG,			/* 2 MiB pages: user, writable */
	R_BIG_SRO,		/* supervisor, read-only */
	R_BIG_RSVD,		/* user, writable, bit 13 set */
	R_BIG_XD,		/* user, writable, bit 63 set */
	R_BIG_NP,		/* not present (PS set) */
	R_ALIAS,		/* 4 KiB pages over the last 4 KiB of each 2 MiB frame */
};
#define BIG_FRAME(r) (0x01000000u + ((r) - R_BIG) * PAE_BIG_PAGE)	/* RAM above the pool */

static uint64_t *pdpt;
static unsigned maxphyaddr;
static uint32_t *frames[R_PDE_RSVD + 1][N_PAGES];	/* the frame behind each test page */
static volatile uint32_t no_frame;	/* stands for the test word of an access that must fault */

static uint32_t region_va(unsigned region)
{
	return BASE + region * PAE_BIG_PAGE;
}

static uint32_t page_va(unsigned region, unsigned idx)
{
	return region_va(region) + idx * PAGE;
}

/* Map a page table over region r with PDE flags pde and the n PTEs flags[] in it. */
static void map_region(unsigned r, uint64_t pde, const uint64_t *flags, unsigned n)
{
	*pae_pde(pdpt, region_va(r)) = (uint32_t)pg_alloc() | pde;
	for (unsigned i = 0; i < n; i++) {
		frames[r][i] = pg_alloc();
		pae_map(pdpt, page_va(r, i), (uint32_t)frames[r][i], flags[i]);
	}
}

static void build_regions(void)
{
	uint64_t pte_flags[N_PAGES], urw = PG_P | PG_RW | PG_US, m = 1ull << maxphyaddr;

	for (unsigned i = 0; i < N_PTE; i++)
		pte_flags[i] = pte_variants[i].flags;
	pte_flags[P_XD] = urw | PAE_XD;
	pte_flags[P_XD_SUP] = PG_P | PG_RW | PAE_XD;
	pte_flags[P_RSVD_M] = urw | m;
	pte_flags[P_RSVD_62] = urw | 1ull << 62;
	pte_flags[P_NP_RSVD] = PG_RW | PG_US | 1ull << 62;
	for (unsigned r = 0; r < N_PDE; r++)
		map_region(r, pde_variants[r].flags, pte_flags, r ? N_PTE : N_PAGES);
	map_region(R_PDE_XD, urw | PAE_XD, &urw, 1);
	map_region(R_PDE_RSVD, urw | m, &urw, 1);
	*pae_pde(pdpt, region_va(R_BIG)) = BIG_FRAME(R_BIG) | PG_PS | urw;
	*pae_pde(pdpt, region_va(R_BIG_SRO)) = BIG_FRAME(R_BIG_SRO) | PG_PS | PG_P;
	*pae_pde(pdpt, region_va(R_BIG_RSVD)) = BIG_FRAME(R_BIG_RSVD) | PG_PS | urw | 1u << 13;
	*pae_pde(pdpt, region_va(R_BIG_XD)) = BIG_FRAME(R_BIG_XD) | PG_PS | urw | PAE_XD;
	*pae_pde(pdpt, region_va(R_BIG_NP)) = BIG_FRAME(R_BIG_NP) | PG_PS | PG_RW | PG_US;
	for (unsigned r = R_BIG; r <= R_BIG_XD; r++)
		pae_map(pdpt, page_va(R_ALIAS, r - R_BIG), BIG_FRAME(r) + BIG_OFFSET - OFFSET,
			PG_P | PG_RW);
	pae_map(pdpt, NP_PDPTE_VA, (uint32_t)pg_alloc(), urw);
}

/* --- the matrix --- */

/* What the SDM says an access does: 0 for no fault, else the error code | 0x100. */
static uint32_t expected(uint64_t pde, uint64_t pte, int cpl, int write, int wp)
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

/*
 * The outcome of the last helper in the form expected() uses, checking CR2
 * and EIP too. A reserved-bit fault counts as having P, which QEMU 7.2
 * leaves clear.
 */
static uint32_t observed(int faulted, uint32_t va)
{
	if (!faulted)
		return 0;
	if (pg_fault.vector != VEC_PF || pg_fault.cr2 != va || pg_fault.eip != pg_fault.at)
		return 0xdead;
	return 0x100 | pg_fault.err | (pg_fault.err & PFERR_RSVD ? PFERR_P : 0);
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

/* --- single accesses --- */

enum { READ, WRITE, FETCH };
static const char *const op_names[] = { "read", "write", "fetch" };

/*
 * One read, write or fetch at va from ring cpl; want is 0 (no fault) or
 * 0x100 | the error code, with CR2 = va and EIP at the access. word is the
 * test word behind va: MARK before a read or write, "jmp *%ecx" before a
 * fetch; a read must see it, a write change it only if it went through.
 */
static void try(int op, int cpl, uint32_t va, volatile uint32_t *word, uint32_t want,
		const char *what)
{
	uint32_t val = 0xdead, stored = 0xc0de0000 | va >> 12;
	int faulted, ok;

	*word = op == FETCH ? PG_RET_STUB : MARK;
	if (op == READ)
		faulted = pg_load(cpl, va, &val);
	else if (op == WRITE)
		faulted = pg_store(cpl, va, stored);
	else
		faulted = pg_exec(cpl, va);
	ok = observed(faulted, va) == want;
	if (op == READ && !faulted)
		ok = ok && val == MARK;
	if (op == WRITE)
		ok = ok && *word == (faulted ? MARK : stored);
	check(ok, pg_name("r%d %s %s: %s", cpl, op_names[op], what, pg_fault_str()));
}

/* Page idx of region r, read, written or fetched from at OFFSET. */
static void try_page(int op, int cpl, unsigned r, unsigned idx, uint32_t want, const char *what)
{
	try(op, cpl, page_va(r, idx) + OFFSET, frames[r][idx] + OFFSET / 4, want, what);
}

/* The 2 MiB page of region r at BIG_OFFSET, its test word reached through R_ALIAS. */
static void try_big(int op, int cpl, unsigned r, uint32_t want, const char *what)
{
	volatile uint32_t *word = (volatile uint32_t *)(page_va(R_ALIAS, r - R_BIG) + OFFSET);

	try(op, cpl, region_va(r) + BIG_OFFSET, word, want, what);
}

/* Fetches with EFER.NXE clear: no I/D bit in the error code, whatever the fault. */
static void test_fetch(void)
{
	try_page(FETCH, 0, 0, 0, 0x100, "from a non-present page, NXE=0 (no I/D bit)");
	try_page(FETCH, 3, 0, 0, 0x100 | PFERR_U, "from a non-present page, NXE=0");
	try_page(FETCH, 3, 0, 2, 0x100 | PFERR_U | PFERR_P, "from a supervisor page, NXE=0");
	try_page(FETCH, 3, 2, 4, 0x100 | PFERR_U | PFERR_P,
		 "from a user PTE under a supervisor PDE, NXE=0");
	try_page(FETCH, 0, 0, 3, 0, "from a read-only user page");
	try_page(FETCH, 3, 1, 4, 0, "from a user page under a read-only PDE");
}

/* Reserved bits: RSVD, only in a present entry; bit 63 is one while EFER.NXE is clear. */
static void test_reserved(void)
{
	uint32_t rsvd = 0x100 | PFERR_RSVD | PFERR_P;
	unsigned m = maxphyaddr;

	try_page(READ, 0, 0, P_RSVD_M, rsvd, pg_name("a PTE with bit %u (MAXPHYADDR) set", m));
	try_page(WRITE, 0, 0, P_RSVD_M, rsvd | PFERR_W, pg_name("a PTE with bit %u set", m));
	try_page(READ, 3, 0, P_RSVD_M, rsvd | PFERR_U, pg_name("a PTE with bit %u set", m));
	try_page(WRITE, 3, 0, P_RSVD_M, rsvd | PFERR_U | PFERR_W, pg_name("a PTE with bit %u set", m));
	try_page(FETCH, 0, 0, P_RSVD_M, rsvd, pg_name("a PTE with bit %u set, NXE=0", m));
	try_page(READ, 0, 0, P_RSVD_62, rsvd, "a PTE with bit 62 set");
	try_page(READ, 0, 0, P_NP_RSVD, 0x100,
		 "a non-present PTE with bit 62 set (reserved bits not checked)");
	try_page(READ, 3, R_PDE_RSVD, 0, rsvd | PFERR_U, pg_name("a PDE with bit %u set", m));
	try_page(READ, 0, 0, P_XD, rsvd, "a PTE with bit 63 set, NXE=0");
	try_page(WRITE, 3, 0, P_XD, rsvd | PFERR_U | PFERR_W, "a PTE with bit 63 set, NXE=0");
	try_page(FETCH, 0, 0, P_XD, rsvd, "a PTE with bit 63 set, NXE=0");
	try_page(READ, 0, R_PDE_XD, 0, rsvd, "a PDE with bit 63 set, NXE=0");
	try_big(READ, 3, R_BIG_XD, rsvd | PFERR_U, "a 2 MiB PDE with bit 63 set, NXE=0");
	try_big(READ, 0, R_BIG_RSVD, rsvd, "a 2 MiB PDE with bit 13 set");
	try_big(WRITE, 3, R_BIG_RSVD, rsvd | PFERR_U | PFERR_W, "a 2 MiB PDE with bit 13 set");
}

/* 2 MiB pages (PDE.PS; CR4.PSE is clear, and PAE paging does not look at it). */
static void test_big(void)
{
	try_big(READ, 3, R_BIG, 0, "the last 4 KiB of a user 2 MiB page");
	try_big(WRITE, 3, R_BIG, 0, "the last 4 KiB of a user 2 MiB page");
	try_big(FETCH, 3, R_BIG, 0, "the last 4 KiB of a user 2 MiB page");
	try_big(READ, 0, R_BIG_SRO, 0, "a supervisor read-only 2 MiB page");
	try_big(WRITE, 0, R_BIG_SRO, 0, "a supervisor read-only 2 MiB page, wp=0");
	pg_set_wp(1);
	try_big(WRITE, 0, R_BIG_SRO, 0x100 | PFERR_W | PFERR_P,
		"a supervisor read-only 2 MiB page, wp=1");
	pg_set_wp(0);
	try_big(READ, 3, R_BIG_SRO, 0x100 | PFERR_U | PFERR_P, "a supervisor read-only 2 MiB page");
	try(WRITE, 3, region_va(R_BIG_NP) + BIG_OFFSET, &no_frame, 0x100 | PFERR_U | PFERR_W,
	    "a non-present 2 MiB PDE");
}

/*
 * PDPTE 2 present or not. The processor loads the 4 PDPTEs when CR3 is
 * written, so each change is followed by a CR3 write.
 */
static void set_pdpte_present(int on)
{
	volatile uint64_t *pdpte = pae_pdpte(pdpt, NP_PDPTE_VA);

	*pdpte = on ? *pdpte | PG_P : *pdpte & ~(uint64_t)PG_P;
	write_cr3(read_cr3());
}

static void test_pdpte(void)
{
	uint32_t frame = (uint32_t)(*pae_pte(pdpt, NP_PDPTE_VA) & PAE_FRAME);
	volatile uint32_t *word = (volatile uint32_t *)frame;

	try(READ, 0, NP_PDPTE_VA, word, 0, "under a present PDPTE 2");
	set_pdpte_present(0);
	try(READ, 0, NP_PDPTE_VA, &no_frame, 0x100, "under a not-present PDPTE 2");
	try(WRITE, 3, NP_PDPTE_VA, &no_frame, 0x100 | PFERR_U | PFERR_W, "under a not-present PDPTE 2");
	try(FETCH, 0, NP_PDPTE_VA, &no_frame, 0x100, "under a not-present PDPTE 2, NXE=0");
	set_pdpte_present(1);
	try(WRITE, 3, NP_PDPTE_VA, word, 0, "under PDPTE 2 present again");
}

/* --- execute-disable --- */

/* Flip EFER.NXE; a CR3 write then drops translations cached under the old setting. */
static void set_nxe(int on)
{
	pg_set_nxe(on);
	write_cr3(read_cr3());
}

static void test_nx(void)
{
	uint32_t efer, rsvd = 0x100 | PFERR_RSVD | PFERR_P, fetch_np = 0x100 | PFERR_ID;

	set_nxe(1);
	efer = (uint32_t)rdmsr(MSR_EFER);
	check(efer & EFER_NXE, pg_name("EFER reads 0x%x after NXE is set", efer));
	try_page(READ, 0, 0, P_XD, 0, "an XD page (data reads allowed)");
	try_page(READ, 3, 0, P_XD, 0, "an XD page (data reads allowed)");
	try_page(WRITE, 3, 0, P_XD, 0, "an XD page (data writes allowed)");
	try_page(FETCH, 0, 0, P_XD, 0x100 | PFERR_ID | PFERR_P, "an XD page");
	try_page(FETCH, 3, 0, P_XD, 0x100 | PFERR_ID | PFERR_U | PFERR_P, "an XD page");
	try_page(FETCH, 0, 0, P_XD_SUP, 0x100 | PFERR_ID | PFERR_P, "a supervisor XD page");
	try_page(FETCH, 3, 0, P_XD_SUP, 0x100 | PFERR_ID | PFERR_U | PFERR_P, "a supervisor XD page");
	try_page(READ, 0, R_PDE_XD, 0, 0, "a page under an XD PDE");
	try_page(FETCH, 0, R_PDE_XD, 0, 0x100 | PFERR_ID | PFERR_P, "an XD-clear PTE under an XD PDE");
	try_page(FETCH, 3, R_PDE_XD, 0, 0x100 | PFERR_ID | PFERR_U | PFERR_P,
		 "an XD-clear PTE under an XD PDE");
	try_big(READ, 3, R_BIG_XD, 0, "an XD 2 MiB page");
	try_big(FETCH, 0, R_BIG_XD, 0x100 | PFERR_ID | PFERR_P, "an XD 2 MiB page");
	try_page(FETCH, 3, 0, 4, 0, "a user page without XD, NXE=1");
	/* With NXE the I/D bit marks every fetch fault, not only XD ones. */
	try_page(FETCH, 0, 0, 0, fetch_np, "from a non-present page, NXE=1");
	try_page(FETCH, 3, 0, 0, fetch_np | PFERR_U, "from a non-present page, NXE=1");
	try_page(FETCH, 3, 0, 2, fetch_np | PFERR_U | PFERR_P, "from a supervisor page, NXE=1");
	try_page(FETCH, 0, 0, P_RSVD_M, rsvd | PFERR_ID,
		 pg_name("a PTE with bit %u set, NXE=1", maxphyaddr));
	try_page(READ, 0, 0, P_RSVD_62, rsvd, "a PTE with bit 62 set, NXE=1");
	set_pdpte_present(0);
	try(FETCH, 3, NP_PDPTE_VA, &no_frame, fetch_np | PFERR_U, "under a not-present PDPTE 2, NXE=1");
	set_pdpte_present(1);
	set_nxe(0);
	try_page(FETCH, 0, 0, P_XD, rsvd, "an XD page after NXE is cleared again (bit 63 reserved)");
}

void guest_main(uint32_t magic, void *mbi)
{
	guest_init();
	pg_init();
	maxphyaddr = pg_maxphyaddr();
	check(pg_cpu_pae(), pg_name("CPUID: PAE=%u, MAXPHYADDR=%u", pg_cpu_pae(), maxphyaddr));
	if (!pg_cpu_pae())
		finish();
	pdpt = pae_new_pdpt();
	build_regions();
	pae_enable(pdpt);
	test_matrix();
	test_fetch();
	test_reserved();
	test_big();
	test_pdpte();
	if (pg_cpu_nx())
		test_nx();
	else
		gprintf("# CPUID 0x80000001 EDX bit 20 (NX) is clear: no EFER.NXE, no XD checks\n");
	finish();
}

/*
 * accdirty-pae.c - the Accessed and Dirty bits the processor writes into
 * PAE paging structures (64-bit entries): clear after mapping; A (and not D)
 * after a read or an instruction fetch; A and D after a write, also after an
 * earlier read left the page clean; A in the PDE of a 4 KiB page table and
 * never D there; A and D in the PDE of a 2 MiB page; no D for a write that
 * faults; D for a ring 0 write to a read-only page with CR0.WP clear; A and
 * D set again after the guest clears them and flushes the page with invlpg;
 * and, when the processor sets them, every other bit of the entry kept: the
 * software-available bits 11:9 everywhere, and, if CPUID offers NX, the XD
 * bit (63) of a 4 KiB and a 2 MiB page with EFER.NXE set.
 *
 * Each check prints the bits it found, e.g. "PTE after a read: A=1 D=0", and
 * whether the rest of the entry is as the guest wrote it. The PDPTEs are
 * not looked at: their bit 5 is reserved, and QEMU sets it as an A bit.
 */
#include "../lib/paging.h"

#define REGION 0x40000000u	/* test pages under one PDE, one page each */
#define PDE_REGION 0x40200000u	/* a page table of its own, for the PDE's bits */
#define BIG_REGION 0x40400000u	/* a 2 MiB page */
#define BIG_RO_REGION 0x40600000u	/* a read-only 2 MiB page */
#define BIG_XD_REGION 0x40800000u	/* an XD 2 MiB page (only with NX) */
#define BIG_FRAME 0x01000000u	/* 2 MiB-aligned RAM above the pool */
#define BIG_RO_FRAME 0x01200000u
#define BIG_XD_FRAME 0x01400000u
#define AVAIL 0xe00u		/* bits 11:9, the software's: set in every test entry */

/* The pages of REGION, by index. */
enum {
	PG_READ, PG_WRITE, PG_READ_WRITE, PG_FETCH, PG_RO, PG_RO_WP0, PG_CLEAR, PG_USER, PG_XD,
	N_PAGES
};

static uint64_t *pdpt;
static volatile uint64_t *ptes[N_PAGES];
static uint64_t pte_flags[N_PAGES];	/* what the guest wrote in each PTE, frame aside */
static uint32_t *frames[N_PAGES];

static uint32_t va_of(unsigned page)
{
	return REGION + page * PAGE;
}

/* "A=a D=d" of a paging-structure entry. */
static const char *ad(uint64_t e)
{
	static char buf[2][12];
	static int n;
	char *b = buf[n++ & 1];

	b[0] = 'A', b[1] = '=', b[2] = '0' + !!(e & PG_A);
	b[3] = ' ', b[4] = 'D', b[5] = '=', b[6] = '0' + !!(e & PG_D), b[7] = 0;
	return b;
}

/* Check that entry e has exactly the A and D bits a and d. */
static void check_ad(uint64_t e, uint32_t a, uint32_t d, const char *what)
{
	check((e & (PG_A | PG_D)) == (a | d), pg_name("%s: %s", what, ad(e)));
}

/* Check the A and D bits of entry e, and that its other 64 bits are still was. */
static void check_entry(uint64_t e, uint64_t was, uint32_t a, uint32_t d, const char *what)
{
	uint64_t ad_bits = PG_A | PG_D;
	int kept = (e & ~ad_bits) == (was & ~ad_bits);

	check((e & ad_bits) == (a | d) && kept,
	      pg_name("%s: %s, other bits %s", what, ad(e), kept ? "kept" : "changed"));
}

static void map_pages(int nx)
{
	for (unsigned i = 0; i < N_PAGES; i++) {
		pte_flags[i] = PG_P | PG_US | AVAIL;
		if (i != PG_RO && i != PG_RO_WP0)
			pte_flags[i] |= PG_RW;
		if (i == PG_XD)
			pte_flags[i] |= nx ? PAE_XD : 0;
		frames[i] = pg_alloc();
		ptes[i] = pae_map(pdpt, va_of(i), (uint32_t)frames[i], pte_flags[i]);
	}
	pae_map(pdpt, PDE_REGION, (uint32_t)pg_alloc(), PG_P | PG_RW | PG_US);
	*pae_pde(pdpt, BIG_REGION) = BIG_FRAME | PG_PS | PG_P | PG_RW | PG_US | AVAIL;
	*pae_pde(pdpt, BIG_RO_REGION) = BIG_RO_FRAME | PG_PS | PG_P | PG_US;
	if (nx)
		*pae_pde(pdpt, BIG_XD_REGION) = BIG_XD_FRAME | PAE_XD | PG_PS | PG_P | PG_RW | AVAIL;
}

/* Nothing has touched the test pages yet: every bit the guest did not set is clear. */
static void test_fresh(void)
{
	uint64_t any = 0;

	for (unsigned i = 0; i < N_PAGES; i++)
		any |= *ptes[i];
	check_ad(any, 0, 0, "the test PTEs after mapping (ORed)");
	check_ad(*pae_pde(pdpt, PDE_REGION), 0, 0, "a PDE after mapping");
	check_ad(*pae_pde(pdpt, BIG_REGION), 0, 0, "a 2 MiB PDE after mapping");
}

/* Check PTE i's A and D bits and the rest of it. */
static void check_pte(unsigned i, uint32_t a, uint32_t d, const char *what)
{
	check_entry(*ptes[i], (uint32_t)frames[i] | pte_flags[i], a, d, what);
}

static void test_read_write(void)
{
	uint32_t v;

	pg_load(0, va_of(PG_READ), &v);
	check_pte(PG_READ, PG_A, 0, "PTE after a read");
	pg_store(0, va_of(PG_WRITE), 1);
	check_pte(PG_WRITE, PG_A, PG_D, "PTE after a write (no read before)");
	/* The read leaves a clean translation; the write after it must still set D. */
	pg_load(0, va_of(PG_READ_WRITE), &v);
	check_pte(PG_READ_WRITE, PG_A, 0, "PTE after a read, before a write");
	pg_store(0, va_of(PG_READ_WRITE), 2);
	check_pte(PG_READ_WRITE, PG_A, PG_D, "PTE after a read then a write");
	pg_load(3, va_of(PG_USER), &v);
	check_pte(PG_USER, PG_A, 0, "PTE after a ring 3 read");
	pg_store(3, va_of(PG_USER) + 4, 3);
	check_pte(PG_USER, PG_A, PG_D, "PTE after a ring 3 write");
}

/*
 * A function that returns 0x12345678: mov $0x12345678, %eax; ret. It is
 * copied through the identity map, so only the call touches the test page.
 * (Hand-assembled: a copy of compiled code could hold a rewritten site.)
 */
static const uint8_t ret_code[] = { 0xb8, 0x78, 0x56, 0x34, 0x12, 0xc3 };

static void test_fetch(void)
{
	uint8_t *code = (uint8_t *)frames[PG_FETCH];
	uint32_t ret;

	for (unsigned i = 0; i < sizeof(ret_code); i++)
		code[i] = ret_code[i];
	ret = ((uint32_t (*)(void))va_of(PG_FETCH))();
	check(ret == 0x12345678, pg_name("a call to code copied into a fresh page returns 0x%x", ret));
	check_pte(PG_FETCH, PG_A, 0, "PTE after an instruction fetch");
}

static void test_pde(void)
{
	volatile uint64_t *pde = pae_pde(pdpt, PDE_REGION), *pte = pae_pte(pdpt, PDE_REGION);
	uint64_t pde_was = *pde;
	uint32_t v;

	pg_load(0, PDE_REGION, &v);
	check_entry(*pde, pde_was, PG_A, 0, "PDE of a page table after a read through it");
	pg_store(0, PDE_REGION, 1);
	check_entry(*pde, pde_was, PG_A, 0, "PDE of a page table after a write through it (no D there)");
	check_ad(*pte, PG_A, PG_D, "the PTE under it after that write");
}

static void test_big(void)
{
	volatile uint64_t *pde = pae_pde(pdpt, BIG_REGION);
	uint64_t was = *pde;
	uint32_t v;

	pg_load(0, BIG_REGION + 0x123000, &v);
	check_entry(*pde, was, PG_A, 0, "2 MiB PDE after a read");
	pg_store(0, BIG_REGION + 0x1ff000, 1);
	check_entry(*pde, was, PG_A, PG_D, "2 MiB PDE after a write");
}

/* A write that faults for lack of R/W leaves D clear (A is not specified: not looked at). */
static void check_no_d(uint64_t e, const char *what)
{
	check(!(e & PG_D), pg_name("%s: %s, D=%u", what, pg_fault_str(), !!(e & PG_D)));
}

static void test_faulting_writes(void)
{
	int f;

	f = pg_store(3, va_of(PG_RO), 1);
	check_no_d(f ? *ptes[PG_RO] : PG_D, "PTE after a ring 3 write to a read-only page");
	pg_set_wp(1);
	f = pg_store(0, va_of(PG_RO), 1);
	check_no_d(f ? *ptes[PG_RO] : PG_D, "PTE after a ring 0 write to a read-only page, wp=1");
	pg_set_wp(0);
	f = pg_store(3, BIG_RO_REGION + 0x1000, 1);
	check_no_d(f ? *pae_pde(pdpt, BIG_RO_REGION) : PG_D,
		   "2 MiB PDE after a ring 3 write to a read-only 2 MiB page");
	/* With WP clear ring 0 may write a read-only page, and that write dirties it. */
	f = pg_store(0, va_of(PG_RO_WP0), 1);
	check(!f && (*ptes[PG_RO_WP0] & (PG_A | PG_D)) == (PG_A | PG_D),
	      pg_name("PTE after a ring 0 write to a read-only page, wp=0: %s, %s", pg_fault_str(),
		      ad(*ptes[PG_RO_WP0])));
}

/* Clear A and D in entry e (and A in the PDE above a PTE), flush va, then read and write again. */
static void redo(volatile uint64_t *e, volatile uint64_t *pde, uint32_t va, const char *what)
{
	uint32_t v;

	pg_load(0, va, &v);
	pg_store(0, va, 1);
	*e &= ~(uint64_t)(PG_A | PG_D);
	if (pde)
		*pde &= ~(uint64_t)PG_A;
	invlpg(va);
	pg_load(0, va, &v);
	check_ad(*e, PG_A, 0, pg_name("%s cleared, invlpg, read", what));
	if (pde)
		check_ad(*pde, PG_A, 0, "its PDE, A cleared, after that read");
	pg_store(0, va, 2);
	check_ad(*e, PG_A, PG_D, pg_name("%s after the write that followed", what));
}

static void test_clear_and_redo(void)
{
	redo(ptes[PG_CLEAR], pae_pde(pdpt, REGION), va_of(PG_CLEAR), "PTE");
	redo(pae_pde(pdpt, BIG_REGION), 0, BIG_REGION + 0x2000, "2 MiB PDE");
}

/* Data accesses to XD pages with EFER.NXE set: A and D as for any page, XD (bit 63) kept. */
static void test_xd(void)
{
	volatile uint64_t *big = pae_pde(pdpt, BIG_XD_REGION);
	uint64_t big_was = *big;
	uint32_t v;

	pg_set_nxe(1);
	write_cr3(read_cr3());
	pg_load(0, va_of(PG_XD), &v);
	check_pte(PG_XD, PG_A, 0, "XD PTE after a read");
	pg_store(3, va_of(PG_XD), 1);
	check_pte(PG_XD, PG_A, PG_D, "XD PTE after a ring 3 write");
	pg_load(0, BIG_XD_REGION + 0x100000, &v);
	check_entry(*big, big_was, PG_A, 0, "XD 2 MiB PDE after a read");
	pg_store(0, BIG_XD_REGION + 0x100000, 1);
	check_entry(*big, big_was, PG_A, PG_D, "XD 2 MiB PDE after a write");
	pg_set_nxe(0);
	write_cr3(read_cr3());
}

void guest_main(uint32_t magic, void *mbi)
{
	int nx;

	guest_init();
	pg_init();
	check(pg_cpu_pae(), pg_name("CPUID: PAE=%u", pg_cpu_pae()));
	if (!pg_cpu_pae())
		finish();
	nx = pg_cpu_nx();
	pdpt = pae_new_pdpt();
	map_pages(nx);
	pae_enable(pdpt);
	test_fresh();
	test_read_write();
	test_fetch();
	test_pde();
	test_big();
	test_faulting_writes();
	test_clear_and_redo();
	if (nx)
		test_xd();
	else
		gprintf("# CPUID 0x80000001 EDX bit 20 (NX) is clear: no EFER.NXE, no XD checks\n");
	finish();
}

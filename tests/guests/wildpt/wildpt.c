/*
 * wildpt.c - page tables that misbehave, and a machine that must survive
 * them the same way under QEMU and lilyvm:
 *
 *   - CR3 naming a frame beyond RAM while paging is off: the register keeps
 *     the value and nothing walks it; paging goes back on with a good CR3.
 *     (With paging on, a CR3 beyond RAM makes every walk read "not present"
 *     -- lilyvm reads entries beyond RAM as absent, QEMU reads unassigned
 *     memory as 0 -- so not even the #PF can be delivered: QEMU flushes
 *     global TLB entries on a CR3 write too, and the IDT, the handler and
 *     its stack are all behind the walk. That ends in a triple fault, which
 *     pftriple.sh checks; it cannot be a line in this guest.)
 *   - a PDE naming the page directory itself: the directory is then also
 *     a page table, reads through it return PDEs and PTEs, a PDE written
 *     through it takes effect, and the self PDE gets A (and D for a write)
 *     as the leaf it has become;
 *   - a PTE naming its own page table: the guest edits the table through
 *     that alias (remap, unmap, write-protect, even the alias's own PTE),
 *     invlpg, and the next access sees the change;
 *   - PTEs (and a 4 MiB PDE) naming frames beyond RAM: writes go through
 *     without a fault and A and D are set as for any page; reads are
 *     value-free checks (hardware returns whatever is there).
 *
 * Virtual addresses stay in [0x10000, 0xffffc000); the frames used are in
 * the first 16 MiB.
 */
#include "../lib/paging.h"

#define REGION 0x40000000u	/* a page table edited through its own alias */
#define ALIAS_IDX 1023u		/* REGION's PTE that names REGION's page table */
#define ALIAS_VA (REGION + ALIAS_IDX * PAGE)
#define FAR 0x40400000u		/* 4 KiB pages naming frames beyond RAM */
#define FAR_BIG 0x40800000u	/* a 4 MiB page beyond RAM */
#define NEW_REGION 0x40c00000u	/* a PDE written through the self-map */
#define SELF_IDX 0x3f0u		/* the PDE that names the directory */
#define SELF_BASE (SELF_IDX << 22)	/* 0xfc000000: the page tables, as pages */
#define SELF_PD (SELF_BASE | SELF_IDX << 12)	/* the directory itself */
#define WILD_CR3 0x20000000u	/* 512 MiB: no RAM, no device under QEMU's 128 MiB pc */
#define RAM_END 0x08000000u	/* the first frame past the 128 MiB both give the guest */
#define AD (PG_A | PG_D)
#define MARK 0x3a3a0000u	/* a frame's first word: MARK + its number */
#define OFF 0x40u		/* where the accesses land in a page */

static uint32_t *pd, *region_pt, *frame[4];

static uint32_t load(uint32_t va)
{
	uint32_t v = 0xdeadbeef;

	pg_load(0, va, &v);
	return v;
}

/* The outcome of the last access, checked: a #PF with err at cr2, with EIP at the access. */
static int faulted_with(int faulted, uint32_t err, uint32_t cr2)
{
	return faulted && pg_fault.vector == VEC_PF && pg_fault.err == err && pg_fault.cr2 == cr2 &&
	       pg_fault.eip == pg_fault.at;
}

/* --- CR3 beyond RAM --- */

static void test_wild_cr3_paging_off(void)
{
	write_cr3(WILD_CR3);
	check(read_cr3() == WILD_CR3, "paging off: CR3 0x20000000 (beyond RAM) reads back");
	write_cr3(0xfffff000u);
	check(read_cr3() == 0xfffff000u, "paging off: CR3 0xfffff000 reads back");
}

/* Paging on, then off with a wild CR3, then on again with the directory. */
static void test_wild_cr3_roundtrip(void)
{
	uint32_t ok;

	write_cr0(read_cr0() & ~CR0_PG);
	write_cr3(WILD_CR3);
	ok = read_cr3() == WILD_CR3 && ((volatile uint32_t *)frame[2])[OFF / 4] == MARK + 2;
	write_cr3((uint32_t)pd);
	write_cr0(read_cr0() | CR0_PG);
	ok = ok && load(REGION + 2 * PAGE + OFF) == MARK + 2;
	check(ok, "paging turned off, CR3 beyond RAM, memory used, paging on again with a good CR3");
}

/* --- the page directory as its own page table --- */

static void test_self_map(void)
{
	static const uint32_t pdes[] = { 0, 1, 3, REGION >> 22, SELF_IDX };
	uint32_t *new_pt = pg_alloc(), *new_frame = pg_alloc();
	int faulted;

	pd[SELF_IDX] = (uint32_t)pd | PG_P | PG_RW;	/* supervisor only */
	for (unsigned i = 0; i < sizeof(pdes) / sizeof(pdes[0]); i++) {
		uint32_t k = pdes[i], v = load(SELF_PD + k * 4);

		check((v & ~AD) == (pd[k] & ~AD), pg_name("self-map: word %u of the directory at 0x%x is PDE %u",
							 k, SELF_PD + k * 4, k));
	}
	for (unsigned j = 0; j < 4; j++) {
		uint32_t va = SELF_BASE | (REGION >> 22) << 12 | j * 4;

		check((load(va) & ~AD) == (region_pt[j] & ~AD),
		      pg_name("self-map: 0x%x reads PTE %u of REGION's page table", va, j));
	}
	check(pd[SELF_IDX] & PG_A, "self-map: the self PDE, used as PDE and as PTE, has A");
	check(!(pd[SELF_IDX] & PG_D), "self-map: only reads so far, so the self PDE has no D");

	faulted = pg_load(3, SELF_PD, &(uint32_t){ 0 });
	check(faulted_with(faulted, PFERR_P | PFERR_U, SELF_PD),
	      pg_name("self-map: ring 3 reads the supervisor self-map: %s", pg_fault_str()));

	/* A new PDE, written through the self-map, then used. */
	new_pt[0] = (uint32_t)new_frame | PG_P | PG_RW;
	new_frame[OFF / 4] = 0x5e1f0000u;
	faulted = pg_store(0, SELF_PD + (NEW_REGION >> 22) * 4, (uint32_t)new_pt | PG_P | PG_RW);
	check(!faulted, pg_name("self-map: writing PDE 0x%x through it: %s", NEW_REGION >> 22,
				pg_fault_str()));
	check((pd[NEW_REGION >> 22] & ~AD) == ((uint32_t)new_pt | PG_P | PG_RW),
	      "self-map: the write landed in the directory");
	check(load(NEW_REGION + OFF) == 0x5e1f0000u, "self-map: the new PDE maps its table at once");
	check((pd[SELF_IDX] & AD) == AD, "self-map: the write set A and D in the self PDE (the leaf)");

	/* Unmapped again through the self-map, with invlpg. */
	pg_store(0, SELF_PD + (NEW_REGION >> 22) * 4, 0);
	invlpg(NEW_REGION);
	faulted = pg_load(0, NEW_REGION + OFF, &(uint32_t){ 0 });
	check(faulted_with(faulted, 0, NEW_REGION + OFF),
	      pg_name("self-map: PDE cleared through it, invlpg, read: %s", pg_fault_str()));

	/* REGION's PDE pointed at another table through the self-map, then a CR3 reload. */
	new_pt[0] = (uint32_t)frame[3] | PG_P | PG_RW;
	check(load(REGION + OFF) == MARK + 0, "self-map: REGION page 0 reads frame 0");
	pg_store(0, SELF_PD + (REGION >> 22) * 4, (uint32_t)new_pt | PG_P | PG_RW | PG_US);
	write_cr3(read_cr3());
	check(load(REGION + OFF) == MARK + 3,
	      "self-map: REGION's PDE swapped through it, CR3 reloaded: page 0 reads the new frame");
	pg_store(0, SELF_PD + (REGION >> 22) * 4, (uint32_t)region_pt | PG_P | PG_RW | PG_US);
	write_cr3(read_cr3());
	check(load(REGION + OFF) == MARK + 0, "self-map: swapped back, CR3 reloaded: frame 0 again");
}

/* --- a page table edited through a PTE that names it --- */

static void test_pt_alias(void)
{
	volatile uint32_t *alias = (volatile uint32_t *)ALIAS_VA;
	int faulted;

	check(load(REGION + OFF) == MARK + 0, "alias: page 0 reads frame 0");
	check((load(ALIAS_VA + 4) & ~AD) == ((uint32_t)frame[1] | PG_P | PG_RW),
	      "alias: word 1 of the alias page is PTE 1");

	/* Remap page 0 to frame 1 through the alias. */
	faulted = pg_store(0, ALIAS_VA + 0, (uint32_t)frame[1] | PG_P | PG_RW);
	invlpg(REGION);
	check(!faulted && (region_pt[0] & ~AD) == ((uint32_t)frame[1] | PG_P | PG_RW),
	      "alias: PTE 0 rewritten through the alias lands in the table");
	check(load(REGION + OFF) == MARK + 1, "alias: after invlpg page 0 reads frame 1");

	/* Remap page 3 to frame 0, and reload CR3 instead of invlpg. */
	check(load(REGION + 3 * PAGE + OFF) == MARK + 3, "alias: page 3 reads frame 3");
	alias[3] = (uint32_t)frame[0] | PG_P | PG_RW;
	write_cr3(read_cr3());
	check(load(REGION + 3 * PAGE + OFF) == MARK + 0,
	      "alias: PTE 3 rewritten, CR3 reloaded: page 3 reads frame 0");

	/* Unmap page 1. */
	load(REGION + PAGE + OFF);
	alias[1] = 0;
	invlpg(REGION + PAGE);
	faulted = pg_load(0, REGION + PAGE + OFF, &(uint32_t){ 0 });
	check(faulted_with(faulted, 0, REGION + PAGE + OFF),
	      pg_name("alias: PTE 1 cleared, invlpg, read: %s", pg_fault_str()));

	/* Write-protect page 2 (CR0.WP on, so ring 0 feels it). */
	pg_store(0, REGION + 2 * PAGE + OFF, MARK + 2);
	alias[2] = (uint32_t)frame[2] | PG_P;
	invlpg(REGION + 2 * PAGE);
	pg_set_wp(1);
	faulted = pg_store(0, REGION + 2 * PAGE + OFF, 0xbad);
	check(faulted_with(faulted, PFERR_P | PFERR_W, REGION + 2 * PAGE + OFF) &&
	      frame[2][OFF / 4] == MARK + 2,
	      pg_name("alias: PTE 2 made read-only, invlpg, write with CR0.WP: %s", pg_fault_str()));

	/* The alias write-protects itself. */
	alias[ALIAS_IDX] = (uint32_t)region_pt | PG_P;
	invlpg(ALIAS_VA);
	faulted = pg_store(0, ALIAS_VA + 3 * 4, 0);
	check(faulted_with(faulted, PFERR_P | PFERR_W, ALIAS_VA + 3 * 4) && region_pt[3] != 0,
	      pg_name("alias: its own PTE made read-only through it, invlpg, write: %s", pg_fault_str()));
	check((load(ALIAS_VA + ALIAS_IDX * 4) & ~AD) == ((uint32_t)region_pt | PG_P),
	      "alias: it still reads, and reads its own PTE");
	/* The store that made it read-only replaced it whole (through a dirty TLB entry);
	   the read since set A, the refused write set no D. */
	check((region_pt[ALIAS_IDX] & AD) == PG_A, "alias: its PTE now has A (the read), not D");
	region_pt[ALIAS_IDX] = (uint32_t)region_pt | PG_P | PG_RW;
	invlpg(ALIAS_VA);
	check(!pg_store(0, ALIAS_VA + 2 * 4, (uint32_t)frame[2] | PG_P | PG_RW),
	      "alias: writable again (CR0.WP on) once its PTE is restored and invalidated");
	invlpg(REGION + 2 * PAGE);
	check(!pg_store(0, REGION + 2 * PAGE + OFF, MARK + 2), "alias: page 2 writable again");
	pg_set_wp(0);
}

/* --- frames beyond RAM --- */

/* A read that hardware answers with anything: only that the guest lives on. */
static void far_read(uint32_t va, const char *what)
{
	uint32_t v;
	int faulted = pg_load(0, va, &v);

	check(!faulted || (pg_fault.vector == VEC_PF && pg_fault.cr2 == va),
	      pg_name("beyond RAM: read through %s: the guest lives on", what));
}

static void far_write(int cpl, uint32_t va, volatile uint32_t *entry, const char *what)
{
	int faulted = pg_store(cpl, va, 0x0ff0f00f);

	check(!faulted, pg_name("beyond RAM: ring %d write through %s: %s", cpl, what, pg_fault_str()));
	check((*entry & AD) == AD, pg_name("beyond RAM: %s has A and D after the write", what));
}

static void test_beyond_ram(void)
{
	volatile uint32_t *pte_far = pg_map(pd, FAR, WILD_CR3, PG_P | PG_RW);
	volatile uint32_t *pte_end = pg_map(pd, FAR + PAGE, RAM_END, PG_P | PG_RW | PG_US);
	volatile uint32_t *pte_top = pg_map(pd, FAR + 2 * PAGE, 0xfffff000u, PG_P | PG_RW);
	volatile uint32_t *pde_big = pg_pde(pd, FAR_BIG);
	struct table_ptr saved;

	far_write(0, FAR + OFF, pte_far, "a PTE naming frame 0x20000000");
	far_read(FAR + OFF, "a PTE naming frame 0x20000000");
	far_write(3, FAR + PAGE + OFF, pte_end, "a user PTE naming frame 0x8000000, RAM's end");
	far_read(FAR + PAGE + OFF, "a PTE naming frame 0x8000000");
	far_write(0, FAR + 2 * PAGE + 0xffc, pte_top, "a PTE naming frame 0xfffff000");
	far_read(FAR + 2 * PAGE + 0xffc, "a PTE naming frame 0xfffff000");

	/* A whole page of string stores, and descriptor-table stores the monitor makes. */
	pg_fill((void *)FAR, 0x11111111);
	check(1, "beyond RAM: a page of rep stosl into frame 0x20000000: the guest lives on");
	__asm__ volatile("sgdt %0" : "=m"(*(struct table_ptr *)(FAR + 0x100)));
	__asm__ volatile("sidt %0" : "=m"(*(struct table_ptr *)(FAR + 0x200)));
	__asm__ volatile("sgdt %0" : "=m"(saved));
	check(saved.limit != 0, "beyond RAM: sgdt and sidt into frame 0x20000000: the guest lives on");

	/* A 4 MiB page just past RAM. */
	pg_set_pse(1);
	*pde_big = RAM_END | PG_PS | PG_P | PG_RW;
	far_write(0, FAR_BIG + 0x3ffffc, pde_big, "a 4 MiB PDE naming 0x8000000");
	far_write(0, FAR_BIG + 0x1234, pde_big, "a 4 MiB PDE naming 0x8000000 (low page)");
	far_read(FAR_BIG + 0x200000, "a 4 MiB PDE naming 0x8000000");
	*pde_big = 0;
	invlpg(FAR_BIG);
	pg_set_pse(0);
}

void guest_main(uint32_t magic, void *mbi)
{
	guest_init();
	pg_init();
	pd = pg_new_directory();
	region_pt = pg_alloc();
	*pg_pde(pd, REGION) = (uint32_t)region_pt | PG_P | PG_RW | PG_US;
	for (unsigned i = 0; i < 4; i++) {
		frame[i] = pg_alloc();
		frame[i][OFF / 4] = MARK + i;
		pg_map(pd, REGION + i * PAGE, (uint32_t)frame[i], PG_P | PG_RW);
	}
	region_pt[ALIAS_IDX] = (uint32_t)region_pt | PG_P | PG_RW;
	test_wild_cr3_paging_off();
	pg_enable(pd);
	test_wild_cr3_roundtrip();
	test_self_map();
	test_pt_alias();
	test_beyond_ram();
	finish();
}

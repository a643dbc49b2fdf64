/*
 * bigpages.c - 4 MiB pages and global pages, and which changes to the page
 * tables take effect when. A 4 MiB page (CR4.PSE, PDE.PS) and 1024 4 KiB
 * pages over the same frames read back each other's writes; with CR4.PSE
 * clear, PDE.PS is ignored. Global pages (CR4.PGE, PTE.G) read right across
 * CR3 reloads. A PTE change shows after a CR3 write (non-global pages),
 * after invlpg (global or not) and after toggling CR4.PGE. Less permission
 * shows after invlpg (the access faults); more permission shows even
 * without one (no fault). That stale translations survive until a flush is
 * allowed, not required, so it is never tested.
 */
#include "../lib/paging.h"

#define SMALL_ALIAS 0x40000000u	/* 1024 4 KiB pages over BIG_FRAME */
#define GLOBAL_REGION 0x40400000u	/* 4 KiB pages, global and not, and permission tests */
#define BIG_ALIAS 0x40800000u	/* one 4 MiB page over BIG_FRAME */
#define NO_PSE_REGION 0x40c00000u	/* a PDE with PS set, read with CR4.PSE clear */
#define BIG_GLOBAL 0x41000000u	/* a global 4 MiB page */
#define BIG_FRAME 0x01000000u	/* 4 MiB-aligned RAM above the pool */
#define BIG_FRAME2 0x01400000u
#define PS_TABLE 0x01800000u	/* a page table, also read as a 4 MiB page */

/* GLOBAL_REGION's pages, by index. */
enum { GP_GLOBAL, GP_LOCAL, GP_LOCAL2, GP_GLOBAL2, GP_PERM, GP_PERM_GLOBAL };

static uint32_t *pd;

static uint32_t read_word(uint32_t va)
{
	uint32_t v = 0xdeadbeef;

	pg_load(0, va, &v);
	return v;
}

/* A fresh frame whose first word is its own address, scrambled. */
static uint32_t marked_frame(void)
{
	uint32_t *f = pg_alloc();

	f[0] = (uint32_t)f ^ 0x6a6a0000;
	return (uint32_t)f;
}

static uint32_t mark_of(uint32_t frame)
{
	return frame ^ 0x6a6a0000;
}

/* --- 4 MiB pages --- */

static void map_aliases(void)
{
	for (uint32_t i = 0; i < 1024; i++)
		pg_map(pd, SMALL_ALIAS + i * PAGE, BIG_FRAME + i * PAGE, PG_P | PG_RW);
	*pg_pde(pd, BIG_ALIAS) = BIG_FRAME | PG_PS | PG_P | PG_RW;
}

/* Write one word per 4 KiB page through alias from, read each back through alias to. */
static unsigned alias_round(uint32_t from, uint32_t to, uint32_t seed)
{
	unsigned agree = 0;

	for (uint32_t i = 0; i < 1024; i++) {
		uint32_t off = i * PAGE + (i * 4 + seed) % PAGE;

		pg_store(0, from + off, seed ^ i * 0x9e3779b9u);
	}
	for (uint32_t i = 0; i < 1024; i++) {
		uint32_t off = i * PAGE + (i * 4 + seed) % PAGE;

		agree += read_word(to + off) == (seed ^ i * 0x9e3779b9u);
	}
	return agree;
}

static void test_big_aliases(void)
{
	unsigned n;

	n = alias_round(BIG_ALIAS, SMALL_ALIAS, 0x100);
	check(n == 1024, pg_name("writes through a 4 MiB page read back through 4 KiB pages: "
				 "%u of 1024 pages agree", n));
	n = alias_round(SMALL_ALIAS, BIG_ALIAS, 0x204);
	check(n == 1024, pg_name("writes through 4 KiB pages read back through a 4 MiB page: "
				 "%u of 1024 pages agree", n));
}

/*
 * A page table at a 4 MiB boundary (so that, read as a 4 MiB PDE, bits 21:13
 * are clear: with PSE-36 they would be physical address bits 39:32, or
 * reserved). Written before paging is on, through its physical address.
 */
static uint32_t ps_small;

static void prepare_ps_table(void)
{
	ps_small = marked_frame();
	*(volatile uint32_t *)PS_TABLE = ps_small | PG_P | PG_RW;
	*pg_pde(pd, NO_PSE_REGION) = PS_TABLE | PG_PS | PG_P | PG_RW;
}

/*
 * The same PDE with PS set: with CR4.PSE clear it names a page table, whose
 * first PTE maps ps_small; with CR4.PSE set it maps 4 MiB from PS_TABLE, so
 * the same address reads that first PTE itself, with the A bit the first
 * read set in it.
 */
static void test_ps_ignored(void)
{
	uint32_t seen;

	pg_set_pse(0);
	write_cr3((uint32_t)pd);	/* the SDM does not promise that a CR4.PSE change flushes */
	seen = read_word(NO_PSE_REGION);
	check(seen == mark_of(ps_small), pg_name("with CR4.PSE clear, PDE.PS is ignored: "
						 "the PDE names a page table (read 0x%x)", seen));
	pg_set_pse(1);
	write_cr3((uint32_t)pd);
	seen = read_word(NO_PSE_REGION);
	check(seen == (ps_small | PG_P | PG_RW | PG_A),
	      pg_name("with CR4.PSE set, the same PDE maps a 4 MiB page (read 0x%x)", seen));
}

/* --- global pages and flushes --- */

static void test_global_across_cr3(void)
{
	uint32_t frame = marked_frame(), big_seen, good = 0;

	pg_map(pd, GLOBAL_REGION + GP_GLOBAL * PAGE, frame, PG_P | PG_RW | PG_G);
	*pg_pde(pd, BIG_GLOBAL) = BIG_FRAME2 | PG_PS | PG_P | PG_RW | PG_G;
	pg_store(0, BIG_GLOBAL + 0x3ff000, 0x4b16);
	for (int i = 0; i < 3; i++) {
		write_cr3((uint32_t)pd);
		good += read_word(GLOBAL_REGION + GP_GLOBAL * PAGE) == mark_of(frame);
	}
	check(good == 3, pg_name("a global 4 KiB page reads its frame across CR3 reloads: %u of 3",
				 good));
	write_cr3((uint32_t)pd);
	big_seen = read_word(BIG_GLOBAL + 0x3ff000);
	check(big_seen == 0x4b16, pg_name("a global 4 MiB page reads its frame after a CR3 reload: 0x%x",
					  big_seen));
}

/*
 * Map page idx of GLOBAL_REGION to one frame and read it (so it is in the
 * TLB), then point its PTE at another frame, flush with how, and read again.
 */
static void remap(unsigned idx, uint32_t g, void (*flush)(uint32_t va), const char *what)
{
	uint32_t va = GLOBAL_REGION + idx * PAGE, first = marked_frame(), second = marked_frame();
	volatile uint32_t *pte = pg_map(pd, va, first, PG_P | PG_RW | g);
	uint32_t before, after;

	invlpg(va);
	before = read_word(va);
	*pte = second | PG_P | PG_RW | g;
	flush(va);
	after = read_word(va);
	check(before == mark_of(first) && after == mark_of(second),
	      pg_name("%s PTE changed, %s: reads %s", g ? "global" : "non-global", what,
		      before != mark_of(first) ? "wrong before the change"
		      : after == mark_of(second) ? "the new frame" : "not the new frame"));
}

static void flush_cr3(uint32_t va) { write_cr3(read_cr3()); }
static void flush_invlpg(uint32_t va) { invlpg(va); }
static void flush_pge(uint32_t va) { pg_set_pge(0); pg_set_pge(1); }

static void test_remaps(void)
{
	remap(GP_LOCAL, 0, flush_cr3, "CR3 written");
	remap(GP_LOCAL2, 0, flush_invlpg, "invlpg");
	remap(GP_GLOBAL2, PG_G, flush_invlpg, "invlpg");
	remap(GP_GLOBAL2, PG_G, flush_pge, "CR4.PGE cleared and set");
}

/* --- permission changes --- */

static void expect(int faulted, uint32_t want_err, uint32_t va, const char *what)
{
	int ok = want_err == PG_NO_FAULT ? !faulted
		 : faulted && pg_fault.vector == VEC_PF && pg_fault.err == want_err && pg_fault.cr2 == va;

	check(ok, pg_name("%s: %s", what, pg_fault_str()));
}

/* Less permission with invlpg faults; more permission without it does not. */
static void perm_changes(uint32_t va, volatile uint32_t *e, const char *kind)
{
	uint32_t v;

	*e |= PG_RW | PG_US;
	invlpg(va);
	expect(pg_store(0, va, 1), PG_NO_FAULT, va, pg_name("%s writable: r0 write", kind));
	*e &= ~PG_RW;
	invlpg(va);
	expect(pg_store(0, va, 2), PFERR_P | PFERR_W, va, pg_name("%s made read-only, invlpg: r0 write", kind));
	*e &= ~PG_US;
	invlpg(va);
	expect(pg_load(3, va, &v), PFERR_P | PFERR_U, va, pg_name("%s made supervisor, invlpg: r3 read", kind));
	*e &= ~PG_P;
	invlpg(va);
	expect(pg_load(0, va, &v), 0, va, pg_name("%s made not present, invlpg: r0 read", kind));
	/* No TLB holds a non-present entry: present again needs no flush (SDM 4.10.4.3). */
	*e |= PG_P;
	expect(pg_load(0, va, &v), PG_NO_FAULT, va, pg_name("%s present again, no invlpg: r0 read", kind));
	/*
	 * The read above cached a read-only supervisor translation. The SDM
	 * allows one spurious #PF for R/W or U/S raised without a flush;
	 * QEMU (a re-walk before any fault) gives none, and so must lilyvm.
	 */
	*e |= PG_RW;
	expect(pg_store(0, va, 3), PG_NO_FAULT, va, pg_name("%s made writable, no invlpg: r0 write", kind));
	*e |= PG_US;
	expect(pg_load(3, va, &v), PG_NO_FAULT, va, pg_name("%s made user, no invlpg: r3 read", kind));
}

static void test_permissions(void)
{
	uint32_t va = GLOBAL_REGION + GP_PERM * PAGE, gva = GLOBAL_REGION + GP_PERM_GLOBAL * PAGE;
	uint32_t big_va = BIG_ALIAS + 0x5000;

	pg_set_wp(1);
	perm_changes(va, pg_map(pd, va, marked_frame(), PG_P | PG_RW), "PTE");
	perm_changes(gva, pg_map(pd, gva, marked_frame(), PG_P | PG_RW | PG_G), "global PTE");
	perm_changes(big_va, pg_pde(pd, BIG_ALIAS), "4 MiB PDE");
	pg_set_wp(0);
}

void guest_main(uint32_t magic, void *mbi)
{
	guest_init();
	pg_init();
	pd = pg_new_directory();
	map_aliases();
	prepare_ps_table();
	pg_set_pse(1);
	pg_enable(pd);
	pg_set_pge(1);
	test_big_aliases();
	test_ps_ignored();
	test_global_across_cr3();
	test_remaps();
	test_permissions();
	finish();
}

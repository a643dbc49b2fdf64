/*
 * aspaces.c - several address spaces: two page directories with different
 * frames at the same address, switched 10,000 times; copy-on-write of a
 * frame the two share read-only (the #PF handler copies it and retries the
 * write, from ring 3 and from ring 0 with CR0.WP set); 1 GiB of virtual
 * memory over 64 MiB of frames, each frame mapped 16 times, written page by
 * page and read back; and a page directory that maps itself, so that the
 * page tables can be read and written through the paging structures.
 */
#include "../lib/paging.h"

#define SHARED_VA 0x40000000u	/* a different frame in each space */
#define COW_VA 0x40001000u	/* one frame, read-only in both spaces */
#define REMAP_VA 0x40002000u	/* remapped through the recursive window */
#define SWITCHES 10000u

#define BIG_VA 0x40000000u	/* 1 GiB over ... */
#define BIG_PAGES 0x40000u	/* ... 262144 pages ... */
#define DATA_FRAME 0x01000000u	/* ... of 16384 frames from 16 MiB to 80 MiB */
#define DATA_FRAMES 0x4000u
#define ALIASES (BIG_PAGES / DATA_FRAMES)

/* The directory maps itself at slot REC: its page tables appear from REC_BASE. */
#define REC 0x3feu
#define REC_BASE (REC << 22)	/* 0xff800000; the directory is at 0xffbfe000, below 0xffffc000 */

static uint32_t *space_a, *space_b, *space_big;

/* A directory with the identity map and a frame of its own at SHARED_VA. */
static uint32_t *new_space(void)
{
	uint32_t *pd = pg_new_directory();

	pg_map(pd, SHARED_VA, (uint32_t)pg_alloc(), PG_P | PG_RW | PG_US);
	return pd;
}

/* --- switching --- */

/* In each space, read back what was last written there, then write something new. */
static void test_switching(void)
{
	uint32_t last[2] = { 0, 0 }, right[2] = { 0, 0 }, *pds[2] = { space_a, space_b };

	for (int s = 0; s < 2; s++) {
		write_cr3((uint32_t)pds[s]);
		pg_store(0, SHARED_VA, 0);
	}
	for (uint32_t i = 0; i < SWITCHES; i++)
		for (int s = 0; s < 2; s++) {
			uint32_t v = 0xdead;

			write_cr3((uint32_t)pds[s]);
			pg_load(0, SHARED_VA, &v);
			right[s] += v == last[s];
			last[s] = i << 1 | s;
			pg_store(0, SHARED_VA, last[s]);
		}
	check(right[0] == SWITCHES && right[1] == SWITCHES,
	      pg_name("%u switches of CR3 between two spaces at 0x%x: %u right in A, %u right in B",
		      SWITCHES, SHARED_VA, right[0], right[1]));
}

/* --- copy-on-write --- */

static volatile struct {
	uint32_t faults, err, cr2;
} cow;

/* A write fault on COW_VA: give the current space a private copy, writable, and retry. */
static void on_page_fault(struct trap_frame *f)
{
	uint32_t cr2 = read_cr2();
	volatile uint32_t *pte;
	uint32_t *copy;

	if ((cr2 & PG_FRAME) != COW_VA || (f->error & (PFERR_P | PFERR_W)) != (PFERR_P | PFERR_W)) {
		pg_on_fault(f);
		return;
	}
	pte = pg_pte((uint32_t *)read_cr3(), cr2);
	copy = pg_alloc();
	pg_copy(copy, (void *)(*pte & PG_FRAME));
	*pte = (uint32_t)copy | PG_P | PG_RW | PG_US;
	invlpg(cr2);
	cow.faults++;
	cow.err = f->error;
	cow.cr2 = cr2;
}

static uint32_t read_at(int cpl, uint32_t va)
{
	uint32_t v = 0xdead;

	pg_load(cpl, va, &v);
	return v;
}

/* A write to COW_VA in the current space from ring cpl: one COW fault, then the write is there. */
static void cow_write(int cpl, uint32_t val, const char *space)
{
	int faulted;

	cow.faults = 0;
	cow.err = cow.cr2 = 0xdead;
	faulted = pg_store(cpl, COW_VA + 8, val);
	check(!faulted && cow.faults == 1 && cow.cr2 == COW_VA + 8 &&
	      cow.err == (PFERR_P | PFERR_W | (cpl ? PFERR_U : 0)),
	      pg_name("r%d write to the shared read-only page in %s: %u copy-on-write fault, "
		      "err=%x cr2=0x%x", cpl, space, cow.faults, cow.err, cow.cr2));
}

static void test_copy_on_write(void)
{
	uint32_t *shared = pg_alloc(), a_sees, b_sees;

	shared[0] = 0x5a5a0001;
	shared[2] = 0x5a5a0003;
	pg_map(space_a, COW_VA, (uint32_t)shared, PG_P | PG_US);
	pg_map(space_b, COW_VA, (uint32_t)shared, PG_P | PG_US);
	set_handler(VEC_PF, on_page_fault);

	write_cr3((uint32_t)space_a);
	cow_write(3, 0xaaaa0003, "A");
	check(read_at(3, COW_VA + 8) == 0xaaaa0003 && read_at(3, COW_VA) == 0x5a5a0001,
	      "A reads its write, and the rest of the frame copied");
	write_cr3((uint32_t)space_b);
	b_sees = read_at(0, COW_VA + 8);
	check(b_sees == 0x5a5a0003, pg_name("B still reads the shared frame: 0x%x", b_sees));
	pg_set_wp(1);
	cow_write(0, 0xbbbb0003, "B");
	pg_set_wp(0);
	b_sees = read_at(0, COW_VA + 8);
	write_cr3((uint32_t)space_a);
	a_sees = read_at(0, COW_VA + 8);
	check(a_sees == 0xaaaa0003 && b_sees == 0xbbbb0003 && shared[2] == 0x5a5a0003,
	      pg_name("the spaces now differ: A reads 0x%x, B 0x%x, the shared frame 0x%x",
		      a_sees, b_sees, shared[2]));
	set_handler(VEC_PF, pg_on_fault);
}

/* --- 1 GiB over 64 MiB --- */

static uint32_t value_of(uint32_t page)
{
	return page * 0x9e3779b1u + 0x1234567;	/* odd multiplier: distinct for every page */
}

static void map_big(void)
{
	space_big = pg_new_directory();
	for (uint32_t i = 0; i < BIG_PAGES; i++)
		pg_map(space_big, BIG_VA + i * PAGE, DATA_FRAME + (i % DATA_FRAMES) * PAGE, PG_P | PG_RW);
}

/*
 * Page i writes its value at offset 0, shared by the 16 pages of its frame
 * (the last one, in the last 64 MiB, wins), and at a slot of its own, offset
 * 4 * (1 + i / DATA_FRAMES), which no other page writes.
 */
static void test_big_space(void)
{
	uint32_t last_ok = 0, own_ok = 0, first_bad = 0;

	write_cr3((uint32_t)space_big);
	for (uint32_t i = 0; i < BIG_PAGES; i++) {
		uint32_t va = BIG_VA + i * PAGE;

		pg_store(0, va, value_of(i));
		pg_store(0, va + 4 * (1 + i / DATA_FRAMES), value_of(i));
	}
	for (uint32_t i = 0; i < BIG_PAGES; i++) {
		uint32_t va = BIG_VA + i * PAGE, last = (ALIASES - 1) * DATA_FRAMES + i % DATA_FRAMES;
		int ok0 = read_at(0, va) == value_of(last);
		int ok1 = read_at(0, va + 4 * (1 + i / DATA_FRAMES)) == value_of(i);

		last_ok += ok0;
		own_ok += ok1;
		if (!(ok0 && ok1) && !first_bad)
			first_bad = va;
	}
	write_cr3((uint32_t)space_a);
	check(last_ok == BIG_PAGES, pg_name("1 GiB over 64 MiB of frames: %u of %u pages read "
					    "their frame's last write", last_ok, BIG_PAGES));
	check(own_ok == BIG_PAGES, pg_name("1 GiB over 64 MiB of frames: %u of %u pages read their "
					   "own slot; first wrong page: %s", own_ok, BIG_PAGES,
					   first_bad ? pg_name("0x%x", first_bad) : "none"));
}

/* --- a directory that maps itself --- */

static uint32_t pte_window(uint32_t va)
{
	return REC_BASE + (va >> 12) * 4;
}

static uint32_t pde_window(uint32_t va)
{
	return REC_BASE + REC * PAGE + (va >> 22) * 4;
}

static void test_recursive(void)
{
	uint32_t pte, pde, self, *frame = pg_alloc(), seen;

	space_a[REC] = (uint32_t)space_a | PG_P | PG_RW;
	write_cr3((uint32_t)space_a);
	pte = read_at(0, pte_window(SHARED_VA));
	check(pte == *pg_pte(space_a, SHARED_VA),
	      pg_name("the PTE of 0x%x read at 0x%x through the self-map: 0x%x", SHARED_VA,
		      pte_window(SHARED_VA), pte));
	pde = read_at(0, pde_window(SHARED_VA));
	check(pde == space_a[SHARED_VA >> 22],
	      pg_name("its PDE read at 0x%x: 0x%x", pde_window(SHARED_VA), pde));
	self = read_at(0, pde_window(REC_BASE));
	check((self & PG_FRAME) == (uint32_t)space_a,
	      pg_name("the self-map entry names the directory: frame 0x%x", self & PG_FRAME));
	/* A PTE written through the window, then the page flushed, maps the new frame. */
	frame[0] = 0x7ec0ffee;
	pg_store(0, pte_window(REMAP_VA), (uint32_t)frame | PG_P | PG_RW);
	invlpg(REMAP_VA);
	seen = read_at(0, REMAP_VA);
	check(seen == 0x7ec0ffee && (*pg_pte(space_a, REMAP_VA) & PG_FRAME) == (uint32_t)frame,
	      pg_name("a PTE written through the self-map maps 0x%x: read 0x%x", REMAP_VA, seen));
}

void guest_main(uint32_t magic, void *mbi)
{
	guest_init();
	pg_init();
	space_a = new_space();
	space_b = new_space();
	map_big();
	pg_enable(space_a);
	test_switching();
	test_copy_on_write();
	test_big_space();
	test_recursive();
	finish();
}

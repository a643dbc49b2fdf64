/*
 * test-walk.c - mmu_translate() for 32-bit paging (CR4.PAE clear) over page
 * tables built in a fake guest RAM: a malloc'd buffer of exactly the RAM's
 * size, so that valgrind sees any read past it; one more RAM ends right at a
 * PROT_NONE page, so that such a read also kills a plain run.
 *
 * What each check expects is worked out here from the rules of the Intel
 * SDM vol. 3A (4.3 32-bit paging, 4.6 access rights, 4.7 #PF error code,
 * 4.8 Accessed and Dirty flags, 4.10.2.4 global pages), not from walk.c:
 *   - a supervisor-mode read may read any translated address; a
 *     supervisor-mode write may write any when CR0.WP is clear, and only
 *     where R/W is set at both levels when it is set;
 *   - a user-mode access needs U/S at both levels, a user-mode write R/W at
 *     both levels as well, whatever CR0.WP says;
 *   - the error code has P for a protection (or reserved-bit) violation and
 *     not for a non-present entry, W for a write, U for a user-mode access,
 *     RSVD for a reserved bit (bit 21 of a PDE mapping 4 MiB); without PAE
 *     nor SMEP an instruction fetch is a read and I/D stays clear;
 *   - a PDE that points to a page table is used (so gets A) before the PTE
 *     is read; a leaf gets A, and D for a write, only when the access is
 *     allowed; D means nothing in a PDE that points to a page table;
 *   - CR4.PSE off: PDE.PS is ignored; on: PS maps 4 MiB at PDE bits 31:22,
 *     with PDE bits 20:13 as physical bits 39:32 (PSE-36);
 *   - G matters only in a leaf and only with CR4.PGE.
 * Paging-structure entries beyond RAM read as not present (mmu.h); a leaf
 * naming a frame beyond RAM is a valid translation (the walk reads nothing
 * there).
 *
 * Output is TAP; the exit status is 1 if any check failed.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mmu-emu/mmu.h"

/* The main fake RAM: 2 MiB + 128 KiB, so that a page table may sit at an address with bit 21. */
#define RAM_BYTES 0x220000u
#define PD 0x1000u		/* the page directory */
#define PT 0x2000u		/* a page table */
#define FRAME 0x5000u		/* a data frame */
#define PT_B21 0x203000u	/* a page table whose address has bit 21 set */
#define LIN 0x00c07567u		/* PDE 3, PTE 7, offset 0x567 */

#define PDE_IDX(lin) ((lin) >> 22)
#define PTE_IDX(lin) (((lin) >> 12) & 0x3ffu)

#define P PTE_P
#define RW PTE_RW
#define US PTE_US
#define A PTE_A
#define D PTE_D
#define PS PTE_PS
#define G PTE_G
#define B21 0x00200000u

static int failures, checks;
static uint8_t *ram_buf;
static struct mmu_ram ram;
static struct mmu_regs regs;

static void check(int ok, const char *fmt, ...)
{
	va_list ap;

	printf("%sok %d - ", ok ? "" : "not ", ++checks);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	failures += !ok;
}

static void diag(const char *fmt, ...)
{
	va_list ap;

	printf("#   ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* --- the fake RAM --- */

static void put(uint64_t gpa, uint32_t v)
{
	memcpy(ram.base + gpa, &v, 4);
}

static uint32_t get(uint64_t gpa)
{
	uint32_t v;

	memcpy(&v, ram.base + gpa, 4);
	return v;
}

static void use_ram(uint8_t *base, uint64_t bytes)
{
	ram.base = base;
	ram.bytes = bytes;
	memset(base, 0, bytes);
}

static void main_ram(void)
{
	use_ram(ram_buf, RAM_BYTES);
}

/* 32-bit paging: CR4.PAE stays clear here (and EFER.NXE unless a check sets it). */
static void set_regs(uint32_t cr0, uint32_t cr3, uint32_t cr4)
{
	memset(&regs, 0, sizeof(regs));
	regs.cr0 = cr0 | CR0_PG_BIT;
	regs.cr3 = cr3;
	regs.cr4 = cr4;
}

/* Point the PDE for lin at a page table, and the PTE there at a frame. */
static void map4k(uint32_t pd, uint32_t lin, uint32_t pde, uint32_t pte)
{
	put(pd + PDE_IDX(lin) * 4, pde);
	if (pde & P)
		put((pde & 0xfffff000u) + PTE_IDX(lin) * 4, pte);
}

/* One translation; x is zeroed first, and poisoned err tells whether it was written. */
struct res {
	int rc;
	uint32_t err;
	struct mmu_xlat x;
};

static struct res walk(uint32_t lin, unsigned access)
{
	struct res r;

	memset(&r, 0, sizeof(r));
	r.err = 0xdeadbeef;
	r.rc = mmu_translate(&regs, &ram, lin, access, &r.x, &r.err);
	return r;
}

static const char *acc_name(unsigned access)
{
	static char buf[4][48];
	static int n;
	char *b = buf[n++ % 4];

	snprintf(b, sizeof(buf[0]), "%s %s%s", access & MMU_USER ? "user" : "supervisor",
		 access & MMU_FETCH ? "fetch" : access & MMU_WRITE ? "write" : "read",
		 access & MMU_PEEK ? " (peek)" : "");
	return b;
}

/* The error code an access gets (SDM 4.7), for a non-present entry or a violation. */
static uint32_t want_err(unsigned access, int protection, int rsvd)
{
	uint32_t e = 0;

	if (protection || rsvd)
		e |= PFERR_P;
	if (access & MMU_WRITE)
		e |= PFERR_W;
	if (access & MMU_USER)
		e |= PFERR_U;
	if (rsvd)
		e |= PFERR_RSVD;
	return e;
}

/* A translation that must fail with error code want; says why if not. */
static int faults(struct res r, uint32_t want)
{
	if (r.rc != -1) {
		diag("rc %d, expected -1 (a #PF)", r.rc);
		return 0;
	}
	if (r.err != want) {
		diag("error code %#x, expected %#x", r.err, want);
		return 0;
	}
	return 1;
}

/* A translation that must succeed to gpa in a page of size at page_gpa. */
static int maps(struct res r, uint32_t lin, uint64_t gpa, uint32_t size)
{
	if (r.rc != 0) {
		diag("rc %d err %#x, expected a translation", r.rc, r.err);
		return 0;
	}
	if (r.x.gpa != gpa || r.x.page_size != size || r.x.page_gpa != (gpa & ~(uint64_t)(size - 1)) ||
	    r.x.page_lin != (lin & ~(size - 1))) {
		diag("gpa %#llx page %#x -> %#llx size %#x; expected gpa %#llx size %#x",
		     (unsigned long long)r.x.gpa, r.x.page_lin, (unsigned long long)r.x.page_gpa,
		     r.x.page_size, (unsigned long long)gpa, size);
		return 0;
	}
	return 1;
}

static int entry_is(const char *what, uint64_t gpa, uint32_t want)
{
	uint32_t v = get(gpa);

	if (v != want)
		diag("%s at %#llx is %#x, expected %#x", what, (unsigned long long)gpa, v, want);
	return v == want;
}

/* --- SDM 4.6.1, written out for 32-bit paging without SMEP, SMAP or PKE --- */

static int sdm_allows(uint32_t pde, uint32_t pte, unsigned access, int wp)
{
	int user_page = (pde & US) && (pte & US);	/* "user-mode address" */
	int writable_page = (pde & RW) && (pte & RW);	/* R/W = 1 in every entry */
	int write = (access & MMU_WRITE) != 0;

	if (access & MMU_USER) {
		/* User-mode accesses: reads (and fetches) only from user-mode addresses;
		   writes only to user-mode addresses that are writable at every level. */
		if (!user_page)
			return 0;
		return write ? writable_page : 1;
	}
	/* Supervisor-mode: reads and fetches from any address (no SMEP/SMAP). */
	if (!write)
		return 1;
	/* Supervisor-mode writes: CR0.WP=0 any address; CR0.WP=1 only writable ones. */
	if (!wp)
		return 1;
	return writable_page;
}

static const char *rights(uint32_t e)
{
	static const char *n[4] = { "s-ro", "s-rw", "u-ro", "u-rw" };

	return n[((e & US) ? 2 : 0) | ((e & RW) ? 1 : 0)];
}

/* --- the checks --- */

static const unsigned accesses[4] = { 0, MMU_WRITE, MMU_USER, MMU_USER | MMU_WRITE };

/* Every U/S and R/W at PDE and PTE, for each access kind, CR0.WP off and on. */
static void test_matrix_4k(void)
{
	for (unsigned pde_r = 0; pde_r < 4; pde_r++)
		for (unsigned pte_r = 0; pte_r < 4; pte_r++)
			for (unsigned a = 0; a < 4; a++)
				for (int wp = 0; wp < 2; wp++) {
					uint32_t pde_f = (pde_r & 1 ? RW : 0) | (pde_r & 2 ? US : 0);
					uint32_t pte_f = (pte_r & 1 ? RW : 0) | (pte_r & 2 ? US : 0);
					unsigned access = accesses[a];
					int write = access & MMU_WRITE;
					int allowed = sdm_allows(pde_f, pte_f, access, wp);
					uint32_t pde_at = PD + PDE_IDX(LIN) * 4, pte_at = PT + PTE_IDX(LIN) * 4;
					struct res r;
					int ok;

					main_ram();
					set_regs(wp ? CR0_WP_BIT : 0, PD, 0);
					map4k(PD, LIN, PT | P | pde_f, FRAME | P | pte_f);
					r = walk(LIN, access);
					if (allowed) {
						ok = maps(r, LIN, FRAME + (LIN & 0xfff), MMU_PAGE);
						ok = ok && r.x.user == ((pde_f & US) && (pte_f & US));
						ok = ok && r.x.writable == ((pde_f & RW) && (pte_f & RW));
						ok = ok && r.x.dirty == !!write && !r.x.global;
						ok = entry_is("PDE", pde_at, PT | P | pde_f | A) && ok;
						ok = entry_is("PTE", pte_at, FRAME | P | pte_f | A | (write ? D : 0)) && ok;
					} else {
						ok = faults(r, want_err(access, 1, 0));
						ok = entry_is("PDE", pde_at, PT | P | pde_f | A) && ok;
						ok = entry_is("PTE", pte_at, FRAME | P | pte_f) && ok;
					}
					check(ok, "4K pde=%s pte=%s %s wp=%d: %s", rights(pde_f), rights(pte_f),
					      acc_name(access), wp, allowed ? "allowed, A (and D on write) set" :
					      "#PF P, PDE A set, PTE untouched");
				}
}

/* The same for 4 MiB pages (one level of rights). */
static void test_matrix_4m(void)
{
	for (unsigned pde_r = 0; pde_r < 4; pde_r++)
		for (unsigned a = 0; a < 4; a++)
			for (int wp = 0; wp < 2; wp++) {
				uint32_t f = (pde_r & 1 ? RW : 0) | (pde_r & 2 ? US : 0);
				unsigned access = accesses[a];
				int write = access & MMU_WRITE;
				int allowed = sdm_allows(f, f, access, wp);
				uint32_t pde_at = PD + PDE_IDX(LIN) * 4, pde = 0x08c00000u | PS | P | f;
				struct res r;
				int ok;

				main_ram();
				set_regs(wp ? CR0_WP_BIT : 0, PD, CR4_PSE_BIT);
				put(pde_at, pde);
				r = walk(LIN, access);
				if (allowed) {
					ok = maps(r, LIN, 0x08c00000u + (LIN & 0x3fffff), MMU_LARGE);
					ok = ok && r.x.user == !!(f & US) && r.x.writable == !!(f & RW);
					ok = ok && r.x.dirty == !!write;
					ok = entry_is("PDE", pde_at, pde | A | (write ? D : 0)) && ok;
				} else {
					ok = faults(r, want_err(access, 1, 0));
					ok = entry_is("PDE", pde_at, pde) && ok;
				}
				check(ok, "4M pde=%s %s wp=%d: %s", rights(f), acc_name(access), wp,
				      allowed ? "allowed, A (and D on write) set" : "#PF P, PDE untouched");
			}
}

static void test_not_present(void)
{
	for (unsigned a = 0; a < 4; a++) {
		unsigned access = accesses[a];
		struct res r;
		int ok;

		main_ram();
		set_regs(0, PD, 0);
		put(PD + PDE_IDX(LIN) * 4, PT | RW | US);	/* P clear */
		put(PT + PTE_IDX(LIN) * 4, FRAME | P | RW | US);
		r = walk(LIN, access);
		ok = faults(r, want_err(access, 0, 0));
		ok = entry_is("PDE", PD + PDE_IDX(LIN) * 4, PT | RW | US) && ok;
		ok = entry_is("PTE", PT + PTE_IDX(LIN) * 4, FRAME | P | RW | US) && ok;
		check(ok, "non-present PDE, %s: #PF without P, nothing set", acc_name(access));

		main_ram();
		map4k(PD, LIN, PT | P | RW | US, FRAME | RW | US | D);
		r = walk(LIN, access);
		ok = faults(r, want_err(access, 0, 0));
		ok = entry_is("PDE", PD + PDE_IDX(LIN) * 4, PT | P | RW | US | A) && ok;
		ok = entry_is("PTE", PT + PTE_IDX(LIN) * 4, FRAME | RW | US | D) && ok;
		check(ok, "non-present PTE, %s: #PF without P, the PDE gets A", acc_name(access));
	}
	/* A non-present 4 MiB PDE with the reserved bit: not present wins, no RSVD. */
	main_ram();
	set_regs(0, PD, CR4_PSE_BIT);
	put(PD + PDE_IDX(LIN) * 4, 0x08c00000u | B21 | PS | RW | US);
	check(faults(walk(LIN, MMU_WRITE), want_err(MMU_WRITE, 0, 0)),
	      "non-present 4M PDE with bit 21 set: #PF W, neither P nor RSVD");
	/* Only bit 0 says present: every other bit set, P clear. */
	main_ram();
	set_regs(0, PD, 0);
	put(PD + PDE_IDX(LIN) * 4, 0xfffffffeu);
	check(faults(walk(LIN, MMU_USER), want_err(MMU_USER, 0, 0)),
	      "PDE 0xfffffffe (all but P): not present");
}

static void test_fetch(void)
{
	struct res r;

	main_ram();
	set_regs(CR0_WP_BIT, PD, 0);
	map4k(PD, LIN, PT | P | RW, FRAME | P | RW);
	check(faults(walk(LIN, MMU_USER | MMU_FETCH), PFERR_P | PFERR_U),
	      "user fetch from a supervisor page: #PF P|U, no I/D bit without PAE");
	main_ram();
	map4k(PD, LIN, PT | P | US, FRAME | US);
	check(faults(walk(LIN, MMU_FETCH), 0), "supervisor fetch from a non-present page: #PF 0, no I/D");
	main_ram();
	map4k(PD, LIN, PT | P, FRAME | P);
	r = walk(LIN, MMU_FETCH);
	check(maps(r, LIN, FRAME + 0x567, MMU_PAGE) &&
	      entry_is("PTE", PT + PTE_IDX(LIN) * 4, FRAME | P | A),
	      "supervisor fetch from a read-only page with CR0.WP: allowed, A set, no D");
	main_ram();
	map4k(PD, LIN, PT | P | US, FRAME | P | US);
	r = walk(LIN, MMU_USER | MMU_FETCH);
	check(maps(r, LIN, FRAME + 0x567, MMU_PAGE), "user fetch from a read-only user page: allowed");
	/* EFER.NXE means nothing without PAE: no execute-disable, no I/D. */
	main_ram();
	set_regs(0, PD, 0);
	regs.efer = EFER_NXE_BIT;
	map4k(PD, LIN, PT | P | RW, FRAME | RW);
	check(faults(walk(LIN, MMU_USER | MMU_FETCH), PFERR_U),
	      "EFER.NXE without CR4.PAE: fetch #PF has no I/D");
	put(PT + PTE_IDX(LIN) * 4, FRAME | P | RW | US | 0x80000000u);
	put(PD + PDE_IDX(LIN) * 4, PT | P | RW | US);
	check(maps(walk(LIN, MMU_USER | MMU_FETCH), LIN, 0x80005000u + 0x567, MMU_PAGE),
	      "EFER.NXE without CR4.PAE: PTE bit 31 is an address bit, the fetch is allowed");
}

/* Accessed and Dirty in detail, and MMU_PEEK. */
static void test_accessed_dirty(void)
{
	uint8_t *before = malloc(RAM_BYTES);
	uint32_t pde_at = PD + PDE_IDX(LIN) * 4, pte_at = PT + PTE_IDX(LIN) * 4;
	struct res r;
	int ok;

	if (!before)
		exit(99);

	/* A read, then a write, then a write again. */
	main_ram();
	set_regs(0, PD, 0);
	map4k(PD, LIN, PT | P | RW | US, FRAME | P | RW | US);
	r = walk(LIN, 0);
	ok = maps(r, LIN, FRAME + 0x567, MMU_PAGE) && !r.x.dirty;
	ok = entry_is("PDE", pde_at, PT | P | RW | US | A) && ok;
	ok = entry_is("PTE", pte_at, FRAME | P | RW | US | A) && ok;
	check(ok, "a read sets A in PDE and PTE, D in neither");
	r = walk(LIN, MMU_WRITE);
	ok = maps(r, LIN, FRAME + 0x567, MMU_PAGE) && r.x.dirty;
	ok = entry_is("PDE", pde_at, PT | P | RW | US | A) && ok;
	ok = entry_is("PTE", pte_at, FRAME | P | RW | US | A | D) && ok;
	check(ok, "a write sets D in the PTE, never in a PDE that points to a page table");
	memcpy(before, ram.base, RAM_BYTES);
	r = walk(LIN, MMU_WRITE | MMU_USER);
	check(r.rc == 0 && r.x.dirty && !memcmp(before, ram.base, RAM_BYTES),
	      "a write to a page already accessed and dirty changes no RAM");
	/* A read of a dirty page reports it dirty. */
	main_ram();
	map4k(PD, LIN, PT | P | RW | US, FRAME | P | RW | US | D);
	r = walk(LIN, 0);
	check(r.rc == 0 && r.x.dirty && entry_is("PTE", pte_at, FRAME | P | RW | US | A | D),
	      "a read of a page with D set: x.dirty, D kept, A set");

	/* Refused: the PDE's A is set (it was used), the PTE's is not. */
	main_ram();
	map4k(PD, LIN, PT | P | RW, FRAME | P | RW | US);
	r = walk(LIN, MMU_USER);
	ok = faults(r, PFERR_P | PFERR_U);
	ok = entry_is("PDE", pde_at, PT | P | RW | A) && ok;
	ok = entry_is("PTE", pte_at, FRAME | P | RW | US) && ok;
	check(ok, "refused by the PDE's U/S: PDE A set, PTE A clear");
	main_ram();
	set_regs(CR0_WP_BIT, PD, 0);
	map4k(PD, LIN, PT | P | RW | US, FRAME | P | US);
	r = walk(LIN, MMU_WRITE);
	ok = faults(r, PFERR_P | PFERR_W);
	ok = entry_is("PDE", pde_at, PT | P | RW | US | A) && ok;
	ok = entry_is("PTE", pte_at, FRAME | P | US) && ok;
	check(ok, "supervisor write refused by CR0.WP: PDE A set, PTE neither A nor D");

	/* 4 MiB: A and D in the PDE, only on success. */
	main_ram();
	set_regs(CR0_WP_BIT, PD, CR4_PSE_BIT);
	put(pde_at, 0x00800000u | PS | P | US);
	r = walk(LIN, MMU_USER | MMU_WRITE);
	ok = faults(r, PFERR_P | PFERR_W | PFERR_U) && entry_is("PDE", pde_at, 0x00800000u | PS | P | US);
	check(ok, "4M write refused: the PDE gets neither A nor D");
	r = walk(LIN, MMU_USER);
	ok = r.rc == 0 && entry_is("PDE", pde_at, 0x00800000u | PS | P | US | A);
	check(ok, "4M read: the PDE gets A, not D");

	/* MMU_PEEK: the same answers, no RAM changes. */
	main_ram();
	set_regs(0, PD, 0);
	map4k(PD, LIN, PT | P | RW | US, FRAME | P | RW | US);
	memcpy(before, ram.base, RAM_BYTES);
	r = walk(LIN, MMU_PEEK | MMU_WRITE);
	ok = maps(r, LIN, FRAME + 0x567, MMU_PAGE) && !r.x.dirty;
	check(ok && !memcmp(before, ram.base, RAM_BYTES),
	      "peek write that would succeed: translated, x.dirty clear, no RAM changed");
	r = walk(LIN, MMU_PEEK);
	check(r.rc == 0 && !memcmp(before, ram.base, RAM_BYTES), "peek read: no RAM changed");
	put(pte_at, FRAME | RW | US);
	memcpy(before, ram.base, RAM_BYTES);
	r = walk(LIN, MMU_PEEK | MMU_USER);
	check(faults(r, PFERR_U) && !memcmp(before, ram.base, RAM_BYTES),
	      "peek through a non-present PTE: #PF U, the PDE's A not set");
	put(pte_at, FRAME | P | US);
	memcpy(before, ram.base, RAM_BYTES);
	r = walk(LIN, MMU_PEEK | MMU_USER | MMU_WRITE);
	check(faults(r, PFERR_P | PFERR_U | PFERR_W) && !memcmp(before, ram.base, RAM_BYTES),
	      "peek refused user write: #PF P|W|U, no RAM changed");
	main_ram();
	set_regs(0, PD, CR4_PSE_BIT);
	put(pde_at, 0x00800000u | PS | P | RW);
	memcpy(before, ram.base, RAM_BYTES);
	r = walk(LIN, MMU_PEEK | MMU_WRITE);
	check(r.rc == 0 && !r.x.dirty && !memcmp(before, ram.base, RAM_BYTES),
	      "peek write to a 4M page: translated, no RAM changed");

	/* Only the two entries' A and D change: nothing else in RAM. */
	main_ram();
	set_regs(0, PD, 0);
	for (uint32_t i = 0; i < 1024; i++) {
		put(PD + i * 4, PT | P | RW | US);
		put(PT + i * 4, (FRAME + i * 4096) | P | RW | US);
	}
	memcpy(before, ram.base, RAM_BYTES);
	r = walk(LIN, MMU_WRITE);
	put(pde_at, get(pde_at) & ~A);
	put(pte_at, get(pte_at) & ~(A | D));
	check(r.rc == 0 && !memcmp(before, ram.base, RAM_BYTES),
	      "a write changes nothing but the PDE's A and the PTE's A and D");
	free(before);
}

static void test_pse(void)
{
	uint32_t pde_at = PD + PDE_IDX(LIN) * 4;
	struct res r;
	int ok;

	/* PS set, PSE off: the PDE points to a page table at its bits 31:12. */
	main_ram();
	set_regs(0, PD, 0);
	map4k(PD, LIN, PT | PS | P | RW | US, FRAME | P | RW | US);
	r = walk(LIN, MMU_WRITE);
	ok = maps(r, LIN, FRAME + 0x567, MMU_PAGE);
	ok = entry_is("PTE", PT + PTE_IDX(LIN) * 4, FRAME | P | RW | US | A | D) && ok;
	ok = entry_is("PDE", pde_at, PT | PS | P | RW | US | A) && ok;
	check(ok, "CR4.PSE off: PDE.PS ignored, 4K page through the table");
	set_regs(0, PD, CR4_PSE_BIT);
	r = walk(LIN, 0);
	/* Its address bit 13 (PT = 0x2000) is now PSE-36 bit 32. */
	check(maps(r, LIN, 0x100000000ull + (LIN & 0x3fffff), MMU_LARGE),
	      "CR4.PSE on: the same PDE maps 4 MiB (table address bit 13 read as gpa bit 32)");
	/* PSE off, bit 21 set: an address bit of the page table, not reserved. */
	main_ram();
	set_regs(0, PD, 0);
	map4k(PD, LIN, PT_B21 | PS | P | RW | US, FRAME | P | RW | US);
	r = walk(LIN, MMU_USER);
	check(maps(r, LIN, FRAME + 0x567, MMU_PAGE),
	      "CR4.PSE off, PDE.PS and bit 21 set: the table at %#x, no RSVD", PT_B21);
	/* Bit 21 in a PTE is an address bit. */
	main_ram();
	map4k(PD, LIN, PT | P | RW | US, 0x00200000u | PS | P | RW | US);
	r = walk(LIN, 0);
	check(maps(r, LIN, 0x00200000u + 0x567, MMU_PAGE),
	      "PTE with bits 21 and 7 (PAT) set: a 4K frame at 0x200000, no RSVD");

	/* Bit 21 of a 4 MiB PDE is reserved: RSVD|P, before any rights check, no A. */
	for (unsigned a = 0; a < 4; a++) {
		main_ram();
		set_regs(CR0_WP_BIT, PD, CR4_PSE_BIT);
		put(pde_at, 0x00800000u | B21 | PS | P | RW | US);
		r = walk(LIN, accesses[a]);
		ok = faults(r, want_err(accesses[a], 0, 1));
		ok = entry_is("PDE", pde_at, 0x00800000u | B21 | PS | P | RW | US) && ok;
		check(ok, "4M PDE with bit 21, %s: #PF P|RSVD, no A", acc_name(accesses[a]));
	}
	main_ram();
	put(pde_at, 0x00800000u | B21 | PS | P);
	check(faults(walk(LIN, MMU_USER | MMU_WRITE), PFERR_P | PFERR_RSVD | PFERR_U | PFERR_W),
	      "4M supervisor read-only PDE with bit 21, user write: RSVD reported with P|W|U");

	/* PSE-36: PDE bits 20:13 are physical address bits 39:32. */
	main_ram();
	set_regs(0, PD, CR4_PSE_BIT);
	put(pde_at, 0xffc00000u | (0x12u << 13) | PS | P | RW);
	r = walk(LIN, MMU_WRITE);
	ok = maps(r, LIN, 0x12ffc00000ull + (LIN & 0x3fffff), MMU_LARGE);
	check(ok, "PSE-36: high bits 0x12 give gpa 0x12ffc00000 + offset, above 4 GiB");
	main_ram();
	put(pde_at, 0x00400000u | (0xffu << 13) | PS | P);
	r = walk(LIN, 0);
	check(maps(r, LIN, 0xff00400000ull + (LIN & 0x3fffff), MMU_LARGE),
	      "PSE-36: all eight high bits give gpa 0xff00400000 + offset");
	main_ram();
	put(pde_at, 0x00400000u | 0x1000u | PS | P);	/* bit 12: PAT, not an address bit */
	r = walk(LIN, 0);
	check(maps(r, LIN, 0x00400000u + (LIN & 0x3fffff), MMU_LARGE),
	      "4M PDE bit 12 (PAT) is no address bit");
	/* A 4 MiB page at the top of the linear space. */
	main_ram();
	put(PD + 1023 * 4, 0x01000000u | PS | P | RW);
	r = walk(0xfffffffcu, MMU_WRITE);
	check(maps(r, 0xfffffffcu, 0x013ffffcu, MMU_LARGE) &&
	      entry_is("PDE", PD + 1023 * 4, 0x01000000u | PS | P | RW | A | D),
	      "4M page at linear 0xffc00000: the last word translates, A and D set");
}

static void test_global(void)
{
	struct res r;

	main_ram();
	set_regs(0, PD, 0);
	map4k(PD, LIN, PT | P | RW | G, FRAME | P | RW | G);
	check(walk(LIN, 0).x.global == 0, "4K G, CR4.PGE off: not global");
	set_regs(0, PD, CR4_PGE_BIT);
	r = walk(LIN, 0);
	check(r.rc == 0 && r.x.global == 1, "4K G, CR4.PGE on: global");
	map4k(PD, LIN, PT | P | RW | G, FRAME | P | RW);
	check(walk(LIN, 0).x.global == 0, "G in the PDE only (points to a table), CR4.PGE on: not global");
	main_ram();
	set_regs(0, PD, CR4_PSE_BIT);
	put(PD + PDE_IDX(LIN) * 4, 0x00400000u | PS | P | G);
	check(walk(LIN, 0).x.global == 0, "4M G, CR4.PGE off: not global");
	set_regs(0, PD, CR4_PSE_BIT | CR4_PGE_BIT);
	r = walk(LIN, 0);
	check(r.rc == 0 && r.x.global == 1, "4M G, CR4.PGE on: global");
}

/* CR3's low bits (PWT, PCD, ignored ones) are no address bits. */
static void test_cr3_bits(void)
{
	main_ram();
	set_regs(0, PD | 0xfffu, 0);
	map4k(PD, LIN, PT | P | RW, FRAME | P | RW);
	check(maps(walk(LIN, 0), LIN, FRAME + 0x567, MMU_PAGE), "CR3 bits 11:0 set: ignored");
}

/* Paging structures beyond RAM read as not present; a leaf beyond RAM translates. */
static void test_beyond_ram(void)
{
	static const uint32_t wild[] = { RAM_BYTES, RAM_BYTES + 0x1000, 0x08000000u, 0x80000000u,
					 0xfffff000u };
	uint8_t *before = malloc(RAM_BYTES);
	struct res r;
	int ok;

	if (!before)
		exit(99);
	for (unsigned i = 0; i < sizeof(wild) / sizeof(wild[0]); i++) {
		/* CR3 beyond RAM; RAM full of entries that would translate. */
		main_ram();
		memset(ram.base, 0x07, RAM_BYTES);	/* every word 0x07070707: present, user, writable */
		memcpy(before, ram.base, RAM_BYTES);
		set_regs(0, wild[i], 0);
		for (unsigned a = 0; a < 4; a++) {
			r = walk(0xffbff000u, accesses[a]);
			check(faults(r, want_err(accesses[a], 0, 0)) && !memcmp(before, ram.base, RAM_BYTES),
			      "CR3 %#x beyond RAM, %s: #PF not present, no RAM changed", wild[i],
			      acc_name(accesses[a]));
		}
		/* A PDE naming a page table beyond RAM. */
		main_ram();
		set_regs(0, PD, 0);
		put(PD + 1022 * 4, wild[i] | P | RW | US);
		r = walk(0xffbff000u, MMU_USER | MMU_WRITE);
		ok = faults(r, PFERR_U | PFERR_W);
		ok = entry_is("PDE", PD + 1022 * 4, wild[i] | P | RW | US | A) && ok;
		check(ok, "PDE naming a page table at %#x beyond RAM: #PF not present, PDE A set", wild[i]);
		/* A PTE naming a frame beyond RAM: a translation like any other. */
		main_ram();
		map4k(PD, LIN, PT | P | RW | US, wild[i] | P | RW | US);
		r = walk(LIN, MMU_WRITE);
		ok = maps(r, LIN, (uint64_t)wild[i] + 0x567, MMU_PAGE);
		ok = entry_is("PTE", PT + PTE_IDX(LIN) * 4, wild[i] | P | RW | US | A | D) && ok;
		check(ok, "PTE naming frame %#x beyond RAM: translated (nothing read there), A and D set",
		      wild[i]);
	}
	/* A page table whose last entry would be the top word of the 4 GiB space. */
	main_ram();
	set_regs(0, PD, 0);
	put(PD + PDE_IDX(0xfffff000u) * 4, 0xfffff000u | P | RW);
	check(faults(walk(0xfffff000u, 0), 0),
	      "PDE naming a table at 0xfffff000, its entry 1023: not present");
	free(before);
}

/* Entries in the very last 4 bytes of RAM. */
static void test_last_word(void)
{
	uint32_t last_page = RAM_BYTES - 0x1000, top = 0xfffff123u;
	struct res r;
	int ok;

	/* The page table is RAM's last page; the entry used is its last. */
	main_ram();
	set_regs(0, PD, 0);
	map4k(PD, top, last_page | P | RW | US, FRAME | P | RW | US);
	r = walk(top, MMU_WRITE | MMU_USER);
	ok = maps(r, top, FRAME + 0x123, MMU_PAGE);
	ok = entry_is("PTE", RAM_BYTES - 4, FRAME | P | RW | US | A | D) && ok;
	check(ok, "PTE in RAM's last 4 bytes: read, A and D set there");
	/* The page directory is RAM's last page; the PDE used is its last. */
	main_ram();
	set_regs(0, last_page, 0);
	map4k(last_page, top, PT | P | RW | US, FRAME | P | RW);
	r = walk(top, 0);
	ok = maps(r, top, FRAME + 0x123, MMU_PAGE);
	ok = entry_is("PDE", RAM_BYTES - 4, PT | P | RW | US | A) && ok;
	check(ok, "PDE in RAM's last 4 bytes: read, A set there");
	main_ram();
	set_regs(0, last_page, CR4_PSE_BIT);
	put(RAM_BYTES - 4, 0x00c00000u | PS | P | RW);
	r = walk(top, MMU_WRITE);
	check(maps(r, top, 0x00fff123u, MMU_LARGE) &&
	      entry_is("PDE", RAM_BYTES - 4, 0x00c00000u | PS | P | RW | A | D),
	      "4M PDE in RAM's last 4 bytes: A and D set there");
}

/* A page directory that names itself as a page table. */
static void test_self_map(void)
{
	const uint32_t self = 5;	/* PDE 5 -> the directory */
	uint32_t self_lin = self << 22 | self << 12;	/* the directory itself */
	uint32_t pt_lin = self << 22 | PDE_IDX(LIN) << 12;	/* the table PDE 3 names */
	uint32_t self_at = PD + self * 4, pde_at = PD + PDE_IDX(LIN) * 4;
	struct res r;
	int ok;

	main_ram();
	set_regs(0, PD, 0);
	put(self_at, PD | P | RW | US);
	map4k(PD, LIN, PT | P | RW | US, FRAME | P | RW | US);
	r = walk(self_lin + 0x14, 0);
	ok = maps(r, self_lin + 0x14, PD + 0x14, MMU_PAGE);
	ok = entry_is("self PDE", self_at, PD | P | RW | US | A) && ok;
	check(ok, "self-map: linear %#x reads the directory (PDE 5 used twice, A set)", self_lin);
	r = walk(pt_lin + PTE_IDX(LIN) * 4, MMU_WRITE | MMU_USER);
	ok = maps(r, pt_lin + PTE_IDX(LIN) * 4, PT + PTE_IDX(LIN) * 4, MMU_PAGE);
	ok = entry_is("PDE 3 as a leaf", pde_at, PT | P | RW | US | A | D) && ok;
	check(ok, "self-map: linear %#x is the page table PDE 3 names; writing sets D in PDE 3", pt_lin);
	r = walk(self_lin, MMU_WRITE);
	ok = r.rc == 0 && r.x.dirty && entry_is("self PDE", self_at, PD | P | RW | US | A | D);
	check(ok, "self-map: a write to the directory through itself sets A and D in the self PDE");
	/* Through the self-map, a non-present PDE is a non-present PTE. */
	r = walk(self << 22 | 7 << 12, MMU_USER);
	check(faults(r, PFERR_U), "self-map: a zero PDE 7 reads as a non-present PTE");
	/* A supervisor-only self PDE keeps ring 3 out. */
	put(self_at, PD | P | RW | A);
	r = walk(self_lin, MMU_USER);
	check(faults(r, PFERR_P | PFERR_U) && entry_is("self PDE", self_at, PD | P | RW | A),
	      "self-map, supervisor-only: user read refused, #PF P|U");
	/* A read-only self PDE with CR0.WP: writes refused, reads fine. */
	put(self_at, PD | P | US);
	set_regs(CR0_WP_BIT, PD, 0);
	check(faults(walk(self_lin, MMU_WRITE), PFERR_P | PFERR_W) && walk(self_lin, 0).rc == 0,
	      "self-map, read-only and CR0.WP: supervisor write refused, read allowed");
	/* With CR4.PSE the self PDE is still a table pointer unless PS is set. */
	main_ram();
	set_regs(0, PD, CR4_PSE_BIT);
	put(self_at, PD | P | RW);
	r = walk(self_lin + 8, 0);
	check(maps(r, self_lin + 8, PD + 8, MMU_PAGE), "self-map under CR4.PSE (PS clear): still 4K");
}

/* RAM of an odd size: an entry that straddles its end is not read. */
static void test_odd_size(void)
{
	const uint64_t bytes = 3 * 4096 + 6;	/* page 3 holds one whole entry and half of another */
	uint8_t *odd = malloc(bytes);
	struct res r;

	if (!odd)
		exit(99);
	use_ram(odd, bytes);
	set_regs(0, 0x1000, 0);
	put(0x1000, 0x3000 | P | RW | US);	/* PDE 0 -> the table in the last, partial page */
	put(0x3000, 0x2000 | P | RW | US);	/* PTE 0 */
	memset(odd + 0x3004, 0xff, 2);		/* half of PTE 1 */
	r = walk(0x0123, MMU_WRITE);
	check(maps(r, 0x123, 0x2123, MMU_PAGE) && entry_is("PTE 0", 0x3000, 0x2000 | P | RW | US | A | D),
	      "RAM of 3 pages + 6 bytes: the whole entry at 0x3000 is read");
	r = walk(0x1123, MMU_WRITE);
	check(faults(r, PFERR_W) && odd[0x3004] == 0xff && odd[0x3005] == 0xff,
	      "RAM of 3 pages + 6 bytes: the entry at 0x3004, half outside, is not present");
	set_regs(0, 0x3000, 0);
	put(0x3000, 0x1000 | P | RW | US);
	check(faults(walk(0x00400000u, 0), 0),
	      "CR3 in the partial page: PDE 1, half outside, not present");
	check(walk(0x00000123u, 0).rc == 0, "CR3 in the partial page: PDE 0, inside, used");
	free(odd);
	main_ram();
}

/* RAM that ends right at a PROT_NONE page: reading past it is a SIGSEGV, caught here. */
static sigjmp_buf segv_jump;

static void on_segv(int sig)
{
	siglongjmp(segv_jump, 1);
}

/* A walk that may run into the guard page: 1 if it did. */
static int guarded_walk(uint32_t lin, unsigned access, struct res *r)
{
	if (sigsetjmp(segv_jump, 1))
		return 1;
	*r = walk(lin, access);
	return 0;
}

static void test_guard_page(void)
{
	const size_t bytes = 4 * 4096;
	long pg = sysconf(_SC_PAGESIZE);
	size_t span = (bytes + pg - 1) / pg * pg;
	uint8_t *map = mmap(NULL, span + pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct sigaction sa = { .sa_handler = on_segv }, old;
	static const struct {
		uint32_t cr3, pde, lin;
		const char *what;
	} cases[] = {
		{ 4 * 4096, 0, 0x00000000u, "CR3 just past the end, PDE 0" },
		{ 3 * 4096, 4 * 4096 | P | RW, 0x00000000u, "PDE naming a table just past the end, PTE 0" },
		{ 3 * 4096, 4 * 4096 | P | RW, 0x003ff000u, "PDE naming a table just past the end, PTE 1023" },
		{ 3 * 4096, 0xfffff000u | P | RW, 0x003ff000u, "PDE naming a table at 0xfffff000, PTE 1023" },
	};

	if (map == MAP_FAILED || mprotect(map + span, pg, PROT_NONE))
		exit(99);
	use_ram(map + span - bytes, bytes);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, &old);
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct res r;
		int crashed;

		memset(ram.base, 0, bytes);
		set_regs(0, cases[i].cr3, 0);
		if (cases[i].pde)
			put(cases[i].cr3 + PDE_IDX(cases[i].lin) * 4, cases[i].pde);
		crashed = guarded_walk(cases[i].lin, MMU_WRITE, &r);
		check(!crashed && faults(r, PFERR_W),
		      "RAM before a guard page, %s: not present, no read past RAM", cases[i].what);
	}
	/* The last word itself is read. */
	memset(ram.base, 0, bytes);
	set_regs(0, 3 * 4096, 0);
	put(3 * 4096 + 1023 * 4, 2 * 4096 | P | RW);
	put(2 * 4096 + 1023 * 4, 0x1000 | P | RW);
	{
		struct res r;
		int crashed = guarded_walk(0xfffff000u, 0, &r);

		check(!crashed && maps(r, 0xfffff000u, 0x1000, MMU_PAGE) &&
		      entry_is("PDE", bytes - 4, 2 * 4096 | P | RW | A),
		      "RAM before a guard page: the PDE in its last word is read and gets A");
	}
	sigaction(SIGSEGV, &old, NULL);
	munmap(map, span + pg);
	main_ram();
}

/* A read far outside RAM anywhere else: say so rather than die silently. */
static void on_stray_segv(int sig)
{
	static const char msg[] = "Bail out! SIGSEGV: the walk read outside the fake RAM\n";

	if (write(1, msg, sizeof(msg) - 1) < 0)
		_exit(1);
	_exit(1);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGSEGV, on_stray_segv);
	if (!(ram_buf = malloc(RAM_BYTES)))
		return 99;
	main_ram();
	test_matrix_4k();
	test_matrix_4m();
	test_not_present();
	test_fetch();
	test_accessed_dirty();
	test_pse();
	test_global();
	test_cr3_bits();
	test_beyond_ram();
	test_last_word();
	test_self_map();
	test_odd_size();
	test_guard_page();
	free(ram_buf);
	printf("1..%d\n", checks);
	return failures ? 1 : 0;
}

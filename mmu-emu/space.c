/*
 * space.c - what one child process has mapped of the guest, page by page.
 *
 * The model is the truth the monitor checks faults against: a page the
 * model says is mapped read-only faulted on a write; one it does not map
 * was never mapped. Changes go out as mmu_ops, neighbours coalesced into
 * one op, so mapping a 4 MiB page or dropping an address space costs one
 * host call per contiguous run, not one per page.
 *
 * Each mapping remembers the guest entries it was made from (its leaf
 * entry, and per page table the entries above it), so that after a CR3 write the space can be
 * checked against the guest's tables instead of emptied: what still holds
 * stays mapped, which is what lets the monitor keep address spaces that
 * are switched away from and back.
 *
 * Host mappings (VMAs) are a bounded resource (vm.max_map_count): the model
 * counts them exactly as the kernel merges them (adjacent pages with
 * adjacent memfd offsets and the same protection are one VMA), and when a
 * new mapping would pass the bound it drops everything first.
 */
#include <stdlib.h>
#include <string.h>

#include "mmu-emu/mmu.h"

#define CHUNKS 1024		/* 4 MiB chunks of the 4 GiB space */
#define PER_CHUNK 1024
#define HALF 512		/* pages under one PAE page table; a 2-level table maps two halves */
#define E_MAPPED MMU_MAP_PRESENT	/* entry bits 0-7: flags; 12-31: memfd page number */
#define E_FLAGS 0xffu
#define E_PROT (MMU_MAP_WRITE | MMU_MAP_NOEXEC)	/* what the host's protection says */

struct chunk {
	uint32_t e[PER_CHUNK];
	uint64_t leaf[PER_CHUNK];	/* the guest entry each page was mapped from */
	uint64_t upper[2][2];	/* per half: the entries above its page table (mmu_path) */
	unsigned mapped;	/* pages mapped in this chunk */
};

struct mmu_space {
	struct chunk *chunk[CHUNKS];
	uint32_t va_lo, va_hi;
	size_t pages, links, max_vmas;
	struct mmu_op pending;	/* the op being coalesced, len 0 if none */
	int failed;
};

struct mmu_space *mmu_space_new(uint32_t va_lo, uint32_t va_hi, size_t max_vmas)
{
	struct mmu_space *s = calloc(1, sizeof(*s));

	if (s) {
		s->va_lo = va_lo;
		s->va_hi = va_hi;
		s->max_vmas = max_vmas;
	}
	return s;
}

void mmu_space_free(struct mmu_space *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < CHUNKS; i++)
		free(s->chunk[i]);
	free(s);
}

static uint32_t get(const struct mmu_space *s, uint32_t vpn)
{
	const struct chunk *c = vpn < CHUNKS * PER_CHUNK ? s->chunk[vpn / PER_CHUNK] : NULL;

	return c ? c->e[vpn % PER_CHUNK] : 0;
}

/* Pages vpn and vpn+1 form one VMA: adjacent memfd pages, same protection. */
static int linked(const struct mmu_space *s, uint32_t vpn)
{
	uint32_t a = get(s, vpn), b = vpn + 1 < CHUNKS * PER_CHUNK ? get(s, vpn + 1) : 0;

	return (a & E_MAPPED) && (b & E_MAPPED) && (b >> 12) == (a >> 12) + 1 &&
	       (a & E_PROT) == (b & E_PROT);
}

/* Set one entry, keeping the page and link counts that give the VMA count. */
static int put(struct mmu_space *s, uint32_t vpn, uint32_t e)
{
	struct chunk **c = &s->chunk[vpn / PER_CHUNK];
	uint32_t old;

	if (!*c && !(e & E_MAPPED))
		return 0;
	if (!*c && !(*c = calloc(1, sizeof(**c))))
		return -1;
	old = (*c)->e[vpn % PER_CHUNK];
	s->links -= (vpn > 0 && linked(s, vpn - 1)) + linked(s, vpn);
	(*c)->e[vpn % PER_CHUNK] = e;
	s->links += (vpn > 0 && linked(s, vpn - 1)) + linked(s, vpn);
	(*c)->mapped += !!(e & E_MAPPED) - !!(old & E_MAPPED);
	s->pages += !!(e & E_MAPPED) - !!(old & E_MAPPED);
	return 0;
}

static void send_pending(struct mmu_space *s, const struct mmu_sink *sink)
{
	if (s->pending.len && sink->emit(sink->opaque, &s->pending))
		s->failed = 1;
	s->pending.len = 0;
}

/* Queue an op, merged into the pending one when it continues it. */
static void emit(struct mmu_space *s, const struct mmu_op *op, const struct mmu_sink *sink)
{
	struct mmu_op *p = &s->pending;

	if (p->len && p->kind == op->kind && p->va + p->len == op->va &&
	    (op->kind == MMU_OP_UNMAP || (p->writable == op->writable && p->noexec == op->noexec)) &&
	    (op->kind != MMU_OP_MAP || p->gpa + p->len == op->gpa)) {
		p->len += op->len;
		return;
	}
	send_pending(s, sink);
	*p = *op;
}

/* Finish a public call: send what is pending, report any failure once. */
static int finish(struct mmu_space *s, const struct mmu_sink *sink)
{
	int failed;

	send_pending(s, sink);
	failed = s->failed;
	s->failed = 0;
	return failed ? -1 : 0;
}

/*
 * Drop the mapped pages of half h of chunk ci: all (path NULL), or those
 * whose leaf entry in the guest's table (path) is not the one they came from.
 */
static void drop_in_half(struct mmu_space *s, uint32_t ci, unsigned h, const struct mmu_ram *ram,
			 const struct mmu_path *path, const struct mmu_sink *sink)
{
	struct chunk *c = s->chunk[ci];

	for (uint32_t i = 0; c && c->mapped && i < HALF; i++) {
		uint32_t k = h * HALF + i, vpn = ci * PER_CHUNK + k;
		struct mmu_op op = { MMU_OP_UNMAP, vpn << 12, MMU_PAGE, 0, 0, 0 };

		if ((c->e[k] & E_MAPPED) && (!path || mmu_path_leaf(ram, path, i) != c->leaf[k])) {
			emit(s, &op, sink);
			put(s, vpn, 0);
		}
	}
}

static void drop_in_chunk(struct mmu_space *s, uint32_t ci, const struct mmu_sink *sink)
{
	drop_in_half(s, ci, 0, NULL, NULL, sink);
	drop_in_half(s, ci, 1, NULL, NULL, sink);
}

/* Drop everything, one unmap per run of mapped pages. */
static void drop_everything(struct mmu_space *s, const struct mmu_sink *sink)
{
	for (uint32_t ci = 0; ci < CHUNKS; ci++)
		drop_in_chunk(s, ci, sink);
}

int mmu_space_flush(struct mmu_space *s, const struct mmu_sink *sink)
{
	drop_everything(s, sink);
	return finish(s, sink);
}

/* VMAs the model would hold after mapping npages more pages, at worst. */
static int would_overflow(const struct mmu_space *s, uint32_t npages)
{
	return s->pages - s->links + npages > s->max_vmas;
}

/* The entry bits the host sees: whether, what and how it is mapped. */
#define HOST_VISIBLE (0xfffff000u | E_MAPPED | E_PROT)

static void adopt_path(struct mmu_space *s, uint32_t va, uint64_t end, const uint64_t *upper,
		       const struct mmu_sink *sink);

int mmu_space_map(struct mmu_space *s, uint32_t va, uint32_t len, uint64_t gpa, unsigned flags,
		  const struct mmu_origin *origin, const struct mmu_sink *sink)
{
	uint64_t end = (uint64_t)va + len;

	/* Parts of a large page the child cannot hold are left out. */
	if (va < s->va_lo) {
		gpa += s->va_lo - va;
		va = s->va_lo;
	}
	end = end < s->va_hi ? end : s->va_hi;
	if (end <= va)
		return 0;
	if (would_overflow(s, 2))
		drop_everything(s, sink);
	if (origin)
		adopt_path(s, va, end, origin->upper, sink);
	for (uint32_t vpn = va >> 12; vpn < end >> 12; vpn++, gpa += MMU_PAGE) {
		uint32_t old = get(s, vpn);
		uint32_t e = (uint32_t)gpa | (flags & E_FLAGS & ~E_MAPPED) | E_MAPPED;
		struct mmu_op op = { MMU_OP_MAP, vpn << 12, MMU_PAGE, gpa, !!(flags & MMU_MAP_WRITE),
				     !!(flags & MMU_MAP_NOEXEC) };

		if ((old & E_MAPPED) && (old >> 12) == (e >> 12))
			op.kind = MMU_OP_PROTECT;	/* same frame: only the protection changes */
		if ((old & HOST_VISIBLE) != (e & HOST_VISIBLE))
			emit(s, &op, sink);
		if (put(s, vpn, e))
			s->failed = 1;
		else if (origin)
			s->chunk[vpn / PER_CHUNK]->leaf[vpn % PER_CHUNK] = origin->leaf;
	}
	return finish(s, sink);
}

/* Pages mapped under other upper entries go before pages under these come. */
static void adopt_path(struct mmu_space *s, uint32_t va, uint64_t end, const uint64_t *upper,
		       const struct mmu_sink *sink)
{
	for (uint64_t a = va & ~(uint64_t)(MMU_LARGE / 2 - 1); a < end; a += MMU_LARGE / 2) {
		uint32_t ci = a / MMU_LARGE;
		unsigned h = (a / (MMU_LARGE / 2)) & 1;
		struct chunk *c = s->chunk[ci];

		if (!c && !(c = s->chunk[ci] = calloc(1, sizeof(*c)))) {
			s->failed = 1;
			continue;
		}
		if (memcmp(c->upper[h], upper, sizeof(c->upper[h]))) {
			drop_in_half(s, ci, h, NULL, NULL, sink);
			memcpy(c->upper[h], upper, sizeof(c->upper[h]));
		}
	}
}

int mmu_space_validate(struct mmu_space *s, const struct mmu_regs *regs, const struct mmu_ram *ram,
		       const struct mmu_sink *sink)
{
	for (uint32_t ci = 0; ci < CHUNKS; ci++) {
		struct chunk *c = s->chunk[ci];

		for (unsigned h = 0; h < 2 && c && c->mapped; h++) {
			struct mmu_path p;

			mmu_path(regs, ram, ci * MMU_LARGE + h * (MMU_LARGE / 2), &p);
			if (memcmp(p.upper, c->upper[h], sizeof(p.upper)))
				drop_in_half(s, ci, h, NULL, NULL, sink);
			else if (!p.large)
				drop_in_half(s, ci, h, ram, &p, sink);
		}
	}
	return finish(s, sink);
}

int mmu_space_invalidate(struct mmu_space *s, uint32_t va, const struct mmu_sink *sink)
{
	uint32_t vpn = va >> 12, first = vpn, last = vpn;

	if (get(s, vpn) & MMU_MAP_LARGE) {
		first = vpn & ~(PER_CHUNK - 1);
		last = first + PER_CHUNK - 1;
	}
	for (uint32_t v = first; v <= last; v++) {
		uint32_t e = get(s, v);
		struct mmu_op op = { MMU_OP_UNMAP, v << 12, MMU_PAGE, 0, 0, 0 };

		if ((e & E_MAPPED) && (v == vpn || (e & MMU_MAP_LARGE))) {
			emit(s, &op, sink);
			put(s, v, 0);
		}
	}
	return finish(s, sink);
}

unsigned mmu_space_lookup(const struct mmu_space *s, uint32_t va, uint64_t *gpa)
{
	uint32_t e = get(s, va >> 12);

	if (gpa)
		*gpa = (uint64_t)(e >> 12) << 12;
	return e & E_FLAGS;
}

size_t mmu_space_vmas(const struct mmu_space *s)
{
	return s->pages - s->links;
}

size_t mmu_space_pages(const struct mmu_space *s)
{
	return s->pages;
}

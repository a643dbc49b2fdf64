/*
 * mmu.h - i386 paging for a guest whose RAM is a memfd: the page-table walk
 * with hardware's permission rules and Accessed/Dirty updates, and the cache
 * of host mappings that makes the guest's virtual pages appear at the same
 * addresses in the process it runs in.
 *
 * mmu-emu never touches a process itself: it says which host mappings to
 * make or drop (struct mmu_op), and the monitor runs them in its child.
 */
#ifndef MMU_EMU_MMU_H
#define MMU_EMU_MMU_H

#include <stddef.h>
#include <stdint.h>

#define MMU_PAGE 4096u
#define MMU_LARGE (4096u * 1024)

#define CR0_WP_BIT 0x00010000u
#define CR0_PG_BIT 0x80000000u
#define CR4_PSE_BIT 0x00000010u
#define CR4_PAE_BIT 0x00000020u
#define CR4_PGE_BIT 0x00000080u
#define EFER_NXE_BIT 0x00000800u
#define MSR_EFER 0xc0000080u

/* #PF error code bits (Intel SDM vol. 3, 4.7). */
#define PFERR_P 0x1u
#define PFERR_W 0x2u
#define PFERR_U 0x4u
#define PFERR_RSVD 0x8u
#define PFERR_ID 0x10u

/* Page-table entry bits. */
#define PTE_P 0x001u
#define PTE_RW 0x002u
#define PTE_US 0x004u
#define PTE_A 0x020u
#define PTE_D 0x040u
#define PTE_PS 0x080u
#define PTE_G 0x100u

/* The kind of access being translated. */
enum {
	MMU_WRITE = 1,		/* a write (else a read) */
	MMU_USER = 2,		/* made at CPL 3 (not an implicit supervisor access) */
	MMU_FETCH = 4,		/* an instruction fetch */
	MMU_PEEK = 8,		/* the monitor looking: no Accessed/Dirty updates */
};

/* The registers that steer translation. */
struct mmu_regs {
	uint32_t cr0, cr3, cr4;
	uint64_t efer;
};

/* Guest-physical memory as the walk sees it: RAM only. */
struct mmu_ram {
	uint8_t *base;
	uint64_t bytes;
};

/* A successful translation. */
struct mmu_xlat {
	uint64_t gpa;		/* guest-physical address of the linear address */
	uint32_t page_lin;	/* linear start of the page that maps it */
	uint32_t page_size;	/* MMU_PAGE, 2 MiB (PAE) or MMU_LARGE */
	uint64_t page_gpa;	/* guest-physical start of that page */
	unsigned user : 1;	/* U/S set at every level */
	unsigned writable : 1;	/* R/W set at every level */
	unsigned dirty : 1;	/* D set in the leaf entry (after this access) */
	unsigned global : 1;	/* G set in the leaf and CR4.PGE on */
	unsigned nx : 1;	/* execute-disable at some level (PAE with EFER.NXE) */
	uint64_t upper[2];	/* the entries above the leaf table: PDE, or PDPTE and PDE */
	uint64_t leaf;		/* the leaf entry, as the walk left it */
};

/* The entries above the page table that maps a linear address, and the table. */
struct mmu_path {
	uint64_t upper[2];	/* as in struct mmu_xlat */
	int large;		/* the PDE maps a large page: no table */
	uint64_t table;		/* guest-physical address of the leaf entry for the address */
	unsigned entry_size;	/* 4, or 8 with PAE */
};

/* Translate lin for an access; 0 and *x, or -1 and *err the #PF error code. */
int mmu_translate(const struct mmu_regs *regs, const struct mmu_ram *ram, uint32_t lin,
		  unsigned access, struct mmu_xlat *x, uint32_t *err);
/* Whether the translated page allows the access (rules of SDM 4.6). */
int mmu_allows(const struct mmu_regs *regs, const struct mmu_xlat *x, unsigned access);
/* Read the path to lin's page table without changing anything; 0. */
int mmu_path(const struct mmu_regs *regs, const struct mmu_ram *ram, uint32_t lin,
	     struct mmu_path *p);
/* The leaf entry i places after the one mmu_path found (0 outside RAM). */
uint64_t mmu_path_leaf(const struct mmu_ram *ram, const struct mmu_path *p, unsigned i);

/* --- the host-mapping cache --- */

/* One host mapping change to run in the child, at page granularity. */
struct mmu_op {
	enum { MMU_OP_MAP, MMU_OP_UNMAP, MMU_OP_PROTECT } kind;
	uint32_t va, len;	/* page aligned */
	uint64_t gpa;		/* MAP: offset in the RAM memfd */
	int writable;		/* MAP, PROTECT: read-write, else read-only */
	int noexec;		/* MAP, PROTECT: not executable */
};

/* Where mmu_space sends the changes it decides on. */
struct mmu_sink {
	/* Queue one change; the space coalesces neighbours before it calls this. */
	int (*emit)(void *opaque, const struct mmu_op *op);
	void *opaque;
};

struct mmu_space;

/* The guest entries a mapping was made from, to notice when they change. */
struct mmu_origin {
	uint64_t upper[2], leaf;
};

/* What a mapped page may do, as mmu_space remembers it. */
enum {
	MMU_MAP_WRITE = 1,	/* mapped read-write */
	MMU_MAP_LARGE = 2,	/* part of a 2 or 4 MiB guest page */
	MMU_MAP_NOEXEC = 4,	/* not executable */
	MMU_MAP_PRESENT = 0x80,	/* mapped at all (mmu_space_lookup) */
};

/* A model of one child's mappings of guest pages; max_vmas bounds its host mappings. */
struct mmu_space *mmu_space_new(uint32_t va_lo, uint32_t va_hi, size_t max_vmas);
/* Free the model (the child's mappings are the caller's to drop). */
void mmu_space_free(struct mmu_space *s);
/* Map [va, va+len) to gpa with flags (MMU_MAP_*), clipped to the space; replaces what was there.
 * origin: the entries it comes from (NULL with paging off). */
int mmu_space_map(struct mmu_space *s, uint32_t va, uint32_t len, uint64_t gpa, unsigned flags,
		  const struct mmu_origin *origin, const struct mmu_sink *sink);
/* Drop every mapping whose page-table entries (under regs->cr3) changed since it was made. */
int mmu_space_validate(struct mmu_space *s, const struct mmu_regs *regs, const struct mmu_ram *ram,
		       const struct mmu_sink *sink);
/* Drop the page at va (a whole 4 MiB guest page if va is in one), as invlpg does. */
int mmu_space_invalidate(struct mmu_space *s, uint32_t va, const struct mmu_sink *sink);
/* Drop every mapping. */
int mmu_space_flush(struct mmu_space *s, const struct mmu_sink *sink);
/* The flags of the page at va (MMU_MAP_PRESENT if mapped); *gpa receives its frame. */
unsigned mmu_space_lookup(const struct mmu_space *s, uint32_t va, uint64_t *gpa);
/* How many host mappings (VMAs) the model holds. */
size_t mmu_space_vmas(const struct mmu_space *s);
/* How many pages it maps. */
size_t mmu_space_pages(const struct mmu_space *s);

#endif

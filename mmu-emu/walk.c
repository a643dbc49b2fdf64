/*
 * walk.c - the i386 page-table walk (Intel SDM vol. 3, 4.3 to 4.7).
 *
 * Two-level paging with 4 KiB and, with CR4.PSE, 4 MiB pages; and PAE
 * paging (CR4.PAE): four PDPTEs at CR3, 64-bit entries, 2 MiB pages, the
 * execute-disable bit with EFER.NXE, reserved bits above a 36-bit physical
 * address width. Accessed and Dirty bits are set the way hardware and QEMU
 * set them: an entry that points to a further table gets A as soon as the
 * walk uses it, whether the access then succeeds or not; the leaf entry
 * gets A, and D for a write, only when the access is allowed. Entries
 * outside RAM read as not present, so a wild CR3 or PDE ends in a #PF,
 * never in the monitor reading memory that is not the guest's.
 */
#include "mmu-emu/mmu.h"

#define PDE_PSE_RSVD 0x00200000u	/* bit 21 of a 4 MiB PDE (SDM table 4-5) */
#define PDE_PSE_HIGH(pde) (((uint64_t)(((pde) >> 13) & 0xff)) << 32)	/* PSE-36 */
#define PAE_PHYS_BITS 36
#define PAE_ADDR (((1ull << PAE_PHYS_BITS) - 1) & ~0xfffull)
#define PAE_RSVD (0x7fffffffffffffffull & ~((1ull << PAE_PHYS_BITS) - 1))	/* 62:36 */
#define PAE_NX (1ull << 63)
#define PAE_LARGE_RSVD 0x1fe000ull	/* bits 20:13 of a 2 MiB PDE */
#define PAE_LARGE (2u * 1024 * 1024)

static int readable(const struct mmu_ram *ram, uint64_t gpa, unsigned size)
{
	return ram->bytes >= size && gpa <= ram->bytes - size;
}

static uint64_t read_entry(const struct mmu_ram *ram, uint64_t gpa, unsigned size)
{
	uint64_t v = 0;

	if (readable(ram, gpa, size))
		v = size == 8 ? *(const uint64_t *)(ram->base + gpa) :
				*(const uint32_t *)(ram->base + gpa);
	return v;
}

/* Set bits in the entry at gpa, as the processor's locked update does. */
static void set_bits(const struct mmu_ram *ram, uint64_t gpa, uint32_t bits, unsigned access)
{
	uint32_t *p;

	if ((access & MMU_PEEK) || !readable(ram, gpa, 4))
		return;
	p = (uint32_t *)(ram->base + gpa);	/* A and D are in the low word either way */
	if ((*p & bits) != bits)
		*p |= bits;
}

static int nx_on(const struct mmu_regs *regs)
{
	return (regs->cr4 & CR4_PAE_BIT) && (regs->efer & EFER_NXE_BIT);
}

static uint32_t fault_code(const struct mmu_regs *regs, unsigned access, uint32_t extra)
{
	return extra | (access & MMU_WRITE ? PFERR_W : 0) | (access & MMU_USER ? PFERR_U : 0) |
	       ((access & MMU_FETCH) && nx_on(regs) ? PFERR_ID : 0);
}

int mmu_allows(const struct mmu_regs *regs, const struct mmu_xlat *x, unsigned access)
{
	int write = access & MMU_WRITE;

	if ((access & MMU_FETCH) && x->nx)
		return 0;
	if (access & MMU_USER)
		return x->user && (!write || x->writable);
	return !write || x->writable || !(regs->cr0 & CR0_WP_BIT);
}

/* Fill *x for the leaf entry; rights holds R/W and U/S as every level allows them. */
static void describe_leaf(const struct mmu_regs *regs, struct mmu_xlat *x, uint32_t lin,
			  uint64_t page_gpa, uint32_t size, uint64_t rights, uint64_t leaf)
{
	x->page_size = size;
	x->page_lin = lin & ~(size - 1);
	x->page_gpa = page_gpa;
	x->gpa = page_gpa + (lin & (size - 1));
	x->user = !!(rights & PTE_US);
	x->writable = !!(rights & PTE_RW);
	x->global = (leaf & PTE_G) && (regs->cr4 & CR4_PGE_BIT);
	x->dirty = !!(leaf & PTE_D);
}

/* Check the access, then set A (and D) in the leaf and record the entries used. */
static int finish_walk(const struct mmu_regs *regs, const struct mmu_ram *ram, unsigned access,
		       struct mmu_xlat *x, uint32_t *err, uint64_t leaf_gpa, unsigned size)
{
	if (!mmu_allows(regs, x, access))
		return *err = fault_code(regs, access, PFERR_P), -1;
	set_bits(ram, leaf_gpa, PTE_A | (access & MMU_WRITE ? PTE_D : 0), access);
	x->dirty |= !!(access & MMU_WRITE) && !(access & MMU_PEEK);
	x->leaf = read_entry(ram, leaf_gpa, size);
	return 0;
}

static int translate_legacy(const struct mmu_regs *regs, const struct mmu_ram *ram, uint32_t lin,
			    unsigned access, struct mmu_xlat *x, uint32_t *err)
{
	uint64_t pde_gpa = (regs->cr3 & 0xfffff000u) + ((lin >> 22) << 2), leaf_gpa;
	uint32_t pde = read_entry(ram, pde_gpa, 4), pte;

	x->nx = 0;
	if (!(pde & PTE_P))
		return *err = fault_code(regs, access, 0), -1;
	if ((pde & PTE_PS) && (regs->cr4 & CR4_PSE_BIT)) {
		if (pde & PDE_PSE_RSVD)
			return *err = fault_code(regs, access, PFERR_P | PFERR_RSVD), -1;
		describe_leaf(regs, x, lin, (pde & 0xffc00000u) | PDE_PSE_HIGH(pde), MMU_LARGE,
			      pde, pde);
		leaf_gpa = pde_gpa;
	} else {
		set_bits(ram, pde_gpa, PTE_A, access);
		leaf_gpa = (pde & 0xfffff000u) + (((lin >> 12) & 0x3ff) << 2);
		pte = read_entry(ram, leaf_gpa, 4);
		if (!(pte & PTE_P))
			return *err = fault_code(regs, access, 0), -1;
		describe_leaf(regs, x, lin, pte & 0xfffff000u, MMU_PAGE, pde & pte, pte);
	}
	if (finish_walk(regs, ram, access, x, err, leaf_gpa, 4))
		return -1;
	x->upper[0] = read_entry(ram, pde_gpa, 4);	/* after A/D: it may be the leaf */
	x->upper[1] = 0;
	return 0;
}

/* An entry with a reserved bit set: bits above the address width, or XD without NXE. */
static int pae_reserved(const struct mmu_regs *regs, uint64_t e)
{
	return (e & PAE_RSVD) || ((e & PAE_NX) && !nx_on(regs));
}

static int translate_pae(const struct mmu_regs *regs, const struct mmu_ram *ram, uint32_t lin,
			 unsigned access, struct mmu_xlat *x, uint32_t *err)
{
	uint64_t pdpte_gpa = (regs->cr3 & 0xffffffe0u) + ((lin >> 30) << 3);
	uint64_t pdpte = read_entry(ram, pdpte_gpa, 8), pde_gpa, pde, pte, leaf_gpa;
	uint32_t rsvd = PFERR_P | PFERR_RSVD;

	if (!(pdpte & PTE_P))
		return *err = fault_code(regs, access, 0), -1;
	if (pae_reserved(regs, pdpte) || (pdpte & PAE_NX))
		return *err = fault_code(regs, access, rsvd), -1;
	set_bits(ram, pdpte_gpa, PTE_A, access);	/* as QEMU does; the SDM has no A here */
	pde_gpa = (pdpte & PAE_ADDR) + (((lin >> 21) & 0x1ff) << 3);
	pde = read_entry(ram, pde_gpa, 8);
	if (!(pde & PTE_P))
		return *err = fault_code(regs, access, 0), -1;
	if (pae_reserved(regs, pde) || ((pde & PTE_PS) && (pde & PAE_LARGE_RSVD)))
		return *err = fault_code(regs, access, rsvd), -1;
	if (pde & PTE_PS) {
		describe_leaf(regs, x, lin, pde & PAE_ADDR & ~(uint64_t)(PAE_LARGE - 1), PAE_LARGE,
			      pde, pde);
		x->nx = !!(pde & PAE_NX);
		leaf_gpa = pde_gpa;
	} else {
		set_bits(ram, pde_gpa, PTE_A, access);
		leaf_gpa = (pde & PAE_ADDR) + (((lin >> 12) & 0x1ff) << 3);
		pte = read_entry(ram, leaf_gpa, 8);
		if (!(pte & PTE_P))
			return *err = fault_code(regs, access, 0), -1;
		if (pae_reserved(regs, pte))
			return *err = fault_code(regs, access, rsvd), -1;
		describe_leaf(regs, x, lin, pte & PAE_ADDR, MMU_PAGE, pde & pte, pte);
		x->nx = !!((pde | pte) & PAE_NX);
	}
	if (finish_walk(regs, ram, access, x, err, leaf_gpa, 8))
		return -1;
	x->upper[0] = read_entry(ram, pdpte_gpa, 8);	/* after A/D: either may be the leaf */
	x->upper[1] = read_entry(ram, pde_gpa, 8);
	return 0;
}

int mmu_translate(const struct mmu_regs *regs, const struct mmu_ram *ram, uint32_t lin,
		  unsigned access, struct mmu_xlat *x, uint32_t *err)
{
	if (regs->cr4 & CR4_PAE_BIT)
		return translate_pae(regs, ram, lin, access, x, err);
	return translate_legacy(regs, ram, lin, access, x, err);
}

int mmu_path(const struct mmu_regs *regs, const struct mmu_ram *ram, uint32_t lin,
	     struct mmu_path *p)
{
	uint64_t dir_gpa;

	if (regs->cr4 & CR4_PAE_BIT) {
		p->upper[0] = read_entry(ram, (regs->cr3 & 0xffffffe0u) + ((lin >> 30) << 3), 8);
		dir_gpa = (p->upper[0] & PAE_ADDR) + (((lin >> 21) & 0x1ff) << 3);
		p->upper[1] = read_entry(ram, dir_gpa, 8);
		p->large = !!(p->upper[1] & PTE_PS);
		p->table = (p->upper[1] & PAE_ADDR) + (((lin >> 12) & 0x1ff) << 3);
		p->entry_size = 8;
	} else {
		p->upper[0] = read_entry(ram, (regs->cr3 & 0xfffff000u) + ((lin >> 22) << 2), 4);
		p->upper[1] = 0;
		p->large = (p->upper[0] & PTE_PS) && (regs->cr4 & CR4_PSE_BIT);
		p->table = (p->upper[0] & 0xfffff000u) + (((lin >> 12) & 0x3ff) << 2);
		p->entry_size = 4;
	}
	return 0;
}

uint64_t mmu_path_leaf(const struct mmu_ram *ram, const struct mmu_path *p, unsigned i)
{
	return read_entry(ram, p->table + (uint64_t)i * p->entry_size, p->entry_size);
}

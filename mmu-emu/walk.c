/*
 * walk.c - the i386 page-table walk (Intel SDM vol. 3, 4.3 and 4.6).
 *
 * Two levels, 4 KiB pages and, with CR4.PSE, 4 MiB pages. Accessed and Dirty
 * bits are set the way hardware (and QEMU) set them: a page directory entry
 * that points to a page table gets A as soon as the walk uses it, whether
 * the access then succeeds or not; the leaf entry gets A, and D for a write,
 * only when the access is allowed. Paging-structure entries outside RAM read
 * as not present, so a wild CR3 or PDE ends in a #PF, never in the monitor
 * reading memory that is not the guest's.
 */
#include "mmu-emu/mmu.h"

#define PDE_PSE_RSVD 0x00200000u	/* bit 21 of a 4 MiB PDE (SDM table 4-5) */
#define PDE_PSE_HIGH(pde) (((uint64_t)(((pde) >> 13) & 0xff)) << 32)	/* PSE-36 */

static uint32_t *entry_at(const struct mmu_ram *ram, uint64_t gpa)
{
	if (gpa > ram->bytes - 4)
		return NULL;
	return (uint32_t *)(ram->base + gpa);
}

static uint32_t read_entry(const struct mmu_ram *ram, uint64_t gpa)
{
	const uint32_t *p = entry_at(ram, gpa);

	return p ? *p : 0;
}

/* Set bits in the entry at gpa, as the processor's locked update does. */
static void set_bits(const struct mmu_ram *ram, uint64_t gpa, uint32_t bits, unsigned access)
{
	uint32_t *p = entry_at(ram, gpa);

	if (!(access & MMU_PEEK) && p && (*p & bits) != bits)
		*p |= bits;
}

static uint32_t fault_code(unsigned access, uint32_t extra)
{
	return extra | (access & MMU_WRITE ? PF_W : 0) | (access & MMU_USER ? PF_U : 0);
}

int mmu_allows(const struct mmu_regs *regs, const struct mmu_xlat *x, unsigned access)
{
	int write = access & MMU_WRITE;

	if (access & MMU_USER)
		return x->user && (!write || x->writable);
	return !write || x->writable || !(regs->cr0 & CR0_WP_BIT);
}

/* Fill *x for the leaf entry (a PTE, or a PDE mapping 4 MiB). */
static void describe_leaf(const struct mmu_regs *regs, struct mmu_xlat *x, uint32_t lin,
			  uint64_t page_gpa, uint32_t size, uint32_t rights, uint32_t leaf)
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

/* Record the entries as the walk leaves them, for mmu_space_validate. */
static void note_entries(const struct mmu_ram *ram, struct mmu_xlat *x, uint64_t pde_gpa,
			 uint64_t leaf_gpa)
{
	x->pde = read_entry(ram, pde_gpa);
	x->leaf = read_entry(ram, leaf_gpa);
}

int mmu_translate(const struct mmu_regs *regs, const struct mmu_ram *ram, uint32_t lin,
		  unsigned access, struct mmu_xlat *x, uint32_t *err)
{
	uint64_t pde_gpa = (regs->cr3 & 0xfffff000u) + ((lin >> 22) << 2), leaf_gpa;
	uint32_t pde = read_entry(ram, pde_gpa), pte;

	if (!(pde & PTE_P))
		return *err = fault_code(access, 0), -1;
	if ((pde & PTE_PS) && (regs->cr4 & CR4_PSE_BIT)) {
		if (pde & PDE_PSE_RSVD)
			return *err = fault_code(access, PF_P | PF_RSVD), -1;
		describe_leaf(regs, x, lin, (pde & 0xffc00000u) | PDE_PSE_HIGH(pde), MMU_LARGE,
			      pde, pde);
		leaf_gpa = pde_gpa;
	} else {
		set_bits(ram, pde_gpa, PTE_A, access);
		leaf_gpa = (pde & 0xfffff000u) + (((lin >> 12) & 0x3ff) << 2);
		pte = read_entry(ram, leaf_gpa);
		if (!(pte & PTE_P))
			return *err = fault_code(access, 0), -1;
		describe_leaf(regs, x, lin, pte & 0xfffff000u, MMU_PAGE, pde & pte, pte);
	}
	if (!mmu_allows(regs, x, access))
		return *err = fault_code(access, PF_P), -1;
	set_bits(ram, leaf_gpa, PTE_A | (access & MMU_WRITE ? PTE_D : 0), access);
	x->dirty |= !!(access & MMU_WRITE) && !(access & MMU_PEEK);
	note_entries(ram, x, pde_gpa, leaf_gpa);
	return 0;
}

/*
 * paging.h - 32-bit paging and PAE paging for the micro-guests that test the
 * MMU: page directories and tables from a pool of frames, control registers,
 * EFER.NXE, invlpg, and loads, stores and jumps that may page-fault, from
 * ring 0 or ring 3, with the fault's vector, error code, CR2 and EIP recorded
 * and execution resumed after the access.
 *
 * Memory: [PG_IDENT_START, PG_IDENT_END) is identity-mapped in every
 * directory made by pg_new_directory() (and every PDPT made by
 * pae_new_pdpt()), user-accessible and writable, so the
 * guest's code, data and stacks (linked at 1 MiB) keep working in ring 0 and
 * ring 3 once paging is on. Frames come from [PG_POOL_START, PG_IDENT_END),
 * free RAM above the image, so a frame's physical address is also a usable
 * virtual address. RAM from PG_IDENT_END up to PG_RAM_END is the guests' to
 * map wherever they like. Virtual addresses below 0x10000 and from
 * 0xffffc000 up are never used: lilyvm cannot give them to a guest.
 */
#ifndef PAGING_H
#define PAGING_H

#include <stdint.h>

#include "guest.h"

#define PG_P 0x001u		/* present */
#define PG_RW 0x002u		/* writable */
#define PG_US 0x004u		/* user */
#define PG_A 0x020u		/* accessed */
#define PG_D 0x040u		/* dirty (PTE and 4 MiB PDE only) */
#define PG_PS 0x080u		/* PDE: 4 MiB page (with CR4.PSE) */
#define PG_G 0x100u		/* global (with CR4.PGE) */
#define PG_FRAME 0xfffff000u
#define PG_BIG_FRAME 0xffc00000u
#define PAGE 0x1000u
#define BIG_PAGE 0x400000u

#define PFERR_P 1u			/* #PF error code: protection, not absence */
#define PFERR_W 2u			/* the access was a write */
#define PFERR_U 4u			/* the access came from ring 3 */
#define PFERR_RSVD 8u			/* a reserved bit was set in a present entry */
#define PFERR_ID 0x10u			/* an instruction fetch (PAE with EFER.NXE, or SMEP) */
#define VEC_PF 14u

#define CR0_WP (1u << 16)
#define CR0_PG (1u << 31)
#define CR4_PSE (1u << 4)
#define CR4_PAE (1u << 5)
#define CR4_PGE (1u << 7)

#define PG_IDENT_START 0x00100000u
#define PG_POOL_START 0x00400000u
#define PG_IDENT_END 0x01000000u
#define PG_RAM_END 0x08000000u	/* the 128 MiB compare.sh gives QEMU */

#define PG_NO_FAULT 0xffffffffu	/* pg_fault.vector when the access went through */

/* What the last access helper saw: a fault, or vector PG_NO_FAULT. */
struct pg_fault_info {
	uint32_t recover;	/* where the #PF handler resumes; 0: no access under way */
	uint32_t vector, err, cr2, eip;
	uint32_t at;		/* the address of the access instruction */
};
extern volatile struct pg_fault_info pg_fault;

static inline uint32_t read_cr0(void) { uint32_t v; __asm__ volatile("mov %%cr0, %0" : "=r"(v)); return v; }
static inline uint32_t read_cr2(void) { uint32_t v; __asm__ volatile("mov %%cr2, %0" : "=r"(v)); return v; }
static inline uint32_t read_cr3(void) { uint32_t v; __asm__ volatile("mov %%cr3, %0" : "=r"(v)); return v; }
static inline uint32_t read_cr4(void) { uint32_t v; __asm__ volatile("mov %%cr4, %0" : "=r"(v)); return v; }
static inline void write_cr0(uint32_t v) { __asm__ volatile("mov %0, %%cr0" :: "r"(v) : "memory"); }
static inline void write_cr3(uint32_t v) { __asm__ volatile("mov %0, %%cr3" :: "r"(v) : "memory"); }
static inline void write_cr4(uint32_t v) { __asm__ volatile("mov %0, %%cr4" :: "r"(v) : "memory"); }
static inline void invlpg(uint32_t va) { __asm__ volatile("invlpg (%0)" :: "r"(va) : "memory"); }
static inline uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;

	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return (uint64_t)hi << 32 | lo;
}
static inline void wrmsr(uint32_t msr, uint64_t v)
{
	__asm__ volatile("wrmsr" :: "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
}
static inline void cpuid(uint32_t leaf, uint32_t r[4])
{
	__asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(0));
}

/* A zeroed 4 KiB frame from the pool; its physical address is also its virtual one. */
uint32_t *pg_alloc(void);
/* A new page directory: the identity map of [PG_IDENT_START, PG_IDENT_END), shared page tables. */
uint32_t *pg_new_directory(void);
/* The PDE for va. */
volatile uint32_t *pg_pde(uint32_t *pd, uint32_t va);
/*
 * The PTE for va in the page table the PDE names (present or not); a zero
 * PDE gets a new table with PDE flags P|RW|US first.
 */
volatile uint32_t *pg_pte(uint32_t *pd, uint32_t va);
/* Map the 4 KiB page va to frame pa with flags (no TLB flush); returns the PTE. */
volatile uint32_t *pg_map(uint32_t *pd, uint32_t va, uint32_t pa, uint32_t flags);
/* Load CR3 with pd and turn CR0.PG on, with CR0.WP off. */
void pg_enable(uint32_t *pd);
/* Set or clear CR0.WP, CR4.PSE, CR4.PGE. */
void pg_set_wp(int on);
void pg_set_pse(int on);
void pg_set_pge(int on);
/* Fill or copy 4 KiB (identity-mapped or otherwise mapped, never faulting). */
void pg_fill(void *page, uint32_t word);
void pg_copy(void *to, const void *from);

/*
 * PAE paging (CR4.PAE): a page-directory-pointer table of 4 PDPTEs at CR3,
 * each naming a page directory of 512 64-bit PDEs (2 MiB each, or a 2 MiB
 * page with PG_PS, whatever CR4.PSE says), each naming a page table of 512
 * 64-bit PTEs. The flags above mean the same in 64-bit entries; a PDPTE has
 * only P (its R/W, U/S, A, D and PS bits are reserved). Bit 63 is XD with
 * EFER.NXE set and reserved without it, as are bits 62 down to MAXPHYADDR.
 */
#define PAE_XD (1ull << 63)
#define PAE_FRAME 0x000ffffffffff000ull
#define PAE_BIG_FRAME 0x000fffffffe00000ull
#define PAE_BIG_PAGE 0x200000u
#define MSR_EFER 0xc0000080u
#define EFER_NXE (1u << 11)

/*
 * A new PDPT with the identity map of [PG_IDENT_START, PG_IDENT_END) (shared
 * page tables) and 4 present PDPTEs naming new page directories. PDPTs are
 * 32 bytes, handed out one after another from a shared frame, so most of
 * them are not page-aligned: CR3 bits 11:5 count.
 */
uint64_t *pae_new_pdpt(void);
/* The PDPTE, PDE for va (the PDE through the PDPTE's frame, present or not). */
volatile uint64_t *pae_pdpte(uint64_t *pdpt, uint32_t va);
volatile uint64_t *pae_pde(uint64_t *pdpt, uint32_t va);
/* The PTE for va; a zero PDE gets a new table with PDE flags P|RW|US first. */
volatile uint64_t *pae_pte(uint64_t *pdpt, uint32_t va);
/* Map the 4 KiB page va to frame pa with flags (no TLB flush); returns the PTE. */
volatile uint64_t *pae_map(uint64_t *pdpt, uint32_t va, uint64_t pa, uint64_t flags);
/* Load CR3 with pdpt, set CR4.PAE and turn CR0.PG on, with CR0.WP off. */
void pae_enable(uint64_t *pdpt);
/*
 * What CPUID offers: PAE (leaf 1 EDX bit 6), NX (leaf 0x80000001 EDX bit
 * 20), and MAXPHYADDR (leaf 0x80000008 EAX[7:0]; without that leaf 36 with
 * PAE, else 32, as the SDM says).
 */
int pg_cpu_pae(void);
int pg_cpu_nx(void);
unsigned pg_maxphyaddr(void);
/* Set or clear EFER.NXE (read-modify-write of the MSR: only if pg_cpu_nx()). */
void pg_set_nxe(int on);

/*
 * The #PF handler the helpers rely on (installed by pg_init, which also
 * routes ring 3's exit call): records the fault and resumes at
 * pg_fault.recover. A fault outside a helper prints "not ok" and powers off.
 */
void pg_init(void);
void pg_on_fault(struct trap_frame *f);

/*
 * One 32-bit access at va from ring cpl (0 or 3), as a single plain mov.
 * Returns 1 if it page-faulted (pg_fault says how), 0 if not; a load's value
 * goes to *val (left alone on a fault).
 */
int pg_load(int cpl, uint32_t va, uint32_t *val);
int pg_store(int cpl, uint32_t va, uint32_t val);
/*
 * Jump to va from ring cpl, with ECX holding the way back: code at va that
 * may run without faulting must be PG_RET_STUB ("jmp *%ecx").
 */
int pg_exec(int cpl, uint32_t va);
#define PG_RET_STUB 0xe1ffu	/* ff e1: jmp *%ecx, as a little-endian word */

/*
 * The last helper's outcome for a check name: "err=E cr2=0xC", "no fault" or
 * "vector V". A reserved-bit fault shows as "err=E/Q": E with P set, as the
 * SDM has it, Q with P clear, as QEMU 7.2 reports it; a check on one must
 * accept both, so that QEMU and a monitor that follows the SDM agree.
 */
const char *pg_fault_str(void);
/* A check name formatted like gprintf (%d %u %x %s); a static buffer, valid for three more calls. */
const char *pg_name(const char *fmt, ...);

#endif

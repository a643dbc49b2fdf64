/*
 * sites.h - the site-table format, the only thing the rewriter (writer) and
 * lightvm (reader) share.
 *
 * A rewritten image carries two extra non-allocated sections:
 *   .note.lilyvm   an ELF note (name "LilyVM", type LILYVM_NOTE_REWRITTEN)
 *                  that marks the image rewritten;
 *   .lilyvm.sites  a struct lilyvm_sites_header followed by `count` struct
 *                  lilyvm_site entries sorted by address, so the monitor
 *                  finds the site of a trapping EIP by binary search.
 *
 * The contract at a site of form LILYVM_FORM_TRAP: the first byte is
 * LILYVM_TRAP_BYTE (hlt), which raises #GP in ring 3 with EIP at the site,
 * and the remaining len-1 bytes are LILYVM_FILL_BYTE (int3), so a jump into
 * the middle of a site traps too instead of running half an instruction.
 * The monitor emulates the original instruction held in `orig` as if it ran
 * at `addr`, and resumes at addr+len unless the instruction transfers control.
 * A hlt fault at an address that is not a site, or whose bytes the guest has
 * since changed, is the guest's own code and is decoded from memory instead.
 *
 * A site with LILYVM_SITE_RUN in flags holds a run of instructions in orig
 * (no branch lands inside it): the monitor emulates them in order, each at
 * its own address, for as long as execution falls through inside the site.
 * Its class is its first instruction's. The rewriter makes one of Linux's
 * interrupt-save idiom, `pushf; pop %reg; cli`.
 *
 * A site of form LILYVM_FORM_PV traps only where it must: its first five
 * bytes are `jmp rel32` to its trampoline and the rest is int3 fill. The
 * trampolines (.lilyvm.pv, below) are native code the monitor maps at
 * LILYVM_PV_CODE in ring 0's views only: they run the site's ordinary
 * instructions as they are and do what cli, sti, pushf and popf do to the
 * guest's EFLAGS against the shared virtual-CPU page at LILYVM_PV_VCPU,
 * then jump back to the end of the site. Such a site holds only those four
 * instructions (32-bit forms) and ordinary ones, so that the monitor can
 * still emulate `orig` where the trampoline must not run: in ring 3 (the
 * fetch from LILYVM_PV_CODE faults there) or on a return into the site.
 *
 * All fields are little-endian; the structures have no padding.
 */
#ifndef LILYVM_SITES_H
#define LILYVM_SITES_H

#include <stddef.h>
#include <stdint.h>

#define LILYVM_SITES_SECTION ".lilyvm.sites"
#define LILYVM_NOTE_SECTION ".note.lilyvm"
#define LILYVM_NOTE_NAME "LilyVM"
#define LILYVM_NOTE_REWRITTEN 0x4c560001u
#define LILYVM_SITES_MAGIC "LVSITES"
#define LILYVM_SITES_VERSION 1u
#define LILYVM_TRAP_BYTE 0xf4u
#define LILYVM_FILL_BYTE 0xccu
#define LILYVM_MAX_INSN 15

/* How a site was replaced. */
enum lilyvm_form {
	LILYVM_FORM_TRAP = 1,	/* hlt + int3 fill: #GP, emulate orig */
	LILYVM_FORM_PV = 2,	/* jmp rel32 to a trampoline + int3 fill */
};

/*
 * Paravirtual trampolines, the optional section .lilyvm.pv: a struct
 * lilyvm_pv_header, code_size bytes of code to be mapped at `base`
 * (always LILYVM_PV_CODE), padding to 4 bytes, then `count` struct
 * lilyvm_pv_entry sorted by trampoline address.
 *
 * The guest may never map [LILYVM_PV_CODE, 4 GiB): the trampolines, the
 * vCPU page and the monitor's own pages live there (Linux: reservetop=1M).
 *
 * The vCPU page holds struct lilyvm_pv_vcpu. `vflags` is the guest's
 * EFLAGS bits that ring 3 of the host cannot hold (TF IF IOPL NT AC ID);
 * `pending` is nonzero while an interrupt waits for IF. Where a
 * trampoline lets IF be set (after popf, after the instruction after sti)
 * it checks both: if IF is set and an interrupt waits, it executes
 * LILYVM_PV_EXIT_BYTE (hlt: #GP in ring 3) followed by struct
 * lilyvm_pv_exit, and the monitor resumes the guest at `resume` (an address
 * in the site or its end) with the interrupt delivered (after one more
 * instruction if `flags` has LILYVM_PV_EXIT_SHADOW: the site ended with
 * sti). With LILYVM_PV_EXIT_EMULATE the monitor instead emulates the site's
 * original bytes from `resume`: the way out of a case a trampoline leaves
 * to the monitor.
 *
 * `mov %crN, %reg` reads `cr[N]` of the vCPU page, which the monitor
 * writes before the guest runs; the trampolines never write it.
 *
 * invlpg has a trampoline too: it looks its page up in the read-only
 * bitmap at LILYVM_PV_MAPPED, where the monitor sets the bit of every page
 * it maps in any view, and leaves the site to the monitor (EMULATE, from
 * the invlpg) only if the bit is set: a page nobody mapped has nothing to
 * drop. (Trampolines take CS and DS to be flat, base 0.)
 *
 * Besides cli, sti, pushf, popf, mov from CR0/2/3/4 and invlpg with
 * ordinary instructions (mov, push, pop, add, sub, cmp, and, or, xor, test,
 * inc, dec; short conditional branches, forward if they land inside the
 * site), one idiom has a trampoline: Linux's
 * sync_core(), `pushf; push %cs; push $1f; iret; 1:`, an iret to the next
 * instruction that changes nothing but NT's task return, so its trampoline
 * is a jump back unless NT is set.
 */
#define LILYVM_PV_SECTION ".lilyvm.pv"
#define LILYVM_PV_MAGIC "LVPV"
#define LILYVM_PV_VERSION 1u
#define LILYVM_PV_CODE 0xfff00000u	/* where trampolines are mapped */
#define LILYVM_PV_MAPPED 0xfffdb000u	/* bitmap: a bit per page any view may have mapped */
#define LILYVM_PV_MAPPED_SIZE 0x20000u	/* 2^20 pages, one bit each */
#define LILYVM_PV_VCPU 0xffffb000u	/* the shared virtual-CPU page */
#define LILYVM_PV_CODE_MAX (LILYVM_PV_MAPPED - LILYVM_PV_CODE)
#define LILYVM_PV_EXIT_BYTE 0xf4u
#define LILYVM_PV_EXIT_SHADOW 0x01u
#define LILYVM_PV_EXIT_EMULATE 0x02u

struct lilyvm_pv_vcpu {
	uint32_t vflags;	/* virtual EFLAGS bits: TF IF IOPL NT AC ID */
	uint32_t pending;	/* an interrupt waits for IF */
	uint32_t cr[5];		/* CR0, (CR1), CR2, CR3, CR4, for mov from them */
};

/* Header at offset 0 of .lilyvm.pv. */
struct lilyvm_pv_header {
	char magic[8];		/* LILYVM_PV_MAGIC, NUL-padded */
	uint32_t version;	/* LILYVM_PV_VERSION */
	uint32_t base;		/* guest virtual address of the code: LILYVM_PV_CODE */
	uint32_t code_size;	/* bytes of code after the header */
	uint32_t count;		/* struct lilyvm_pv_entry after the code */
};

/* Which site a trampoline serves. */
struct lilyvm_pv_entry {
	uint32_t tramp;		/* guest virtual address of the trampoline */
	uint32_t site;		/* address of its site in the site table */
};

/* What follows the exit byte of a trampoline. */
struct lilyvm_pv_exit {
	uint32_t resume;	/* where the guest goes on: the end of the site */
	uint8_t flags;		/* LILYVM_PV_EXIT_* */
} __attribute__((packed));

/*
 * The catalogue: one class per privileged or ring-sensitive instruction
 * family. Numbers are part of the format and never change meaning.
 * rewriter/CATALOGUE.md says why each is here and what the monitor does.
 */
enum lilyvm_class {
	LILYVM_CLS_NONE = 0,
	LILYVM_CLS_CLI,
	LILYVM_CLS_STI,
	LILYVM_CLS_HLT,
	LILYVM_CLS_PUSHF,
	LILYVM_CLS_POPF,
	LILYVM_CLS_IN,
	LILYVM_CLS_OUT,
	LILYVM_CLS_INS,
	LILYVM_CLS_OUTS,
	LILYVM_CLS_LGDT,
	LILYVM_CLS_LIDT,
	LILYVM_CLS_LLDT,
	LILYVM_CLS_LTR,
	LILYVM_CLS_SGDT,
	LILYVM_CLS_SIDT,
	LILYVM_CLS_SLDT,
	LILYVM_CLS_STR,
	LILYVM_CLS_SMSW,
	LILYVM_CLS_LMSW,
	LILYVM_CLS_MOV_TO_CR,
	LILYVM_CLS_MOV_FROM_CR,
	LILYVM_CLS_MOV_TO_DR,
	LILYVM_CLS_MOV_FROM_DR,
	LILYVM_CLS_CLTS,
	LILYVM_CLS_INVD,
	LILYVM_CLS_WBINVD,
	LILYVM_CLS_INVLPG,
	LILYVM_CLS_RDMSR,
	LILYVM_CLS_WRMSR,
	LILYVM_CLS_RDPMC,
	LILYVM_CLS_RDTSCP,
	LILYVM_CLS_CPUID,
	LILYVM_CLS_IRET,
	LILYVM_CLS_INT,
	LILYVM_CLS_INTO,
	LILYVM_CLS_MOV_TO_SEG,
	LILYVM_CLS_MOV_FROM_SEG,
	LILYVM_CLS_PUSH_SEG,
	LILYVM_CLS_POP_SEG,
	LILYVM_CLS_LOAD_FAR_PTR,
	LILYVM_CLS_FAR_JMP,
	LILYVM_CLS_FAR_CALL,
	LILYVM_CLS_FAR_RET,
	LILYVM_CLS_LAR,
	LILYVM_CLS_LSL,
	LILYVM_CLS_VERR,
	LILYVM_CLS_VERW,
	LILYVM_CLS_ARPL,
	LILYVM_CLS_SYSENTER,
	LILYVM_CLS_SYSEXIT,
	LILYVM_CLS_SYSCALL,
	LILYVM_CLS_SYSRET,
	LILYVM_CLS_MONITOR,
	LILYVM_CLS_MWAIT,
	LILYVM_CLS_XGETBV,
	LILYVM_CLS_XSETBV,
	LILYVM_CLS_COUNT
};

/* Site flags. */
#define LILYVM_SITE_RUN 0x01u	/* orig holds a run of instructions, not one */

/* Header at offset 0 of .lilyvm.sites. */
struct lilyvm_sites_header {
	char magic[8];		/* LILYVM_SITES_MAGIC, NUL-padded */
	uint32_t version;	/* LILYVM_SITES_VERSION */
	uint32_t entry_size;	/* sizeof(struct lilyvm_site) */
	uint32_t count;		/* entries that follow */
	uint32_t reserved;	/* zero */
};

/* One rewritten instruction. */
struct lilyvm_site {
	uint32_t addr;		/* guest virtual address of the instruction */
	uint8_t len;		/* its length in bytes, 1..15 */
	uint8_t cls;		/* enum lilyvm_class */
	uint8_t form;		/* enum lilyvm_form */
	uint8_t flags;		/* LILYVM_SITE_* */
	uint8_t orig[16];	/* the original bytes, zero past len */
};

/* Descriptor of the LILYVM_NOTE_REWRITTEN note. */
struct lilyvm_note_desc {
	uint32_t version;	/* LILYVM_SITES_VERSION */
	uint32_t site_count;	/* entries in .lilyvm.sites */
	uint32_t class_count;	/* LILYVM_CLS_COUNT of the writer */
	uint32_t flags;		/* zero */
};

_Static_assert(sizeof(struct lilyvm_sites_header) == 24, "header layout");
_Static_assert(sizeof(struct lilyvm_site) == 24, "site layout");
_Static_assert(sizeof(struct lilyvm_note_desc) == 16, "note layout");
_Static_assert(sizeof(struct lilyvm_pv_header) == 24, "pv header layout");
_Static_assert(sizeof(struct lilyvm_pv_entry) == 8, "pv entry layout");
_Static_assert(sizeof(struct lilyvm_pv_exit) == 5, "pv exit layout");

/* The short name of a catalogue class, as reports print it. */
static inline const char *lilyvm_class_name(unsigned cls)
{
	static const char *const names[LILYVM_CLS_COUNT] = {
		[LILYVM_CLS_NONE] = "none",
		[LILYVM_CLS_CLI] = "cli",
		[LILYVM_CLS_STI] = "sti",
		[LILYVM_CLS_HLT] = "hlt",
		[LILYVM_CLS_PUSHF] = "pushf",
		[LILYVM_CLS_POPF] = "popf",
		[LILYVM_CLS_IN] = "in",
		[LILYVM_CLS_OUT] = "out",
		[LILYVM_CLS_INS] = "ins",
		[LILYVM_CLS_OUTS] = "outs",
		[LILYVM_CLS_LGDT] = "lgdt",
		[LILYVM_CLS_LIDT] = "lidt",
		[LILYVM_CLS_LLDT] = "lldt",
		[LILYVM_CLS_LTR] = "ltr",
		[LILYVM_CLS_SGDT] = "sgdt",
		[LILYVM_CLS_SIDT] = "sidt",
		[LILYVM_CLS_SLDT] = "sldt",
		[LILYVM_CLS_STR] = "str",
		[LILYVM_CLS_SMSW] = "smsw",
		[LILYVM_CLS_LMSW] = "lmsw",
		[LILYVM_CLS_MOV_TO_CR] = "mov-to-cr",
		[LILYVM_CLS_MOV_FROM_CR] = "mov-from-cr",
		[LILYVM_CLS_MOV_TO_DR] = "mov-to-dr",
		[LILYVM_CLS_MOV_FROM_DR] = "mov-from-dr",
		[LILYVM_CLS_CLTS] = "clts",
		[LILYVM_CLS_INVD] = "invd",
		[LILYVM_CLS_WBINVD] = "wbinvd",
		[LILYVM_CLS_INVLPG] = "invlpg",
		[LILYVM_CLS_RDMSR] = "rdmsr",
		[LILYVM_CLS_WRMSR] = "wrmsr",
		[LILYVM_CLS_RDPMC] = "rdpmc",
		[LILYVM_CLS_RDTSCP] = "rdtscp",
		[LILYVM_CLS_CPUID] = "cpuid",
		[LILYVM_CLS_IRET] = "iret",
		[LILYVM_CLS_INT] = "int",
		[LILYVM_CLS_INTO] = "into",
		[LILYVM_CLS_MOV_TO_SEG] = "mov-to-seg",
		[LILYVM_CLS_MOV_FROM_SEG] = "mov-from-seg",
		[LILYVM_CLS_PUSH_SEG] = "push-seg",
		[LILYVM_CLS_POP_SEG] = "pop-seg",
		[LILYVM_CLS_LOAD_FAR_PTR] = "load-far-ptr",
		[LILYVM_CLS_FAR_JMP] = "far-jmp",
		[LILYVM_CLS_FAR_CALL] = "far-call",
		[LILYVM_CLS_FAR_RET] = "far-ret",
		[LILYVM_CLS_LAR] = "lar",
		[LILYVM_CLS_LSL] = "lsl",
		[LILYVM_CLS_VERR] = "verr",
		[LILYVM_CLS_VERW] = "verw",
		[LILYVM_CLS_ARPL] = "arpl",
		[LILYVM_CLS_SYSENTER] = "sysenter",
		[LILYVM_CLS_SYSEXIT] = "sysexit",
		[LILYVM_CLS_SYSCALL] = "syscall",
		[LILYVM_CLS_SYSRET] = "sysret",
		[LILYVM_CLS_MONITOR] = "monitor",
		[LILYVM_CLS_MWAIT] = "mwait",
		[LILYVM_CLS_XGETBV] = "xgetbv",
		[LILYVM_CLS_XSETBV] = "xsetbv",
	};

	return cls < LILYVM_CLS_COUNT ? names[cls] : "?";
}

/* The site that starts at addr in a table sorted by address, or NULL. */
static inline const struct lilyvm_site *lilyvm_site_find(const struct lilyvm_site *sites,
							 size_t n, uint32_t addr)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (sites[mid].addr == addr)
			return &sites[mid];
		if (sites[mid].addr < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

#endif

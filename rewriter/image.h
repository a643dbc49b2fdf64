/*
 * image.h - librewrite internals: the in-memory image and the pieces that
 * work on it (ELF reading, the catalogue, code discovery, output).
 */
#ifndef LILYVM_REWRITER_IMAGE_H
#define LILYVM_REWRITER_IMAGE_H

#include <elf.h>
#include <stdarg.h>

#include <capstone/capstone.h>

#include "rewriter/rewrite.h"

/* Executable bytes present in the file, at a guest virtual address. */
struct rw_region {
	uint32_t vaddr;
	uint32_t size;
	uint32_t off;		/* file offset of vaddr */
	uint8_t *state;		/* one RW_B_* per byte, used while scanning */
};

/* Scan state of one byte of code. */
enum {
	RW_B_UNKNOWN = 0,
	RW_B_START,		/* first byte of a decoded instruction */
	RW_B_CONT,		/* later byte of a decoded instruction */
	RW_B_DATA,		/* known data (boot headers): never decoded */
	RW_B_BAD,		/* could not be decoded */
	RW_B_UNREACHED,		/* left over after recursive discovery */
	RW_B_PADDING,		/* left over, and only alignment filler */
};

/* A function symbol: where it starts and how many bytes of code it spans. */
struct rw_func {
	uint32_t addr;
	uint32_t size;
};

struct rw_image {
	uint8_t *buf;		/* the whole input file, patched in place */
	size_t len;
	Elf32_Ehdr ehdr;
	Elf32_Shdr *shdrs;	/* copy of the section header table */
	size_t shnum;
	size_t shstrndx;
	struct rw_region *regions;
	size_t n_regions;
	struct rw_func *funcs;	/* STT_FUNC symbols inside regions, sorted */
	size_t n_funcs;
	int rewritten;		/* the input already carried the note */
	struct lilyvm_site *sites;	/* sorted by address */
	size_t n_sites;
	struct rw_range *pinned;	/* code the kernel patches itself (linuxtab.c), sorted */
	size_t n_pinned;
	uint32_t *fixups;	/* exception fixups: branch targets no decoding shows */
	size_t n_fixups;
	int traps_only;		/* no paravirtual trampolines (rw_set_traps_only) */
	uint8_t *pv_code;	/* the trampolines (pv.c), for LILYVM_PV_CODE */
	size_t pv_len;
	struct lilyvm_pv_entry *pv_entries;
	size_t n_pv;
};

/* Format a one-line error into err (RW_ERRLEN bytes); returns -1. */
int rw_fail(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* qsort/bsearch order of uint32_t addresses. */
int rw_addr_cmp(const void *a, const void *b);

/* The region holding addr, or NULL. */
struct rw_region *rw_region_of(const struct rw_image *img, uint32_t addr);

/* Catalogue class of a decoded instruction, LILYVM_CLS_NONE if it is not catalogued. */
unsigned rw_classify(const cs_insn *insn);

/* Offset of the opcode after legacy prefixes; *opsize16 set if 0x66 was seen. */
unsigned rw_opcode_offset(const uint8_t *b, unsigned len, int *opsize16);

/* Open a capstone handle for 32-bit x86 without operand detail. */
int rw_capstone_open(csh *cs, char *err);

/*
 * Discover code and collect catalogued instructions. With known != NULL
 * (verification) a site start decodes from the site's original bytes and
 * must hold the trap form; anything catalogued elsewhere is an error.
 */
int rw_scan(struct rw_image *img, const struct lilyvm_site *known, size_t n_known,
	    struct rw_report *rep, struct lilyvm_site **found, size_t *n_found, char *err);

/* The name of a section, or "" if its name is out of bounds. */
const char *rw_section_name(const struct rw_image *img, const Elf32_Shdr *sh);

/* Find the tables of code a Linux kernel patches while it runs, and its exception fixups. */
int rw_find_linux_tables(struct rw_image *img, char *err);

/* Length of an ordinary instruction a run may hold (push/pop/mov of registers), or 0. */
unsigned rw_ordinary_len(const uint8_t *p, uint32_t avail);

/* What a trampoline can make of an instruction (pv.c). */
enum rw_pv_kind {
	RW_PV_NOT,		/* nothing: it ends a trampoline site */
	RW_PV_ORDINARY,		/* copied as it is: mov, push, pop, lea, add, sub, cmp, and, or, xor, test, inc, dec */
	RW_PV_FLAGS,		/* cli, sti, pushf, popf: replaced */
	RW_PV_INVLPG,		/* invlpg of a memory operand not based on %esp: replaced */
	RW_PV_READ_CR,		/* mov from CR0, CR2, CR3 or CR4: replaced */
	RW_PV_BRANCH,		/* a short conditional branch: relocated */
	RW_PV_TAIL,		/* a direct call or jump, last in its site: relocated */
};

/* The kind of a decoded instruction (no prefix but %fs, %gs and operand size). */
enum rw_pv_kind rw_pv_kind(const cs_insn *insn);

/* The site is Linux's sync_core() idiom, `pushf; push %cs; push $1f; iret; 1:`. */
int rw_pv_sync_core(const struct lilyvm_site *s);

/* Build the trampolines of the LILYVM_FORM_PV sites and patch each site's jump. */
int rw_pv_build(struct rw_image *img, char *err);

/* Read an existing .lilyvm.sites section into img->sites. */
int rw_read_site_table(struct rw_image *img, const Elf32_Shdr *sh, char *err);

#endif

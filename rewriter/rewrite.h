/*
 * rewrite.h - librewrite, the public interface of the kernel-image rewriter.
 *
 * Load an ELF32 i386 executable, find every privileged or ring-sensitive
 * instruction in its code, replace each in place with the trapping form of
 * sites.h (or a jump to a paravirtual trampoline where one can do without a
 * trap), and write the image back with its site table and trampolines.
 * Nothing moves: all symbols and addresses of the input stay valid.
 *
 * Errors are reported as one line in a caller-supplied buffer of RW_ERRLEN
 * bytes; functions return 0 on success and -1 on failure.
 */
#ifndef LILYVM_REWRITE_H
#define LILYVM_REWRITE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "rewriter/sites.h"

#define RW_ERRLEN 256

struct rw_image;

/* A byte range of guest virtual addresses. */
struct rw_range {
	uint32_t addr;
	uint32_t len;
};

/* What a rewrite or a verification found. */
struct rw_report {
	int already_rewritten;		/* the input carried the rewritten note */
	int used_symbols;		/* code found from entry + STT_FUNC symbols */
	uint64_t image_bytes;		/* size of the input file */
	unsigned regions;		/* executable regions scanned */
	uint64_t code_bytes;		/* bytes in executable regions */
	uint64_t insn_bytes;		/* bytes decoded as instructions */
	uint64_t insns;			/* instructions decoded */
	unsigned sites;			/* catalogued instructions found */
	unsigned pv_sites;		/* sites that jump to a trampoline (LILYVM_FORM_PV) */
	uint64_t pv_bytes;		/* bytes of trampoline code */
	unsigned counts[LILYVM_CLS_COUNT];	/* sites per class */
	struct rw_range *unclassified;	/* code bytes not classified, merged */
	size_t n_unclassified;
	uint64_t unclassified_bytes;
	unsigned verify_errors;		/* catalogued instructions left as is */
	uint32_t first_verify_error;	/* address of the first of them */
};

/* Parse and validate an ELF32 i386 executable held in buf (copied). */
int rw_load(const void *buf, size_t len, struct rw_image **out, char *err);

/* Read the file at path and rw_load it. */
int rw_load_file(const char *path, struct rw_image **out, char *err);

/* Release an image and everything it owns. */
void rw_free(struct rw_image *img);

/* Replace every site by a trap, with no paravirtual trampolines (before rw_rewrite). */
void rw_set_traps_only(struct rw_image *img);

/* Find and replace every catalogued instruction; a rewritten image is left as is. */
int rw_rewrite(struct rw_image *img, struct rw_report *rep, char *err);

/* Decode a rewritten image again and count catalogued instructions left as is. */
int rw_verify(struct rw_image *img, struct rw_report *rep, char *err);

/* Serialize the image (with its site table and note) into a new malloc'd buffer. */
int rw_serialize(const struct rw_image *img, uint8_t **out, size_t *outlen, char *err);

/* Write the image to path through a temporary file renamed at the end. */
int rw_write_file(const struct rw_image *img, const char *path, char *err);

/* The site table of the image, sorted by address; *n receives its length. */
const struct lilyvm_site *rw_sites(const struct rw_image *img, size_t *n);

/* The short name of a catalogue class ("cli", "mov-to-cr", ...). */
const char *rw_class_name(unsigned cls);

/* Release what a report owns and zero it. */
void rw_report_free(struct rw_report *rep);

/* Print a report as a human table (json=0) or as one JSON object (json=1). */
void rw_report_print(FILE *f, const struct rw_report *rep, int json,
		     const char *verify, double seconds);

#endif

/*
 * sitetab.h - read the site table a rewritten kernel carries (rewriter/sites.h).
 */
#ifndef LIGHTVM_SITETAB_H
#define LIGHTVM_SITETAB_H

#include <stddef.h>
#include <stdint.h>

#include "rewriter/sites.h"

/* The paravirtual trampolines of an image (.lilyvm.pv), if it has any. */
struct pv_table {
	uint8_t *code;		/* code_size bytes, for LILYVM_PV_CODE */
	uint32_t code_size;
	struct lilyvm_pv_entry *entries;	/* sorted by trampoline */
	size_t n;
};

/* Find the rewritten note, the site table and the trampolines of image; -1 with a one-line reason in err. */
int sitetab_read(const uint8_t *image, size_t len, struct lilyvm_site **sites, size_t *n,
		 struct pv_table *pv, char *err, size_t errlen);
/* The entry of the trampoline that starts at addr, or NULL. */
const struct lilyvm_pv_entry *sitetab_pv_find(const struct pv_table *pv, uint32_t addr);

#endif

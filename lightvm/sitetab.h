/*
 * sitetab.h - read the site table a rewritten kernel carries (rewriter/sites.h).
 */
#ifndef LIGHTVM_SITETAB_H
#define LIGHTVM_SITETAB_H

#include <stddef.h>
#include <stdint.h>

#include "rewriter/sites.h"

/* Find the rewritten note and the site table of image; -1 with a one-line reason in err. */
int sitetab_read(const uint8_t *image, size_t len, struct lilyvm_site **sites, size_t *n,
		 char *err, size_t errlen);

#endif

/*
 * unpack.h - decompress a bzImage payload (internal to ports/linux).
 */
#ifndef LILYVM_PORTS_LINUX_UNPACK_H
#define LILYVM_PORTS_LINUX_UNPACK_H

#include <stddef.h>
#include <stdint.h>

#include "ports/linux/bzimage.h"

/* Whether unpack_payload can decompress c. */
int unpack_supports(enum bzimage_compression c);

/*
 * Decompress in[0..in_len), of a compression unpack_supports, into a new malloc'd buffer.
 * size_hint is the expected output size (only used to size the buffer);
 * output of more than max_len bytes is refused.
 */
int unpack_payload(enum bzimage_compression c, const uint8_t *in, size_t in_len,
		   size_t size_hint, size_t max_len, uint8_t **out, size_t *out_len,
		   char *err);

#endif

/*
 * unpack.c - the payload decompressors: xz and lzma-alone (liblzma), gzip
 * (zlib) and zstd (libzstd), all writing into one bounded, growing buffer.
 */
#include <limits.h>
#include <lzma.h>
#include <stdio.h>
#include <stdlib.h>
#include <zlib.h>
#include <zstd.h>

#include "ports/linux/unpack.h"

/*
 * liblzma refuses streams whose dictionary needs more than this; the kernel
 * builds use at most 64 MiB, and a corrupt header must not make us allocate
 * gigabytes.
 */
#define LZMA_MEMLIMIT ((uint64_t)256 << 20)

/* Decompressed bytes so far; cap never exceeds limit. */
struct outbuf {
	uint8_t *data;
	size_t len, cap, limit;
};

static int outbuf_init(struct outbuf *b, size_t cap, size_t limit, char *err)
{
	b->len = 0;
	b->limit = limit;
	b->cap = cap;
	b->data = malloc(b->cap);
	if (!b->data) {
		snprintf(err, BZIMAGE_ERRLEN, "out of memory for a %zu-byte vmlinux", b->cap);
		return -1;
	}
	return 0;
}

/* Double the buffer, up to its limit; called when the decoder has filled it. */
static int outbuf_grow(struct outbuf *b, char *err)
{
	size_t cap = b->cap > b->limit / 2 ? b->limit : b->cap * 2;
	uint8_t *p;

	if (b->cap == b->limit) {
		snprintf(err, BZIMAGE_ERRLEN, "payload decompresses to more than %zu bytes",
			 b->limit - 1);
		return -1;
	}
	p = realloc(b->data, cap);
	if (!p) {
		snprintf(err, BZIMAGE_ERRLEN, "out of memory for a %zu-byte vmlinux", cap);
		return -1;
	}
	b->data = p;
	b->cap = cap;
	return 0;
}

static const char *lzma_error_text(lzma_ret ret)
{
	switch (ret) {
	case LZMA_BUF_ERROR: return "compressed data ends early";
	case LZMA_DATA_ERROR: return "compressed data is corrupt";
	case LZMA_FORMAT_ERROR: return "not a valid stream header";
	case LZMA_OPTIONS_ERROR: return "unsupported compression options";
	case LZMA_MEMLIMIT_ERROR: return "stream needs more than 256 MiB to decode";
	case LZMA_MEM_ERROR: return "out of memory";
	default: return "decoder failed";
	}
}

/*
 * xz (one .xz stream) or lzma-alone (the legacy .lzma of CONFIG_KERNEL_LZMA).
 * Both decoders stop at the end of their stream, before the 4-byte size the
 * kernel build appends.
 */
static int unpack_liblzma(enum bzimage_compression c, const uint8_t *in, size_t in_len,
			  struct outbuf *b, char *err)
{
	lzma_stream s = LZMA_STREAM_INIT;
	lzma_ret ret = c == BZIMAGE_XZ ? lzma_stream_decoder(&s, LZMA_MEMLIMIT, 0)
				       : lzma_alone_decoder(&s, LZMA_MEMLIMIT);
	int rc = -1;

	s.next_in = in;
	s.avail_in = in_len;
	while (ret == LZMA_OK) {
		if (b->len == b->cap && outbuf_grow(b, err))
			goto out;
		s.next_out = b->data + b->len;
		s.avail_out = b->cap - b->len;
		ret = lzma_code(&s, LZMA_FINISH);
		b->len = b->cap - s.avail_out;
	}
	if (ret != LZMA_STREAM_END) {
		snprintf(err, BZIMAGE_ERRLEN, "%s payload: %s", bzimage_compression_name(c),
			 lzma_error_text(ret));
		goto out;
	}
	rc = 0;
out:
	lzma_end(&s);
	return rc;
}

/* One gzip member, checked against its CRC-32 and length trailer by zlib. */
static int unpack_gzip(const uint8_t *in, size_t in_len, struct outbuf *b, char *err)
{
	z_stream z = { 0 };
	size_t room;
	int ret, rc = -1;

	/* 16 + MAX_WBITS: accept the gzip wrapper only, not raw or zlib streams. */
	if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) {
		snprintf(err, BZIMAGE_ERRLEN, "gzip payload: cannot start zlib");
		return -1;
	}
	/* in_len comes from the 32-bit payload_length, so it fits zlib's uInt. */
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)in_len;
	for (;;) {
		room = b->cap - b->len;
		if (room > UINT_MAX)
			room = UINT_MAX;
		z.next_out = b->data + b->len;
		z.avail_out = (uInt)room;
		ret = inflate(&z, Z_NO_FLUSH);
		b->len += room - z.avail_out;
		if (ret == Z_STREAM_END)
			break;
		if (ret != Z_OK && !(ret == Z_BUF_ERROR && z.avail_out == 0)) {
			snprintf(err, BZIMAGE_ERRLEN, "gzip payload: %s",
				 ret == Z_BUF_ERROR ? "compressed data ends early"
				 : ret == Z_MEM_ERROR ? "out of memory"
				 : z.msg ? z.msg : "compressed data is corrupt");
			goto out;
		}
		if (b->len == b->cap && outbuf_grow(b, err))
			goto out;
	}
	rc = 0;
out:
	inflateEnd(&z);
	return rc;
}

/* One zstd frame; the 4-byte size the kernel appends after it is not a frame. */
static int unpack_zstd(const uint8_t *in, size_t in_len, struct outbuf *b, char *err)
{
	ZSTD_DCtx *d = ZSTD_createDCtx();
	ZSTD_inBuffer ib = { in, in_len, 0 };
	ZSTD_outBuffer ob;
	size_t ret;
	int rc = -1;

	if (!d) {
		snprintf(err, BZIMAGE_ERRLEN, "zstd payload: out of memory");
		return -1;
	}
	for (;;) {
		ob = (ZSTD_outBuffer){ b->data + b->len, b->cap - b->len, 0 };
		ret = ZSTD_decompressStream(d, &ob, &ib);
		b->len += ob.pos;
		if (ZSTD_isError(ret)) {
			snprintf(err, BZIMAGE_ERRLEN, "zstd payload: %s", ZSTD_getErrorName(ret));
			goto out;
		}
		if (ret == 0)
			break;
		/* A decoder with output room left has flushed all it could. */
		if (b->len < b->cap && ib.pos == ib.size) {
			snprintf(err, BZIMAGE_ERRLEN, "zstd payload: compressed data ends early");
			goto out;
		}
		if (b->len == b->cap && outbuf_grow(b, err))
			goto out;
	}
	rc = 0;
out:
	ZSTD_freeDCtx(d);
	return rc;
}

int unpack_supports(enum bzimage_compression c)
{
	return c == BZIMAGE_XZ || c == BZIMAGE_LZMA || c == BZIMAGE_GZIP || c == BZIMAGE_ZSTD;
}

int unpack_payload(enum bzimage_compression c, const uint8_t *in, size_t in_len,
		   size_t size_hint, size_t max_len, uint8_t **out, size_t *out_len,
		   char *err)
{
	/*
	 * One byte more than expected, so a stream of the expected size never
	 * fills the buffer and reaches its end marker without a regrowth; the
	 * limit has the same byte of slack, so that "more than max_len" is seen.
	 */
	size_t limit = max_len < SIZE_MAX ? max_len + 1 : SIZE_MAX;
	size_t cap = size_hint < limit ? size_hint + 1 : limit;
	struct outbuf b;
	int rc;

	if (outbuf_init(&b, cap, limit, err))
		return -1;
	if (c == BZIMAGE_GZIP)
		rc = unpack_gzip(in, in_len, &b, err);
	else if (c == BZIMAGE_ZSTD)
		rc = unpack_zstd(in, in_len, &b, err);
	else
		rc = unpack_liblzma(c, in, in_len, &b, err);
	if (rc) {
		free(b.data);
		return -1;
	}
	*out = b.data;
	*out_len = b.len;
	return 0;
}

/*
 * fake-bzimage.c - the test fixtures of fake-bzimage.h, made with the same
 * compression libraries (as encoders) that ports/linux uses to decode.
 */
#include <elf.h>
#include <lzma.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "tests/ports-linux/fake-bzimage.h"

#define FAKE_VADDR 0xc1000000u
#define FAKE_PADDR 0x01000000u

void fake_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

/* Function-like runs with varying immediates: compressible, but not trivially. */
static void fill_code(uint8_t *p, size_t len)
{
	static const uint8_t fn[] = { 0x55, 0x89, 0xe5, 0xb8, 0, 0, 0, 0, 0x5d, 0xc3 };
	uint32_t x = 0x12345678;

	for (size_t i = 0; i < len; i++) {
		x = x * 1103515245u + 12345u;
		p[i] = fn[i % sizeof(fn)] ? fn[i % sizeof(fn)] : (uint8_t)(x >> 24);
	}
}

int fake_elf(unsigned elf_class, unsigned machine, size_t body, struct blob *out)
{
	size_t hdrs = sizeof(Elf32_Ehdr) + sizeof(Elf32_Phdr);
	uint8_t *p = calloc(1, hdrs + body);
	Elf32_Ehdr eh = { 0 };
	Elf32_Phdr ph = { 0 };

	if (!p)
		return -1;
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = (uint8_t)elf_class;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	eh.e_type = ET_EXEC;
	eh.e_machine = (Elf32_Half)machine;
	eh.e_version = EV_CURRENT;
	eh.e_entry = FAKE_VADDR + hdrs;
	eh.e_phoff = sizeof(Elf32_Ehdr);
	eh.e_ehsize = sizeof(Elf32_Ehdr);
	eh.e_phentsize = sizeof(Elf32_Phdr);
	eh.e_phnum = 1;
	ph.p_type = PT_LOAD;
	ph.p_vaddr = FAKE_VADDR;
	ph.p_paddr = FAKE_PADDR;
	ph.p_filesz = ph.p_memsz = (Elf32_Word)(hdrs + body);
	ph.p_flags = PF_R | PF_X;
	ph.p_align = 0x1000;
	memcpy(p, &eh, sizeof(eh));
	memcpy(p + sizeof(eh), &ph, sizeof(ph));
	fill_code(p + hdrs, body);
	out->data = p;
	out->len = hdrs + body;
	return 0;
}

static int compress_xz(const uint8_t *in, size_t len, uint8_t *out, size_t *pos, size_t cap)
{
	/* The kernel's xz_wrap.sh uses CRC32 checks too. */
	return lzma_easy_buffer_encode(6, LZMA_CHECK_CRC32, NULL, in, len, out, pos, cap) ==
	       LZMA_OK ? 0 : -1;
}

static int compress_lzma_alone(const uint8_t *in, size_t len, uint8_t *out, size_t *pos,
			       size_t cap)
{
	lzma_stream s = LZMA_STREAM_INIT;
	lzma_options_lzma opt;
	lzma_ret ret;

	if (lzma_lzma_preset(&opt, 6) || lzma_alone_encoder(&s, &opt) != LZMA_OK)
		return -1;
	s.next_in = in;
	s.avail_in = len;
	s.next_out = out;
	s.avail_out = cap;
	ret = lzma_code(&s, LZMA_FINISH);
	*pos = cap - s.avail_out;
	lzma_end(&s);
	return ret == LZMA_STREAM_END ? 0 : -1;
}

static int compress_gzip(const uint8_t *in, size_t len, uint8_t *out, size_t *pos, size_t cap)
{
	z_stream z = { 0 };
	int ret;

	if (deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -1;
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)len;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	ret = deflate(&z, Z_FINISH);
	*pos = cap - z.avail_out;
	deflateEnd(&z);
	return ret == Z_STREAM_END ? 0 : -1;
}

static int compress_zstd(const uint8_t *in, size_t len, uint8_t *out, size_t *pos, size_t cap)
{
	ZSTD_CCtx *c = ZSTD_createCCtx();
	size_t n;

	if (!c)
		return -1;
	/* A checksum, as the zstd tool writes by default, so corruption is always caught. */
	ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, 19);
	ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
	n = ZSTD_compress2(c, out, cap, in, len);
	ZSTD_freeCCtx(c);
	if (ZSTD_isError(n))
		return -1;
	*pos = n;
	return 0;
}

int fake_compress(enum bzimage_compression c, const uint8_t *in, size_t len,
		  struct blob *out)
{
	size_t cap = len + len / 2 + 4096, pos = 0;
	uint8_t *p = malloc(cap + 4);
	int rc;

	if (!p)
		return -1;
	switch (c) {
	case BZIMAGE_XZ: rc = compress_xz(in, len, p, &pos, cap); break;
	case BZIMAGE_LZMA: rc = compress_lzma_alone(in, len, p, &pos, cap); break;
	case BZIMAGE_GZIP: rc = compress_gzip(in, len, p, &pos, cap); break;
	case BZIMAGE_ZSTD: rc = compress_zstd(in, len, p, &pos, cap); break;
	default: rc = -1;
	}
	if (rc) {
		free(p);
		return -1;
	}
	/* scripts/Makefile.lib size_append; gzip's trailer already ends with the size. */
	if (c != BZIMAGE_GZIP) {
		fake_put32(p + pos, (uint32_t)len);
		pos += 4;
	}
	out->data = p;
	out->len = pos;
	return 0;
}

/* The setup header of protocol 2.15, as a 6.1 kernel writes it. */
static void write_setup_header(uint8_t *img, size_t payload_len)
{
	img[0x1f1] = FAKE_SETUP_SECTS;
	put16(img + 0x1fe, 0xAA55);
	img[0x200] = 0xeb;			/* jump over the header */
	img[0x201] = 0x6a;
	memcpy(img + 0x202, "HdrS", 4);
	put16(img + 0x206, 0x020f);
	put16(img + 0x20e, 0x400);		/* version string at 0x600 */
	img[0x211] = 0x01;			/* LOADED_HIGH */
	fake_put32(img + 0x214, 0x100000);
	fake_put32(img + 0x22c, 0x7fffffff);
	fake_put32(img + 0x230, 0x1000000);
	img[0x234] = 1;
	img[0x235] = 13;
	fake_put32(img + 0x238, 2047);
	fake_put32(img + 0x248, FAKE_PAYLOAD_OFFSET);
	fake_put32(img + 0x24c, (uint32_t)payload_len);
	fake_put32(img + 0x258, 0x1000000);
	fake_put32(img + 0x260, 0x2000000);
	memcpy(img + 0x600, FAKE_KERNEL_VERSION, sizeof(FAKE_KERNEL_VERSION));
}

int fake_bzimage(const uint8_t *payload, size_t len, struct blob *out)
{
	size_t total = FAKE_PM_OFFSET + FAKE_PAYLOAD_OFFSET + len + FAKE_TAIL;
	uint8_t *img = calloc(1, total);

	if (!img)
		return -1;
	write_setup_header(img, len);
	/* Stand-ins for the decompressor code around the payload. */
	memset(img + FAKE_PM_OFFSET, 0x90, FAKE_PAYLOAD_OFFSET);
	memcpy(img + FAKE_PM_OFFSET + FAKE_PAYLOAD_OFFSET, payload, len);
	memset(img + total - FAKE_TAIL, 0xcc, FAKE_TAIL);
	fake_put32(img + 0x1f4, (uint32_t)((total - FAKE_PM_OFFSET + 15) / 16));
	out->data = img;
	out->len = total;
	return 0;
}

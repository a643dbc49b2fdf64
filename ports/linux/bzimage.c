/*
 * bzimage.c - parse the setup header of an x86 bzImage and unpack its vmlinux.
 *
 * Layout (Documentation/arch/x86/boot.rst): the boot sector and setup code
 * fill (setup_sects + 1) 512-byte sectors; the protected-mode code follows,
 * and the compressed vmlinux sits payload_offset bytes into it. The kernel
 * build appends the uncompressed size as a little-endian 32-bit word to
 * every payload (gzip's own trailer ends with it), which we check.
 */
#include <elf.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ports/linux/bzimage.h"
#include "ports/linux/unpack.h"

#define SECTOR_SIZE 512
#define DEFAULT_SETUP_SECTS 4		/* what setup_sects == 0 means */
#define BOOT_FLAG 0xAA55
#define HDRS_MAGIC 0x53726448		/* "HdrS" */
#define LOADED_HIGH 0x01		/* loadflags: a bzImage, loaded at 1 MiB */
#define MIN_VERSION 0x0208		/* first protocol with payload_offset */

/* Offsets of setup header fields in the file. */
enum {
	OFF_SETUP_SECTS = 0x1f1,
	OFF_SYSSIZE = 0x1f4,
	OFF_BOOT_FLAG = 0x1fe,
	OFF_HEADER = 0x202,
	OFF_VERSION = 0x206,
	OFF_KERNEL_VERSION = 0x20e,
	OFF_LOADFLAGS = 0x211,
	OFF_CODE32_START = 0x214,
	OFF_INITRD_ADDR_MAX = 0x22c,
	OFF_KERNEL_ALIGNMENT = 0x230,
	OFF_RELOCATABLE = 0x234,
	OFF_MIN_ALIGNMENT = 0x235,
	OFF_XLOADFLAGS = 0x236,
	OFF_CMDLINE_SIZE = 0x238,
	OFF_PAYLOAD_OFFSET = 0x248,
	OFF_PAYLOAD_LENGTH = 0x24c,
	OFF_PREF_ADDRESS = 0x258,
	OFF_INIT_SIZE = 0x260,
	OFF_HANDOVER_OFFSET = 0x264,
	HEADER_END = 0x268,		/* end of the last field read */
};

/* The payload must at least hold a magic number and the appended size. */
#define MIN_PAYLOAD 8

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
	return le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* Magic numbers of payload compressions, as listed by the boot protocol. */
static const struct {
	const char *magic;
	size_t len;
	enum bzimage_compression c;
	const char *name;
} formats[] = {
	{ "\x1f\x8b", 2, BZIMAGE_GZIP, "gzip" },
	{ "\xfd" "7zXZ\0", 6, BZIMAGE_XZ, "xz" },
	{ "\x28\xb5\x2f\xfd", 4, BZIMAGE_ZSTD, "zstd" },
	{ "\x5d\x00\x00", 3, BZIMAGE_LZMA, "lzma" },
	{ "BZh", 3, BZIMAGE_BZIP2, "bzip2" },
	{ "\x02\x21\x4c\x18", 4, BZIMAGE_LZ4, "lz4" },
	{ "\x89LZO", 4, BZIMAGE_LZO, "lzo" },
};

const char *bzimage_compression_name(enum bzimage_compression c)
{
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
		if (formats[i].c == c)
			return formats[i].name;
	return "unknown";
}

static enum bzimage_compression detect_compression(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
		if (len >= formats[i].len && !memcmp(p, formats[i].magic, formats[i].len))
			return formats[i].c;
	return BZIMAGE_UNKNOWN;
}

/*
 * The version string lives in the setup area at kernel_version + 0x200. It is
 * only informational, so a bad pointer leaves it empty rather than failing;
 * unprintable bytes become '?' so it can be printed as is.
 */
static void read_kernel_version(const uint8_t *img, const struct bzimage_header *h,
				char *out, size_t outlen)
{
	size_t ptr = le16(img + OFF_KERNEL_VERSION);
	size_t off = ptr + SECTOR_SIZE, n = 0;

	if (ptr)
		for (; off < h->pm_file_offset && img[off] && n + 1 < outlen; off++)
			out[n++] = img[off] >= 0x20 && img[off] < 0x7f ? (char)img[off] : '?';
	out[n] = '\0';
}

/* Fields of protocols 2.08 and before, present in every image we accept. */
static void read_base_fields(const uint8_t *img, struct bzimage_header *h)
{
	h->setup_sects = img[OFF_SETUP_SECTS] ? img[OFF_SETUP_SECTS] : DEFAULT_SETUP_SECTS;
	h->version = le16(img + OFF_VERSION);
	h->syssize = le32(img + OFF_SYSSIZE);
	h->loadflags = img[OFF_LOADFLAGS];
	h->code32_start = le32(img + OFF_CODE32_START);
	h->initrd_addr_max = le32(img + OFF_INITRD_ADDR_MAX);
	h->kernel_alignment = le32(img + OFF_KERNEL_ALIGNMENT);
	h->relocatable_kernel = img[OFF_RELOCATABLE];
	h->cmdline_size = le32(img + OFF_CMDLINE_SIZE);
	h->payload_offset = le32(img + OFF_PAYLOAD_OFFSET);
	h->payload_length = le32(img + OFF_PAYLOAD_LENGTH);
}

/* Later fields: older protocols leave their bytes to setup code, so read them as 0. */
static void read_versioned_fields(const uint8_t *img, struct bzimage_header *h)
{
	if (h->version >= 0x020a) {
		h->min_alignment = img[OFF_MIN_ALIGNMENT];
		h->pref_address = le64(img + OFF_PREF_ADDRESS);
		h->init_size = le32(img + OFF_INIT_SIZE);
	}
	if (h->version >= 0x020b)
		h->handover_offset = le32(img + OFF_HANDOVER_OFFSET);
	if (h->version >= 0x020c)
		h->xloadflags = le16(img + OFF_XLOADFLAGS);
}

/* The signatures that say this is a bzImage of a protocol we can read. */
static int check_signatures(const uint8_t *img, size_t len, char *err)
{
	uint16_t version;

	if (len < HEADER_END) {
		snprintf(err, BZIMAGE_ERRLEN, "file is %zu bytes, too short for a setup header",
			 len);
		return -1;
	}
	if (le16(img + OFF_BOOT_FLAG) != BOOT_FLAG) {
		snprintf(err, BZIMAGE_ERRLEN, "no 0xAA55 boot flag at 0x1fe: not a bzImage");
		return -1;
	}
	if (le32(img + OFF_HEADER) != HDRS_MAGIC) {
		snprintf(err, BZIMAGE_ERRLEN, "no \"HdrS\" signature at 0x202: not a bzImage");
		return -1;
	}
	version = le16(img + OFF_VERSION);
	if (version < MIN_VERSION) {
		snprintf(err, BZIMAGE_ERRLEN,
			 "boot protocol %u.%02u is older than 2.08, which first locates the payload",
			 version >> 8, version & 0xff);
		return -1;
	}
	if (!(img[OFF_LOADFLAGS] & LOADED_HIGH)) {
		snprintf(err, BZIMAGE_ERRLEN, "loadflags say zImage, not bzImage: not supported");
		return -1;
	}
	return 0;
}

/* Locate the protected-mode code and the payload, both inside the file. */
static int locate_payload(size_t len, struct bzimage_header *h, char *err)
{
	uint64_t pm = (uint64_t)(h->setup_sects + 1) * SECTOR_SIZE;
	uint64_t start = pm + h->payload_offset, end = start + h->payload_length;

	if (pm > len) {
		snprintf(err, BZIMAGE_ERRLEN,
			 "setup area of %u sectors runs past the end of the %zu-byte file",
			 h->setup_sects, len);
		return -1;
	}
	if (h->payload_length < MIN_PAYLOAD) {
		snprintf(err, BZIMAGE_ERRLEN, "payload_length %u is too short for a payload",
			 h->payload_length);
		return -1;
	}
	if (end > len) {
		snprintf(err, BZIMAGE_ERRLEN,
			 "payload at 0x%llx..0x%llx runs past the end of the %zu-byte file",
			 (unsigned long long)start, (unsigned long long)end, len);
		return -1;
	}
	h->pm_file_offset = (size_t)pm;
	h->payload_file_offset = (size_t)start;
	return 0;
}

int bzimage_parse_header(const uint8_t *img, size_t len, struct bzimage_header *hdr,
			 char *err)
{
	struct bzimage_header h = { 0 };

	if (check_signatures(img, len, err))
		return -1;
	read_base_fields(img, &h);
	read_versioned_fields(img, &h);
	if (locate_payload(len, &h, err))
		return -1;
	h.compression = detect_compression(img + h.payload_file_offset, h.payload_length);
	read_kernel_version(img, &h, h.kernel_version, sizeof(h.kernel_version));
	*hdr = h;
	return 0;
}

/* The payload must be the vmlinux the rest of LilyVM loads: ELF32, i386. */
static int check_elf_i386(const uint8_t *p, size_t len, char *err)
{
	uint16_t machine;

	if (len < sizeof(Elf32_Ehdr) || memcmp(p, ELFMAG, SELFMAG)) {
		snprintf(err, BZIMAGE_ERRLEN, "decompressed payload is not an ELF file");
		return -1;
	}
	if (p[EI_CLASS] != ELFCLASS32 || p[EI_DATA] != ELFDATA2LSB) {
		snprintf(err, BZIMAGE_ERRLEN, "decompressed payload is not a little-endian ELF32");
		return -1;
	}
	machine = le16(p + offsetof(Elf32_Ehdr, e_machine));
	if (machine != EM_386) {
		snprintf(err, BZIMAGE_ERRLEN, "decompressed payload is ELF for machine %u, not i386",
			 machine);
		return -1;
	}
	return 0;
}

/* Say what the payload is when we cannot decompress it. */
static int check_compression(const uint8_t *img, const struct bzimage_header *h, char *err)
{
	const uint8_t *p = img + h->payload_file_offset;

	if (h->compression == BZIMAGE_UNKNOWN) {
		snprintf(err, BZIMAGE_ERRLEN,
			 "payload starts %02x %02x %02x %02x, not a known compression",
			 p[0], p[1], p[2], p[3]);
		return -1;
	}
	if (!unpack_supports(h->compression)) {
		snprintf(err, BZIMAGE_ERRLEN, "%s payloads are not supported",
			 bzimage_compression_name(h->compression));
		return -1;
	}
	return 0;
}

int bzimage_extract_bounded(const uint8_t *img, size_t len, size_t max_len,
			    uint8_t **vmlinux, size_t *vmlinux_len, char *err)
{
	struct bzimage_header h;
	uint8_t *out = NULL;
	size_t out_len;
	uint32_t recorded;

	if (bzimage_parse_header(img, len, &h, err))
		return -1;
	if (check_compression(img, &h, err))
		return -1;
	recorded = le32(img + h.payload_file_offset + h.payload_length - 4);
	if (recorded > max_len) {
		snprintf(err, BZIMAGE_ERRLEN,
			 "image records a %u-byte vmlinux, more than the limit of %zu bytes",
			 recorded, max_len);
		return -1;
	}
	if (unpack_payload(h.compression, img + h.payload_file_offset, h.payload_length,
			   recorded, max_len, &out, &out_len, err))
		return -1;
	if (out_len != recorded) {
		snprintf(err, BZIMAGE_ERRLEN,
			 "%s payload decompresses to %zu bytes, but the image records %u",
			 bzimage_compression_name(h.compression), out_len, recorded);
		goto fail;
	}
	if (check_elf_i386(out, out_len, err))
		goto fail;
	*vmlinux = out;
	*vmlinux_len = out_len;
	return 0;
fail:
	free(out);
	return -1;
}

int bzimage_extract(const uint8_t *img, size_t len, uint8_t **vmlinux,
		    size_t *vmlinux_len, char *err)
{
	return bzimage_extract_bounded(img, len, BZIMAGE_MAX_VMLINUX, vmlinux, vmlinux_len,
				       err);
}

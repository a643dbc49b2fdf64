/*
 * bzimage.h - read an x86 Linux bzImage: its setup header and its vmlinux.
 *
 * A bzImage is a real-mode setup area followed by protected-mode code that
 * carries the compressed ELF vmlinux as its "payload" (Linux boot protocol
 * 2.08+, Documentation/arch/x86/boot.rst). These functions parse the setup
 * header and unpack the payload from a buffer in memory; they never trust a
 * field of the image, so corrupt input gives an error, never a crash.
 *
 * Errors are reported as one line in a caller-supplied buffer of
 * BZIMAGE_ERRLEN bytes; functions return 0 on success and -1 on failure.
 */
#ifndef LILYVM_BZIMAGE_H
#define LILYVM_BZIMAGE_H

#include <stddef.h>
#include <stdint.h>

#define BZIMAGE_ERRLEN 256

/* The largest vmlinux bzimage_extract produces; real ones are tens of MiB. */
#define BZIMAGE_MAX_VMLINUX ((size_t)512 << 20)

/* How the payload is compressed, told by its magic number. */
enum bzimage_compression {
	BZIMAGE_UNKNOWN,
	BZIMAGE_GZIP,
	BZIMAGE_XZ,
	BZIMAGE_ZSTD,
	BZIMAGE_LZMA,
	BZIMAGE_BZIP2,		/* recognised, not supported */
	BZIMAGE_LZ4,		/* recognised, not supported */
	BZIMAGE_LZO,		/* recognised, not supported */
};

/* The setup header fields a loader reads, plus where things are in the file. */
struct bzimage_header {
	unsigned setup_sects;		/* setup sectors, 0 in the file read as 4 */
	uint16_t version;		/* boot protocol, (major << 8) | minor */
	uint32_t syssize;		/* protected-mode code, 16-byte paragraphs */
	uint8_t loadflags;
	uint32_t code32_start;
	uint32_t initrd_addr_max;
	uint32_t kernel_alignment;
	uint8_t relocatable_kernel;
	uint8_t min_alignment;		/* log2; 0 before protocol 2.10 */
	uint16_t xloadflags;		/* 0 before protocol 2.12 */
	uint32_t cmdline_size;
	uint32_t payload_offset;	/* from the start of the protected-mode code */
	uint32_t payload_length;
	uint64_t pref_address;		/* 0 before protocol 2.10 */
	uint32_t init_size;		/* 0 before protocol 2.10 */
	uint32_t handover_offset;	/* 0 before protocol 2.11 */
	size_t pm_file_offset;		/* file offset of the protected-mode code */
	size_t payload_file_offset;	/* file offset of the payload */
	enum bzimage_compression compression;
	char kernel_version[128];	/* version string, "" if the image has none */
};

/* Parse and validate the setup header of the bzImage in img[0..len). */
int bzimage_parse_header(const uint8_t *img, size_t len, struct bzimage_header *hdr,
			 char *err);

/* The short name of a compression ("xz", "gzip", ...). */
const char *bzimage_compression_name(enum bzimage_compression c);

/* Unpack the ELF32 i386 vmlinux of a bzImage into a new malloc'd buffer. */
int bzimage_extract(const uint8_t *img, size_t len, uint8_t **vmlinux,
		    size_t *vmlinux_len, char *err);

/* bzimage_extract, refusing a vmlinux of more than max_len bytes. */
int bzimage_extract_bounded(const uint8_t *img, size_t len, size_t max_len,
			    uint8_t **vmlinux, size_t *vmlinux_len, char *err);

#endif

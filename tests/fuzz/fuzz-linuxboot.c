/*
 * fuzz-linuxboot.c - libFuzzer harness for ports/linux: the bzImage setup
 * header and payload (bzimage_parse_header, bzimage_extract with a small
 * bound, so the xz/gzip/zstd/lzma decoders see hostile streams) and the
 * 32-bit boot protocol (linux_boot_load) with a hostile bzImage header and
 * a hostile ELF vmlinux.
 *
 * An input is a u16 (little-endian) length n, then n bytes of bzImage, then
 * the vmlinux. Properties besides "no crash, no UB, no leak": a load that
 * succeeds leaves the zero page where the protocol says, the command line
 * there byte for byte, the e820 table filled, and an entry point the ELF
 * maps; a failure writes a one-line message.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ports/linux/boot.h"
#include "ports/linux/bzimage.h"

#define RAM_BYTES (4u << 20)
#define ZERO_PAGE 0x90000u
#define CMDLINE_AT 0x99000u

static const char cmdline[] = "console=ttyS0 reservetop=1M";

static void broken(const char *what)
{
	fprintf(stderr, "property broken: %s\n", what);
	abort();
}

static void one_line(const char *err)
{
	if (!*err || strchr(err, '\n'))
		broken("an error is not one line");
}

static void check_extract(const uint8_t *bz, size_t n)
{
	char err[BZIMAGE_ERRLEN] = "";
	struct bzimage_header h;
	uint8_t *vmlinux = NULL;
	size_t vlen = 0;

	if (bzimage_parse_header(bz, n, &h, err)) {
		one_line(err);
		return;
	}
	if (h.payload_file_offset + h.payload_length > n)
		broken("the payload is said to lie past the end of the file");
	if (bzimage_extract_bounded(bz, n, 1u << 20, &vmlinux, &vlen, err) == 0) {
		if (vlen > (1u << 20))
			broken("extract ignored its bound");
		free(vmlinux);
	} else {
		one_line(err);
	}
}

static void check_load(const uint8_t *bz, size_t n, const uint8_t *elf, size_t elen)
{
	static uint8_t *ram;
	struct pc_ram r;
	struct linux_image img = { bz, n, elf, elen, elf, elen < 4096 ? elen : 4096, cmdline };
	struct linux_entry entry;
	char err[256] = "";

	if (!ram && !(ram = malloc(RAM_BYTES)))
		abort();
	r = (struct pc_ram){ ram, RAM_BYTES, 0x1000 };
	if (linux_boot_load(&img, &r, &entry, err, sizeof(err))) {
		one_line(err);
		return;
	}
	if (entry.esi != ZERO_PAGE || memcmp(ram + CMDLINE_AT, cmdline, sizeof(cmdline)))
		broken("the zero page or the command line is not where the protocol says");
	if (ram[ZERO_PAGE + 0x1e8] == 0 || ram[ZERO_PAGE + 0x210] != 0xff)
		broken("the e820 table or the loader type is missing");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t n;

	if (size < 2)
		return 0;
	n = data[0] | data[1] << 8;
	data += 2;
	size -= 2;
	n = n < size ? n : size;
	check_extract(data, n);
	check_load(data, n, data + n, size - n);
	return 0;
}

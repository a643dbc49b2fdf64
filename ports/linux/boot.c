/*
 * boot.c - the Linux 32-bit boot protocol.
 *
 * Guest-physical layout: the zero page at 0x90000 and the command line at
 * 0x99000, below the EBDA as a BIOS loader would leave them; the kernel's
 * segments where its program headers say (16 MiB for Debian's); the initrd
 * at the top of RAM, below the highest address the kernel accepts. The
 * zero page carries the bzImage's own setup header (the kernel checks its
 * version and reads its fields), the loader's fields, and the e820 map.
 */
#include <stdio.h>
#include <string.h>

#include "ports/linux/boot.h"
#include "ports/linux/bzimage.h"

#define ZERO_PAGE 0x90000u
#define CMDLINE_AT 0x99000u
#define CMDLINE_ROOM (0xa0000u - CMDLINE_AT)

/* Zero-page offsets (Documentation/arch/x86/zero-page.rst, boot.rst). */
#define ZP_E820_ENTRIES 0x1e8
#define ZP_HDR 0x1f1
#define ZP_HDR_END_MAX 0x290	/* the setup header never reaches further */
#define ZP_JUMP_LEN 0x201	/* the header ends at 0x202 + this byte */
#define ZP_TYPE_OF_LOADER 0x210
#define ZP_LOADFLAGS 0x211
#define ZP_RAMDISK_IMAGE 0x218
#define ZP_RAMDISK_SIZE 0x21c
#define ZP_HEAP_END 0x224
#define ZP_CMD_LINE_PTR 0x228
#define ZP_HARDWARE_SUBARCH 0x23c
#define ZP_E820_TABLE 0x2d0
#define LOADER_UNDEFINED 0xff	/* a boot loader without an assigned ID */
#define LOADED_HIGH 0x01
#define CAN_USE_HEAP 0x80

static void put32(uint8_t *zp, unsigned off, uint32_t v)
{
	memcpy(zp + off, &v, 4);
}

/* The e820 entries: 8-byte address, 8-byte size, 4-byte type, packed. */
static void write_e820(uint8_t *zp, uint64_t ram_size)
{
	struct pc_range map[PC_MAP_MAX];
	unsigned n = pc_memory_map(ram_size, map);

	for (unsigned i = 0; i < n; i++) {
		uint8_t *e = zp + ZP_E820_TABLE + 20 * i;

		memcpy(e, &map[i].addr, 8);
		memcpy(e + 8, &map[i].len, 8);
		memcpy(e + 16, &map[i].type, 4);
	}
	zp[ZP_E820_ENTRIES] = n;
}

/* The initrd at the top of RAM, page aligned, above the kernel, within initrd_addr_max. */
static int place_initrd(const struct linux_image *img, const struct pc_ram *ram,
			const struct bzimage_header *h, uint32_t kernel_end, uint32_t *at,
			char *err, size_t errlen)
{
	uint64_t top = ram->size < (uint64_t)h->initrd_addr_max + 1 ? ram->size :
		       (uint64_t)h->initrd_addr_max + 1;

	if (img->initrd_len > top || ((top - img->initrd_len) & ~4095ull) < kernel_end)
		return pc_fail(err, errlen, "the initrd (%zu bytes) does not fit guest RAM above the "
			    "kernel and below %#llx", img->initrd_len, (unsigned long long)top);
	*at = (top - img->initrd_len) & ~4095ull;
	memcpy(ram->base + *at, img->initrd, img->initrd_len);
	return 0;
}

int linux_boot_load(const struct linux_image *img, const struct pc_ram *ram,
		    struct linux_entry *entry, char *err, size_t errlen)
{
	struct bzimage_header h;
	char why[BZIMAGE_ERRLEN];
	uint32_t end, initrd_at = 0;
	size_t hdr_end, cmd_len = strlen(img->cmdline);
	uint8_t *zp;

	if (bzimage_parse_header(img->bzimage, img->bzimage_len, &h, why))
		return pc_fail(err, errlen, "%s", why);
	if (pc_check_elf(img->vmlinux, img->vmlinux_len, err, errlen))
		return -1;
	if (ram->size < 2 * PC_HIGH_MEMORY || !pc_in_ram(ram, ZERO_PAGE, 0xa0000 - ZERO_PAGE))
		return pc_fail(err, errlen, "guest RAM too small for the Linux boot protocol");
	if (cmd_len >= CMDLINE_ROOM || (h.cmdline_size && cmd_len > h.cmdline_size))
		return pc_fail(err, errlen, "the kernel command line is longer than the kernel's %u bytes",
			    h.cmdline_size);
	if (pc_load_elf(img->vmlinux, img->vmlinux_len, ram, &end, err, errlen))
		return -1;
	if (img->initrd && place_initrd(img, ram, &h, end, &initrd_at, err, errlen))
		return -1;
	zp = ram->base + ZERO_PAGE;
	memset(zp, 0, 4096);
	hdr_end = 0x202 + img->bzimage[ZP_JUMP_LEN];
	hdr_end = hdr_end < ZP_HDR_END_MAX ? hdr_end : ZP_HDR_END_MAX;
	memcpy(zp + ZP_HDR, img->bzimage + ZP_HDR, hdr_end - ZP_HDR);
	zp[ZP_TYPE_OF_LOADER] = LOADER_UNDEFINED;
	zp[ZP_LOADFLAGS] = (zp[ZP_LOADFLAGS] | LOADED_HIGH) & ~CAN_USE_HEAP;
	memset(zp + ZP_HEAP_END, 0, 2);
	put32(zp, ZP_RAMDISK_IMAGE, initrd_at);
	put32(zp, ZP_RAMDISK_SIZE, img->initrd ? img->initrd_len : 0);
	memcpy(ram->base + CMDLINE_AT, img->cmdline, cmd_len + 1);
	put32(zp, ZP_CMD_LINE_PTR, CMDLINE_AT);
	put32(zp, ZP_HARDWARE_SUBARCH, 0);	/* a PC */
	write_e820(zp, ram->size);
	entry->eip = pc_elf_entry(img->vmlinux);
	entry->esi = ZERO_PAGE;
	return 0;
}

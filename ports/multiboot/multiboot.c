/*
 * multiboot.c - Multiboot v1 loading of ELF32 kernels (the specification's
 * section 3: header, machine state, boot information format).
 */
#include <elf.h>
#include <stdio.h>
#include <string.h>

#include "ports/multiboot/multiboot.h"

#define HEADER_MAGIC 0x1badb002u
#define HEADER_SEARCH 8192
#define FLAG_AOUT_KLUDGE 0x10000u
#define INFO_MEMORY 0x1u
#define INFO_CMDLINE 0x4u
#define INFO_MODS 0x8u
#define INFO_MMAP 0x40u
#define INFO_LOADER_NAME 0x200u

struct mb_info {
	uint32_t flags, mem_lower, mem_upper, boot_device, cmdline, mods_count, mods_addr;
	uint32_t syms[4], mmap_length, mmap_addr, drives_length, drives_addr, config_table;
	uint32_t boot_loader_name, apm_table;
};

struct mb_mod_entry {
	uint32_t start, end, cmdline, pad;
};

struct mb_mmap_entry {
	uint32_t size;
	uint64_t addr, len;
	uint32_t type;
} __attribute__((packed));

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

/* Offset of the header, or -1. */
static long find_header(const uint8_t *image, size_t len)
{
	for (size_t off = 0; off + 12 <= len && off < HEADER_SEARCH; off += 4)
		if (get32(image + off) == HEADER_MAGIC &&
		    get32(image + off) + get32(image + off + 4) + get32(image + off + 8) == 0)
			return off;
	return -1;
}

int multiboot_detect(const uint8_t *image, size_t len)
{
	return find_header(image, len) >= 0;
}

/* A bump allocator over guest RAM for the information structure and modules. */
struct placer {
	const struct pc_ram *ram;
	uint32_t next;
};

static uint32_t place(struct placer *p, const void *data, size_t len, uint32_t align)
{
	uint32_t at = (p->next + align - 1) & ~(align - 1);

	if (!pc_in_ram(p->ram, at, len))
		return 0;
	memcpy(p->ram->base + at, data, len);
	p->next = at + len;
	return at;
}

static uint32_t place_string(struct placer *p, const char *s)
{
	return place(p, s, strlen(s) + 1, 1);
}

static uint32_t place_mmap(struct placer *p, uint32_t *length)
{
	struct pc_range ranges[PC_MAP_MAX];
	struct mb_mmap_entry map[PC_MAP_MAX];
	unsigned n = pc_memory_map(p->ram->size, ranges);

	for (unsigned i = 0; i < n; i++)
		map[i] = (struct mb_mmap_entry){ 20, ranges[i].addr, ranges[i].len, ranges[i].type };
	*length = n * sizeof(map[0]);
	return place(p, map, *length, 4);
}

static int place_modules(struct placer *p, const struct mb_module *mods, size_t n,
			 struct mb_info *info, char *err, size_t errlen)
{
	struct mb_mod_entry entries[16];

	if (n > 16)
		return pc_fail(err, errlen, "at most 16 modules");
	for (size_t i = 0; i < n; i++) {
		uint32_t at = place(p, mods[i].data, mods[i].len, 4096);

		if (!at)
			return pc_fail(err, errlen, "module %zu (%zu bytes) does not fit guest RAM", i,
				    mods[i].len);
		entries[i] = (struct mb_mod_entry){ at, at + mods[i].len,
						    place_string(p, mods[i].cmdline ? mods[i].cmdline : ""),
						    0 };
	}
	info->mods_count = n;
	info->mods_addr = n ? place(p, entries, n * sizeof(entries[0]), 4) : 0;
	info->flags |= INFO_MODS;
	return 0;
}

int multiboot_load(const uint8_t *image, size_t len, const struct pc_ram *ram, const char *cmdline,
		   const struct mb_module *mods, size_t n_mods, struct mb_boot *boot, char *err,
		   size_t errlen)
{
	long hdr = find_header(image, len);
	struct mb_info info = { 0 };
	struct placer p = { ram, 0 };
	uint32_t end, info_at;

	if (hdr < 0)
		return pc_fail(err, errlen, "no Multiboot header in the first 8 KiB of the kernel");
	if (pc_check_elf(image, len, err, errlen))
		return -1;
	if (ram->size < 2 * PC_HIGH_MEMORY)
		return pc_fail(err, errlen, "guest RAM must be at least 2 MiB");
	if (pc_load_elf(image, len, ram, &end, err, errlen))
		return -1;
	p.next = (end + 4095) & ~4095u;
	info.flags = INFO_MEMORY | INFO_MMAP | INFO_LOADER_NAME | (cmdline ? INFO_CMDLINE : 0);
	info.mem_lower = PC_LOW_MEMORY_END / 1024;
	info.mem_upper = (ram->size - PC_HIGH_MEMORY) / 1024;
	info.cmdline = cmdline ? place_string(&p, cmdline) : 0;
	info.boot_loader_name = place_string(&p, "LilyVM");
	info.mmap_addr = place_mmap(&p, &info.mmap_length);
	if (place_modules(&p, mods, n_mods, &info, err, errlen))
		return -1;
	info_at = place(&p, &info, sizeof(info), 8);
	if (!info_at || !info.mmap_addr || !info.boot_loader_name)
		return pc_fail(err, errlen, "the boot information does not fit guest RAM");
	boot->entry = pc_elf_entry(image);
	boot->info = info_at;
	return 0;
}

/*
 * multiboot.c - Multiboot v1 loading of ELF32 kernels (the specification's
 * section 3: header, machine state, boot information format).
 */
#include <elf.h>
#include <stdarg.h>
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
#define LOW_MEMORY_END 0x9fc00u
#define HIGH_MEMORY 0x100000u

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

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

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

static int in_ram(const struct mb_ram *ram, uint64_t addr, uint64_t len)
{
	return addr >= ram->first_usable && addr <= ram->size && len <= ram->size - addr;
}

/* Copy PT_LOAD segments to their physical addresses; *end gets the highest byte. */
static int load_segments(const uint8_t *image, size_t len, const struct mb_ram *ram,
			 uint32_t *end, char *err, size_t errlen)
{
	const Elf32_Ehdr *eh = (const Elf32_Ehdr *)image;

	*end = 0;
	if (eh->e_phentsize != sizeof(Elf32_Phdr) ||
	    (uint64_t)eh->e_phoff + (uint64_t)eh->e_phnum * sizeof(Elf32_Phdr) > len)
		return fail(err, errlen, "bad program header table");
	for (unsigned i = 0; i < eh->e_phnum; i++) {
		Elf32_Phdr ph;

		memcpy(&ph, image + eh->e_phoff + i * sizeof(ph), sizeof(ph));
		if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
			continue;
		if ((uint64_t)ph.p_offset + ph.p_filesz > len || ph.p_filesz > ph.p_memsz)
			return fail(err, errlen, "segment %u points past the end of the image", i);
		if (!in_ram(ram, ph.p_paddr, ph.p_memsz))
			return fail(err, errlen,
				    "segment %u (%#x, %u bytes) does not fit guest RAM of %llu MiB",
				    i, ph.p_paddr, ph.p_memsz, (unsigned long long)(ram->size >> 20));
		memcpy(ram->base + ph.p_paddr, image + ph.p_offset, ph.p_filesz);
		memset(ram->base + ph.p_paddr + ph.p_filesz, 0, ph.p_memsz - ph.p_filesz);
		if (ph.p_paddr + ph.p_memsz > *end)
			*end = ph.p_paddr + ph.p_memsz;
	}
	if (*end == 0)
		return fail(err, errlen, "the kernel has no loadable segment");
	return 0;
}

/* The entry point is virtual in e_entry; kernels linked high give it physical too. */
static uint32_t physical_entry(const uint8_t *image)
{
	const Elf32_Ehdr *eh = (const Elf32_Ehdr *)image;

	for (unsigned i = 0; i < eh->e_phnum; i++) {
		Elf32_Phdr ph;

		memcpy(&ph, image + eh->e_phoff + i * sizeof(ph), sizeof(ph));
		if (ph.p_type == PT_LOAD && eh->e_entry >= ph.p_vaddr &&
		    eh->e_entry - ph.p_vaddr < ph.p_memsz)
			return eh->e_entry - ph.p_vaddr + ph.p_paddr;
	}
	return eh->e_entry;
}

/* A bump allocator over guest RAM for the information structure and modules. */
struct placer {
	const struct mb_ram *ram;
	uint32_t next;
};

static uint32_t place(struct placer *p, const void *data, size_t len, uint32_t align)
{
	uint32_t at = (p->next + align - 1) & ~(align - 1);

	if (!in_ram(p->ram, at, len))
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
	const struct mb_mmap_entry map[] = {
		{ 20, 0, LOW_MEMORY_END, 1 },
		{ 20, LOW_MEMORY_END, 0xa0000 - LOW_MEMORY_END, 2 },
		{ 20, 0xf0000, 0x10000, 2 },
		{ 20, HIGH_MEMORY, p->ram->size - HIGH_MEMORY, 1 },
	};

	*length = sizeof(map);
	return place(p, map, sizeof(map), 4);
}

static int place_modules(struct placer *p, const struct mb_module *mods, size_t n,
			 struct mb_info *info, char *err, size_t errlen)
{
	struct mb_mod_entry entries[16];

	if (n > 16)
		return fail(err, errlen, "at most 16 modules");
	for (size_t i = 0; i < n; i++) {
		uint32_t at = place(p, mods[i].data, mods[i].len, 4096);

		if (!at)
			return fail(err, errlen, "module %zu (%zu bytes) does not fit guest RAM", i,
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

int multiboot_load(const uint8_t *image, size_t len, const struct mb_ram *ram, const char *cmdline,
		   const struct mb_module *mods, size_t n_mods, struct mb_boot *boot, char *err,
		   size_t errlen)
{
	long hdr = find_header(image, len);
	struct mb_info info = { 0 };
	struct placer p = { ram, 0 };
	uint32_t end, info_at;

	if (hdr < 0)
		return fail(err, errlen, "no Multiboot header in the first 8 KiB of the kernel");
	if (len < sizeof(Elf32_Ehdr) || memcmp(image, ELFMAG, SELFMAG) ||
	    image[EI_CLASS] != ELFCLASS32 || ((const Elf32_Ehdr *)image)->e_machine != EM_386)
		return fail(err, errlen, "the kernel is not an ELF32 i386 image (a.out kludge kernels are not supported)");
	if (ram->size < 2 * HIGH_MEMORY)
		return fail(err, errlen, "guest RAM must be at least 2 MiB");
	if (load_segments(image, len, ram, &end, err, errlen))
		return -1;
	p.next = (end + 4095) & ~4095u;
	info.flags = INFO_MEMORY | INFO_MMAP | INFO_LOADER_NAME | (cmdline ? INFO_CMDLINE : 0);
	info.mem_lower = LOW_MEMORY_END / 1024;
	info.mem_upper = (ram->size - HIGH_MEMORY) / 1024;
	info.cmdline = cmdline ? place_string(&p, cmdline) : 0;
	info.boot_loader_name = place_string(&p, "LilyVM");
	info.mmap_addr = place_mmap(&p, &info.mmap_length);
	if (place_modules(&p, mods, n_mods, &info, err, errlen))
		return -1;
	info_at = place(&p, &info, sizeof(info), 8);
	if (!info_at || !info.mmap_addr || !info.boot_loader_name)
		return fail(err, errlen, "the boot information does not fit guest RAM");
	boot->entry = physical_entry(image);
	boot->info = info_at;
	return 0;
}

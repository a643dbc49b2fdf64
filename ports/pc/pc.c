/*
 * pc.c - ELF loading and the memory map shared by the PC boot protocols.
 */
#include <elf.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ports/pc/pc.h"

int pc_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

int pc_in_ram(const struct pc_ram *ram, uint64_t addr, uint64_t len)
{
	return addr >= ram->first_usable && addr <= ram->size && len <= ram->size - addr;
}

/* The ELF header, copied: the image may sit at any alignment. */
static Elf32_Ehdr header_of(const uint8_t *image)
{
	Elf32_Ehdr eh;

	memcpy(&eh, image, sizeof(eh));
	return eh;
}

int pc_check_elf(const uint8_t *image, size_t len, char *err, size_t errlen)
{
	if (len < sizeof(Elf32_Ehdr) || memcmp(image, ELFMAG, SELFMAG) ||
	    image[EI_CLASS] != ELFCLASS32 || header_of(image).e_machine != EM_386)
		return pc_fail(err, errlen, "the kernel is not an ELF32 i386 image");
	return 0;
}

int pc_load_elf(const uint8_t *image, size_t len, const struct pc_ram *ram, uint32_t *end,
		char *err, size_t errlen)
{
	const Elf32_Ehdr h = header_of(image), *eh = &h;

	*end = 0;
	if (eh->e_phentsize != sizeof(Elf32_Phdr) ||
	    (uint64_t)eh->e_phoff + (uint64_t)eh->e_phnum * sizeof(Elf32_Phdr) > len)
		return pc_fail(err, errlen, "bad program header table");
	for (unsigned i = 0; i < eh->e_phnum; i++) {
		Elf32_Phdr ph;

		memcpy(&ph, image + eh->e_phoff + i * sizeof(ph), sizeof(ph));
		if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
			continue;
		if ((uint64_t)ph.p_offset + ph.p_filesz > len || ph.p_filesz > ph.p_memsz)
			return pc_fail(err, errlen, "segment %u points past the end of the image", i);
		if (!pc_in_ram(ram, ph.p_paddr, ph.p_memsz))
			return pc_fail(err, errlen,
				    "segment %u (%#x, %u bytes) does not fit guest RAM of %llu MiB",
				    i, ph.p_paddr, ph.p_memsz, (unsigned long long)(ram->size >> 20));
		memcpy(ram->base + ph.p_paddr, image + ph.p_offset, ph.p_filesz);
		memset(ram->base + ph.p_paddr + ph.p_filesz, 0, ph.p_memsz - ph.p_filesz);
		if (ph.p_paddr + ph.p_memsz > *end)
			*end = ph.p_paddr + ph.p_memsz;
	}
	if (*end == 0)
		return pc_fail(err, errlen, "the kernel has no loadable segment");
	return 0;
}

/* Kernels linked high give e_entry as a virtual address; loaders need it physical. */
uint32_t pc_elf_entry(const uint8_t *image)
{
	const Elf32_Ehdr h = header_of(image), *eh = &h;

	for (unsigned i = 0; i < eh->e_phnum; i++) {
		Elf32_Phdr ph;

		memcpy(&ph, image + eh->e_phoff + i * sizeof(ph), sizeof(ph));
		if (ph.p_type == PT_LOAD && eh->e_entry >= ph.p_vaddr &&
		    eh->e_entry - ph.p_vaddr < ph.p_memsz)
			return eh->e_entry - ph.p_vaddr + ph.p_paddr;
	}
	return eh->e_entry;
}

/* Conventional memory, the EBDA, the BIOS ROM, then RAM from 1 MiB. */
unsigned pc_memory_map(uint64_t ram_size, struct pc_range map[PC_MAP_MAX])
{
	map[0] = (struct pc_range){ 0, PC_LOW_MEMORY_END, 1 };
	map[1] = (struct pc_range){ PC_LOW_MEMORY_END, 0xa0000 - PC_LOW_MEMORY_END, 2 };
	map[2] = (struct pc_range){ 0xf0000, 0x10000, 2 };
	map[3] = (struct pc_range){ PC_HIGH_MEMORY, ram_size - PC_HIGH_MEMORY, 1 };
	return 4;
}

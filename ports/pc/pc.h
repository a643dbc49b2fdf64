/*
 * pc.h - what every boot protocol of a PC guest shares: the RAM it loads
 * into, loading an ELF32 kernel's segments at their physical addresses,
 * and the PC's physical memory map (the BIOS e820 layout).
 * It knows nothing of the monitor: it writes into a RAM buffer it is given.
 */
#ifndef LILYVM_PC_H
#define LILYVM_PC_H

#include <stddef.h>
#include <stdint.h>

#define PC_LOW_MEMORY_END 0x9fc00u	/* conventional memory below the EBDA */
#define PC_HIGH_MEMORY 0x100000u
#define PC_MAP_MAX 4

/* Guest-physical RAM as a loader sees it. */
struct pc_ram {
	uint8_t *base;		/* host address of guest-physical 0 */
	uint64_t size;		/* bytes of RAM */
	uint32_t first_usable;	/* nothing is placed below this address */
};

/* One range of the physical memory map. */
struct pc_range {
	uint64_t addr, len;
	uint32_t type;		/* 1: RAM, 2: reserved (e820 and Multiboot agree) */
};

/* Format a one-line reason into err (errlen bytes) and return -1, for the loaders' errors. */
int pc_fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* True if [addr, addr+len) is loadable RAM. */
int pc_in_ram(const struct pc_ram *ram, uint64_t addr, uint64_t len);
/* Check image is ELF32 i386; -1 with a one-line err if not. */
int pc_check_elf(const uint8_t *image, size_t len, char *err, size_t errlen);
/* Copy PT_LOAD segments to their physical addresses; *end gets the highest byte. */
int pc_load_elf(const uint8_t *image, size_t len, const struct pc_ram *ram, uint32_t *end,
		char *err, size_t errlen);
/* The physical entry point (e_entry translated through the segment holding it). */
uint32_t pc_elf_entry(const uint8_t *image);
/* The memory map of a PC with ram_size bytes; returns the number of ranges. */
unsigned pc_memory_map(uint64_t ram_size, struct pc_range map[PC_MAP_MAX]);

#endif

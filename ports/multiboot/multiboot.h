/*
 * multiboot.h - the Multiboot v1 boot protocol: load an ELF32 kernel into
 * guest RAM and build the information structure the specification promises.
 * It knows nothing of the monitor: it writes into a RAM buffer it is given.
 */
#ifndef LILYVM_MULTIBOOT_H
#define LILYVM_MULTIBOOT_H

#include <stddef.h>
#include <stdint.h>

#define MULTIBOOT_LOADER_MAGIC 0x2badb002u

#include "ports/pc/pc.h"

/* A boot module (an initrd) and its command line. */
struct mb_module {
	const uint8_t *data;
	size_t len;
	const char *cmdline;
};

/* Where the kernel starts and what to pass it. */
struct mb_boot {
	uint32_t entry;		/* EIP */
	uint32_t info;		/* EBX: physical address of the information structure */
};

/* True if image carries a valid Multiboot v1 header in its first 8 KiB. */
int multiboot_detect(const uint8_t *image, size_t len);
/* Load image and modules into ram and build the information structure; -1 with err. */
int multiboot_load(const uint8_t *image, size_t len, const struct pc_ram *ram, const char *cmdline,
		   const struct mb_module *mods, size_t n_mods, struct mb_boot *boot, char *err,
		   size_t errlen);

#endif

/*
 * boot.h - the Linux 32-bit boot protocol (Documentation/arch/x86/boot.rst,
 * "32-bit boot protocol"): load the protected-mode kernel (an ELF vmlinux),
 * the initrd and the command line into guest RAM and build the zero page
 * (struct boot_params) the kernel reads at startup_32.
 * It knows nothing of the monitor: it writes into a RAM buffer it is given.
 */
#ifndef LILYVM_LINUX_BOOT_H
#define LILYVM_LINUX_BOOT_H

#include <stddef.h>
#include <stdint.h>

#include "ports/pc/pc.h"

#define LINUX_BOOT_CS 0x10	/* __BOOT_CS: flat 4 GiB code, as the protocol asks */
#define LINUX_BOOT_DS 0x18	/* __BOOT_DS: flat 4 GiB data */

/* What the kernel is given. */
struct linux_image {
	const uint8_t *bzimage;	/* the original bzImage: its setup header */
	size_t bzimage_len;
	const uint8_t *vmlinux;	/* the ELF vmlinux to load (rewritten) */
	size_t vmlinux_len;
	const uint8_t *initrd;	/* may be NULL */
	size_t initrd_len;
	const char *cmdline;
};

/* Where the kernel starts and what it is handed. */
struct linux_entry {
	uint32_t eip;		/* startup_32, physical */
	uint32_t esi;		/* the zero page, physical */
};

/* Load everything into ram and build the zero page; -1 with a one-line err. */
int linux_boot_load(const struct linux_image *img, const struct pc_ram *ram,
		    struct linux_entry *entry, char *err, size_t errlen);

#endif

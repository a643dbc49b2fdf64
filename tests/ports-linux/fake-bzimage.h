/*
 * fake-bzimage.h - build small bzImages for the ports/linux tests: a tiny
 * ELF vmlinux, compressed as the kernel build does, in a real setup header.
 */
#ifndef LILYVM_TESTS_FAKE_BZIMAGE_H
#define LILYVM_TESTS_FAKE_BZIMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "ports/linux/bzimage.h"

/* Where the fake images put things, for tests that poke at them. */
#define FAKE_SETUP_SECTS 4
#define FAKE_PM_OFFSET ((FAKE_SETUP_SECTS + 1) * 512)
#define FAKE_PAYLOAD_OFFSET 0x200	/* into the protected-mode code */
#define FAKE_TAIL 0x100			/* code after the payload */
#define FAKE_KERNEL_VERSION "6.1.0-fake (lilyvm@test) #1"

/* Header field offsets the tests corrupt. */
enum {
	FAKE_OFF_SETUP_SECTS = 0x1f1,
	FAKE_OFF_BOOT_FLAG = 0x1fe,
	FAKE_OFF_HEADER = 0x202,
	FAKE_OFF_VERSION = 0x206,
	FAKE_OFF_LOADFLAGS = 0x211,
	FAKE_OFF_PAYLOAD_OFFSET = 0x248,
	FAKE_OFF_PAYLOAD_LENGTH = 0x24c,
};

/* A malloc'd buffer. */
struct blob {
	uint8_t *data;
	size_t len;
};

/* An ELF header of the given class and machine, then body bytes of code-like filler. */
int fake_elf(unsigned elf_class, unsigned machine, size_t body, struct blob *out);

/* Compress in as the kernel build does: the stream, then its size (gzip has it built in). */
int fake_compress(enum bzimage_compression c, const uint8_t *in, size_t len,
		  struct blob *out);

/* Wrap a payload in a boot sector, setup sectors and protected-mode code. */
int fake_bzimage(const uint8_t *payload, size_t len, struct blob *out);

/* Store a little-endian 32-bit word (for appended sizes and header pokes). */
void fake_put32(uint8_t *p, uint32_t v);

#endif

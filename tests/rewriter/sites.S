/*
 * sites.S - a kernel image with every encoding of every catalogue class
 * behind a multiboot header. check-sites.sh runs the rewriter on it with its
 * symbols (sites.elf) and stripped (sites-stripped.elf), so the sites must be
 * found both by recursive disassembly and by the linear sweep.
 */
#include "marks.inc"

#define MB_MAGIC 0x1badb002
#define MB_FLAGS 0x00000003	/* modules page-aligned, memory map wanted */

	.text
/*
 * The header sits in .text, where the linear sweep of the stripped image
 * would decode it, and its checksum 0xe4524ffb holds 0xfb (sti) and 0xe4
 * (in $imm8,%al): the rewriter must take it as data.
 */
	.p2align 2
multiboot_header:
	.long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)
multiboot_header_end:
	look_range multiboot_header, multiboot_header_end
	/* objdump decodes the header as code, and its last 0xe4 (in $imm8) eats
	   one byte: a nop for it lets objdump find _start in the stripped image */
	nop

	.globl _start
	.type _start, @function
_start:
#include "encodings.inc"
	jmp _start
	.size _start, . - _start

	.section .note.GNU-stack, "", @progbits

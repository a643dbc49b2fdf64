/*
 * boot.S - multiboot v1 entry shared by the micro-guests: a header the
 * loader (QEMU or lilyvm) recognises, a stack, and a call to guest_main().
 */
#define MB_MAGIC 0x1badb002
#define MB_FLAGS 0x00000003	/* page-aligned modules, memory map wanted */

	.section .multiboot, "a"
	.align 4
	.long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)

	.section .bss
	.align 16
boot_stack:
	.space 16384
boot_stack_top:

	.section .text
	.globl _start
	.type _start, @function
_start:
	mov $boot_stack_top, %esp
	push %ebx		/* multiboot information */
	push %eax		/* loader magic */
	call guest_main
1:	cli
	hlt
	jmp 1b
	.size _start, . - _start

	.section .note.GNU-stack, "", @progbits

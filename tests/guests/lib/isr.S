/*
 * isr.S - interrupt entry stubs for the micro-guests. Each stub pushes a
 * dummy error code where the CPU pushes none, then its vector, so that
 * guest_trap() always sees the same struct trap_frame (lib/guest.h).
 */
	.macro stub vec, has_error
	.globl isr_\vec
	.type isr_\vec, @function
isr_\vec:
	.if !\has_error
	push $0
	.endif
	push $\vec
	jmp isr_common
	.endm

	.text
	stub 0,0;  stub 1,0;  stub 2,0;  stub 3,0;  stub 4,0;  stub 5,0;  stub 6,0;  stub 7,0
	stub 8,1;  stub 9,0;  stub 10,1; stub 11,1; stub 12,1; stub 13,1; stub 14,1; stub 15,0
	stub 16,0; stub 17,1; stub 18,0; stub 19,0
	stub 32,0; stub 33,0; stub 34,0; stub 35,0; stub 36,0; stub 37,0; stub 38,0; stub 39,0
	stub 40,0; stub 41,0; stub 42,0; stub 43,0; stub 44,0; stub 45,0; stub 46,0; stub 47,0
	stub 128,0; stub 129,0; stub 130,0

	.type isr_common, @function
isr_common:
	pusha
	push %ds
	push %es
	mov $0x10, %ax		/* kernel data selector */
	mov %ax, %ds
	mov %ax, %es
	push %esp
	call guest_trap
	add $4, %esp
	pop %es
	pop %ds
	popa
	add $8, %esp		/* vector and error code */
	iret

	.section .rodata
	.globl isr_table
	.align 4
isr_table:			/* vector, stub; ends with vector 0xffffffff */
	.irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47,128,129,130
	.long \v, isr_\v
	.endr
	.long 0xffffffff, 0

	.section .note.GNU-stack, "", @progbits

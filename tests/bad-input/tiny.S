/*
 * tiny.S - the valid image mkbad corrupts: one code segment holding a few
 * catalogued instructions (so a rewritten copy has several sites) in two
 * executable sections (so a site can be made to straddle them), and one data
 * segment (so segments can be made to overlap).
 */
	.text
	.globl _start
	.type _start, @function
_start:
	cli
	mov $0x3f8, %dx
	in %dx, %al
	out %al, %dx
	sti
	call 1f
	hlt
1:	jmp boot
	.size _start, . - _start

	.section .boot, "ax"
	.type boot, @function
boot:
	xor %eax, %eax		/* not a site: a site stretched from .text ends here */
	rdtsc
	jmp _start
	.size boot, . - boot

	.data
	.globl value
value:	.long 42

	.section .note.GNU-stack, "", @progbits

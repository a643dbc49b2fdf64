/*
 * lookalike.S - bytes that look like catalogued instructions but are not
 * instructions, or not those: the rewriter must leave every one as is.
 * Real sites sit among them, to show that decoding stays in step, and where
 * only one of the rewriter's ways of finding code reaches them: an STT_FUNC
 * symbol, a direct far call, a jump table inside a function's extent.
 *
 * Built with symbols (lookalike.elf) and, with -DWITHOUT_SYMBOLS, to be
 * stripped (lookalike-stripped.elf). Only symbols tell data in .text from
 * code, so the data-in-text look-alikes are left out of the stripped image:
 * its linear sweep would rightly decode them as code.
 */
#include "marks.inc"

	.text
	.globl _start
	.type _start, @function
_start:
	/* catalogued opcodes in immediates, displacements, ModRM and SIB bytes */
	lookalike mov $0xd8220f, %eax		/* b8 0f 22 d8 00: mov %eax,%cr3 */
	lookalike mov $0x0f22d8, %eax		/* b8 d8 22 0f 00 */
	lookalike mov $0x10010f, %ecx		/* b9 0f 01 10 00: lgdt (%eax) */
	lookalike lea 0xfa(%eax), %ebx		/* 8d 98 fa 00 00 00: cli */
	lookalike lea -6(%eax), %ebx		/* 8d 58 fa */
	lookalike add $0xf4, %eax		/* 05 f4 00 00 00: hlt */
	lookalike cmp $0xcd, %al		/* 3c cd: int */
	lookalike test $0xec, %al		/* a8 ec: in (%dx),%al */
	lookalike push $0x0e			/* 6a 0e: push %cs */
	lookalike push $0x1f			/* 6a 1f: pop %ds */
	lookalike movl $0xcf, (%eax)		/* c7 00 cf 00 00 00: iret */
	lookalike and $0x9c, %al		/* 24 9c: pushf */
	lookalike mov 0x0f0130(%ebx), %eax	/* 8b 83 30 01 0f 00 */
	lookalike mov 0x9a(%esi), %edx		/* 8b 96 9a 00 00 00: far call */
	lookalike imul $0xea, %eax, %eax	/* 69 c0 ea 00 00 00: far jmp */
	lookalike movw $0x340f, %ax		/* 66 b8 0f 34: sysenter */
	lookalike mov %edi, %edx		/* 89 fa: ModRM is cli */
	lookalike mov %esi, %esp		/* 89 f4: ModRM is hlt */
	lookalike mov %eax, (%edx,%edi,8)	/* 89 04 fa: SIB is cli */
	lookalike lock orl $0xfb, (%eax)	/* f0 83 08 fb: sti, behind lock */
	lookalike lock xaddl %ecx, 0xcc(%edx)	/* f0 0f c1 8a cc 00 00 00: int3 */
.Lback:	nop
	nop
	nop
	nop
	lookalike jne .Lback			/* 75 fa: cli in a branch displacement */
	site cli
	lookalike mov $0xfa, %al		/* b0 fa, between two sites */
	site sti

	/* a catalogued instruction split across an instruction boundary */
1:	mov $0x0f, %al				/* b0 0f | 22 c3: mov %ebx,%cr0 */
	and %bl, %al
2:	look_range 1b, 2b
1:	mov $0x0f, %bl				/* b3 0f | 01 10: lgdt (%eax) */
	add %edx, (%eax)
2:	look_range 1b, 2b
1:	mov $0xcd, %al				/* b0 cd | 80 c1 05: int $0x80 */
	add $5, %cl
2:	look_range 1b, 2b
1:	mov $0x0f, %dl				/* b2 0f | a2 ...: cpuid */
	mov %al, 0x100000
2:	look_range 1b, 2b
	site hlt

	/* mov, push and pop that are not segment register forms */
	lookalike mov %eax, %ebx
	lookalike mov %ax, %bx
	lookalike mov %al, %bl
	lookalike mov (%eax), %ecx
	lookalike mov %ecx, 0x10(%eax,%ebx,2)
	lookalike mov $1, %eax
	lookalike movb $0x8e, (%eax)
	lookalike movw $0x8c, %fs:(%edx)
	lookalike mov 0x1234, %eax		/* a1: moffs form */
	lookalike mov %al, 0x1234		/* a2 */
	lookalike movzwl %ax, %eax
	lookalike movsbl (%ecx), %edx
	lookalike movsl
	lookalike push %eax
	lookalike pushw %ax
	lookalike push $0x12345678
	lookalike pushl (%eax)
	lookalike pushw %fs:0x10(%ebx)
	lookalike pusha
	lookalike pop %ebx
	lookalike popw %ax
	lookalike popl (%eax)
	lookalike popa
	site mov %eax, %ds
	site lcall $0x10, $far_target
	ret
	.size _start, . - _start
#ifndef WITHOUT_SYMBOLS
	/* data after ret, outside every function: no branch and no STT_FUNC
	   symbol leads here; the last 0x0f would swallow a byte of what follows */
1:	cli
	mov %eax, %cr3
	lgdt (%eax)
	int $0x80
	pushf
	mov %eax, %ds
	.byte 0x0f
2:	look_range 1b, 2b
#endif

/* Not a function: with symbols, only the direct far call above leads here. */
far_target:
	site sidt (%eax)
	site lret

/* Nothing branches to the start of this: only its STT_FUNC symbol (or the
   linear sweep, when stripped) finds its first instruction, after an int3
   that would otherwise pass for padding. */
	.type only_by_symbol, @function
only_by_symbol:
	int3
	site mov %cr0, %eax
	lookalike mov $0x220f, %ax		/* 66 b8 0f 22 */
	site lret
	.size only_by_symbol, . - only_by_symbol

/* The same without .size, as hand-written assembly often is: there is no
   extent to sweep, so only recursion from the symbol finds it. */
	.type no_size, @function
no_size:
	int3
	site mov %eax, %cr4
	ret

	.type jumps_away, @function
jumps_away:
	site wrmsr
	jmp only_by_symbol
	.size jumps_away, . - jumps_away
#ifndef WITHOUT_SYMBOLS
	/* data after jmp, and a table of STT_OBJECT type inside .text */
1:	.byte 0x0f, 0x01, 0x10, 0xfa, 0xcd, 0x80
	.type text_table, @object
text_table:
	.long 0x0f22d8fa, 0xcf9d9cf4, 0x0f01f9cc
	.size text_table, . - text_table
2:	look_range 1b, 2b
#endif

/* The cases of a jump table: no direct branch reaches them, the linear sweep
   of the function's extent (or of everything, when stripped) does. */
	.type dispatch, @function
dispatch:
	jmp *.Lcases(, %eax, 4)
.Lcase0:
	site sgdt (%eax)
	ret
.Lcase1:
	site smsw %eax
	ret
	.size dispatch, . - dispatch

	.section .rodata
.Lcases:
	.long .Lcase0, .Lcase1

/* The same encodings as data: never scanned, never rewritten. */
	.set record_sites, 0
rodata_copy:
#include "encodings.inc"
rodata_copy_end:
	look_range rodata_copy, rodata_copy_end

	.data
data_copy:
#include "encodings.inc"
data_copy_end:
	look_range data_copy, data_copy_end
	.set record_sites, 1

	.section .note.GNU-stack, "", @progbits

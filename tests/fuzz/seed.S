/*
 * seed.S - a small kernel-shaped image for the fuzzing seed corpus: multiboot
 * v1 and v2 headers inside the code, two executable sections, function
 * symbols, a jump table, a far jump and one instruction of many catalogue
 * classes, so that mutations start from inputs that reach every part of the
 * reader, the scanner and the writer.
 */
#define MB1_MAGIC 0x1badb002
#define MB1_FLAGS 0x00000003
#define MB2_MAGIC 0xe85250d6

	.section .boot, "ax"
	.align 4
	.long MB1_MAGIC, MB1_FLAGS, -(MB1_MAGIC + MB1_FLAGS)
	.align 8
mb2_start:
	.long MB2_MAGIC, 0, mb2_end - mb2_start, -(MB2_MAGIC + (mb2_end - mb2_start))
	.short 0, 0
	.long 8
mb2_end:

	.globl _start
	.type _start, @function
_start:
	cli
	lgdt gdt_ptr
	ljmp $0x08, $1f
1:	mov $0x10, %ax
	mov %ax, %ds
	mov %ax, %ss
	mov $stack_top, %esp
	call kmain
2:	hlt
	jmp 2b
	.size _start, . - _start

	.text
	.globl kmain
	.type kmain, @function
kmain:
	push %ebp
	mov %esp, %ebp
	mov %cr0, %eax
	or $1, %eax
	mov %eax, %cr0
	xor %ecx, %ecx
	rdmsr
	cpuid
	rdtsc
	pushf
	popf
	sti
	mov 8(%ebp), %eax
	and $3, %eax
	jmp *table(, %eax, 4)
.Lcase0:
	in $0x60, %al
	jmp .Ldone
.Lcase1:
	out %al, $0x80
	jmp .Ldone
.Lcase2:
	int $0x80
	jmp .Ldone
.Lcase3:
	invlpg (%eax)
.Ldone:
	pop %ebp
	ret
	.size kmain, . - kmain

	.globl trap_return
	.type trap_return, @function
trap_return:
	popa
	add $8, %esp
	iret
	.size trap_return, . - trap_return

	.section .rodata
	.align 4
table:
	.long .Lcase0, .Lcase1, .Lcase2, .Lcase3
gdt_ptr:
	.short 23
	.long gdt
	.align 8
gdt:
	.quad 0, 0x00cf9a000000ffff, 0x00cf92000000ffff

	.data
counter:
	.long 0

	.bss
	.align 16
	.space 4096
stack_top:

	.section .note.GNU-stack, "", @progbits

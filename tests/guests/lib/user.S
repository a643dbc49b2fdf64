/*
 * user.S - run_user() enters ring 3 with iret; user_return() abandons the
 * trap frame of the ring-3 exit call and resumes run_user()'s caller.
 */
	.text
	.globl run_user
	.type run_user, @function
run_user:
	push %ebp
	push %ebx
	push %esi
	push %edi
	mov %esp, saved_ksp
	mov 20(%esp), %eax	/* fn */
	mov 24(%esp), %ecx	/* stack top */
	pushl $0x23		/* user ss */
	push %ecx
	pushf
	orl $0x200, (%esp)	/* interrupts on in ring 3 */
	pushl $0x1b		/* user cs */
	push %eax
	mov $0x23, %dx
	mov %dx, %ds
	mov %dx, %es
	iret
	.size run_user, . - run_user

	.globl user_return
	.type user_return, @function
user_return:
	mov saved_ksp, %esp
	mov $0x10, %ax
	mov %ax, %ds
	mov %ax, %es
	pop %edi
	pop %esi
	pop %ebx
	pop %ebp
	ret
	.size user_return, . - user_return

	.bss
	.align 4
saved_ksp:
	.long 0

	.section .note.GNU-stack, "", @progbits

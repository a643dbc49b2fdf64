/*
 * stub.S - the only host code in the guest's child process.
 *
 * The monitor executes this static 32-bit program in a fresh traced child,
 * unmaps everything else the kernel put in the child, moves this page to
 * STUB_ADDR (just below the 32-bit TASK_SIZE) and from then on runs the
 * child's own host calls (mapping guest memory, loading descriptors) here.
 * The seccomp filter the monitor installs allows system calls from the
 * gadget only.
 *
 * A batch: the monitor writes records of eight words (number, six
 * arguments, result) to the scratch page, points %esp at the first, sets
 * flat segments and resumes the child at stub_batch without syscall stops.
 * Each call's result lands in its record; the int3 at the end stops the
 * child again, one stop for the whole batch. While the guest runs, the
 * child is under PTRACE_SYSEMU, so jumping here makes no host call.
 */
#define BATCH_END 0xffffc400	/* SCRATCH_ADDR + CHILD_BATCH_HDR: end of the records */

	.text
	.globl _start
_start:
	int3
	.globl stub_gadget
stub_gadget:
	int $0x80
	movl %eax, 28(%esp)
	addl $32, %esp
	.org 16, 0x90		/* stub_batch is at _start + STUB_BATCH_OFF (child.c) */
	.globl stub_batch
stub_batch:
	cmpl BATCH_END, %esp
	jae 1f
	movl (%esp), %eax
	movl 4(%esp), %ebx
	movl 8(%esp), %ecx
	movl 12(%esp), %edx
	movl 16(%esp), %esi
	movl 20(%esp), %edi
	movl 24(%esp), %ebp
	jmp stub_gadget
1:	int3
	.section .note.GNU-stack, "", @progbits

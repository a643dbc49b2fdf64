/*
 * stub.S - the only host code in the guest's child process.
 *
 * The monitor executes this static 32-bit program in a fresh traced child,
 * unmaps everything else the kernel put in the child, moves this page to
 * STUB_ADDR (just below the 32-bit TASK_SIZE) and from then on uses the
 * gadget to run the few host system calls the child itself must make
 * (mapping guest memory, loading descriptors). The seccomp filter the
 * monitor installs allows system calls from the gadget only.
 */
	.text
	.globl _start
_start:
	int3
	.globl stub_gadget
stub_gadget:
	int $0x80
	int3
	.section .note.GNU-stack, "", @progbits

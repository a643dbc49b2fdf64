/* stub_blob.S - the stub program (lightvm/stub.elf) as bytes inside the monitor. */
	.section .rodata
	.globl lilyvm_stub_elf, lilyvm_stub_elf_end
	.balign 16
lilyvm_stub_elf:
	.incbin "lightvm/stub.elf"
lilyvm_stub_elf_end:
	.section .note.GNU-stack, "", @progbits

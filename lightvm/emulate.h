/*
 * emulate.h - emulation of privileged and ring-sensitive instructions, at
 * rewritten sites and wherever else they fault.
 */
#ifndef LIGHTVM_EMULATE_H
#define LIGHTVM_EMULATE_H

#include "lightvm/vm.h"

enum emu_result {
	EMU_DONE,		/* emulated (or a guest fault raised); resume */
	EMU_HALT,		/* hlt: wait for an interrupt, then resume */
	EMU_NOT_PRIVILEGED,	/* an ordinary instruction: the fault is the guest's */
};

/* Open the capstone handle with operand detail used by emulation. */
int emulate_init(struct vm *vm);
/* Emulate the instruction held in bytes as if it ran at the guest's CS:EIP. */
enum emu_result emulate_insn(struct vm *vm, const uint8_t *bytes, size_t len);
/* Emulate the run of instructions of a run site (LILYVM_SITE_RUN) in order, while execution falls through within it. */
enum emu_result emulate_run(struct vm *vm, const uint8_t *bytes, size_t len);
/* Emulate one ordinary instruction (what a run may hold) at EIP; EMU_NOT_PRIVILEGED, untouched, for any other. */
enum emu_result emulate_ordinary(struct vm *vm, const uint8_t *bytes, size_t len);
/* Emulate only the first instruction of a run site's bytes, at EIP. */
enum emu_result emulate_run_first(struct vm *vm, const uint8_t *bytes, size_t len);
/* True if off is where an instruction of bytes begins (decoding from bytes[0]). */
int emulate_boundary(struct vm *vm, const uint8_t *bytes, size_t len, size_t off);
/* Whether the instruction in bytes (at CS:EIP) writes the page of lin: 1, 0, or -1 if undecodable. */
int emulate_writes_at(struct vm *vm, const uint8_t *bytes, size_t len, uint32_t lin,
		      size_t *insn_len);
/* The mnemonic of the instruction in bytes, for messages. */
const char *emulate_name(struct vm *vm, const uint8_t *bytes, size_t len, char *buf,
			 size_t buflen);

#endif

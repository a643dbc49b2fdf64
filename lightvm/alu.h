/*
 * alu.h - the integer arithmetic of the ordinary instructions the monitor
 * emulates inside a run site (emulate.c): results and the EFLAGS bits they
 * leave, as the Intel SDM defines them (and QEMU computes them where the SDM
 * leaves a flag undefined: AF after a logic operation is 0).
 */
#ifndef LIGHTVM_ALU_H
#define LIGHTVM_ALU_H

#include <stdint.h>

enum alu_op { ALU_ADD, ALU_SUB, ALU_AND, ALU_OR, ALU_XOR, ALU_INC, ALU_DEC };

/* a op b in size bytes (1, 2 or 4); *flags gets CF PF AF ZF SF OF from old and the result. */
uint32_t alu_run(enum alu_op op, uint32_t a, uint32_t b, unsigned size, uint32_t old,
		 uint32_t *flags);
/* Whether condition code cc (the low nibble of a Jcc opcode) holds under eflags. */
int alu_condition(unsigned cc, uint32_t eflags);

#endif

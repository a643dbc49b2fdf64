/*
 * test-alu.c - lightvm/alu.c against the host CPU: the results and flags of
 * add, sub, and, or, xor, inc and dec in 8, 16 and 32 bits, on random and
 * edge operands, must be what the host's own instructions give; and every
 * condition code must hold exactly when the host's setcc says it does.
 * (AF after and/or/xor is undefined in the SDM and not compared.)
 */
#include <stdint.h>
#include <stdio.h>

#include "lightvm/alu.h"

#define ARITH 0x8d5u	/* CF PF AF ZF SF OF */
#define NO_AF 0x8c5u

static int failures;

/* The host's result and flags for op in size bytes. */
#define HOST_OP(insn, suffix, type, a, b, r, f)                                          \
	__asm__ volatile(insn suffix " %3, %1\n\tpushf\n\tpop %q0"                          \
			 : "=r"(f), "=r"(r) : "1"((type)(a)), "r"((type)(b)) : "cc")
#define HOST_UNARY(insn, suffix, type, a, r, f)                                          \
	__asm__ volatile(insn suffix " %1\n\tpushf\n\tpop %q0" : "=r"(f), "=r"(r) : "1"((type)(a)) : "cc")

static uint64_t host(enum alu_op op, uint32_t a, uint32_t b, unsigned size, uint32_t *res)
{
	uint64_t f = 0;
	uint8_t r8 = 0;
	uint16_t r16 = 0;
	uint32_t r32 = 0;

#define ALL(insn)                                                                       \
	do {                                                                             \
		if (size == 1)                                                          \
			HOST_OP(insn, "b", uint8_t, a, b, r8, f);                       \
		else if (size == 2)                                                     \
			HOST_OP(insn, "w", uint16_t, a, b, r16, f);                     \
		else                                                                     \
			HOST_OP(insn, "l", uint32_t, a, b, r32, f);                     \
	} while (0)
#define ALL1(insn)                                                                      \
	do {                                                                             \
		if (size == 1)                                                          \
			HOST_UNARY(insn, "b", uint8_t, a, r8, f);                       \
		else if (size == 2)                                                     \
			HOST_UNARY(insn, "w", uint16_t, a, r16, f);                     \
		else                                                                     \
			HOST_UNARY(insn, "l", uint32_t, a, r32, f);                     \
	} while (0)
	switch (op) {
	case ALU_ADD: ALL("add"); break;
	case ALU_SUB: ALL("sub"); break;
	case ALU_AND: ALL("and"); break;
	case ALU_OR: ALL("or"); break;
	case ALU_XOR: ALL("xor"); break;
	case ALU_INC: ALL1("inc"); break;
	case ALU_DEC: ALL1("dec"); break;
	}
	*res = size == 1 ? r8 : size == 2 ? r16 : r32;
	return f;
}

static uint32_t next(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static void compare(enum alu_op op, uint32_t a, uint32_t b, unsigned size, uint32_t old)
{
	static const char *const names[] = { "add", "sub", "and", "or", "xor", "inc", "dec" };
	uint32_t mask = op == ALU_AND || op == ALU_OR || op == ALU_XOR ? NO_AF : ARITH, want_r, got_f;
	uint32_t want_f = (uint32_t)host(op, a, b, size, &want_r);
	uint32_t got_r = alu_run(op, a, b, size, old, &got_f);

	/* inc and dec keep CF: the host's CF came from nothing, so take old's. */
	if (op == ALU_INC || op == ALU_DEC)
		want_f = (want_f & ~1u) | (old & 1u);
	if (got_r != want_r || (got_f & mask) != (want_f & mask)) {
		if (failures++ < 10)
			printf("FAIL: %s%u %#x, %#x: result %#x flags %#x, host %#x flags %#x\n",
			       names[op], 8 * size, a, b, got_r, got_f & mask, want_r, want_f & mask);
	}
}

/* setcc on the host's flags as alu_condition's oracle. */
static int host_condition(unsigned cc, uint64_t fl)
{
	uint8_t r = 0;

#define SETCC(n, name)                                                                   \
	case n: __asm__ volatile("push %1\n\tpopf\n\tset" name " %0" : "=r"(r) : "r"(fl) : "cc"); break
	switch (cc) {
	SETCC(0, "o"); SETCC(1, "no"); SETCC(2, "b"); SETCC(3, "ae");
	SETCC(4, "e"); SETCC(5, "ne"); SETCC(6, "be"); SETCC(7, "a");
	SETCC(8, "s"); SETCC(9, "ns"); SETCC(10, "p"); SETCC(11, "np");
	SETCC(12, "l"); SETCC(13, "ge"); SETCC(14, "le"); SETCC(15, "g");
	}
	return r;
}

int main(void)
{
	static const uint32_t edges[] = { 0, 1, 2, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff,
					  0x7fffffff, 0x80000000, 0xffffffff, 0x0f, 0x10 };
	const unsigned n_edges = sizeof(edges) / sizeof(edges[0]);
	uint32_t seed = 0x2545f491;

	for (unsigned op = ALU_ADD; op <= ALU_DEC; op++)
		for (unsigned size = 1; size <= 4; size *= 2) {
			for (unsigned i = 0; i < n_edges; i++)
				for (unsigned j = 0; j < n_edges; j++)
					compare(op, edges[i], edges[j], size, j & 1 ? 0x201 : 0x200);
			for (unsigned k = 0; k < 20000; k++)
				compare(op, next(&seed), next(&seed), size, next(&seed) & 0x8d5);
		}
	for (unsigned cc = 0; cc < 16; cc++)
		for (uint32_t f = 0; f < 0x1000; f++) {
			uint64_t fl = (f & ARITH) | 0x202;

			if (alu_condition(cc, (uint32_t)fl) != host_condition(cc, fl) && failures++ < 10)
				printf("FAIL: condition %u under flags %#llx\n", cc, (unsigned long long)fl);
		}
	printf("%s: %d failures\n", failures ? "FAIL" : "PASS", failures);
	return failures != 0;
}

/*
 * alu.c - integer results and flags for the emulated ordinary instructions.
 */
#include "lightvm/alu.h"

#define F_CF 0x001u
#define F_PF 0x004u
#define F_AF 0x010u
#define F_ZF 0x040u
#define F_SF 0x080u
#define F_OF 0x800u
#define F_ARITH (F_CF | F_PF | F_AF | F_ZF | F_SF | F_OF)

static uint32_t mask_of(unsigned size)
{
	return size >= 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
}

/* PF: the low byte of the result has an even number of set bits. */
static uint32_t parity(uint32_t r)
{
	return __builtin_parity(r & 0xff) ? 0 : F_PF;
}

uint32_t alu_run(enum alu_op op, uint32_t a, uint32_t b, unsigned size, uint32_t old,
		 uint32_t *flags)
{
	uint32_t m = mask_of(size), sign = (m >> 1) + 1, r, f = 0;
	int sub = op == ALU_SUB || op == ALU_DEC;

	a &= m;
	b = (op == ALU_INC || op == ALU_DEC ? 1 : b) & m;
	switch (op) {
	case ALU_AND: r = a & b; break;
	case ALU_OR: r = a | b; break;
	case ALU_XOR: r = a ^ b; break;
	default: r = (sub ? a - b : a + b) & m; break;
	}
	if (op != ALU_AND && op != ALU_OR && op != ALU_XOR) {
		f |= ((a ^ b ^ r) & 0x10) ? F_AF : 0;
		f |= (sub ? (a ^ b) & (a ^ r) : ~(a ^ b) & (a ^ r)) & sign ? F_OF : 0;
		if (op == ALU_INC || op == ALU_DEC)
			f |= old & F_CF;	/* inc and dec leave CF alone */
		else
			f |= (sub ? a < b : r < a) ? F_CF : 0;
	}
	f |= parity(r) | (r == 0 ? F_ZF : 0) | (r & sign ? F_SF : 0);
	*flags = (old & ~F_ARITH) | f;
	return r;
}

int alu_condition(unsigned cc, uint32_t fl)
{
	int cf = !!(fl & F_CF), zf = !!(fl & F_ZF), sf = !!(fl & F_SF), of = !!(fl & F_OF);
	int pf = !!(fl & F_PF), holds;

	switch (cc >> 1) {
	case 0: holds = of; break;		/* o */
	case 1: holds = cf; break;		/* b */
	case 2: holds = zf; break;		/* e */
	case 3: holds = cf || zf; break;	/* be */
	case 4: holds = sf; break;		/* s */
	case 5: holds = pf; break;		/* p */
	case 6: holds = sf != of; break;	/* l */
	default: holds = zf || sf != of; break;	/* le */
	}
	return (cc & 1) ? !holds : holds;
}

/*
 * catalogue.c - which instructions the rewriter replaces.
 *
 * Classification is by capstone's instruction id, which covers every
 * operand size, prefix and register/memory form of an instruction; the few
 * ids that are only sometimes sensitive (mov, push, pop) are told apart by
 * their opcode bytes, which is cheaper than asking capstone for operands.
 * rewriter/CATALOGUE.md gives the reason for each entry.
 */
#include <string.h>

#include "rewriter/image.h"


/* Instructions whose capstone id alone decides the class. */
static const struct {
	unsigned id;
	unsigned cls;
} by_id[] = {
	{ X86_INS_CLI, LILYVM_CLS_CLI },	{ X86_INS_STI, LILYVM_CLS_STI },
	{ X86_INS_HLT, LILYVM_CLS_HLT },	{ X86_INS_PUSHF, LILYVM_CLS_PUSHF },
	{ X86_INS_PUSHFD, LILYVM_CLS_PUSHF },	{ X86_INS_POPF, LILYVM_CLS_POPF },
	{ X86_INS_POPFD, LILYVM_CLS_POPF },	{ X86_INS_IN, LILYVM_CLS_IN },
	{ X86_INS_OUT, LILYVM_CLS_OUT },	{ X86_INS_INSB, LILYVM_CLS_INS },
	{ X86_INS_INSW, LILYVM_CLS_INS },	{ X86_INS_INSD, LILYVM_CLS_INS },
	{ X86_INS_OUTSB, LILYVM_CLS_OUTS },	{ X86_INS_OUTSW, LILYVM_CLS_OUTS },
	{ X86_INS_OUTSD, LILYVM_CLS_OUTS },	{ X86_INS_LGDT, LILYVM_CLS_LGDT },
	{ X86_INS_LIDT, LILYVM_CLS_LIDT },	{ X86_INS_LLDT, LILYVM_CLS_LLDT },
	{ X86_INS_LTR, LILYVM_CLS_LTR },	{ X86_INS_SGDT, LILYVM_CLS_SGDT },
	{ X86_INS_SIDT, LILYVM_CLS_SIDT },	{ X86_INS_SLDT, LILYVM_CLS_SLDT },
	{ X86_INS_STR, LILYVM_CLS_STR },	{ X86_INS_SMSW, LILYVM_CLS_SMSW },
	{ X86_INS_LMSW, LILYVM_CLS_LMSW },	{ X86_INS_CLTS, LILYVM_CLS_CLTS },
	{ X86_INS_INVD, LILYVM_CLS_INVD },	{ X86_INS_WBINVD, LILYVM_CLS_WBINVD },
	{ X86_INS_INVLPG, LILYVM_CLS_INVLPG },	{ X86_INS_RDMSR, LILYVM_CLS_RDMSR },
	{ X86_INS_WRMSR, LILYVM_CLS_WRMSR },	{ X86_INS_RDPMC, LILYVM_CLS_RDPMC },
	{ X86_INS_RDTSCP, LILYVM_CLS_RDTSCP },
	{ X86_INS_CPUID, LILYVM_CLS_CPUID },	{ X86_INS_IRET, LILYVM_CLS_IRET },
	{ X86_INS_IRETD, LILYVM_CLS_IRET },	{ X86_INS_INT, LILYVM_CLS_INT },
	{ X86_INS_INTO, LILYVM_CLS_INTO },
	{ X86_INS_LDS, LILYVM_CLS_LOAD_FAR_PTR }, { X86_INS_LES, LILYVM_CLS_LOAD_FAR_PTR },
	{ X86_INS_LFS, LILYVM_CLS_LOAD_FAR_PTR }, { X86_INS_LGS, LILYVM_CLS_LOAD_FAR_PTR },
	{ X86_INS_LSS, LILYVM_CLS_LOAD_FAR_PTR }, { X86_INS_LJMP, LILYVM_CLS_FAR_JMP },
	{ X86_INS_LCALL, LILYVM_CLS_FAR_CALL },	{ X86_INS_RETF, LILYVM_CLS_FAR_RET },
	{ X86_INS_LAR, LILYVM_CLS_LAR },	{ X86_INS_LSL, LILYVM_CLS_LSL },
	{ X86_INS_VERR, LILYVM_CLS_VERR },	{ X86_INS_VERW, LILYVM_CLS_VERW },
	{ X86_INS_ARPL, LILYVM_CLS_ARPL },	{ X86_INS_SYSENTER, LILYVM_CLS_SYSENTER },
	{ X86_INS_SYSEXIT, LILYVM_CLS_SYSEXIT }, { X86_INS_SYSCALL, LILYVM_CLS_SYSCALL },
	{ X86_INS_SYSRET, LILYVM_CLS_SYSRET },	{ X86_INS_MONITOR, LILYVM_CLS_MONITOR },
	{ X86_INS_MWAIT, LILYVM_CLS_MWAIT },	{ X86_INS_XGETBV, LILYVM_CLS_XGETBV },
	{ X86_INS_XSETBV, LILYVM_CLS_XSETBV },
};

/* Capstone id -> class, filled once from by_id. */
static unsigned char id_class[X86_INS_ENDING];

const char *rw_class_name(unsigned cls)
{
	return lilyvm_class_name(cls);
}

static int is_prefix(uint8_t b)
{
	switch (b) {
	case 0x26: case 0x2e: case 0x36: case 0x3e: case 0x64: case 0x65:
	case 0x66: case 0x67: case 0xf0: case 0xf2: case 0xf3:
		return 1;
	}
	return 0;
}

unsigned rw_opcode_offset(const uint8_t *b, unsigned len, int *opsize16)
{
	unsigned i = 0;

	*opsize16 = 0;
	while (i < len && is_prefix(b[i])) {
		if (b[i] == 0x66)
			*opsize16 = 1;
		i++;
	}
	return i;
}

/* mov: only the segment, control and debug register forms are sensitive. */
static unsigned classify_mov(const uint8_t *op, unsigned n)
{
	if (n >= 1 && op[0] == 0x8c)
		return LILYVM_CLS_MOV_FROM_SEG;
	if (n >= 1 && op[0] == 0x8e)
		return LILYVM_CLS_MOV_TO_SEG;
	if (n >= 2 && op[0] == 0x0f) {
		switch (op[1]) {
		case 0x20: return LILYVM_CLS_MOV_FROM_CR;
		case 0x22: return LILYVM_CLS_MOV_TO_CR;
		case 0x21: return LILYVM_CLS_MOV_FROM_DR;
		case 0x23: return LILYVM_CLS_MOV_TO_DR;
		}
	}
	return LILYVM_CLS_NONE;
}

/* push/pop: only the segment register forms are sensitive. */
static unsigned classify_push_pop(const uint8_t *op, unsigned n, int push)
{
	if (n >= 1 && push && (op[0] == 0x06 || op[0] == 0x0e || op[0] == 0x16 || op[0] == 0x1e))
		return LILYVM_CLS_PUSH_SEG;
	if (n >= 1 && !push && (op[0] == 0x07 || op[0] == 0x17 || op[0] == 0x1f))
		return LILYVM_CLS_POP_SEG;
	if (n >= 2 && op[0] == 0x0f && push && (op[1] == 0xa0 || op[1] == 0xa8))
		return LILYVM_CLS_PUSH_SEG;
	if (n >= 2 && op[0] == 0x0f && !push && (op[1] == 0xa1 || op[1] == 0xa9))
		return LILYVM_CLS_POP_SEG;
	return LILYVM_CLS_NONE;
}

static void fill_id_class(void)
{
	static int done;

	if (done)
		return;
	for (size_t i = 0; i < sizeof(by_id) / sizeof(by_id[0]); i++)
		id_class[by_id[i].id] = by_id[i].cls;
	done = 1;
}

unsigned rw_classify(const cs_insn *insn)
{
	int opsize16;
	unsigned p = rw_opcode_offset(insn->bytes, insn->size, &opsize16);
	const uint8_t *op = insn->bytes + p;
	unsigned n = insn->size - p;

	fill_id_class();
	switch (insn->id) {
	case X86_INS_MOV:
		return classify_mov(op, n);
	case X86_INS_PUSH:
		return classify_push_pop(op, n, 1);
	case X86_INS_POP:
		return classify_push_pop(op, n, 0);
	}
	return insn->id < X86_INS_ENDING ? id_class[insn->id] : LILYVM_CLS_NONE;
}

int rw_capstone_open(csh *cs, char *err)
{
	if (cs_open(CS_ARCH_X86, CS_MODE_32, cs) != CS_ERR_OK)
		return rw_fail(err, "capstone cannot decode 32-bit x86");
	cs_option(*cs, CS_OPT_DETAIL, CS_OPT_OFF);
	return 0;
}

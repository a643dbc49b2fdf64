/*
 * pv.c - the paravirtual trampolines of LILYVM_FORM_PV sites (sites.h).
 *
 * A trampoline replays its site: ordinary instructions are copied as they
 * are, branches are relocated, and cli, sti, pushf and popf become short
 * sequences on the virtual EFLAGS bits in the shared vCPU page, bracketed
 * by the host's own pushf and popf so that the arithmetic flags come out as
 * the instruction leaves them. The code runs in ring 3 of the host, where
 * popf cannot change IF or IOPL and pushf shows the host's; only CF PF AF
 * ZF SF DF OF are taken from the host. Where IF may have been let in, a
 * check of the pending word exits to the monitor, which delivers the
 * interrupt waiting for it. Reads of CR0/2/3/4 read the vCPU page; invlpg
 * and sync_core() leave the site to the monitor only when it has work.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "rewriter/image.h"

#define FL_IF 0x200u
#define FL_NT 0x4000u
#define FL_HOST 0x8d5u		/* CF PF AF ZF SF DF OF: the host's own */
#define FL_VIRTUAL 0x247300u	/* TF IF IOPL NT AC ID: the vCPU page's */
#define VFLAGS (LILYVM_PV_VCPU + offsetof(struct lilyvm_pv_vcpu, vflags))
#define PENDING (LILYVM_PV_VCPU + offsetof(struct lilyvm_pv_vcpu, pending))

/* invlpg's ModRM (mod != 3, reg 7) and what follows, when the trampoline can compute the address. */
static int invlpg_operand(const cs_insn *in)
{
	const uint8_t *b = in->bytes;
	unsigned mod, rm;

	if (in->size < 3 || b[0] != 0x0f || b[1] != 0x01)
		return 0;
	mod = b[2] >> 6;
	rm = b[2] & 7;
	/* No %esp base: the trampoline moves %esp before it computes the address. */
	return mod != 3 && ((b[2] >> 3) & 7) == 7 && !(rm == 4 && in->size > 3 && (b[3] & 7) == 4);
}

struct emit {
	uint8_t *buf;
	size_t len, cap;
};

static int put(struct emit *e, const void *p, size_t n)
{
	if (e->len + n > e->cap) {
		size_t cap = e->cap ? 2 * e->cap : 65536;
		uint8_t *b;

		while (cap < e->len + n)
			cap *= 2;
		if (!(b = realloc(e->buf, cap)))
			return -1;
		e->buf = b;
		e->cap = cap;
	}
	memcpy(e->buf + e->len, p, n);
	e->len += n;
	return 0;
}

/* Opcode bytes, then nimm 32-bit immediates or addresses. */
static int put_insn(struct emit *e, const uint8_t *op, size_t n, const uint32_t *imm, size_t nimm)
{
	int rc = put(e, op, n);

	for (size_t i = 0; i < nimm && !rc; i++)
		rc = put(e, &imm[i], 4);
	return rc;
}

static int put_cli_sti(struct emit *e, int sti)
{
	static const uint8_t and_mem[] = { 0x9c, 0x81, 0x25 }, or_mem[] = { 0x9c, 0x81, 0x0d };
	uint32_t imm[2] = { VFLAGS, sti ? FL_IF : ~FL_IF };
	static const uint8_t popf = 0x9d;

	return put_insn(e, sti ? or_mem : and_mem, 3, imm, 2) || put(e, &popf, 1);
}

/* push (host flags & FL_HOST) | 2 | vflags, leaving the host's flags as they were. */
static int put_pushf(struct emit *e)
{
	static const uint8_t head[] = { 0x9c, 0x9c, 0x50, 0x8b, 0x44, 0x24, 0x08, 0x25 };
	static const uint8_t or2[] = { 0x0d, 0x02, 0x00, 0x00, 0x00, 0x0b, 0x05 };
	static const uint8_t tail[] = { 0x89, 0x44, 0x24, 0x08, 0x58, 0x9d };
	uint32_t host = FL_HOST, vf = VFLAGS;

	return put_insn(e, head, sizeof(head), &host, 1) || put_insn(e, or2, sizeof(or2), &vf, 1) ||
	       put(e, tail, sizeof(tail));
}

/* pop V: vflags = V's virtual bits (ring 0 may change them all), host popf of the rest. */
static int put_popf(struct emit *e)
{
	static const uint8_t head[] = { 0x50, 0x51, 0x8b, 0x44, 0x24, 0x08, 0x89, 0xc1, 0x25 };
	static const uint8_t store = 0xa3, and_ecx[] = { 0x81, 0xe1 };
	static const uint8_t tail[] = { 0x89, 0x4c, 0x24, 0x08, 0x59, 0x58, 0x9d };
	uint32_t virt = FL_VIRTUAL, vf = VFLAGS, host = FL_HOST;

	return put_insn(e, head, sizeof(head), &virt, 1) || put_insn(e, &store, 1, &vf, 1) ||
	       put_insn(e, and_ecx, 2, &host, 1) || put(e, tail, sizeof(tail));
}

/* jmp rel32 from the code's current end to target. */
static int put_jmp(struct emit *e, uint32_t target)
{
	uint8_t op = 0xe9;
	uint32_t rel = target - (LILYVM_PV_CODE + (uint32_t)e->len + 5);

	return put_insn(e, &op, 1, &rel, 1);
}

/*
 * The end of a test whose flags are on the host's saved pushf: `jcc` over
 * the exit (popf; hlt; struct lilyvm_pv_exit) when there is nothing for the
 * monitor; the host's flags come back (popf) either way.
 */
static int put_exit_unless(struct emit *e, uint8_t jcc, uint32_t resume, uint8_t flags)
{
	uint8_t skip[4] = { jcc, 7, 0x9d, LILYVM_PV_EXIT_BYTE };
	static const uint8_t popf = 0x9d;
	struct lilyvm_pv_exit x = { resume, flags };

	return put(e, skip, sizeof(skip)) || put(e, &x, sizeof(x)) || put(e, &popf, 1);
}

/*
 * if (vflags & IF && pending) exit to the monitor, which goes on at resume
 * (inside the site, if that is where hardware would take the interrupt:
 * the monitor emulates the rest of the site after it); else fall through.
 * The host's flags survive both ways.
 */
static int put_pending_check(struct emit *e, uint32_t resume, int shadow)
{
	static const uint8_t test[] = { 0x9c, 0xf7, 0x05 }, cmp[] = { 0x74, 0x10, 0x83, 0x3d };
	static const uint8_t zero = 0x00;
	uint32_t t[2] = { VFLAGS, FL_IF }, pending = PENDING;

	return put_insn(e, test, sizeof(test), t, 2) || put_insn(e, cmp, sizeof(cmp), &pending, 1) ||
	       put(e, &zero, 1) ||
	       put_exit_unless(e, 0x74, resume, shadow ? LILYVM_PV_EXIT_SHADOW : 0);
}

enum rw_pv_kind rw_pv_kind(const cs_insn *insn)
{
	static const uint8_t other_prefixes[] = { 0x26, 0x2e, 0x36, 0x67, 0xf0, 0xf2, 0xf3 };
	const uint8_t *b = insn->bytes;
	unsigned i = 0;

	if (insn->size == 1 && (b[0] == 0xfa || b[0] == 0xfb || b[0] == 0x9c || b[0] == 0x9d))
		return RW_PV_FLAGS;
	if (insn->size == 2 && b[0] >= 0x70 && b[0] <= 0x7f)
		return RW_PV_BRANCH;
	if ((insn->size == 5 && (b[0] == 0xe8 || b[0] == 0xe9)) || (insn->size == 2 && b[0] == 0xeb))
		return RW_PV_TAIL;
	if (rw_classify(insn) == LILYVM_CLS_INVLPG)
		return invlpg_operand(insn) ? RW_PV_INVLPG : RW_PV_NOT;
	if (rw_classify(insn) == LILYVM_CLS_MOV_FROM_CR)
		return insn->size == 3 && b[0] == 0x0f && b[1] == 0x20 && ((b[2] >> 3) & 7) != 1 &&
			       ((b[2] >> 3) & 7) <= 4 ? RW_PV_READ_CR : RW_PV_NOT;
	if (rw_classify(insn) != LILYVM_CLS_NONE)
		return RW_PV_NOT;
	while (i < insn->size && (b[i] == 0x64 || b[i] == 0x65 || b[i] == 0x66 || b[i] == 0x3e))
		i++;
	if (i < insn->size && memchr(other_prefixes, b[i], sizeof(other_prefixes)))
		return RW_PV_NOT;
	switch (insn->id) {
	case X86_INS_MOV: case X86_INS_PUSH: case X86_INS_POP: case X86_INS_ADD: case X86_INS_SUB:
	case X86_INS_CMP: case X86_INS_AND: case X86_INS_OR: case X86_INS_XOR: case X86_INS_TEST:
	case X86_INS_INC: case X86_INS_DEC: case X86_INS_LEA:
		return RW_PV_ORDINARY;
	}
	return RW_PV_NOT;
}

/*
 * invlpg m: if the page of m's address has its bit in the mapped bitmap,
 * the monitor emulates the site from the invlpg; else nothing to do.
 */
static int put_invlpg(struct emit *e, const cs_insn *in)
{
	static const uint8_t head[] = { 0x9c, 0x50, 0x8d }, shr_bt[] = { 0xc1, 0xe8, 0x0c, 0x0f, 0xa3, 0x05 };
	static const uint8_t pop_eax = 0x58;
	uint8_t modrm = in->bytes[2] & 0xc7;	/* the same address into %eax */
	uint32_t bitmap = LILYVM_PV_MAPPED;

	return put(e, head, sizeof(head)) || put(e, &modrm, 1) ||
	       put(e, in->bytes + 3, in->size - 3) || put_insn(e, shr_bt, sizeof(shr_bt), &bitmap, 1) ||
	       put(e, &pop_eax, 1) ||
	       put_exit_unless(e, 0x73, (uint32_t)in->address, LILYVM_PV_EXIT_EMULATE);
}

/* mov %crN, %reg (0F 20, ModRM 11 N reg): mov cr[N] of the vCPU page, %reg. */
static int put_read_cr(struct emit *e, const cs_insn *in)
{
	uint8_t op[2] = { 0x8b, (uint8_t)(0x05 | (in->bytes[2] & 7) << 3) };
	uint32_t slot = LILYVM_PV_VCPU + offsetof(struct lilyvm_pv_vcpu, cr) +
			4 * ((in->bytes[2] >> 3) & 7);

	return put_insn(e, op, 2, &slot, 1);
}

/* Where a relocated branch jumps: original address `to`; rel32 at `at` in the code. */
struct fixup {
	size_t at;
	uint32_t to;
};

/* A short conditional branch as jcc rel32, to be fixed up once its target is placed. */
static int put_branch(struct emit *e, const cs_insn *in, struct fixup *f, size_t *nf)
{
	uint8_t op[2] = { 0x0f, (uint8_t)(0x80 + (in->bytes[0] & 0x0f)) };
	uint32_t zero = 0;

	f[*nf] = (struct fixup){ e->len + 2, (uint32_t)(in->address + 2 + (int8_t)in->bytes[1]) };
	(*nf)++;
	return put_insn(e, op, 2, &zero, 1);
}

/*
 * A call or jump that ends a site, to its target: a call pushes the
 * original return address, the site's end, so that the callee sees and
 * returns to what it would have without the trampoline.
 */
static int put_tail(struct emit *e, const cs_insn *in)
{
	uint8_t push = 0x68;
	uint32_t to = (uint32_t)in->address + in->size, back = to, rel;

	memcpy(&rel, in->bytes + 1, 4);
	to += in->bytes[0] == 0xeb ? (uint32_t)(int8_t)in->bytes[1] : rel;
	if (in->bytes[0] == 0xe8 && put_insn(e, &push, 1, &back, 1))
		return -1;
	return put_jmp(e, to);
}

/* One instruction of a site: the flags instructions replaced, a branch relocated, the rest copied. */
static int put_one(struct emit *e, const cs_insn *in, struct fixup *f, size_t *nf)
{
	switch (rw_pv_kind(in)) {
	case RW_PV_FLAGS:
		if (in->bytes[0] == 0x9c)
			return put_pushf(e);
		return in->bytes[0] == 0x9d ? put_popf(e) : put_cli_sti(e, in->bytes[0] == 0xfb);
	case RW_PV_INVLPG:
		return put_invlpg(e, in);
	case RW_PV_READ_CR:
		return put_read_cr(e, in);
	case RW_PV_BRANCH:
		return put_branch(e, in, f, nf);
	case RW_PV_TAIL:
		return put_tail(e, in);
	case RW_PV_ORDINARY:
		return put(e, in->bytes, in->size);
	default:
		return -1;	/* widen_for_pv admits nothing else */
	}
}

int rw_pv_sync_core(const struct lilyvm_site *s)
{
	static const uint8_t head[] = { 0x9c, 0x0e, 0x68 };
	uint32_t next;

	if (s->len != 8 || memcmp(s->orig, head, 3) || s->orig[7] != 0xcf)
		return 0;
	memcpy(&next, s->orig + 3, 4);
	return next == s->addr + 8;
}

/* sync_core(): nothing to do unless NT is set; then the monitor emulates the site. */
static int put_sync_core(struct emit *e, const struct lilyvm_site *s)
{
	static const uint8_t test[] = { 0x9c, 0xf7, 0x05 };
	uint32_t t[2] = { VFLAGS, FL_NT };

	return put_insn(e, test, sizeof(test), t, 2) ||
	       put_exit_unless(e, 0x74, s->addr, LILYVM_PV_EXIT_EMULATE) || put_jmp(e, s->addr + s->len);
}

/*
 * The trampoline of one site, at the code's current end. An interrupt that
 * IF lets in is taken where hardware takes it: right after a popf, after
 * the instruction that follows an sti (or at the site's end, with the
 * shadow still to come). Branches inside the site go to the code of their
 * target; one to the site's end goes to the final jump back, one elsewhere
 * leaves the trampoline for its target.
 */
static int put_trampoline(struct emit *e, csh cs, cs_insn *in, const struct lilyvm_site *s)
{
	size_t at[LILYVM_MAX_INSN + 1], nf = 0;
	struct fixup f[LILYVM_MAX_INSN];
	const uint8_t *code = s->orig;
	size_t size = s->len;
	uint64_t addr = s->addr;
	int shadow = 0, rc = 0;	/* shadow: the last instruction was sti */

	if (rw_pv_sync_core(s))
		return put_sync_core(e, s);
	while (!rc && size && cs_disasm_iter(cs, &code, &size, &addr, in)) {
		at[in->address - s->addr] = e->len;
		rc = put_one(e, in, f, &nf);
		if (!rc && (shadow || in->bytes[0] == 0x9d))
			rc = put_pending_check(e, (uint32_t)addr, 0);
		shadow = in->size == 1 && in->bytes[0] == 0xfb;
	}
	if (rc || size)
		return -1;
	if (shadow)
		rc = put_pending_check(e, s->addr + s->len, 1);
	at[s->len] = e->len;
	if (rc || put_jmp(e, s->addr + s->len))
		return -1;
	for (size_t i = 0; i < nf; i++) {
		uint32_t off = f[i].to - s->addr;
		uint32_t rel = off <= s->len ? (uint32_t)(at[off] - (f[i].at + 4))
					     : f[i].to - (LILYVM_PV_CODE + (uint32_t)f[i].at + 4);

		memcpy(e->buf + f[i].at, &rel, 4);
	}
	return 0;
}

/* Overwrite a site with its jump and int3 fill. */
static void patch_jump(struct rw_image *img, const struct lilyvm_site *s, uint32_t tramp)
{
	const struct rw_region *r = rw_region_of(img, s->addr);
	uint8_t *p = img->buf + r->off + (s->addr - r->vaddr);
	uint32_t rel = tramp - (s->addr + 5);

	p[0] = 0xe9;
	memcpy(p + 1, &rel, 4);
	memset(p + 5, LILYVM_FILL_BYTE, s->len - 5);
}

int rw_pv_build(struct rw_image *img, char *err)
{
	struct emit e = { 0 };
	size_t n = 0;
	cs_insn *in;
	csh cs;
	int rc = 0;

	for (size_t i = 0; i < img->n_sites; i++)
		n += img->sites[i].form == LILYVM_FORM_PV;
	if (!n)
		return 0;
	if (rw_capstone_open(&cs, err))
		return -1;
	if (!(in = cs_malloc(cs)) || !(img->pv_entries = calloc(n, sizeof(*img->pv_entries)))) {
		rc = rw_fail(err, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < img->n_sites; i++) {
		struct lilyvm_site *s = &img->sites[i];
		uint32_t tramp = LILYVM_PV_CODE + (uint32_t)e.len;
		size_t before = e.len;

		if (s->form != LILYVM_FORM_PV)
			continue;
		if (put_trampoline(&e, cs, in, s)) {
			free(e.buf);
			rc = rw_fail(err, "out of memory for the trampoline of 0x%08x", s->addr);
			goto out;
		}
		if (e.len > LILYVM_PV_CODE_MAX) {
			e.len = before;	/* no room left: this site traps instead */
			s->form = LILYVM_FORM_TRAP;
			continue;
		}
		img->pv_entries[img->n_pv++] = (struct lilyvm_pv_entry){ tramp, s->addr };
		patch_jump(img, s, tramp);
	}
	img->pv_code = e.buf;
	img->pv_len = e.len;
out:
	if (in)
		cs_free(in, 1);
	cs_close(&cs);
	return rc;
}

/*
 * pv.c - the paravirtual trampolines of LILYVM_FORM_PV sites (sites.h).
 *
 * A trampoline replays its site: ordinary instructions are copied as they
 * are, and cli, sti, pushf and popf become short sequences on the virtual
 * EFLAGS bits in the shared vCPU page, bracketed by the host's own pushf
 * and popf so that the arithmetic flags come out as the instruction leaves
 * them. The code runs in ring 3 of the host, where popf cannot change IF
 * or IOPL and pushf shows the host's; only CF PF AF ZF SF DF OF are taken
 * from the host. A site that may set IF ends with a check of the pending
 * word: the exit to the monitor that delivers the interrupt waiting for it.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "rewriter/image.h"

#define FL_IF 0x200u
#define FL_HOST 0x8d5u		/* CF PF AF ZF SF DF OF: the host's own */
#define FL_VIRTUAL 0x247300u	/* TF IF IOPL NT AC ID: the vCPU page's */
#define VFLAGS (LILYVM_PV_VCPU + offsetof(struct lilyvm_pv_vcpu, vflags))
#define PENDING (LILYVM_PV_VCPU + offsetof(struct lilyvm_pv_vcpu, pending))

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
 * if (vflags & IF && pending) exit to the monitor, which goes on at resume
 * (inside the site, if that is where hardware would take the interrupt:
 * the monitor emulates the rest of the site after it); else fall through.
 * The host's flags survive both ways.
 */
static int put_pending_check(struct emit *e, uint32_t resume, int shadow)
{
	static const uint8_t test[] = { 0x9c, 0xf7, 0x05 }, cmp[] = { 0x74, 0x10, 0x83, 0x3d };
	static const uint8_t out[] = { 0x00, 0x74, 0x07, 0x9d, LILYVM_PV_EXIT_BYTE };
	static const uint8_t popf = 0x9d;
	uint32_t t[2] = { VFLAGS, FL_IF }, pending = PENDING;
	struct lilyvm_pv_exit x = { resume, shadow ? LILYVM_PV_EXIT_SHADOW : 0 };

	return put_insn(e, test, sizeof(test), t, 2) || put_insn(e, cmp, sizeof(cmp), &pending, 1) ||
	       put(e, out, sizeof(out)) || put(e, &x, sizeof(x)) || put(e, &popf, 1);
}

/*
 * The trampoline of one site, at the code's current end. An interrupt that
 * IF lets in is taken where hardware takes it: right after a popf, after
 * the instruction that follows an sti (or at the site's end, with the
 * shadow still to come).
 */
static int put_trampoline(struct emit *e, const struct lilyvm_site *s)
{
	int shadow = 0, rc = 0;	/* shadow: the last instruction was sti */

	for (unsigned off = 0, len = 1; off < s->len && !rc; off += len) {
		const uint8_t *p = s->orig + off;

		len = 1;
		if (p[0] == 0xfa || p[0] == 0xfb)
			rc = put_cli_sti(e, p[0] == 0xfb);
		else if (p[0] == 0x9c)
			rc = put_pushf(e);
		else if (p[0] == 0x9d)
			rc = put_popf(e);
		else if ((len = rw_ordinary_len(p, s->len - off)))
			rc = put(e, p, len);
		else
			return -1;	/* widen_for_pv admits nothing else */
		if (!rc && (shadow || p[0] == 0x9d))
			rc = put_pending_check(e, s->addr + off + len, 0);
		shadow = p[0] == 0xfb;
	}
	if (!rc && shadow)
		rc = put_pending_check(e, s->addr + s->len, 1);
	return rc ? rc : put_jmp(e, s->addr + s->len);
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

	for (size_t i = 0; i < img->n_sites; i++)
		n += img->sites[i].form == LILYVM_FORM_PV;
	if (!n)
		return 0;
	if (!(img->pv_entries = calloc(n, sizeof(*img->pv_entries))))
		return rw_fail(err, "out of memory");
	for (size_t i = 0; i < img->n_sites; i++) {
		struct lilyvm_site *s = &img->sites[i];
		uint32_t tramp = LILYVM_PV_CODE + (uint32_t)e.len;
		size_t before = e.len;

		if (s->form != LILYVM_FORM_PV)
			continue;
		if (put_trampoline(&e, s)) {
			free(e.buf);
			return rw_fail(err, "out of memory for trampolines");
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
	return 0;
}

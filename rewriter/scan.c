/*
 * scan.c - find the code of an image and the catalogued instructions in it.
 *
 * With symbols, code is what recursive disassembly reaches from the entry
 * point and every STT_FUNC symbol, plus what a linear sweep finds inside the
 * extent of each function (jump-table targets); other bytes are left alone
 * (padding is recognised, anything else is reported as unclassified). Without
 * symbols, recursive disassembly from the entry point is followed by a linear
 * sweep of every executable byte not yet decoded. Bytes that do not decode
 * are reported, never guessed at.
 */
#include <stdlib.h>
#include <string.h>

#include "rewriter/image.h"

struct scanner {
	struct rw_image *img;
	const uint8_t *code;	/* the bytes decoded: the image, or its original when verifying */
	csh cs;
	cs_insn *insn;
	const struct lilyvm_site *known;	/* verification: the site table */
	size_t n_known;
	struct rw_report *rep;
	struct lilyvm_site *found;
	size_t n_found, cap_found;
	uint32_t *work;
	size_t n_work, cap_work;
	uint64_t *edges;	/* every direct branch: target << 32 | source, for fusing */
	size_t n_edges, cap_edges;
	char *err;
};

/* Append addr to a growing array of addresses. */
static int push_addr(uint32_t **a, size_t *n, size_t *cap, uint32_t addr, char *err)
{
	if (*n == *cap) {
		size_t c = *cap ? 2 * *cap : 1024;
		uint32_t *w = realloc(*a, c * sizeof(*w));

		if (!w)
			return rw_fail(err, "out of memory");
		*a = w;
		*cap = c;
	}
	(*a)[(*n)++] = addr;
	return 0;
}

static int push_edge(struct scanner *sc, uint32_t to, uint32_t from)
{
	if (sc->n_edges == sc->cap_edges) {
		size_t c = sc->cap_edges ? 2 * sc->cap_edges : 1024;
		uint64_t *w = realloc(sc->edges, c * sizeof(*w));

		if (!w)
			return rw_fail(sc->err, "out of memory");
		sc->edges = w;
		sc->cap_edges = c;
	}
	sc->edges[sc->n_edges++] = (uint64_t)to << 32 | from;
	return 0;
}

static int push_work(struct scanner *sc, uint32_t addr)
{
	return push_addr(&sc->work, &sc->n_work, &sc->cap_work, addr, sc->err);
}

/* The site's bytes in the image hold its form: hlt, or a jump to the trampolines; int3 fill. */
static int trap_form(const struct lilyvm_site *s, const uint8_t *p)
{
	unsigned fill = 1;

	if (s->form == LILYVM_FORM_PV) {
		uint32_t rel;

		memcpy(&rel, p + 1, 4);
		if (s->len < 5 || p[0] != 0xe9 ||
		    s->addr + 5 + rel - LILYVM_PV_CODE >= LILYVM_PV_CODE_MAX)
			return 0;
		fill = 5;
	} else if (p[0] != LILYVM_TRAP_BYTE) {
		return 0;
	}
	for (unsigned i = fill; i < s->len; i++)
		if (p[i] != LILYVM_FILL_BYTE)
			return 0;
	return 1;
}

static int direct_target(const cs_insn *in, uint32_t *target);

static void verify_error(struct scanner *sc, uint32_t addr)
{
	if (sc->rep->verify_errors++ == 0)
		sc->rep->first_verify_error = addr;
}

/*
 * Decode the instruction at index i of region r using at most avail bytes.
 * When verifying, a known site must hold the trap form in the image. (A run
 * site may hold instructions decoded before its first one, so only the
 * region bounds it, not avail.)
 * Returns the length, or 0 if nothing decodes there.
 */
static unsigned decode(struct scanner *sc, struct rw_region *r, uint32_t i, uint32_t avail)
{
	const uint8_t *code = sc->code + r->off + i;
	uint64_t addr = r->vaddr + i;
	size_t size = avail;
	const struct lilyvm_site *s = sc->known ? lilyvm_site_find(sc->known, sc->n_known, addr) : NULL;
	uint32_t room = s && (s->flags & LILYVM_SITE_RUN) ? r->size - i : avail;

	if (s && (s->len > room || !trap_form(s, sc->img->buf + r->off + i)))
		verify_error(sc, addr);
	if (!cs_disasm_iter(sc->cs, &code, &size, &addr, sc->insn))
		return 0;
	if (s && sc->insn->size != s->len && !(s->flags & LILYVM_SITE_RUN))
		verify_error(sc, r->vaddr + i);
	return sc->insn->size;
}

static int add_site(struct scanner *sc, unsigned cls)
{
	struct lilyvm_site *s;

	if (sc->n_found == sc->cap_found) {
		size_t cap = sc->cap_found ? 2 * sc->cap_found : 256;

		s = realloc(sc->found, cap * sizeof(*s));
		if (!s)
			return rw_fail(sc->err, "out of memory");
		sc->found = s;
		sc->cap_found = cap;
	}
	s = &sc->found[sc->n_found++];
	memset(s, 0, sizeof(*s));
	s->addr = sc->insn->address;
	s->len = sc->insn->size;
	s->cls = cls;
	s->form = LILYVM_FORM_TRAP;
	memcpy(s->orig, sc->insn->bytes, s->len);
	return 0;
}

/* True if addr is inside a run site of the known table, after its first instruction. */
static int inside_known_run(const struct scanner *sc, uint32_t addr)
{
	for (unsigned back = 1; back < LILYVM_MAX_INSN && back <= addr; back++) {
		const struct lilyvm_site *s = lilyvm_site_find(sc->known, sc->n_known, addr - back);

		if (s)
			return (s->flags & LILYVM_SITE_RUN) && back < s->len;
	}
	return 0;
}

/* Mark a decoded instruction, and record it if it is catalogued. */
static int take(struct scanner *sc, struct rw_region *r, uint32_t i, unsigned len)
{
	unsigned cls = rw_classify(sc->insn);
	uint32_t target;

	r->state[i] = RW_B_START;
	memset(r->state + i + 1, RW_B_CONT, len - 1);
	sc->rep->insns++;
	sc->rep->insn_bytes += len;
	if (direct_target(sc->insn, &target) && push_edge(sc, target, r->vaddr + i))
		return -1;
	if (cls == LILYVM_CLS_NONE)
		return 0;
	if (sc->known && inside_known_run(sc, r->vaddr + i))
		return add_site(sc, cls);
	if (sc->known && !lilyvm_site_find(sc->known, sc->n_known, r->vaddr + i)) {
		verify_error(sc, r->vaddr + i);
		return 0;
	}
	return add_site(sc, cls);
}

/*
 * A direct far jump or call names selector:offset. Kernels use it to reload
 * CS with a flat code segment, so the offset is taken as the address.
 */
static int far_target(const uint8_t *op, int o16, uint32_t *target)
{
	*target = o16 ? (uint32_t)(op[1] | op[2] << 8)
		      : (uint32_t)(op[1] | op[2] << 8 | op[3] << 16 | (uint32_t)op[4] << 24);
	return 1;
}

/* Direct branch target of the decoded instruction; returns 1 if it has one. */
static int direct_target(const cs_insn *in, uint32_t *target)
{
	int o16;
	unsigned p = rw_opcode_offset(in->bytes, in->size, &o16);
	const uint8_t *op = in->bytes + p;
	unsigned n = in->size - p;
	uint32_t next = in->address + in->size;
	int32_t rel;

	if (n == 2 && ((op[0] >= 0x70 && op[0] <= 0x7f) || (op[0] >= 0xe0 && op[0] <= 0xe3) ||
		       op[0] == 0xeb))
		rel = (int8_t)op[1];
	else if ((op[0] == 0xe8 || op[0] == 0xe9) && n == (o16 ? 3u : 5u))
		rel = o16 ? (int16_t)(op[1] | op[2] << 8) : (int32_t)(op[1] | op[2] << 8 |
			     op[3] << 16 | (uint32_t)op[4] << 24);
	else if (op[0] == 0x0f && n == (o16 ? 4u : 6u) && op[1] >= 0x80 && op[1] <= 0x8f)
		rel = o16 ? (int16_t)(op[2] | op[3] << 8) : (int32_t)(op[2] | op[3] << 8 |
			     op[4] << 16 | (uint32_t)op[5] << 24);
	else if ((op[0] == 0xea || op[0] == 0x9a) && n == (o16 ? 5u : 7u))
		return far_target(op, o16, target);
	else
		return 0;
	*target = next + rel;
	if (o16)
		*target &= 0xffff;
	return 1;
}

/* Execution never falls through to the next instruction. */
static int ends_flow(unsigned id)
{
	switch (id) {
	case X86_INS_JMP: case X86_INS_LJMP: case X86_INS_RET: case X86_INS_RETF:
	case X86_INS_IRET: case X86_INS_IRETD: case X86_INS_UD2: case X86_INS_UD2B:
	case X86_INS_UD0: case X86_INS_SYSEXIT: case X86_INS_SYSRET:
		return 1;
	}
	return 0;
}

/* Bytes [i+1, i+len) must be undecoded for an instruction to fit there. */
static int fits(const struct rw_region *r, uint32_t i, unsigned len)
{
	for (unsigned k = 1; k < len; k++)
		if (r->state[i + k] != RW_B_UNKNOWN)
			return 0;
	return 1;
}

/* Follow one path of execution from addr until it ends or meets known code. */
static int follow(struct scanner *sc, uint32_t addr)
{
	struct rw_region *r;

	while ((r = rw_region_of(sc->img, addr))) {
		uint32_t i = addr - r->vaddr, target;
		unsigned len;

		if (r->state[i] != RW_B_UNKNOWN)
			return 0;
		len = decode(sc, r, i, r->size - i);
		if (!len) {
			r->state[i] = RW_B_BAD;
			return 0;
		}
		if (!fits(r, i, len))
			return 0;
		if (take(sc, r, i, len))
			return -1;
		if (direct_target(sc->insn, &target) && push_work(sc, target))
			return -1;
		if (ends_flow(sc->insn->id))
			return 0;
		addr += len;
	}
	return 0;
}

static int recursive(struct scanner *sc)
{
	const struct rw_image *img = sc->img;

	if (push_work(sc, img->ehdr.e_entry))
		return -1;
	for (size_t i = img->n_funcs; i-- > 0;)
		if (push_work(sc, img->funcs[i].addr))
			return -1;
	while (sc->n_work)
		if (follow(sc, sc->work[--sc->n_work]))
			return -1;
	return 0;
}

/* Number of undecoded bytes from index i up to index end. */
static uint32_t unknown_run(const struct rw_region *r, uint32_t i, uint32_t end)
{
	uint32_t n = 0;

	while (i + n < end && r->state[i + n] == RW_B_UNKNOWN)
		n++;
	return n;
}

/*
 * Decode a run of undecoded bytes in order, as a linear sweep does. int3
 * bytes right after an instruction that ends the flow are padding, not
 * sites: Linux fills between functions and after ret/jmp with them (against
 * straight-line speculation), and they never run.
 */
static int sweep_run(struct scanner *sc, struct rw_region *r, uint32_t i, uint32_t n)
{
	int flow_ended = 0;

	for (uint32_t end = i + n; i < end;) {
		unsigned len;

		if (flow_ended && sc->code[r->off + i] == 0xcc) {
			r->state[i++] = RW_B_PADDING;
			continue;
		}
		len = decode(sc, r, i, end - i);
		if (!len) {
			r->state[i++] = RW_B_BAD;
			flow_ended = 0;
			continue;
		}
		if (take(sc, r, i, len))
			return -1;
		flow_ended = ends_flow(sc->insn->id);
		i += len;
	}
	return 0;
}

/* gas alignment fillers: lea 0(%reg),%reg in its several sizes, mov %reg,%reg. */
static int is_filler(const cs_insn *in)
{
	const uint8_t *b = in->bytes;
	unsigned mod = b[1] >> 6, reg = (b[1] >> 3) & 7, rm = b[1] & 7;

	if (in->id == X86_INS_NOP || in->id == X86_INS_INT3)
		return 1;
	if (in->size >= 2 && (b[0] == 0x89 || b[0] == 0x8b) && mod == 3)
		return reg == rm;
	if (in->size < 3 || b[0] != 0x8d || mod == 3 || mod == 0)
		return 0;
	if (rm == 4)	/* SIB: base must be reg, no index */
		return in->size >= 4 && (b[2] & 7) == reg && ((b[2] >> 3) & 7) == 4 &&
		       b[3] == 0 && (mod == 1 || (in->size == 7 && !b[4] && !b[5] && !b[6]));
	return rm == reg && b[2] == 0 && (mod == 1 || (in->size == 6 && !b[3] && !b[4] && !b[5]));
}

/* With symbols, unreached bytes are only checked for being padding. */
static void classify_unreached(struct scanner *sc, struct rw_region *r, uint32_t i, uint32_t n)
{
	uint32_t k = 0;

	while (k < n) {
		unsigned len = decode(sc, r, i + k, n - k);

		if (!len || !is_filler(sc->insn))
			break;
		k += len;
	}
	memset(r->state + i, k == n ? RW_B_PADDING : RW_B_UNREACHED, n);
}

/*
 * Compilers keep data out of x86 text, so bytes inside a function's extent
 * that recursion missed (targets of jump tables and other indirect jumps)
 * are code: sweep them linearly.
 */
static int sweep_functions(struct scanner *sc)
{
	for (size_t k = 0; k < sc->img->n_funcs; k++) {
		const struct rw_func *f = &sc->img->funcs[k];
		struct rw_region *r = rw_region_of(sc->img, f->addr);
		uint32_t i = f->addr - r->vaddr;
		uint32_t end = f->size < r->size - i ? i + f->size : r->size;

		while (i < end) {
			uint32_t n = unknown_run(r, i, end);

			if (n && sweep_run(sc, r, i, n))
				return -1;
			i += n ? n : 1;
		}
	}
	return 0;
}

static int sweep(struct scanner *sc)
{
	if (sc->rep->used_symbols && sweep_functions(sc))
		return -1;
	for (size_t k = 0; k < sc->img->n_regions; k++) {
		struct rw_region *r = &sc->img->regions[k];

		for (uint32_t i = 0; i < r->size;) {
			uint32_t n = unknown_run(r, i, r->size);

			if (!n) {
				i++;
				continue;
			}
			if (sc->rep->used_symbols)
				classify_unreached(sc, r, i, n);
			else if (sweep_run(sc, r, i, n))
				return -1;
			i += n;
		}
	}
	return 0;
}

static int add_range(struct rw_report *rep, uint32_t addr, uint32_t len)
{
	struct rw_range *u;

	rep->unclassified_bytes += len;
	if (rep->n_unclassified) {
		u = &rep->unclassified[rep->n_unclassified - 1];
		if (u->addr + u->len == addr) {
			u->len += len;
			return 0;
		}
	}
	u = realloc(rep->unclassified, (rep->n_unclassified + 1) * sizeof(*u));
	if (!u)
		return -1;
	rep->unclassified = u;
	rep->unclassified[rep->n_unclassified++] = (struct rw_range){ addr, len };
	return 0;
}

/* Report bad and unreached bytes as merged ranges; forget all but boot headers. */
static int collect_unclassified(struct scanner *sc)
{
	for (size_t k = 0; k < sc->img->n_regions; k++) {
		struct rw_region *r = &sc->img->regions[k];

		for (uint32_t i = 0; i < r->size; i++) {
			uint8_t st = r->state[i];

			if (st != RW_B_DATA)
				r->state[i] = RW_B_UNKNOWN;
			if ((st == RW_B_BAD || st == RW_B_UNREACHED) &&
			    add_range(sc->rep, r->vaddr + i, 1))
				return rw_fail(sc->err, "out of memory");
		}
	}
	return 0;
}

static int site_cmp(const void *a, const void *b)
{
	const struct lilyvm_site *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

int rw_addr_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static int edge_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Index of the first branch to addr or beyond, in the sorted edges. */
static size_t first_edge(const struct scanner *sc, uint32_t addr)
{
	size_t lo = 0, hi = sc->n_edges;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (sc->edges[mid] >> 32 < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* A direct branch from outside [from_lo, from_hi) lands at addr. */
static int lands_from_outside(const struct scanner *sc, uint32_t addr, uint32_t from_lo,
			      uint32_t from_hi)
{
	for (size_t i = first_edge(sc, addr); i < sc->n_edges && sc->edges[i] >> 32 == addr; i++)
		if ((uint32_t)sc->edges[i] < from_lo || (uint32_t)sc->edges[i] >= from_hi)
			return 1;
	return 0;
}

static int is_target(const struct scanner *sc, uint32_t addr)
{
	return lands_from_outside(sc, addr, 0, 0);
}

/*
 * Classes that may be emulated as part of a run: no control transfer, and
 * nothing that enables interrupts or waits for them (sti's one-instruction
 * shadow and a popf that sets IF must end where hardware ends them).
 */
static int joins_run(unsigned cls)
{
	switch (cls) {
	case LILYVM_CLS_CLI: case LILYVM_CLS_PUSHF: case LILYVM_CLS_PUSH_SEG:
	case LILYVM_CLS_POP_SEG: case LILYVM_CLS_MOV_TO_SEG: case LILYVM_CLS_MOV_FROM_SEG:
		return 1;
	}
	return 0;
}

/*
 * Classes that may end a run, as its last instruction: what follows them
 * must run natively (sti's and popf's interrupt window, iret's return).
 * Linux's sync_core(), `pushf; push %cs; push $1f; iret; 1:`, which its
 * code patching runs for every instruction it patches, is such a run.
 */
static int ends_run(unsigned cls)
{
	return cls == LILYVM_CLS_STI || cls == LILYVM_CLS_POPF || cls == LILYVM_CLS_IRET;
}

/*
 * Length of an ordinary instruction the monitor also emulates inside a
 * run (push/pop of a 32-bit register other than %esp, push of an
 * immediate, mov $imm32 or a register to a register), or 0.
 */
unsigned rw_ordinary_len(const uint8_t *p, uint32_t avail)
{
	if (avail >= 1 && ((p[0] >= 0x50 && p[0] <= 0x5f && p[0] != 0x54 && p[0] != 0x5c)))
		return 1;
	if (avail >= 5 && ((p[0] >= 0xb8 && p[0] <= 0xbf) || p[0] == 0x68))
		return 5;
	if (avail >= 2 && p[0] == 0x6a)
		return 2;
	if (avail >= 2 && (p[0] == 0x89 || p[0] == 0x8b) && (p[1] & 0xc0) == 0xc0 &&
	    (p[1] & 7) != 4 && ((p[1] >> 3) & 7) != 4)
		return 2;
	return 0;
}

/* The decoded bytes at addr, and how many follow in its region. */
static const uint8_t *code_at(const struct scanner *sc, uint32_t addr, uint32_t *avail)
{
	const struct rw_region *r = rw_region_of(sc->img, addr);

	if (!r)
		return NULL;
	*avail = r->size - (addr - r->vaddr);
	return sc->code + r->off + (addr - r->vaddr);
}

/*
 * How far a run from found[i] reaches: the end of its last site, with
 * *last the index of that site. Sites of joins_run() classes and the
 * ordinary instructions between them, within LILYVM_MAX_INSN bytes, with
 * no direct branch landing after the first instruction.
 */
static uint32_t run_end(const struct scanner *sc, size_t i, size_t *last)
{
	const struct lilyvm_site *s = &sc->found[i];
	uint32_t end = s->addr + s->len, site_end = end, avail;
	size_t j = i + 1;

	*last = i;
	while (!is_target(sc, end)) {
		const uint8_t *p = code_at(sc, end, &avail);
		int is_site = j < sc->n_found && sc->found[j].addr == end;
		unsigned len;

		if (is_site && !joins_run(sc->found[j].cls) && !ends_run(sc->found[j].cls))
			break;
		len = is_site ? sc->found[j].len : p ? rw_ordinary_len(p, avail) : 0;
		if (!len || end + len - s->addr > LILYVM_MAX_INSN)
			break;
		end += len;
		if (is_site) {
			site_end = end;
			*last = j++;
			if (ends_run(sc->found[*last].cls))
				break;
		}
	}
	return site_end;
}

/*
 * Sensitive instructions that follow each other closely trap once each:
 * Linux's local_irq_save() is `pushf; pop %reg; cli`, its entry code
 * pushes, pops and loads three segment registers around every system call
 * and interrupt, and its sync_core() is four instructions for one iret. Where no branch lands inside, such a stretch becomes one
 * run site (LILYVM_SITE_RUN), which the monitor emulates in one trap. Only
 * direct branch targets are known; the kernel is built without jump tables
 * (retpolines), and a return into the middle of a run (an exception raised
 * there) is caught by the monitor, which then emulates the rest of it.
 */
static void fuse_runs(struct scanner *sc)
{
	size_t out = 0;

	if (sc->n_edges)	/* qsort must not be given NULL, even for no elements */
		qsort(sc->edges, sc->n_edges, sizeof(*sc->edges), edge_cmp);
	for (size_t i = 0; i < sc->n_found; i++) {
		struct lilyvm_site *s = &sc->found[i];
		size_t last = i;
		uint32_t end = joins_run(s->cls) ? run_end(sc, i, &last) : 0, avail;
		const uint8_t *p = code_at(sc, s->addr, &avail);

		sc->found[out++] = *s;
		if (last == i || !p)
			continue;
		sc->found[out - 1].len = (uint8_t)(end - s->addr);
		memcpy(sc->found[out - 1].orig, p, end - s->addr);
		sc->found[out - 1].flags = LILYVM_SITE_RUN;
		i = last;
	}
	sc->n_found = out;
}

/* Decoding found an instruction starting at addr. */
static int starts_insn(const struct scanner *sc, uint32_t addr)
{
	const struct rw_region *r = rw_region_of(sc->img, addr);

	return r && r->state[addr - r->vaddr] == RW_B_START;
}

/* Decode the instruction at addr into sc->insn; its kind for a trampoline. */
static enum rw_pv_kind pv_decode(struct scanner *sc, uint32_t addr)
{
	uint32_t avail = 0;
	const uint8_t *p = code_at(sc, addr, &avail);
	size_t size = avail;
	uint64_t a = addr;

	if (!p || !starts_insn(sc, addr) || !cs_disasm_iter(sc->cs, &p, &size, &a, sc->insn))
		return RW_PV_NOT;
	return rw_pv_kind(sc->insn);
}

/* A site a trampoline can hold: flags instructions or invlpg, at least one, and ordinary ones. */
static int pv_eligible(struct scanner *sc, const struct lilyvm_site *s)
{
	int any = 0;

	for (uint32_t at = s->addr; at < s->addr + s->len; at += sc->insn->size) {
		enum rw_pv_kind k = pv_decode(sc, at);

		if (k == RW_PV_NOT || k == RW_PV_BRANCH || k == RW_PV_TAIL)
			return 0;
		any |= k != RW_PV_ORDINARY;
	}
	return any;
}

/* A branch may land at addr from outside [lo, hi): a direct one, an exception fixup, a call through a pointer. */
static int may_land(const struct scanner *sc, uint32_t addr, uint32_t lo, uint32_t hi)
{
	const struct rw_image *img = sc->img;

	if (lands_from_outside(sc, addr, lo, hi) ||
	    (img->n_fixups && bsearch(&addr, img->fixups, img->n_fixups, sizeof(addr), rw_addr_cmp)))
		return 1;
	for (size_t l = 0, h = img->n_funcs; l < h;) {
		size_t mid = l + (h - l) / 2;

		if (img->funcs[mid].addr == addr)
			return 1;
		if (img->funcs[mid].addr < addr)
			l = mid + 1;
		else
			h = mid;
	}
	return 0;
}

/* [a, b) overlaps code the kernel patches itself. */
static int pinned(const struct rw_image *img, uint32_t a, uint32_t b)
{
	for (size_t i = 0; i < img->n_pinned && img->pinned[i].addr < b; i++)
		if (img->pinned[i].addr + img->pinned[i].len > a)
			return 1;
	return 0;
}

/* The start of the instruction a trampoline can hold that ends at addr, at or after floor, or 0. */
static uint32_t member_before(struct scanner *sc, uint32_t addr, uint32_t floor)
{
	for (uint32_t back = 1; back <= LILYVM_MAX_INSN && addr - back >= floor; back++) {
		if (!starts_insn(sc, addr - back))
			continue;
		enum rw_pv_kind k = pv_decode(sc, addr - back);

		return k != RW_PV_NOT && k != RW_PV_TAIL && sc->insn->size == back ? addr - back : 0;
	}
	return 0;
}

/*
 * [start, end) as a trampoline site: no branch from outside lands inside,
 * its branches that land in it go forward to one of its instructions or its
 * end, a call or jump can only end it, none is the instruction after an
 * sti, and the kernel patches none of it.
 */
static int pv_region_ok(struct scanner *sc, uint32_t start, uint32_t end)
{
	uint32_t starts = 0, targets = 0, to;
	int after_sti = 0;

	if (end - start < 5 || end - start > LILYVM_MAX_INSN || pinned(sc->img, start, end))
		return 0;
	for (uint32_t at = start; at < end; at += sc->insn->size) {
		enum rw_pv_kind k = pv_decode(sc, at);

		if (k == RW_PV_NOT || (at > start && may_land(sc, at, start, end)) ||
		    (k == RW_PV_TAIL && (after_sti || at + sc->insn->size != end)))
			return 0;
		starts |= 1u << (at - start);
		if (k == RW_PV_BRANCH) {
			if (after_sti || !direct_target(sc->insn, &to))
				return 0;
			if (to > start && to <= end && to <= at)
				return 0;
			if (to > start && to <= end)
				targets |= 1u << (to - start);
		}
		after_sti = k == RW_PV_FLAGS && sc->insn->bytes[0] == 0xfb;
	}
	return (targets & ~(starts | 1u << (end - start))) == 0;
}

/* Grow [*start, *end) forward to the jump's 5 bytes, up to ceiling. */
static void grow_forward(struct scanner *sc, uint32_t start, uint32_t *end, uint32_t ceiling)
{
	while (*end - start < 5 && *end < ceiling && !may_land(sc, *end, start, *end) &&
	       pv_decode(sc, *end) != RW_PV_NOT && *end + sc->insn->size <= ceiling) {
		*end += sc->insn->size;
		if (rw_pv_kind(sc->insn) == RW_PV_TAIL)
			break;
	}
}

/* Grow [*start, end) backward to the jump's 5 bytes, down to floor. */
static void grow_backward(struct scanner *sc, uint32_t *start, uint32_t end, uint32_t floor)
{
	uint32_t at;

	while (end - *start < 5 && (at = member_before(sc, *start, floor)))
		*start = at;
}

/*
 * A site of flags instructions, invlpg or reads of control registers with
 * ordinary instructions becomes a jump to a trampoline (LILYVM_FORM_PV) if it
 * can grow to the jump's 5 bytes over neighbours a trampoline can hold
 * (pv_region_ok): forward first, else backward first.
 */
static void widen_for_pv(struct scanner *sc)
{
	for (size_t i = 0; i < sc->n_found; i++) {
		struct lilyvm_site *s = &sc->found[i];
		uint32_t start = s->addr, end = s->addr + s->len, avail = 0;
		uint32_t floor = i ? sc->found[i - 1].addr + sc->found[i - 1].len : 0;
		uint32_t ceiling = i + 1 < sc->n_found ? sc->found[i + 1].addr : UINT32_MAX;
		const uint8_t *p;

		if (rw_pv_sync_core(s) && !pinned(sc->img, start, end)) {
			s->form = LILYVM_FORM_PV;
			continue;
		}
		if (!pv_eligible(sc, s))
			continue;
		grow_forward(sc, start, &end, ceiling);
		grow_backward(sc, &start, end, floor);
		if (!pv_region_ok(sc, start, end)) {
			start = s->addr;
			end = s->addr + s->len;
			grow_backward(sc, &start, end, floor);
			grow_forward(sc, start, &end, ceiling);
		}
		if (!pv_region_ok(sc, start, end) || !(p = code_at(sc, start, &avail)))
			continue;
		s->addr = start;
		s->len = (uint8_t)(end - start);
		memset(s->orig, 0, sizeof(s->orig));
		memcpy(s->orig, p, s->len);
		s->form = LILYVM_FORM_PV;
		s->flags |= LILYVM_SITE_RUN;
	}
}

static void count_classes(struct rw_report *rep, const struct lilyvm_site *s, size_t n)
{
	rep->sites = n;
	for (size_t i = 0; i < n; i++)
		rep->counts[s[i].cls]++;
}

/*
 * What verification decodes: the image with every known site's original
 * bytes put back, so that discovery takes the same paths it took when the
 * sites were found, whatever the trap forms would decode as.
 */
static uint8_t *original_bytes(const struct rw_image *img, const struct lilyvm_site *known,
			       size_t n_known)
{
	uint8_t *b = malloc(img->len ? img->len : 1);

	if (!b)
		return NULL;
	memcpy(b, img->buf, img->len);
	for (size_t i = 0; i < n_known; i++) {
		const struct rw_region *r = rw_region_of(img, known[i].addr);

		memcpy(b + r->off + (known[i].addr - r->vaddr), known[i].orig, known[i].len);
	}
	return b;
}

int rw_scan(struct rw_image *img, const struct lilyvm_site *known, size_t n_known,
	    struct rw_report *rep, struct lilyvm_site **found, size_t *n_found, char *err)
{
	struct scanner sc = { .img = img, .code = img->buf, .known = known, .n_known = n_known,
			      .rep = rep, .err = err };
	uint8_t *original = known ? original_bytes(img, known, n_known) : NULL;
	int rc;

	if (known && !original)
		return rw_fail(err, "out of memory");
	if (original)
		sc.code = original;
	if (rw_capstone_open(&sc.cs, err)) {
		free(original);
		return -1;
	}
	sc.insn = cs_malloc(sc.cs);
	rep->used_symbols = img->n_funcs > 0;
	rep->regions = img->n_regions;
	rep->image_bytes = img->len;
	for (size_t k = 0; k < img->n_regions; k++)
		rep->code_bytes += img->regions[k].size;
	rc = !sc.insn ? rw_fail(err, "out of memory") : recursive(&sc);
	if (!rc)
		rc = sweep(&sc);
	if (!rc && sc.n_found) {
		/* Fusion reads the bytes decoded (sc.code), which may be freed just
		 * below; widening reads which bytes start instructions, which
		 * collect_unclassified forgets. */
		qsort(sc.found, sc.n_found, sizeof(*sc.found), site_cmp);
		fuse_runs(&sc);
		if (!known && !img->traps_only)
			widen_for_pv(&sc);
	}
	if (!rc)
		rc = collect_unclassified(&sc);
	free(sc.edges);
	if (sc.insn)
		cs_free(sc.insn, 1);
	cs_close(&sc.cs);
	free(sc.work);
	free(original);
	if (rc) {
		free(sc.found);
		return -1;
	}
	count_classes(rep, sc.found, sc.n_found);
	*found = sc.found;
	*n_found = sc.n_found;
	return 0;
}

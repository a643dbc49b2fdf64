/*
 * linuxtab.c - what a Linux kernel image says about its own code that
 * decoding cannot see, read from its sections by name.
 *
 * A trampoline jump (LILYVM_FORM_PV) covers several instructions, so it
 * must not cover code the kernel rewrites while it boots: the original
 * instructions of alternatives (.altinstructions) and paravirt patch sites
 * (.parainstructions) are *pinned*. And no branch may land inside the
 * jump: exception fixups (__ex_table) are branch targets that only the
 * kernel's fault handler takes. Tables whose entries do not all point into
 * code are ignored, so another kernel's section of the same name cannot
 * make the rewriter trust garbage. Without these sections nothing changes.
 */
#include <stdlib.h>
#include <string.h>

#include "rewriter/image.h"

static const Elf32_Shdr *find_section(const struct rw_image *img, const char *name)
{
	for (size_t i = 1; i < img->shnum; i++)
		if (img->shdrs[i].sh_type == SHT_PROGBITS &&
		    !strcmp(rw_section_name(img, &img->shdrs[i]), name))
			return &img->shdrs[i];
	return NULL;
}

static int32_t s32_at(const uint8_t *p)
{
	int32_t v;

	memcpy(&v, p, 4);
	return v;
}

static int in_code(const struct rw_image *img, uint32_t addr, uint32_t len)
{
	const struct rw_region *r = rw_region_of(img, addr);

	return r && len <= r->size - (addr - r->vaddr);
}

static int range_cmp(const void *a, const void *b)
{
	const struct rw_range *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/* The entries of a table section, or NULL if it is absent or not entsize-aligned. */
static const uint8_t *entries(const struct rw_image *img, const Elf32_Shdr *sh, size_t entsize,
			      size_t *n)
{
	if (!sh || sh->sh_size % entsize || sh->sh_offset > img->len ||
	    sh->sh_size > img->len - sh->sh_offset)
		return NULL;
	*n = sh->sh_size / entsize;
	return img->buf + sh->sh_offset;
}

static int add_pinned(struct rw_image *img, const struct rw_range *r, size_t n, char *err)
{
	struct rw_range *p = realloc(img->pinned, (img->n_pinned + n + 1) * sizeof(*p));

	if (!p)
		return rw_fail(err, "out of memory");
	memcpy(p + img->n_pinned, r, n * sizeof(*r));
	img->pinned = p;
	img->n_pinned += n;
	return 0;
}

/*
 * struct alt_instr: s32 instr_offset, s32 repl_offset, then 2 bytes of
 * feature (6.1) or 4 (6.3 and later), u8 instrlen, u8 replacementlen. The
 * offsets are relative to the field.
 */
static int read_alternatives(struct rw_image *img, char *err)
{
	static const size_t sizes[] = { 12, 14 };
	const Elf32_Shdr *sh = find_section(img, ".altinstructions");

	for (size_t k = 0; sh && k < 2; k++) {
		size_t n = 0, ok = 0;
		const uint8_t *e = entries(img, sh, sizes[k], &n);
		struct rw_range *r = e ? calloc(n + 1, sizeof(*r)) : NULL;
		int rc;

		if (!e)
			continue;
		if (!r)
			return rw_fail(err, "out of memory");
		for (; ok < n; ok++) {
			const uint8_t *x = e + ok * sizes[k];
			uint32_t at = sh->sh_addr + ok * sizes[k] + (uint32_t)s32_at(x);

			r[ok] = (struct rw_range){ at, x[sizes[k] - 2] };
			if (!in_code(img, at, r[ok].len))
				break;
		}
		rc = ok == n ? add_pinned(img, r, n, err) : 0;
		free(r);
		if (ok == n)
			return rc;
	}
	return 0;
}

/* struct paravirt_patch_site on i386: u32 instr, u8 type, u8 len, 2 bytes padding. */
static int read_paravirt_sites(struct rw_image *img, char *err)
{
	size_t n = 0;
	const uint8_t *e = entries(img, find_section(img, ".parainstructions"), 8, &n);
	struct rw_range *r;
	int rc;

	if (!e)
		return 0;
	if (!(r = calloc(n + 1, sizeof(*r))))
		return rw_fail(err, "out of memory");
	for (size_t i = 0; i < n; i++) {
		r[i] = (struct rw_range){ (uint32_t)s32_at(e + 8 * i), e[8 * i + 5] };
		if (!in_code(img, r[i].addr, r[i].len)) {
			free(r);
			return 0;
		}
	}
	rc = add_pinned(img, r, n, err);
	free(r);
	return rc;
}

/* struct exception_table_entry: s32 insn, s32 fixup (and s32 data since 4.x), relative. */
static int read_fixups(struct rw_image *img, char *err)
{
	const Elf32_Shdr *sh = find_section(img, "__ex_table");
	static const size_t sizes[] = { 12, 8 };

	for (size_t k = 0; sh && k < 2; k++) {
		size_t n = 0, ok = 0;
		const uint8_t *e = entries(img, sh, sizes[k], &n);

		if (!e)
			continue;
		free(img->fixups);
		if (!(img->fixups = calloc(n + 1, sizeof(*img->fixups))))
			return rw_fail(err, "out of memory");
		for (; ok < n; ok++) {
			uint32_t at = sh->sh_addr + ok * sizes[k];
			uint32_t insn = at + (uint32_t)s32_at(e + ok * sizes[k]);
			uint32_t fix = at + 4 + (uint32_t)s32_at(e + ok * sizes[k] + 4);

			img->fixups[ok] = fix;
			if (!in_code(img, insn, 1) || !in_code(img, fix, 1))
				break;
		}
		if (ok == n) {
			img->n_fixups = n;
			qsort(img->fixups, n, sizeof(*img->fixups), rw_addr_cmp);
			return 0;
		}
	}
	free(img->fixups);
	img->fixups = NULL;
	return 0;
}

int rw_find_linux_tables(struct rw_image *img, char *err)
{
	if (read_alternatives(img, err) || read_paravirt_sites(img, err) || read_fixups(img, err))
		return -1;
	if (img->pinned)
		qsort(img->pinned, img->n_pinned, sizeof(*img->pinned), range_cmp);
	return 0;
}

/*
 * symbols.c - kernel symbols for messages and backtraces, read with libelf.
 */
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lightvm/symbols.h"

struct sym {
	uint32_t addr;
	char *name;
};

struct symtab {
	struct sym *syms;
	size_t n;
};

static int sym_cmp(const void *a, const void *b)
{
	const struct sym *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static int add_symbols(struct symtab *t, Elf *elf, Elf_Scn *scn, const GElf_Shdr *sh)
{
	Elf_Data *d = elf_getdata(scn, NULL);
	size_t n = d ? d->d_size / sizeof(Elf32_Sym) : 0;
	struct sym *s = realloc(t->syms, (t->n + n + 1) * sizeof(*s));

	if (!s)
		return -1;
	t->syms = s;
	for (size_t i = 0; i < n; i++) {
		GElf_Sym sym;
		const char *name;
		int type;

		if (!gelf_getsym(d, i, &sym))
			continue;
		type = GELF_ST_TYPE(sym.st_info);
		name = elf_strptr(elf, sh->sh_link, sym.st_name);
		if ((type != STT_FUNC && type != STT_NOTYPE && type != STT_OBJECT) || !name ||
		    !*name || sym.st_shndx == SHN_UNDEF || sym.st_shndx >= SHN_LORESERVE)
			continue;
		t->syms[t->n].addr = sym.st_value;
		t->syms[t->n++].name = strdup(name);
	}
	return 0;
}

struct symtab *symtab_load(const uint8_t *image, size_t len)
{
	struct symtab *t = calloc(1, sizeof(*t));
	Elf_Scn *scn = NULL;
	Elf *elf;

	if (!t || elf_version(EV_CURRENT) == EV_NONE)
		return t;
	elf = elf_memory((char *)image, len);
	while (elf && (scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;

		if (gelf_getshdr(scn, &sh) && sh.sh_type == SHT_SYMTAB)
			add_symbols(t, elf, scn, &sh);
	}
	elf_end(elf);
	qsort(t->syms, t->n, sizeof(*t->syms), sym_cmp);
	return t;
}

/* Index one past the last symbol at or below addr (0: none). */
static size_t upper(const struct symtab *t, uint32_t addr)
{
	size_t lo = 0, hi = t ? t->n : 0;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (t->syms[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

uint32_t symtab_start(const struct symtab *t, uint32_t addr)
{
	size_t i = upper(t, addr);

	return i ? t->syms[i - 1].addr : 0;
}

const char *symtab_describe(const struct symtab *t, uint32_t addr, char *buf, size_t len)
{
	size_t lo = upper(t, addr);

	if (lo == 0)
		snprintf(buf, len, "%#x", addr);
	else
		snprintf(buf, len, "%#x <%s+%#x>", addr, t->syms[lo - 1].name,
			 addr - t->syms[lo - 1].addr);
	return buf;
}

void symtab_free(struct symtab *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++)
		free(t->syms[i].name);
	free(t->syms);
	free(t);
}

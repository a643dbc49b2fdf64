/*
 * sitetab.c - the reader's side of the site-table format, with libelf.
 */
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lightvm/sitetab.h"

static int is_rewritten_note(const Elf_Data *d)
{
	const Elf32_Nhdr *nh = d->d_buf;

	return d->d_size >= sizeof(*nh) + 8 && nh->n_type == LILYVM_NOTE_REWRITTEN &&
	       nh->n_namesz == sizeof(LILYVM_NOTE_NAME) &&
	       !memcmp((const char *)d->d_buf + sizeof(*nh), LILYVM_NOTE_NAME,
		       sizeof(LILYVM_NOTE_NAME));
}

/* Validate and copy the table out of its section. */
static int copy_table(const Elf_Data *d, struct lilyvm_site **sites, size_t *n, char *err,
		      size_t errlen)
{
	struct lilyvm_sites_header h;

	if (d->d_size < sizeof(h))
		return snprintf(err, errlen, "the site table is truncated"), -1;
	memcpy(&h, d->d_buf, sizeof(h));
	if (memcmp(h.magic, LILYVM_SITES_MAGIC, sizeof(LILYVM_SITES_MAGIC)) ||
	    h.version != LILYVM_SITES_VERSION || h.entry_size != sizeof(**sites) ||
	    (d->d_size - sizeof(h)) / sizeof(**sites) < h.count)
		return snprintf(err, errlen, "the site table is malformed (version %u)", h.version), -1;
	*sites = malloc((h.count ? h.count : 1) * sizeof(**sites));
	if (!*sites)
		return snprintf(err, errlen, "out of memory"), -1;
	memcpy(*sites, (const uint8_t *)d->d_buf + sizeof(h), h.count * sizeof(**sites));
	*n = h.count;
	for (size_t i = 1; i < *n; i++)
		if ((*sites)[i].addr < (*sites)[i - 1].addr + (*sites)[i - 1].len) {
			free(*sites);
			return snprintf(err, errlen, "the site table is not sorted at entry %zu", i), -1;
		}
	return 0;
}

static int pv_fail(struct pv_table *pv, char *err, size_t errlen, const char *why)
{
	free(pv->code);
	free(pv->entries);
	memset(pv, 0, sizeof(*pv));
	snprintf(err, errlen, "the trampolines are malformed: %s", why);
	return -1;
}

/* Each entry names a trampoline inside the code and a site of form PV, in order. */
static int check_pv_entries(struct pv_table *pv, const struct lilyvm_site *sites, size_t n,
			    char *err, size_t errlen)
{
	for (size_t i = 0; i < pv->n; i++) {
		const struct lilyvm_pv_entry *e = &pv->entries[i];
		const struct lilyvm_site *s = lilyvm_site_find(sites, n, e->site);

		if (e->tramp - LILYVM_PV_CODE >= pv->code_size || (i && e->tramp <= e[-1].tramp))
			return pv_fail(pv, err, errlen, "an entry points outside the code");
		if (!s || s->form != LILYVM_FORM_PV || s->len < 5 || !(s->flags & LILYVM_SITE_RUN))
			return pv_fail(pv, err, errlen, "an entry names no trampoline site");
	}
	return 0;
}

static int copy_pv(const Elf_Data *d, struct pv_table *pv, char *err, size_t errlen)
{
	struct lilyvm_pv_header h;
	size_t code_end;

	if (d->d_size < sizeof(h))
		return pv_fail(pv, err, errlen, "truncated");
	memcpy(&h, d->d_buf, sizeof(h));
	code_end = sizeof(h) + (((size_t)h.code_size + 3) & ~(size_t)3);
	if (memcmp(h.magic, LILYVM_PV_MAGIC, sizeof(LILYVM_PV_MAGIC)) ||
	    h.version != LILYVM_PV_VERSION || h.base != LILYVM_PV_CODE ||
	    h.code_size > LILYVM_PV_CODE_MAX || code_end > d->d_size ||
	    (d->d_size - code_end) / sizeof(*pv->entries) < h.count)
		return pv_fail(pv, err, errlen, "bad header");
	pv->code = malloc(h.code_size ? h.code_size : 1);
	pv->entries = malloc((h.count ? h.count : 1) * sizeof(*pv->entries));
	if (!pv->code || !pv->entries)
		return pv_fail(pv, err, errlen, "out of memory");
	memcpy(pv->code, (const uint8_t *)d->d_buf + sizeof(h), h.code_size);
	memcpy(pv->entries, (const uint8_t *)d->d_buf + code_end, h.count * sizeof(*pv->entries));
	pv->code_size = h.code_size;
	pv->n = h.count;
	return 0;
}

const struct lilyvm_pv_entry *sitetab_pv_find(const struct pv_table *pv, uint32_t addr)
{
	size_t lo = 0, hi = pv->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (pv->entries[mid].tramp == addr)
			return &pv->entries[mid];
		if (pv->entries[mid].tramp < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int sections_in_file(Elf *elf, size_t len)
{
	GElf_Ehdr eh;
	size_t n;

	return gelf_getehdr(elf, &eh) && !elf_getshdrnum(elf, &n) && eh.e_shoff <= len &&
	       n * (uint64_t)eh.e_shentsize <= len - eh.e_shoff;
}

int sitetab_read(const uint8_t *image, size_t len, struct lilyvm_site **sites, size_t *n,
		 struct pv_table *pv, char *err, size_t errlen)
{
	Elf *elf;
	Elf_Scn *scn = NULL;
	Elf_Data *table = NULL, *tramps = NULL;
	size_t shstrndx;
	int noted = 0, rc = -1;

	if (elf_version(EV_CURRENT) == EV_NONE || !(elf = elf_memory((char *)image, len)))
		return snprintf(err, errlen, "not an ELF image"), -1;
	if (elf_kind(elf) != ELF_K_ELF || elf_getshdrstrndx(elf, &shstrndx)) {
		snprintf(err, errlen, "not an ELF image with sections");
		goto out;
	}
	if (!sections_in_file(elf, len)) {
		snprintf(err, errlen, "truncated or corrupt: its section headers point past the end");
		goto out;
	}
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		const char *name;
		Elf_Data *d;

		if (!gelf_getshdr(scn, &sh) || !(name = elf_strptr(elf, shstrndx, sh.sh_name)) ||
		    !(d = elf_getdata(scn, NULL)) || !d->d_buf)
			continue;
		if (!strcmp(name, LILYVM_NOTE_SECTION) && sh.sh_type == SHT_NOTE)
			noted |= is_rewritten_note(d);
		if (!strcmp(name, LILYVM_SITES_SECTION))
			table = d;
		if (!strcmp(name, LILYVM_PV_SECTION))
			tramps = d;
	}
	memset(pv, 0, sizeof(*pv));
	if (!noted || !table)
		snprintf(err, errlen, "the kernel is not rewritten");
	else
		rc = copy_table(table, sites, n, err, errlen);
	if (!rc && tramps &&
	    (copy_pv(tramps, pv, err, errlen) || check_pv_entries(pv, *sites, *n, err, errlen))) {
		free(*sites);
		*sites = NULL;
		rc = -1;
	}
out:
	elf_end(elf);
	return rc;
}

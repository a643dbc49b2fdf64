/*
 * output.c - apply the trap forms and write the rewritten image.
 *
 * The input's bytes are kept at their offsets; the note, the site table, a
 * section-name table that knows their names and the section header table
 * are appended after them. Code never moves, so every address stays valid,
 * and the output depends on nothing but the input.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rewriter/image.h"

static void patch_sites(struct rw_image *img)
{
	for (size_t i = 0; i < img->n_sites; i++) {
		const struct lilyvm_site *s = &img->sites[i];
		const struct rw_region *r = rw_region_of(img, s->addr);
		uint8_t *p = img->buf + r->off + (s->addr - r->vaddr);

		if (s->form != LILYVM_FORM_TRAP)
			continue;
		p[0] = LILYVM_TRAP_BYTE;
		memset(p + 1, LILYVM_FILL_BYTE, s->len - 1);
	}
}

void rw_set_traps_only(struct rw_image *img)
{
	img->traps_only = 1;
}

int rw_rewrite(struct rw_image *img, struct rw_report *rep, char *err)
{
	memset(rep, 0, sizeof(*rep));
	if (img->rewritten) {
		struct lilyvm_site *unused = NULL;
		size_t n = 0;

		/* Scan only to describe the image; its bytes stay as they are. */
		if (rw_scan(img, img->sites, img->n_sites, rep, &unused, &n, err))
			return -1;
		free(unused);
		rep->already_rewritten = 1;
		rep->verify_errors = 0;
		return 0;
	}
	if (rw_scan(img, NULL, 0, rep, &img->sites, &img->n_sites, err) || rw_pv_build(img, err))
		return -1;
	patch_sites(img);
	rep->pv_sites = img->n_pv;
	rep->pv_bytes = img->pv_len;
	return 0;
}

int rw_verify(struct rw_image *img, struct rw_report *rep, char *err)
{
	struct lilyvm_site *found = NULL;
	size_t n = 0;

	memset(rep, 0, sizeof(*rep));
	if (rw_scan(img, img->sites, img->n_sites, rep, &found, &n, err))
		return -1;
	free(found);
	rep->already_rewritten = img->rewritten;
	return 0;
}

void rw_report_free(struct rw_report *rep)
{
	free(rep->unclassified);
	memset(rep, 0, sizeof(*rep));
}

/* Where appended data may start: over the old section table if it ends the file. */
static size_t append_base(const struct rw_image *img)
{
	size_t table = img->shnum * sizeof(Elf32_Shdr);

	if (img->ehdr.e_shoff && img->ehdr.e_shoff + table == img->len)
		return img->ehdr.e_shoff;
	return img->len;
}

static size_t align4(size_t v)
{
	return (v + 3) & ~(size_t)3;
}

/* The layout of what is appended, computed before anything is written. */
struct layout {
	size_t note_off, note_len;
	size_t sites_off, sites_len;
	size_t pv_off, pv_len;		/* pv_len 0: no trampolines, no section */
	size_t str_off, str_len, old_str_len;
	size_t sh_off, shnum;
	size_t shstrndx;
	size_t total;
};

static const char new_names[] = LILYVM_NOTE_SECTION "\0" LILYVM_SITES_SECTION "\0" LILYVM_PV_SECTION;
static const char own_strtab[] = "\0.shstrtab";

static void plan(const struct rw_image *img, struct layout *l)
{
	int have_str = img->shnum && img->shstrndx;

	l->note_off = align4(append_base(img));
	l->note_len = sizeof(Elf32_Nhdr) + align4(sizeof(LILYVM_NOTE_NAME)) +
		      sizeof(struct lilyvm_note_desc);
	l->sites_off = align4(l->note_off + l->note_len);
	l->sites_len = sizeof(struct lilyvm_sites_header) + img->n_sites * sizeof(struct lilyvm_site);
	l->pv_off = align4(l->sites_off + l->sites_len);
	l->pv_len = img->pv_len ? sizeof(struct lilyvm_pv_header) + align4(img->pv_len) +
					  img->n_pv * sizeof(struct lilyvm_pv_entry) : 0;
	l->str_off = l->pv_off + l->pv_len;
	l->old_str_len = have_str ? img->shdrs[img->shstrndx].sh_size : sizeof(own_strtab);
	l->str_len = l->old_str_len + sizeof(new_names);
	l->sh_off = align4(l->str_off + l->str_len);
	l->shnum = (img->shnum ? img->shnum : 1) + (have_str ? 0 : 1) + 2 + (l->pv_len ? 1 : 0);
	l->shstrndx = have_str ? img->shstrndx : img->shnum ? img->shnum : 1;
	l->total = l->sh_off + l->shnum * sizeof(Elf32_Shdr);
}

static void put_note(uint8_t *p, const struct rw_image *img)
{
	Elf32_Nhdr nh = { sizeof(LILYVM_NOTE_NAME), sizeof(struct lilyvm_note_desc),
			  LILYVM_NOTE_REWRITTEN };
	struct lilyvm_note_desc d = { LILYVM_SITES_VERSION, img->n_sites, LILYVM_CLS_COUNT, 0 };

	memcpy(p, &nh, sizeof(nh));
	memcpy(p + sizeof(nh), LILYVM_NOTE_NAME, sizeof(LILYVM_NOTE_NAME));
	memcpy(p + sizeof(nh) + align4(sizeof(LILYVM_NOTE_NAME)), &d, sizeof(d));
}

static void put_sites(uint8_t *p, const struct rw_image *img)
{
	struct lilyvm_sites_header h = { LILYVM_SITES_MAGIC, LILYVM_SITES_VERSION,
					 sizeof(struct lilyvm_site), img->n_sites, 0 };

	memcpy(p, &h, sizeof(h));
	if (img->n_sites)
		memcpy(p + sizeof(h), img->sites, img->n_sites * sizeof(struct lilyvm_site));
}

static void put_pv(uint8_t *p, const struct rw_image *img)
{
	struct lilyvm_pv_header h = { LILYVM_PV_MAGIC, LILYVM_PV_VERSION, LILYVM_PV_CODE,
				      (uint32_t)img->pv_len, (uint32_t)img->n_pv };

	memcpy(p, &h, sizeof(h));
	memcpy(p + sizeof(h), img->pv_code, img->pv_len);
	memcpy(p + sizeof(h) + align4(img->pv_len), img->pv_entries,
	       img->n_pv * sizeof(*img->pv_entries));
}

static Elf32_Shdr section(uint32_t name, uint32_t type, size_t off, size_t size,
			 uint32_t entsize)
{
	return (Elf32_Shdr){ .sh_name = name, .sh_type = type, .sh_offset = off,
			     .sh_size = size, .sh_addralign = type == SHT_STRTAB ? 1 : 4,
			     .sh_entsize = entsize };
}

static void put_headers(uint8_t *out, const struct rw_image *img, const struct layout *l)
{
	Elf32_Shdr *sh = (Elf32_Shdr *)(out + l->sh_off);
	Elf32_Ehdr eh = img->ehdr;
	size_t n = 0;

	if (img->shnum)
		memcpy(sh, img->shdrs, img->shnum * sizeof(*sh));
	n = img->shnum ? img->shnum : 1;
	if (l->shstrndx != n) {	/* the image's own section-name table, grown */
		sh[l->shstrndx].sh_offset = l->str_off;
		sh[l->shstrndx].sh_size = l->str_len;
	} else {
		sh[n++] = section(1, SHT_STRTAB, l->str_off, l->str_len, 0);
	}
	sh[n++] = section(l->old_str_len, SHT_NOTE, l->note_off, l->note_len, 0);
	sh[n++] = section(l->old_str_len + sizeof(LILYVM_NOTE_SECTION), SHT_PROGBITS,
			  l->sites_off, l->sites_len, sizeof(struct lilyvm_site));
	if (l->pv_len)
		sh[n++] = section(l->old_str_len + sizeof(LILYVM_NOTE_SECTION) +
					  sizeof(LILYVM_SITES_SECTION),
				  SHT_PROGBITS, l->pv_off, l->pv_len, 0);
	eh.e_shoff = l->sh_off;
	eh.e_shnum = l->shnum;
	eh.e_shentsize = sizeof(Elf32_Shdr);
	eh.e_shstrndx = l->shstrndx;
	memcpy(out, &eh, sizeof(eh));
}

int rw_serialize(const struct rw_image *img, uint8_t **out, size_t *outlen, char *err)
{
	struct layout l;
	uint8_t *o;

	if (img->rewritten) {	/* rewriting a rewritten image changes nothing */
		if (!(o = malloc(img->len ? img->len : 1)))
			return rw_fail(err, "out of memory");
		memcpy(o, img->buf, img->len);
		*out = o;
		*outlen = img->len;
		return 0;
	}
	if (img->shnum + 4 >= SHN_LORESERVE)
		return rw_fail(err, "too many sections (%zu) to add the site table", img->shnum);
	plan(img, &l);
	o = calloc(1, l.total);
	if (!o)
		return rw_fail(err, "out of memory for a %zu-byte image", l.total);
	memcpy(o, img->buf, append_base(img));
	put_note(o + l.note_off, img);
	put_sites(o + l.sites_off, img);
	if (l.pv_len)
		put_pv(o + l.pv_off, img);
	if (l.shstrndx == img->shstrndx && img->shnum)
		memcpy(o + l.str_off, img->buf + img->shdrs[img->shstrndx].sh_offset, l.old_str_len);
	else
		memcpy(o + l.str_off, own_strtab, sizeof(own_strtab));
	memcpy(o + l.str_off + l.old_str_len, new_names, sizeof(new_names));
	put_headers(o, img, &l);
	*out = o;
	*outlen = l.total;
	return 0;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= w;
	}
	return 0;
}

int rw_write_file(const struct rw_image *img, const char *path, char *err)
{
	char *dir_copy = strdup(path), *tmp = NULL;
	uint8_t *out = NULL;
	size_t len;
	int fd = -1, rc = -1, bad;

	if (!dir_copy || asprintf(&tmp, "%s/.lilyvm-rewrite.XXXXXX", dirname(dir_copy)) < 0) {
		tmp = NULL;
		rw_fail(err, "out of memory");
		goto out;
	}
	if (rw_serialize(img, &out, &len, err))
		goto out;
	fd = mkstemp(tmp);
	if (fd < 0) {
		rw_fail(err, "cannot write %s: %s", path, strerror(errno));
		goto out;
	}
	bad = fchmod(fd, 0755) || write_all(fd, out, len);
	bad |= close(fd) != 0;
	fd = -1;
	if (bad) {
		rw_fail(err, "cannot write %s: %s", path, strerror(errno));
		unlink(tmp);
		goto out;
	}
	if (rename(tmp, path)) {
		rw_fail(err, "cannot write %s: %s", path, strerror(errno));
		unlink(tmp);
		goto out;
	}
	rc = 0;
out:
	if (fd >= 0) {
		close(fd);
		unlink(tmp);
	}
	free(out);
	free(tmp);
	free(dir_copy);
	return rc;
}

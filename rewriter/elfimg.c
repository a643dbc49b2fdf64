/*
 * elfimg.c - read and validate an ELF32 i386 executable with libelf.
 *
 * Everything the rest of the rewriter trusts is checked here once: header
 * sizes, tables and segments inside the file, no overlaps, executable
 * sections inside loadable segments. A bad image is refused with one line.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rewriter/image.h"

#define MB1_MAGIC 0x1badb002u
#define MB1_SEARCH 8192
#define MB2_MAGIC 0xe85250d6u
#define MB2_SEARCH 32768

int rw_fail(char *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, RW_ERRLEN, fmt, ap);
	va_end(ap);
	return -1;
}

struct rw_region *rw_region_of(const struct rw_image *img, uint32_t addr)
{
	size_t lo = 0, hi = img->n_regions;

	while (lo < hi) {	/* regions are sorted and disjoint */
		size_t mid = lo + (hi - lo) / 2;
		struct rw_region *r = &img->regions[mid];

		if (addr < r->vaddr)
			hi = mid;
		else if (addr - r->vaddr >= r->size)
			lo = mid + 1;
		else
			return r;
	}
	return NULL;
}

/* True if [off, off+size) lies inside a file of len bytes, without overflow. */
static int in_file(uint64_t off, uint64_t size, size_t len)
{
	return off <= len && size <= len - off;
}

/* True if the byte ranges [a, a+alen) and [b, b+blen) share a byte. */
static int ranges_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return alen && blen && a < b + blen && b < a + alen;
}

static int check_ident(const uint8_t *b, size_t len, char *err)
{
	if (len < 4 || memcmp(b, ELFMAG, SELFMAG) != 0)
		return rw_fail(err, "not an ELF file");
	if (len < EI_NIDENT)
		return rw_fail(err, "truncated ELF identification (%zu bytes)", len);
	if (b[EI_CLASS] == ELFCLASS64)
		return rw_fail(err, "ELF64 image: only ELF32 i386 kernels are supported");
	if (b[EI_CLASS] != ELFCLASS32)
		return rw_fail(err, "unknown ELF class %u", b[EI_CLASS]);
	if (b[EI_DATA] != ELFDATA2LSB)
		return rw_fail(err, "big-endian ELF image: i386 images are little-endian");
	if (len < sizeof(Elf32_Ehdr))
		return rw_fail(err, "truncated ELF header (%zu of %zu bytes)", len,
			       sizeof(Elf32_Ehdr));
	return 0;
}

static int check_ehdr(const Elf32_Ehdr *eh, char *err)
{
	if (eh->e_machine != EM_386)
		return rw_fail(err, "machine %u is not i386 (EM_386)", eh->e_machine);
	if (eh->e_type != ET_EXEC)
		return rw_fail(err, "ELF type %u is not an executable (ET_EXEC)", eh->e_type);
	if (eh->e_phnum == 0)
		return rw_fail(err, "no program headers: nothing would be loaded");
	if (eh->e_phentsize != sizeof(Elf32_Phdr))
		return rw_fail(err, "program header size %u, expected %zu", eh->e_phentsize,
			       sizeof(Elf32_Phdr));
	if (eh->e_shoff && eh->e_shentsize != sizeof(Elf32_Shdr))
		return rw_fail(err, "section header size %u, expected %zu", eh->e_shentsize,
			       sizeof(Elf32_Shdr));
	return 0;
}

/* A byte range and the table index it came from, for overlap checks. */
struct span {
	uint64_t start, len;
	size_t idx;
};

static int span_cmp(const void *a, const void *b)
{
	const struct span *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/* Sort spans; the index of the first that overlaps its predecessor, or 0. */
static size_t first_overlap(struct span *s, size_t n)
{
	qsort(s, n, sizeof(*s), span_cmp);
	for (size_t i = 1; i < n; i++)
		if (s[i].start < s[i - 1].start + s[i - 1].len)
			return i;
	return 0;
}

static int check_segment(const Elf32_Phdr *p, size_t i, size_t len, char *err)
{
	if (!in_file(p->p_offset, p->p_filesz, len))
		return rw_fail(err, "segment %zu (offset 0x%x, %u bytes) points past the end of the file",
			       i, p->p_offset, p->p_filesz);
	if (p->p_filesz > p->p_memsz)
		return rw_fail(err, "segment %zu has more file bytes than memory bytes", i);
	if ((uint64_t)p->p_vaddr + p->p_memsz > 0x100000000ull)
		return rw_fail(err, "segment %zu wraps past 4 GiB", i);
	return 0;
}

static int check_segments(const Elf32_Phdr *ph, size_t n, size_t len, char *err)
{
	struct span *mem = calloc(n + 1, sizeof(*mem)), *file = calloc(n + 1, sizeof(*file));
	size_t nm = 0, nf = 0, k;
	int rc = 0;

	if (!mem || !file) {
		rc = rw_fail(err, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n && !rc; i++) {
		if (ph[i].p_type != PT_LOAD)
			continue;
		rc = check_segment(&ph[i], i, len, err);
		if (ph[i].p_memsz)
			mem[nm++] = (struct span){ ph[i].p_vaddr, ph[i].p_memsz, i };
		if (ph[i].p_filesz)
			file[nf++] = (struct span){ ph[i].p_offset, ph[i].p_filesz, i };
	}
	if (!rc && (k = first_overlap(mem, nm)))
		rc = rw_fail(err, "segments %zu and %zu overlap in memory", mem[k - 1].idx, mem[k].idx);
	if (!rc && (k = first_overlap(file, nf)))
		rc = rw_fail(err, "segments %zu and %zu overlap in the file", file[k - 1].idx,
			     file[k].idx);
out:
	free(mem);
	free(file);
	return rc;
}

/* Only these sections have bytes in the file; the offsets of others mean nothing. */
static int has_file_bytes(const Elf32_Shdr *sh)
{
	return sh->sh_type != SHT_NOBITS && sh->sh_type != SHT_NULL && sh->sh_size;
}

static int check_sections(const Elf32_Shdr *sh, size_t n, size_t len, char *err)
{
	struct span *s = calloc(n + 1, sizeof(*s));
	size_t ns = 0, k;
	int rc = 0;

	if (!s)
		return rw_fail(err, "out of memory");
	for (size_t i = 1; i < n && !rc; i++) {
		if (!has_file_bytes(&sh[i]))
			continue;
		if (!in_file(sh[i].sh_offset, sh[i].sh_size, len))
			rc = rw_fail(err, "section %zu (offset 0x%x, %u bytes) points past the end of the file",
				     i, sh[i].sh_offset, sh[i].sh_size);
		s[ns++] = (struct span){ sh[i].sh_offset, sh[i].sh_size, i };
	}
	if (!rc && (k = first_overlap(s, ns)))
		rc = rw_fail(err, "sections %zu and %zu overlap in the file", s[k - 1].idx, s[k].idx);
	free(s);
	return rc;
}

/*
 * The writer replaces the section header table when it ends the file, so
 * nothing kept as is may share its bytes: not the ELF header, the program
 * header table, a segment or a section.
 */
static int check_section_table(const struct rw_image *img, const Elf32_Phdr *ph, size_t nph,
			       char *err)
{
	uint64_t off = img->ehdr.e_shoff, len = img->shnum * sizeof(Elf32_Shdr);

	if (ranges_overlap(off, len, 0, sizeof(Elf32_Ehdr)) ||
	    ranges_overlap(off, len, img->ehdr.e_phoff, nph * sizeof(Elf32_Phdr)))
		return rw_fail(err, "section header table overlaps the ELF or program headers");
	for (size_t i = 0; i < nph; i++)
		if (ph[i].p_type == PT_LOAD && ranges_overlap(ph[i].p_offset, ph[i].p_filesz, off, len))
			return rw_fail(err, "segment %zu overlaps the section header table", i);
	for (size_t i = 1; i < img->shnum; i++) {
		const Elf32_Shdr *s = &img->shdrs[i];

		if (has_file_bytes(s) && ranges_overlap(s->sh_offset, s->sh_size, off, len))
			return rw_fail(err, "section %zu overlaps the section header table", i);
	}
	return 0;
}

/* The PT_LOAD segment whose file bytes hold [vaddr, vaddr+size), or NULL. */
static const Elf32_Phdr *load_holding(const Elf32_Phdr *ph, size_t n, uint32_t vaddr,
				      uint32_t size)
{
	for (size_t i = 0; i < n; i++) {
		if (ph[i].p_type != PT_LOAD)
			continue;
		if (vaddr >= ph[i].p_vaddr && (uint64_t)vaddr + size <=
		    (uint64_t)ph[i].p_vaddr + ph[i].p_filesz)
			return &ph[i];
	}
	return NULL;
}

static int add_region(struct rw_image *img, uint32_t vaddr, uint32_t size, uint32_t off,
		      char *err)
{
	struct rw_region *r = realloc(img->regions, (img->n_regions + 1) * sizeof(*r));

	if (!r)
		return rw_fail(err, "out of memory");
	img->regions = r;
	r = &r[img->n_regions++];
	r->vaddr = vaddr;
	r->size = size;
	r->off = off;
	r->state = calloc(size ? size : 1, 1);
	if (!r->state)
		return rw_fail(err, "out of memory for %u bytes of code", size);
	return 0;
}

static int region_cmp(const void *a, const void *b)
{
	const struct rw_region *x = a, *y = b;

	return x->vaddr < y->vaddr ? -1 : x->vaddr > y->vaddr;
}


/*
 * Executable sections whose bytes the kernel copies elsewhere before they
 * run (Linux's alternative replacements, patched over their sites at boot).
 * A copied trap would have no site at its new address, so these stay as
 * they are: the copies are the real instructions, emulated as misses.
 */
static int copied_code(const struct rw_image *img, const Elf32_Shdr *s)
{
	return !strcmp(rw_section_name(img, s), ".altinstr_replacement");
}

/* Executable code: SHF_EXECINSTR sections, or PF_X segments when there are none. */
static int find_regions(struct rw_image *img, const Elf32_Phdr *ph, size_t nph, char *err)
{
	for (size_t i = 1; i < img->shnum; i++) {
		const Elf32_Shdr *s = &img->shdrs[i];
		const Elf32_Phdr *p;

		if (s->sh_type != SHT_PROGBITS || !(s->sh_flags & SHF_EXECINSTR) ||
		    !(s->sh_flags & SHF_ALLOC) || s->sh_size == 0 || copied_code(img, s))
			continue;
		p = load_holding(ph, nph, s->sh_addr, s->sh_size);
		if (!p || s->sh_addr - p->p_vaddr != s->sh_offset - p->p_offset)
			return rw_fail(err, "executable section %zu is not inside a loadable segment", i);
		if (add_region(img, s->sh_addr, s->sh_size, s->sh_offset, err))
			return -1;
	}
	if (img->n_regions == 0) {
		for (size_t i = 0; i < nph; i++)
			if (ph[i].p_type == PT_LOAD && (ph[i].p_flags & PF_X) && ph[i].p_filesz &&
			    add_region(img, ph[i].p_vaddr, ph[i].p_filesz, ph[i].p_offset, err))
				return -1;
	}
	if (img->n_regions == 0)
		return rw_fail(err, "no executable code: no SHF_EXECINSTR section and no PF_X segment");
	qsort(img->regions, img->n_regions, sizeof(*img->regions), region_cmp);
	for (size_t i = 1; i < img->n_regions; i++)
		if (img->regions[i].vaddr <
		    (uint64_t)img->regions[i - 1].vaddr + img->regions[i - 1].size)
			return rw_fail(err, "executable regions overlap at 0x%x", img->regions[i].vaddr);
	return 0;
}

static int func_cmp(const void *a, const void *b)
{
	const struct rw_func *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/*
 * STT_FUNC symbols that start in code, from every symbol table. Tables and
 * symbols are read through aligned copies: in the file they may sit at any
 * offset, and libelf would hand them back in place.
 */
static int collect_funcs(struct rw_image *img, char *err)
{
	size_t cap = 0;

	for (size_t k = 1; k < img->shnum; k++) {
		const Elf32_Shdr *sh = &img->shdrs[k];

		if (sh->sh_type != SHT_SYMTAB)
			continue;
		for (size_t i = 0; i < sh->sh_size / sizeof(Elf32_Sym); i++) {
			Elf32_Sym sym;
			struct rw_func *f;

			memcpy(&sym, img->buf + sh->sh_offset + i * sizeof(sym), sizeof(sym));
			if (ELF32_ST_TYPE(sym.st_info) != STT_FUNC || sym.st_shndx == SHN_UNDEF ||
			    !rw_region_of(img, sym.st_value))
				continue;
			if (img->n_funcs == cap) {
				cap = cap ? 2 * cap : 256;
				if (!(f = realloc(img->funcs, cap * sizeof(*f))))
					return rw_fail(err, "out of memory");
				img->funcs = f;
			}
			img->funcs[img->n_funcs++] = (struct rw_func){ sym.st_value, sym.st_size };
		}
	}
	if (img->funcs)	/* qsort must not be given NULL, even for no elements */
		qsort(img->funcs, img->n_funcs, sizeof(*img->funcs), func_cmp);
	return 0;
}

/* Mark the file range [off, off+len) as data wherever it falls in code. */
static void mark_data(struct rw_image *img, uint32_t off, uint32_t len)
{
	for (size_t i = 0; i < img->n_regions; i++) {
		struct rw_region *r = &img->regions[i];

		for (uint32_t k = 0; k < len; k++)
			if (off + k >= r->off && off + k - r->off < r->size)
				r->state[off + k - r->off] = RW_B_DATA;
	}
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

/*
 * A multiboot header is data that often sits inside .text; decoding it would
 * find instructions in its checksum (0xfb is sti) and corrupt it.
 */
static void mark_boot_headers(struct rw_image *img)
{
	for (size_t off = 0; off + 12 <= img->len && off < MB1_SEARCH; off += 4) {
		const uint8_t *p = img->buf + off;
		uint32_t flags = get32(p + 4);

		if (get32(p) != MB1_MAGIC || get32(p) + flags + get32(p + 8) != 0)
			continue;
		mark_data(img, off, flags & 4 ? 48 : flags & 0x10000 ? 32 : 12);
		break;
	}
	for (size_t off = 0; off + 16 <= img->len && off < MB2_SEARCH; off += 8) {
		const uint8_t *p = img->buf + off;
		uint32_t hlen = get32(p + 8);

		if (get32(p) != MB2_MAGIC || get32(p) + get32(p + 4) + hlen + get32(p + 12) != 0)
			continue;
		if (in_file(off, hlen, img->len))
			mark_data(img, off, hlen);
		break;
	}
}

/*
 * The ELF header and the program header table are never code, but an
 * executable segment from file offset 0 (the usual layout) holds them:
 * without section headers, decoding it would patch sites into the headers.
 * (No code lies in the section header table: check_section_table.)
 */
static void mark_elf_headers(struct rw_image *img, size_t nph)
{
	mark_data(img, 0, sizeof(Elf32_Ehdr));
	mark_data(img, img->ehdr.e_phoff, nph * sizeof(Elf32_Phdr));
}

static int is_rewritten_note(const uint8_t *p, size_t size)
{
	Elf32_Nhdr nh;

	if (size < sizeof(nh) + 8)
		return 0;
	memcpy(&nh, p, sizeof(nh));	/* the section may sit at any offset */
	return nh.n_namesz == sizeof(LILYVM_NOTE_NAME) && nh.n_type == LILYVM_NOTE_REWRITTEN &&
	       memcmp(p + sizeof(nh), LILYVM_NOTE_NAME, sizeof(LILYVM_NOTE_NAME)) == 0;
}

const char *rw_section_name(const struct rw_image *img, const Elf32_Shdr *sh)
{
	const Elf32_Shdr *strs;

	if (img->shstrndx == 0 || img->shstrndx >= img->shnum)
		return "";
	strs = &img->shdrs[img->shstrndx];
	if (sh->sh_name >= strs->sh_size)
		return "";
	if (!memchr(img->buf + strs->sh_offset + sh->sh_name, 0, strs->sh_size - sh->sh_name))
		return "";
	return (const char *)img->buf + strs->sh_offset + sh->sh_name;
}

static int find_lilyvm_sections(struct rw_image *img, char *err)
{
	const Elf32_Shdr *table = NULL;

	for (size_t i = 1; i < img->shnum; i++) {
		const Elf32_Shdr *s = &img->shdrs[i];
		const char *name = rw_section_name(img, s);

		if (s->sh_type == SHT_NOTE && !strcmp(name, LILYVM_NOTE_SECTION) &&
		    is_rewritten_note(img->buf + s->sh_offset, s->sh_size))
			img->rewritten = 1;
		if (!strcmp(name, LILYVM_SITES_SECTION) && has_file_bytes(s))
			table = s;
	}
	if (img->rewritten && !table)
		return rw_fail(err, "image is marked rewritten but has no %s section",
			       LILYVM_SITES_SECTION);
	return img->rewritten ? rw_read_site_table(img, table, err) : 0;
}

/* The scanner keeps the state of a site's bytes in the array of one region. */
static int site_in_one_region(const struct rw_image *img, const struct lilyvm_site *s)
{
	const struct rw_region *r = rw_region_of(img, s->addr);

	return r && s->len <= r->size - (s->addr - r->vaddr);
}

int rw_read_site_table(struct rw_image *img, const Elf32_Shdr *sh, char *err)
{
	struct lilyvm_sites_header h;
	const struct lilyvm_site *s;

	if (sh->sh_size < sizeof(h))
		return rw_fail(err, "site table is truncated");
	memcpy(&h, img->buf + sh->sh_offset, sizeof(h));
	if (memcmp(h.magic, LILYVM_SITES_MAGIC, sizeof(LILYVM_SITES_MAGIC)) ||
	    h.version != LILYVM_SITES_VERSION || h.entry_size != sizeof(*s))
		return rw_fail(err, "site table has a bad header (version %u)", h.version);
	if ((sh->sh_size - sizeof(h)) / sizeof(*s) < h.count)
		return rw_fail(err, "site table holds fewer entries than its count %u", h.count);
	img->sites = malloc((h.count ? h.count : 1) * sizeof(*s));
	if (!img->sites)
		return rw_fail(err, "out of memory");
	memcpy(img->sites, img->buf + sh->sh_offset + sizeof(h), (size_t)h.count * sizeof(*s));
	img->n_sites = h.count;
	for (size_t i = 0; i < img->n_sites; i++) {
		s = &img->sites[i];
		if (s->len == 0 || s->len > LILYVM_MAX_INSN || s->cls == 0 ||
		    s->cls >= LILYVM_CLS_COUNT || !site_in_one_region(img, s) ||
		    (i && s->addr < (uint64_t)img->sites[i - 1].addr + img->sites[i - 1].len))
			return rw_fail(err, "site table entry %zu (0x%x) is invalid or out of order",
				       i, s->addr);
	}
	return 0;
}

/*
 * A copy of a table of n entries at file offset off, already checked to lie
 * in the file. libelf would return it in place, at whatever alignment the
 * file gives it, and reading fields through a misaligned pointer is undefined.
 */
static void *copy_table(const struct rw_image *img, size_t off, size_t n, size_t entsize)
{
	void *t = malloc(n ? n * entsize : 1);

	if (t)
		memcpy(t, img->buf + off, n * entsize);
	return t;
}

static int load_sections(struct rw_image *img, Elf *elf, char *err)
{
	const Elf32_Ehdr *eh = &img->ehdr;

	if (!in_file(eh->e_shoff, (uint64_t)eh->e_shnum * sizeof(Elf32_Shdr), img->len))
		return rw_fail(err, "section header table points past the end of the file");
	if (elf_getshdrnum(elf, &img->shnum) || elf_getshdrstrndx(elf, &img->shstrndx))
		return rw_fail(err, "bad section headers: %s", elf_errmsg(-1));
	if (!in_file(eh->e_shoff, (uint64_t)img->shnum * sizeof(Elf32_Shdr), img->len))
		return rw_fail(err, "section header table points past the end of the file");
	if (img->shnum && img->shstrndx >= img->shnum)
		return rw_fail(err, "section name table index %zu out of range", img->shstrndx);
	img->shdrs = copy_table(img, eh->e_shoff, img->shnum, sizeof(Elf32_Shdr));
	if (!img->shdrs)
		return rw_fail(err, "out of memory");
	/* Names are read from its file bytes, which only non-NOBITS sections are checked for. */
	if (img->shnum && img->shstrndx && img->shdrs[img->shstrndx].sh_type != SHT_STRTAB)
		return rw_fail(err, "section name table %zu is not a string table", img->shstrndx);
	return check_sections(img->shdrs, img->shnum, img->len, err);
}

static int load_headers(struct rw_image *img, Elf *elf, char *err)
{
	Elf32_Ehdr *eh = elf32_getehdr(elf);
	Elf32_Phdr *ph;
	size_t nph;
	int rc;

	if (!eh)
		return rw_fail(err, "bad ELF header: %s", elf_errmsg(-1));
	img->ehdr = *eh;
	if (check_ehdr(eh, err))
		return -1;
	if (!in_file(eh->e_phoff, (uint64_t)eh->e_phnum * eh->e_phentsize, img->len))
		return rw_fail(err, "program header table points past the end of the file");
	/* The count differs from e_phnum with PN_XNUM, so the table is checked again. */
	if (elf_getphdrnum(elf, &nph))
		return rw_fail(err, "bad program headers: %s", elf_errmsg(-1));
	if (nph == 0)	/* e_phoff is 0, or PN_XNUM with no count behind it */
		return rw_fail(err, "no program headers: nothing would be loaded");
	if (!in_file(eh->e_phoff, (uint64_t)nph * sizeof(Elf32_Phdr), img->len))
		return rw_fail(err, "program header table points past the end of the file");
	/* The writer rewrites the ELF header; the table must survive that. */
	if (ranges_overlap(eh->e_phoff, nph * sizeof(Elf32_Phdr), 0, sizeof(Elf32_Ehdr)))
		return rw_fail(err, "program header table overlaps the ELF header");
	ph = copy_table(img, eh->e_phoff, nph, sizeof(Elf32_Phdr));
	if (!ph)
		return rw_fail(err, "out of memory");
	rc = check_segments(ph, nph, img->len, err);
	if (!rc && eh->e_shoff)
		rc = load_sections(img, elf, err);
	if (!rc)
		rc = check_section_table(img, ph, nph, err);
	if (!rc)
		rc = find_regions(img, ph, nph, err);
	if (!rc)
		mark_elf_headers(img, nph);
	free(ph);
	return rc;
}

int rw_load(const void *buf, size_t len, struct rw_image **out, char *err)
{
	struct rw_image *img;
	Elf *elf;
	int rc;

	if (check_ident(buf, len, err))
		return -1;
	if (elf_version(EV_CURRENT) == EV_NONE)
		return rw_fail(err, "libelf is too old: %s", elf_errmsg(-1));
	img = calloc(1, sizeof(*img));
	if (!img || !(img->buf = malloc(len)))
		return free(img), rw_fail(err, "out of memory for a %zu-byte image", len);
	memcpy(img->buf, buf, len);
	img->len = len;
	elf = elf_memory((char *)img->buf, len);
	if (!elf || elf_kind(elf) != ELF_K_ELF) {
		rc = rw_fail(err, "not an ELF file: %s", elf_errmsg(-1));
	} else {
		rc = load_headers(img, elf, err);
		if (!rc)
			rc = collect_funcs(img, err);
		if (!rc)
			rc = find_lilyvm_sections(img, err);
		if (!rc && !img->rewritten)
			rc = rw_find_linux_tables(img, err);
	}
	elf_end(elf);
	if (rc) {
		rw_free(img);
		return -1;
	}
	mark_boot_headers(img);
	*out = img;
	return 0;
}

int rw_load_file(const char *path, struct rw_image **out, char *err)
{
	struct stat st;
	uint8_t *buf;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return rw_fail(err, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return rw_fail(err, "%s: not a regular file", path);
	}
	buf = malloc(st.st_size ? st.st_size : 1);
	if (!buf) {
		close(fd);
		return rw_fail(err, "%s: out of memory", path);
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, st.st_size - got);
		if (n <= 0) {
			rc = rw_fail(err, "%s: read failed: %s", path, n ? strerror(errno) : "short file");
			goto out;
		}
		got += n;
	}
	rc = rw_load(buf, got, out, err);
out:
	free(buf);
	close(fd);
	return rc;
}

void rw_free(struct rw_image *img)
{
	if (!img)
		return;
	for (size_t i = 0; i < img->n_regions; i++)
		free(img->regions[i].state);
	free(img->regions);
	free(img->funcs);
	free(img->shdrs);
	free(img->sites);
	free(img->pinned);
	free(img->fixups);
	free(img->pv_code);
	free(img->pv_entries);
	free(img->buf);
	free(img);
}

const struct lilyvm_site *rw_sites(const struct rw_image *img, size_t *n)
{
	*n = img->n_sites;
	return img->sites;
}

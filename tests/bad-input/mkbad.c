/*
 * mkbad.c - write one corrupt variant of a valid kernel image for each way
 * an input to lilyvm-rewrite can be bad.
 *
 * usage: mkbad OUTDIR VALID REWRITTEN
 *
 * VALID is tiny.elf (a code segment with the adjacent sections .text and
 * .boot, and a data segment), REWRITTEN the same image after lilyvm-rewrite
 * (it carries a site table with several entries, the last one in .boot). Each
 * case writes OUTDIR/NAME.elf and prints "NAME<TAB>KEYWORD" on stdout, where
 * KEYWORD is what the tool's one-line error must say, so the list of cases
 * and what each must be refused with live in one table below.
 *
 * Each variant makes exactly one precise edit through the <elf.h> structures,
 * so the error it triggers is the one intended and not a side effect. Edits
 * are in host byte order: like the rewriter, this runs on little-endian x86.
 */
#include <elf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rewriter/sites.h"

struct image {
	uint8_t *b;
	size_t len;
};

static __attribute__((noreturn, format(printf, 1, 2))) void die(const char *fmt, ...)
{
	va_list ap;

	fputs("mkbad: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		die("out of memory");
	return p;
}

static struct image read_image(const char *path)
{
	struct image im = { NULL, 0 };
	FILE *f = fopen(path, "rb");
	long n;

	if (!f || fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET))
		die("%s: %s", path, strerror(errno));
	im.len = n;
	im.b = xmalloc(im.len);
	if (fread(im.b, 1, im.len, f) != im.len)
		die("%s: short read", path);
	fclose(f);
	return im;
}

static Elf32_Ehdr *ehdr(const struct image *im)
{
	return (Elf32_Ehdr *)im->b;
}

static Elf32_Phdr *phdr(const struct image *im, unsigned i)
{
	return (Elf32_Phdr *)(im->b + ehdr(im)->e_phoff) + i;
}

static Elf32_Shdr *shdr(const struct image *im, unsigned i)
{
	return (Elf32_Shdr *)(im->b + ehdr(im)->e_shoff) + i;
}

/*
 * The edits below index the tables through struct pointers, so the source
 * images must be the well-formed, aligned ELF32 files the build produces.
 */
static void check_source(const struct image *im, const char *path)
{
	const Elf32_Ehdr *eh = ehdr(im);

	if (im->len < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) ||
	    eh->e_ident[EI_CLASS] != ELFCLASS32 || eh->e_phoff % 4 || eh->e_shoff % 4 ||
	    eh->e_phoff + (size_t)eh->e_phnum * sizeof(Elf32_Phdr) > im->len ||
	    eh->e_shoff + (size_t)eh->e_shnum * sizeof(Elf32_Shdr) > im->len)
		die("%s: not the aligned ELF32 image expected", path);
}

/* Index of the first PT_LOAD segment with all of flags (PF_X: code, PF_W: data). */
static unsigned load_with(const struct image *im, uint32_t flags)
{
	for (unsigned i = 0; i < ehdr(im)->e_phnum; i++)
		if (phdr(im, i)->p_type == PT_LOAD && (phdr(im, i)->p_flags & flags) == flags)
			return i;
	die("no PT_LOAD segment with flags 0x%x", flags);
}

static char *section_name(const struct image *im, unsigned i)
{
	return (char *)im->b + shdr(im, ehdr(im)->e_shstrndx)->sh_offset + shdr(im, i)->sh_name;
}

static unsigned section_named(const struct image *im, const char *name)
{
	for (unsigned i = 1; i < ehdr(im)->e_shnum; i++)
		if (!strcmp(section_name(im, i), name))
			return i;
	die("no section %s", name);
}

static struct lilyvm_sites_header *site_header(const struct image *im)
{
	return (struct lilyvm_sites_header *)(im->b +
		shdr(im, section_named(im, LILYVM_SITES_SECTION))->sh_offset);
}

static struct lilyvm_site *site(const struct image *im, unsigned i)
{
	return (struct lilyvm_site *)(site_header(im) + 1) + i;
}

/* Replace the whole content; for inputs that are not derived from an ELF file. */
static void replace(struct image *im, const void *data, size_t n)
{
	free(im->b);
	im->b = xmalloc(n);
	memcpy(im->b, data, n);
	im->len = n;
}

/* --- not an ELF32 i386 executable --- */

static void text_file(struct image *im)
{
	static const char text[] = "This is a kernel image, honest.\n";

	replace(im, text, sizeof(text) - 1);
}

static void empty_file(struct image *im)
{
	replace(im, "", 0);
}

static void three_bytes(struct image *im)
{
	replace(im, ELFMAG, 3);
}

/* The header of an x86-64 executable, as the front of an ELF64 vmlinux looks. */
static void elf64(struct image *im)
{
	Elf64_Ehdr eh = {
		.e_ident = { ELFMAG0, ELFMAG1, ELFMAG2, ELFMAG3,
			     ELFCLASS64, ELFDATA2LSB, EV_CURRENT },
		.e_type = ET_EXEC, .e_machine = EM_X86_64, .e_version = EV_CURRENT,
		.e_entry = 0x1000000, .e_ehsize = sizeof(Elf64_Ehdr),
		.e_phentsize = sizeof(Elf64_Phdr), .e_shentsize = sizeof(Elf64_Shdr),
	};

	replace(im, &eh, sizeof(eh));
}

static void arm(struct image *im)
{
	ehdr(im)->e_machine = EM_ARM;
}

static void relocatable(struct image *im)
{
	ehdr(im)->e_type = ET_REL;
}

static void shared_object(struct image *im)
{
	ehdr(im)->e_type = ET_DYN;
}

/* --- truncated --- */

static void ident_cut(struct image *im)
{
	im->len = EI_NIDENT - 6;
}

static void ehdr_cut(struct image *im)
{
	im->len = sizeof(Elf32_Ehdr) - 12;
}

/* Keep the first program header and half of the second. */
static void phdrs_cut(struct image *im)
{
	im->len = ehdr(im)->e_phoff + sizeof(Elf32_Phdr) + sizeof(Elf32_Phdr) / 2;
}

/* The section header table ends the file: cut into its last entry. */
static void shdrs_cut(struct image *im)
{
	im->len = ehdr(im)->e_shoff + (ehdr(im)->e_shnum - 1) * sizeof(Elf32_Shdr) + 8;
}

/* --- header fields --- */

static void bad_phentsize(struct image *im)
{
	ehdr(im)->e_phentsize = sizeof(Elf32_Phdr) + 4;
}

static void bad_shentsize(struct image *im)
{
	ehdr(im)->e_shentsize = sizeof(Elf32_Shdr) / 2;
}

static void bad_shstrndx(struct image *im)
{
	ehdr(im)->e_shstrndx = ehdr(im)->e_shnum + 3;
}

static void no_phdrs(struct image *im)
{
	ehdr(im)->e_phnum = 0;
}

/* The program header table starts inside the ELF header. */
static void phdrs_in_ehdr(struct image *im)
{
	ehdr(im)->e_phoff = sizeof(Elf32_Ehdr) - 32;
}

/* --- segments --- */

static void segments_overlap_in_memory(struct image *im)
{
	phdr(im, load_with(im, PF_W))->p_vaddr = phdr(im, load_with(im, PF_X))->p_vaddr + 8;
}

static void segments_overlap_in_file(struct image *im)
{
	phdr(im, load_with(im, PF_W))->p_offset = phdr(im, load_with(im, PF_X))->p_offset + 8;
}

static void segment_offset_past_eof(struct image *im)
{
	phdr(im, load_with(im, PF_W))->p_offset = im->len + 0x1000;
}

static void segment_size_past_eof(struct image *im)
{
	Elf32_Phdr *p = phdr(im, load_with(im, PF_X));

	p->p_filesz = p->p_memsz = im->len;
}

/* The data segment's file bytes are the start of the section header table. */
static void segment_in_shdrs(struct image *im)
{
	phdr(im, load_with(im, PF_W))->p_offset = ehdr(im)->e_shoff;
}

static void filesz_over_memsz(struct image *im)
{
	Elf32_Phdr *p = phdr(im, load_with(im, PF_W));

	p->p_memsz = p->p_filesz - 1;
}

static void segment_wraps(struct image *im)
{
	Elf32_Phdr *p = phdr(im, load_with(im, PF_W));

	p->p_vaddr = p->p_paddr = 0xfffffff0u;
	p->p_memsz = 0x20;
}

/* --- sections --- */

static void sections_overlap(struct image *im)
{
	shdr(im, section_named(im, ".data"))->sh_offset =
		shdr(im, section_named(im, ".text"))->sh_offset;
}

static void section_past_eof(struct image *im)
{
	shdr(im, section_named(im, ".data"))->sh_offset = im->len + 16;
}

static void section_in_shdrs(struct image *im)
{
	shdr(im, section_named(im, ".data"))->sh_offset = ehdr(im)->e_shoff + 8;
}

/* .text at an address no PT_LOAD segment covers. */
static void code_outside_load(struct image *im)
{
	shdr(im, section_named(im, ".text"))->sh_addr = 0x800000;
}

/* .text inside its segment's addresses, but 4 bytes before its file offset there. */
static void code_off_its_segment(struct image *im)
{
	shdr(im, section_named(im, ".text"))->sh_offset -= 4;
}

/* Names would be read from file bytes that are not there. */
static void names_not_strings(struct image *im)
{
	Elf32_Shdr *names = shdr(im, ehdr(im)->e_shstrndx);

	names->sh_type = SHT_NOBITS;
	names->sh_offset = im->len + 0x10000;
}

static void no_code(struct image *im)
{
	phdr(im, load_with(im, PF_X))->p_flags &= ~PF_X;
	for (unsigned i = 1; i < ehdr(im)->e_shnum; i++)
		shdr(im, i)->sh_flags &= ~SHF_EXECINSTR;
}

/* --- the site table of a rewritten image --- */

static void sites_bad_magic(struct image *im)
{
	site_header(im)->magic[0] = 'X';
}

static void sites_count_too_large(struct image *im)
{
	site_header(im)->count += 1;
}

static void sites_unsorted(struct image *im)
{
	struct lilyvm_site first = *site(im, 0);

	*site(im, 0) = *site(im, 1);
	*site(im, 1) = first;
}

/* The last entry at the address of .data: inside a segment, not in code. */
static void site_outside_code(struct image *im)
{
	struct lilyvm_sites_header *h = site_header(im);

	site(im, h->count - 1)->addr = shdr(im, section_named(im, ".data"))->sh_addr;
}

static uint32_t section_end(const struct image *im, const char *name)
{
	const Elf32_Shdr *sh = shdr(im, section_named(im, name));

	return sh->sh_addr + sh->sh_size;
}

/* Stretch the last entry below end to run one byte past end. */
static void stretch_site_past(struct image *im, uint32_t end)
{
	for (unsigned i = site_header(im)->count; i-- > 0;) {
		if (site(im, i)->addr < end) {
			site(im, i)->len = end - site(im, i)->addr + 1;
			return;
		}
	}
	die("no site below 0x%x", end);
}

/* The last entry runs past the end of the code (.boot ends it). */
static void site_past_code(struct image *im)
{
	stretch_site_past(im, section_end(im, ".boot"));
}

/*
 * The last entry of .text runs into .boot: both addresses are code, but
 * the scanner keeps the state of a site's bytes in one section's array.
 */
static void site_straddles_sections(struct image *im)
{
	stretch_site_past(im, section_end(im, ".text"));
}

static void sites_truncated(struct image *im)
{
	shdr(im, section_named(im, LILYVM_SITES_SECTION))->sh_size =
		sizeof(struct lilyvm_sites_header) - 4;
}

/* A table without file bytes is no table: its offset must not be read. */
static void sites_nobits(struct image *im)
{
	Elf32_Shdr *table = shdr(im, section_named(im, LILYVM_SITES_SECTION));

	table->sh_type = SHT_NOBITS;
	table->sh_offset = im->len + 0x10000;
}

/* Rename the table (one letter of its name) so the note points at nothing. */
static void sites_missing(struct image *im)
{
	char *name = section_name(im, section_named(im, LILYVM_SITES_SECTION));

	name[strlen(name) - 1] = 'z';
}

enum source { VALID, REWRITTEN };

struct bad_case {
	const char *name;
	enum source from;
	void (*make)(struct image *im);
	const char *keyword;	/* what the error line must contain */
};

static const struct bad_case cases[] = {
	{ "text-file", VALID, text_file, "not an ELF file" },
	{ "empty-file", VALID, empty_file, "not an ELF file" },
	{ "three-bytes", VALID, three_bytes, "not an ELF file" },
	{ "elf64", VALID, elf64, "ELF64" },
	{ "arm", VALID, arm, "not i386" },
	{ "relocatable", VALID, relocatable, "not an executable" },
	{ "shared-object", VALID, shared_object, "not an executable" },
	{ "ident-cut", VALID, ident_cut, "truncated ELF identification" },
	{ "ehdr-cut", VALID, ehdr_cut, "truncated ELF header" },
	{ "phdrs-cut", VALID, phdrs_cut, "program header table points past the end" },
	{ "shdrs-cut", VALID, shdrs_cut, "section header table points past the end" },
	{ "bad-phentsize", VALID, bad_phentsize, "program header size" },
	{ "bad-shentsize", VALID, bad_shentsize, "section header size" },
	{ "bad-shstrndx", VALID, bad_shstrndx, "section name table index" },
	{ "no-phdrs", VALID, no_phdrs, "no program headers" },
	{ "phdrs-in-ehdr", VALID, phdrs_in_ehdr,
	  "program header table overlaps the ELF header" },
	{ "segments-overlap-in-memory", VALID, segments_overlap_in_memory, "overlap in memory" },
	{ "segments-overlap-in-file", VALID, segments_overlap_in_file, "overlap in the file" },
	{ "segment-offset-past-eof", VALID, segment_offset_past_eof, "points past the end" },
	{ "segment-size-past-eof", VALID, segment_size_past_eof, "points past the end" },
	{ "filesz-over-memsz", VALID, filesz_over_memsz, "more file bytes than memory bytes" },
	{ "segment-wraps", VALID, segment_wraps, "wraps past 4 GiB" },
	{ "segment-in-shdrs", VALID, segment_in_shdrs,
	  "segment 2 overlaps the section header table" },
	{ "sections-overlap", VALID, sections_overlap, "sections 1 and 3 overlap" },
	{ "section-past-eof", VALID, section_past_eof, "section 3 (offset" },
	{ "names-not-strings", VALID, names_not_strings, "is not a string table" },
	{ "section-in-shdrs", VALID, section_in_shdrs,
	  "section 3 overlaps the section header table" },
	{ "code-outside-load", VALID, code_outside_load, "not inside a loadable segment" },
	{ "code-off-its-segment", VALID, code_off_its_segment, "not inside a loadable segment" },
	{ "no-code", VALID, no_code, "no executable code" },
	{ "sites-bad-magic", REWRITTEN, sites_bad_magic, "site table has a bad header" },
	{ "sites-count-too-large", REWRITTEN, sites_count_too_large,
	  "fewer entries than its count" },
	{ "sites-unsorted", REWRITTEN, sites_unsorted, "out of order" },
	{ "site-outside-code", REWRITTEN, site_outside_code, "site table entry" },
	{ "site-past-code", REWRITTEN, site_past_code, "site table entry" },
	{ "site-straddles-sections", REWRITTEN, site_straddles_sections, "site table entry" },
	{ "sites-truncated", REWRITTEN, sites_truncated, "site table is truncated" },
	{ "sites-nobits", REWRITTEN, sites_nobits, "has no .lilyvm.sites section" },
	{ "sites-missing", REWRITTEN, sites_missing, "has no .lilyvm.sites section" },
};

static void write_case(const char *dir, const struct bad_case *c, const struct image *src)
{
	struct image im = { xmalloc(src->len), src->len };
	char path[4096];
	FILE *f;

	memcpy(im.b, src->b, src->len);
	c->make(&im);
	snprintf(path, sizeof(path), "%s/%s.elf", dir, c->name);
	f = fopen(path, "wb");
	if (!f || fwrite(im.b, 1, im.len, f) != im.len || fclose(f))
		die("%s: %s", path, strerror(errno));
	free(im.b);
	printf("%s\t%s\n", c->name, c->keyword);
}

int main(int argc, char **argv)
{
	struct image src[2];

	if (argc != 4)
		die("usage: mkbad OUTDIR VALID REWRITTEN");
	src[VALID] = read_image(argv[2]);
	src[REWRITTEN] = read_image(argv[3]);
	check_source(&src[VALID], argv[2]);
	check_source(&src[REWRITTEN], argv[3]);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		write_case(argv[1], &cases[i], &src[cases[i].from]);
	free(src[VALID].b);
	free(src[REWRITTEN].b);
	return fflush(stdout) ? 1 : 0;
}

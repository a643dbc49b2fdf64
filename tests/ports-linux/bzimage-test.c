/*
 * bzimage-test - unit test of ports/linux/bzimage: fake bzImages around a
 * small ELF, compressed with each supported format, must unpack byte-exact;
 * corrupt variants must fail with a one-line error and never crash.
 */
#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/ports-linux/fake-bzimage.h"

#define ELF_BODY (64 * 1024)
#define MUTATIONS_PER_FORMAT 500

static unsigned passed, failed;

static void check(int ok, const char *what, const char *detail)
{
	if (ok) {
		passed++;
		return;
	}
	failed++;
	printf("FAIL: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
}

static const enum bzimage_compression formats[] = {
	BZIMAGE_XZ, BZIMAGE_GZIP, BZIMAGE_ZSTD, BZIMAGE_LZMA,
};
#define N_FORMATS (sizeof(formats) / sizeof(formats[0]))

/* A fake bzImage around payload; aborts the test on allocation failure. */
static struct blob wrap(const struct blob *payload)
{
	struct blob img;

	if (fake_bzimage(payload->data, payload->len, &img)) {
		fprintf(stderr, "bzimage-test: cannot build a fake bzImage\n");
		exit(99);
	}
	return img;
}

static struct blob compress(enum bzimage_compression c, const struct blob *in)
{
	struct blob out;

	if (fake_compress(c, in->data, in->len, &out)) {
		fprintf(stderr, "bzimage-test: cannot %s-compress\n", bzimage_compression_name(c));
		exit(99);
	}
	return out;
}

static struct blob make_elf(unsigned elf_class, unsigned machine)
{
	struct blob elf;

	if (fake_elf(elf_class, machine, ELF_BODY, &elf)) {
		fprintf(stderr, "bzimage-test: cannot build an ELF\n");
		exit(99);
	}
	return elf;
}

/* The error must be one non-empty line, and it must mention want if given. */
static void check_error_text(const char *name, const char *err, const char *want)
{
	char what[160];

	snprintf(what, sizeof(what), "%s: error message", name);
	check(err[0] && !strchr(err, '\n') && strlen(err) < BZIMAGE_ERRLEN, what, err);
	if (want) {
		snprintf(what, sizeof(what), "%s: error mentions \"%s\"", name, want);
		check(strstr(err, want) != NULL, what, err);
	}
}

/* Extraction of img[0..len) must fail, leave the outputs alone, and say want. */
static void expect_failure(const char *name, const uint8_t *img, size_t len, size_t max,
			   const char *want)
{
	uint8_t *out = NULL;
	size_t out_len = 0;
	char err[BZIMAGE_ERRLEN] = "";
	int rc = bzimage_extract_bounded(img, len, max, &out, &out_len, err);

	check(rc == -1 && !out && !out_len, name, rc ? NULL : "extraction succeeded");
	check_error_text(name, err, want);
	free(out);
}

static void test_header(const struct blob *img, enum bzimage_compression c)
{
	struct bzimage_header h;
	char err[BZIMAGE_ERRLEN] = "";
	const char *name = bzimage_compression_name(c);
	int rc = bzimage_parse_header(img->data, img->len, &h, err);

	check(rc == 0, "parse header", err);
	if (rc)
		return;
	check(h.version == 0x020f && h.setup_sects == FAKE_SETUP_SECTS, "version, setup_sects",
	      name);
	check(h.pm_file_offset == FAKE_PM_OFFSET && h.payload_offset == FAKE_PAYLOAD_OFFSET &&
	      h.payload_file_offset == FAKE_PM_OFFSET + FAKE_PAYLOAD_OFFSET,
	      "payload location", name);
	check(h.payload_length == img->len - FAKE_PM_OFFSET - FAKE_PAYLOAD_OFFSET - FAKE_TAIL,
	      "payload_length", name);
	check(h.kernel_alignment == 0x1000000 && h.min_alignment == 13 &&
	      h.relocatable_kernel == 1 && h.pref_address == 0x1000000 &&
	      h.init_size == 0x2000000 && h.cmdline_size == 2047 && h.loadflags == 1,
	      "alignment, pref_address, init_size, cmdline_size", name);
	check(h.compression == c, "compression detected", name);
	check(!strcmp(h.kernel_version, FAKE_KERNEL_VERSION), "kernel_version", h.kernel_version);
}

static void test_roundtrip(enum bzimage_compression c, const struct blob *elf)
{
	struct blob payload = compress(c, elf), img = wrap(&payload);
	uint8_t *out = NULL;
	size_t out_len = 0;
	char err[BZIMAGE_ERRLEN] = "";
	int rc = bzimage_extract(img.data, img.len, &out, &out_len, err);

	test_header(&img, c);
	check(rc == 0, bzimage_compression_name(c), err);
	check(rc == 0 && out_len == elf->len && !memcmp(out, elf->data, elf->len),
	      "byte-exact vmlinux", bzimage_compression_name(c));
	free(out);
	free(img.data);
	free(payload.data);
}

/* Poke a 32-bit field into a copy of img and expect a failure. */
static void expect_field_failure(const char *name, const struct blob *img, size_t off,
				 uint32_t value, const char *want)
{
	uint8_t *copy = malloc(img->len);

	memcpy(copy, img->data, img->len);
	fake_put32(copy + off, value);
	expect_failure(name, copy, img->len, BZIMAGE_MAX_VMLINUX, want);
	free(copy);
}

static void test_bad_headers(const struct blob *img)
{
	uint8_t *copy = malloc(img->len);
	size_t payload_end = img->len - FAKE_TAIL;

	expect_failure("empty file", img->data, 0, BZIMAGE_MAX_VMLINUX, "too short");
	expect_failure("100-byte file", img->data, 100, BZIMAGE_MAX_VMLINUX, "too short");
	expect_failure("truncated in the payload", img->data, payload_end - 1000,
		       BZIMAGE_MAX_VMLINUX, "past the end");
	expect_failure("truncated in the setup area", img->data, FAKE_PM_OFFSET - 1,
		       BZIMAGE_MAX_VMLINUX, "setup area");

	memcpy(copy, img->data, img->len);
	memcpy(copy + FAKE_OFF_HEADER, "HdrX", 4);
	expect_failure("bad HdrS", copy, img->len, BZIMAGE_MAX_VMLINUX, "HdrS");
	memcpy(copy, img->data, img->len);
	copy[FAKE_OFF_BOOT_FLAG] = 0;
	expect_failure("bad boot flag", copy, img->len, BZIMAGE_MAX_VMLINUX, "boot flag");
	memcpy(copy, img->data, img->len);
	copy[FAKE_OFF_VERSION] = 0x07;
	expect_failure("protocol 2.07", copy, img->len, BZIMAGE_MAX_VMLINUX, "2.08");
	memcpy(copy, img->data, img->len);
	copy[FAKE_OFF_LOADFLAGS] = 0;
	expect_failure("zImage", copy, img->len, BZIMAGE_MAX_VMLINUX, "zImage");
	memcpy(copy, img->data, img->len);
	copy[FAKE_OFF_SETUP_SECTS] = 255;
	expect_failure("setup_sects past EOF", copy, img->len, BZIMAGE_MAX_VMLINUX, "setup area");
	free(copy);

	expect_field_failure("payload_offset past EOF", img, FAKE_OFF_PAYLOAD_OFFSET,
			     0xfffffff0u, "past the end");
	expect_field_failure("payload_length past EOF", img, FAKE_OFF_PAYLOAD_LENGTH,
			     (uint32_t)img->len, "past the end");
	expect_field_failure("payload_length 0xffffffff", img, FAKE_OFF_PAYLOAD_LENGTH,
			     0xffffffffu, "past the end");
	expect_field_failure("payload_length 3", img, FAKE_OFF_PAYLOAD_LENGTH, 3, "too short");
}

/* Flip bytes in the middle of the compressed stream: the checksums must catch it. */
static void test_corrupt_stream(enum bzimage_compression c, const struct blob *elf)
{
	struct blob payload = compress(c, elf), img;
	char name[96];

	for (size_t i = payload.len / 2; i < payload.len / 2 + 16; i++)
		payload.data[i] ^= 0x5a;
	img = wrap(&payload);
	snprintf(name, sizeof(name), "corrupt %s data", bzimage_compression_name(c));
	expect_failure(name, img.data, img.len, BZIMAGE_MAX_VMLINUX,
		       bzimage_compression_name(c));
	free(img.data);
	free(payload.data);
}

/* Cut the stream in half but keep a correct size word after it. */
static void test_truncated_stream(enum bzimage_compression c, const struct blob *elf)
{
	struct blob payload = compress(c, elf), img;
	char name[96];

	payload.len /= 2;
	fake_put32(payload.data + payload.len - 4, (uint32_t)elf->len);
	img = wrap(&payload);
	snprintf(name, sizeof(name), "truncated %s stream", bzimage_compression_name(c));
	expect_failure(name, img.data, img.len, BZIMAGE_MAX_VMLINUX,
		       bzimage_compression_name(c));
	free(img.data);
	free(payload.data);
}

/* The appended size must match, and both it and the real output are bounded. */
static void test_sizes(const struct blob *elf)
{
	struct blob payload = compress(BZIMAGE_XZ, elf), img;
	uint8_t *size_word = payload.data + payload.len - 4;

	fake_put32(size_word, (uint32_t)elf->len + 1);
	img = wrap(&payload);
	expect_failure("size word too large", img.data, img.len, BZIMAGE_MAX_VMLINUX, "records");
	free(img.data);

	fake_put32(size_word, (uint32_t)elf->len);
	img = wrap(&payload);
	expect_failure("size word over the limit", img.data, img.len, elf->len - 1, "limit");
	free(img.data);

	/* A lying size word must not let the output grow past the limit. */
	fake_put32(size_word, 100);
	img = wrap(&payload);
	expect_failure("output over the limit", img.data, img.len, 1000, "more than 1000 bytes");
	free(img.data);
	free(payload.data);
}

/* Payloads that decompress fine but are not an i386 ELF32 vmlinux. */
static void test_wrong_payloads(void)
{
	static const char text[] = "this is not an ELF file, just some text to compress";
	struct blob plain = { (uint8_t *)text, sizeof(text) };
	struct blob elf64 = make_elf(ELFCLASS64, EM_X86_64), arm = make_elf(ELFCLASS32, EM_ARM);
	const struct { const char *name; struct blob *in; const char *want; } cases[] = {
		{ "text payload", &plain, "not an ELF" },
		{ "ELF64 payload", &elf64, "ELF32" },
		{ "ARM payload", &arm, "not i386" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct blob payload = compress(BZIMAGE_GZIP, cases[i].in), img = wrap(&payload);

		expect_failure(cases[i].name, img.data, img.len, BZIMAGE_MAX_VMLINUX,
			       cases[i].want);
		free(img.data);
		free(payload.data);
	}
	free(elf64.data);
	free(arm.data);
}

static void test_unknown_compressions(void)
{
	static const struct { const char *name, *magic, *want; } cases[] = {
		{ "bzip2 payload", "BZh91AY&SY", "bzip2 payloads are not supported" },
		{ "lz4 payload", "\x02\x21\x4c\x18xxxxxx", "lz4 payloads are not supported" },
		{ "unknown payload", "\x12\x34\x56\x78xxxxxx", "not a known compression" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct blob payload = { (uint8_t *)cases[i].magic, 10 }, img = wrap(&payload);

		expect_failure(cases[i].name, img.data, img.len, BZIMAGE_MAX_VMLINUX,
			       cases[i].want);
		free(img.data);
	}
}

static uint32_t next_random(uint32_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 17;
	*state ^= *state << 5;
	return *state;
}

/*
 * Random byte changes in the header and the payload: every result must be a
 * clean error or a valid i386 ELF, never a crash (run under valgrind or ASan
 * to catch reads out of bounds).
 */
static void test_mutations(enum bzimage_compression c, const struct blob *elf)
{
	struct blob payload = compress(c, elf), img = wrap(&payload);
	uint8_t *copy = malloc(img.len);
	uint32_t rng = 0x9e3779b9u ^ (uint32_t)c;
	unsigned bad = 0;

	for (int i = 0; i < MUTATIONS_PER_FORMAT; i++) {
		uint8_t *out = NULL;
		size_t out_len = 0, len = img.len;
		char err[BZIMAGE_ERRLEN] = "";
		unsigned flips = 1 + next_random(&rng) % 4;
		int rc;

		memcpy(copy, img.data, img.len);
		for (unsigned f = 0; f < flips; f++) {
			/* Half the changes hit the setup header, where every byte matters. */
			size_t at = next_random(&rng) % 2 ? 0x1f0 + next_random(&rng) % 0x80
							  : next_random(&rng) % img.len;
			copy[at] ^= (uint8_t)(1 + next_random(&rng) % 255);
		}
		if (next_random(&rng) % 8 == 0)
			len = next_random(&rng) % img.len;
		rc = bzimage_extract(copy, len, &out, &out_len, err);
		if (rc == 0 ? out_len < sizeof(Elf32_Ehdr) || memcmp(out, ELFMAG, SELFMAG)
			    : !err[0] || out != NULL)
			bad++;
		free(out);
	}
	check(bad == 0, "random mutations give an ELF or a clean error",
	      bzimage_compression_name(c));
	free(copy);
	free(img.data);
	free(payload.data);
}

int main(void)
{
	struct blob elf = make_elf(ELFCLASS32, EM_386), xz, img;

	for (size_t i = 0; i < N_FORMATS; i++) {
		test_roundtrip(formats[i], &elf);
		test_corrupt_stream(formats[i], &elf);
		test_truncated_stream(formats[i], &elf);
		test_mutations(formats[i], &elf);
	}
	xz = compress(BZIMAGE_XZ, &elf);
	img = wrap(&xz);
	test_bad_headers(&img);
	test_sizes(&elf);
	test_wrong_payloads();
	test_unknown_compressions();
	free(img.data);
	free(xz.data);
	free(elf.data);
	printf("%u passed, %u failed\n", passed, failed);
	return failed ? 1 : 0;
}

/*
 * mkbzimage - write a fake bzImage and the ELF inside it, for the CLI test:
 *   mkbzimage FORMAT BZIMAGE ELF   (FORMAT: xz, gzip, zstd or lzma)
 */
#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/ports-linux/fake-bzimage.h"

static int write_blob(const char *path, const struct blob *b)
{
	FILE *f = fopen(path, "wb");
	int ok = f && fwrite(b->data, 1, b->len, f) == b->len;

	if (f && fclose(f))
		ok = 0;
	if (!ok)
		perror(path);
	return ok ? 0 : -1;
}

static int parse_format(const char *name, enum bzimage_compression *c)
{
	static const enum bzimage_compression all[] = {
		BZIMAGE_XZ, BZIMAGE_GZIP, BZIMAGE_ZSTD, BZIMAGE_LZMA,
	};

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (!strcmp(name, bzimage_compression_name(all[i]))) {
			*c = all[i];
			return 0;
		}
	return -1;
}

int main(int argc, char **argv)
{
	struct blob elf = { 0 }, payload = { 0 }, img = { 0 };
	enum bzimage_compression c;
	int rc = 1;

	if (argc != 4 || parse_format(argv[1], &c)) {
		fputs("usage: mkbzimage xz|gzip|zstd|lzma BZIMAGE ELF\n", stderr);
		return 2;
	}
	if (fake_elf(ELFCLASS32, EM_386, 32 * 1024, &elf) ||
	    fake_compress(c, elf.data, elf.len, &payload) ||
	    fake_bzimage(payload.data, payload.len, &img)) {
		fputs("mkbzimage: cannot build the image\n", stderr);
		goto out;
	}
	if (write_blob(argv[2], &img) || write_blob(argv[3], &elf))
		goto out;
	rc = 0;
out:
	free(img.data);
	free(payload.data);
	free(elf.data);
	return rc;
}

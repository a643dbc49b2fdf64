/*
 * lilyvm-unbzimage - unpack the ELF vmlinux of an x86 Linux bzImage.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ports/linux/bzimage.h"

/* Room for a path name as well as a library message. */
#define MSGLEN (4096 + BZIMAGE_ERRLEN)

/* No bzImage comes near this; it keeps a wrong argument from filling memory. */
#define MAX_BZIMAGE ((off_t)1 << 30)

static const char usage[] =
	"usage: lilyvm-unbzimage BZIMAGE [-o VMLINUX] [--header]\n"
	"  -o VMLINUX  write the unpacked ELF vmlinux to VMLINUX\n"
	"  --header    print the setup header fields of BZIMAGE\n";

struct args {
	const char *in, *out;
	int header;
};

static int parse_args(int argc, char **argv, struct args *a)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "header", no_argument, NULL, 'H' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	int c;

	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o': a->out = optarg; break;
		case 'H': a->header = 1; break;
		case 'h': fputs(usage, stdout); exit(0);
		default: return -1;
		}
	}
	if (optind != argc - 1 || (!a->out && !a->header))
		return -1;
	a->in = argv[optind];
	return 0;
}

static int read_file(const char *path, uint8_t **buf, size_t *len, char *err)
{
	struct stat st;
	uint8_t *p = NULL;
	size_t got = 0;
	ssize_t n;
	int fd = open(path, O_RDONLY);

	if (fd < 0 || fstat(fd, &st))
		goto fail_errno;
	if (!S_ISREG(st.st_mode) || st.st_size > MAX_BZIMAGE) {
		snprintf(err, MSGLEN, "%s: not a regular file of at most 1 GiB", path);
		goto fail;
	}
	p = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!p)
		goto fail_errno;
	while (got < (size_t)st.st_size) {
		n = read(fd, p + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto fail_errno;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	*buf = p;
	*len = got;
	return 0;
fail_errno:
	snprintf(err, MSGLEN, "%s: %s", path, strerror(errno));
fail:
	free(p);
	if (fd >= 0)
		close(fd);
	return -1;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
	ssize_t n;

	while (len) {
		n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Write through a temporary file in the same directory, so OUT is never half written. */
static int write_file_atomic(const char *path, const uint8_t *p, size_t len, char *err)
{
	size_t tlen = strlen(path) + sizeof(".XXXXXX");
	char *tmp = malloc(tlen);
	mode_t mask = umask(0);
	int fd = -1, created = 0;

	umask(mask);
	if (!tmp)
		goto fail;
	snprintf(tmp, tlen, "%s.XXXXXX", path);
	fd = mkstemp(tmp);
	if (fd < 0)
		goto fail;
	created = 1;
	/* mkstemp makes the file 0600; give it the mode a plain creat() would. */
	if (fchmod(fd, 0666 & ~mask) || write_all(fd, p, len))
		goto fail;
	if (close(fd)) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path))
		goto fail;
	free(tmp);
	return 0;
fail:
	snprintf(err, MSGLEN, "%s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	if (created)
		unlink(tmp);
	free(tmp);
	return -1;
}

static void print_header(const struct bzimage_header *h)
{
	printf("kernel_version      %s\n", h->kernel_version);
	printf("protocol            %u.%02u\n", h->version >> 8, h->version & 0xff);
	printf("setup_sects         %u\n", h->setup_sects);
	printf("syssize             %" PRIu32 " paragraphs\n", h->syssize);
	printf("loadflags           0x%02x\n", h->loadflags);
	printf("xloadflags          0x%04x\n", h->xloadflags);
	printf("code32_start        0x%08" PRIx32 "\n", h->code32_start);
	printf("initrd_addr_max     0x%08" PRIx32 "\n", h->initrd_addr_max);
	printf("kernel_alignment    0x%" PRIx32 "\n", h->kernel_alignment);
	printf("relocatable_kernel  %u\n", h->relocatable_kernel);
	printf("min_alignment       %u\n", h->min_alignment);
	printf("cmdline_size        %" PRIu32 "\n", h->cmdline_size);
	printf("pref_address        0x%" PRIx64 "\n", h->pref_address);
	printf("init_size           %" PRIu32 "\n", h->init_size);
	printf("handover_offset     0x%" PRIx32 "\n", h->handover_offset);
	printf("payload             %s, %" PRIu32 " bytes at file offset 0x%zx\n",
	       bzimage_compression_name(h->compression), h->payload_length,
	       h->payload_file_offset);
}

static int run(const struct args *a, char *err)
{
	struct bzimage_header h;
	uint8_t *img = NULL, *vmlinux = NULL;
	size_t len, vlen;
	char lib[BZIMAGE_ERRLEN] = "";	/* library errors, which lack the file name */
	int rc = -1;

	if (read_file(a->in, &img, &len, err))
		return -1;
	if (a->header) {
		if (bzimage_parse_header(img, len, &h, lib))
			goto out;
		print_header(&h);
	}
	if (a->out) {
		if (bzimage_extract(img, len, &vmlinux, &vlen, lib))
			goto out;
		if (write_file_atomic(a->out, vmlinux, vlen, err))
			goto out;
	}
	rc = 0;
out:
	if (lib[0])
		snprintf(err, MSGLEN, "%s: %s", a->in, lib);
	free(vmlinux);
	free(img);
	return rc;
}

int main(int argc, char **argv)
{
	struct args a = { 0 };
	char err[MSGLEN];

	if (parse_args(argc, argv, &a)) {
		fputs(usage, stderr);
		return 2;
	}
	if (run(&a, err)) {
		fprintf(stderr, "lilyvm-unbzimage: %s\n", err);
		return 1;
	}
	return 0;
}

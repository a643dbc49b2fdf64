/*
 * fuzz_elf.c - libFuzzer harness for librewrite's ELF reader and writer.
 *
 * Every input takes the path lilyvm-rewrite -o OUT --verify takes: load,
 * rewrite, serialize, load the serialized image again, verify it. Refusing
 * an input is fine; crashing, leaking or undefined behaviour on the way is
 * what the sanitizers report. Two properties are checked as well, since
 * their violation is a bug even though nothing crashes: an image the reader
 * accepted and the writer wrote must be accepted by the reader again, and,
 * unless the input was already rewritten (then it is copied as it is, its
 * site table right or wrong), must verify clean.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "rewriter/rewrite.h"

static void broken(const char *fmt, ...)
{
	va_list ap;

	fputs("fuzz_elf: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

/* Load what the writer produced and decode it with its site table. */
static void reload_and_verify(const uint8_t *out, size_t len, int must_be_clean)
{
	struct rw_image *img;
	struct rw_report rep;
	char err[RW_ERRLEN];

	if (rw_load(out, len, &img, err))
		broken("the reader refuses the writer's output: %s", err);
	if (rw_verify(img, &rep, err))
		broken("verifying the writer's output failed: %s", err);
	if (must_be_clean && rep.verify_errors)
		broken("the writer's output keeps %u catalogued instructions, first at %#x",
		       rep.verify_errors, rep.first_verify_error);
	rw_report_free(&rep);
	rw_free(img);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rw_image *img;
	struct rw_report rep;
	uint8_t *out;
	size_t len;
	char err[RW_ERRLEN];

	if (rw_load(data, size, &img, err))
		return 0;
	if (!rw_rewrite(img, &rep, err) && !rw_serialize(img, &out, &len, err)) {
		reload_and_verify(out, len, !rep.already_rewritten);
		free(out);
	}
	rw_report_free(&rep);
	rw_free(img);
	return 0;
}

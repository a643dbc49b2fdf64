/*
 * lilyvm-rewrite - rewrite an i386 kernel image so that no privileged or
 * ring-sensitive instruction runs as is in ring 3.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rewriter/rewrite.h"

static const char usage[] =
	"usage: lilyvm-rewrite IN [-o OUT] [--report] [--json] [--verify] [--sites] [--traps-only]\n"
	"  -o OUT     write the rewritten image to OUT (without it, IN is only examined)\n"
	"  --report   print sites per class and what could not be classified\n"
	"  --json     print the report as one JSON object\n"
	"  --verify   decode the result again; fail if a catalogued instruction is left\n"
	"  --sites    list the site table: address, length, class, form, original bytes\n"
	"  --traps-only  every site traps; no jumps to paravirtual trampolines\n";

struct args {
	const char *in, *out;
	int report, json, verify, sites, traps_only;
};

static int parse_args(int argc, char **argv, struct args *a)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' }, { "report", no_argument, NULL, 'r' },
		{ "json", no_argument, NULL, 'j' },	     { "verify", no_argument, NULL, 'v' },
		{ "sites", no_argument, NULL, 's' },	     { "help", no_argument, NULL, 'h' },
		{ "traps-only", no_argument, NULL, 't' },
		{ 0 }
	};
	int c;

	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o': a->out = optarg; break;
		case 'r': a->report = 1; break;
		case 'j': a->report = a->json = 1; break;
		case 'v': a->verify = 1; break;
		case 's': a->sites = 1; break;
		case 't': a->traps_only = 1; break;
		case 'h': fputs(usage, stdout); exit(0);
		default: return -1;
		}
	}
	if (optind != argc - 1)
		return -1;
	a->in = argv[optind];
	return 0;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void print_sites(const struct rw_image *img)
{
	size_t n;
	const struct lilyvm_site *s = rw_sites(img, &n);

	for (size_t i = 0; i < n; i++) {
		printf("0x%08x %2u %-14s %-4s", s[i].addr, s[i].len, rw_class_name(s[i].cls),
		       s[i].form == LILYVM_FORM_PV ? "pv" : "trap");
		for (unsigned k = 0; k < s[i].len; k++)
			printf(" %02x", s[i].orig[k]);
		putchar('\n');
	}
}

/* Reload the written image and decode it again, as a reader of OUT would. */
static int verify_output(const char *path, struct rw_report *rep, char *err)
{
	struct rw_image *img;
	int rc;

	if (rw_load_file(path, &img, err))
		return -1;
	rc = rw_verify(img, rep, err);
	rw_free(img);
	return rc;
}

static void describe_verify(const struct args *a, const struct rw_report *v, char *buf,
			    size_t n)
{
	if (!a->verify)
		snprintf(buf, n, "not run");
	else if (v->verify_errors)
		snprintf(buf, n, "FAILED: %u catalogued instruction%s left as is, first at 0x%08x",
			 v->verify_errors, v->verify_errors == 1 ? "" : "s", v->first_verify_error);
	else
		snprintf(buf, n, "passed");
}

static int run(const struct args *a, char *err)
{
	struct rw_image *img;
	struct rw_report rep = { 0 }, vrep = { 0 };
	const struct rw_report *v = a->out ? &vrep : &rep;
	char verdict[128];
	double t0 = now(), secs;
	int rc;

	if (rw_load_file(a->in, &img, err))
		return -1;
	if (a->traps_only)
		rw_set_traps_only(img);
	rc = a->out ? rw_rewrite(img, &rep, err) : rw_verify(img, &rep, err);
	if (!rc && a->out)
		rc = rw_write_file(img, a->out, err);
	secs = now() - t0;
	if (!rc && a->out && a->verify)
		rc = verify_output(a->out, &vrep, err);
	if (!rc) {
		describe_verify(a, v, verdict, sizeof(verdict));
		if (a->report)
			rw_report_print(stdout, &rep, a->json, verdict, secs);
		if (a->sites)
			print_sites(img);
		if (a->verify && v->verify_errors) {
			snprintf(err, RW_ERRLEN, "%s: verify %s", a->out ? a->out : a->in, verdict);
			rc = -1;
		}
	}
	rw_report_free(&vrep);
	rw_report_free(&rep);
	rw_free(img);
	return rc;
}

int main(int argc, char **argv)
{
	struct args a = { 0 };
	char err[RW_ERRLEN];

	if (parse_args(argc, argv, &a)) {
		fputs(usage, stderr);
		return 2;
	}
	if (run(&a, err)) {
		fprintf(stderr, "lilyvm-rewrite: %s\n", err);
		return 1;
	}
	return 0;
}

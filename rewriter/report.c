/*
 * report.c - print what a rewrite found, for people or for machines.
 */
#include "rewriter/image.h"

#define MIB (1024.0 * 1024.0)
#define RANGES_SHOWN 8

static void print_ranges(FILE *f, const struct rw_report *rep)
{
	size_t shown = rep->n_unclassified < RANGES_SHOWN ? rep->n_unclassified : RANGES_SHOWN;

	for (size_t i = 0; i < shown; i++)
		fprintf(f, "%s0x%08x+%u", i ? ", " : ": ", rep->unclassified[i].addr,
			rep->unclassified[i].len);
	if (shown < rep->n_unclassified)
		fprintf(f, ", ... %zu more (--json lists all)", rep->n_unclassified - shown);
	fputc('\n', f);
}

static void print_human(FILE *f, const struct rw_report *rep, const char *verify,
			double seconds)
{
	fprintf(f, "code            %.2f MiB in %u executable region%s, found by %s\n",
		rep->code_bytes / MIB, rep->regions, rep->regions == 1 ? "" : "s",
		rep->used_symbols ? "recursive disassembly from the entry and symbols"
				  : "recursive disassembly from the entry, then a linear sweep");
	fprintf(f, "instructions    %llu decoded (%.2f MiB)\n", (unsigned long long)rep->insns,
		rep->insn_bytes / MIB);
	fprintf(f, "unclassified    %zu range%s, %llu bytes", rep->n_unclassified,
		rep->n_unclassified == 1 ? "" : "s", (unsigned long long)rep->unclassified_bytes);
	print_ranges(f, rep);
	fprintf(f, "sites           %u%s\n", rep->sites,
		rep->already_rewritten ? " (input already rewritten: left as is)" : "");
	if (rep->pv_sites)
		fprintf(f, "trampolines     %u sites jump to them, %llu bytes of code\n", rep->pv_sites,
			(unsigned long long)rep->pv_bytes);
	fprintf(f, "verify          %s\n", verify);
	fprintf(f, "time            %.3f s, %.1f MB/s\n", seconds,
		seconds > 0 ? rep->image_bytes / 1e6 / seconds : 0.0);
	fprintf(f, "\n%-16s %8s\n", "class", "sites");
	for (unsigned c = 1; c < LILYVM_CLS_COUNT; c++)
		if (rep->counts[c])
			fprintf(f, "%-16s %8u\n", rw_class_name(c), rep->counts[c]);
}

static void print_json(FILE *f, const struct rw_report *rep, const char *verify,
		       double seconds)
{
	fprintf(f, "{\"image_bytes\":%llu,\"code_bytes\":%llu,\"regions\":%u,",
		(unsigned long long)rep->image_bytes, (unsigned long long)rep->code_bytes, rep->regions);
	fprintf(f, "\"discovery\":\"%s\",\"instructions\":%llu,\"instruction_bytes\":%llu,",
		rep->used_symbols ? "recursive" : "linear", (unsigned long long)rep->insns,
		(unsigned long long)rep->insn_bytes);
	fprintf(f, "\"already_rewritten\":%s,\"sites\":%u,\"verify\":\"%s\",",
		rep->already_rewritten ? "true" : "false", rep->sites, verify);
	fprintf(f, "\"pv_sites\":%u,\"pv_bytes\":%llu,", rep->pv_sites,
		(unsigned long long)rep->pv_bytes);
	fprintf(f, "\"seconds\":%.6f,\"mb_per_s\":%.3f,\"classes\":{", seconds,
		seconds > 0 ? rep->image_bytes / 1e6 / seconds : 0.0);
	for (unsigned c = 1; c < LILYVM_CLS_COUNT; c++)
		fprintf(f, "%s\"%s\":%u", c > 1 ? "," : "", rw_class_name(c), rep->counts[c]);
	fprintf(f, "},\"unclassified_bytes\":%llu,\"unclassified\":[",
		(unsigned long long)rep->unclassified_bytes);
	for (size_t i = 0; i < rep->n_unclassified; i++)
		fprintf(f, "%s{\"addr\":%u,\"len\":%u}", i ? "," : "", rep->unclassified[i].addr,
			rep->unclassified[i].len);
	fprintf(f, "]}\n");
}

void rw_report_print(FILE *f, const struct rw_report *rep, int json, const char *verify,
		     double seconds)
{
	if (json)
		print_json(f, rep, verify, seconds);
	else
		print_human(f, rep, verify, seconds);
}

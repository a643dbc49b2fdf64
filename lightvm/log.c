/*
 * log.c - levels and trace classes, printed on stderr.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lightvm/log.h"

static enum log_level current_level = LOG_INFO;
static unsigned trace_mask;

static const struct {
	const char *name;
	unsigned mask;
} classes[] = {
	{ "trap", TRACE_TRAP }, { "site", TRACE_SITE }, { "miss", TRACE_MISS },
	{ "io", TRACE_IO },	{ "irq", TRACE_IRQ },	{ "exc", TRACE_EXC },
	{ "seg", TRACE_SEG },	{ "syscall", TRACE_SYSCALL }, { "timer", TRACE_TIMER },
	{ "pf", TRACE_PF },	{ "net", TRACE_NET },	{ "all", ~0u },
};

void log_set_level(enum log_level level)
{
	current_level = level;
}

static int set_one(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(classes) / sizeof(classes[0]); i++)
		if (strlen(classes[i].name) == len && !strncmp(classes[i].name, name, len)) {
			trace_mask |= classes[i].mask;
			return 0;
		}
	return -1;
}

int log_set_trace(const char *list)
{
	while (*list) {
		size_t len = strcspn(list, ",");

		if (set_one(list, len))
			return -1;
		list += len + (list[len] == ',');
	}
	return 0;
}

const char *log_trace_names(void)
{
	return "trap,site,miss,io,irq,exc,seg,syscall,timer,pf,net,all";
}

int log_tracing(unsigned mask)
{
	return (trace_mask & mask) != 0;
}

/* Information for the user reads plainly; everything else says where it came from. */
static void vprint(const char *tag, const char *where, const char *fmt, va_list ap)
{
	if (where)
		fprintf(stderr, "lilyvm: %s%s: ", tag, where);
	else
		fprintf(stderr, "lilyvm: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void log_msg(enum log_level level, const char *where, const char *fmt, ...)
{
	static const char *const tags[] = { "error: ", "warning: ", "", "debug: " };
	va_list ap;

	if (level > current_level)
		return;
	va_start(ap, fmt);
	vprint(tags[level], level == LOG_INFO ? NULL : where, fmt, ap);
	va_end(ap);
}

void log_trace(unsigned cls, const char *where, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprint("trace: ", where, fmt, ap);
	va_end(ap);
}

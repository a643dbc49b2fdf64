/*
 * crash.c - if the monitor itself crashes, say so with a backtrace
 * (libunwind, local unwinding) instead of dying silently.
 */
#define UNW_LOCAL_ONLY
#include <libunwind.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lightvm/crash.h"

static void (*crash_cleanup)(void);

static void on_crash(int sig)
{
	unw_context_t ctx;
	unw_cursor_t cur;
	char name[128];
	unw_word_t off, ip;
	int depth = 0;

	if (crash_cleanup)
		crash_cleanup();
	fprintf(stderr, "lilyvm: the monitor crashed (%s); its backtrace:\n", strsignal(sig));
	unw_getcontext(&ctx);
	unw_init_local(&cur, &ctx);
	while (unw_step(&cur) > 0 && depth++ < 32) {
		unw_get_reg(&cur, UNW_REG_IP, &ip);
		if (unw_get_proc_name(&cur, name, sizeof(name), &off))
			snprintf(name, sizeof(name), "?"), off = 0;
		fprintf(stderr, "  #%d %#lx %s+%#lx\n", depth, (unsigned long)ip, name,
			(unsigned long)off);
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

void crash_handlers_install(void (*cleanup)(void))
{
	static const int sigs[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT };

	crash_cleanup = cleanup;
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		signal(sigs[i], on_crash);
}

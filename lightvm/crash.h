/* crash.h - backtraces of the monitor's own crashes. */
#ifndef LIGHTVM_CRASH_H
#define LIGHTVM_CRASH_H

/* Print a backtrace on SIGSEGV, SIGBUS, SIGILL, SIGFPE and SIGABRT, then die of it. */
void crash_handlers_install(void);

#endif

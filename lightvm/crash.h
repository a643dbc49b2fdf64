/* crash.h - backtraces of the monitor's own crashes. */
#ifndef LIGHTVM_CRASH_H
#define LIGHTVM_CRASH_H

/* On SIGSEGV, SIGBUS, SIGILL, SIGFPE and SIGABRT: run cleanup, print a backtrace, die of it. */
void crash_handlers_install(void (*cleanup)(void));

#endif

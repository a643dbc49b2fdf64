/*
 * log.h - the monitor's one logging facility: levels for messages, and
 * trace classes (`--trace CLASS`) for per-trap and per-access tracing.
 * Every message names the function it came from.
 */
#ifndef LIGHTVM_LOG_H
#define LIGHTVM_LOG_H

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* Trace classes, selected by name with --trace (see log.c for the names). */
enum trace_class {
	TRACE_TRAP = 1u << 0,	/* every trap the monitor handles */
	TRACE_SITE = 1u << 1,	/* every rewritten site emulated */
	TRACE_MISS = 1u << 2,	/* privileged instructions found without a site */
	TRACE_IO = 1u << 3,	/* port I/O; unknown ports once each */
	TRACE_IRQ = 1u << 4,	/* interrupt lines, PIC decisions, deliveries */
	TRACE_EXC = 1u << 5,	/* exceptions delivered to the guest */
	TRACE_SEG = 1u << 6,	/* segment loads and descriptor shadowing */
	TRACE_SYSCALL = 1u << 7,	/* system-call instructions of the child */
	TRACE_TIMER = 1u << 8,	/* host timers */
	TRACE_PF = 1u << 9,	/* guest page faults the monitor resolves or raises */
	TRACE_NET = 1u << 10,	/* frames between the NIC and the network back end */
};

/* Messages at or below this level are printed (default LOG_INFO). */
void log_set_level(enum log_level level);
/* Turn on the trace classes named in a comma-separated list; -1 on an unknown name. */
int log_set_trace(const char *list);
/* The comma-separated names of all trace classes, for usage text. */
const char *log_trace_names(void);
/* True if any class in mask is being traced. */
int log_tracing(unsigned mask);
/* Print one message at level, prefixed by where it came from. */
void log_msg(enum log_level level, const char *where, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Print one trace line of class cls. */
void log_trace(unsigned cls, const char *where, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_error(...) log_msg(LOG_ERROR, __func__, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __func__, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __func__, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __func__, __VA_ARGS__)
#define trace(cls, ...) \
	do { if (log_tracing(cls)) log_trace(cls, __func__, __VA_ARGS__); } while (0)

#endif

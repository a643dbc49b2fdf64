/*
 * check.h - the few assertions the device tests use. A failed check prints
 * where and what, and the test goes on so one run shows every failure.
 */
#ifndef TESTS_DEVICES_CHECK_H
#define TESTS_DEVICES_CHECK_H

#include <stdio.h>

static int check_failures;

#define CHECK(cond)                                                                   \
	do {                                                                          \
		if (!(cond)) {                                                        \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, \
				#cond);                                               \
			check_failures++;                                             \
		}                                                                     \
	} while (0)

#define CHECK_EQ(actual, expected)                                                    \
	do {                                                                          \
		unsigned long long a_ = (unsigned long long)(actual);                 \
		unsigned long long e_ = (unsigned long long)(expected);               \
		if (a_ != e_) {                                                       \
			fprintf(stderr, "%s:%d: %s is %#llx (%llu), expected %#llx (%llu)\n", \
				__FILE__, __LINE__, #actual, a_, a_, e_, e_);         \
			check_failures++;                                             \
		}                                                                     \
	} while (0)

/* The exit status for automake: 0 if every check passed. */
static inline int check_done(const char *name)
{
	if (check_failures) {
		fprintf(stderr, "%s: %d check(s) failed\n", name, check_failures);
		return 1;
	}
	printf("%s: all checks passed\n", name);
	return 0;
}

#endif

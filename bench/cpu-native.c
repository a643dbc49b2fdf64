/*
 * cpu-native.c - the benchmark guest's CPU loop (tests/guests/bench/cpuwork.h)
 * run natively, the yardstick for op=cpu under lilyvm and QEMU. Built -m32
 * when the host can link 32-bit programs, like the guest's code.
 *
 * usage: cpu-native UNITS
 * Prints the nanoseconds per unit, the word size it was built for, and the
 * digest in the guest's format (so that bench/traps.sh can check that all
 * three computed the same thing).
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "tests/guests/bench/cpuwork.h"

static struct cpuwork work;

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1000;
	double t0, t1;

	if (n <= 0) {
		fprintf(stderr, "usage: cpu-native UNITS\n");
		return 2;
	}
	cpuwork_init(&work);
	t0 = now_ns();
	for (long i = 0; i < n; i++)
		cpuwork_unit(&work);
	t1 = now_ns();
	printf("%.1f %d-bit digest ", (t1 - t0) / n, (int)sizeof(void *) * 8);
	for (int i = 0; i < 8; i++)
		printf("%x", (unsigned)work.state[i]);
	printf("\n");
	return 0;
}

/* bench-guest.c - the in-guest microbenchmarks of bench/linux.sh: one static
 * program, run as the guest's first user program (rdinit=) under lilyvm,
 * QEMU and user-mode-linux, and directly on the host for the native column.
 *
 * It prints "bench-guest: start" first (the boot-to-init marker), then one
 * "NAME ns_per_op" line per operation, timed with CLOCK_MONOTONIC, and
 * "bench-guest: done". Each operation but cpu runs in growing batches until
 * it has run MIN_NS, so that a slow VM runs fewer iterations, not for longer;
 * cpu is a fixed amount of work (~0.5 s natively). As PID 1 it mounts /proc
 * (the exec test runs /proc/self/exe) and then powers off, or reboots when
 * the kernel handed it BENCH_EXIT=reboot (QEMU with -no-reboot then exits;
 * on a halt it would not).
 *
 * Operations:
 *   syscall  getppid(), the null system call
 *   pipe     a 4 KiB write to a child, which reads it and writes 4 KiB back
 *   fork     fork, the child _exit(0)s, waitpid
 *   exec     fork, the child execs this program with "exit", waitpid
 *   fault    first touch of each page of a fresh 64 MiB anonymous mapping
 *            (ns per page; mmap and munmap included)
 *   ctxsw    one byte ping-ponged between two processes over two pipes:
 *            ns per switch (half a round trip)
 *   cpu      an integer hash loop (multiply, xor, shift): ns per iteration
 *
 * Build: gcc -m32 -static -O2 (i386 guests and native), gcc -static -O2 (UML).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MIN_NS 300000000LL	/* each operation runs at least this long */
#define FAULT_BYTES (64 << 20)
#define CPU_ITERS 300000000u

static int64_t now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void die(const char *what)
{
	printf("bench-guest: not ok - %s\n", what);
	fflush(stdout);
	exit(1);
}

/* Read or write exactly n bytes. */
static void full(int write_it, int fd, char *p, size_t n)
{
	while (n > 0) {
		ssize_t r = write_it ? write(fd, p, n) : read(fd, p, n);
		if (r <= 0)
			die(write_it ? "write" : "read");
		p += r;
		n -= (size_t)r;
	}
}

static void reap(pid_t pid)
{
	int st;
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		die("child");
}

static char buf[4096];
static const char *self;

/* One batch of n operations of each kind. */
static void op_syscall(long n)
{
	while (n--)
		getppid();
}

static void op_fork(long n)
{
	while (n--) {
		pid_t pid = fork();
		if (pid == 0)
			_exit(0);
		reap(pid);
	}
}

static void op_exec(long n)
{
	while (n--) {
		pid_t pid = fork();
		if (pid == 0) {
			execl(self, "bench-guest", "exit", (char *)0);
			_exit(127);
		}
		reap(pid);
	}
}

static void op_fault(long n)
{
	while (n--) {
		char *p = mmap(0, FAULT_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			die("mmap");
		for (long i = 0; i < FAULT_BYTES; i += 4096)
			p[i] = 1;
		munmap(p, FAULT_BYTES);
	}
}

/* pipe and ctxsw: a child echoes SIZE-byte messages until the pipe closes. */
static int to_child, from_child;
static pid_t echo_pid;

static void echo_start(size_t size)
{
	int a[2], b[2];
	if (pipe(a) || pipe(b))
		die("pipe");
	echo_pid = fork();
	if (echo_pid == 0) {
		close(a[1]);
		close(b[0]);
		for (;;) {
			ssize_t r = read(a[0], buf, size), got = r;
			while (r > 0 && (size_t)got < size && (r = read(a[0], buf + got, size - got)) > 0)
				got += r;
			if (r <= 0)
				_exit(0);
			full(1, b[1], buf, size);
		}
	}
	close(a[0]);
	close(b[1]);
	to_child = a[1];
	from_child = b[0];
}

static void echo_stop(void)
{
	close(to_child);
	close(from_child);
	reap(echo_pid);
}

static void op_pipe(long n)
{
	while (n--) {
		full(1, to_child, buf, sizeof buf);
		full(0, from_child, buf, sizeof buf);
	}
}

static void op_ctxsw(long n)
{
	while (n--) {
		full(1, to_child, buf, 1);
		full(0, from_child, buf, 1);
	}
}

/* Run OP in doubling batches until MIN_NS have passed; print ns per unit,
 * where one call of OP(1) is PER units (pages, switches). */
static void timed(const char *name, void (*op)(long), double per)
{
	long n = 1, done = 0;
	int64_t t0 = now(), t;
	do {
		op(n);
		done += n;
		n *= 2;
		t = now();
	} while (t - t0 < MIN_NS);
	printf("%s %.1f\n", name, (double)(t - t0) / ((double)done * per));
	fflush(stdout);
}

static void cpu(void)
{
	uint32_t x = 12345, y = 67890;
	int64_t t0 = now();
	for (uint32_t i = 0; i < CPU_ITERS; i++) {
		x = x * 2654435761u + y;
		y ^= x >> 13;
		y += i;
		__asm__ volatile("" : "+r"(x), "+r"(y));	/* keep the loop a loop */
	}
	int64_t t = now();
	printf("cpu %.3f\n", (double)(t - t0) / CPU_ITERS);
	printf("bench-guest: cpu state %08x%08x\n", (unsigned)x, (unsigned)y);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "exit") == 0)
		return 0;	/* the exec test's child */
	printf("bench-guest: start\n");
	fflush(stdout);
	int pid1 = getpid() == 1;
	if (pid1 && mount("proc", "/proc", "proc", 0, 0) != 0) {
		mkdir("/proc", 0555);
		if (mount("proc", "/proc", "proc", 0, 0) != 0)
			die("mount /proc");
	}
	self = "/proc/self/exe";
	/* The exec'd path must stay valid across the fork: resolve it once. */
	static char path[4096];
	ssize_t len = readlink(self, path, sizeof path - 1);
	if (len > 0) {
		path[len] = 0;
		self = path;
	}

	timed("syscall", op_syscall, 1);
	echo_start(sizeof buf);
	timed("pipe", op_pipe, 1);
	echo_stop();
	timed("fork", op_fork, 1);
	timed("exec", op_exec, 1);
	timed("fault", op_fault, FAULT_BYTES / 4096);
	echo_start(1);
	timed("ctxsw", op_ctxsw, 2);
	echo_stop();
	cpu();
	printf("bench-guest: done\n");
	fflush(stdout);
	if (pid1) {
		const char *e = getenv("BENCH_EXIT");
		sync();
		reboot(e && strcmp(e, "reboot") == 0 ? RB_AUTOBOOT : RB_POWER_OFF);
		for (;;)
			pause();
	}
	return 0;
}

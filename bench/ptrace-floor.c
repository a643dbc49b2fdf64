/*
 * ptrace-floor.c - the host-side floors the monitor's trap costs are compared
 * with (bench/traps.sh). Run it pinned to one CPU (taskset -c 0): tracer and
 * child then take turns on that CPU, as the monitor and its guest do.
 *
 * usage: ptrace-floor ptrace|poll|regs|signal [ROUND_TRIPS]
 *   ptrace  a child executes hlt (a #GP in ring 3, SIGSEGV, as a rewritten
 *           site does); the tracer takes each stop the least the monitor
 *           must do: waitpid, GETSIGINFO, GETREGS, skip the hlt, SETREGS,
 *           resume with PTRACE_SYSEMU. The ptrace-stop floor.
 *   poll    the same, but waiting the monitor's way: waitpid(WNOHANG),
 *           then poll() on a signalfd for SIGCHLD, read it, waitpid again
 *           (lightvm/vm.c serves devices in the same poll).
 *   regs    only GETREGS + SETREGS on a child that stays stopped: the part
 *           of a stop that moves registers, which the monitor's --stats
 *           clock partly includes (it reads the registers inside it).
 *   signal  no tracer: a SIGSEGV handler in the process skips the hlt
 *           itself. What a trap could cost if handled without a stop.
 * Prints the nanoseconds of one round trip.
 */
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/signalfd.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#define WARMUP 1000
#define HLT_LEN 1

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void die(const char *what)
{
	perror(what);
	exit(2);
}

/* The traced child: stop so the tracer can set up, then fault forever. */
static void child_body(void)
{
	if (ptrace(PTRACE_TRACEME, 0, 0, 0))
		_exit(1);
	raise(SIGSTOP);
	for (;;)
		__asm__ volatile("hlt");
}

/* Block until the child stops, either with waitpid alone or the monitor's way. */
static void wait_stop(pid_t pid, int sfd)
{
	int status;

	if (sfd >= 0) {
		struct pollfd p = { sfd, POLLIN, 0 };
		struct signalfd_siginfo si;

		while (waitpid(pid, &status, __WALL | WNOHANG) == 0) {
			if (poll(&p, 1, -1) < 0)
				die("poll");
			if (read(sfd, &si, sizeof(si)) < 0)
				die("read signalfd");
		}
	} else if (waitpid(pid, &status, __WALL) < 0) {
		die("waitpid");
	}
	if (!WIFSTOPPED(status) || WSTOPSIG(status) != SIGSEGV) {
		fprintf(stderr, "ptrace-floor: unexpected child status %#x\n", status);
		exit(2);
	}
}

/* One trap: the child is resumed, faults on hlt, and the tracer skips it. */
static void round_trip(pid_t pid, int sfd)
{
	struct user_regs_struct r;
	siginfo_t info;

	if (ptrace(PTRACE_SYSEMU, pid, 0, 0))
		die("PTRACE_SYSEMU");
	wait_stop(pid, sfd);
	if (ptrace(PTRACE_GETSIGINFO, pid, 0, &info) || ptrace(PTRACE_GETREGS, pid, 0, &r))
		die("PTRACE_GETREGS");
	r.rip += HLT_LEN;
	if (ptrace(PTRACE_SETREGS, pid, 0, &r))
		die("PTRACE_SETREGS");
}

/* SIGCHLD as the monitor gets it: blocked, read from a signalfd. */
static int sigchld_fd(void)
{
	sigset_t set;
	int fd;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);
	fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		die("signalfd");
	return fd;
}

static double ptrace_floor(long n, int use_poll)
{
	int sfd = use_poll ? sigchld_fd() : -1, status;
	pid_t pid = fork();
	double t0, t1;

	if (pid < 0)
		die("fork");
	if (pid == 0)
		child_body();
	if (waitpid(pid, &status, __WALL) < 0 || !WIFSTOPPED(status))
		die("the child did not stop");
	for (long i = 0; i < WARMUP; i++)
		round_trip(pid, sfd);
	t0 = now_ns();
	for (long i = 0; i < n; i++)
		round_trip(pid, sfd);
	t1 = now_ns();
	kill(pid, SIGKILL);
	waitpid(pid, &status, __WALL);
	return (t1 - t0) / n;
}

static double regs_round_trip(long n)
{
	struct user_regs_struct r;
	pid_t pid = fork();
	double t0, t1;
	int status;

	if (pid < 0)
		die("fork");
	if (pid == 0)
		child_body();
	if (waitpid(pid, &status, __WALL) < 0 || !WIFSTOPPED(status))
		die("the child did not stop");
	t0 = now_ns();
	for (long i = 0; i < n; i++)
		if (ptrace(PTRACE_GETREGS, pid, 0, &r) || ptrace(PTRACE_SETREGS, pid, 0, &r))
			die("PTRACE_GETREGS");
	t1 = now_ns();
	kill(pid, SIGKILL);
	waitpid(pid, &status, __WALL);
	return (t1 - t0) / n;
}

static void skip_hlt(int sig, siginfo_t *si, void *ctx)
{
	((ucontext_t *)ctx)->uc_mcontext.gregs[REG_RIP] += HLT_LEN;
}

static double signal_round_trip(long n)
{
	struct sigaction sa;
	double t0, t1;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = skip_hlt;
	sa.sa_flags = SA_SIGINFO;
	if (sigaction(SIGSEGV, &sa, NULL))
		die("sigaction");
	for (long i = 0; i < WARMUP; i++)
		__asm__ volatile("hlt");
	t0 = now_ns();
	for (long i = 0; i < n; i++)
		__asm__ volatile("hlt");
	t1 = now_ns();
	return (t1 - t0) / n;
}

int main(int argc, char **argv)
{
	long n = argc > 2 ? atol(argv[2]) : 100000;
	double ns;

	if (argc < 2 || n <= 0) {
		fprintf(stderr, "usage: ptrace-floor ptrace|poll|regs|signal [ROUND_TRIPS]\n");
		return 2;
	}
	if (!strcmp(argv[1], "ptrace"))
		ns = ptrace_floor(n, 0);
	else if (!strcmp(argv[1], "poll"))
		ns = ptrace_floor(n, 1);
	else if (!strcmp(argv[1], "regs"))
		ns = regs_round_trip(n);
	else if (!strcmp(argv[1], "signal"))
		ns = signal_round_trip(n);
	else {
		fprintf(stderr, "ptrace-floor: unknown mode %s\n", argv[1]);
		return 2;
	}
	printf("%.1f\n", ns);
	return 0;
}

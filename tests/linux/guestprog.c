/*
 * guestprog.c - a static i386 program that the scripted Linux session
 * (tests/linux/session.sh) runs inside the guest. Built on the host with
 * `gcc -m32 -static -pthread`, it checks what a guest kernel gets wrong first
 * when the machine under it is not quite a PC: signal delivery and return
 * (with the FPU in use on both sides), pipes between processes, mmap, munmap
 * and mprotect faults, threads with TLS through %gs, and x87 floating point,
 * including an FPU control word of its own in each process and thread.
 *
 * It forks at once: parent and child run the same checks at the same time
 * (they meet at a barrier first and then take turns with sched_yield), and
 * the parent prints both lists afterwards, its own first, so the output is
 * the same on every run: "ok N - WHO: what" or "not ok N - WHO: what (why)",
 * then one summary line. Exit status 0 only if everything was ok.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <fenv.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096

/* ---------------------------------------------------------------- results */

static char results[16384];
static size_t results_len;
static int checks, failures;
static const char *who = "parent";

static void check(int ok, const char *what, const char *fmt, ...)
{
	char why[256] = "";
	int n;

	checks++;
	if (!ok) {
		failures++;
		if (fmt) {
			va_list ap;
			va_start(ap, fmt);
			vsnprintf(why, sizeof(why), fmt, ap);
			va_end(ap);
		}
	}
	n = snprintf(results + results_len, sizeof(results) - results_len, "%sok %d - %s: %s%s%s%s\n",
		     ok ? "" : "not ", checks, who, what, why[0] ? " (" : "", why, why[0] ? ")" : "");
	if (n > 0 && (size_t)n < sizeof(results) - results_len)
		results_len += n;
}

static void die(const char *what)
{
	fprintf(stderr, "guestprog: %s: %s: %s\n", who, what, strerror(errno));
	exit(2);
}

static ssize_t read_full(int fd, void *buf, size_t len)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = read(fd, (char *)buf + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -1 : (ssize_t)done;
		done += n;
	}
	return done;
}

static int write_full(int fd, const void *buf, size_t len)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = write(fd, (const char *)buf + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		done += n;
	}
	return 0;
}

/* --------------------------------------------------------------- signals */

static volatile sig_atomic_t usr1_count, usr1_code, usr1_pid_ok, alarm_count;

static void on_usr1(int sig, siginfo_t *si, void *uc)
{
	usr1_count++;
	usr1_code = si->si_code;
	usr1_pid_ok = si->si_pid == getpid();
}

static void on_alarm(int sig)
{
	alarm_count++;
}

/* Faults: the handler records what it saw and jumps back. */
static sigjmp_buf fault_jmp;
static volatile int fault_sig, fault_code;
static void *volatile fault_addr;

static void on_fault(int sig, siginfo_t *si, void *uc)
{
	fault_sig = sig;
	fault_code = si->si_code;
	fault_addr = si->si_addr;
	siglongjmp(fault_jmp, 1);
}

static void catch_faults(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGFPE, &sa, NULL);
}

/* Write (or read) *p; returns 0, or the signal it raised. */
static int try_access(volatile char *p, int write)
{
	fault_sig = 0;
	fault_addr = NULL;
	if (sigsetjmp(fault_jmp, 1) == 0) {
		if (write)
			*p = 0x5a;
		else
			(void)*p;
	}
	return fault_sig;
}

/* Integer division by the argument (0 faults). */
static int try_divide(volatile int by)
{
	volatile int q = 0;
	fault_sig = 0;
	if (sigsetjmp(fault_jmp, 1) == 0)
		q = 1000 / by;
	(void)q;
	return fault_sig;
}

/* A long x87 computation; the signal handler below computes another one. */
static double fp_work(int n)
{
	volatile double acc = 0.0;
	for (int k = 1; k <= n; k++)
		acc += sqrt((double)k) / (double)k;
	return acc;
}

static volatile double handler_fp;
static void on_tick(int sig)
{
	handler_fp += fp_work(50);
}

static void check_signals(void)
{
	struct sigaction sa;
	sigset_t set, old, pending;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_usr1;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGUSR1, &sa, NULL);
	kill(getpid(), SIGUSR1);
	check(usr1_count == 1 && usr1_code == SI_USER && usr1_pid_ok,
	      "signals: kill(getpid(), SIGUSR1) runs the handler once with SI_USER and our pid",
	      "count %d, code %d", (int)usr1_count, (int)usr1_code);

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, &old);
	raise(SIGUSR1);
	raise(SIGUSR1);
	sigpending(&pending);
	int was_pending = sigismember(&pending, SIGUSR1) && usr1_count == 1;
	sigprocmask(SIG_SETMASK, &old, NULL);
	check(was_pending && usr1_count == 2,
	      "signals: a blocked signal stays pending and is delivered once when unblocked",
	      "pending %d, count %d", was_pending, (int)usr1_count);

	signal(SIGALRM, on_alarm);
	sigprocmask(SIG_BLOCK, &(sigset_t){{1UL << (SIGALRM - 1)}}, &old);
	struct itimerval it = { .it_value = { 0, 20000 } };
	setitimer(ITIMER_REAL, &it, NULL);
	sigset_t wait_set = old;
	sigdelset(&wait_set, SIGALRM);
	sigsuspend(&wait_set);
	sigprocmask(SIG_SETMASK, &old, NULL);
	check(alarm_count == 1, "signals: a 20 ms ITIMER_REAL wakes sigsuspend with SIGALRM",
	      "count %d", (int)alarm_count);

	catch_faults();
	int sig = try_divide(0);
	check(sig == SIGFPE && fault_code == FPE_INTDIV,
	      "signals: integer division by zero raises SIGFPE with FPE_INTDIV",
	      "signal %d, code %d", sig, fault_code);
	check(try_divide(7) == 0, "signals: the handler's siglongjmp leaves the process working", NULL);

	/* The FPU state of the interrupted code survives handlers that use it. */
	double quiet = fp_work(200000);
	signal(SIGALRM, on_tick);
	struct itimerval tick = { .it_interval = { 0, 1000 }, .it_value = { 0, 1000 } };
	setitimer(ITIMER_REAL, &tick, NULL);
	double busy = 0;
	for (int i = 0; i < 5; i++)
		busy = fp_work(200000);
	struct itimerval stop = { { 0, 0 }, { 0, 0 } };
	setitimer(ITIMER_REAL, &stop, NULL);
	signal(SIGALRM, SIG_DFL);
	check(busy == quiet && handler_fp > 0,
	      "signals: x87 results are exact while 1 ms SIGALRM handlers use the FPU",
	      "%a vs %a, handler %s", busy, quiet, handler_fp > 0 ? "ran" : "never ran");
}

/* ----------------------------------------------------------------- pipes */

static uint8_t pattern(uint32_t i)
{
	return (uint8_t)(i * 2654435761u >> 24);
}

static void check_pipes(void)
{
	enum { TOTAL = 1 << 20, CHUNK = 4093 };
	int fds[2];

	if (pipe(fds) < 0)
		die("pipe");
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		static uint8_t buf[CHUNK];
		close(fds[0]);
		for (uint32_t off = 0; off < TOTAL; off += CHUNK) {
			uint32_t n = TOTAL - off < CHUNK ? TOTAL - off : CHUNK;
			for (uint32_t i = 0; i < n; i++)
				buf[i] = pattern(off + i);
			if (write_full(fds[1], buf, n) < 0)
				_exit(1);
		}
		_exit(0);
	}
	close(fds[1]);
	static uint8_t buf[65536];
	uint32_t got = 0, bad = 0, sizes[] = { 1, 511, 4096, 65536, 3 };
	for (int k = 0;; k++) {
		ssize_t n = read(fds[0], buf, sizes[k % 5]);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (ssize_t i = 0; i < n; i++)
			bad += buf[i] != pattern(got + i);
		got += n;
	}
	close(fds[0]);
	int status;
	waitpid(pid, &status, 0);
	check(got == TOTAL && bad == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "pipes: 1 MiB from a child in 4093-byte writes arrives intact, then EOF",
	      "%u bytes, %u wrong, status %#x", got, bad, status);

	if (pipe(fds) < 0)
		die("pipe");
	struct pollfd p = { .fd = fds[0], .events = POLLIN };
	int empty = poll(&p, 1, 10);
	write_full(fds[1], "x", 1);
	int full = poll(&p, 1, 1000);
	check(empty == 0 && full == 1 && (p.revents & POLLIN),
	      "pipes: poll times out on an empty pipe and sees POLLIN after a write",
	      "%d then %d, revents %#x", empty, full, p.revents);

	close(fds[0]);
	signal(SIGPIPE, SIG_IGN);
	errno = 0;
	ssize_t w = write(fds[1], "y", 1);
	check(w == -1 && errno == EPIPE, "pipes: writing with no reader fails with EPIPE",
	      "returned %zd, errno %d", w, errno);
	close(fds[1]);
	signal(SIGPIPE, SIG_DFL);
}

/* ------------------------------------------------------------------ mmap */

static void check_mmap(void)
{
	enum { SIZE = 16 << 20 };
	char *m = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		die("mmap");
	uint32_t nonzero = 0;
	for (uint32_t off = 0; off < SIZE; off += PAGE)
		nonzero += m[off] != 0 || m[off + PAGE - 1] != 0;
	for (uint32_t off = 0; off < SIZE; off += 4)
		*(uint32_t *)(m + off) = off ^ 0xa5a5a5a5u;
	uint32_t wrong = 0;
	for (uint32_t off = 0; off < SIZE; off += 4)
		wrong += *(uint32_t *)(m + off) != (off ^ 0xa5a5a5a5u);
	check(nonzero == 0 && wrong == 0, "mmap: 16 MiB of anonymous memory starts zeroed and keeps what is written",
	      "%u pages not zero, %u words wrong", nonzero, wrong);

	char *hole = m + (8 << 20);
	munmap(hole, 1 << 20);
	int sig = try_access(hole + 12345, 0);
	int code = fault_code;
	void *addr = fault_addr;
	int after = try_access(hole + (1 << 20), 0);
	check(sig == SIGSEGV && code == SEGV_MAPERR && addr == hole + 12345 && after == 0 &&
		      *(uint32_t *)(hole - 4) == (((uint32_t)(8 << 20) - 4) ^ 0xa5a5a5a5u),
	      "munmap: a read in the hole faults (SEGV_MAPERR at that address), the rest is intact",
	      "signal %d, code %d, %s address", sig, code, addr == hole + 12345 ? "same" : "other");

	char *ro = m + PAGE * 3;
	mprotect(ro, PAGE, PROT_READ);
	int rd = try_access(ro + 100, 0);
	sig = try_access(ro + 100, 1);
	code = fault_code;
	addr = fault_addr;
	check(rd == 0 && sig == SIGSEGV && code == SEGV_ACCERR && addr == ro + 100,
	      "mprotect: a read-only page can be read; a write faults (SEGV_ACCERR at that address)",
	      "read %d, write signal %d, code %d", rd, sig, code);
	mprotect(ro, PAGE, PROT_NONE);
	sig = try_access(ro, 0);
	mprotect(ro, PAGE, PROT_READ | PROT_WRITE);
	int wr = try_access(ro + 100, 1);
	check(sig == SIGSEGV && wr == 0 && ro[100] == 0x5a,
	      "mprotect: PROT_NONE faults on a read; back to read-write, the write lands", "read signal %d, write %d",
	      sig, wr);
	munmap(m, SIZE);

	/* Shared and private mappings across fork. */
	volatile uint32_t *shared = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	volatile uint32_t *private = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (shared == MAP_FAILED || private == MAP_FAILED)
		die("mmap");
	shared[0] = 1;
	private[0] = 1;
	pid_t pid = fork();
	if (pid == 0) {
		shared[0] = 0xc0ffee;
		private[0] = 0xdead;
		_exit(private[0] == 0xdead ? 0 : 1);
	}
	int status;
	waitpid(pid, &status, 0);
	check(shared[0] == 0xc0ffee && private[0] == 1 && status == 0,
	      "mmap: after fork a MAP_SHARED page shows the child's write, a private page does not",
	      "shared %#x, private %#x", shared[0], private[0]);

	/* A file on tmpfs, changed through a shared mapping, read with read(). */
	char path[64];
	snprintf(path, sizeof(path), "/tmp/guestprog-%s", who);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		die("open");
	static char page[PAGE];
	memset(page, 'a', sizeof(page));
	write_full(fd, page, sizeof(page));
	char *f = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (f == MAP_FAILED)
		die("mmap file");
	memcpy(f + 1000, "lilyvm", 6);
	msync(f, PAGE, MS_SYNC);
	munmap(f, PAGE);
	char back[8] = "";
	pread(fd, back, 6, 1000);
	close(fd);
	unlink(path);
	check(memcmp(back, "lilyvm", 6) == 0, "mmap: a write through a shared file mapping reaches read()",
	      "read back \"%.6s\"", back);
	munmap((void *)shared, PAGE);
	munmap((void *)private, PAGE);
}

/* --------------------------------------------------------------- threads */

enum { THREADS = 4, ROUNDS = 2000, INCREMENTS = 100000 };

static __thread uint32_t tls_value = 7;
static __thread char tls_block[256];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t barrier;
static uint32_t counter;

struct thread_result {
	int id;
	int tls_ok, self_ok, fp_ok;
	uintptr_t tls_addr;
};

/* The thread pointer glibc keeps at %gs:0 (the TCB's self pointer). */
static uintptr_t gs_self(void)
{
	uintptr_t v;
	__asm__ volatile("movl %%gs:0, %0" : "=r"(v));
	return v;
}

/* 1/3 rounded to a double in the current rounding mode. The store to
 * memory does the rounding: x87 registers hold 64-bit mantissas, and a value
 * returned in %st(0) has not been rounded to a double yet. */
static double third(void)
{
	volatile double one = 1.0, three = 3.0, r;
	r = one / three;
	return r;
}

static void *thread_main(void *arg)
{
	struct thread_result *r = arg;
	static const int modes[THREADS] = { FE_UPWARD, FE_DOWNWARD, FE_TONEAREST, FE_TOWARDZERO };

	fesetround(modes[r->id]);
	double mine = third();
	tls_value = 1000 + r->id;
	memset(tls_block, 'A' + r->id, sizeof(tls_block));
	r->tls_addr = (uintptr_t)&tls_value;
	r->self_ok = gs_self() == (uintptr_t)pthread_self();
	pthread_barrier_wait(&barrier);
	r->tls_ok = 1;
	r->fp_ok = 1;
	for (int i = 0; i < ROUNDS; i++) {
		sched_yield();
		if (tls_value != (uint32_t)(1000 + r->id) || tls_block[i % 256] != 'A' + r->id)
			r->tls_ok = 0;
		if (third() != mine || fegetround() != modes[r->id])
			r->fp_ok = 0;
		tls_value = 1000 + r->id;
	}
	for (int i = 0; i < INCREMENTS; i++) {
		pthread_mutex_lock(&lock);
		counter++;
		pthread_mutex_unlock(&lock);
	}
	r->self_ok &= gs_self() == (uintptr_t)pthread_self();
	return NULL;
}

static void check_threads(void)
{
	pthread_t t[THREADS];
	struct thread_result r[THREADS];

	pthread_barrier_init(&barrier, NULL, THREADS);
	tls_value = 42;
	for (int i = 0; i < THREADS; i++) {
		memset(&r[i], 0, sizeof(r[i]));
		r[i].id = i;
		if (pthread_create(&t[i], NULL, thread_main, &r[i]) != 0)
			die("pthread_create");
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	int tls = 1, self = 1, fp = 1, distinct = 1;
	for (int i = 0; i < THREADS; i++) {
		tls &= r[i].tls_ok;
		self &= r[i].self_ok;
		fp &= r[i].fp_ok;
		for (int j = 0; j < i; j++)
			distinct &= r[i].tls_addr != r[j].tls_addr && r[i].tls_addr != (uintptr_t)&tls_value;
	}
	check(tls && distinct && tls_value == 42,
	      "threads: 4 threads keep their own __thread variables across 2000 yields", "kept %d, distinct %d, main %u",
	      tls, distinct, tls_value);
	check(self && gs_self() == (uintptr_t)pthread_self(),
	      "threads: %gs:0 is each thread's own thread pointer", NULL);
	check(fp, "threads: each thread keeps its own x87 rounding mode across switches", NULL);
	check(counter == THREADS * INCREMENTS, "threads: a mutex makes 4 x 100000 increments exact", "counter %u",
	      counter);
}

/* --------------------------------------------------------- floating point */

/* Shared with the other process: how far each has got. */
struct race {
	volatile uint32_t progress[2];
	volatile uint32_t saw_other[2];
};

static void check_fp(struct race *race, int me)
{
	volatile double half = 0.5, acc = 0.0;
	for (int k = 1; k <= 100000; k++)
		acc += k * half;
	check(acc == 100000.0 * 100001.0 / 4.0, "fp: a sum of 100000 halves is exact", "got %a", acc);

	/* Results go through volatile doubles: see third(). */
	int exact = 1;
	volatile double r, one = 1.0, sixth = M_PI / 6, ten = 10.0;
	for (int k = 1; k <= 1000; k++) {
		r = sqrt((double)k * k);
		exact &= r == k;
	}
	volatile double pi = 4.0 * atan(one), s = sin(sixth), e = exp(log(ten));
	check(exact && pi == M_PI && fabs(s - 0.5) < 1e-15 && fabs(e - 10.0) < 1e-14,
	      "fp: sqrt of squares, 4 atan(1), sin, exp and log give the right values", "exact %d, pi %a, sin %a, exp %a",
	      exact, pi, s, e);

	volatile long double ld = 1.0L;
	ld /= 3.0L;
	check(ld * 3.0L == 1.0L && (double)ld != ld, "fp: long double keeps 64-bit mantissas", NULL);

	/* Parent rounds up, child rounds down, taking turns on the CPU. */
	int mode = me == 0 ? FE_UPWARD : FE_DOWNWARD;
	fesetround(mode);
	double mine = third();
	int kept = 1;
	uint32_t last_other = race->progress[!me];
	for (uint32_t i = 1; i <= 5000; i++) {
		race->progress[me] = i;
		if (third() != mine || fegetround() != mode)
			kept = 0;
		sched_yield();
		if (race->progress[!me] != last_other) {
			race->saw_other[me]++;
			last_other = race->progress[!me];
		}
	}
	fesetround(FE_TONEAREST);
	volatile double up_minus_down;
	{
		fesetround(FE_UPWARD);
		double up = third();
		fesetround(FE_DOWNWARD);
		double down = third();
		fesetround(FE_TONEAREST);
		up_minus_down = up - down;
	}
	check(kept && up_minus_down > 0,
	      me == 0 ? "fp: rounding upward stays in force while the child rounds downward"
		      : "fp: rounding downward stays in force while the parent rounds upward",
	      NULL);

	catch_faults();
	feclearexcept(FE_ALL_EXCEPT);
	feenableexcept(FE_DIVBYZERO);
	fault_sig = 0;
	if (sigsetjmp(fault_jmp, 1) == 0) {
		volatile double zero = 0.0, r = 1.0 / zero;
		(void)r;
		__asm__ volatile("fwait");
	}
	int sig = fault_sig, code = fault_code;
	fedisableexcept(FE_ALL_EXCEPT);
	__asm__ volatile("fninit");
	check(sig == SIGFPE && code == FPE_FLTDIV, "fp: an unmasked x87 division by zero raises SIGFPE with FPE_FLTDIV",
	      "signal %d, code %d", sig, code);
}

/* ------------------------------------------------------------------ main */

static void run_checks(struct race *race, int me)
{
	check_fp(race, me);
	check_signals();
	check_pipes();
	check_mmap();
	check_threads();
	/* Both processes waited for each other at the start and yield in
	 * check_fp, so each must have seen the other move. */
	check(race->saw_other[me] > 0, "ran at the same time as the other process", "saw it move %u times",
	      race->saw_other[me]);
}

int main(void)
{
	int to_parent[2], go[2], ready[2];
	struct race *race = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (race == MAP_FAILED || pipe(to_parent) < 0 || pipe(go) < 0 || pipe(ready) < 0)
		die("setup");
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	char c = 0;
	if (pid == 0) {
		who = "child";
		close(to_parent[0]);
		write_full(ready[1], "r", 1);
		read_full(go[0], &c, 1);
		run_checks(race, 1);
		char line[64];
		int n = snprintf(line, sizeof(line), "%d %d\n", checks, failures);
		write_full(to_parent[1], line, n);
		write_full(to_parent[1], results, results_len);
		_exit(failures ? 1 : 0);
	}
	close(to_parent[1]);
	read_full(ready[0], &c, 1);
	write_full(go[1], "g", 1);
	run_checks(race, 0);

	static char child[sizeof(results) + 64];
	ssize_t n = read_full(to_parent[0], child, sizeof(child) - 1);
	int status = 0;
	waitpid(pid, &status, 0);
	int child_checks = 0, child_failures = 0;
	char *body = child;
	if (n > 0) {
		child[n] = '\0';
		sscanf(child, "%d %d", &child_checks, &child_failures);
		body = strchr(child, '\n');
		body = body ? body + 1 : child + n;
	}
	fputs(results, stdout);
	fputs(body, stdout);
	int child_ok = n > 0 && WIFEXITED(status) && WEXITSTATUS(status) == (child_failures ? 1 : 0);
	printf("guestprog: %d checks in the parent, %d in the child, %d not ok%s\n", checks, child_checks,
	       failures + child_failures, child_ok ? "" : ", and the child did not finish cleanly");
	return failures || child_failures || !child_ok;
}

/*
 * test-child.c - the guest's process: nothing but the stub is mapped in it,
 * and once locked down, any host system call other than the monitor's own
 * kills it (the seccomp backstop behind PTRACE_SYSEMU).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lightvm/child.h"

#define NR32_GETPID 20
#define NR32_MMAP2 192
#define CODE_ADDR 0x10000000u

static int failures;

static void check(int ok, const char *what)
{
	printf("%s - %s\n", ok ? "ok" : "not ok", what);
	failures += !ok;
}

static int count_mappings(pid_t pid, char *first, size_t len)
{
	char path[64], line[256];
	int n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	if (!(f = fopen(path, "r")))
		return -1;
	while (fgets(line, sizeof(line), f))
		if (n++ == 0)
			snprintf(first, len, "%s", line);
	fclose(f);
	return n;
}

/* A child with the scratch page mapped and the filter installed. */
static struct child *locked_child(int ram_fd, void *scratch)
{
	char err[256];
	struct child *c;

	if (child_start(&c, ram_fd, 0, scratch, err, sizeof(err))) {
		printf("# %s\n", err);
		return NULL;
	}
	if (child_lock_down(c, scratch, SCRATCH_ADDR)) {
		child_destroy(c);
		return NULL;
	}
	return c;
}

static int killed_by_sigsys(int status)
{
	return status != -1 && WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS;
}

/* Reap a child the test resumed itself and say how it ended. */
static int reap(pid_t pid)
{
	int status;

	return waitpid(pid, &status, __WALL) == pid ? status : -1;
}

int main(void)
{
	int ram_fd = memfd_create("test-ram", 0);
	void *scratch;
	char first[256] = "";
	struct child *c;
	struct user_regs_struct r;
	pid_t pid;

	if (ram_fd < 0 || ftruncate(ram_fd, 4096) ||
	    (scratch = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, ram_fd, 0)) == MAP_FAILED)
		return 99;

	c = locked_child(ram_fd, scratch);
	check(c != NULL, "the child starts, maps its scratch page and locks down");
	if (!c)
		return 1;
	check(count_mappings(child_pid(c), first, sizeof(first)) == 2 && !strncmp(first, "ffffc000-", 9),
	      "only the scratch page and the stub are mapped, at the top of 4 GiB");

	/* A call the filter does not allow, even from the stub's own gadget. */
	/* The kill is a forced SIGSYS: the child dies when it next runs. */
	child_syscall(c, NR32_GETPID, 0, 0, 0, 0, 0, 0);
	check(child_syscall(c, NR32_GETPID, 0, 0, 0, 0, 0, 0) < 0 &&
	      killed_by_sigsys(child_exit_status(c)),
	      "getpid from the gadget kills the child (SIGSYS)");
	child_destroy(c);

	/* int $0x80 anywhere else, run without PTRACE_SYSEMU to catch it first. */
	c = locked_child(ram_fd, scratch);
	pid = c ? child_pid(c) : -1;
	if (!c || child_syscall(c, NR32_MMAP2, CODE_ADDR, 4096, PROT_READ | PROT_EXEC,
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != (long)CODE_ADDR ||
	    ptrace(PTRACE_POKEDATA, pid, CODE_ADDR, 0x80cd) || child_get_regs(c, &r))
		return 99;
	r.rip = CODE_ADDR;
	r.rax = r.orig_rax = NR32_GETPID;
	child_set_regs(c, &r);
	ptrace(PTRACE_CONT, pid, 0, 0);
	check(killed_by_sigsys(reap(pid)), "int $0x80 outside the gadget kills the child (SIGSYS)");
	child_destroy(c);
	printf("1..4\n");
	return failures ? 1 : 0;
}

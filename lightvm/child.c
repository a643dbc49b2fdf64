/*
 * child.c - the traced child: start it, strip it, lock it down, run it.
 *
 * The guest runs under PTRACE_SYSEMU, so every system-call instruction it
 * executes (int $0x80, sysenter, syscall) stops here before the host kernel
 * acts on it and is never executed. The child's own host calls are run by
 * the stub (stub.S) in batches, one ptrace stop per batch; a seccomp filter
 * kills the child if any instruction pointer but the stub's gadget ever
 * makes one.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lightvm/child.h"
#include "lightvm/log.h"

/* i386 system-call numbers: the child is a 32-bit process. */
#define NR32_MMAP2 192
#define NR32_MUNMAP 91
#define NR32_MREMAP 163
#define NR32_PRCTL 172
#define NR32_SECCOMP 354

/* The stub program, linked into the monitor by stub_blob.S. */
extern const unsigned char lilyvm_stub_elf[], lilyvm_stub_elf_end[];

/* stub.S: int3 at _start, the gadget at +1, the batch loop at +16. */
#define STUB_GADGET_OFF 1
#define STUB_BATCH_OFF 16
#define HOST_CODE32 0x23	/* the host's flat 32-bit user segments */
#define HOST_DATA 0x2b

/* A batch record in the scratch page, as stub.S reads it. */
struct batch_call {
	uint32_t nr, arg[6];
	int32_t result;
};

#define BATCH_MAX ((4096 - CHILD_BATCH_OPS) / sizeof(struct batch_call))

struct child {
	pid_t pid;
	uint32_t gadget;	/* address of the stub's int $0x80 */
	uint32_t batch;		/* address of its batch loop */
	uint8_t *scratch;	/* the scratch page, as the monitor sees it */
	size_t queued;		/* calls waiting in the scratch page */
	int gone;		/* it exited or was killed; status holds how */
	int status;
	char error[128];	/* the first failed call of the last batch */
};

static int fail(char *err, size_t errlen, const char *what)
{
	snprintf(err, errlen, "%s: %s", what, strerror(errno));
	return -1;
}

pid_t child_pid(const struct child *c)
{
	return c->pid;
}

/* Wait for the next stop of the child, whatever it is. */
static int wait_stop(struct child *c, int *status)
{
	for (;;) {
		pid_t r = waitpid(c->pid, status, __WALL);

		if (r == c->pid && !WIFSTOPPED(*status)) {
			c->gone = 1;
			c->status = *status;
			return -1;
		}
		if (r == c->pid)
			return 0;
		if (r < 0 && errno != EINTR)
			return -1;
	}
}

int child_get_regs(struct child *c, struct user_regs_struct *r)
{
	return ptrace(PTRACE_GETREGS, c->pid, 0, r) ? -1 : 0;
}

int child_set_regs(struct child *c, const struct user_regs_struct *r)
{
	return ptrace(PTRACE_SETREGS, c->pid, 0, r) ? -1 : 0;
}

/* Resume with PTRACE_SYSCALL until the syscall-entry stop at the gadget. */
static int run_to_gadget_entry(struct child *c)
{
	struct user_regs_struct r;
	int status;

	for (;;) {
		if (ptrace(PTRACE_SYSCALL, c->pid, 0, 0) || wait_stop(c, &status))
			return -1;
		if (WSTOPSIG(status) != (SIGTRAP | 0x80))
			continue;	/* a pending kick or other signal: drop it */
		if (child_get_regs(c, &r))
			return -1;
		if (r.rip == c->gadget + 2)
			return 0;
	}
}

/* One host call by stepping through the gadget's syscall stops: before the scratch page exists. */
static long raw_syscall(struct child *c, long nr, long a1, long a2, long a3, long a4, long a5,
			long a6)
{
	struct user_regs_struct saved, r;
	int status;
	long ret;

	if (child_get_regs(c, &saved))
		return -errno;
	r = saved;
	r.rip = c->gadget;
	r.rax = r.orig_rax = nr;
	r.rbx = a1, r.rcx = a2, r.rdx = a3, r.rsi = a4, r.rdi = a5, r.rbp = a6;
	if (child_set_regs(c, &r) || run_to_gadget_entry(c))
		return -EIO;
	if (ptrace(PTRACE_SYSCALL, c->pid, 0, 0) || wait_stop(c, &status) || child_get_regs(c, &r))
		return -EIO;
	/* Addresses above 2 GiB are results too; only -4095..-1 are errors. */
	ret = (uint32_t)r.rax >= 0xfffff001u ? (int32_t)r.rax : (long)(uint32_t)r.rax;
	saved.orig_rax = -1;	/* no system-call restart on the way back */
	if (child_set_regs(c, &saved))
		return -EIO;
	return ret;
}

/* In the forked child: become the traced stub. Never returns. */
static void exec_stub(int stub_fd, int ram_fd)
{
	char *const argv[] = { "lilyvm-guest", NULL }, *const envp[] = { NULL };

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (ptrace(PTRACE_TRACEME, 0, 0, 0))
		_exit(126);
	personality(ADDR_NO_RANDOMIZE);
	/* Move both out of the way first, so dup2 never lands on itself. */
	ram_fd = fcntl(ram_fd, F_DUPFD, 100);
	stub_fd = fcntl(stub_fd, F_DUPFD, 100);
	if (ram_fd < 0 || stub_fd < 0 || dup2(ram_fd, CHILD_RAM_FD) < 0 ||
	    dup2(stub_fd, CHILD_RAM_FD + 1) < 0)
		_exit(126);
	/* The guest gets nothing of the monitor's: no terminal, no files. */
	close(0), close(1), close(2);
	syscall(SYS_close_range, CHILD_RAM_FD + 2, ~0u, 0);
	fcntl(CHILD_RAM_FD + 1, F_SETFD, FD_CLOEXEC);
	fexecve(CHILD_RAM_FD + 1, argv, envp);
	_exit(127);
}

static int stub_memfd(void)
{
	size_t len = lilyvm_stub_elf_end - lilyvm_stub_elf;
	int fd = memfd_create("lilyvm-stub", MFD_CLOEXEC);

	if (fd >= 0 && write(fd, lilyvm_stub_elf, len) != (ssize_t)len) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* Unmap every mapping but the stub's own page: read the layout from /proc. */
static int strip_address_space(struct child *c, uint32_t stub_page)
{
	char path[64], line[256];
	uint32_t lo[16], hi[16];
	int n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", c->pid);
	if (!(f = fopen(path, "r")))
		return -1;
	while (n < 16 && fgets(line, sizeof(line), f))
		if (sscanf(line, "%x-%x", &lo[n], &hi[n]) == 2 && lo[n] != stub_page)
			n++;
	fclose(f);
	for (int i = 0; i < n; i++)
		if (raw_syscall(c, NR32_MUNMAP, lo[i], hi[i] - lo[i], 0, 0, 0, 0))
			return -1;
	return 0;
}

/* Move the stub page to STUB_ADDR, out of the way of guest addresses. */
static int move_stub(struct child *c, uint32_t stub_page)
{
	long r = raw_syscall(c, NR32_MREMAP, stub_page, 4096, 4096,
			     MREMAP_MAYMOVE | MREMAP_FIXED, STUB_ADDR, 0);

	if (r != (long)STUB_ADDR)
		return -1;
	c->gadget = STUB_ADDR + (c->gadget & 0xfff);
	c->batch = STUB_ADDR + (c->batch & 0xfff);
	return 0;
}

/* The scratch page: the last page of the RAM memfd, at page scratch_pgoff. */
static int map_scratch(struct child *c, uint32_t scratch_pgoff)
{
	long r = raw_syscall(c, NR32_MMAP2, SCRATCH_ADDR, 4096, PROT_READ | PROT_WRITE,
			     MAP_SHARED | MAP_FIXED, CHILD_RAM_FD, scratch_pgoff);

	return r == (long)SCRATCH_ADDR ? 0 : -1;
}

/* Run the stub from the batch loop to its final int3; kicks that arrive meanwhile are dropped. */
static int run_stub(struct child *c)
{
	struct user_regs_struct r;
	int status;

	for (;;) {
		if (ptrace(PTRACE_CONT, c->pid, 0, 0) || wait_stop(c, &status))
			return -1;
		if (WSTOPSIG(status) == SIGTRAP)
			break;
		if (WSTOPSIG(status) != SIGUSR1 && WSTOPSIG(status) != SIGALRM &&
		    WSTOPSIG(status) != SIGIO)
			return -1;
	}
	return child_get_regs(c, &r) || ((uint32_t)r.rip & ~0xfffu) != STUB_ADDR ? -1 : 0;
}

/* Note the first failed call of a batch. */
static int check_results(struct child *c, const struct batch_call *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i].result < 0 && b[i].result > -4096) {
			snprintf(c->error, sizeof(c->error), "host call %u(%#x, %#x, %#x) failed: %s",
				 b[i].nr, b[i].arg[0], b[i].arg[1], b[i].arg[2],
				 strerror(-b[i].result));
			return -1;
		}
	return 0;
}

int child_flush(struct child *c)
{
	struct batch_call *b = (struct batch_call *)(c->scratch + CHILD_BATCH_OPS);
	uint32_t end = SCRATCH_ADDR + CHILD_BATCH_OPS + c->queued * sizeof(*b);
	struct user_regs_struct saved, r;
	size_t n = c->queued;

	if (!n)
		return 0;
	c->queued = 0;
	memcpy(c->scratch + CHILD_BATCH_HDR, &end, 4);
	if (child_get_regs(c, &saved))
		return -1;
	r = saved;
	r.rip = c->batch;
	r.rsp = SCRATCH_ADDR + CHILD_BATCH_OPS;
	r.cs = HOST_CODE32;
	r.ss = r.ds = r.es = HOST_DATA;
	r.eflags = 0x202;
	r.orig_rax = -1;
	if (child_set_regs(c, &r) || run_stub(c) || child_set_regs(c, &saved)) {
		snprintf(c->error, sizeof(c->error), "the child's stub did not run its batch");
		return -1;
	}
	return check_results(c, b, n);
}

int child_queue(struct child *c, long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
	struct batch_call *b;

	if (c->queued == BATCH_MAX && child_flush(c))
		return -1;
	b = (struct batch_call *)(c->scratch + CHILD_BATCH_OPS) + c->queued++;
	*b = (struct batch_call){ nr, { a1, a2, a3, a4, a5, a6 }, 0 };
	return 0;
}

long child_syscall(struct child *c, long nr, long a1, long a2, long a3, long a4, long a5,
		   long a6)
{
	const struct batch_call *b = (const struct batch_call *)(c->scratch + CHILD_BATCH_OPS);

	if (child_flush(c) || child_queue(c, nr, a1, a2, a3, a4, a5, a6))
		return -EIO;
	if (child_flush(c) && b->result >= 0)
		return -EIO;
	return b->result >= -4095 && b->result < 0 ? b->result : (long)(uint32_t)b->result;
}

const char *child_error(const struct child *c)
{
	return c->error;
}

static uint32_t stub_entry(void)
{
	const Elf32_Ehdr *eh = (const Elf32_Ehdr *)lilyvm_stub_elf;

	return eh->e_entry;
}

int child_start(struct child **out, int ram_fd, uint32_t scratch_pgoff, void *scratch, char *err,
		size_t errlen)
{
	struct child *c = calloc(1, sizeof(*c));
	int stub_fd = stub_memfd(), status;
	uint32_t entry = stub_entry();

	if (!c || stub_fd < 0)
		return free(c), fail(err, errlen, "cannot prepare the guest process");
	c->pid = fork();
	if (c->pid == 0)
		exec_stub(stub_fd, ram_fd);
	close(stub_fd);
	if (c->pid < 0)
		return free(c), fail(err, errlen, "fork");
	if (wait_stop(c, &status) || WSTOPSIG(status) != SIGTRAP ||
	    ptrace(PTRACE_SETOPTIONS, c->pid, 0, PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL)) {
		snprintf(err, errlen, "the guest process did not start under ptrace (status 0x%x)",
			 status);
		child_destroy(c);
		return -1;
	}
	c->gadget = entry + STUB_GADGET_OFF;
	c->batch = entry + STUB_BATCH_OFF;
	c->scratch = scratch;
	if (strip_address_space(c, entry & ~0xfffu) || move_stub(c, entry & ~0xfffu) ||
	    map_scratch(c, scratch_pgoff)) {
		snprintf(err, errlen, "cannot strip the guest process's address space");
		child_destroy(c);
		return -1;
	}
	*out = c;
	return 0;
}

/*
 * The filter: i386 system calls from the gadget only, and of those only
 * what the monitor itself asks the child to do. Anything else, including
 * a 64-bit system call from code that switched to a 64-bit segment, kills it.
 */
static size_t build_filter(struct sock_filter *f, uint32_t gadget_ret)
{
	static const uint32_t allowed[] = { 90 /* old_mmap */, 192 /* mmap2 */, NR32_MUNMAP,
					    125 /* mprotect */, NR32_MREMAP, 123 /* modify_ldt */,
					    243 /* set_thread_area */, 252 /* exit_group */ };
	size_t n = 0;

	f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
					      offsetof(struct seccomp_data, arch));
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_I386, 1, 0);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
					      offsetof(struct seccomp_data, instruction_pointer));
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, gadget_ret, 1, 0);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
					      offsetof(struct seccomp_data, nr));
	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++) {
		f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, allowed[i], 0, 1);
		f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	}
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
	return n;
}

int child_lock_down(struct child *c, void *scratch, uint32_t scratch_addr)
{
	struct sock_filter *f = (struct sock_filter *)((uint8_t *)scratch + 8);
	uint16_t len = build_filter(f, c->gadget + 2);
	uint32_t prog_addr = scratch_addr, filter_addr = scratch_addr + 8;

	/* struct sock_fprog as a 32-bit process sees it: u16 len, u32 pointer. */
	memcpy(scratch, &len, 2);
	memcpy((uint8_t *)scratch + 4, &filter_addr, 4);
	if (child_syscall(c, NR32_PRCTL, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0, 0))
		return -1;
	return child_syscall(c, NR32_SECCOMP, SECCOMP_SET_MODE_FILTER, 0, prog_addr, 0, 0, 0) ? -1 : 0;
}

/*
 * The x87 and SSE state (FXSAVE format) is what the guest's CPUID offers;
 * copying the whole XSAVE area as well costs four times as much here.
 */
int child_copy_fpu(struct child *from, struct child *to)
{
	struct user_fpregs_struct fp;

	if (ptrace(PTRACE_GETFPREGS, from->pid, 0, &fp))
		return -1;
	return ptrace(PTRACE_SETFPREGS, to->pid, 0, &fp) ? -1 : 0;
}

int child_resume(struct child *c, int step)
{
	return ptrace(step ? PTRACE_SYSEMU_SINGLESTEP : PTRACE_SYSEMU, c->pid, 0, 0) ? -1 : 0;
}

/* Turn a wait status into an event. */
static void describe_stop(struct child *c, int status, struct child_event *ev)
{
	int sig = WSTOPSIG(status);

	memset(ev, 0, sizeof(*ev));
	if (sig == (SIGTRAP | 0x80)) {
		ev->kind = CHILD_SYSCALL;
		return;
	}
	ptrace(PTRACE_GETSIGINFO, c->pid, 0, &ev->info);
	ev->kind = sig == SIGTRAP && ev->info.si_code == TRAP_TRACE ? CHILD_STEP : CHILD_SIGNAL;
}

int child_exit_status(const struct child *c)
{
	return c->gone ? c->status : -1;
}

int child_poll(struct child *c, struct child_event *ev, int block)
{
	int status = 0;
	pid_t r = c->gone ? c->pid : waitpid(c->pid, &status, __WALL | (block ? 0 : WNOHANG));

	if (r == 0 || (r < 0 && errno == EINTR))
		return 0;
	if (c->gone || r < 0 || !WIFSTOPPED(status)) {
		memset(ev, 0, sizeof(*ev));
		ev->kind = CHILD_GONE;
		ev->status = c->gone ? c->status : status;
		c->gone = 1;
		c->status = ev->status;
		return 1;
	}
	describe_stop(c, status, ev);
	return 1;
}

void child_kick(struct child *c)
{
	syscall(SYS_tgkill, c->pid, c->pid, SIGUSR1);
}

void child_destroy(struct child *c)
{
	int status;

	if (!c)
		return;
	if (c->pid > 0 && !c->gone) {
		kill(c->pid, SIGKILL);
		while (waitpid(c->pid, &status, __WALL) < 0 && errno == EINTR)
			;
	}
	free(c);
}

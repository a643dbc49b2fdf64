/*
 * child.h - the one layer that owns the traced child the guest runs in.
 * Nothing else in the monitor calls ptrace, waitpid or makes the child
 * run host system calls.
 *
 * The child's address space, after child_start():
 *   [0, vm.mmap_min_addr)        never mappable by a process (4 KiB or 64 KiB)
 *   [mmap_min_addr, GUEST_VA_LIMIT) free for the guest
 *   [LILYVM_PV_CODE, +1004K)     the image's trampolines, read+exec, and
 *   [LILYVM_PV_VCPU, +4K)        the vCPU page they share with the monitor,
 *                                both mapped in ring 0's views only (paging.c)
 *   [SCRATCH_ADDR, +4K)          scratch page shared with the monitor (a
 *                                page of the RAM memfd): the batches of
 *                                the child's own host calls and their data
 *   [STUB_ADDR, STUB_ADDR+4K)    the stub page (lightvm/stub.S), read+exec
 *   [0xffffe000, 4 GiB)          above a 32-bit process's TASK_SIZE: never mappable
 * So a guest can never map its top 1 MiB (0xfff00000 and up), nor the
 * pages below vm.mmap_min_addr.
 */
#ifndef LIGHTVM_CHILD_H
#define LIGHTVM_CHILD_H

#include <signal.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

#include "rewriter/sites.h"

#define STUB_ADDR 0xffffd000u
#define SCRATCH_ADDR 0xffffc000u
#define GUEST_VA_LIMIT LILYVM_PV_CODE	/* first guest address that cannot be mapped */
#define CHILD_RAM_FD 3		/* the guest RAM memfd, inherited at this number */
#define CHILD_BATCH_HDR 0x400	/* scratch offset of the batch's end pointer (stub.S) */
#define CHILD_BATCH_OPS 0x410	/* scratch offset of its first record */

struct child;

enum child_stop {
	CHILD_SYSCALL,		/* it executed a system-call instruction (skipped) */
	CHILD_SIGNAL,		/* a fault or other signal; info holds the siginfo */
	CHILD_STEP,		/* a single step completed */
	CHILD_GONE,		/* it exited or was killed */
};

struct child_event {
	enum child_stop kind;
	siginfo_t info;
	int status;		/* wait status for CHILD_GONE */
};

/* Fork and exec the stub, strip the child to the stub and scratch pages; ram_fd becomes CHILD_RAM_FD. */
int child_start(struct child **out, int ram_fd, uint32_t scratch_pgoff, void *scratch, char *err,
		size_t errlen);
/* Kill the child and free the handle. */
void child_destroy(struct child *c);
/* The child's host process ID. */
pid_t child_pid(const struct child *c);
/* Run host system call nr with up to six arguments in the stopped child; the result or -errno. */
long child_syscall(struct child *c, long nr, long a1, long a2, long a3, long a4, long a5,
		   long a6);
/* Queue a host call for the next batch (run when full or by child_flush); -1 if a batch failed. */
int child_queue(struct child *c, long nr, long a1, long a2, long a3, long a4, long a5, long a6);
/* Run the queued calls in the stopped child, one stop for all; -1 if any failed (child_error). */
int child_flush(struct child *c);
/* What went wrong in the last failed batch. */
const char *child_error(const struct child *c);
/* Install the seccomp filter that only lets the stub gadget make the child's own calls. */
int child_lock_down(struct child *c, void *scratch, uint32_t scratch_addr);
/* Read the stopped child's registers. */
int child_get_regs(struct child *c, struct user_regs_struct *r);
/* Write the stopped child's registers. */
int child_set_regs(struct child *c, const struct user_regs_struct *r);
/* Copy the x87 and SSE state of one stopped child into another. */
int child_copy_fpu(struct child *from, struct child *to);
/* Let the child run guest code until its next trap (step: one instruction). */
int child_resume(struct child *c, int step);
/* Collect a stop: 1 if ev was filled, 0 if the child still runs (or a signal interrupted block). */
int child_poll(struct child *c, struct child_event *ev, int block);
/* Make a running child stop soon so the monitor can deliver an interrupt. */
void child_kick(struct child *c);
/* How the child ended (a wait status), or -1 while it lives. */
int child_exit_status(const struct child *c);

#endif

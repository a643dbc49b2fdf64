/*
 * lightvm.h - the monitor's public interface: create a machine for a
 * rewritten i386 kernel, run it to the end, destroy it. veeml and worldos
 * drive VMs through this header only.
 */
#ifndef LIGHTVM_H
#define LIGHTVM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum lvm_serial { LVM_SERIAL_STDIO, LVM_SERIAL_PTY, LVM_SERIAL_FILE };

struct lvm_config {
	const char *kernel;	/* a rewritten ELF32 i386 multiboot kernel, or NULL */
	const char *linux_bzimage;	/* or a stock Linux bzImage (rewritten and cached) */
	uint64_t mem_bytes;	/* guest RAM */
	const char *append;	/* kernel command line, or NULL */
	const char *initrd;	/* a multiboot module or Linux initrd, or NULL */
	enum lvm_serial serial;
	const char *serial_path;	/* LVM_SERIAL_FILE */
	int stats;		/* print trap statistics on exit */
	const char *net;	/* network back end, "TYPE[,OPTIONS]" (--net), or NULL */
};

/* How a run ended. */
enum lvm_exit { LVM_POWEROFF, LVM_RESET, LVM_ERROR };

struct vm;

/* Build a machine from cfg; NULL with a one-line reason in err (errlen bytes). */
struct vm *lvm_create(const struct lvm_config *cfg, char *err, size_t errlen);
/* Run until the guest powers off, resets or fails; the reason is in lvm_exit_reason(). */
enum lvm_exit lvm_run(struct vm *vm);
/* One line saying why the last run ended. */
const char *lvm_exit_reason(const struct vm *vm);
/* The host process ID the guest runs in. */
int lvm_guest_pid(const struct vm *vm);
/* Print the guest registers and a backtrace of the guest kernel stack. */
void lvm_dump_guest(struct vm *vm, FILE *f);
/* Print trap statistics (--stats). */
void lvm_print_stats(const struct vm *vm, FILE *f);
/* Put the terminal back as it was before the guest's console took it. */
void lvm_restore_terminal(void);
/* Tear the machine down: kill the child, free everything. */
void lvm_destroy(struct vm *vm);

#endif

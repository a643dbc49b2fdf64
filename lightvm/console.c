/*
 * console.c - where the guest's COM1 goes: the terminal (raw, restored on
 * every way out), a pseudo-terminal, or a file.
 *
 * On a terminal, input passes through a filter so that Ctrl-A x always
 * stops the monitor, even when the guest ignores its console (QEMU's key).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "lightvm/log.h"
#include "lightvm/vm.h"

#define ESCAPE_KEY 0x01		/* Ctrl-A */

static struct termios saved_tty;
static int tty_raw;

void lvm_restore_terminal(void)
{
	if (tty_raw)
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tty);
	tty_raw = 0;
}

static void restore_tty_and_die(int sig)
{
	lvm_restore_terminal();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Raw input for the guest; output keeps newline translation so logs stay readable. */
static int make_tty_raw(void)
{
	struct termios t;

	if (tcgetattr(STDIN_FILENO, &saved_tty))
		return -1;
	t = saved_tty;
	cfmakeraw(&t);
	t.c_oflag |= OPOST | ONLCR;
	if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &t))
		return -1;
	tty_raw = 1;
	atexit(lvm_restore_terminal);
	signal(SIGTERM, restore_tty_and_die);
	signal(SIGHUP, restore_tty_and_die);
	signal(SIGQUIT, restore_tty_and_die);
	return 0;
}

struct escape_filter {
	struct vm *vm;
	int pipe_out;
	int pending;		/* Ctrl-A seen */
};

static struct escape_filter filter;

/* Copy terminal input to the guest, acting on Ctrl-A x (quit) and Ctrl-A Ctrl-A. */
static void filter_input(void *opaque)
{
	struct escape_filter *f = opaque;
	unsigned char in[256], out[256];
	ssize_t n = read(STDIN_FILENO, in, sizeof(in));
	size_t k = 0;

	if (n <= 0) {
		vm_unwatch_fd(f->vm, STDIN_FILENO);
		return;
	}
	for (ssize_t i = 0; i < n; i++) {
		if (f->pending) {
			f->pending = 0;
			if (in[i] == 'x') {
				vm_request_stop(f->vm, 0, "stopped from the console (Ctrl-A x)");
				return;
			}
			if (in[i] == ESCAPE_KEY)
				out[k++] = in[i];
		} else if (in[i] == ESCAPE_KEY) {
			f->pending = 1;
		} else {
			out[k++] = in[i];
		}
	}
	if (k && write(f->pipe_out, out, k) < 0 && errno != EAGAIN)
		log_warn("console input lost: %s", strerror(errno));
}

static int open_stdio(struct vm *vm, char *err, size_t errlen)
{
	int p[2];

	vm->console_out = STDOUT_FILENO;
	if (!isatty(STDIN_FILENO)) {
		vm->console_in = STDIN_FILENO;
		return 0;
	}
	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) || make_tty_raw()) {
		snprintf(err, errlen, "cannot set up the terminal: %s", strerror(errno));
		return -1;
	}
	filter = (struct escape_filter){ vm, p[1], 0 };
	vm->console_in = p[0];
	return vm_watch_fd(vm, STDIN_FILENO, filter_input, &filter);
}

static int open_pty(struct vm *vm, char *err, size_t errlen)
{
	int fd = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	struct termios t;

	if (fd < 0 || grantpt(fd) || unlockpt(fd) || tcgetattr(fd, &t)) {
		snprintf(err, errlen, "cannot open a pseudo-terminal: %s", strerror(errno));
		return -1;
	}
	cfmakeraw(&t);
	tcsetattr(fd, TCSANOW, &t);
	log_info("guest console on %s", ptsname(fd));
	vm->console_in = vm->console_out = fd;
	return 0;
}

int lvm_open_console(struct vm *vm, char *err, size_t errlen)
{
	switch (vm->cfg.serial) {
	case LVM_SERIAL_STDIO:
		return open_stdio(vm, err, errlen);
	case LVM_SERIAL_PTY:
		return open_pty(vm, err, errlen);
	case LVM_SERIAL_FILE:
		vm->console_out = open(vm->cfg.serial_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
				       0644);
		if (vm->console_out < 0) {
			snprintf(err, errlen, "%s: %s", vm->cfg.serial_path, strerror(errno));
			return -1;
		}
		return 0;
	}
	return -1;
}

void lvm_close_console(struct vm *vm)
{
	lvm_restore_terminal();
	if (vm->console_in > STDERR_FILENO)
		close(vm->console_in);
	if (vm->console_out > STDERR_FILENO && vm->console_out != vm->console_in)
		close(vm->console_out);
	if (filter.pipe_out > 0)
		close(filter.pipe_out);
	filter.pipe_out = 0;
}

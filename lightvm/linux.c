/*
 * linux.c - `lilyvm run --linux BZIMAGE`: boot a stock Linux bzImage.
 *
 * The kernel inside the bzImage is unpacked (ports/linux) and rewritten by
 * the build-time tool lilyvm-rewrite, run as a separate program; the result
 * is cached next to the bzImage (or in the user's cache directory when that
 * one is not writable), named by a CRC-64 of the bzImage and of the
 * rewriter program (a new rewriter rewrites again), so the second
 * boot of the same kernel starts at once. Then the rewritten vmlinux is
 * loaded by the Linux 32-bit boot protocol (ports/linux/boot.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <lzma.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

#include "lightvm/cpu.h"
#include "lightvm/linux.h"
#include "lightvm/log.h"
#include "ports/linux/boot.h"
#include "ports/linux/bzimage.h"

/*
 * Added before the user's command line, each for a limit of the monitor:
 * - reservetop=1M keeps the kernel's fixmap out of the child's top 1 MiB,
 *   which holds the trampolines, the vCPU, scratch and stub pages and the
 *   end of a 32-bit process's address space (lightvm/child.h).
 * - tsc_early_khz=N: the guest's TSC is the host's, whose rate the monitor
 *   measures; the kernel's own calibration times the TSC against PIT
 *   channel 2 through trapped port reads, fails, and leaves the PIT as its
 *   clocksource, three traps a clock read.
 * - tsc=reliable: no clocksource watchdog, whose reference would again be
 *   the PIT, read twice a second and late on a loaded host.
 */
static const char monitor_cmdline[] = "reservetop=1M tsc=reliable";

/* The host TSC's rate in kHz, timed against CLOCK_MONOTONIC_RAW over 20 ms. */
static uint64_t host_tsc_khz(void)
{
	struct timespec a, b, nap = { 0, 20000000 };
	uint64_t t0, t1, ns;

	clock_gettime(CLOCK_MONOTONIC_RAW, &a);
	t0 = __rdtsc();
	nanosleep(&nap, NULL);
	t1 = __rdtsc();
	clock_gettime(CLOCK_MONOTONIC_RAW, &b);
	ns = (uint64_t)(b.tv_sec - a.tv_sec) * 1000000000u + b.tv_nsec - a.tv_nsec;
	return ns ? (t1 - t0) * 1000000 / ns : 0;
}

/* Write len bytes to a new file at path, atomically (temporary + rename). */
static int write_file(const char *path, const uint8_t *buf, size_t len)
{
	char tmp[PATH_MAX];
	int fd, ok;

	if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= (int)sizeof(tmp) ||
	    (fd = mkstemp(tmp)) < 0)
		return -1;
	ok = write(fd, buf, len) == (ssize_t)len;
	ok = !close(fd) && ok && !rename(tmp, path);
	if (!ok)
		unlink(tmp);
	return ok ? 0 : -1;
}

/* The rewriter: $LILYVM_REWRITE, next to this program (installed or in the build tree), or $PATH. */
static void find_rewriter(char *out, size_t len)
{
	char self[PATH_MAX], *slash;
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	const char *env = getenv("LILYVM_REWRITE");

	snprintf(out, len, "%s", env && *env ? env : "lilyvm-rewrite");
	if ((env && *env) || n <= 0)
		return;
	self[n] = 0;
	if (!(slash = strrchr(self, '/')))
		return;
	*slash = 0;
	if (snprintf(out, len, "%s/lilyvm-rewrite", self) < (int)len && !access(out, X_OK))
		return;
	if (snprintf(out, len, "%s/../rewriter/lilyvm-rewrite", self) < (int)len &&
	    !access(out, X_OK))
		return;
	snprintf(out, len, "lilyvm-rewrite");
}

/*
 * The cache key of the rewritten kernel: the bzImage's CRC-64 continued over
 * the rewriter program's bytes, so that a new rewriter (another catalogue,
 * another trap form) never runs with a kernel an old one rewrote.
 */
static uint64_t cache_key(const uint8_t *bz, size_t bzlen)
{
	char tool[PATH_MAX], path[PATH_MAX], err[64];
	const char *dirs = getenv("PATH");
	uint64_t crc = lzma_crc64(bz, bzlen, 0);
	uint8_t *exe = NULL;
	size_t len = 0;

	find_rewriter(tool, sizeof(tool));
	if (strchr(tool, '/'))
		exe = vm_read_file(tool, &len, err, sizeof(err));
	while (!exe && dirs && *dirs) {
		size_t n = strcspn(dirs, ":");

		if (snprintf(path, sizeof(path), "%.*s/%s", (int)n, dirs, tool) < (int)sizeof(path))
			exe = vm_read_file(path, &len, err, sizeof(err));
		dirs += n + (dirs[n] == ':');
	}
	if (exe)
		crc = lzma_crc64(exe, len, crc);
	free(exe);
	return crc;
}

/* Run `lilyvm-rewrite in -o out`; its one-line error ends up in err. */
static int run_rewriter(const char *in, const char *out, char *err, size_t errlen)
{
	char tool[PATH_MAX];
	int status;
	pid_t pid;

	find_rewriter(tool, sizeof(tool));
	log_info("rewriting the kernel with %s (once per kernel; cached)", tool);
	pid = fork();
	if (pid == 0) {
		execlp(tool, tool, in, "-o", out, (char *)NULL);
		fprintf(stderr, "lilyvm: cannot run %s: %s\n", tool, strerror(errno));
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status)) {
		snprintf(err, errlen, "rewriting the kernel with %s failed", tool);
		return -1;
	}
	return 0;
}

/* Where the rewritten kernel of this bzImage is cached: next to it, or in ~/.cache. */
static int cache_path(const char *bzimage, uint64_t crc, char *out, size_t len)
{
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	const char *slash = strrchr(bzimage, '/'), *base = slash ? slash + 1 : bzimage;
	char dir[PATH_MAX];

	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else
		snprintf(dir, sizeof(dir), "%.*s", slash == bzimage ? 1 : (int)(slash - bzimage),
			 bzimage);
	if (!access(dir, W_OK))
		return snprintf(out, len, "%s/%s.%016llx.lilyvm", dir, base,
				(unsigned long long)crc) < (int)len ? 0 : -1;
	if (xdg && *xdg)
		snprintf(dir, sizeof(dir), "%s/lilyvm", xdg);
	else if (home && *home)
		snprintf(dir, sizeof(dir), "%s/.cache/lilyvm", home);
	else
		return -1;
	if (mkdir(dir, 0755) && errno != EEXIST)
		return -1;
	if (snprintf(out, len, "%s/%s.%016llx.lilyvm", dir, base, (unsigned long long)crc) >= (int)len)
		return -1;
	return access(dir, W_OK);
}

/* Unpack the vmlinux of the bzImage called name, rewrite it into path. */
static int make_rewritten(const char *name, const uint8_t *bz, size_t bzlen, const char *path,
			  char *err, size_t errlen)
{
	char plain[PATH_MAX + 16], why[BZIMAGE_ERRLEN];
	uint8_t *vmlinux;
	size_t vlen;
	int rc;

	if (bzimage_extract(bz, bzlen, &vmlinux, &vlen, why)) {
		snprintf(err, errlen, "%s: %s", name, why);
		return -1;
	}
	snprintf(plain, sizeof(plain), "%s.vmlinux", path);
	rc = write_file(plain, vmlinux, vlen);
	free(vmlinux);
	if (rc) {
		snprintf(err, errlen, "cannot write %s: %s", plain, strerror(errno));
		return -1;
	}
	rc = run_rewriter(plain, path, err, errlen);
	unlink(plain);
	return rc;
}

/* The rewritten vmlinux of the bzImage, from the cache or made now. */
static uint8_t *rewritten_kernel(const char *bzimage, const uint8_t *bz, size_t bzlen,
				 size_t *len, char *err, size_t errlen)
{
	uint64_t crc = cache_key(bz, bzlen);
	char path[PATH_MAX];
	uint8_t *image;

	if (cache_path(bzimage, crc, path, sizeof(path))) {
		snprintf(path, sizeof(path), "%s/lilyvm-kernel.%016llx.%d",
			 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (unsigned long long)crc,
			 (int)getpid());
		if (make_rewritten(bzimage, bz, bzlen, path, err, errlen))
			return NULL;
		image = vm_read_file(path, len, err, errlen);
		unlink(path);	/* nowhere to keep it: rewrite again next time */
		return image;
	}
	if (access(path, R_OK) && make_rewritten(bzimage, bz, bzlen, path, err, errlen))
		return NULL;
	return vm_read_file(path, len, err, errlen);
}

int linux_load(struct vm *vm, char *err, size_t errlen)
{
	struct pc_ram ram = { vm->ram, vm->ram_bytes, vm->ram_va_start };
	struct linux_image img = { 0 };
	struct linux_entry entry;
	char cmdline[4096];
	uint8_t *bz, *vmlinux = NULL, *initrd = NULL;
	size_t bzlen, vlen, ilen = 0;
	int rc = -1;

	if (!(bz = vm_read_file(vm->cfg.linux_bzimage, &bzlen, err, errlen)))
		return -1;
	if (!(vmlinux = rewritten_kernel(vm->cfg.linux_bzimage, bz, bzlen, &vlen, err, errlen)) ||
	    vm_adopt_image(vm, vmlinux, vlen, vm->cfg.linux_bzimage, err, errlen))
		goto out;
	if (vm->cfg.initrd && !(initrd = vm_read_file(vm->cfg.initrd, &ilen, err, errlen)))
		goto out;
	snprintf(cmdline, sizeof(cmdline), "%s tsc_early_khz=%llu %s", monitor_cmdline,
		 (unsigned long long)host_tsc_khz(), vm->cfg.append ? vm->cfg.append : "");
	img = (struct linux_image){ bz, bzlen, vmlinux, vlen, initrd, ilen, cmdline };
	if (linux_boot_load(&img, &ram, &entry, err, errlen))
		goto out;
	cpu_reset(vm, LINUX_BOOT_CS, LINUX_BOOT_DS);
	vm->cpu.regs.rip = entry.eip;
	vm->cpu.regs.rsi = entry.esi;
	rc = 0;
out:
	free(bz);
	free(vmlinux);
	free(initrd);
	return rc;
}

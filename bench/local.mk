# bench/: benchmarks, run by hand (`make bench`); none of them is a test.
EXTRA_DIST += bench/lib.sh bench/rewrite-vmlinux.sh bench/README.md bench/traps.sh bench/ptrace-floor.c \
	bench/cpu-native.c tests/guests/bench/bench.c tests/guests/bench/cpuwork.h \
	bench/mmu.sh tests/guests/mmubench/mmubench.c bench/linux.sh tests/linux/bench-guest.c \
	bench/net.sh bench/netperf.c
CLEANFILES += bench/ptrace-floor$(EXEEXT) bench/cpu-native$(EXEEXT) tests/guests/bench/bench.elf

.PHONY: bench bench-rewrite bench-traps bench-mmu bench-linux bench-net
# The trap, MMU, Linux and network benches first: a missed rewrite target (exit 1) must not skip them.
bench: bench-traps bench-mmu bench-linux bench-net bench-rewrite

# Rewrite the vmlinux of Debian's i386 686 kernel (fetched once, then cached).
bench-rewrite: rewriter/lilyvm-rewrite$(EXEEXT) ports/linux/lilyvm-unbzimage$(EXEEXT)
	LILYVM_REWRITE=$(abs_top_builddir)/rewriter/lilyvm-rewrite$(EXEEXT) \
	LILYVM_UNBZIMAGE=$(abs_top_builddir)/ports/linux/lilyvm-unbzimage$(EXEEXT) \
		$(SHELL) $(top_srcdir)/bench/rewrite-vmlinux.sh

# The monitor's trap costs against QEMU TCG and the host's floors (traps.sh).
bench-traps: rewriter/lilyvm-rewrite$(EXEEXT) lightvm/lilyvm$(EXEEXT) \
		tests/guests/bench/bench.elf bench/ptrace-floor$(EXEEXT) bench/cpu-native$(EXEEXT)
	LILYVM_REWRITE=$(abs_top_builddir)/rewriter/lilyvm-rewrite$(EXEEXT) \
	LILYVM=$(abs_top_builddir)/lightvm/lilyvm$(EXEEXT) \
	BENCH_GUEST=$(abs_top_builddir)/tests/guests/bench/bench.elf \
	PTRACE_FLOOR=$(abs_top_builddir)/bench/ptrace-floor$(EXEEXT) \
	CPU_NATIVE=$(abs_top_builddir)/bench/cpu-native$(EXEEXT) \
		$(SHELL) $(top_srcdir)/bench/traps.sh

# Paging: page faults, address-space switches and fork against QEMU TCG and
# the ptrace-stop floor (mmu.sh).
bench-mmu: rewriter/lilyvm-rewrite$(EXEEXT) lightvm/lilyvm$(EXEEXT) \
		tests/guests/mmubench/mmubench.elf bench/ptrace-floor$(EXEEXT)
	LILYVM_REWRITE=$(abs_top_builddir)/rewriter/lilyvm-rewrite$(EXEEXT) \
	LILYVM=$(abs_top_builddir)/lightvm/lilyvm$(EXEEXT) \
	BENCH_GUEST=$(abs_top_builddir)/tests/guests/mmubench/mmubench.elf \
	PTRACE_FLOOR=$(abs_top_builddir)/bench/ptrace-floor$(EXEEXT) \
		$(SHELL) $(top_srcdir)/bench/mmu.sh

# Debian's i386 kernel: boot and in-guest microbenchmarks against QEMU TCG,
# user-mode-linux and native (linux.sh; it builds tests/linux/bench-guest.c).
bench-linux: rewriter/lilyvm-rewrite$(EXEEXT) lightvm/lilyvm$(EXEEXT)
	LILYVM_REWRITE=$(abs_top_builddir)/rewriter/lilyvm-rewrite$(EXEEXT) \
	LILYVM=$(abs_top_builddir)/lightvm/lilyvm$(EXEEXT) \
		$(SHELL) $(top_srcdir)/bench/linux.sh

# The Linux guest's TCP throughput and round trips through lilyvm's --net
# user against QEMU TCG's -netdev user, pasta (Debian passt) and the host
# loopback (net.sh; it builds bench/netperf.c for the guest and the host).
bench-net: rewriter/lilyvm-rewrite$(EXEEXT) lightvm/lilyvm$(EXEEXT)
	LILYVM_REWRITE=$(abs_top_builddir)/rewriter/lilyvm-rewrite$(EXEEXT) \
	LILYVM=$(abs_top_builddir)/lightvm/lilyvm$(EXEEXT) \
		$(SHELL) $(top_srcdir)/bench/net.sh

# Host programs, built with the host compiler.
bench/ptrace-floor$(EXEEXT): $(srcdir)/bench/ptrace-floor.c
	@mkdir -p bench
	$(AM_V_CC)$(CC) $(AM_CPPFLAGS) $(AM_CFLAGS) -o $@ $(srcdir)/bench/ptrace-floor.c

# The guest's flags where they change the hash's code, so that both run the
# same instructions: -ffreestanding above all (no builtins: gcc then compiles
# the hash differently, and 1.5x slower here). 32-bit like the guest when the
# host can link 32-bit programs (gcc-multilib), else native width.
CPU_NATIVE_FLAGS = $(AM_CPPFLAGS) -ffreestanding -O2 -fno-omit-frame-pointer \
	-fno-stack-protector -fno-pie -no-pie
bench/cpu-native$(EXEEXT): $(srcdir)/bench/cpu-native.c $(srcdir)/tests/guests/bench/cpuwork.h
	@mkdir -p bench
	$(AM_V_CC)$(CC) -m32 $(CPU_NATIVE_FLAGS) -o $@ $(srcdir)/bench/cpu-native.c 2>/dev/null || \
		$(CC) $(CPU_NATIVE_FLAGS) -o $@ $(srcdir)/bench/cpu-native.c

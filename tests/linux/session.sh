#!/bin/sh
# session.sh - the scripted Linux session (issue 5): boot Debian's i386 686
# kernel with the guest initramfs (ports/linux/mkguest.sh) plus guestprog,
# type session.in into the shell on the serial console, and print the
# transcript, filtered of what differs from run to run and host to host.
# The machinery (and the kernel command line both runs share, with the
# reason for each option) is harness.sh's, which tests/net/session.sh uses
# too.
#
# usage: session.sh [-k DIR]
#   -k DIR  keep the raw console output, boot log, filtered transcript and
#           timings of each run in DIR
# environment:
#   LILYVM   the lilyvm monitor (under make check: the one built). Unset:
#            only QEMU runs, and its transcript is
#            printed. Set: the same session also runs under
#            `$LILYVM run --linux BZIMAGE --initrd INITRD --append ...`, as an
#            unprivileged user, and the two transcripts must match.
#   LILYVM_REWRITE  the lilyvm-rewrite the monitor runs (default: the one
#            beside $LILYVM, or in ../rewriter/ from it)
#   QEMU     default qemu-system-i386
#   CC       the host compiler for guestprog (default gcc; needs -m32 -static)
#   SESSION_TIMEOUT  seconds allowed for the boot and for each command
#            (default 180)
#
# Prints the filtered transcript of the QEMU run, then one line per check and
# the timings. Exits 0 if every check passed, 1 if one failed, 77 (automake's
# SKIP) if the guest image cannot be made or QEMU is missing.
set -u

here=$(cd "$(dirname "$0")" && pwd)
TEST=session
SCRIPT=$here/session.in
# shellcheck source=tests/linux/harness.sh
. "$here/harness.sh"

# What differs between the runs in this session's own output. Each
# expression says why.
filter_more() {
	sed \
		-e '# /proc/cpuinfo: the CPU the guest sees is QEMU TCG'"'"'s own model' \
		-e '# (qemu32) under QEMU and the host'"'"'s CPU under lilyvm; its speed' \
		-e '# (cpu MHz, bogomips) is the host'"'"'s in both' \
		-e 's/^\(vendor_id\|cpu family\|model\|model name\|stepping\|cpu MHz\|cpuid level\|flags\|bugs\|bogomips\|clflush size\|cache_alignment\|address sizes\|power management\)\([[:space:]]*:\).*/\1\2 <host>/' \
		-e '# and whether it reports a microcode revision and a cache size at all' \
		-e '/^\(microcode\|cache size\)[[:space:]]*:/d' \
		-e '# busybox time: the guest'"'"'s own measure of "sleep 1" and of its' \
		-e '# CPU time (the host wall time is checked separately)' \
		-e 's/^\(real\|user\|sys\)\([[:space:]]*\)[0-9]*m *[0-9]*\.[0-9]*s$/\1\2<time>/'
}

check_run() {
	if grep -q '^guestprog: .* 0 not ok$' "$2"; then
		echo "ok - $1: guestprog reports no failure"
	else
		echo "not ok - $1: guestprog reports failures or did not finish"
		return 1
	fi
}

parse_args "$@"
start
guest_cc guestprog "$here/guestprog.c" -pthread -lm
make_guest "$WORK/guestprog"

# -nic none because the kernel has no network driver built in and the
# monitor no NIC, and it spares the iPXE ROM's start-up.
run_qemu -nic none
if [ -n "$LILYVM" ]; then
	# shellcheck disable=SC2119  # no devices of its own
	run_lilyvm
fi
report

#!/bin/sh
# hostile.sh - a guest's raw Linux system calls never reach the host: int $0x80
# from ring 0 and ring 3 goes to the guest's own IDT (as under QEMU), sysenter
# stops the VM, and a 64-bit syscall becomes a #UD in the guest. Nothing it
# asked for (a line on stdout, a file, an exec) may happen on the host.
set -u
elf="$top_builddir/tests/guests/hostile/hostile.elf"
markers="/tmp/lilyvm-hostile-marker /tmp/lilyvm-hostile-exec"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

. "$top_srcdir/tests/guests/lib/unprivileged.sh"

no_host_effects() {
	for m in $markers; do
		[ ! -e "$m" ] || fail "$1: the guest created $m on the host"
	done
	! grep -q PWNED "$work/out" "$work/err" 2>/dev/null ||
		fail "$1: the guest wrote to the host's stdout"
}

# Run the rewritten guest with a command line; stdout and stderr are kept.
run_guest() {
	unprivileged timeout 60 "$work/lilyvm" run "$work/hostile.rw" --append "$1" \
		--serial "file:$work/console" </dev/null >"$work/out" 2>"$work/err"
}

rm -f $markers
sh "$top_srcdir/tests/guests/compare.sh" "$elf" >"$work/out" 2>"$work/err" ||
	fail "int \$0x80 from ring 0 and 3 did not behave as under QEMU: $(cat "$work/out")"
no_host_effects "int \$0x80"

"$top_builddir/rewriter/lilyvm-rewrite" "$elf" -o "$work/hostile.rw" || fail "rewrite"
cp "$top_builddir/lightvm/lilyvm" "$work/lilyvm"
: >"$work/console"
chmod 666 "$work/console"

# Depending on the host CPU, a 32-bit process's sysenter either faults (then
# the monitor emulates it: with SYSENTER_CS unset, #GP as on hardware) or
# enters the host kernel (then PTRACE_SYSEMU stops it, and the VM ends,
# since sysenter saves no return address the monitor could use).
run_guest sysenter
status=$?
if [ $status -eq 1 ]; then
	grep -q '^lilyvm: sysenter .* cannot be emulated' "$work/err" ||
		fail "sysenter: no one-line reason: $(head -3 "$work/err")"
else
	grep -q 'unexpected vector 13 error 0' "$work/console" ||
		fail "sysenter: neither stopped nor a #GP: $(tail -2 "$work/console")"
fi
! grep -q 'sysenter came back' "$work/console" || fail "sysenter: the guest went on"
no_host_effects sysenter

run_guest syscall64
status=$?
[ $status -eq 0 ] || fail "syscall64: lilyvm exited with $status: $(head -3 "$work/err")"
grep -q 'unexpected vector 6' "$work/console" ||
	fail "syscall64: the guest did not get #UD: $(cat "$work/console")"
no_host_effects syscall64

rm -f $markers
[ $failures -eq 0 ] && echo "PASS: no raw system call of the guest reached the host"
exit $((failures != 0))

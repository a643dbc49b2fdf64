#!/bin/sh
# triple.sh - a triple fault ends the VM with one line saying why, then the
# guest registers and a backtrace with the guest kernel's symbol names.
set -u
elf="$top_builddir/tests/guests/triple/triple.elf"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; cat "$work/err"; exit 1; }

"$top_builddir/rewriter/lilyvm-rewrite" "$elf" -o "$work/triple.rw" || fail "rewrite"
timeout 60 "$top_builddir/lightvm/lilyvm" run "$work/triple.rw" --serial "file:$work/console" \
	</dev/null 2>"$work/err"
status=$?
[ $status -eq 1 ] || fail "lilyvm exited with $status, expected 1"
grep -v 'guest runs as' "$work/err" | head -1 | grep -q '^lilyvm: triple fault' ||
	fail "the first line does not say triple fault"
grep -q '^guest registers:' "$work/err" || fail "no guest registers"
grep -q 'eip 0x[0-9a-f]* <break_idt+' "$work/err" || fail "EIP is not named break_idt"
grep -q '#1 0x[0-9a-f]* <deeper+' "$work/err" || fail "the backtrace does not reach deeper()"
grep -q 'still running' "$work/console" && fail "the guest went on after a triple fault"
echo "PASS: triple fault reported with registers and backtrace"

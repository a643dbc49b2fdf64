#!/bin/sh
# unemulated.sh - an instruction the monitor cannot emulate (a far call
# through a task gate: a task switch) stops the VM with one line naming the
# instruction, its address and the nearest kernel symbol. The guest passes
# under QEMU, and what it printed before the task switch (its call gate
# tests) is the same under both.
set -u
elf="$top_builddir/tests/guests/callgate/callgate.elf"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; cat "$work/err" 2>/dev/null; exit 1; }

timeout 60 qemu-system-i386 -M pc -m 64 -display none -monitor none -no-reboot \
	-serial "file:$work/qemu" -kernel "$elf" </dev/null >/dev/null 2>&1
grep -q 'a far call through a task gate switches tasks' "$work/qemu" &&
	! grep -q '^not ok' "$work/qemu" || fail "the guest does not pass under QEMU"
"$top_builddir/rewriter/lilyvm-rewrite" "$elf" -o "$work/callgate.rw" || fail "rewrite"
timeout 60 "$top_builddir/lightvm/lilyvm" run "$work/callgate.rw" \
	--serial "file:$work/console" </dev/null 2>"$work/err"
status=$?
[ $status -eq 1 ] || fail "lilyvm exited with $status, expected 1"
grep -q 'eip 0x[0-9a-f]* <switch_task' "$work/err" ||
	fail "the registers are not those of the instruction that stopped it"
line=$(grep -v 'guest runs as' "$work/err" | head -1)
echo "$line" | grep -q '^lilyvm: cannot emulate `lcall 0x60:0` at 0x[0-9a-f]* <switch_task+0x*[0-9a-f]*>: .*task' ||
	fail "the first line does not name the instruction, address and symbol: $line"
tr -d '\r' <"$work/qemu" | grep -v 'task gate switches tasks' | grep '^\(not \)*ok ' >"$work/want"
tr -d '\r' <"$work/console" | grep '^\(not \)*ok ' >"$work/got"
[ -s "$work/want" ] && cmp -s "$work/want" "$work/got" ||
	fail "the call gate tests differ: $(diff "$work/want" "$work/got" | tr '\n' ' ')"
echo "PASS: $line"

#!/bin/sh
# compare.sh GUEST.elf - run a micro-guest twice, as the original image under
# qemu-system-i386 and rewritten under lilyvm as an unprivileged user, and
# pass only if both print the same lines and none of them is "not ok".
set -u
elf=$1
name=$(basename "$elf" .elf)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"
fail() { echo "FAIL: $name: $*"; exit 1; }

. "$top_srcdir/tests/guests/lib/unprivileged.sh"

"$top_builddir/rewriter/lilyvm-rewrite" "$elf" -o "$work/$name.rw" --verify ||
	fail "the rewriter refused the image"
cp "$top_builddir/lightvm/lilyvm" "$work/lilyvm"
: >"$work/lilyvm.out"
chmod 666 "$work/lilyvm.out"

timeout 60 qemu-system-i386 -M pc -cpu qemu32,+nx -m 128 -display none -monitor none -no-reboot \
	-serial "file:$work/qemu.out" -kernel "$elf" </dev/null >"$work/qemu.log" 2>&1 ||
	fail "qemu-system-i386 did not power off cleanly: $(cat "$work/qemu.log")"
unprivileged timeout 60 "$work/lilyvm" run "$work/$name.rw" --serial "file:$work/lilyvm.out" \
	</dev/null 2>"$work/lilyvm.log"
status=$?
cat "$work/lilyvm.log"
[ $status -eq 0 ] || fail "lilyvm exited with status $status"
grep -q 'guest runs as host pid [0-9]*, uid [1-9]' "$work/lilyvm.log" ||
	fail "the monitor did not run as an unprivileged user"

tr -d '\r' <"$work/qemu.out" >"$work/qemu.txt"
tr -d '\r' <"$work/lilyvm.out" >"$work/lilyvm.txt"
echo "--- $name under lilyvm:"
cat "$work/lilyvm.txt"
[ -s "$work/qemu.txt" ] || fail "the guest printed nothing under QEMU"
diff -u "$work/qemu.txt" "$work/lilyvm.txt" || fail "lilyvm and QEMU printed different lines"
if grep -q '^not ok' "$work/qemu.txt"; then
	fail "the guest itself reports failures (under QEMU too)"
fi
echo "PASS: $name: same $(wc -l <"$work/qemu.txt") lines under QEMU and lilyvm"

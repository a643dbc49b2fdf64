#!/bin/sh
# pftriple.sh - faults while a page fault is being delivered (pftriple.c),
# under QEMU and, rewritten, under lilyvm as an unprivileged user:
#   mode=df      the #PF handler's stack is not present: #DF, whose ring 1
#                handler reports; both must print the same lines, no
#                "not ok", and power off (lilyvm exit status 0).
#   mode=triple  the #DF handler's stack and code are not present as well;
#   mode=cr3     CR3 beyond RAM with paging on:
#                a triple fault. lilyvm must exit with status 1, its first
#                line saying "lilyvm: triple fault: vector 14, then a double
#                fault, could not be delivered", then the guest registers
#                and a backtrace (as triple.sh wants); QEMU (-no-reboot)
#                must reset, which it logs as "Triple fault", right after a
#                #PF (v=0e) and a #DF (v=08) at the EIP lilyvm reports; both
#                must have printed the same lines, and not "still running".
set -u
elf="$top_builddir/tests/guests/pftriple/pftriple.elf"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"
fail() { echo "FAIL: pftriple $mode: $*"; cat "$work/$mode.err" 2>/dev/null; exit 1; }

. "$top_srcdir/tests/guests/lib/unprivileged.sh"

mode=rewrite
"$top_builddir/rewriter/lilyvm-rewrite" "$elf" -o "$work/pftriple.rw" --verify || fail "rewrite"
cp "$top_builddir/lightvm/lilyvm" "$work/lilyvm"

for mode in df triple cr3; do
	: >"$work/$mode.lilyvm"
	chmod 666 "$work/$mode.lilyvm"
	timeout 60 qemu-system-i386 -M pc -cpu qemu32,+nx -m 128 -display none -monitor none -no-reboot \
		-serial "file:$work/$mode.qemu" -d int,cpu_reset -D "$work/$mode.qemu.log" \
		-append "mode=$mode" -kernel "$elf" </dev/null >"$work/$mode.qemu.err" 2>&1 ||
		fail "qemu-system-i386 did not stop cleanly: $(cat "$work/$mode.qemu.err")"
	unprivileged timeout 60 "$work/lilyvm" run "$work/pftriple.rw" --append "mode=$mode" \
		--serial "file:$work/$mode.lilyvm" </dev/null 2>"$work/$mode.err"
	status=$?
	tr -d '\r' <"$work/$mode.qemu" >"$work/$mode.qemu.txt"
	tr -d '\r' <"$work/$mode.lilyvm" >"$work/$mode.lilyvm.txt"
	echo "--- pftriple $mode under lilyvm:"
	cat "$work/$mode.lilyvm.txt"
	grep -v 'guest runs as' "$work/$mode.err" | head -1
	[ -s "$work/$mode.qemu.txt" ] || fail "the guest printed nothing under QEMU"
	diff -u "$work/$mode.qemu.txt" "$work/$mode.lilyvm.txt" ||
		fail "lilyvm and QEMU printed different lines"
	grep -q 'still running' "$work/$mode.qemu.txt" && fail "the guest went on under QEMU"
	grep -q '^not ok' "$work/$mode.qemu.txt" && fail "the guest reports failures (under QEMU too)"
	if [ "$mode" = df ]; then
		[ $status -eq 0 ] || fail "lilyvm exited with $status, expected 0"
		grep -q 'Triple fault' "$work/$mode.qemu.log" && fail "QEMU triple-faulted"
		grep -q '^1\.\.' "$work/$mode.qemu.txt" || fail "the guest did not finish"
		continue
	fi
	[ $status -eq 1 ] || fail "lilyvm exited with $status, expected 1"
	grep -v 'guest runs as' "$work/$mode.err" | head -1 |
		grep -q '^lilyvm: triple fault: vector 14, then a double fault, could not be delivered$' ||
		fail "the first line does not say triple fault after a #PF and a #DF"
	grep -q '^guest registers:' "$work/$mode.err" || fail "no guest registers"
	grep -q '^guest backtrace:' "$work/$mode.err" || fail "no guest backtrace"
	grep -q '^Triple fault' "$work/$mode.qemu.log" || fail "QEMU did not triple-fault"
	last=$(grep -E '^ *[0-9]+: v=' "$work/$mode.qemu.log" | tail -2 |
		sed -n 's/.* v=\([0-9a-f]*\) .* pc=\([0-9a-f]*\) .*/\1 \2/p' | tr '\n' ' ')
	set -- $last
	[ $# -eq 4 ] && [ "$1" = 0e ] && [ "$3" = 08 ] && [ "$2" = "$4" ] ||
		fail "QEMU's last two exceptions were not a #PF then a #DF at one EIP: $last"
	eip=$(sed -n 's/^  eip 0x\([0-9a-f]*\) .*/\1/p' "$work/$mode.err")
	[ -n "$eip" ] && [ $((0x$eip)) -eq $((0x$2)) ] ||
		fail "lilyvm stopped at EIP 0x$eip, QEMU at 0x$2"
done
echo "PASS: pftriple: #DF handled, and two triple faults, as under QEMU"

#!/bin/sh
# abuse.sh - a guest that writes garbage to every I/O port (abuse/abuse.c)
# cannot crash, hang or confuse the monitor: the guest finishes and powers off.
set -u
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$top_builddir/rewriter/lilyvm-rewrite" "$top_builddir/tests/guests/abuse/abuse.elf" \
	-o "$work/abuse.rw" || exit 1
timeout 300 "$top_builddir/lightvm/lilyvm" run "$work/abuse.rw" --serial "file:$work/console" \
	</dev/null 2>"$work/err"
status=$?
if [ $status -ne 0 ] || ! grep -aq 'abuse: survived' "$work/console"; then
	echo "FAIL: lilyvm exited with $status"
	cat "$work/err"
	tail -c 300 "$work/console"
	exit 1
fi
echo "PASS: $(grep -a 'abuse: survived' "$work/console")"

#!/bin/sh
# console.sh - on a terminal, the guest gets the console raw, and the
# terminal is put back as it was however the monitor ends: a guest that
# powers off, a guest that triple-faults, and Ctrl-A x typed while a guest
# is busy (the abuse guest runs for seconds).
set -u
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0

"$top_builddir/rewriter/lilyvm-rewrite" "$top_builddir/tests/guests/demo/demo.elf" \
	-o "$work/demo.rw" || exit 1
"$top_builddir/rewriter/lilyvm-rewrite" "$top_builddir/tests/guests/triple/triple.elf" \
	-o "$work/triple.rw" || exit 1
"$top_builddir/rewriter/lilyvm-rewrite" "$top_builddir/tests/guests/bench/bench.elf" \
	-o "$work/bench.rw" || exit 1

# Run lilyvm on a pseudo-terminal (script) and compare stty before and after;
# with a third argument, type Ctrl-A x that many seconds in; a fourth goes to --append.
on_terminal() {
	{ sleep "${3:-0}"; [ -z "${3:-}" ] || printf '\001x'; sleep 1; } |
	script -qec "stty -g >'$work/before'; '$top_builddir/lightvm/lilyvm' run '$1' \
		--append '${4:-}' \
		2>'$work/err'; stty -g >'$work/after'; stty -a >'$work/after-all'" /dev/null \
		>"$work/out"
	if ! cmp -s "$work/before" "$work/after"; then
		echo "FAIL: $2: the terminal was not restored"
		failures=$((failures + 1))
	elif ! grep -q ' icanon' "$work/after-all"; then
		echo "FAIL: $2: the terminal is not in canonical mode"
		failures=$((failures + 1))
	else
		echo "ok - $2: terminal restored"
	fi
}

on_terminal "$work/demo.rw" "guest powers off"
grep -q 'demo: powering off' "$work/out" || { echo "FAIL: no guest output"; failures=$((failures + 1)); }
on_terminal "$work/triple.rw" "guest triple-faults"
grep -q 'triple fault' "$work/err" || { echo "FAIL: no triple fault line"; failures=$((failures + 1)); }
# A guest that computes for much longer than the test waits.
on_terminal "$work/bench.rw" "Ctrl-A x while the guest runs" 1 "op=cpu n=1000000000"
grep -q 'stopped from the console (Ctrl-A x)' "$work/err" ||
	{ echo "FAIL: Ctrl-A x did not stop the guest: $(cat "$work/err")"; failures=$((failures + 1)); }
exit $((failures != 0))

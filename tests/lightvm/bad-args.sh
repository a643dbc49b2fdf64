#!/bin/sh
# bad-args.sh - every bad command line or unusable kernel gets exactly one
# line on stderr starting "lilyvm: ", a non-zero exit, and no crash.
set -u
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
lilyvm="$top_builddir/lightvm/lilyvm"
demo="$top_builddir/tests/guests/demo/demo.elf"
failures=0

"$top_builddir/rewriter/lilyvm-rewrite" "$demo" -o "$work/demo.rw" || exit 1
head -c 3000 "$work/demo.rw" >"$work/truncated.rw"
head -c 4096 /dev/urandom >"$work/junk.rw"
mkdir "$work/dir.rw"

# expect NAME KEYWORD ARGS...: run lilyvm with ARGS and judge its stderr.
expect() {
	name=$1 keyword=$2
	shift 2
	timeout 20 "$lilyvm" "$@" </dev/null >"$work/out" 2>"$work/err"
	status=$?
	lines=$(wc -l <"$work/err")
	if [ $status -eq 0 ] || [ $status -ge 124 ]; then
		echo "FAIL: $name: exit status $status"
	elif [ "$lines" -ne 1 ] || ! grep -q '^lilyvm: ' "$work/err"; then
		echo "FAIL: $name: expected one line, got $lines:"; cat "$work/err"
	elif ! grep -q -- "$keyword" "$work/err"; then
		echo "FAIL: $name: no '$keyword' in: $(cat "$work/err")"
	else
		echo "ok - $name: $(cat "$work/err")"
		return
	fi
	failures=$((failures + 1))
}

expect "no command" "run KERNEL"
expect "unknown command" "run KERNEL" boot "$work/demo.rw"
expect "unknown option" "--bogus" run "$work/demo.rw" --bogus
expect "missing option argument" "--mem" run "$work/demo.rw" --mem
expect "bad size" "--mem 12Q" run "$work/demo.rw" --mem 12Q
expect "too much memory" "--mem 5G" run "$work/demo.rw" --mem 5G
expect "too little memory" "between 2 MiB" run "$work/demo.rw" --mem 1M
expect "bad serial" "--serial tty" run "$work/demo.rw" --serial tty
expect "bad trace class" "--trace bogus" run "$work/demo.rw" --trace bogus
expect "two kernels" "exactly one KERNEL" run "$work/demo.rw" "$work/demo.rw"
expect "missing kernel" "No such file" run "$work/none.rw"
expect "kernel is a directory" "not a regular file" run "$work/dir.rw"
expect "not rewritten" "lilyvm-rewrite" run "$demo"
expect "junk kernel" "junk.rw" run "$work/junk.rw"
expect "truncated kernel" "truncated.rw: truncated" run "$work/truncated.rw"
expect "missing initrd" "No such file" run "$work/demo.rw" --initrd "$work/none"
expect "unwritable serial file" "No such file" run "$work/demo.rw" --serial "file:$work/no/dir"
expect "unknown network type" "--net tap: unknown network type" run "$work/demo.rw" --net tap
expect "bad net option" "unknown option bogus" run "$work/demo.rw" --net user,bogus=1
expect "bad hostfwd" "bad value for hostfwd" run "$work/demo.rw" --net user,hostfwd=tcp::99999-:80
expect "address outside the net" "dns= is not inside net=" run "$work/demo.rw" --net user,dns=1.2.3.4
# A forward onto a port something already listens on (the listener is the
# test's own: a port taken by a process that ignores connections).
if command -v python3 >/dev/null; then
	python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1)
print(s.getsockname()[1], flush=True); time.sleep(30)' >"$work/port" &
	holder=$!
	for _ in 1 2 3 4 5 6 7 8 9 10; do [ -s "$work/port" ] && break; sleep 0.2; done
	expect "hostfwd port taken" "cannot listen there" run "$work/demo.rw" \
		--net "user,hostfwd=tcp:127.0.0.1:$(cat "$work/port")-:80"
	kill "$holder" 2>/dev/null
fi
expect "linux: not a bzImage" "junk.rw: .*not a bzImage" run --linux "$work/junk.rw"
expect "linux: an ELF, not a bzImage" "not a bzImage" run --linux "$work/demo.rw"
expect "linux: missing bzImage" "No such file" run --linux "$work/none"
expect "linux and a kernel" "exactly one KERNEL" run --linux "$work/junk.rw" "$work/demo.rw"
[ -z "$(ls "$work" | grep lilyvm)" ] || { echo "FAIL: a rewrite cache file was left"; failures=$((failures + 1)); }
exit $((failures != 0))

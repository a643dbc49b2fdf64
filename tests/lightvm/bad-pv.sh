#!/bin/sh
# bad-pv.sh - lilyvm refuses a rewritten image whose trampolines
# (.lilyvm.pv, rewriter/sites.h) are corrupt: exit status 1, one line on
# stderr saying so, the guest never started. Each case is one precise edit
# of the iflag micro-guest's rewritten image (which has trampolines).
set -u
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0

"$top_builddir/rewriter/lilyvm-rewrite" "$top_builddir/tests/guests/iflag/iflag.elf" \
	-o "$work/good.rw" >/dev/null || { echo "FAIL: cannot rewrite iflag.elf"; exit 1; }
python3 - "$work" <<'PY' || { echo "FAIL: cannot make the corrupt images"; exit 1; }
import struct, sys
work = sys.argv[1]
b = bytes(open(work + "/good.rw", "rb").read())
shoff, = struct.unpack_from("<I", b, 0x20)
shnum, shstrndx = struct.unpack_from("<HH", b, 0x30)
sh = lambda i: struct.unpack_from("<10I", b, shoff + 40 * i)
strs = sh(shstrndx)[4]
off = next(sh(i)[4] for i in range(shnum)
           if b[strs + sh(i)[0]:].split(b"\0")[0] == b".lilyvm.pv")
code, = struct.unpack_from("<I", b, off + 16)
entry = off + 24 + ((code + 3) & ~3)

def case(name, at, value, fmt="<I"):
    c = bytearray(b)
    struct.pack_into(fmt, c, at, value)
    open("%s/%s.rw" % (work, name), "wb").write(c)

case("magic", off, ord("X"), "<B")
case("count", off + 20, 0xffffff)
case("code-size", off + 16, 0x7fffffff)
case("base", off + 12, 0x1000)
case("trampoline-outside", entry, 0xdead)
case("no-such-site", entry + 4, 0x1234)
PY
for name in magic count code-size base trampoline-outside no-such-site; do
	timeout 20 "$top_builddir/lightvm/lilyvm" run "$work/$name.rw" \
		>"$work/out" 2>"$work/err" </dev/null
	status=$?
	lines=$(grep -vc 'guest runs as' "$work/err")
	if [ $status -ne 1 ] || [ "$lines" -ne 1 ] ||
		! grep -q '^lilyvm: .*: the trampolines are malformed: ' "$work/err" ||
		grep -q 'guest runs as' "$work/err"; then
		echo "FAIL: $name: exit $status, stderr: $(tr '\n' '|' <"$work/err")"
		failures=$((failures + 1))
	else
		echo "ok - $name: $(cat "$work/err")"
	fi
done
timeout 60 "$top_builddir/lightvm/lilyvm" run "$work/good.rw" >"$work/out" 2>"$work/err" </dev/null ||
	{ echo "FAIL: the intact image does not run: $(cat "$work/err")"; failures=$((failures + 1)); }
exit $((failures != 0))

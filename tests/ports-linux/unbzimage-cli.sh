#!/bin/sh
# lilyvm-unbzimage: unpacks fake bzImages of each format byte-exact through a
# temporary file, prints the header, and fails with one line on bad input.
set -u
bin=${top_builddir:?}/ports/linux/lilyvm-unbzimage
mk=$top_builddir/tests/ports-linux/mkbzimage
dir=$(mktemp -d "${TMPDIR:-/tmp}/unbzimage-cli.XXXXXX") || exit 99
trap 'rm -rf "$dir"' EXIT
passed=0 failed=0

check() { # check NAME COMMAND...: COMMAND must succeed
	name=$1; shift
	if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL: $name"; fi
}

no_temporary_files() { # lilyvm-unbzimage renamed every OUT.XXXXXX it made
	set -- "$dir"/*.out.*
	[ ! -e "$1" ]
}

one_line_error() { # the stderr file holds exactly one line, naming the program
	[ "$(wc -l < "$1")" -eq 1 ] && grep -q '^lilyvm-unbzimage: ' "$1"
}

for fmt in xz gzip zstd lzma; do
	"$mk" $fmt "$dir/$fmt.bz" "$dir/$fmt.elf" || exit 99
	check "$fmt: exit 0" "$bin" "$dir/$fmt.bz" -o "$dir/$fmt.out"
	check "$fmt: byte-exact" cmp -s "$dir/$fmt.elf" "$dir/$fmt.out"
	"$bin" "$dir/$fmt.bz" --header > "$dir/$fmt.hdr"
	check "$fmt: header names the payload" grep -q "^payload  *$fmt, " "$dir/$fmt.hdr"
	check "$fmt: header has the version" grep -q '^kernel_version  *6.1.0-fake' "$dir/$fmt.hdr"
	check "$fmt: header has the protocol" grep -q '^protocol  *2.15$' "$dir/$fmt.hdr"
done
check "no temporary files left" no_temporary_files

# A corrupt image must not replace an existing output.
head -c 3000 "$dir/xz.bz" > "$dir/short.bz"
cp "$dir/xz.out" "$dir/keep.out"
"$bin" "$dir/short.bz" -o "$dir/keep.out" 2> "$dir/short.err"
check "truncated: exit 1" test $? -eq 1
check "truncated: one-line error" one_line_error "$dir/short.err"
check "truncated: names the file" grep -q "short.bz: payload" "$dir/short.err"
check "truncated: output kept" cmp -s "$dir/xz.out" "$dir/keep.out"

"$bin" "$dir/missing.bz" -o "$dir/x.out" 2> "$dir/missing.err"
check "missing file: exit 1" test $? -eq 1
check "missing file: one-line error" one_line_error "$dir/missing.err"

"$bin" "$dir/xz.bz" -o "$dir/no/such/dir/x.out" 2> "$dir/nodir.err"
check "unwritable output: exit 1" test $? -eq 1
check "unwritable output: one-line error" one_line_error "$dir/nodir.err"

"$bin" "$dir/xz.bz" 2> /dev/null
check "nothing to do: usage, exit 2" test $? -eq 2

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

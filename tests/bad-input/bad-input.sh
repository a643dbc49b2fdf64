#!/bin/sh
# bad-input.sh - lilyvm-rewrite refuses every corrupt input and every output
# path it cannot use the same way: exit status 1 (never a signal), exactly one
# line on stderr, "lilyvm-rewrite: " and words naming the problem, and nothing
# left in the output directory (neither the output nor its temporary file).
#
# The corrupt images come from mkbad, one precise edit of tiny.elf or of its
# rewritten copy each, with the words their error must contain. When valgrind
# is installed every run goes through it, so a memory error or a leak on an
# error path fails the case too.

set -u
tool=$top_builddir/rewriter/lilyvm-rewrite
mkbad=$top_builddir/tests/bad-input/mkbad
valid=$top_builddir/tests/bad-input/tiny.elf
relocatable=$top_builddir/tests/bad-input/tiny.o

VALGRIND_STATUS=99
valgrind=
if command -v valgrind >/dev/null 2>&1; then
	valgrind="valgrind -q --log-fd=3 --error-exitcode=$VALGRIND_STATUS --leak-check=full
		--errors-for-leak-kinds=definite,indirect"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/bad-input.XXXXXX") || exit 99
trap 'chmod -R u+w "$work"; rm -rf "$work"' EXIT
# One case runs the tool as an unprivileged user: it must reach the tool and
# its input, so both are copied into a directory everyone can read.
chmod 755 "$work"
cp "$tool" "$valid" "$relocatable" "$work/" || exit 99
mkdir "$work/bad" "$work/out"

failures=0
as_user=

fail()
{
	echo "FAIL $name: $*"
	failures=$((failures + 1))
}

# Run the tool (as $as_user, under valgrind if any) on "$@", keeping its output.
run_tool()
{
	$as_user $valgrind "$work/lilyvm-rewrite" "$@" >"$work/stdout" 2>"$work/stderr" \
		3>"$work/valgrind.log"
}

# A refusal exits 1; anything else is a wrong verdict, a crash or a memory error.
check_status()
{
	if [ -n "$valgrind" ] && [ "$1" -eq "$VALGRIND_STATUS" ]; then
		fail "valgrind found errors:"
		cat "$work/valgrind.log"
	elif [ "$1" -ge 128 ]; then
		fail "killed by signal $(($1 - 128))"
	elif [ "$1" -ne 1 ]; then
		fail "exit status $1, expected 1"
	fi
}

# stderr must be one newline-terminated line, prefixed, naming the problem.
check_message()
{
	msg=$(cat "$work/stderr")
	if [ "$(wc -l <"$work/stderr")" -ne 1 ] || [ -n "$(tail -c 1 "$work/stderr")" ]; then
		fail "stderr is not exactly one line:"
		cat "$work/stderr"
		return
	fi
	case $msg in
	"lilyvm-rewrite: "*) ;;
	*) fail "stderr does not start with 'lilyvm-rewrite: ': $msg" ;;
	esac
	case $msg in
	*"$1"*) ;;
	*) fail "error does not say '$1': $msg" ;;
	esac
}

# expect_refusal NAME KEYWORD OUTDIR ARGS...: run the tool on ARGS; it must
# refuse with an error containing KEYWORD and leave OUTDIR exactly as it was.
expect_refusal()
{
	name=$1 keyword=$2 outdir=$3
	shift 3
	failures_before=$failures
	before=$(ls -AR "$outdir")
	run_tool "$@"
	check_status $?
	check_message "$keyword"
	after=$(ls -AR "$outdir")
	[ "$before" = "$after" ] || fail "left in $outdir: $after"
	[ "$failures" -eq "$failures_before" ] && echo "ok   $name: $msg"
}

# An empty output directory of its own for each case.
fresh_outdir()
{
	mkdir "$work/out/$1" && echo "$work/out/$1"
}

# Set as_user to a command prefix that runs as a user without write access to
# directories owned by the current one: none when not root, else nobody.
find_unprivileged_user()
{
	[ "$(id -u)" -ne 0 ] && return 0
	for as_user in "setpriv --reuid=nobody --regid=nogroup --clear-groups" \
		       "runuser -u nobody --"; do
		$as_user "$work/lilyvm-rewrite" --help >/dev/null 2>&1 && return 0
	done
	as_user=
	return 1
}

check_bad_inputs()
{
	$mkbad "$work/bad" "$work/tiny.elf" "$work/tiny.rw" >"$work/cases" || exit 99
	while IFS='	' read -r case_name case_keyword; do
		outdir=$(fresh_outdir "$case_name") || exit 99
		expect_refusal "$case_name" "$case_keyword" "$outdir" \
			"$work/bad/$case_name.elf" -o "$outdir/out.elf"
	done <"$work/cases"
}

check_other_inputs()
{
	outdir=$(fresh_outdir relocatable-object) || exit 99
	expect_refusal relocatable-object "not an executable" "$outdir" \
		"$work/tiny.o" -o "$outdir/out.elf"
	outdir=$(fresh_outdir missing-input) || exit 99
	expect_refusal missing-input "no-such.elf: No such file or directory" "$outdir" \
		"$work/no-such.elf" -o "$outdir/out.elf"
	outdir=$(fresh_outdir directory-input) || exit 99
	expect_refusal directory-input "not a regular file" "$outdir" \
		"$work/bad" -o "$outdir/out.elf"
}

check_output_paths()
{
	outdir=$(fresh_outdir missing-directory) || exit 99
	expect_refusal missing-directory "cannot write $outdir/none/out.elf: No such file" \
		"$outdir" "$work/tiny.elf" -o "$outdir/none/out.elf"

	outdir=$(fresh_outdir output-is-directory) || exit 99
	mkdir "$outdir/target"
	expect_refusal output-is-directory "cannot write $outdir/target: Is a directory" \
		"$outdir" "$work/tiny.elf" -o "$outdir/target"

	outdir=$(fresh_outdir unwritable-directory) || exit 99
	chmod 555 "$outdir"
	if ! find_unprivileged_user || $as_user test -w "$outdir"; then
		echo "SKIP unwritable-directory: no user to run the tool as who cannot write there"
	else
		expect_refusal unwritable-directory \
			"cannot write $outdir/out.elf: Permission denied" \
			"$outdir" "$work/tiny.elf" -o "$outdir/out.elf"
	fi
	as_user=
}

# The cases are only meaningful if the intact image goes through.
name=valid-image
run_tool "$work/tiny.elf" -o "$work/tiny.rw" --verify
status=$?
if [ "$status" -ne 0 ]; then
	fail "exit status $status on the intact image:"
	cat "$work/stderr" "$work/valgrind.log"
	exit 99
fi

check_bad_inputs
check_other_inputs
check_output_paths
echo "$failures failure(s)"
[ "$failures" -eq 0 ]

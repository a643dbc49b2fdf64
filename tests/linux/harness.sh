# harness.sh - sourced by the scripted guest sessions (tests/linux/session.sh,
# tests/net/session.sh): boot Debian's i386 686 kernel with the guest
# initramfs (ports/linux/mkguest.sh) under QEMU and under lilyvm, type a
# script into the shell on the serial console, run the script's host lines
# on the host in between, and filter and compare the transcripts.
#
# The sourcing script sets, before it sources this file:
#   here     its own directory
#   TEST     its name in messages ("session: ...")
#   SCRIPT   the script it types (see "The script" below)
# and may define, after:
#   SCRIPT_VARS    names of variables whose values replace @NAME@ in the
#                  script's lines (host ports chosen at run time); the
#                  filter turns the values back into @NAME@
#   filter_more    a sed-like filter, stdin to stdout, for what differs from
#                  run to run in its own transcript (default: none)
#   check_run RUN TXT  its own checks of a run's filtered transcript: prints
#                  "ok - ..." or "not ok - ..." lines, non-zero if one failed
#   cleanup        what to undo at exit (servers it started), before the
#                  work directory is removed
# environment (the sourcing script documents them for its users):
#   LILYVM, LILYVM_REWRITE, QEMU, CC, SESSION_TIMEOUT
#
# The script: one line at a time, each sent once the shell prompts for it.
# Lines that start with # and empty lines are skipped. The harness itself
# sends one line first (the prompt and terminal width it needs). Then:
#   "!wall MIN MAX COMMAND" sends COMMAND and checks that it took between
#             MIN and MAX seconds of host time, from sending the line to the
#             next prompt.
#   "!host COMMAND" runs COMMAND on the host, not in the guest: the
#             harness's shell evaluates it in a subshell in the work
#             directory (so it sees the sourcing script's functions and
#             variables, and $GUEST_OUT, a file with the guest's console
#             output since the last host line), with SESSION_TIMEOUT seconds
#             to finish. The transcript shows it where it ran, after the
#             guest's prompt as if typed there, then its output, then the
#             prompt again. A non-zero status is a failed check.
#   "poweroff" is sent, and then nothing more: the harness waits for the
#             guest to halt and the VM to exit.
#   Every other line is sent as it is.
# The raw console output of run NAME is $WORK/NAME.raw; NAME.log is the same
# with the host lines' blocks where they ran, and is what gets filtered.
set -u

GUEST_MEM_MB=256
# The prompt the harness sets: the last command's status, then "# ".
PROMPT_SET="PS1='[\$?] # '"
READY_MARKER="lilyvm-guest: ready"

top=${top_srcdir:-$(cd "$here/../.." && pwd)}
# GUEST_CMDLINE, and why each of its options is there.
. "$top/ports/linux/cmdline.sh"
QEMU=${QEMU:-qemu-system-i386}
CC=${CC:-gcc}
TIMEOUT=${SESSION_TIMEOUT:-180}
LILYVM=${LILYVM:-}
# Under `make check` (top_builddir set): the monitor just built.
[ -z "$LILYVM" ] && [ -n "${top_builddir:-}" ] && LILYVM=$top_builddir/lightvm/lilyvm
SCRIPT_VARS=
keep=
runs=

ESC=$(printf '\033')

die() {
	echo "$TEST: $*" >&2
	exit 1
}

skip() {
	echo "SKIP: $TEST: $*"
	exit 77
}

now() {
	date +%s.%N
}

# elapsed T0 [T1]: seconds from T0 to T1 (default now), 2 decimals.
elapsed() {
	awk -v a="$1" -v b="${2:-$(now)}" 'BEGIN { printf "%.2f\n", b - a }'
}

# over T0: true once more than TIMEOUT seconds have passed since T0.
over() {
	awk -v e="$(elapsed "$1")" -v t="$TIMEOUT" 'BEGIN { exit !(e > t) }'
}

# Console output without carriage returns (the tty turns \n into \r\n) and
# the cursor-position queries busybox's line editor sends before it reads a
# line (nobody answers them).
clean() {
	tr -d '\r' | sed "s/$ESC\\[6n//g"
}

# The console output from byte OFFSET on, cleaned.
output_since() {
	tail -c +"$(($1 + 1))" "$OUT" | clean
}

size_of() {
	wc -c <"$1" | tr -d ' '
}

vm_running() {
	kill -0 "$VMPID" 2>/dev/null
}

# wait_for OFFSET WHAT: wait until the output after OFFSET matches WHAT:
# "ready" (the marker line, then a prompt) or "prompt" (a line break, then
# the harness's prompt at the very end). 1 if the VM exits or time runs out.
wait_for() {
	wait_t0=$(now)
	while :; do
		text=$(output_since "$1")
		case $2 in
		ready)
			case $text in *"$READY_MARKER"*"# ") return 0 ;; esac ;;
		prompt)
			if printf '%s' "$text" | tail -n 1 | grep -qx '\[[0-9]*\] # ' &&
				[ "$(printf '%s\n' "$text" | wc -l)" -ge 2 ]; then
				return 0
			fi ;;
		esac
		vm_running || return 1
		over "$wait_t0" && return 1
		sleep 0.05
	done
}

# send LINE: type LINE and Enter on the guest's console.
send() {
	printf '%s\n' "$1" >&3
}

# subst LINE: LINE with @NAME@ replaced by $NAME for each of SCRIPT_VARS.
subst() {
	s_line=$1 s_val=''
	for v in $SCRIPT_VARS; do
		eval "s_val=\${$v}"
		s_line=$(printf '%s\n' "$s_line" | sed "s/@$v@/$s_val/g")
	done
	printf '%s\n' "$s_line"
}

# log_upto OFFSET: the console output up to OFFSET joins the run's log.
log_upto() {
	tail -c +"$((logged + 1))" "$OUT" | head -c "$(($1 - logged))" >>"$LOG"
	logged=$1
}

# host_line COMMAND: run a script's !host line (see the header) and put it
# in the log after the guest's current prompt.
host_line() {
	log_upto "$(size_of "$OUT")"
	GUEST_OUT=$WORK/guest.out
	export GUEST_OUT
	output_since "$host_mark" >"$GUEST_OUT"
	h_prompt=$(tail -c 64 "$OUT" | clean | tail -n 1)
	printf '!host %s\n' "$1" >>"$LOG"
	h0=$(now)
	(cd "$WORK" && eval "$1") </dev/null >>"$LOG" 2>&1 &
	h_pid=$!
	while kill -0 "$h_pid" 2>/dev/null && ! over "$h0"; do
		sleep 0.05
	done
	if kill -0 "$h_pid" 2>/dev/null && over "$h0"; then
		kill_tree KILL "$h_pid"
		echo "!host: killed after $TIMEOUT s" >>"$LOG"
	fi
	wait "$h_pid" 2>/dev/null
	h_status=$?
	echo "host $(elapsed "$h0") s: $1" >>"$times"
	if [ "$h_status" != 0 ]; then
		echo "!host: exit status $h_status" >>"$LOG"
		echo "not ok - $name: host line \"$1\" exited with status $h_status" >>"$times"
		status=1
	fi
	printf '%s' "$h_prompt" >>"$LOG"
	host_mark=$(size_of "$OUT")
}

# run_session NAME CMD...: boot the guest with CMD (its console on stdio),
# play $SCRIPT, leave $WORK/NAME.raw, NAME.log, NAME.times and NAME.status.
run_session() {
	name=$1
	shift
	runs="$runs${runs:+ }$name"
	OUT=$WORK/$name.raw
	LOG=$WORK/$name.log
	times=$WORK/$name.times
	status=0
	logged=0
	: >"$OUT"
	: >"$LOG"
	: >"$times"
	rm -f "$WORK/console.in"
	mkfifo "$WORK/console.in" || die "cannot make a FIFO in $WORK"
	"$@" <"$WORK/console.in" >"$OUT" 2>"$WORK/$name.stderr" &
	VMPID=$!
	# Holding the FIFO open for writing is what lets the VM open it and
	# what keeps its input from ever seeing end-of-file.
	exec 3>"$WORK/console.in"
	t0=$(now)
	if ! wait_for 0 ready; then
		echo "not ok - $name: the guest printed no \"$READY_MARKER\" and prompt within $TIMEOUT s" >>"$times"
		status=1
		stop_vm "$name"
		return
	fi
	echo "boot-to-ready $(elapsed "$t0") s" >>"$times"
	# A wide terminal, or busybox's line editor wraps long command lines
	# with its own escapes; a prompt that says how the last command ended.
	sent=$(size_of "$OUT")
	host_mark=$sent
	send "stty cols 1000 rows 50; $PROMPT_SET"
	wait_for "$sent" prompt || { stuck "$name" "the prompt setup"; return; }
	session_t0=$(now)
	while IFS= read -r line; do
		case $line in '' | '#'*) continue ;; esac
		min='' max=''
		case $line in
		'!host '*)
			host_line "$(subst "${line#!host }")"
			continue
			;;
		'!wall '*)
			# shellcheck disable=SC2086  # split into words
			set -- $line
			min=$2 max=$3
			line=${line#!wall "$min" "$max" }
			;;
		esac
		line=$(subst "$line")
		sent=$(size_of "$OUT")
		c0=$(now)
		send "$line"
		if [ "$line" = poweroff ]; then
			break
		fi
		wait_for "$sent" prompt || { stuck "$name" "$line"; return; }
		took=$(elapsed "$c0")
		echo "command $took s: $line" >>"$times"
		if [ -n "$min" ]; then
			if awk -v t="$took" -v a="$min" -v b="$max" 'BEGIN { exit !(t >= a && t <= b) }'; then
				echo "ok - $name: \"$line\" took $took s of host time (wanted $min-$max s)" >>"$times"
			else
				echo "not ok - $name: \"$line\" took $took s of host time (wanted $min-$max s)" >>"$times"
				status=1
			fi
		fi
	done <"$SCRIPT"
	# After poweroff the guest halts (acpi=off: no way to switch off): the
	# monitor exits by itself; QEMU keeps a halted CPU and is stopped with
	# its console escape, Ctrl-A x.
	t1=$(now)
	while vm_running; do
		if output_since 0 | grep -q 'reboot: \(System halted\|Power down\)'; then
			case $name in qemu) printf '\001x' >&3 ;; esac
			break
		fi
		over "$t1" && break
		sleep 0.05
	done
	t2=$(now)
	while vm_running && awk -v e="$(elapsed "$t2")" 'BEGIN { exit !(e < 10) }'; do
		sleep 0.05
	done
	if vm_running; then
		echo "not ok - $name: still running after poweroff" >>"$times"
		status=1
	else
		echo "poweroff-to-exit $(elapsed "$t1") s" >>"$times"
	fi
	echo "session $(elapsed "$session_t0") s (boot to exit $(elapsed "$t0") s)" >>"$times"
	stop_vm "$name"
}

stuck() {
	echo "not ok - $1: no prompt after \"$2\" within $TIMEOUT s (or the VM exited)" >>"$times"
	status=1
	stop_vm "$1"
}

# kill_tree SIGNAL PID: PID and its descendants (the VM command may be the
# shell function unprivileged, whose subshell waits for setpriv's child).
kill_tree() {
	# shellcheck disable=SC2013  # one PID a word
	for child in $(cat /proc/"$2"/task/*/children 2>/dev/null); do
		kill_tree "$1" "$child"
	done
	kill "-$1" "$2" 2>/dev/null
}

stop_vm() {
	exec 3>&-
	if vm_running; then
		# SIGTERM to the VM command (or to the monitor that the function
		# unprivileged runs), not to the monitor's own guest process; then
		# SIGKILL to whatever is left.
		# shellcheck disable=SC2046  # one PID a word
		kill -TERM "$VMPID" $(cat /proc/"$VMPID"/task/*/children 2>/dev/null) 2>/dev/null
		sleep 1
		kill_tree KILL "$VMPID"
	fi
	wait "$VMPID" 2>/dev/null
	tail -c +"$((logged + 1))" "$OUT" >>"$LOG"
	echo "$status" >"$WORK/$1.status"
}

# filter_more: the sourcing script's own filter (this default: none).
filter_more() {
	cat
}

# check_run RUN TXT: the sourcing script's own checks (this default: none).
check_run() {
	:
}

# cleanup: the sourcing script's own undoing at exit (this default: none).
cleanup() {
	:
}

# unsubst: each value of SCRIPT_VARS back to @NAME@.
unsubst() {
	u_sed='' u_val=''
	for v in $SCRIPT_VARS; do
		eval "u_val=\${$v}"
		u_sed="$u_sed s/\\b$u_val\\b/@$v@/g;"
	done
	if [ -n "$u_sed" ]; then sed "$u_sed"; else cat; fi
}

# filter LOG: the transcript from the ready marker on, with what differs from
# run to run or host to host replaced. Each expression says why.
filter() {
	clean <"$1" | sed -n "/$READY_MARKER/,\$p" | sed \
		-e '# kernel log timestamps (dmesg, the halt message): time since boot' \
		-e 's/^\[ *[0-9]*\.[0-9]*\]/[T]/' \
		-e '# after poweroff the shell prints a prompt at a moment that races' \
		-e '# with init'"'"'s shutdown messages' \
		-e '/^\[[0-9]*\] # poweroff$/,${' \
		-e '  /^\[[0-9]*\] # poweroff$/b' \
		-e '  s/^\[[0-9]*\] # //' \
		-e '  /^$/d' \
		-e '# and reports the poweroff command "Terminated" if init'"'"'s SIGTERM to' \
		-e '# all processes comes before that command has exited' \
		-e '  /^Terminated$/d' \
		-e '}' \
		-e '# QEMU'"'"'s own words when the harness stops it with Ctrl-A x' \
		-e '/^QEMU: Terminated$/d' |
		filter_more | unsubst
}

# parse_args "$@": the options every session takes.
parse_args() {
	while [ $# -gt 0 ]; do
		case $1 in
		-k) [ $# -ge 2 ] || die "usage: $(basename "$0") [-k DIR]"; keep=$2; shift 2 ;;
		*) die "usage: $(basename "$0") [-k DIR]" ;;
		esac
	done
}

# start: QEMU or skip; the work directory, removed at exit after cleanup.
start() {
	command -v "$QEMU" >/dev/null || skip "no $QEMU (Debian package qemu-system-x86)"
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/$TEST.XXXXXX") || die "cannot make a work directory"
	chmod 755 "$WORK"
	trap 'cleanup; rm -rf "$WORK"' EXIT
	trap 'exit 1' HUP INT TERM
}

# guest_cc NAME SOURCE ARG...: a static i386 program $WORK/NAME for the guest.
guest_cc() {
	gc_name=$1 gc_src=$2
	shift 2
	"$CC" -m32 -static -O2 -Wall -o "$WORK/$gc_name" "$gc_src" "$@" ||
		die "cannot build $gc_name with $CC -m32 -static (gcc-multilib)"
}

# make_guest FILE...: the guest image with FILEs in /usr/local/bin; sets
# BZIMAGE and INITRD.
make_guest() {
	sh "$top/ports/linux/mkguest.sh" -o "$WORK/initrd" "$@" >"$WORK/mkguest.out" ||
		skip "no guest image (ports/linux/mkguest.sh failed)"
	BZIMAGE=$(sed -n 's/^bzimage //p' "$WORK/mkguest.out")
	INITRD=$(sed -n 's/^initramfs //p' "$WORK/mkguest.out")
	[ -f "$BZIMAGE" ] && [ -f "$INITRD" ] || die "mkguest.sh named no bzImage and initramfs"
}

# run_qemu ARG...: the session under QEMU, with ARGs for its devices.
# -nographic puts the serial console on stdio (multiplexed with QEMU's
# monitor, whose Ctrl-A x stops it after the halt).
run_qemu() {
	run_session qemu "$QEMU" -M pc -m "$GUEST_MEM_MB" -nographic -no-reboot "$@" \
		-kernel "$BZIMAGE" -initrd "$INITRD" -append "$GUEST_CMDLINE"
}

# run_lilyvm ARG...: the session under `$LILYVM run --linux ...` with ARGs
# for its devices, as an unprivileged user.
run_lilyvm() {
	# shellcheck source=tests/guests/lib/unprivileged.sh
	. "$top/tests/guests/lib/unprivileged.sh"
	# As root the monitor runs as nobody, who may not read the cache in
	# root's home nor write there the rewritten image it keeps beside the
	# bzImage: it gets copies in a directory of its own.
	mkdir "$WORK/vm" && cp "$LILYVM" "$WORK/vm/lilyvm" && cp "$BZIMAGE" "$WORK/vm/bzImage" &&
		cp "$INITRD" "$WORK/vm/initrd" && chmod 777 "$WORK/vm" && chmod 644 "$WORK/vm/bzImage" "$WORK/vm/initrd" ||
		die "cannot copy the monitor and the guest to $WORK/vm"
	# The monitor runs lilyvm-rewrite on the bzImage's vmlinux and looks for
	# it next to itself first: $LILYVM_REWRITE, or the one beside $LILYVM
	# (installed) or in ../rewriter/ (build tree), goes there too.
	rewrite=${LILYVM_REWRITE:-}
	for c in "$(dirname "$LILYVM")/lilyvm-rewrite" "$(dirname "$LILYVM")/../rewriter/lilyvm-rewrite"; do
		[ -z "$rewrite" ] && [ -x "$c" ] && rewrite=$c
	done
	if [ -n "$rewrite" ]; then
		cp "$rewrite" "$WORK/vm/lilyvm-rewrite" || die "cannot copy $rewrite to $WORK/vm"
	fi
	run_session lilyvm unprivileged "$WORK/vm/lilyvm" run --linux "$WORK/vm/bzImage" \
		--initrd "$WORK/vm/initrd" --mem "${GUEST_MEM_MB}M" --append "$GUEST_CMDLINE" --serial stdio "$@"
}

# report: print QEMU's filtered transcript, each run's checks and timings,
# and compare the transcripts; keep the logs if asked. 1 if a check failed.
report() {
	failed=0
	for r in $runs; do
		filter "$WORK/$r.log" >"$WORK/$r.txt"
		clean <"$WORK/$r.raw" | sed "/$READY_MARKER/q" >"$WORK/$r.boot"
	done
	echo "--- filtered transcript (qemu):"
	cat "$WORK/qemu.txt"
	echo "---"
	for r in $runs; do
		grep '^\(not \)\{0,1\}ok' "$WORK/$r.times"
		[ "$(cat "$WORK/$r.status")" = 0 ] || failed=1
		check_run "$r" "$WORK/$r.txt" || failed=1
		grep -v '^\(not \)\{0,1\}ok' "$WORK/$r.times" | sed "s/^/$r: /"
	done
	case " $runs " in
	*" lilyvm "*)
		if diff -u "$WORK/qemu.txt" "$WORK/lilyvm.txt"; then
			echo "ok - lilyvm and QEMU transcripts match ($(wc -l <"$WORK/qemu.txt") lines)"
		else
			echo "not ok - lilyvm and QEMU transcripts differ"
			failed=1
		fi
		;;
	esac
	if [ -n "$keep" ]; then
		mkdir -p "$keep" && cp "$WORK"/*.raw "$WORK"/*.log "$WORK"/*.txt "$WORK"/*.boot \
			"$WORK"/*.times "$WORK"/*.stderr "$keep/" || die "cannot keep the logs in $keep"
	fi
	return $failed
}

#!/bin/sh
# mmu.sh - what guest paging costs under lilyvm, next to QEMU TCG and the
# ptrace-stop floor, all measured in the same run: first-touch and
# copy-on-write page faults, address-space switches among 2, 8 and 64 page
# directories, and a micro fork + exit (bench/README.md says what one event
# of each includes).
#
# The guest (tests/guests/mmubench/mmubench.c) sets up paging, runs n events
# of one op and powers off. As bench/traps.sh does, for each op and VM the
# script times whole runs with n=0 and n=N, RUNS rounds, and takes the median
# of (T(N) - T(0)) / N: the cost of one event without start-up, page-table
# set-up and power-off. N is calibrated per op and VM so that the difference
# is about TARGET_MS. The ptrace-stop floor (bench/ptrace-floor.c) is sampled
# between the ops. Every command is pinned to one CPU (taskset). Then the
# peak resident memory of the monitor (VmHWM, read from /proc while it runs)
# for switch2 and switch64, and per address space.
#
# usage: mmu.sh      (make bench-mmu sets the environment)
# environment:
#   LILYVM_REWRITE, LILYVM  the rewriter and the monitor to use
#   BENCH_GUEST             tests/guests/mmubench/mmubench.elf (not rewritten)
#   PTRACE_FLOOR            bench/ptrace-floor
#   QEMU        default qemu-system-i386; without it the QEMU column is "-"
#   RUNS        timed runs per point, default 3 (medians)
#   TARGET_MS   the wall time N events should add, default 400
#   OPS         the ops to run, default all
#   BENCH_CPU   the CPU every command is pinned to, default 0
#
# Prints a table. Targets are reported, not enforced: exits 0 when the bench
# ran (even if an op failed under a VM: the column says "fail" and why),
# 2 when it could not run at all.
set -u
. "$(dirname "$0")/lib.sh"

RUNS=${RUNS:-3}
TARGET_MS=${TARGET_MS:-400}
CPU=${BENCH_CPU:-0}
QEMU=${QEMU:-qemu-system-i386}
OPS=${OPS:-"touch cow switch2 switch8 switch64 switch8-user fork"}
TARGET_NS=$((TARGET_MS * 1000000))
MAX_N=2000000000	# the guest counts in 32 bits
START_N=1000
FLOOR_TRIPS=50000	# per sample: ~0.7 s
RUN_TIMEOUT=600
MEM=128			# MiB of guest RAM, both VMs

die() {
	echo "mmu: $*" >&2
	exit 2
}

for v in LILYVM_REWRITE LILYVM BENCH_GUEST PTRACE_FLOOR; do
	eval "f=\${$v:-}"
	[ -n "$f" ] && [ -f "$f" ] || die "$v must name a built file (run it with make bench-mmu)"
done
command -v taskset >/dev/null || die "taskset (util-linux) is needed to pin the runs to one CPU"
HAVE_QEMU=1
command -v "$QEMU" >/dev/null || HAVE_QEMU=0

WORK=$(mktemp -d) || die "cannot make a work directory"
trap 'rm -rf "$WORK"' EXIT
chmod 755 "$WORK"

# The monitor must not need root: as root, run it as nobody.
AS_USER=
if [ "$(id -u)" -eq 0 ]; then
	AS_USER="setpriv --reuid=nobody --regid=nogroup --clear-groups --"
fi

# --- timing ---



# a / b with one decimal (or $3 decimals), or "-" when either is missing.
ratio() {
	awk -v a="$1" -v b="$2" -v d="${3:-1}" 'BEGIN {
		if (a !~ /^[0-9.]+$/ || b !~ /^[0-9.]+$/ || b <= 0) print "-"
		else printf "%.*f\n", d, a / b }'
}

# --- the two VMs ---

# run_lilyvm OP N [lilyvm options]: one run; fails unless the guest finished.
run_lilyvm() {
	op=$1 n=$2
	shift 2
	: >"$WORK/lilyvm.out"
	timed taskset -c "$CPU" $AS_USER timeout $RUN_TIMEOUT "$WORK/lilyvm" run "$WORK/guest.rw" \
		--mem ${MEM}M --append "op=$op n=$n" --serial "file:$WORK/lilyvm.out" "$@" \
		</dev/null 2>"$WORK/lilyvm.err"
	[ $run_status -eq 0 ] && grep -q "^mmubench: op=$op n=$n done" "$WORK/lilyvm.out"
}

# run_qemu OP N: one run of the original image under TCG.
run_qemu() {
	: >"$WORK/qemu.out"
	timed taskset -c "$CPU" timeout $RUN_TIMEOUT "$QEMU" -M pc -accel tcg -m $MEM -display none \
		-monitor none -serial "file:$WORK/qemu.out" -no-reboot -kernel "$BENCH_GUEST" \
		-append "op=$1 n=$2" </dev/null >"$WORK/qemu.err" 2>&1
	[ $run_status -eq 0 ] && grep -q "^mmubench: op=$1 n=$2 done" "$WORK/qemu.out"
}

run_vm() {
	case $1 in
	lilyvm) run_lilyvm "$2" "$3" ;;
	qemu) run_qemu "$2" "$3" ;;
	esac
}

# calibrate VM OP: print an N whose runs take about TARGET_MS more than n=0.
# Runs in a subshell: on failure, the run's status goes to $WORK/status.
calibrate() {
	run_vm "$1" "$2" 0 || { echo $run_status >"$WORK/status"; return 1; }
	base=$elapsed
	n=$START_N
	while :; do
		run_vm "$1" "$2" $n || { echo $run_status >"$WORK/status"; return 1; }
		d=$((elapsed - base))
		[ $d -ge $((TARGET_NS / 4)) ] || [ $n -ge $MAX_N ] && break
		if [ $d -lt $((TARGET_NS / 40)) ]; then n=$((n * 10)); else n=$((n * TARGET_NS / d)); fi
		[ $n -gt $MAX_N ] && n=$MAX_N
	done
	[ $d -ge 1 ] || d=1
	n=$((n * TARGET_NS / d))
	[ $n -gt $MAX_N ] && n=$MAX_N
	[ $n -ge 1 ] || n=1
	echo $n
}


# measure OP: calibrate each VM, then RUNS rounds of n=0 and n=N, the VMs
# interleaved. Sets ns_VM (a number, "fail" or "-"), flag_VM and n_VM.
measure() {
	op=$1
	vms="lilyvm"
	[ $HAVE_QEMU -eq 1 ] && vms="lilyvm qemu"
	ns_lilyvm=- ns_qemu=- n_lilyvm=- n_qemu=- flag_lilyvm= flag_qemu=
	ok_vms=
	for vm in $vms; do
		if N=$(calibrate $vm "$op"); then
			eval "n_$vm=$N"
			ok_vms="$ok_vms $vm"
		else
			eval "ns_$vm=fail"
			fail_report $vm "$op"
		fi
		: >"$WORK/rounds.$vm"
	done
	for r in $(seq "$RUNS"); do
		for vm in $ok_vms; do
			eval "N=\$n_$vm"
			run_vm $vm "$op" 0 && t0=$elapsed && run_vm $vm "$op" "$N" &&
				echo "$t0 $elapsed" >>"$WORK/rounds.$vm"
		done
	done
	for vm in $ok_vms; do
		eval "N=\$n_$vm"
		set -- $(per_op "$N" <"$WORK/rounds.$vm")
		if [ $# -ge 1 ]; then
			eval "ns_$vm=$1 flag_$vm='${2:-}'"	# quoted: a bare ~ would become $HOME
		else	# calibrated, then failed in every round
			eval "ns_$vm=fail n_$vm=-"
			echo 1 >"$WORK/status"
			fail_report $vm "$op"
		fi
	done
}

# --- failures ---

# The first line of the monitor's complaint, else the guest's, for the table.
first_error() {
	line=
	[ "$1" = lilyvm ] &&
		line=$(grep -v '^lilyvm: guest runs as host pid' "$WORK/lilyvm.err" | sed -n '1{s/^lilyvm: //;p;}')
	[ -n "$line" ] || line=$(tr -d '\r' <"$WORK/$1.out" | grep 'not ok' | sed -n 1p)
	[ -n "$line" ] || [ "$1" = lilyvm ] || line=$(grep -v '^$' "$WORK/qemu.err" | sed -n 1p)
	[ -n "$line" ] || line=$(tr -d '\r' <"$WORK/$1.out" | tail -n 1)
	[ "$(cat "$WORK/status")" = 124 ] && line="timed out after ${RUN_TIMEOUT}s; $line"
	echo "${line:-no done line, no message (exit status $(cat "$WORK/status"))}"
}

# Keep why VM failed OP: the note in the table, details for the report
# (once per distinct first line).
fail_report() {
	first=$(first_error "$1")
	echo "$1 $2 $first" >>"$WORK/notes"
	if grep -qxF "$1 $first" "$WORK/seen" 2>/dev/null; then
		echo "--- $2 failed under $1 the same way" >>"$WORK/failures"
		return
	fi
	echo "$1 $first" >>"$WORK/seen"
	{
		echo "--- $2 failed under $1 (exit status $(cat "$WORK/status"); the guest's last lines:)"
		tr -d '\r' <"$WORK/$1.out" | tail -n 5
		echo "--- the $1's:"
		if [ "$1" = lilyvm ]; then tail -n 20 "$WORK/lilyvm.err"; else tail -n 20 "$WORK/qemu.err"; fi
	} >>"$WORK/failures"
}

note_of() {
	awk -v vm="$1" -v op="$2" '$1 == vm && $2 == op { $1 = ""; $2 = ""; sub(/^  /, ""); print; exit }' \
		"$WORK/notes" 2>/dev/null
}

# --- the monitor's own account (--stats): ptrace stops per event ---

stats_count() {
	ptrace_stops "$WORK/lilyvm.err"
}

# stops OP N: sets stops_op from --stats runs with n=0 and n=N.
stops() {
	stops_op=-
	run_lilyvm "$1" 0 --stats || return
	c0=$(stats_count)
	run_lilyvm "$1" "$2" --stats || return
	stops_op=$(awk -v a="$(stats_count)" -v b="$c0" -v n="$2" 'BEGIN { printf "%.2f", (a - b) / n }')
}

# --- peak resident memory ---

# kB of field $2 (VmHWM, VmRSS, ...) in /proc/$1/status, or nothing.
proc_kb() {
	sed -n "s/^$2:[[:space:]]*\([0-9]*\) kB/\1/p" "/proc/$1/status" 2>/dev/null
}

# peak_rss OP N: run lilyvm (no timeout: the monitor is then the pid we
# started) and read VmHWM of the monitor and of its guest process every
# 10 ms; VmHWM only grows, so the last reading before the exit is the peak
# (all but the last 10 ms of the run). Sets rss_mon, rss_guest (kB) or "-".
peak_rss() {
	rss_mon=- rss_guest=-
	: >"$WORK/lilyvm.out"
	taskset -c "$CPU" $AS_USER "$WORK/lilyvm" run "$WORK/guest.rw" --mem ${MEM}M \
		--append "op=$1 n=$2" --serial "file:$WORK/lilyvm.out" </dev/null 2>"$WORK/lilyvm.err" &
	pid=$!
	mon= guest=
	while kill -0 $pid 2>/dev/null; do
		m=$(proc_kb $pid VmHWM)
		[ -n "$m" ] && mon=$m
		for c in $(pgrep -P $pid); do
			g=$(proc_kb "$c" VmHWM)
			[ -n "$g" ] && guest=$g
		done
		sleep 0.01
	done
	wait $pid
	status=$?
	[ $status -eq 0 ] && grep -q "^mmubench: op=$1 n=$2 done" "$WORK/lilyvm.out" || return 1
	rss_mon=${mon:--} rss_guest=${guest:--}
}

# --- the host's floor ---

floor_sample() {
	taskset -c "$CPU" "$PTRACE_FLOOR" ptrace $FLOOR_TRIPS >>"$WORK/floor.ptrace" ||
		die "ptrace-floor failed"
}

# --- the report ---

print_table() {
	noisy=0
	echo
	printf '%-13s %8s %11s %10s %8s %7s  %s\n' op stops/ev "lilyvm ns" "QEMU ns" l/QEMU /floor note
	while read -r op stops lns qns lflag qflag; do
		l_q=$(ratio "$lns" "$qns")
		l_f=$(ratio "$lns" "$floor")
		[ "$lflag" = . ] || noisy=1
		[ "$qflag" = . ] || noisy=1
		note=
		[ "$lns" = fail ] && note="lilyvm: $(note_of lilyvm "$op")"
		[ "$qns" = fail ] && note="${note:+$note; }QEMU: $(note_of qemu "$op")"
		printf '%-13s %8s %11s %10s %8s %7s  %s\n' "$op" "$stops" "$lns${lflag#.}" \
			"$qns${qflag#.}" "$l_q" "$l_f" "$note"
	done <"$WORK/results"
}

print_legend() {
	[ $noisy -eq 1 ] && echo "~: its rounds disagree by more than 25% (another process had the CPU): rerun it"
	cat <<EOF

ns: wall time of one event, the median over $RUNS rounds of (T(n=N) - T(n=0)) / N,
    N chosen per VM so that N events add ~${TARGET_MS} ms; all pinned to CPU $CPU.
stops/ev: ptrace stops per event (--stats, n=N/4 minus n=0).
l/QEMU: lilyvm ns / QEMU ns (above 1: lilyvm is slower).
/floor: lilyvm ns / the ptrace-stop floor ($floor ns: waitpid, GETSIGINFO, GETREGS,
    SETREGS, SYSEMU; median of $(wc -l <"$WORK/floor.ptrace") samples taken between the ops, range $floor_range).
EOF
}

# Targets (the issue's): within 3x of one ptrace stop for a first-touch
# fault and for an address-space switch; faster than QEMU TCG on switches.
print_targets() {
	echo
	echo "targets:"
	while read -r op stops lns qns lflag qflag; do
		case $op in
		touch) what="first-touch fault <= 3x the floor" ;;
		switch2 | switch8 | switch64) what="switch <= 3x the floor and faster than QEMU" ;;
		*) continue ;;
		esac
		verdict=$(awk -v l="$lns" -v q="$qns" -v f="$floor" -v op="$op" 'BEGIN {
			if (l !~ /^[0-9.]+$/) { print "not measured (lilyvm: " l ")"; exit }
			r = l / f
			ok = r <= 3
			s = sprintf("%.1fx the floor", r)
			if (op != "touch") {
				if (q ~ /^[0-9.]+$/) { ok = ok && l < q; s = s sprintf(", %.2fx QEMU", l / q) }
				else s = s ", QEMU not measured"
			}
			print (ok ? "met" : "NOT met") " (" s ")" }')
		printf '  %-9s %s: %s\n' "$op" "$what" "$verdict"
	done <"$WORK/results"
}

print_rss() {
	echo
	echo "peak resident memory of lilyvm (VmHWM, kB; runs of n=$rss_n):"
	printf '  %-10s %10s %14s\n' op monitor "guest process"
	printf '  %-10s %10s %14s\n' switch2 "$rss2_mon" "$rss2_guest"
	printf '  %-10s %10s %14s\n' switch64 "$rss64_mon" "$rss64_guest"
	printf '  %-10s %10s %14s\n' "per space" \
		"$(awk -v a="$rss64_mon" -v b="$rss2_mon" 'BEGIN { if (a == "-" || b == "-") print "-"; else printf "%.1f\n", (a - b) / 62 }')" \
		"$(awk -v a="$rss64_guest" -v b="$rss2_guest" 'BEGIN { if (a == "-" || b == "-") print "-"; else printf "%.1f\n", (a - b) / 62 }')"
	echo "  per space = (switch64 - switch2) / 62. The guest process maps guest RAM: its"
	echo "  figure includes the 3 guest frames (12 kB) each space's directory, page table"
	echo "  and data page take; the monitor's only what it touches or allocates itself."
	[ -n "$rss_fail" ] && echo "  $rss_fail"
}

# --- main ---

"$LILYVM_REWRITE" "$BENCH_GUEST" -o "$WORK/guest.rw" --verify >/dev/null ||
	die "lilyvm-rewrite refused $BENCH_GUEST"
cp "$LILYVM" "$WORK/lilyvm"
chmod 755 "$WORK/lilyvm" "$WORK/guest.rw"
touch "$WORK/lilyvm.out"
chmod 666 "$WORK/lilyvm.out"
[ $HAVE_QEMU -eq 1 ] || echo "mmu: no $QEMU: QEMU columns are left empty" >&2

echo "mmu: $(uname -sr), $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1)," \
	"$(nproc) CPUs; $([ $HAVE_QEMU -eq 1 ] && "$QEMU" --version | head -n 1)"
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
echo "mmu: host floor..."
floor_sample

: >"$WORK/results"
for op in $OPS; do
	echo "mmu: $op..."
	measure "$op"
	stops_op=-
	[ "$n_lilyvm" != - ] && stops "$op" $(((n_lilyvm + 3) / 4))
	echo "$op $stops_op $ns_lilyvm $ns_qemu ${flag_lilyvm:-.} ${flag_qemu:-.}" >>"$WORK/results"
	eval "n_of_$(echo "$op" | tr -- - _)=$n_lilyvm"
	floor_sample
done

echo "mmu: peak resident memory..."
rss_n=${n_of_switch64:--}
[ "$rss_n" = - ] && rss_n=1000000
rss_fail=
rss2_mon=- rss2_guest=- rss64_mon=- rss64_guest=-
if peak_rss switch2 "$rss_n"; then
	rss2_mon=$rss_mon rss2_guest=$rss_guest
else
	echo 1 >"$WORK/status"
	rss_fail="switch2 failed: $(first_error lilyvm)"
fi
if peak_rss switch64 "$rss_n"; then
	rss64_mon=$rss_mon rss64_guest=$rss_guest
else
	echo 1 >"$WORK/status"
	why=$(first_error lilyvm)
	case $rss_fail in
	*": $why") rss_fail="switch2 and switch64 failed: $why" ;;
	*) rss_fail="${rss_fail:+$rss_fail; }switch64 failed: $why" ;;
	esac
fi

floor=$(median <"$WORK/floor.ptrace")
floor_range=$(sort -n "$WORK/floor.ptrace" | awk 'NR == 1 { lo = $1 } { hi = $1 } END { print lo "-" hi }')

print_table
echo "load average (1, 5, 15 min) at the start: $load_start; at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
print_legend
print_targets
print_rss
if [ -f "$WORK/failures" ]; then
	echo
	echo "FAILURES:"
	cat "$WORK/failures"
fi
exit 0

#!/bin/sh
# traps.sh - what one trap of each class costs under lilyvm, next to QEMU TCG
# and the host's floors, all measured in the same run.
#
# The benchmark guest (tests/guests/bench/bench.c) runs one operation n times
# and powers off. For each operation and VM the script times whole runs with
# n=0 and n=N, RUNS rounds, and takes the median of (T(N) - T(0)) / N: the
# cost of one operation without the VM's start-up and power-off. N is
# calibrated per operation and VM so that the difference is about TARGET_MS.
# On the host, in the same run: the ptrace-stop floor and a native signal
# round trip (bench/ptrace-floor.c, sampled between the operations) and the
# guest's CPU loop run natively (bench/cpu-native.c, in op=cpu's rounds). Every command is pinned to one CPU (taskset), since
# waking a process on the other CPU of this nested VM costs ~100 us.
#
# usage: traps.sh      (make bench-traps sets the environment)
# environment:
#   LILYVM_REWRITE, LILYVM  the rewriter and the monitor to use
#   BENCH_GUEST             tests/guests/bench/bench.elf (not rewritten)
#   PTRACE_FLOOR, CPU_NATIVE  the host programs of bench/
#   QEMU        default qemu-system-i386; without it the QEMU column is "-"
#   RUNS        timed runs per point, default 3 (medians)
#   TARGET_MS   the wall time N operations should add, default 400
#   OPS         the operations to run, default all
#   BENCH_CPU   the CPU every command is pinned to, default 0
#
# Prints a table. Targets are reported, not enforced: exits 0 when the bench
# ran (even if some operation failed; the failure is shown), 2 when it could
# not run at all.
set -u
. "$(dirname "$0")/lib.sh"

RUNS=${RUNS:-3}
TARGET_MS=${TARGET_MS:-400}
CPU=${BENCH_CPU:-0}
QEMU=${QEMU:-qemu-system-i386}
OPS=${OPS:-"loop syscall syscall-c softint cli sti pushf popf in out mov-to-seg mov-from-seg iret cpuid rdtsc lgdt cpu"}
TARGET_NS=$((TARGET_MS * 1000000))
MAX_N=2000000000	# the guest counts in 32 bits
START_N=1000
FLOOR_TRIPS=50000	# per sample: ~0.7 s; one sample per operation
SIGNAL_TRIPS=200000
RUN_TIMEOUT=600

die() {
	echo "traps: $*" >&2
	exit 2
}

for v in LILYVM_REWRITE LILYVM BENCH_GUEST PTRACE_FLOOR CPU_NATIVE; do
	eval "f=\${$v:-}"
	[ -n "$f" ] && [ -f "$f" ] || die "$v must name a built file (run it with make bench-traps)"
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
		if (a == "" || a == "-" || b == "" || b == "-" || b <= 0) print "-"
		else printf "%.*f\n", d, a / b }'
}

# --- the two VMs ---

# run_lilyvm OP N [lilyvm options]: one run; fails unless the guest finished.
run_lilyvm() {
	op=$1 n=$2
	shift 2
	: >"$WORK/lilyvm.out"
	timed taskset -c "$CPU" $AS_USER timeout $RUN_TIMEOUT "$WORK/lilyvm" run "$WORK/bench.rw" --mem 64M \
		--append "op=$op n=$n" --serial "file:$WORK/lilyvm.out" "$@" </dev/null 2>"$WORK/lilyvm.err"
	[ $run_status -eq 0 ] && grep -q "^bench: op=$op n=$n done" "$WORK/lilyvm.out"
}

# run_qemu OP N: one run of the original image under TCG.
run_qemu() {
	: >"$WORK/qemu.out"
	timed taskset -c "$CPU" timeout $RUN_TIMEOUT "$QEMU" -M pc -accel tcg -m 64 -display none \
		-monitor none -serial "file:$WORK/qemu.out" -no-reboot -kernel "$BENCH_GUEST" \
		-append "op=$1 n=$2" </dev/null >"$WORK/qemu.err" 2>&1
	[ $run_status -eq 0 ] && grep -q "^bench: op=$1 n=$2 done" "$WORK/qemu.out"
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
		# Below the noise of a start-up, only an order of magnitude is known.
		if [ $d -lt $((TARGET_NS / 40)) ]; then n=$((n * 10)); else n=$((n * TARGET_NS / d)); fi
		[ $n -gt $MAX_N ] && n=$MAX_N
	done
	[ $d -ge 1 ] || d=1
	n=$((n * TARGET_NS / d))
	[ $n -gt $MAX_N ] && n=$MAX_N
	[ $n -ge 1 ] || n=1
	echo $n
}


# measure OP: for each VM, calibrate, then RUNS rounds of n=0 and n=N,
# the VMs interleaved so that drift hits both alike. Sets ns_lilyvm, ns_qemu
# ("-" when a VM failed or is missing) and their flags (see per_op).
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
		[ "$op" = cpu ] && cpu_native_round
	done
	for vm in $ok_vms; do
		eval "N=\$n_$vm"
		set -- $(per_op "$N" <"$WORK/rounds.$vm")
		[ $# -ge 1 ] || continue
		eval "ns_$vm=$1 flag_$vm='${2:-}'"	# quoted: a bare ~ would become $HOME
	done
}

# --- failures ---

# Keep what went wrong, and for lilyvm a short traced run, for the report.
fail_report() {
	{
		echo "--- $2 failed under $1 (exit status $(cat "$WORK/status"); the guest's last lines:)"
		tail -n 5 "$WORK/$1.out"
		if [ "$1" = lilyvm ]; then
			echo "--- the monitor's:"
			tail -n 20 "$WORK/lilyvm.err"
			echo "--- the last traps of a run with --trace exc,site and n=3:"
			run_lilyvm "$2" 3 --trace exc,site
			tail -n 25 "$WORK/lilyvm.err"
		else
			tail -n 20 "$WORK/qemu.err"
		fi
	} >>"$WORK/failures"
}

# --- the monitor's own account (--stats) ---

# "stops microseconds": the guest's ptrace stops, and the monitor's time
# summed over every kind of trap, in lilyvm.err.
stats_totals() {
	echo "$(ptrace_stops "$WORK/lilyvm.err") $(awk '/^trap statistics:/ { on = 1; next }
	     /sites by class:/ { on = 0 }
	     on && $(NF - 2) ~ /^[0-9]+$/ { us += $(NF - 1) }
	     END { printf "%.1f\n", us }' "$WORK/lilyvm.err")"
}

# stats OP N: sets stops_op (traps the monitor handled per operation) and
# monitor_ns (the monitor's own handling time per operation), from --stats
# runs with n=0 and n=N. Keeps the table of the n=N run in stats.OP.
stats() {
	stops_op=- monitor_ns=-
	run_lilyvm "$1" 0 --stats || return
	set -- "$1" "$2" $(stats_totals)
	run_lilyvm "$1" "$2" --stats || return
	sed -n '/^trap statistics:/,$p' "$WORK/lilyvm.err" >"$WORK/stats.$1"
	echo "$2" >"$WORK/stats_n.$1"
	set -- "$@" $(stats_totals)
	stops_op=$(awk -v a="$5" -v b="$3" -v n="$2" 'BEGIN { printf "%.2f", (a - b) / n }')
	monitor_ns=$(awk -v a="$6" -v b="$4" -v n="$2" 'BEGIN { printf "%.1f", (a - b) * 1000 / n }')
}

# --- the host's floors ---

# One sample of each floor, appended to floor.MODE. Taken between the
# operations all through the run, so that the floors see the same machine
# as the VMs did; their medians go in the report.
host_sample() {
	for mode in ptrace poll regs signal; do
		trips=$FLOOR_TRIPS
		[ $mode = ptrace ] || [ $mode = poll ] || trips=$SIGNAL_TRIPS
		taskset -c "$CPU" "$PTRACE_FLOOR" $mode $trips >>"$WORK/floor.$mode" ||
			die "ptrace-floor $mode failed"
	done
}

# The guest's CPU loop natively, one run of about TARGET_MS: appends its ns
# per unit to cpu.native. Run in the rounds of op=cpu, next to the VMs.
cpu_native_round() {
	if [ -z "${native_units:-}" ]; then
		probe=$(taskset -c "$CPU" "$CPU_NATIVE" 100 | cut -d' ' -f1)
		native_units=$(awk -v p="$probe" -v t="$TARGET_NS" 'BEGIN { n = int(t / p); print n < 1 ? 1 : n }')
	fi
	taskset -c "$CPU" "$CPU_NATIVE" "$native_units" | cut -d' ' -f1 >>"$WORK/cpu.native"
}

# The digest of 10 units of the CPU loop natively, under lilyvm and under QEMU.
check_digests() {
	native=$("$CPU_NATIVE" 10 | sed 's/.*digest //')
	run_lilyvm cpu 10 && d_lilyvm=$(sed -n 's/^bench: digest //p' "$WORK/lilyvm.out" | tr -d '\r') ||
		d_lilyvm=failed
	d_qemu=-
	if [ $HAVE_QEMU -eq 1 ]; then
		run_qemu cpu 10 && d_qemu=$(sed -n 's/^bench: digest //p' "$WORK/qemu.out" | tr -d '\r') ||
			d_qemu=failed
	fi
	if [ "$d_lilyvm" = "$native" ] && { [ "$d_qemu" = "$native" ] || [ "$d_qemu" = - ]; }; then
		digests="the same digest natively, under lilyvm and under QEMU"
	else
		digests="DIGESTS DIFFER: native $native, lilyvm $d_lilyvm, QEMU $d_qemu"
	fi
}

# --- the report ---

print_table() {
	noisy=0
	echo
	printf '%-13s %8s %11s %10s %9s %7s %9s %10s %10s\n' op stops/op "lilyvm ns" "QEMU ns" \
		"l/QEMU" "/floor" "stop/flr" "monitor ns" "other ns"
	while read -r op stops lns qns mns lflag qflag; do
		l_q=$(ratio "$lns" "$qns")
		l_f=$(ratio "$lns" "$floor")
		per_stop=$(awk -v l="$lns" -v s="$stops" -v f="$floor" \
			'BEGIN { if (l == "-" || s == "-" || s < 0.5) print "-"; else printf "%.2f\n", l / s / f }')
		# Without stops, the monitor's clock sees nothing of the operation.
		stopless=$(awk -v s="$stops" 'BEGIN { print (s == "-" || s < 0.5) }')
		[ "$stopless" = 1 ] && mns=-
		other=$(awk -v l="$lns" -v m="$mns" 'BEGIN { if (l == "-" || m == "-") print "-"; else printf "%.1f\n", l - m }')
		[ "$lflag" = . ] || noisy=1
		[ "$qflag" = . ] || noisy=1
		printf '%-13s %8s %11s %10s %9s %7s %9s %10s %10s\n' "$op" "$stops" \
			"$lns${lflag#.}" "$qns${qflag#.}" \
			"$l_q" "$l_f" "$per_stop" "$mns" "$other"
	done <"$WORK/results"
}

print_legend() {
	[ $noisy -eq 1 ] && echo "~: its rounds disagree by more than 25% (another process had the CPU): rerun it"
	cat <<EOF

ns: wall time of one operation, the median over $RUNS rounds of (T(n=N) - T(n=0)) / N,
    N chosen per VM so that N operations add ~${TARGET_MS} ms; all pinned to CPU $CPU.
stops/op: ptrace stops per operation (--stats, n=N minus n=0); what the
    monitor emulates ahead of a stop costs none.
l/QEMU: lilyvm ns / QEMU ns (above 1: lilyvm is slower).
/floor: lilyvm ns / the ptrace-stop floor; stop/flr: the same per stop.
monitor ns: the monitor's own handling time per operation, by its --stats clock:
    from the stop seen (after waitpid, GETSIGINFO) to the guest state updated,
    GETREGS included, SETREGS and the resume not. other ns = the rest: the
    stop itself (host kernel, context switches), SETREGS, the monitor's loop.
EOF
}

# Classes handled without a ptrace stop compare with a native signal round trip.
print_fast_path() {
	echo
	echo "ptrace-stop floor (waitpid, GETSIGINFO, GETREGS, SETREGS, SYSEMU): $floor ns"
	echo "  (median of $floor_samples samples taken between the operations, range $floor_range)"
	echo "  the same, waiting the monitor's way (signalfd + poll + waitpid): $floor_poll ns"
	echo "  of which moving the registers (GETREGS + SETREGS alone): $regs ns"
	echo "native signal round trip (SIGSEGV on hlt, handler skips it): $signal ns" \
		"($(ratio "$floor" "$signal")x below the floor)"
	fast=$(awk '$1 != "loop" && $1 != "cpu" && $2 != "-" && $2 < 0.5 && $3 != "-" { print $1 }' "$WORK/results")
	if [ -z "$fast" ]; then
		echo "classes handled without a stop: none yet (every trap class costs >= 1 stop);"
		echo "  an in-child fast path would aim at the signal round trip."
		return
	fi
	for op in $fast; do
		lns=$(awk -v o="$op" '$1 == o { print $3 }' "$WORK/results")
		echo "  $op, handled without a stop: $lns ns = $(ratio "$lns" "$signal")x the signal round trip"
	done
}

print_cpu() {
	cpu_l=$(awk '$1 == "cpu" { print $3 }' "$WORK/results")
	cpu_q=$(awk '$1 == "cpu" { print $4 }' "$WORK/results")
	echo
	echo "CPU loop (SHA-256 of 4 KiB per op), native $("$CPU_NATIVE" 1 | cut -d' ' -f2)" \
		"(in the same rounds): $cpu_native ns;" \
		"lilyvm $(ratio "$cpu_l" "$cpu_native" 2)x native, QEMU $(ratio "$cpu_q" "$cpu_native" 2)x native"
	echo "  $digests"
}

# --- main ---

"$LILYVM_REWRITE" "$BENCH_GUEST" -o "$WORK/bench.rw" --verify >/dev/null ||
	die "lilyvm-rewrite refused $BENCH_GUEST"
cp "$LILYVM" "$WORK/lilyvm"
chmod 755 "$WORK/lilyvm" "$WORK/bench.rw"
touch "$WORK/lilyvm.out"
chmod 666 "$WORK/lilyvm.out"
run_lilyvm loop 0 || die "lilyvm cannot run the benchmark guest: $(tail -n 5 "$WORK/lilyvm.err")"
[ $HAVE_QEMU -eq 1 ] || echo "traps: no $QEMU: QEMU columns are left empty" >&2

echo "traps: $(uname -sr), $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1)," \
	"$(nproc) CPUs; $([ $HAVE_QEMU -eq 1 ] && "$QEMU" --version | head -n 1)"
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
echo "traps: host floors..."
host_sample

: >"$WORK/results"
: >"$WORK/cpu.native"
for op in $OPS; do
	echo "traps: $op..."
	measure "$op"
	stops_op=- monitor_ns=-
	[ "$n_lilyvm" != - ] && stats "$op" $(((n_lilyvm + 3) / 4))
	echo "$op $stops_op $ns_lilyvm $ns_qemu $monitor_ns ${flag_lilyvm:-.} ${flag_qemu:-.}" \
		>>"$WORK/results"
	host_sample
done
floor=$(median <"$WORK/floor.ptrace")
floor_poll=$(median <"$WORK/floor.poll")
regs=$(median <"$WORK/floor.regs")
signal=$(median <"$WORK/floor.signal")
floor_range=$(sort -n "$WORK/floor.ptrace" | awk 'NR == 1 { lo = $1 } { hi = $1 } END { print lo "-" hi }')
floor_samples=$(wc -l <"$WORK/floor.ptrace")
cpu_native=$(median <"$WORK/cpu.native")
with_cpu=0
printf ' %s ' "$OPS" | grep -q ' cpu ' && with_cpu=1
[ $with_cpu -eq 1 ] && check_digests

print_table
echo "load average (1, 5, 15 min) at the start: $load_start; at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
print_legend
print_fast_path
[ $with_cpu -eq 1 ] && print_cpu
if [ -f "$WORK/stats.syscall" ]; then
	echo
	echo "the monitor's own table (lilyvm --stats) for op=syscall n=$(cat "$WORK/stats_n.syscall")" \
		"(ring 3 int \$0x81 to an iret: 2 stops each; the boot adds a few):"
	cat "$WORK/stats.syscall"
fi
if [ -f "$WORK/failures" ]; then
	echo
	echo "FAILURES:"
	cat "$WORK/failures"
fi
exit 0

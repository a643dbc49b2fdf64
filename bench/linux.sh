#!/bin/sh
# linux.sh - Debian's stock i386 686 kernel under lilyvm, next to QEMU TCG,
# user-mode-linux (when installed) and the host itself, all in the same run:
# boot-to-init time and in-guest microbenchmarks.
#
# The guest program, tests/linux/bench-guest.c (a static binary), is the
# kernel's first user program (rdinit=): it prints "bench-guest: start", the
# marker for boot-to-init (host wall time from starting the VM to seeing that
# line on the console), then "NAME ns_per_op" for each operation, timed in the
# guest with CLOCK_MONOTONIC, and powers off. The same i386 binary runs
# directly on the host for the native column. UML on amd64 is a 64-bit
# kernel: it runs a 64-bit build of the same source. Each VM boots RUNS
# times, the VMs interleaved; every figure is the median. Every command is
# pinned to one CPU (taskset); as root, lilyvm runs as nobody.
#
# usage: linux.sh      (make bench-linux sets the environment)
# environment:
#   LILYVM, LILYVM_REWRITE  the monitor and the rewriter it runs
#   QEMU        default qemu-system-i386; without it the QEMU column is "-"
#   UML         default linux.uml (Debian's user-mode-linux); without it "-"
#   CC          default gcc (needs -m32 -static: gcc-multilib)
#   RUNS        boots per VM, default 3 (medians)
#   BENCH_CPU   the CPU every command is pinned to, default 0
#
# Prints a table and the targets. Targets are reported, not enforced: exits
# 0 when the bench ran (a VM that failed is shown), 2 when it could not run.
set -u

RUNS=${RUNS:-3}
CPU=${BENCH_CPU:-0}
QEMU=${QEMU:-qemu-system-i386}
UML=${UML:-linux.uml}
CC=${CC:-gcc}
RUN_TIMEOUT=900
OPS="boot syscall pipe fork exec fault ctxsw cpu"
MEM=256
top=$(cd "$(dirname "$0")/.." && pwd)
# The guests' GUEST_CMDLINE (ports/linux/cmdline.sh says why each option is
# there), plus quiet (the kernel's boot messages are serial output both VMs
# would pay for) and the benchmark as init.
. "$top/ports/linux/cmdline.sh"
CMDLINE="$GUEST_CMDLINE quiet rdinit=/usr/local/bin/bench-guest"

die() {
	echo "linux: $*" >&2
	exit 2
}

for v in LILYVM LILYVM_REWRITE; do
	eval "f=\${$v:-}"
	[ -n "$f" ] && [ -f "$f" ] || die "$v must name a built file (run it with make bench-linux)"
done
command -v taskset >/dev/null || die "taskset (util-linux) is needed to pin the runs to one CPU"

WORK=$(mktemp -d) || die "cannot make a work directory"
trap 'rm -rf "$WORK"' EXIT
trap 'exit 2' HUP INT TERM
chmod 755 "$WORK"

AS_USER=
if [ "$(id -u)" -eq 0 ]; then
	AS_USER="setpriv --reuid=nobody --regid=nogroup --clear-groups --"
fi

# --- the guest images ---

mkdir "$WORK/i386" "$WORK/amd64" "$WORK/vm" || die "cannot make directories in $WORK"
"$CC" -m32 -static -O2 -Wall -o "$WORK/i386/bench-guest" "$top/tests/linux/bench-guest.c" ||
	die "cannot build bench-guest with $CC -m32 -static (gcc-multilib)"
sh "$top/ports/linux/mkguest.sh" -o "$WORK/vm/initrd" "$WORK/i386/bench-guest" >"$WORK/mkguest.out" ||
	die "no guest image (ports/linux/mkguest.sh failed)"
BZIMAGE=$(sed -n 's/^bzimage //p' "$WORK/mkguest.out")
[ -f "$BZIMAGE" ] || die "mkguest.sh named no bzImage"
# As root the monitor runs as nobody: it gets copies in a directory of its
# own, where it may also keep the rewritten kernel.
cp "$LILYVM" "$WORK/vm/lilyvm" && cp "$LILYVM_REWRITE" "$WORK/vm/lilyvm-rewrite" &&
	cp "$BZIMAGE" "$WORK/vm/bzImage" && chmod 777 "$WORK/vm" &&
	chmod 644 "$WORK/vm/bzImage" "$WORK/vm/initrd" || die "cannot copy the monitor and guest to $WORK/vm"

VMS="lilyvm"
if command -v "$QEMU" >/dev/null; then
	VMS="$VMS qemu"
else
	echo "QEMU: not available: no $QEMU"
fi
# UML: a 64-bit kernel on amd64, so a 64-bit build of the program, added to
# the same base initramfs (its busybox is never run).
uml_why=
if ! command -v "$UML" >/dev/null; then
	cand=$(apt-cache policy user-mode-linux 2>/dev/null | sed -n 's/^ *Candidate: //p')
	uml_why="no $UML (Debian package user-mode-linux, candidate: ${cand:-none}; apt-get install user-mode-linux)"
elif ! "$CC" -static -O2 -o "$WORK/amd64/bench-guest" "$top/tests/linux/bench-guest.c"; then
	uml_why="cannot build a static native bench-guest with $CC"
elif ! sh "$top/ports/linux/mkguest.sh" -o "$WORK/uml.initrd" "$WORK/amd64/bench-guest" >/dev/null; then
	uml_why="mkguest.sh -o failed"
else
	VMS="$VMS uml"
fi
[ -n "$uml_why" ] && echo "UML: not available: $uml_why"

# --- one boot ---

# run_vm VM COMMAND...: boot, copy the console to $WORK/VM.out, set $boot to
# the ns from the start to the marker line ("-" if none); fails unless the
# guest printed its done line.
run_vm() {
	vm=$1
	shift
	out=$WORK/$vm.out
	: >"$out"
	rm -f "$WORK/console"
	mkfifo "$WORK/console" || die "cannot make a FIFO"
	t0=$(date +%s%N)
	taskset -c "$CPU" timeout $RUN_TIMEOUT "$@" </dev/null >"$WORK/console" 2>"$WORK/$vm.err" &
	vmpid=$!
	# Read the console line by line (the read blocks: no polling) until the
	# done line, then drain it until the VM exits.
	boot=-
	{
		while IFS= read -r line; do
			printf '%s\n' "$line" >>"$out"
			case $line in
			*"bench-guest: start"*) echo $(($(date +%s%N) - t0)) >"$WORK/boot" ;;
			*"bench-guest: done"*) break ;;
			esac
		done
		cat >>"$out"
	} <"$WORK/console"
	wait $vmpid
	run_status=$?
	[ -s "$WORK/boot" ] && boot=$(cat "$WORK/boot")
	rm -f "$WORK/boot"
	grep -q "bench-guest: done" "$out"
}

boot_vm() {
	case $1 in
	lilyvm) run_vm lilyvm $AS_USER "$WORK/vm/lilyvm" run --linux "$WORK/vm/bzImage" \
		--initrd "$WORK/vm/initrd" --mem ${MEM}M --append "$CMDLINE" --serial stdio ;;
	# BENCH_EXIT=reboot: the guest reboots rather than powers off, and
	# -no-reboot makes QEMU exit (on a halt it would wait).
	qemu) run_vm qemu "$QEMU" -M pc -cpu qemu32,+nx -m $MEM -nographic -no-reboot -nic none \
		-kernel "$WORK/vm/bzImage" -initrd "$WORK/vm/initrd" -append "$CMDLINE BENCH_EXIT=reboot" ;;
	# con0 on stdio, every other console nowhere; UML powers off and exits.
	uml) run_vm uml "$UML" mem=${MEM}M initrd="$WORK/uml.initrd" con=null con0=fd:0,fd:1 \
		quiet rdinit=/usr/local/bin/bench-guest ;;
	native) : >"$WORK/native.out"; boot=-
		taskset -c "$CPU" "$WORK/i386/bench-guest" >"$WORK/native.out" 2>&1
		run_status=$?
		grep -q "bench-guest: done" "$WORK/native.out" ;;
	esac
}

# Append "VM OP NS" lines of one run to $WORK/results; keep a failure.
collect() {
	[ "$boot" = - ] || echo "$1 boot $boot" >>"$WORK/results"
	tr -d '\r' <"$WORK/$1.out" | awk -v vm="$1" 'NF == 2 && $2 ~ /^[0-9.]+$/ { print vm, $1, $2 }' >>"$WORK/results"
	tr -d '\r' <"$WORK/$1.out" | sed -n 's/^bench-guest: cpu state /'"$1"' /p' >>"$WORK/states"
}

fail_report() {
	{
		echo "--- $1 run $2 failed (exit status $run_status); the console's last lines:"
		tr -d '\r' <"$WORK/$1.out" | tail -n 8
		echo "--- its stderr:"
		tail -n 10 "$WORK/$1.err" 2>/dev/null
	} >>"$WORK/failures"
}

# --- main ---

echo "linux: $(uname -sr), $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1), $(nproc) CPUs"
echo "linux: kernel $(basename "$BZIMAGE"); $(command -v "$QEMU" >/dev/null && "$QEMU" --version | head -n 1)"
[ -z "$uml_why" ] && echo "linux: UML $("$UML" --version 2>/dev/null | head -n 1)"
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
: >"$WORK/results"
: >"$WORK/states"
for r in $(seq "$RUNS"); do
	for vm in native $VMS; do
		echo "linux: run $r, $vm..."
		t=$(date +%s)
		if boot_vm $vm; then collect $vm; else echo 1 >"$WORK/failed.$vm"; fail_report $vm $r; fi
		echo "linux:   $(($(date +%s) - t)) s"
	done
done

# median VM OP: the median of that VM's figures for OP, or "-".
median() {
	awk -v vm="$1" -v op="$2" '$1 == vm && $2 == op { print $3 }' "$WORK/results" | sort -n |
		awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print "-" }'
}

# a / b with 2 decimals, or "-".
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN {
		if (a !~ /^[0-9.]+$/ || b !~ /^[0-9.]+$/ || b <= 0) print "-"
		else printf "%.2f\n", a / b }'
}

echo
printf '%-8s %12s %12s %12s %12s %9s %9s %9s\n' op "native ns" "lilyvm ns" "QEMU ns" "UML ns" l/native l/QEMU l/UML
for op in $OPS; do
	n=$(median native $op) l=$(median lilyvm $op) q=$(median qemu $op) u=$(median uml $op)
	printf '%-8s %12s %12s %12s %12s %9s %9s %9s\n' $op "$n" "$l" "$q" "$u" \
		"$(ratio "$l" "$n")" "$(ratio "$l" "$q")" "$(ratio "$l" "$u")"
	eval "l_$op=$l q_$op=$q n_$op=$n u_$op=$u"
done
echo "load average (1, 5, 15 min) at the start: $load_start; at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
cat <<EOF

ns: medians over $RUNS boots (native: $RUNS runs), all pinned to CPU $CPU.
boot: host wall time from starting the VM to the program's first line on the
    console (rdinit=, quiet). The other rows are timed in the guest
    (CLOCK_MONOTONIC): syscall getppid(); pipe a 4 KiB round trip between two
    processes; fork fork+exit+wait; exec fork+exec of itself+exit+wait; fault
    per page of a touched 64 MiB mapping; ctxsw per switch of a 1-byte
    ping-pong over two pipes; cpu per iteration of an integer hash loop.
UML runs a 64-bit build of the program (its cpu row is x86-64 code).
l/X: lilyvm ns / X ns (above 1: lilyvm is slower).
EOF
# The CPU loop must end in the same state everywhere (a wrong result means
# a VM computed wrongly).
if [ "$(cut -d' ' -f2 "$WORK/states" | sort -u | wc -l)" -gt 1 ]; then
	echo "cpu loop states DIFFER:"
	sort -u "$WORK/states" | sed 's/^/  /'
fi

# verdict OK TEXT
verdict() {
	case $1 in
	1) echo "met ($2)" ;;
	0) echo "NOT met ($2)" ;;
	*) echo "not measured ($2)" ;;
	esac
}

# cmp A B MAX: 1 when A / B <= MAX, 0 when not, - when either is missing.
cmp_le() {
	awk -v a="$1" -v b="$2" -v m="$3" 'BEGIN {
		if (a !~ /^[0-9.]+$/ || b !~ /^[0-9.]+$/ || b <= 0) print "-"; else print (a / b <= m) ? 1 : 0 }'
}

echo
echo "targets:"
echo "  CPU-bound within 1.1x native:     $(verdict "$(cmp_le "$l_cpu" "$n_cpu" 1.1)" "$(ratio "$l_cpu" "$n_cpu")x")"
echo "  CPU-bound faster than QEMU TCG:   $(verdict "$(cmp_le "$l_cpu" "$q_cpu" 0.9999)" "$(ratio "$l_cpu" "$q_cpu")x QEMU")"
echo "  boot faster than QEMU TCG:        $(verdict "$(cmp_le "$l_boot" "$q_boot" 0.9999)" "$(ratio "$l_boot" "$q_boot")x QEMU")"
echo "  null syscall no slower than UML:  $(verdict "$(cmp_le "$l_syscall" "$u_syscall" 1)" "$(ratio "$l_syscall" "$u_syscall")x UML${uml_why:+: $uml_why}")"
if [ -f "$WORK/failures" ]; then
	echo
	echo "FAILURES:"
	cat "$WORK/failures"
fi
exit 0

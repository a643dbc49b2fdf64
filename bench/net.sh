#!/bin/sh
# net.sh - TCP through a user-mode network: the Debian i386 guest's
# virtio-net card on slirp under lilyvm (--net user), the same guest under
# QEMU TCG (-netdev user, also slirp), pasta carrying a network namespace on
# the host, and the host's loopback as the ceiling, all in the same run:
# bulk throughput each way and small-message round trips.
#
# One program, bench/netperf.c, is both ends: a server that serves one
# connection after another, and a client that runs one measurement per
# connection (send or receive MIB MiB, or COUNT round trips of RR_SIZE
# bytes). It is built twice: static i386 for the guest (added to the guest
# initramfs by ports/linux/mkguest.sh -o), native for the host and for the
# namespace and loopback columns. Each column has a "host" side (the host,
# outside the VM or namespace) and an "inside" side (the guest, the
# namespace, or a second process for loopback). The host runs a server on
# 127.0.0.1 and the inside one on port 5001, and each side runs clients
# against the other:
#   inside connects   the guest's client reaches the host's server at the
#                     slirp gateway 10.0.2.2 (slirp maps it to the host's
#                     127.0.0.1), the namespace's at pasta's gateway (pasta
#                     maps it to the host too; through pasta's tap, not its
#                     loopback splice);
#   host connects     the host's client reaches the inside server through a
#                     port forward: hostfwd=tcp:127.0.0.1:PORT-:5001 for
#                     both VMs, pasta -t PORT:5001 for the namespace (the
#                     host connects to its own non-loopback address, which
#                     pasta's namespace shares: a connection from the host's
#                     loopback would be spliced socket to socket, bypassing
#                     the tap).
# Every figure is the one measured on the host side (netperf.c says how each
# side times), so a guest's clock never grades itself: for "inside
# connects" the host server's, for "host connects" the host client's. Each
# measurement runs RUNS times in one boot (one namespace); a figure is the
# median, flagged "~" when the runs spread by more than 25% of it and "!"
# when a run failed or stalled past XFER_TIMEOUT (listed below the table).
#
# Both VMs boot the guest of tests/linux (tests/linux/harness.sh's kernel
# command line plus quiet) with 256 MiB, and the script types its commands into the
# shell on the serial console: set up eth0 if /init's DHCP did not (static
# 10.0.2.15/24, gateway 10.0.2.2: slirp's defaults), start the server, run
# the client loop, power off. Every process is pinned to BENCH_CPU with
# taskset (the VM or pasta and both ends: waking a process on the other CPU
# of a nested VM costs ~100 us); as root, lilyvm runs as nobody, and pasta
# too if it can (it needs /dev/net/tun, which may be root's alone: the
# script says which it used).
#
# The link MTUs differ, and the table's notes give each as seen inside:
# QEMU's slirp card 1500, lilyvm's net-user 16000 unless told otherwise,
# pasta's namespace the host interface's. Debian 12's passt (2023-03-09)
# now and then stalls a transfer for seconds when it shares one CPU with
# both ends (its tap-side window handling; upstream has reworked it since):
# such a run shows as "~" or, past XFER_TIMEOUT, "!"; medians absorb one.
#
# usage: net.sh      (make bench-net sets the environment)
# environment:
#   LILYVM, LILYVM_REWRITE  the monitor and the rewriter it runs; the lilyvm
#               column is skipped (and said so) without them or while the
#               monitor's usage has no --net
#   QEMU        default qemu-system-i386; without it the QEMU column is "-"
#   PASTA       default pasta (Debian package passt); without it "-"
#   CC          default gcc (needs -m32 -static: gcc-multilib)
#   RUNS        runs of each measurement, default 5 (medians)
#   VM_MIB      MiB per bulk transfer under the VMs, default 32
#   PEER_MIB    MiB per bulk transfer for pasta and loopback, default 128
#   VM_RR, PEER_RR  round trips per measurement, default 1000 and 10000
#   RR_SIZE     bytes of each request and reply, default 1
#   XFER_TIMEOUT  seconds one measurement may take, default 60
#   BOOT_TIMEOUT  seconds a VM may take to its shell, default 300
#   LILYVM_NET  more --net user options for lilyvm, e.g. mtu=1500 (QEMU's)
#   LILYVM_STATS=1  run lilyvm with --stats and show its counters (boot and
#               every transfer included) after the table
#   NET_COLS    the columns to run, default "loopback pasta qemu lilyvm"
#   BENCH_CPU   the CPU every command is pinned to, default 0
#
# Prints a table (MB/s: 10^6 bytes per second; us per round trip), ratios
# and the issue's targets. Targets are reported, not enforced: exits 0 when
# the bench ran (a column that failed is shown), 2 when it could not run.
set -u
. "$(dirname "$0")/lib.sh"

RUNS=${RUNS:-5}
CPU=${BENCH_CPU:-0}
QEMU=${QEMU:-qemu-system-i386}
PASTA=${PASTA:-pasta}
CC=${CC:-gcc}
VM_MIB=${VM_MIB:-32}
PEER_MIB=${PEER_MIB:-128}
VM_RR=${VM_RR:-1000}
PEER_RR=${PEER_RR:-10000}
RR_SIZE=${RR_SIZE:-1}
XFER_TIMEOUT=${XFER_TIMEOUT:-60}
BOOT_TIMEOUT=${BOOT_TIMEOUT:-300}
LILYVM_STATS=${LILYVM_STATS:-0}
LILYVM_NET=${LILYVM_NET:-}
NET_COLS=${NET_COLS:-"loopback pasta qemu lilyvm"}
MEM=256
GUEST_PORT=5001
READY_MARKER="lilyvm-guest: ready"
COLS="lilyvm qemu pasta loopback"
ROWS="g2h-in h2g-in h2g-host g2h-host rr-in rr-host"

top=$(cd "$(dirname "$0")/.." && pwd)
# The guests' GUEST_CMDLINE (ports/linux/cmdline.sh says why each option is
# there), plus quiet, as bench/linux.sh has it.
. "$top/ports/linux/cmdline.sh"
CMDLINE="$GUEST_CMDLINE quiet"

die() {
	echo "net: $*" >&2
	exit 2
}

command -v taskset >/dev/null || die "taskset (util-linux) is needed to pin the runs to one CPU"
for n in RUNS VM_MIB PEER_MIB VM_RR PEER_RR RR_SIZE XFER_TIMEOUT BOOT_TIMEOUT; do
	eval "v=\$$n"
	case $v in '' | *[!0-9]*) die "$n must be a number (it is \"$v\")" ;; esac
done
for c in $NET_COLS; do
	case " $COLS " in *" $c "*) ;; *) die "NET_COLS: no column $c (there are: $COLS)" ;; esac
done
[ "$RUNS" -ge 1 ] && [ "$VM_RR" -ge 2 ] && [ "$PEER_RR" -ge 2 ] || die "RUNS >= 1 and *_RR >= 2, please"

WORK=$(mktemp -d) || die "cannot make a work directory"
chmod 755 "$WORK"
# What the script started and must stop: "tree PID" or "group PGID" lines.
: >"$WORK/started"
trap 'stop_all; rm -rf "$WORK"' EXIT
trap 'exit 2' HUP INT TERM

AS_USER=
if [ "$(id -u)" -eq 0 ]; then
	AS_USER="setpriv --reuid=nobody --regid=nogroup --clear-groups --"
fi

# --- processes ---

# kill_tree SIGNAL PID: PID and its descendants.
kill_tree() {
	for child in $(cat /proc/"$2"/task/*/children 2>/dev/null); do
		kill_tree "$1" "$child"
	done
	kill "-$1" "$2" 2>/dev/null
}

# stop WHAT ID: stop one thing started (see $WORK/started): SIGTERM, then
# after a second SIGKILL to whatever is left.
stop() {
	case $1 in
	tree)
		kill -0 "$2" 2>/dev/null || return 0
		kill_tree TERM "$2"
		n=0
		while kill -0 "$2" 2>/dev/null && [ $n -lt 10 ]; do sleep 0.1; n=$((n + 1)); done
		kill_tree KILL "$2" ;;
	group)
		kill -TERM "-$2" 2>/dev/null || return 0
		sleep 1
		kill -KILL "-$2" 2>/dev/null ;;
	esac
	return 0
}

stop_all() {
	while read -r what id; do
		stop "$what" "$id"
	done <"$WORK/started"
	: >"$WORK/started"
}

started() {
	echo "$1 $2" >>"$WORK/started"
}

# host_server NAME: start a netperf server on 127.0.0.1 (any port), pinned,
# its lines in $WORK/NAME.log; sets srv_port and srv_pid.
host_server() {
	taskset -c "$CPU" "$NETPERF" server -d -b 127.0.0.1 0 >"$WORK/$1.log" 2>"$WORK/$1.err" ||
		die "cannot start a netperf server: $(cat "$WORK/$1.err")"
	srv_port=$(awk '/ listening / { print $5; exit }' "$WORK/$1.log")
	srv_pid=$(awk '/ listening / { print $7; exit }' "$WORK/$1.log")
	started tree "$srv_pid"
}

# --- measurements ---

# client_loop NETPERF TIMEOUT ADDR PORT MIB RR: the shell loop of the
# inside side's clients, RUNS rounds of send, receive and round trips, each
# killed after TIMEOUT (its failure is then missing from the host's log).
client_loop() {
	printf 'for r in %s; do ' "$(seq -s ' ' "$RUNS")"
	printf 'timeout %s %s client %s %s send %s; ' "$2" "$1" "$3" "$4" "$5"
	printf 'timeout %s %s client %s %s recv %s; ' "$2" "$1" "$3" "$4" "$5"
	printf 'timeout %s %s client %s %s rr %s %s; ' "$2" "$1" "$3" "$4" "$6" "$RR_SIZE"
	printf 'done'
}

# host_clients COL ADDR PORT MIB RR: the host side's clients, pinned, RUNS
# rounds; their lines in $WORK/COL.client, failures in $WORK/COL.fail.
host_clients() {
	for r in $(seq "$RUNS"); do
		for op in "send $4" "recv $4" "rr $5 $RR_SIZE"; do
			# shellcheck disable=SC2086  # op is words
			timeout "$XFER_TIMEOUT" taskset -c "$CPU" "$NETPERF" client "$2" "$3" $op \
				>>"$WORK/$1.client" 2>>"$WORK/$1.client.err" ||
				echo "$1: host client $op (run $r): failed or stalled (exit $?): $(tail -n 1 "$WORK/$1.client.err" 2>/dev/null)" >>"$WORK/failures"
		done
	done
}

# collect COL: the host side's figures of column COL into $WORK/results as
# "COL ROW VALUE" lines: its server's (the inside connected) and its
# clients' (the host connected).
collect() {
	awk -v col="$1" '
		function val(k,   i) { for (i = 3; i <= NF; i++) if (index($i, k "=") == 1) return substr($i, length(k) + 2); return "" }
		$1 == "netperf:" && $2 == "server" && val("op") == "send" { print col, "g2h-in", val("mbps") }
		$1 == "netperf:" && $2 == "server" && val("op") == "recv" { print col, "h2g-in", val("mbps") }
		$1 == "netperf:" && $2 == "server" && val("op") == "rr" { print col, "rr-in", val("us") }
		$1 == "netperf:" && $2 == "client" && val("op") == "send" { print col, "h2g-host", val("mbps") }
		$1 == "netperf:" && $2 == "client" && val("op") == "recv" { print col, "g2h-host", val("mbps") }
		$1 == "netperf:" && $2 == "client" && val("op") == "rr" { print col, "rr-host", val("us") }
	' "$WORK/$1.server.log" "$WORK/$1.client" 2>/dev/null >>"$WORK/results"
}

# complaints COL FILE...: netperf's complaints in FILEs (a client that
# could not connect, a server whose client broke off) join the failures.
complaints() {
	c_col=$1
	shift
	cat "$@" 2>/dev/null | tr -d '\r' | grep -E '^netperf: [a-z ]+: ' | sed "s/^/$c_col: /" >>"$WORK/failures"
	[ -s "$WORK/failures" ] || rm -f "$WORK/failures"
}

# --- the VMs ---

ESC=$(printf '\033')

# The console without carriage returns and busybox's cursor queries.
clean() {
	tr -d '\r' | sed "s/$ESC\\[6n//g"
}

vm_running() {
	kill -0 "$VMPID" 2>/dev/null
}

# wait_console WHAT SECONDS: until the console shows WHAT: "ready" (the
# marker, then a prompt at the very end) or "step N" (a line
# "net-step N STATUS"; sets step_status). 1 if the VM exits or time is up.
wait_console() {
	w_end=$(($(date +%s) + $2))
	while :; do
		case $1 in
		ready)
			if grep -q "$READY_MARKER" "$OUT" &&
				[ "$(tail -c 64 "$OUT" | clean | tail -n 1 | sed 's/.*\(..\)$/\1/')" = "# " ]; then
				return 0
			fi ;;
		step*)
			step_status=$(clean <"$OUT" | sed -n "s/^net-step ${1#step } \([0-9]*\)\$/\1/p" | tail -n 1)
			[ -n "$step_status" ] && return 0 ;;
		esac
		vm_running || return 1
		[ "$(date +%s)" -lt $w_end ] || return 1
		sleep 0.1
	done
}

# send LINE: type LINE and Enter on the guest's console.
send() {
	printf '%s\n' "$1" >&3
}

vm_fail() {
	{
		echo "--- $1: $2; the console's last lines:"
		clean <"$OUT" | tail -n 8
		echo "--- its stderr:"
		tail -n 10 "$WORK/$1.err" 2>/dev/null
	} >>"$WORK/failures"
}

# vm_column COL COMMAND...: boot the guest with COMMAND (console on stdio,
# hostfwd of 127.0.0.1:$fwd to the guest's port 5001 already in it), run
# the measurements, power it off.
vm_column() {
	col=$1
	shift
	OUT=$WORK/$col.console
	: >"$OUT"
	rm -f "$WORK/console.in"
	mkfifo "$WORK/console.in" || die "cannot make a FIFO in $WORK"
	t0=$(date +%s)
	taskset -c "$CPU" "$@" <"$WORK/console.in" >"$OUT" 2>"$WORK/$col.err" &
	VMPID=$!
	started tree $VMPID
	# Holding the FIFO open for writing lets the VM open it and keeps its
	# input from ever seeing end-of-file.
	exec 3>"$WORK/console.in"
	if ! wait_console ready "$BOOT_TIMEOUT"; then
		vm_fail "$col" "no \"$READY_MARKER\" and prompt within $BOOT_TIMEOUT s"
		stop_vm
		return 1
	fi
	echo "net:   booted to the shell in $(($(date +%s) - t0)) s"
	# A wide terminal (no wrapped command lines); eth0 as slirp's DHCP
	# would set it, unless /init's DHCP did; the inside server.
	send "stty cols 1000; ip link set eth0 up && { ip -4 addr show dev eth0 | grep -q inet || ip addr add 10.0.2.15/24 dev eth0; } && ip route replace default via 10.0.2.2 && netperf server -d $GUEST_PORT >/tmp/netperf-server.log; echo net-step 1 \$?; echo net-mtu \$(cat /sys/class/net/eth0/mtu)"
	if ! wait_console "step 1" 60 || [ "$step_status" != 0 ]; then
		vm_fail "$col" "the network set-up failed (status ${step_status:-none})"
		stop_vm
		return 1
	fi
	sleep 0.2
	mtu=$(clean <"$OUT" | sed -n 's/^net-mtu \([0-9]*\)$/\1/p' | tail -n 1)
	echo "$col ${mtu:-?}" >>"$WORK/mtus"
	echo "net:   the host connects (${VM_MIB} MiB, $VM_RR round trips, $RUNS runs)..."
	host_clients "$col" 127.0.0.1 "$fwd" "$VM_MIB" "$VM_RR"
	echo "net:   the guest connects..."
	send "$(client_loop netperf "$XFER_TIMEOUT" 10.0.2.2 "$srv_port" "$VM_MIB" "$VM_RR"); echo net-step 2 \$?"
	if ! wait_console "step 2" $((RUNS * 3 * XFER_TIMEOUT + 60)); then
		vm_fail "$col" "the guest's clients did not finish"
		stop_vm
		return 1
	fi
	stop_vm
}

# stop_vm: power the guest off; QEMU keeps a halted CPU (acpi=off) and is
# told Ctrl-A x; whatever still runs after 10 s is killed.
stop_vm() {
	if vm_running; then
		send "poweroff"
		n=0 quit=
		while vm_running && [ $n -lt 100 ]; do
			if [ "$col" = qemu ] && [ -z "$quit" ] && clean <"$OUT" | grep -q 'reboot: System halted'; then
				printf '\001x' >&3
				quit=1
			fi
			sleep 0.1
			n=$((n + 1))
		done
	fi
	exec 3>&-
	stop tree "$VMPID"
	wait "$VMPID" 2>/dev/null
}

# --- the columns ---

run_lilyvm() {
	vm_column lilyvm $AS_USER "$WORK/vm/lilyvm" run --linux "$WORK/vm/bzImage" \
		--initrd "$WORK/vm/initrd" --mem ${MEM}M --append "$CMDLINE" --serial stdio \
		--net "user,hostfwd=tcp:127.0.0.1:$fwd-:$GUEST_PORT${LILYVM_NET:+,$LILYVM_NET}" $LILYVM_ARGS
}

# -cpu as bench/linux.sh; legacy virtio-net (disable-modern=on: the
# transitional device 1af4:1000 the monitor models), no option ROM.
run_qemu() {
	vm_column qemu "$QEMU" -M pc -cpu qemu32,+nx -m $MEM -nographic -no-reboot \
		-netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$fwd-:$GUEST_PORT" \
		-device virtio-net-pci,netdev=n0,disable-modern=on,romfile=,addr=3 \
		-kernel "$WORK/vm/bzImage" -initrd "$WORK/vm/initrd" -append "$CMDLINE"
}

# pasta: the namespace's script (ns.sh) starts the inside server and says
# its address; the host's clients run; then the namespace's clients.
run_pasta() {
	pdir=$WORK/pasta
	mkdir -p "$pdir" && chmod 777 "$pdir" || die "cannot make $pdir"
	cat >"$pdir/ns.sh" <<EOF
set -u
spid=
trap '[ -n "\$spid" ] && kill \$spid' EXIT
gw=\$(ip -4 route show default | awk '{ print \$3; exit }')
addr=\$(ip -4 -o addr show scope global | awk '{ sub("/.*", "", \$4); print \$4; exit }')
"$NETPERF" server -d $GUEST_PORT >"$pdir/ns-server.log" 2>&1 || { echo "net-step 1 1"; exit 1; }
spid=\$(awk '/ listening / { print \$7; exit }' "$pdir/ns-server.log")
echo "net-ns addr \$addr gw \$gw mtu \$(cat /sys/class/net/\$(ip -4 route show default | awk '{ print \$5; exit }')/mtu)"
echo "net-step 1 0"
n=0
while [ ! -e "$pdir/go" ]; do
	sleep 0.1
	n=\$((n + 1))
	[ \$n -lt 6000 ] || exit 1
done
$(client_loop "$NETPERF" "$XFER_TIMEOUT" '$gw' "$srv_port" "$PEER_MIB" "$PEER_RR")
echo "net-step 2 \$?"
EOF
	chmod 644 "$pdir/ns.sh"
	# Its own process group (setsid): pasta leaves a process behind when it
	# fails, and the namespace's processes are stopped with it.
	# shellcheck disable=SC2086  # PASTA_AS, PASTA_OPTS are words
	taskset -c "$CPU" setsid $PASTA_AS "$PASTA" -f -q $PASTA_OPTS -t "$fwd:$GUEST_PORT" \
		-T none -u none -U none --config-net -- sh "$pdir/ns.sh" \
		</dev/null >"$WORK/pasta.console" 2>"$WORK/pasta.err" &
	ppid_=$!
	started group $ppid_
	OUT=$WORK/pasta.console VMPID=$ppid_
	if ! wait_console "step 1" 60 || [ "$step_status" != 0 ]; then
		vm_fail pasta "the namespace did not start its server (status ${step_status:-none})"
		stop group $ppid_
		return 1
	fi
	haddr=$(sed -n 's/^net-ns addr \([^ ]*\) .*/\1/p' "$OUT")
	sed -n 's/^net-ns .* mtu \([0-9]*\)$/pasta \1/p' "$OUT" >>"$WORK/mtus"
	if [ -z "$haddr" ]; then
		# No address of the host's to share: the loopback it is (spliced).
		haddr=127.0.0.1
		echo "pasta: the host has no IPv4 address but loopback: the host's clients reach the namespace through pasta's loopback splice, not its tap" >>"$WORK/notes"
	fi
	echo "net:   the host connects ($haddr:$fwd; $PEER_MIB MiB, $PEER_RR round trips, $RUNS runs)..."
	host_clients pasta "$haddr" "$fwd" "$PEER_MIB" "$PEER_RR"
	echo "net:   the namespace connects..."
	touch "$pdir/go"
	if ! wait_console "step 2" $((RUNS * 3 * XFER_TIMEOUT + 60)); then
		vm_fail pasta "the namespace's clients did not finish"
	fi
	n=0
	while kill -0 $ppid_ 2>/dev/null && [ $n -lt 50 ]; do sleep 0.1; n=$((n + 1)); done
	stop group $ppid_
	wait $ppid_ 2>/dev/null
}

run_loopback() {
	taskset -c "$CPU" "$NETPERF" server -d -b 127.0.0.1 0 >"$WORK/loopback.inside.log" 2>&1 ||
		die "cannot start a netperf server"
	lo_port=$(awk '/ listening / { print $5; exit }' "$WORK/loopback.inside.log")
	lo_pid=$(awk '/ listening / { print $7; exit }' "$WORK/loopback.inside.log")
	started tree "$lo_pid"
	echo "net:   the host connects ($PEER_MIB MiB, $PEER_RR round trips, $RUNS runs)..."
	host_clients loopback 127.0.0.1 "$lo_port" "$PEER_MIB" "$PEER_RR"
	echo "net:   the inside connects..."
	taskset -c "$CPU" sh -c "$(client_loop "$NETPERF" "$XFER_TIMEOUT" 127.0.0.1 "$srv_port" "$PEER_MIB" "$PEER_RR")" \
		>"$WORK/loopback.inside.out" 2>&1
	stop tree "$lo_pid"
	echo "loopback $(cat /sys/class/net/lo/mtu 2>/dev/null || echo '?')" >>"$WORK/mtus"
}

# --- set-up: programs, guest image, which columns run ---

mkdir "$WORK/vm" || die "cannot make $WORK/vm"
NETPERF=$WORK/netperf
"$CC" -O2 -Wall -o "$NETPERF" "$top/bench/netperf.c" || die "cannot build bench/netperf.c with $CC"
chmod 755 "$NETPERF"
: >"$WORK/notes"
: >"$WORK/mtus"
: >"$WORK/results"

# why_not COL: why the column cannot run ("" if it can).
why_lilyvm= why_qemu= why_pasta= why_loopback=
guest_why=
mkdir "$WORK/i386"
if ! "$CC" -m32 -static -O2 -Wall -o "$WORK/i386/netperf" "$top/bench/netperf.c"; then
	guest_why="cannot build bench/netperf.c with $CC -m32 -static (gcc-multilib)"
elif ! sh "$top/ports/linux/mkguest.sh" -o "$WORK/vm/initrd" "$WORK/i386/netperf" >"$WORK/mkguest.out"; then
	guest_why="no guest image (ports/linux/mkguest.sh failed)"
else
	BZIMAGE=$(sed -n 's/^bzimage //p' "$WORK/mkguest.out")
	if [ -f "$BZIMAGE" ] && cp "$BZIMAGE" "$WORK/vm/bzImage"; then
		chmod 644 "$WORK/vm/bzImage" "$WORK/vm/initrd"
	else
		guest_why="mkguest.sh named no bzImage"
	fi
fi

LILYVM_ARGS=
[ "$LILYVM_STATS" = 1 ] && LILYVM_ARGS=--stats
if [ -n "$guest_why" ]; then
	why_lilyvm=$guest_why
elif [ -z "${LILYVM:-}" ] || [ ! -f "$LILYVM" ] || [ -z "${LILYVM_REWRITE:-}" ] || [ ! -f "$LILYVM_REWRITE" ]; then
	why_lilyvm="LILYVM and LILYVM_REWRITE must name the built monitor and rewriter (make bench-net sets them)"
elif ! "$LILYVM" --help 2>&1 | grep -q -- '--net'; then
	why_lilyvm="this monitor has no --net (its usage does not mention it)"
else
	# As root the monitor runs as nobody: it gets copies in a directory of
	# its own, where it may also keep the rewritten kernel.
	cp "$LILYVM" "$WORK/vm/lilyvm" && cp "$LILYVM_REWRITE" "$WORK/vm/lilyvm-rewrite" &&
		chmod 777 "$WORK/vm" || die "cannot copy the monitor to $WORK/vm"
fi
if [ -n "$guest_why" ]; then
	why_qemu=$guest_why
elif ! command -v "$QEMU" >/dev/null; then
	why_qemu="no $QEMU (Debian package qemu-system-x86)"
fi

# probe [PREFIX...]: can pasta run a command in a namespace of its own (run
# after PREFIX: setpriv, or pasta's own options)? Its own process group:
# when it fails it may leave a process behind. Its words in $WORK/probe.out.
probe() {
	# (setsid itself in the background, no subshell: its pid is the group's)
	if [ "${1:-}" = setpriv ]; then
		setsid "$@" "$PASTA" -f -q --config-net -- true </dev/null >"$WORK/probe.out" 2>&1 &
	else
		setsid "$PASTA" -f -q "$@" --config-net -- true </dev/null >"$WORK/probe.out" 2>&1 &
	fi
	p=$!
	n=0
	while kill -0 $p 2>/dev/null && [ $n -lt 150 ]; do sleep 0.1; n=$((n + 1)); done
	kill -0 $p 2>/dev/null && kill -KILL $p
	wait $p
	p_status=$?
	stop group $p
	return $p_status
}

# pasta: unprivileged if it can be (as root: as nobody), else as root
# (--runas 0:0: its default as root, dropping to nobody after making the
# namespace, needs a uid_map that a nested sandbox may refuse).
PASTA_AS= PASTA_OPTS= pasta_who=
if ! command -v "$PASTA" >/dev/null; then
	cand=$(apt-cache policy passt 2>/dev/null | sed -n 's/^ *Candidate: //p')
	why_pasta="no $PASTA (Debian package passt, candidate: ${cand:-none}; apt-get install passt)"
elif ! command -v ip >/dev/null; then
	why_pasta="no ip (iproute2): the namespace's script needs it"
else
	syslog_noise='^Failed to send [0-9]* bytes to syslog$'
	if [ -z "$AS_USER" ]; then
		probe || why_pasta="pasta cannot make a namespace here: $(grep -v "$syslog_noise" "$WORK/probe.out" | head -n 1)"
		pasta_who="as $(id -un) (unprivileged)"
	elif probe $AS_USER; then
		PASTA_AS=$AS_USER
		pasta_who="as nobody (unprivileged)"
	else
		why_nobody=$(grep -v "$syslog_noise" "$WORK/probe.out" | grep -v '^$' | tail -n 1)
		PASTA_OPTS="--runas 0:0"
		if probe --runas 0:0; then
			pasta_who="as ROOT: as nobody it failed (\"$why_nobody\"; /dev/net/tun is $(ls -l /dev/net/tun 2>/dev/null | cut -d' ' -f1))"
		else
			why_pasta="pasta fails as nobody (\"$why_nobody\") and as root ($(grep -v "$syslog_noise" "$WORK/probe.out" | grep -v '^$' | tail -n 1))"
		fi
	fi
fi

echo "net: $(uname -sr), $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1), $(nproc) CPUs; pinned to CPU $CPU"
[ -z "$why_qemu" ] && echo "net: $("$QEMU" --version | head -n 1)"
[ -z "$why_pasta" ] && echo "net: pasta (passt $(dpkg-query -W -f '${Version}' passt 2>/dev/null || echo '?')), run $pasta_who"
[ -n "${BZIMAGE:-}" ] && echo "net: guest kernel $(basename "$BZIMAGE")"
for c in $COLS; do
	eval "w=\$why_$c"
	[ -n "$w" ] && echo "net: the $c column is skipped: $w"
done
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

# --- main ---

for c in $NET_COLS; do
	eval "w=\$why_$c"
	[ -n "$w" ] && continue
	echo "net: $c..."
	t=$(date +%s)
	host_server "$c.server"
	fwd=$("$NETPERF" port)
	if "run_$c"; then :; else echo "net:   $c failed (see below)"; fi
	stop tree "$srv_pid"
	collect "$c"
	case $c in
	pasta) complaints pasta "$WORK/pasta.server.err" "$WORK/pasta.console" "$WORK/pasta/ns-server.log" ;;
	loopback) complaints loopback "$WORK/loopback.server.err" "$WORK/loopback.inside.out" \
		"$WORK/loopback.inside.log" ;;
	*) complaints "$c" "$WORK/$c.server.err" "$WORK/$c.console" ;;
	esac
	echo "net:   $(($(date +%s) - t)) s"
done

# --- report ---

# cell COL ROW: "MEDIAN FLAGS" of a column's row, or "-".
cell() {
	awk -v c="$1" -v r="$2" '$1 == c && $2 == r { print $3 }' "$WORK/results" | median >"$WORK/m"
	m=$(cat "$WORK/m")
	if [ -z "$m" ]; then
		echo "-"
		return
	fi
	flags=$(awk -v c="$1" -v r="$2" -v m="$m" -v runs="$RUNS" '
		$1 == c && $2 == r { n++; if (n == 1 || $3 < lo) lo = $3; if (n == 1 || $3 > hi) hi = $3 }
		END { f = (hi - lo > 0.25 * m) ? "~" : ""; if (n < runs) f = f "!"; print f }' "$WORK/results")
	echo "$m$flags"
}

# a / b with 2 decimals (flags dropped), or "-".
ratio() {
	awk -v a="${1%%[!0-9.]*}" -v b="${2%%[!0-9.]*}" 'BEGIN {
		if (a !~ /^[0-9.]+$/ || b !~ /^[0-9.]+$/ || b <= 0) print "-"
		else printf "%.2f\n", a / b }'
}

label() {
	case $1 in
	g2h-in) echo "guest->host MB/s, guest conn." ;;
	h2g-in) echo "host->guest MB/s, guest conn." ;;
	h2g-host) echo "host->guest MB/s, host conn." ;;
	g2h-host) echo "guest->host MB/s, host conn." ;;
	rr-in) echo "round trip us, guest conn." ;;
	rr-host) echo "round trip us, host conn." ;;
	esac
}

echo
fmt='%-30s %9s %9s %9s %9s %7s %7s %7s %7s %7s\n'
# shellcheck disable=SC2059
printf "$fmt" "" lilyvm QEMU pasta loopback l/QEMU l/pasta l/lo QEMU/lo pasta/lo
for r in $ROWS; do
	l=$(cell lilyvm $r) q=$(cell qemu $r) p=$(cell pasta $r) o=$(cell loopback $r)
	# shellcheck disable=SC2059
	printf "$fmt" "$(label $r)" "$l" "$q" "$p" "$o" "$(ratio "$l" "$q")" "$(ratio "$l" "$p")" \
		"$(ratio "$l" "$o")" "$(ratio "$q" "$o")" "$(ratio "$p" "$o")"
	eval "l_$(echo $r | tr - _)=\$l q_$(echo $r | tr - _)=\$q p_$(echo $r | tr - _)=\$p"
done
echo "load average (1, 5, 15 min) at the start: $load_start; at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
mtus=$(awk '{ printf "%s%s %s", sep, $1, $2; sep = ", " }' "$WORK/mtus")
cat <<EOF

Medians of $RUNS runs; MB = 10^6 bytes. Transfers: $VM_MIB MiB under the VMs,
$PEER_MIB MiB for pasta and loopback; round trips of $RR_SIZE byte(s) each way,
$VM_RR (VMs) or $PEER_RR per run. Link MTU seen inside: ${mtus:-?}.
"guest" is the VM's guest, pasta's namespace, or a second host process for
loopback. guest conn.: the guest's client connects out (to slirp's 10.0.2.2,
to pasta's gateway), timed by the host's server; host conn.: the host's client
connects through the port forward (hostfwd, pasta -t), timed by the client.
~: the runs spread by more than 25% of the median. !: a run failed or stalled.
X/Y: X's figure / Y's; for MB/s above 1 is faster, for us above 1 is slower.
EOF
if [ -s "$WORK/notes" ]; then cat "$WORK/notes"; fi

# --- targets (from the issue) ---

# all_cmp MIN LE PAIRS: 1 when every a / b of PAIRS ("a b a b ...") is at
# least MIN (LE=1: at most), 0 if one is not, - if none could be compared.
all_cmp() {
	awk -v m="$1" -v le="$2" -v pairs="$3" 'BEGIN {
		n = split(pairs, v, " "); ok = 1; seen = 0
		for (i = 1; i < n; i += 2) {
			a = v[i]; b = v[i + 1]; sub(/[^0-9.].*/, "", a); sub(/[^0-9.].*/, "", b)
			if (a !~ /^[0-9.]+$/ || b !~ /^[0-9.]+$/ || b <= 0) continue
			seen = 1
			if (le ? a / b > m : a / b < m) ok = 0
		}
		print seen ? ok : "-" }'
}

verdict() {
	case $1 in
	1) echo "met" ;;
	0) echo "NOT met" ;;
	*) echo "not measured" ;;
	esac
}

tput_q="$l_g2h_in $q_g2h_in $l_h2g_in $q_h2g_in $l_h2g_host $q_h2g_host $l_g2h_host $q_g2h_host"
tput_p="$l_g2h_in $p_g2h_in $l_h2g_in $p_h2g_in $l_h2g_host $p_h2g_host $l_g2h_host $p_g2h_host"
lat_q="$l_rr_in $q_rr_in $l_rr_host $q_rr_host"
echo
echo "targets (each row of the kind):"
echo "  throughput at least QEMU TCG's:    $(verdict "$(all_cmp 1 0 "$tput_q")")"
echo "  throughput at least half pasta's:  $(verdict "$(all_cmp 0.5 0 "$tput_p")")"
echo "  round trips faster than QEMU TCG:  $(verdict "$(all_cmp 0.9999 1 "$lat_q")")"

if [ "$LILYVM_STATS" = 1 ] && [ -s "$WORK/lilyvm.err" ]; then
	echo
	mib=$((RUNS * 4 * VM_MIB))
	echo "lilyvm --stats (the whole run: boot, $mib MiB and $((RUNS * 2 * VM_RR)) round trips):"
	sed -n '/^trap statistics:/,$p' "$WORK/lilyvm.err"
	# Traps as bench/mmu.sh counts them (every kind of the first table),
	# and the card's frames, per MiB moved; the boot is in them too.
	awk -v mib="$mib" '
		/^trap statistics:/ { on = 1; next } /sites by class:/ { on = 0 }
		on && $(NF - 2) ~ /^[0-9]+$/ { traps += $(NF - 2) }
		/net: frames (received|sent)/ { frames += $NF }
		/net: bytes (received|sent)/ { bytes += $NF }
		END {
			printf "per MiB moved (boot included): %.0f traps", traps / mib
			if (frames) printf ", %.1f frames (%.0f bytes a frame)", frames / mib, bytes / frames
			printf "\n" }' "$WORK/lilyvm.err"
fi
if [ -f "$WORK/failures" ]; then
	echo
	echo "FAILURES:"
	cat "$WORK/failures"
fi
exit 0

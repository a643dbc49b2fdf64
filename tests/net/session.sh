#!/bin/sh
# session.sh - the network session (issue 6): the Debian guest of
# tests/linux/session.sh with a legacy virtio-net NIC on slirp's user
# network, session.in typed into its shell, and the host's side of each
# exchange run between its lines ("!host" lines, tests/linux/harness.sh).
# Under QEMU (-netdev user) and under lilyvm (--net user) the filtered
# transcripts must be the same. What each part proves:
#   1. DHCP: the guest's first frames (broadcasts) reach slirp, and slirp's
#      replies come back: the lease 10.0.2.15/24, router 10.0.2.2, DNS
#      10.0.2.3, set up by the image's udhcpc script.
#   2. ICMP echo to 10.0.2.2: frames both ways one at a time, answered by
#      slirp itself.
#   3. TCP guest to host: 50 MiB of bytes that never repeat, from an HTTP
#      server on the host's 127.0.0.1 that slirp connects the guest to; the
#      guest's md5 is the host's: no frame lost, duplicated, reordered or
#      corrupted, through many rounds of the RX ring.
#   4. TCP host to guest: busybox httpd in the guest, curl on the host
#      through the hostfwd port; 4 MiB, the same md5 on both sides: the TX
#      path under load, and hostfwd's listening socket.
#   5. UDP both ways: datagrams from the guest to a host listener, and from
#      the host through a udp hostfwd to a guest socket; each side prints what
#      it received.
#   6. 100 TCP connections at once: many sockets in slirp at the same time,
#      every request answered in full.
#   7. The guest takes the interface down in the middle of a transfer and
#      brings it up again: the NIC survives the driver's stop and open with
#      buffers in flight; a new lease, and a new 50 MiB transfer is whole.
# The host's servers are python3 (hostnet.py), and the guest's UDP tool a
# static i386 program (udp.c): busybox's nc has no UDP.
#
# usage: session.sh [-k DIR]
#   -k DIR  keep the raw console output, boot log, filtered transcript and
#           timings of each run in DIR
# environment:
#   LILYVM   the lilyvm monitor (under make check: the one built). Unset:
#            only QEMU runs, and its transcript is printed. Set: the same
#            session also runs under `$LILYVM run --linux ... --net user,...`,
#            as an unprivileged user, and the two transcripts must match;
#            while `$LILYVM run --help` does not mention --net, QEMU runs
#            alone and the test is skipped after it.
#   LILYVM_REWRITE, QEMU, CC, SESSION_TIMEOUT  as for tests/linux/session.sh
#
# Prints the filtered transcript of the QEMU run, then one line per check and
# the timings. Exits 0 if every check passed, 1 if one failed, 77 (automake's
# SKIP) if the guest image cannot be made, QEMU, python3 or curl is missing,
# or the monitor has no --net yet.
set -u

here=$(cd "$(dirname "$0")" && pwd)
TEST=net-session
SCRIPT=$here/session.in
# shellcheck source=tests/linux/harness.sh
. "$here/../linux/harness.sh"
# The ports chosen at run time that session.in names.
SCRIPT_VARS="HTTP_PORT UDP_PORT"
BIG_SIZE=52428800
SMALL_SIZE=10000
SERVER_PID=

# What differs between the runs in this session's own output. Each
# expression says why.
filter_more() {
	sed \
		-e '# ping: round-trip times' \
		-e 's/ time=[0-9.]* ms$/ time=<t> ms/' \
		-e 's|^round-trip min/avg/max = .*|round-trip min/avg/max = <t>|'
}

# The servers' process and whatever it runs them in (python3 may be a
# wrapper script, as pyenv's is).
cleanup() {
	if [ -n "$SERVER_PID" ]; then
		kill_tree TERM "$SERVER_PID"
		wait "$SERVER_PID" 2>/dev/null
	fi
}

# --- what the script's !host lines call (in the work directory) ---

hostnet() {
	python3 "$here/hostnet.py" "$@"
}

# expect TEXT...: each TEXT is somewhere in the guest's output since the
# last host line.
expect() {
	e_status=0
	for e in "$@"; do
		if grep -qF -- "$e" "$GUEST_OUT"; then
			echo "host: the guest printed \"$e\""
		else
			echo "host: the guest did not print \"$e\""
			e_status=1
		fi
	done
	return $e_status
}

# same_md5 [-n COUNT] FILE: the guest printed FILE's md5 (with -n: COUNT
# times, as `uniq -c` counts).
same_md5() {
	m_count=
	if [ "$1" = -n ]; then
		m_count=$2
		shift 2
	fi
	m_sum=$(md5sum <"$1" | cut -d' ' -f1)
	m_size=$(size_of "$1")
	if [ -n "$m_count" ]; then
		m_what="$m_count times"
		m_re="^ *$m_count $m_sum "
	else
		m_what="once"
		m_re="^$m_sum "
	fi
	if grep -q "$m_re" "$GUEST_OUT"; then
		echo "host: $1 ($m_size bytes) has md5 $m_sum, as the guest printed $m_what"
	else
		echo "host: $1 ($m_size bytes) has md5 $m_sum, which the guest did not print $m_what"
		return 1
	fi
}

# fetch NAME: NAME from the guest's httpd, through the tcp hostfwd, as
# from-guest.bin.
fetch() {
	curl -sS --max-time "$TIMEOUT" -o from-guest.bin "http://127.0.0.1:$TCP_FWD/$1"
}

parse_args "$@"
start
command -v python3 >/dev/null || skip "no python3 for the host's servers"
command -v curl >/dev/null || skip "no curl for the host's requests"
guest_cc udp "$here/udp.c"
make_guest "$WORK/udp"

# The host's files (bytes that never repeat), its HTTP server and UDP
# listener, and two free ports for the hostfwds. One set serves both runs.
if ! { mkdir "$WORK/www" && hostnet mkfile "$BIG_SIZE" "$WORK/www/big.bin" &&
	hostnet mkfile "$SMALL_SIZE" "$WORK/www/small.bin"; }; then
	die "cannot make the host's files"
fi
: >"$WORK/udp.log"
python3 "$here/hostnet.py" serve "$WORK/www" "$WORK/ports" "$WORK/udp.log" 2>"$WORK/servers.stderr" &
SERVER_PID=$!
t0=$(now)
until [ -s "$WORK/ports" ]; do
	if ! kill -0 "$SERVER_PID" 2>/dev/null || over "$t0"; then
		die "the host's servers did not start"
	fi
	sleep 0.05
done
# shellcheck disable=SC2034  # named in SCRIPT_VARS
HTTP_PORT=$(sed -n 's/^http //p' "$WORK/ports")
# shellcheck disable=SC2034
UDP_PORT=$(sed -n 's/^udp //p' "$WORK/ports")
TCP_FWD=$(hostnet freeport tcp) || die "no free TCP port"
UDP_FWD=$(hostnet freeport udp) || die "no free UDP port"
HOSTFWD="hostfwd=tcp:127.0.0.1:$TCP_FWD-:80,hostfwd=udp:127.0.0.1:$UDP_FWD-:7777"

# Legacy virtio (disable-modern=on), so that Linux drives it through
# virtio_pci_legacy as it does lilyvm's; no option ROM (romfile=): nothing
# boots from the network, and lilyvm has no BIOS to run one; slot 3 and
# QEMU's default MAC, which lilyvm's NIC has too, so that both show the same
# device and address.
run_qemu -netdev "user,id=n0,$HOSTFWD" \
	-device virtio-net-pci,netdev=n0,disable-modern=on,romfile=,addr=3,mac=52:54:00:12:34:56
no_net=
if [ -n "$LILYVM" ]; then
	if "$LILYVM" run --help 2>&1 | grep -q -- --net; then
		run_lilyvm --net "user,$HOSTFWD"
	else
		no_net="$LILYVM has no --net yet: QEMU ran alone"
	fi
fi
report || exit 1
[ -z "$no_net" ] || skip "$no_net"

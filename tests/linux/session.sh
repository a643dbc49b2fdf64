#!/bin/sh
# session.sh - the scripted Linux session (issue 5): boot Debian's i386 686
# kernel with the guest initramfs (ports/linux/mkguest.sh) plus guestprog,
# type session.in into the shell on the serial console, and print the
# transcript, filtered of what differs from run to run and host to host.
#
# usage: session.sh [-k DIR]
#   -k DIR  keep the raw console output, boot log, filtered transcript and
#           timings of each run in DIR
# environment:
#   LILYVM   the lilyvm monitor (under make check: the one built). Unset:
#            only QEMU runs, and its transcript is
#            printed. Set: the same session also runs under
#            `$LILYVM run --linux BZIMAGE --initrd INITRD --append ...`, as an
#            unprivileged user, and the two transcripts must match.
#   LILYVM_REWRITE  the lilyvm-rewrite the monitor runs (default: the one
#            beside $LILYVM, or in ../rewriter/ from it)
#   QEMU     default qemu-system-i386
#   CC       the host compiler for guestprog (default gcc; needs -m32 -static)
#   SESSION_TIMEOUT  seconds allowed for the boot and for each command
#            (default 180)
#
# Prints the filtered transcript of the QEMU run, then one line per check and
# the timings. Exits 0 if every check passed, 1 if one failed, 77 (automake's
# SKIP) if the guest image cannot be made or QEMU is missing.
set -u

# The guest's kernel command line: one variable for both runs, so that both
# kernels take the same paths and their outputs stay comparable. Each option
# is there for the monitor, and QEMU gets it too:
#   console=ttyS0   the 16550 at 0x3f8 is the only console the monitor has.
#   reservetop=16K  the top 16 KiB of a 32-bit address space belong to the
#                   monitor (lightvm/README.md: scratch page, stub, and the
#                   host's TASK_SIZE limit); the kernel moves its fixmap below
#                   (rounded to 4 MiB: "Reserving virtual address space above
#                   0xffffc000 (rounded to 0xffc00000)").
#   nokaslr         the monitor loads the unpacked vmlinux at its link address
#                   and never runs the bzImage decompressor that would move
#                   it; QEMU runs that decompressor, so it is told not to.
#                   (The kernel proper does not know the option and passes it
#                   to /init as an argument, which /init ignores.)
#   acpi=off        there is no BIOS and so no ACPI tables under the monitor;
#                   without ACPI QEMU's kernel also finds no HPET and no ACPI
#                   PM timer, and `poweroff` halts ("reboot: System halted",
#                   cli; hlt) instead of writing the PIIX4 PM1a register.
#   nolapic         no local APIC, hence no IO-APIC either: interrupts go
#                   through the 8259 PICs and the tick is the PIT's, which is
#                   what the monitor models.
#   pci=nobios      probe PCI with configuration mechanism 1 only, never by
#                   calling a PCI BIOS (QEMU's SeaBIOS has one, the monitor
#                   has none).
#   pnpbios=off     likewise never call a PnP BIOS.
#   noisapnp        no ISA PnP isolation: 0.4 s of port I/O and delays in
#                   QEMU, thousands of trapped port accesses in the monitor.
#   mitigations=off which speculation mitigations the kernel applies depends
#                   on the CPU it sees (QEMU's qemu32 model, the host's CPU
#                   under the monitor), and some of them touch MSRs on every
#                   context switch; off, both kernels patch and run the same
#                   code.
#   tsc=reliable    no clocksource watchdog on the TSC: the monitor's TSC is
#                   the host's own, and the watchdog's reference would be the
#                   PIT (three trapped port accesses a read, twice a second),
#                   which a loaded host delays until the kernel declares the
#                   TSC unstable and falls back to the PIT for all its time
#                   keeping. QEMU TCG on a loaded host does the same, and
#                   its warning lands in the middle of the transcript.
#   panic=-1        reboot at once on a panic: QEMU (-no-reboot) and the
#                   monitor then exit, and the run fails fast instead of
#                   waiting for the timeout.
GUEST_CMDLINE="console=ttyS0 reservetop=16K nokaslr acpi=off nolapic pci=nobios pnpbios=off noisapnp mitigations=off tsc=reliable panic=-1"
GUEST_MEM_MB=256
# The prompt the harness sets: the last command's status, then "# ".
PROMPT_SET="PS1='[\$?] # '"
READY_MARKER="lilyvm-guest: ready"

here=$(cd "$(dirname "$0")" && pwd)
top=${top_srcdir:-$(cd "$here/../.." && pwd)}
QEMU=${QEMU:-qemu-system-i386}
CC=${CC:-gcc}
TIMEOUT=${SESSION_TIMEOUT:-180}
LILYVM=${LILYVM:-}
# Under `make check` (top_builddir set): the monitor just built.
[ -z "$LILYVM" ] && [ -n "${top_builddir:-}" ] && LILYVM=$top_builddir/lightvm/lilyvm
keep=

ESC=$(printf '\033')

die() {
	echo "session: $*" >&2
	exit 1
}

skip() {
	echo "SKIP: session: $*"
	exit 77
}

now() {
	date +%s.%N
}

# elapsed T0 [T1]: seconds from T0 to T1 (default now), 2 decimals.
elapsed() {
	awk -v a="$1" -v b="${2:-$(now)}" 'BEGIN { printf "%.2f\n", b - a }'
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
		awk -v e="$(elapsed "$wait_t0")" -v t="$TIMEOUT" 'BEGIN { exit !(e > t) }' && return 1
		sleep 0.05
	done
}

# send LINE: type LINE and Enter on the guest's console.
send() {
	printf '%s\n' "$1" >&3
}

# run_session NAME CMD...: boot the guest with CMD (its console on stdio),
# play session.in, leave $WORK/NAME.raw, NAME.times and NAME.status.
run_session() {
	name=$1
	shift
	OUT=$WORK/$name.raw
	times=$WORK/$name.times
	status=0
	: >"$OUT"
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
	send "stty cols 1000 rows 50; $PROMPT_SET"
	wait_for "$sent" prompt || { stuck "$name" "the prompt setup"; return; }
	session_t0=$(now)
	while IFS= read -r line; do
		case $line in '' | '#'*) continue ;; esac
		min='' max=''
		case $line in
		'!wall '*)
			# shellcheck disable=SC2086  # split into words
			set -- $line
			min=$2 max=$3
			line=${line#!wall "$min" "$max" }
			;;
		esac
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
	done <"$here/session.in"
	# After poweroff the guest halts (acpi=off: no way to switch off): the
	# monitor exits by itself; QEMU keeps a halted CPU and is stopped with
	# its console escape, Ctrl-A x.
	t1=$(now)
	while vm_running; do
		if output_since 0 | grep -q 'reboot: \(System halted\|Power down\)'; then
			case $name in qemu) printf '\001x' >&3 ;; esac
			break
		fi
		awk -v e="$(elapsed "$t1")" -v t="$TIMEOUT" 'BEGIN { exit !(e > t) }' && break
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
	echo "$status" >"$WORK/$1.status"
}

# filter RAW: the transcript from the ready marker on, with what differs from
# run to run or host to host replaced. Each expression says why.
filter() {
	clean <"$1" | sed -n "/$READY_MARKER/,\$p" | sed \
		-e '# kernel log timestamps (dmesg, the halt message): time since boot' \
		-e 's/^\[ *[0-9]*\.[0-9]*\]/[T]/' \
		-e '# /proc/cpuinfo: the CPU the guest sees is QEMU TCG'"'"'s own model' \
		-e '# (qemu32) under QEMU and the host'"'"'s CPU under lilyvm; its speed' \
		-e '# (cpu MHz, bogomips) is the host'"'"'s in both' \
		-e 's/^\(vendor_id\|cpu family\|model\|model name\|stepping\|cpu MHz\|cpuid level\|flags\|bugs\|bogomips\|clflush size\|cache_alignment\|address sizes\|power management\)\([[:space:]]*:\).*/\1\2 <host>/' \
		-e '# and whether it reports a microcode revision and a cache size at all' \
		-e '/^\(microcode\|cache size\)[[:space:]]*:/d' \
		-e '# busybox time: the guest'"'"'s own measure of "sleep 1" and of its' \
		-e '# CPU time (the host wall time is checked separately)' \
		-e 's/^\(real\|user\|sys\)\([[:space:]]*\)[0-9]*m *[0-9]*\.[0-9]*s$/\1\2<time>/' \
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
		-e '/^QEMU: Terminated$/d'
}

while [ $# -gt 0 ]; do
	case $1 in
	-k) [ $# -ge 2 ] || die "usage: session.sh [-k DIR]"; keep=$2; shift 2 ;;
	*) die "usage: session.sh [-k DIR]" ;;
	esac
done

command -v "$QEMU" >/dev/null || skip "no $QEMU (Debian package qemu-system-x86)"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/linux-session.XXXXXX") || die "cannot make a work directory"
chmod 755 "$WORK"
trap 'rm -rf "$WORK"' EXIT
trap 'exit 1' HUP INT TERM

"$CC" -m32 -static -O2 -pthread -Wall -o "$WORK/guestprog" "$here/guestprog.c" -lm ||
	die "cannot build guestprog with $CC -m32 -static (gcc-multilib)"
sh "$top/ports/linux/mkguest.sh" -o "$WORK/initrd" "$WORK/guestprog" >"$WORK/mkguest.out" ||
	skip "no guest image (ports/linux/mkguest.sh failed)"
BZIMAGE=$(sed -n 's/^bzimage //p' "$WORK/mkguest.out")
INITRD=$(sed -n 's/^initramfs //p' "$WORK/mkguest.out")
[ -f "$BZIMAGE" ] && [ -f "$INITRD" ] || die "mkguest.sh named no bzImage and initramfs"

# QEMU: -nographic puts the serial console on stdio (multiplexed with
# QEMU's monitor, whose Ctrl-A x stops it after the halt); -nic none because
# the kernel has no network driver built in and the monitor no NIC, and it
# spares the iPXE ROM's start-up.
runs=qemu
run_session qemu "$QEMU" -M pc -m "$GUEST_MEM_MB" -nographic -no-reboot -nic none \
	-kernel "$BZIMAGE" -initrd "$INITRD" -append "$GUEST_CMDLINE"
if [ -n "$LILYVM" ]; then
	runs="qemu lilyvm"
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
		--initrd "$WORK/vm/initrd" --mem "${GUEST_MEM_MB}M" --append "$GUEST_CMDLINE" --serial stdio
fi

failed=0
for r in $runs; do
	filter "$WORK/$r.raw" >"$WORK/$r.txt"
	clean <"$WORK/$r.raw" | sed "/$READY_MARKER/q" >"$WORK/$r.boot"
done
echo "--- filtered transcript (qemu):"
cat "$WORK/qemu.txt"
echo "---"
for r in $runs; do
	grep '^\(not \)\{0,1\}ok' "$WORK/$r.times"
	[ "$(cat "$WORK/$r.status")" = 0 ] || failed=1
	if grep -q '^guestprog: .* 0 not ok$' "$WORK/$r.txt"; then
		echo "ok - $r: guestprog reports no failure"
	else
		echo "not ok - $r: guestprog reports failures or did not finish"
		failed=1
	fi
	grep -v '^\(not \)\{0,1\}ok' "$WORK/$r.times" | sed "s/^/$r: /"
done
if [ -n "$LILYVM" ]; then
	if diff -u "$WORK/qemu.txt" "$WORK/lilyvm.txt"; then
		echo "ok - lilyvm and QEMU transcripts match ($(wc -l <"$WORK/qemu.txt") lines)"
	else
		echo "not ok - lilyvm and QEMU transcripts differ"
		failed=1
	fi
fi
if [ -n "$keep" ]; then
	mkdir -p "$keep" && cp "$WORK"/*.raw "$WORK"/*.txt "$WORK"/*.boot "$WORK"/*.times \
		"$WORK"/*.stderr "$keep/" || die "cannot keep the logs in $keep"
fi
exit $failed

#!/usr/bin/env bash
# setup.sh - the two ways in for a new machine (Debian 12):
#   ./setup.sh run    install what is missing, build, run the main job
#   ./setup.sh test   install what is missing, build, run the whole test suite
# Both install only the Debian packages that are missing, build out of tree
# in ./build, and are safe to run again.
set -euo pipefail

top=$(cd "$(dirname "$0")" && pwd)
build="$top/build"

# Build and test dependencies, by Debian package name.
packages=(
	gcc make autoconf automake pkgconf binutils gcc-multilib
	libelf-dev libcapstone-dev libunwind-dev libslirp-dev libglib2.0-dev
	liblzma-dev zlib1g-dev libzstd-dev qemu-system-x86 cpio python3 curl
)

as_root() {
	if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

missing_packages() {
	local p
	for p in "${packages[@]}"; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
			echo "$p"
	done
}

install_missing() {
	local missing
	missing=$(missing_packages)
	[ -z "$missing" ] && return 0
	echo "setup: installing $(echo $missing)"
	as_root apt-get update -qq ||
		echo "setup: apt-get update failed; trying the package lists already here" >&2
	# shellcheck disable=SC2086  # one word per package
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
}

build_tree() {
	[ -x "$top/configure" ] || (cd "$top" && autoreconf -fi >/dev/null 2>&1 || autoreconf -fi)
	mkdir -p "$build"
	cd "$build"
	[ -f Makefile ] || "$top/configure" -q
	make -s -j"$(nproc)"
}

# Run a command as an ordinary user: as root, as nobody.
unprivileged() {
	if [ "$(id -u)" -eq 0 ]; then
		setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$@"
	else
		"$@"
	fi
}

# A free TCP port on the host's loopback.
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Serve $guest/www on a port of the host's loopback (set WEB_PORT, WEB_PID):
# the page the guest fetches at boot over its user network.
start_host_web() {
	mkdir -p "$guest/www"
	printf 'Hello from %s: this page crossed from a host socket into the guest through
libslirp and a virtio-net card, without root.
' \
		"$(hostname)" >"$guest/www/index.html"
	WEB_PORT=$(free_port)
	python3 -m http.server "$WEB_PORT" --bind 127.0.0.1 --directory "$guest/www" \
		>/dev/null 2>&1 &
	WEB_PID=$!
	trap 'kill "$WEB_PID" 2>/dev/null' EXIT
}

# The main job: make the bundled guest (Debian's i386 kernel and busybox,
# ports/linux/mkguest.sh) and boot it on this terminal, unprivileged, with a
# user-mode network (--net user): at boot the guest fetches a page from a web
# server this command runs on the host's loopback, and the guest's port 80 is
# forwarded to a host loopback port. The guest's directory is writable by the
# user the monitor runs as, so the kernel it rewrites on the first boot stays
# cached there for the next.
run_main_job() {
	local paths bzimage initrd guest="$build/guest" fwd_port
	paths=$(sh "$top/ports/linux/mkguest.sh")
	bzimage=$(echo "$paths" | sed -n 's/^bzimage //p')
	initrd=$(echo "$paths" | sed -n 's/^initramfs //p')
	mkdir -p "$guest"
	chmod 1777 "$guest"
	cmp -s "$bzimage" "$guest/bzImage" || cp "$bzimage" "$guest/bzImage"
	cmp -s "$initrd" "$guest/initrd" || cp "$initrd" "$guest/initrd"
	chmod 644 "$guest/bzImage" "$guest/initrd"
	cp lightvm/lilyvm rewriter/lilyvm-rewrite "$guest/"
	start_host_web
	fwd_port=$(free_port)
	echo "setup: booting Debian's i386 Linux; 'poweroff' in the guest ends it (Ctrl-A x forces it)"
	echo "setup: the host serves http://10.0.2.2:$WEB_PORT/ to the guest; the guest's port 80 is http://127.0.0.1:$fwd_port/ here (try httpd -h /etc in the guest)"
	unprivileged env LILYVM_REWRITE="$guest/lilyvm-rewrite" "$guest/lilyvm" run \
		--linux "$guest/bzImage" --initrd "$guest/initrd" \
		--net "user,hostfwd=tcp:127.0.0.1:$fwd_port-:80" \
		--append "console=ttyS0 quiet hostweb=http://10.0.2.2:$WEB_PORT/"
}

# automake's summary, reduced to the project's closing line.
summary_line() {
	awk '/^# (PASS|FAIL|XPASS|ERROR|SKIP):/ { n[$2] = $3 }
	     END { printf "%d passed, %d failed, %d skipped\n", n["PASS:"],
		   n["FAIL:"] + n["XPASS:"] + n["ERROR:"], n["SKIP:"] }' test-suite.log
}

run_tests() {
	local rc=0
	make -s -j"$(nproc)" check || rc=$?
	[ -f test-suite.log ] || { echo "0 passed, 1 failed"; return 1; }
	summary_line
	return $rc
}

case "${1:-}" in
run) install_missing; build_tree; run_main_job ;;
test) install_missing; build_tree; run_tests ;;
*) echo "usage: $0 run|test" >&2; exit 2 ;;
esac

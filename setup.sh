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

# The main job: make the bundled guest (Debian's i386 kernel and busybox,
# ports/linux/mkguest.sh) and boot it on this terminal, unprivileged. The
# guest's directory is writable by the user the monitor runs as, so the
# kernel it rewrites on the first boot stays cached there for the next.
run_main_job() {
	local paths bzimage initrd guest="$build/guest"
	paths=$(sh "$top/ports/linux/mkguest.sh")
	bzimage=$(echo "$paths" | sed -n 's/^bzimage //p')
	initrd=$(echo "$paths" | sed -n 's/^initramfs //p')
	mkdir -p "$guest"
	chmod 1777 "$guest"
	cmp -s "$bzimage" "$guest/bzImage" || cp "$bzimage" "$guest/bzImage"
	cmp -s "$initrd" "$guest/initrd" || cp "$initrd" "$guest/initrd"
	chmod 644 "$guest/bzImage" "$guest/initrd"
	cp lightvm/lilyvm rewriter/lilyvm-rewrite "$guest/"
	echo "setup: booting Debian's i386 Linux; 'poweroff' in the guest ends it (Ctrl-A x forces it)"
	unprivileged env LILYVM_REWRITE="$guest/lilyvm-rewrite" "$guest/lilyvm" run \
		--linux "$guest/bzImage" --initrd "$guest/initrd" --append "console=ttyS0 quiet"
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

#!/bin/sh
# mkguest.sh - make the bundled Linux guest from Debian's i386 packages: the
# kernel of the newest linux-image-6.1.0-N-686 package (the non-PAE flavour)
# and an initramfs of busybox-static with the project's own /init
# (ports/linux/init). Nothing is downloaded but those two packages, with
# apt-get download; nothing here needs root except, once, teaching apt the
# i386 architecture when its lists do not have the packages yet.
#
# The initramfs (gzipped newc cpio, every file owned by root without fakeroot:
# cpio -R 0:0) holds /bin/busybox and a link for each of its applets; /dev,
# /proc, /sys, /tmp, /run, /root; /etc/passwd, group and hostname; /init;
# /etc/inittab for busybox init, which /init hands PID 1 to (see init); and
# /etc/udhcpc/default.script (udhcpc.script), which busybox's DHCP client
# runs to configure the interface. It is byte for byte the same whoever
# makes it.
#
# usage: mkguest.sh [-o INITRD FILE...]
#   Prints two lines, "bzimage PATH" and "initramfs PATH", both in the cache.
#   With -o it also writes INITRD: the base initramfs followed by a second
#   archive holding each FILE as /usr/local/bin/NAME (the kernel unpacks
#   concatenated archives in order), and prints that as the initramfs. The
#   base image stays as it is, for other runs.
# environment:
#   LILYVM_GUEST_CACHE  where packages are unpacked and images kept
#                       (default: ${XDG_CACHE_HOME:-~/.cache}/lilyvm/guest)
#
# The cache is keyed by the package versions (and the initramfs also by the
# contents of init, udhcpc.script and this script), so a second run with
# nothing new in the apt lists does nothing but print the paths. With apt
# knowing no package at all (no lists), the last image made is used.
#
# The 686 flavour has the 8250 serial console, devtmpfs, tmpfs, proc, sysfs,
# unix sockets, IPv4 and the CMOS RTC built in (checked in its config and
# modules.builtin). Only the NIC is a module: virtio-net and what it needs
# (GUEST_MODULES, in the order /init loads them when it finds a virtio-net
# PCI function); the unpacked package keeps only boot/, those modules and the
# modules.* indexes.
set -u

CACHE=${LILYVM_GUEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lilyvm/guest}
HERE=$(cd "$(dirname "$0")" && pwd)
INIT=$HERE/init
UDHCPC_SCRIPT=$HERE/udhcpc.script
SELF=$HERE/mkguest.sh
# Debian names the plain bzImage package ...-686-unsigned, the signed one ...-686;
# both hold the same /boot/vmlinuz-6.1.0-N-686. The unsigned one is preferred.
KERNEL_RE='^linux-image-6\.1\.0-[0-9]+-686(-unsigned)?$'
BUSYBOX=busybox-static
# Modules to put in the image, as paths under lib/modules/VERSION/kernel/,
# each after the modules it needs (modules.dep is made by depmod at install
# time, so the package has none: /init loads them in this order).
GUEST_MODULES="net/core/failover.ko drivers/net/net_failover.ko drivers/virtio/virtio.ko
drivers/virtio/virtio_ring.ko drivers/virtio/virtio_pci_legacy_dev.ko
drivers/virtio/virtio_pci_modern_dev.ko drivers/virtio/virtio_pci.ko drivers/net/virtio_net.ko"
HOSTNAME=lilyvm

die() {
	echo "mkguest: $*" >&2
	exit 1
}

note() {
	echo "mkguest: $*" >&2
}

as_root() {
	if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# The newest 6.1.0-N-686 image package, unsigned if Debian has that name.
kernel_package() {
	names=$(apt-cache search --names-only "$KERNEL_RE" 2>/dev/null | cut -d' ' -f1)
	abi=$(printf '%s\n' "$names" | sed -n 's/^linux-image-6\.1\.0-\([0-9]*\)-686.*/\1/p' |
		sort -n | tail -n 1)
	[ -n "$abi" ] || return 1
	base=linux-image-6.1.0-$abi-686
	if printf '%s\n' "$names" | grep -qx "$base-unsigned"; then
		echo "$base-unsigned"
	else
		echo "$base"
	fi
}

# Sets KVER and BVER: the versions apt would download of KPKG:i386 and
# BPKG:i386 (one apt-cache call: each one reads all the lists).
candidates() {
	versions=$(apt-cache show --no-all-versions "$KPKG:i386" "$BPKG:i386" 2>/dev/null |
		sed -n 's/^Package: /P /p; s/^Version: /V /p')
	KVER=$(printf '%s\n' "$versions" | awk -v p="$KPKG" '$1 == "P" { cur = $2 } $1 == "V" && cur == p { print $2; exit }')
	BVER=$(printf '%s\n' "$versions" | awk -v p="$BPKG" '$1 == "P" { cur = $2 } $1 == "V" && cur == p { print $2; exit }')
	[ -n "$KVER" ] && [ -n "$BVER" ]
}

# True if apt's package lists have not changed since the last guest was made.
lists_unchanged() {
	[ -d /var/lib/apt/lists ] || return 0
	[ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*' -newer "$CACHE/current" 2>/dev/null)" ]
}

# Teach apt the i386 architecture and fetch its lists (root, once).
update_lists() {
	if ! dpkg --print-foreign-architectures | grep -qx i386; then
		note "adding the i386 architecture to dpkg"
		as_root dpkg --add-architecture i386 || die "cannot add the i386 architecture"
	fi
	note "apt-get update"
	# A mirror in mid-sync can fail one index; the lists that did arrive may do.
	as_root apt-get update -q >"$WORK/apt-update.log" 2>&1 ||
		note "apt-get update reported errors, going on"
}

# Sets KPKG KVER BPKG BVER: the packages to use. The last guest's, while
# apt's lists are the ones it was chosen from (asking apt takes seconds).
choose_packages() {
	if [ -s "$CACHE/current" ] && lists_unchanged; then
		# shellcheck disable=SC1091  # written by this script
		. "$CACHE/current"
		return 0
	fi
	BPKG=$BUSYBOX
	KPKG=$(kernel_package) && candidates && return 0
	if [ -s "$CACHE/current" ]; then
		note "apt knows no $KERNEL_RE or $BUSYBOX for i386; using the last guest made"
		# shellcheck disable=SC1091
		. "$CACHE/current"
		return 0
	fi
	update_lists
	KPKG=$(kernel_package) || die "no linux-image-6.1.0-*-686 package for i386 in the apt lists"
	candidates || die "apt has no version of $KPKG:i386 or $BPKG:i386"
}

# A directory name for PACKAGE VERSION (the epoch's colon spelled as apt does).
tree_name() {
	printf '%s_%s\n' "$1" "$2" | sed 's/:/%3a/g'
}

# fetch PACKAGE VERSION: download PACKAGE:i386=VERSION and unpack it into the
# cache, once; a tree is complete only when its .done file exists.
fetch() {
	dir=$CACHE/$(tree_name "$1" "$2")
	[ -e "$dir/.done" ] && return 0
	note "fetching $1:i386 $2"
	rm -rf "$dir" "$dir.new.$$" "$WORK/deb"
	# apt's _apt user must be able to write the download directory.
	mkdir -p "$WORK/deb" && chmod 755 "$WORK" "$WORK/deb" || die "cannot make $WORK/deb"
	(cd "$WORK/deb" && apt-get download "$1:i386=$2") >"$WORK/apt-download.log" 2>&1 ||
		{ cat "$WORK/apt-download.log" >&2; die "cannot download $1:i386 $2"; }
	set -- "$WORK/deb/"*.deb
	[ -f "$1" ] || die "apt-get download left no .deb"
	dpkg-deb -x "$1" "$dir.new.$$" || die "cannot unpack $1"
	mv "$dir.new.$$" "$dir" || die "cannot move the unpacked tree into $CACHE"
	rm -rf "$WORK/deb"
}

# The kernel tree keeps boot/, the modules.* indexes and GUEST_MODULES: the
# other modules are 185 MiB that the guest does not use.
prune_modules() {
	for mdir in "$KTREE"/lib/modules/*/; do
		[ -d "$mdir/kernel" ] || continue
		if [ -n "$GUEST_MODULES" ]; then
			mkdir -p "$mdir/keep"
			for m in $GUEST_MODULES; do
				[ -f "$mdir/kernel/$m" ] || die "no module $m in $KPKG"
				mkdir -p "$mdir/keep/$(dirname "$m")"
				mv "$mdir/kernel/$m" "$mdir/keep/$m"
			done
			rm -rf "$mdir/kernel" && mv "$mdir/keep" "$mdir/kernel"
		else
			rm -rf "$mdir/kernel"
		fi
	done
}

fetch_kernel() {
	KTREE=$CACHE/$(tree_name "$KPKG" "$KVER")
	# A kernel pruned without a module that GUEST_MODULES now names is fetched again.
	if [ -e "$KTREE/.done" ]; then
		for m in $GUEST_MODULES; do
			set -- "$KTREE"/lib/modules/*/kernel/"$m"
			[ -f "$1" ] || { rm -f "$KTREE/.done"; break; }
		done
	fi
	[ -e "$KTREE/.done" ] && return 0
	fetch "$KPKG" "$KVER"
	prune_modules
	: >"$KTREE/.done"
}

fetch_busybox() {
	BTREE=$CACHE/$(tree_name "$BPKG" "$BVER")
	[ -e "$BTREE/.done" ] && return 0
	fetch "$BPKG" "$BVER"
	[ -x "$BTREE/bin/busybox" ] || die "$BPKG has no bin/busybox"
	: >"$BTREE/.done"
}

# make_cpio DIR OUT: DIR as a gzipped newc archive, every file owned by root,
# in a stable order with stable inode numbers and times.
make_cpio() {
	find "$1" -exec touch -h -d @0 {} + || die "cannot set the times in $1"
	(cd "$1" && find . -mindepth 1 | LC_ALL=C sort |
		cpio -o -H newc -R 0:0 --reproducible --quiet) | gzip -9n >"$2.new.$$" ||
		die "cannot write $2"
	mv "$2.new.$$" "$2" || die "cannot write $2"
}

# The base initramfs: busybox and its applet links, the directories the
# init mounts on, /etc, /init, and GUEST_MODULES. /dev stays empty: the
# kernel's own built-in archive (CONFIG_INITRAMFS_SOURCE="") already made
# /dev/console, which it opens before running /init, and /init mounts
# devtmpfs over /dev.
build_initramfs() {
	stage=$WORK/root
	mkdir -p "$stage" || die "cannot make $stage"
	(cd "$stage" && stage_tree) || exit 1
	make_cpio "$stage" "$INITRAMFS"
}

# Fill the current directory with the base image's files.
stage_tree() {
	mkdir -p bin sbin usr/bin usr/sbin usr/local/bin dev proc sys tmp root etc run \
		lib/modules || die "cannot make the directory tree"
	chmod 1777 tmp
	chmod 700 root
	cp "$BTREE/bin/busybox" bin/busybox || die "cannot copy busybox"
	# The applet list comes from the binary itself (a static i386 program,
	# which an x86-64 host runs as it runs every 32-bit program).
	applets=$(bin/busybox --list-full) || die "cannot run the i386 busybox to list its applets"
	[ -n "$applets" ] || die "busybox lists no applets"
	for a in $applets; do
		case $a in
		bin/busybox | linuxrc) continue ;;
		esac
		mkdir -p "$(dirname "$a")" && ln -s /bin/busybox "$a" || die "cannot link $a"
	done
	for mdir in "$KTREE"/lib/modules/*/; do
		[ -d "$mdir/kernel" ] || continue
		mkdir -p "lib/modules/$(basename "$mdir")" &&
			cp -R "$mdir/kernel" "$mdir"/modules.* "lib/modules/$(basename "$mdir")/" ||
			die "cannot copy the modules"
	done
	printf 'root:x:0:0:root:/root:/bin/sh\n' >etc/passwd
	printf 'root:x:0:\n' >etc/group
	printf '%s\n' "$HOSTNAME" >etc/hostname
	# busybox init (PID 1 once /init has set up) runs only "/init console".
	printf '::once:/init console\n' >etc/inittab
	# The NIC's modules in load order, for /init.
	printf '%s\n' $GUEST_MODULES >etc/modules-nic
	cp "$INIT" init && chmod 755 init || die "cannot copy $INIT"
	# Where Debian's busybox udhcpc looks for its script (upstream's
	# /usr/share/udhcpc/ is patched to /etc/udhcpc/).
	mkdir -p etc/udhcpc && cp "$UDHCPC_SCRIPT" etc/udhcpc/default.script &&
		chmod 755 etc/udhcpc/default.script || die "cannot copy $UDHCPC_SCRIPT"
}

# overlay OUT FILE...: OUT = the base initramfs, then an archive of the FILEs.
overlay() {
	out=$1
	shift
	mkdir -p "$WORK/extra/usr/local/bin" || die "cannot make $WORK/extra"
	for f in "$@"; do
		[ -f "$f" ] || die "no file $f"
		cp "$f" "$WORK/extra/usr/local/bin/" || die "cannot copy $f"
	done
	make_cpio "$WORK/extra" "$WORK/extra.cpio.gz"
	cat "$INITRAMFS" "$WORK/extra.cpio.gz" >"$out.new.$$" && mv "$out.new.$$" "$out" ||
		die "cannot write $out"
}

extra_out=
if [ "${1:-}" = -o ]; then
	[ $# -ge 3 ] || die "usage: mkguest.sh [-o INITRD FILE...]"
	extra_out=$2
	shift 2
elif [ $# -gt 0 ]; then
	die "usage: mkguest.sh [-o INITRD FILE...]"
fi
for tool in apt-get apt-cache dpkg-deb cpio gzip sha256sum; do
	command -v "$tool" >/dev/null || die "no $tool: install the Debian package that has it"
done
[ -f "$INIT" ] || die "no $INIT"
[ -f "$UDHCPC_SCRIPT" ] || die "no $UDHCPC_SCRIPT"
mkdir -p "$CACHE" || die "cannot create $CACHE"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mkguest.XXXXXX") || die "cannot make a work directory"
trap 'rm -rf "$WORK"' EXIT
trap 'exit 1' HUP INT TERM

choose_packages
fetch_kernel
fetch_busybox
BZIMAGE=
for f in "$KTREE"/boot/vmlinuz-*-686; do
	[ -f "$f" ] && [ -z "$BZIMAGE" ] || die "$KPKG has no single boot/vmlinuz-*-686"
	BZIMAGE=$f
done
# The image's name: the kernel release, and a hash of everything it is made of.
key=$( (echo "$KPKG $KVER $BPKG $BVER $GUEST_MODULES $HOSTNAME"; cat "$INIT" "$UDHCPC_SCRIPT" "$SELF") |
	sha256sum | cut -c1-12)
INITRAMFS=$CACHE/initramfs-$(basename "$BZIMAGE" | sed 's/^vmlinuz-//')-$key.cpio.gz
if [ ! -s "$INITRAMFS" ]; then
	note "building $(basename "$INITRAMFS")"
	build_initramfs
	# Images of an older init, script or package are of no more use.
	for f in "$CACHE"/initramfs-*.cpio.gz; do
		[ "$f" = "$INITRAMFS" ] || rm -f "$f"
	done
fi
printf "KPKG='%s'\nKVER='%s'\nBPKG='%s'\nBVER='%s'\n" "$KPKG" "$KVER" "$BPKG" "$BVER" >"$CACHE/current.new.$$" &&
	mv "$CACHE/current.new.$$" "$CACHE/current"
if [ -n "$extra_out" ]; then
	overlay "$extra_out" "$@"
	INITRAMFS=$extra_out
fi
printf 'bzimage %s\ninitramfs %s\n' "$BZIMAGE" "$INITRAMFS"

#!/bin/sh
# rewrite-vmlinux.sh - time lilyvm-rewrite on a large real kernel: the vmlinux
# of Debian's newest i386 linux-image-6.1.0-N-686 package, the bundled
# guest's kernel (ports/linux/mkguest.sh fetches it).
#
# usage: rewrite-vmlinux.sh
# environment:
#   LILYVM_REWRITE    the lilyvm-rewrite to time (default: from PATH)
#   LILYVM_UNBZIMAGE  the lilyvm-unbzimage that unpacks the bzImage (default: from PATH)
#   LILYVM_BENCH_CACHE where the package's vmlinux is kept between runs
#                     (default: ${XDG_CACHE_HOME:-~/.cache}/lilyvm/bench)
#   LILYVM_BENCH_REFRESH=1  take the kernel again even if one is cached
#   LILYVM_MKGUEST    ports/linux/mkguest.sh, which fetches Debian's package
#   RUNS              timed runs, default 3
#
# Prints a table; exits 0 if the target (the whole image rewritten in under
# 1 s, --verify passing) was met, 1 if not, 2 if the bench could not run.
set -u

REWRITE=${LILYVM_REWRITE:-lilyvm-rewrite}
UNBZIMAGE=${LILYVM_UNBZIMAGE:-lilyvm-unbzimage}
CACHE=${LILYVM_BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lilyvm/bench}
RUNS=${RUNS:-3}
TARGET_SECONDS=1
# The bundled guest's maker fetches and caches Debian's kernel package.
MKGUEST=${LILYVM_MKGUEST:-$(dirname "$0")/../ports/linux/mkguest.sh}

die() {
	echo "rewrite-vmlinux: $*" >&2
	exit 2
}

# The bzImage ports/linux/mkguest.sh fetched (the bundled guest's kernel),
# and its vmlinux unpacked into the cache.
fetch_vmlinux() {
	bz=$(sh "$MKGUEST" | sed -n 's/^bzimage //p')
	[ -f "$bz" ] || die "$MKGUEST gave no bzImage"
	mkdir -p "$CACHE" || die "cannot create $CACHE"
	cp "$bz" "$CACHE/vmlinuz" || die "cannot copy the bzImage to $CACHE"
	"$UNBZIMAGE" "$CACHE/vmlinuz" -o "$CACHE/vmlinux" || exit 2
	# The package tree is named PACKAGE_VERSION (mkguest.sh).
	basename "$(dirname "$(dirname "$bz")")" | sed 's/_/:i386 /; s/%3a/:/' >"$CACHE/package"
}

# json_number FILE KEY: a top-level number of the one-line JSON report.
json_number() {
	sed -n "s/.*\"$2\":\([-0-9.eE+]*\).*/\1/p" "$1"
}

json_string() {
	sed -n "s/.*\"$2\":\"\([^\"]*\)\".*/\1/p" "$1"
}

# The classes object as "count name" lines, non-zero ones, most frequent first.
json_classes() {
	sed -n 's/.*"classes":{\([^}]*\)}.*/\1/p' "$1" | tr ',' '\n' |
		sed -n 's/^"\([^"]*\)":\([0-9]*\)$/\2 \1/p' | awk '$1 > 0' | sort -k1,1nr -k2
}

median() {
	sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

now() {
	date +%s.%N
}

# Time RUNS rewrites pinned to CPU 0; run I leaves run-I.json and run-I.rc.
timed_runs() {
	i=1
	while [ "$i" -le "$RUNS" ]; do
		t0=$(now)
		taskset -c 0 "$REWRITE" "$CACHE/vmlinux" -o "$WORK/vmlinux.rw" --json --verify \
			>"$WORK/run-$i.json" 2>"$WORK/run-$i.err"
		echo $? >"$WORK/run-$i.rc"
		echo "$t0 $(now)" | awk '{ printf "%.6f\n", $2 - $1 }' >"$WORK/run-$i.wall"
		[ -s "$WORK/run-$i.json" ] || { cat "$WORK/run-$i.err" >&2; die "run $i gave no report"; }
		i=$((i + 1))
	done
}

# The rewrite seconds each run reported, in run order.
run_seconds() {
	i=1
	while [ "$i" -le "$RUNS" ]; do
		json_number "$WORK/run-$i.json" seconds
		i=$((i + 1))
	done
}

print_table() {
	secs=$(run_seconds | median)
	walls=$(cat "$WORK"/run-*.wall | median)
	all=$(run_seconds | tr '\n' ' ' | sed 's/ $//')
	last=$WORK/run-$RUNS.json
	image=$(json_number "$last" image_bytes)
	code=$(json_number "$last" code_bytes)
	verify=$(json_string "$last" verify)
	failures=$(cat "$WORK"/run-*.rc | grep -vcx 0)

	printf '%-22s %s\n' package "$(cat "$CACHE/package")"
	printf '%-22s %s\n' kernel "$("$UNBZIMAGE" "$CACHE/vmlinuz" --header |
		sed -n 's/^kernel_version *//p')"
	printf '%-22s %s bytes (%s MiB)\n' "image size" "$image" \
		"$(awk -v b="$image" 'BEGIN { printf "%.1f", b / 1048576 }')"
	printf '%-22s %s bytes (%s MiB)\n' "code size" "$code" \
		"$(awk -v b="$code" 'BEGIN { printf "%.1f", b / 1048576 }')"
	printf '%-22s %s\n' instructions "$(json_number "$last" instructions)"
	printf '%-22s %s s (runs: %s)\n' "median seconds" "$secs" "$all"
	printf '%-22s %s s (with reload and --verify)\n' "median wall seconds" "$walls"
	printf '%-22s %s (image), %s (code)\n' "MB/s" \
		"$(awk -v b="$image" -v s="$secs" 'BEGIN { printf "%.1f", b / s / 1e6 }')" \
		"$(awk -v b="$code" -v s="$secs" 'BEGIN { printf "%.1f", b / s / 1e6 }')"
	printf '%-22s %s\n' sites "$(json_number "$last" sites)"
	json_classes "$last" | while read -r n name; do printf '  %-20s %s\n' "$name" "$n"; done
	printf '%-22s %s\n' "unclassified bytes" "$(json_number "$last" unclassified_bytes)"
	printf '%-22s %s (%s of %s runs exited non-zero)\n' verify "$verify" "$failures" "$RUNS"
	if awk -v s="$secs" -v t="$TARGET_SECONDS" 'BEGIN { exit !(s < t) }' &&
		[ "$verify" = passed ] && [ "$failures" -eq 0 ]; then
		printf '%-22s %s\n' target "MET (< $TARGET_SECONDS s, --verify passed)"
		return 0
	fi
	printf '%-22s %s\n' target "NOT MET (< $TARGET_SECONDS s and --verify passing wanted)"
	return 1
}

case $RUNS in '' | *[!0-9]* | 0) die "RUNS must be a positive number" ;; esac
command -v "$REWRITE" >/dev/null || die "no $REWRITE (set LILYVM_REWRITE)"
command -v "$UNBZIMAGE" >/dev/null || die "no $UNBZIMAGE (set LILYVM_UNBZIMAGE)"
command -v taskset >/dev/null || die "no taskset: install the Debian package util-linux"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/rewrite-vmlinux.XXXXXX") || die "cannot make a work directory"
trap 'rm -rf "$WORK"' EXIT
if [ ! -s "$CACHE/vmlinux" ] || [ "${LILYVM_BENCH_REFRESH:-0}" = 1 ]; then
	fetch_vmlinux
fi
timed_runs
print_table

#!/bin/sh
# check-sites.sh - check lilyvm-rewrite on the hand-written images of this
# directory against the assembler's record of them and against objdump.
#
# Each image carries, in non-allocated sections written by marks.inc, the
# address of every instruction that must become a site (.expect) and the
# ranges that look like sites but are not (.lookalike). For each image:
#   - .expect and .lookalike are there and neither loaded nor code;
#   - the stripped variants have no symbols, the others have, and the
#     rewriter reports the matching discovery mode;
#   - lilyvm-rewrite IN -o OUT --verify --sites --traps-only succeeds;
#   - the site addresses are exactly the .expect addresses;
#   - objdump -d of IN has an instruction at each site with the same bytes
#     and a mnemonic that belongs to the site's class (a run site holds the
#     bytes of the instructions objdump decodes from there, to its end);
#   - OUT differs from IN only at sites, each f4 then cc fill, and where the
#     section header table moves;
#   - look-alike bytes are unchanged and hold no site;
#   - rewriting OUT gives OUT again, and rewriting IN again gives OUT again.
# The sites images must also hold every class of rewriter/sites.h.

set -u
: "${top_builddir:?}" "${top_srcdir:?}"
# sort and comm must agree on the order of decimal addresses.
LC_ALL=C
export LC_ALL
OBJDUMP=${OBJDUMP:-objdump}
READELF=${READELF:-readelf}
REWRITE=$top_builddir/rewriter/lilyvm-rewrite
IMAGES="sites.elf sites-stripped.elf lookalike.elf lookalike-stripped.elf"

work=$(mktemp -d "${TMPDIR:-/tmp}/check-sites.XXXXXX") || exit 99
trap 'rm -rf "$work"' EXIT
failures=0

# awk has no hex input: hex("0x1f") and hex("1f") are 31.
AWK_HEX='function hex(s,   i, v) {
	s = tolower(s); sub(/^0x/, "", s)
	for (i = 1; i <= length(s); i++) v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
	return v + 0
}'

fail() {
	echo "FAIL: $img: $*"
	failures=$((failures + 1))
}

# Print each line of stdin (at most 10) as a detail of the last failure.
details() {
	sed -e 's/^/    /' -e '10q'
}

# The objdump text each class may decode as: one extended regular expression
# per class, matched against the whole instruction after prefixes like "ds"
# or "rep". <TOKEN> lines define pieces used by the lines after them.
class_table() {
	cat <<'EOF'
<R16>	%(ax|cx|dx|bx|sp|bp|si|di)
<R32>	%e(ax|cx|dx|bx|sp|bp|si|di)
<R>	(<R16>|<R32>)
<SEG>	%[cdefgs]s
<IMM>	\$0x[0-9a-f]+
<M>	(<SEG>:)?(-?0x[0-9a-f]+|(-?0x[0-9a-f]+)?\((%[a-z]+)?(,%[a-z]+(,[1248])?)?\))
cli	cli
sti	sti
hlt	hlt
pushf	pushfw?
popf	popfw?
in	in (<IMM>|\(%dx\)),%(al|ax|eax)
out	out %(al|ax|eax),(<IMM>|\(%dx\))
ins	ins[bwl] \(%dx\),%es:\(%e?di\)
outs	outs[bwl] <SEG>:\(%e?si\),\(%dx\)
lgdt	lgdt[wl] <M>
lidt	lidt[wl] <M>
lldt	lldt (<R16>|<M>)
ltr	ltr (<R16>|<M>)
sgdt	sgdt[wl] <M>
sidt	sidt[wl] <M>
sldt	sldt (<R>|<M>)
str	str (<R>|<M>)
smsw	smsw (<R>|<M>)
lmsw	lmsw (<R16>|<M>)
mov-to-cr	mov <R32>,%cr[0234]
mov-from-cr	mov %cr[0234],<R32>
mov-to-dr	mov <R32>,%db[0-7]
mov-from-dr	mov %db[0-7],<R32>
clts	clts
invd	invd
wbinvd	wb(no)?invd
invlpg	invlpg <M>
rdmsr	rdmsr
wrmsr	wrmsr
rdpmc	rdpmc
rdtscp	rdtscp
cpuid	cpuid
iret	iretw?
int	int <IMM>
into	into
mov-to-seg	mov (<R>|<M>),<SEG>
mov-from-seg	mov <SEG>,(<R>|<M>)
push-seg	pushw? <SEG>
pop-seg	popw? %(es|ss|ds|fs|gs)
load-far-ptr	l[defgs]s <M>,<R>
far-jmp	ljmpw? (<IMM>,<IMM>|\*<M>)
far-call	lcallw? (<IMM>,<IMM>|\*<M>)
far-ret	lretw?( <IMM>)?
lar	lar (<R>|<M>),<R>
lsl	lsl (<R>|<M>),<R>
verr	verr (<R16>|<M>)
verw	verw (<R16>|<M>)
arpl	arpl <R16>,(<R16>|<M>)
sysenter	sysenter
sysexit	sysexit
syscall	syscall
sysret	sysret
monitor	monitor %e?ax,%ecx,%edx
mwait	mwait %eax,%ecx
xgetbv	xgetbv
xsetbv	xsetbv
EOF
}

# Sections of $1 as "name<TAB>type<TAB>addr<TAB>offset<TAB>size<TAB>flags".
sections() {
	"$READELF" -SW "$1" | sed -n 's/^ *\[ *[1-9][0-9]*\] //p' | awk "$AWK_HEX"'
		{ printf "%s\t%s\t%d\t%d\t%d\t%s\n", $1, $2, hex($3), hex($4), hex($5), NF == 10 ? $7 : "" }'
}

# The little-endian 32-bit words of section $2 of image $1 (whose table is
# $d/sections), in decimal.
section_words() {
	set -- "$1" $(awk -F'\t' -v n="$2" '$1 == n { print $4, $5 }' "$d/sections")
	[ $# -eq 3 ] || return 0
	od -An -v -tu1 -j "$2" -N "$3" "$1" | awk '
		{ for (i = 1; i <= NF; i++) { b[k % 4] = $i; if (k++ % 4 == 3) print b[0] + 256 * (b[1] + 256 * (b[2] + 256 * b[3])) } }'
}

# The bytes of file $1, one two-digit hex byte per line.
hex_bytes() {
	od -An -v -tx1 "$1" | tr -s ' ' '\n' | sed '/^$/d'
}

# Awk function off(a): the file offset of address a in the allocated
# sections read from the sections file given first, or -1.
AWK_OFF='FILENAME == ARGV[1] {
	if ($6 ~ /A/ && $2 != "NOBITS") { ns++; saddr[ns] = $3; soff[ns] = $4; ssize[ns] = $5 }
	next
}
function off(a,   i) {
	for (i = 1; i <= ns; i++)
		if (a >= saddr[i] && a < saddr[i] + ssize[i]) return soff[i] + a - saddr[i]
	return -1
}'

# The marks of marks.inc: present, neither loaded nor scanned, each site once.
check_marks() {
	for s in .expect .lookalike; do
		flags=$(awk -F'\t' -v s="$s" '$1 == s { print "flags:" $6 }' "$d/sections")
		case $flags in
		"") fail "no $s section: marks.inc records nothing" ;;
		*A* | *X*) fail "$s is allocated or executable: it would be loaded or scanned" ;;
		esac
	done
	[ -s "$d/expect" ] || fail "no expected sites in .expect"
	uniq -d "$d/expect" | awk '{ printf "0x%08x\n", $1 }' > "$d/dups"
	if [ -s "$d/dups" ]; then
		fail "addresses listed twice in .expect"
		details < "$d/dups"
	fi
}

# Stripped images must have lost their symbols (and kept the marks, checked
# above); the rewriter must tell the two apart the same way.
check_symbols() {
	case $img in
	*-stripped.elf) want_symtab=no want_discovery=linear ;;
	*) want_symtab=yes want_discovery=recursive ;;
	esac
	have_symtab=$(awk -F'\t' '$2 == "SYMTAB" { y = 1 } END { print y ? "yes" : "no" }' "$d/sections")
	[ "$have_symtab" = "$want_symtab" ] || fail "symbol table present: $have_symtab, expected $want_symtab"
	"$REWRITE" "$in" --json > "$d/report.json" ||
		fail "lilyvm-rewrite --json failed"
	have_discovery=$(sed -n 's/.*"discovery":"\([a-z]*\)".*/\1/p' "$d/report.json")
	[ "$have_discovery" = "$want_discovery" ] ||
		fail "rewriter discovery is \"$have_discovery\", expected $want_discovery"
}

# Rewrite IN into OUT and list the sites as "addr<TAB>len<TAB>class<TAB>offset<TAB>bytes".
rewrite() {
	if ! "$REWRITE" "$in" -o "$d/out" --verify --sites --traps-only > "$d/sites.txt" \
		2> "$d/rewrite.err"; then
		fail "lilyvm-rewrite -o OUT --verify --sites --traps-only failed"
		details < "$d/rewrite.err"
		return 1
	fi
	awk "$AWK_HEX$AWK_OFF"'
		{
			a = hex($1); b = $5
			for (i = 6; i <= NF; i++) b = b " " $i
			printf "%d\t%d\t%s\t%d\t%s\n", a, $2, $3, off(a), b
		}' "$d/sections" "$d/sites.txt" > "$d/sites"
	cut -f1 "$d/sites" | sort > "$d/found"
}

# objdump -d of IN, one instruction a line: "addr<TAB>bytes<TAB>text", addr in decimal.
disassemble() {
	"$OBJDUMP" -d -w --insn-width=15 "$in" > "$d/objdump.txt" || {
		fail "objdump -d failed"
		return 1
	}
	awk -F'\t' "$AWK_HEX"'
		NF >= 3 && $1 ~ /^ *[0-9a-f]+:$/ {
			a = $1
			gsub(/[ :]/, "", a)
			sub(/ +$/, "", $2)
			printf "%d\t%s\t%s\n", hex(a), $2, $3
		}' "$d/objdump.txt" > "$d/objdump"
}

check_site_set() {
	comm -23 "$d/expect" "$d/found" > "$d/missed"
	comm -13 "$d/expect" "$d/found" | awk '{ printf "0x%08x\n", $1 }' > "$d/extra"
	if [ -s "$d/missed" ]; then
		fail "$(wc -l < "$d/missed") expected sites not found"
		awk -F'\t' 'FILENAME == ARGV[1] { text[$1] = $2 "  " $3; next }
			{ printf "0x%08x: %s\n", $1, $1 in text ? text[$1] : "objdump has no instruction here" }' \
			"$d/objdump" "$d/missed" | details
	fi
	if [ -s "$d/extra" ]; then
		fail "$(wc -l < "$d/extra") sites not expected"
		grep -F -f "$d/extra" "$d/sites.txt" | details
	fi
}

# Every site must be an instruction of objdump's own decoding of IN, with
# the same bytes and a mnemonic of the site's class.
check_objdump() {
	class_table > "$d/classes"
	awk -F'\t' '
		function expand(re,   t, i) {
			for (t = 1; t <= ntok; t++)
				while ((i = index(re, tok[t])))
					re = substr(re, 1, i - 1) def[tok[t]] substr(re, i + length(tok[t]))
			return re
		}
		function plain(text) {
			sub(/ *(#|<).*$/, "", text)
			gsub(/[ \t]+/, " ", text)
			sub(/ $/, "", text)
			while (match(text, /^(cs|ds|es|fs|gs|ss|data16|addr16|rep|repz|repnz|repne) /))
				text = substr(text, RLENGTH + 1)
			return text
		}
		# A run site: the bytes of the instructions objdump decodes from a
		# on, ending exactly len bytes on.
		function run_site(a, len, cls, b,   at, acc) {
			for (at = a; at < a + len && (at in bytes); at += split(bytes[at], tmp, " "))
				acc = acc (acc == "" ? "" : " ") bytes[at]
			return at == a + len && acc == b
		}
		FILENAME == ARGV[1] && /^</ { tok[++ntok] = $1; def[$1] = expand($2); next }
		FILENAME == ARGV[1] { re[$1] = "^(" expand($2) ")$"; next }
		FILENAME == ARGV[2] { bytes[$1] = $2; text[$1] = plain($3); next }
		{
			where = sprintf("0x%08x %s", $1, $3)
			if (!($1 in bytes))
				print where ": objdump has no instruction there"
			else if (bytes[$1] != $5 && !run_site($1, $2, $3, $5))
				print where ": objdump decodes " bytes[$1] ", the rewriter " $5
			else if (!($3 in re))
				print where ": class has no entry in the objdump table"
			else if (text[$1] !~ re[$3])
				print where ": objdump shows \"" text[$1] "\""
		}' "$d/classes" "$d/objdump" "$d/sites" > "$d/disagree"
	if [ -s "$d/disagree" ]; then
		fail "$(wc -l < "$d/disagree") sites disagree with objdump"
		details < "$d/disagree"
	fi
}

# OUT may differ from IN only at sites and where the section header table
# moves: e_shoff, e_shnum, e_shstrndx and the old table itself.
check_bytes() {
	"$READELF" -hW "$in" | awk -F: '
		/Start of section headers/ { o = $2 + 0 }
		/Size of section headers/ { s = $2 + 0 }
		/Number of section headers/ { n = $2 + 0 }
		END { print 32 "\t" 4; print 48 "\t" 4; print o "\t" s * n }' > "$d/moved"
	hex_bytes "$in" > "$d/in.hex"
	hex_bytes "$d/out" > "$d/out.hex"
	awk -F'\t' '
		FILENAME == ARGV[1] { for (o = $1; o < $1 + $2; o++) moved[o] = 1; next }
		FILENAME == ARGV[2] {
			if ($4 < 0) { printf "0x%08x: site outside the allocated sections\n", $1; next }
			split($5, b, " ")
			for (k = 0; k < $2; k++) {
				site[$4 + k] = sprintf("0x%08x", $1)
				trap[$4 + k] = k ? "cc" : "f4"
				orig[$4 + k] = b[k + 1]
			}
			next
		}
		FILENAME == ARGV[3] { inb[FNR - 1] = $1; inlen = FNR; next }
		FNR <= inlen {
			o = FNR - 1
			if (o in site) {
				if ($1 != trap[o]) print site[o] ": byte " o " is " $1 " in OUT, not " trap[o]
				if (inb[o] != orig[o]) print site[o] ": byte " o " is " inb[o] " in IN, the site table says " orig[o]
			} else if (!(o in moved) && $1 != inb[o]) {
				print "file offset " o ": " inb[o] " changed to " $1 " outside any site"
			}
			outlen = FNR
		}
		END { if (outlen < inlen) print "OUT is shorter than IN" }
	' "$d/moved" "$d/sites" "$d/in.hex" "$d/out.hex" > "$d/changed"
	if [ -s "$d/changed" ]; then
		fail "OUT changes bytes it should not"
		details < "$d/changed"
	fi
}

# Look-alike ranges: inside one allocated section, unchanged, and no site in them.
check_lookalikes() {
	section_words "$in" .lookalike | paste - - > "$d/ranges"
	awk -F'\t' "$AWK_OFF"'
		FILENAME == ARGV[2] { lo[FNR] = $1; hi[FNR] = $2; nr = FNR; next }
		FILENAME == ARGV[3] { site[FNR] = $1; slen[FNR] = $2; nsite = FNR; next }
		FILENAME == ARGV[4] { inb[FNR - 1] = $1; next }
		{ outb[FNR - 1] = $1 }
		END {
			for (r = 1; r <= nr; r++) {
				where = sprintf("look-alike 0x%08x-0x%08x", lo[r], hi[r])
				o = off(lo[r])
				if (hi[r] <= lo[r] || o < 0 || off(hi[r] - 1) != o + hi[r] - 1 - lo[r]) {
					print where ": not a range inside one section"
					continue
				}
				for (k = 0; k < hi[r] - lo[r]; k++)
					if (inb[o + k] != outb[o + k]) {
						printf "%s: byte at 0x%08x changed\n", where, lo[r] + k
						break
					}
				for (s = 1; s <= nsite; s++)
					if (site[s] < hi[r] && site[s] + slen[s] > lo[r])
						printf "%s: holds the site at 0x%08x\n", where, site[s]
			}
		}' "$d/sections" "$d/ranges" "$d/sites" "$d/in.hex" "$d/out.hex" > "$d/touched"
	if [ -s "$d/touched" ]; then
		fail "look-alikes touched"
		details < "$d/touched"
	fi
	echo "$img: $(wc -l < "$d/ranges") look-alike ranges"
}

# Rewriting is a fixed point and depends on nothing but the input.
check_stable() {
	if ! "$REWRITE" "$d/out" -o "$d/out2" --verify > "$d/again.err" 2>&1; then
		fail "rewriting OUT failed"
		details < "$d/again.err"
	elif ! cmp -s "$d/out" "$d/out2"; then
		fail "rewriting OUT changed it"
	fi
	if ! "$REWRITE" "$in" -o "$d/out3" --traps-only > "$d/again.err" 2>&1; then
		fail "second rewrite of IN failed"
		details < "$d/again.err"
	elif ! cmp -s "$d/out" "$d/out3"; then
		fail "two rewrites of IN differ"
	fi
	# With trampolines: verified, and again the same bytes twice.
	if ! "$REWRITE" "$in" -o "$d/pv1" --verify > "$d/again.err" 2>&1 ||
		! "$REWRITE" "$in" -o "$d/pv2" > "$d/again.err" 2>&1; then
		fail "rewriting IN with trampolines failed"
		details < "$d/again.err"
	elif ! cmp -s "$d/pv1" "$d/pv2"; then
		fail "two rewrites of IN with trampolines differ"
	fi
}

# Every class of the catalogue must have a site in the sites images.
check_coverage() {
	sed -n 's/^[[:space:]]*\[LILYVM_CLS_[A-Z0-9_]*\] = "\([a-z0-9-]*\)",$/\1/p' \
		"$top_srcdir/rewriter/sites.h" | grep -vx none | sort > "$d/catalogue"
	[ -s "$d/catalogue" ] || fail "no class names read from rewriter/sites.h"
	cut -f3 "$d/sites" | sort -u | comm -23 "$d/catalogue" - > "$d/uncovered"
	if [ -s "$d/uncovered" ]; then
		fail "catalogue classes without a site"
		details < "$d/uncovered"
	fi
}

check_image() {
	in=$top_builddir/tests/rewriter/$img
	d=$work/$img
	mkdir -p "$d"
	if [ ! -f "$in" ]; then
		fail "image missing: run make check"
		return
	fi
	sections "$in" > "$d/sections"
	section_words "$in" .expect | sort > "$d/expect"
	check_marks
	check_symbols
	disassemble || return
	rewrite || return
	check_site_set
	check_objdump
	check_bytes
	check_lookalikes
	check_stable
	case $img in sites*) check_coverage ;; esac
	echo "$img: $(wc -l < "$d/sites") sites, per class:"
	cut -f3 "$d/sites" | sort | uniq -c | awk '{ printf "  %s %d", $2, $1 } END { print "" }'
}

for img in $IMAGES; do
	check_image
done
[ "$failures" -eq 0 ] || { echo "$failures failures"; exit 1; }
echo "all checks passed"

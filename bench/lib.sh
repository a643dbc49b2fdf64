# lib.sh - what the benchmark scripts share (sourced by traps.sh and mmu.sh):
# timing a command, medians, and the per-operation cost of timed rounds.

# Run a command; its wall time in ns goes to $elapsed, its status to $run_status.
timed() {
	t_start=$(date +%s%N)
	"$@"
	run_status=$?
	t_end=$(date +%s%N)
	elapsed=$((t_end - t_start))
}

# The median of the numbers on stdin.
median() {
	sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'
}

# per_op N: from "T0 TN" lines (one per round), print the median of
# (TN - T0) / N and a flag: "~" when the rounds disagree by more than 25%
# of it or it is not positive (another process had the CPU), else "".
per_op() {
	awk -v n="$1" '{ print ($2 - $1) / n }' | sort -n |
		awk '{ v[NR] = $1 } END {
			if (!NR) exit
			m = v[int((NR + 1) / 2)]
			flag = (m <= 0 || v[NR] - v[1] > 0.25 * m) ? "~" : ""
			printf "%.1f %s\n", m, flag
		}'
}

# stops FILE: the guest's ptrace stops in lilyvm's --stats table in FILE.
ptrace_stops() {
	awk '/ptrace stops of the guest:/ { c = $6 } END { printf "%d\n", c }' "$1"
}

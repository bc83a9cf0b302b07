#!/bin/bash
# bench/run.sh
#	Run the benchmarks (`make bench`): all of them, or those named.
#
# Usage: bench/run.sh [NAME...]   NAME: lifecycle claim status http batch
#                                       memory
# Each writes bench/results/NAME.txt (its tables, settings and every
# command it ran) and its raw pgbench/wrk output beside it; the plot
# bench/results/claim-rate.png is drawn from the claim benchmark's output.
# See bench/lib.sh for the variables (BENCH_DURATION, BENCH_LONG, ...).
#
# The benchmarks measure the extension installed in pg_config's
# directories; it is built and installed from this tree first when it is
# not installed yet, or always with BENCH_INSTALL=1.

set -euo pipefail

cd "$(dirname "$0")/.."
ALL=(lifecycle claim status http batch memory)
names=("$@")
[ ${#names[@]} -eq 0 ] && names=("${ALL[@]}")
for n in "${names[@]}"; do
	if [ ! -x "bench/$n.sh" ]; then
		echo "bench: unknown benchmark \"$n\"; known: ${ALL[*]}" >&2
		exit 2
	fi
done

bench/deps.sh
if [ "${BENCH_INSTALL:-}" = 1 ] ||
	[ ! -f "$(pg_config --sharedir)/extension/bluebricks_task.control" ]; then
	make -s with_llvm=no >/dev/null
	make -s with_llvm=no install >/dev/null
fi

mkdir -p bench/results
start=$(date +%s)
echo "bench: $(date -u +%Y-%m-%dT%H:%M:%SZ), load $(cut -d' ' -f1-3 \
	/proc/loadavg), durations ${BENCH_DURATION:-5}s x ${BENCH_RUNS:-3}" \
	"runs${BENCH_LONG:+, long claim run}"
for n in "${names[@]}"; do
	t0=$(date +%s)
	"bench/$n.sh"
	echo "bench: $n took $(($(date +%s) - t0)) s"
	echo
done
if [ -s bench/results/claim-rate.dat ] && command -v gnuplot >/dev/null; then
	gnuplot -e "datafile='bench/results/claim-rate.dat'" \
		-e "outfile='bench/results/claim-rate.png'" bench/plot.gp &&
		echo "bench: plot bench/results/claim-rate.png"
fi
echo "bench: all done in $(($(date +%s) - start)) s;" \
	"load $(cut -d' ' -f1-3 /proc/loadavg)"

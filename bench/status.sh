#!/bin/bash
# bench/status.sh
#	Benchmark 3: bluebricks.task_status() (summary form) on tasks of 10,
#	1,000 and 10,000 deployments.
#
# Each task is in planning with all its deployments posted and moved to
# planning (so its history holds two rows per deployment plus its own).
# One pgbench transaction is one SELECT bluebricks.task_status(:tid), run
# as a runner (role bench_runner, the runner's claims set).  Runs of the
# three sizes alternate; the ratio 10,000/10 of the latency is per pair.

set -euo pipefail
. "$(dirname "$0")/lib.sh"

PORT=${BENCH_PORT:-25442}
CLIENTS=${BENCH_CLIENTS:-1 8 32}
SIZES="10 1000 10000"
SCRIPTS=$BENCH_RESULTS/scripts
mkdir -p "$SCRIPTS"

bench_cluster status "$PORT"
bench_psql -f "$BENCH_DIR/sql/floor.sql" >/dev/null
bench_make_runner
declare -A TID LAT TPS
for n in $SIZES; do
	TID[$n]=$(bench_make_task "$n")
done
bench_psql -c 'VACUUM ANALYZE' >/dev/null
echo "SELECT bluebricks.task_status(:tid);" >"$SCRIPTS/status.sql"

say "tasks: $(for n in $SIZES; do printf '%s deployments %s; ' "$n" \
	"${TID[$n]}"; done)"
say "history rows: $(bench_psql -tAc "SELECT string_agg(c::text, ', '
	ORDER BY c) FROM (SELECT count(*) c FROM bluebricks.stage_history
	GROUP BY task_id) s")"
say "script: $SCRIPTS/status.sql" \
	"(pgbench -n -M prepared -j 2 -T <s> -c <clients> -U bench_runner" \
	"-D tid=<task> -f $SCRIPTS/status.sql)"
say ""

for c in $CLIENTS; do
	j=$((c < 2 ? 1 : 2))
	for n in $SIZES; do
		bench_pgbench "$BENCH_RESULTS/status.tmp" -c "$c" -j "$j" \
			-T "$BENCH_WARMUP" -U bench_runner -D tid="${TID[$n]}" \
			-f "$SCRIPTS/status.sql"
	done
	for r in $(seq "$BENCH_RUNS"); do
		for n in $SIZES; do
			o=$BENCH_RESULTS/status-n$n-c$c-r$r.out
			bench_pgbench "$o" -c "$c" -j "$j" -T "$BENCH_DURATION" \
				-U bench_runner -D tid="${TID[$n]}" -f "$SCRIPTS/status.sql"
			LAT[$n,$c,$r]=$(pgb_lat "$o")
			TPS[$n,$c,$r]=$(pgb_tps "$o")
		done
	done
done
rm -f "$BENCH_RESULTS/status.tmp"

say ""
say "task_status() summary: latency ms and calls/s, median [min..max] of" \
	"$BENCH_RUNS runs"
say "| clients | deployments | latency ms           | calls/s              | latency / 10-deployment case |"
say "|--------:|------------:|----------------------|----------------------|------------------------------|"
for c in $CLIENTS; do
	for n in $SIZES; do
		l=() t=() q=()
		for r in $(seq "$BENCH_RUNS"); do
			l+=("${LAT[$n,$c,$r]}")
			t+=("${TPS[$n,$c,$r]}")
			q+=("$(ratio "${LAT[$n,$c,$r]}" "${LAT[10,$c,$r]}")")
		done
		say "$(printf '| %7s | %11s | %-20s | %-20s | %-28s |' "$c" "$n" \
			"$(med_spread %.3f "${l[@]}")" "$(med_spread %.0f "${t[@]}")" \
			"$(med_spread %.2f "${q[@]}")")"
	done
done
say "target: the 10,000 case within 2x the 10 case"
say ""
say "plan of the summary's error scan on the 10,000-deployment task" \
	"(src/status.c select_task_errors):"
bench_psql -c "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF)
	SELECT to_stage::text, error, at FROM bluebricks.stage_history
	WHERE task_id = '${TID[10000]}' AND guid IS NULL AND error IS NOT NULL
	ORDER BY seq" | sed 's/^/    /' | tee -a "$BENCH_OUT"

# What-if (on unless BENCH_WHATIF=0): the same reads with a partial index
# that lets the error scan skip the history rows without an error.  This
# changes the throwaway cluster only, to test the diagnosis; it is skipped
# when the extension has a partial index on stage_history already.
has_errors_idx=$(bench_psql -tAc "SELECT count(*) FROM pg_index
	WHERE indrelid = 'bluebricks.stage_history'::regclass
	  AND indpred IS NOT NULL")
if [ "${BENCH_WHATIF:-1}" = 1 ] && [ "$has_errors_idx" = 0 ]; then
	bench_psql -c "CREATE INDEX stage_history_errors_idx
		ON bluebricks.stage_history (task_id, seq) WHERE error IS NOT NULL"
	say ""
	say "what-if: CREATE INDEX ON bluebricks.stage_history (task_id, seq)" \
		"WHERE error IS NOT NULL; 1 client"
	for n in 10 10000; do
		l=()
		for r in $(seq "$BENCH_RUNS"); do
			o=$BENCH_RESULTS/status-whatif-n$n-r$r.out
			bench_pgbench "$o" -c 1 -j 1 -T "$BENCH_DURATION" \
				-U bench_runner -D tid="${TID[$n]}" -f "$SCRIPTS/status.sql"
			l+=("$(pgb_lat "$o")")
		done
		say "  $n deployments: $(med_spread %.3f "${l[@]}") ms"
	done
fi
say "load: $(cut -d' ' -f1-3 /proc/loadavg) at end"

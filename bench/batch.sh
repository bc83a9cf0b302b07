#!/bin/bash
# bench/batch.sh
#	Benchmark 5: add_deployments of 1, 100 and 1,000 items against COPY of
#	the same rows into the bare table floor.deployment.
#
# ext    BEGIN; create_task (untimed here); add_deployments(:tid, <N items>);
#        COMMIT; as the superuser.
# copy   BEGIN; set_config('bench.tid', a fresh uuid); COPY floor.deployment
#        (ordinal, package_name, package_version, unique_id, type) FROM a
#        CSV file of the same N rows; COMMIT.  floor.deployment's task_id
#        defaults to bench.tid here, so each batch is a new task's rows.
# Rows a second = clients x N / (latency of the insert statement + latency
# of COMMIT), from pgbench -r; the ratio is per pair of runs.

set -euo pipefail
. "$(dirname "$0")/lib.sh"

PORT=25445
CLIENTS=${BENCH_CLIENTS:-1 8}
SIZES="1 100 1000"
ENV_ID=f27d96be-c486-4075-a926-0ee96775119e
SCRIPTS=$BENCH_RESULTS/scripts
mkdir -p "$SCRIPTS"

items() {
	local n=$1 i sep=
	printf '['
	for ((i = 1; i <= n; i++)); do
		printf '%s{"package": {"name": "pkg-%d", "version": "1.0.0",' \
			"$sep" "$i"
		printf ' "uniqueId": "uid-%d", "type": "blueprint"}}' "$i"
		sep=', '
	done
	printf ']'
}

bench_cluster batch "$PORT"
bench_psql -f "$BENCH_DIR/sql/floor.sql" >/dev/null
bench_psql -c "ALTER TABLE floor.deployment
	ALTER task_id SET DEFAULT current_setting('bench.tid')::uuid,
	ALTER entered SET DEFAULT ARRAY[now()]"
task="{\"command\": \"install\", \"organization\": \"acme\","
task+=" \"environment\": \"$ENV_ID\"}"
for n in $SIZES; do
	{
		echo "BEGIN;"
		echo "SELECT bluebricks.create_task('$task') AS tid \\gset"
		echo "SELECT bluebricks.add_deployments(:tid, '$(items "$n")');"
		echo "COMMIT;"
	} >"$SCRIPTS/batch_ext_$n.sql"
	csv=$BENCH_CLUSTER/rows-$n.csv
	for ((i = 1; i <= n; i++)); do
		echo "$i,pkg-$i,1.0.0,uid-$i,blueprint"
	done >"$csv"
	chmod 644 "$csv"
	{
		echo "BEGIN;"
		echo "SELECT set_config('bench.tid', gen_random_uuid()::text, true);"
		echo "COPY floor.deployment (ordinal, package_name, package_version," \
			"unique_id, type) FROM '$csv' WITH (FORMAT csv);"
		echo "COMMIT;"
	} >"$SCRIPTS/batch_copy_$n.sql"
done
say "scripts: $SCRIPTS/batch_{ext,copy}_{1,100,1000}.sql" \
	"(pgbench -n -M prepared -r -j 2 -T <s> -c <clients> -f <script>)"
say ""

declare -A ROWS LAT
for c in $CLIENTS; do
	j=$((c < 2 ? 1 : 2))
	for n in $SIZES; do
		for v in ext copy; do
			bench_pgbench "$BENCH_RESULTS/batch.tmp" -c "$c" -j "$j" \
				-T "$BENCH_WARMUP" -f "$SCRIPTS/batch_${v}_$n.sql"
		done
	done
	for r in $(seq "$BENCH_RUNS"); do
		for n in $SIZES; do
			for v in ext copy; do
				o=$BENCH_RESULTS/batch-$v-n$n-c$c-r$r.out
				bench_pgbench "$o" -c "$c" -j "$j" -r -T "$BENCH_DURATION" \
					-f "$SCRIPTS/batch_${v}_$n.sql"
				l=$(awk -v a="$(pgb_stmt_lat "$o" 3)" \
					-v b="$(pgb_stmt_lat "$o" 4)" 'BEGIN { print a + b }')
				LAT[$v,$n,$c,$r]=$l
				ROWS[$v,$n,$c,$r]=$(awk -v c="$c" -v n="$n" -v l="$l" \
					'BEGIN { printf "%.0f\n", c * n * 1000 / l }')
			done
		done
	done
done
rm -f "$BENCH_RESULTS/batch.tmp"

say ""
say "Batch insert: rows a second and ms per batch (insert + COMMIT)," \
	"median [min..max] of $BENCH_RUNS runs"
say "| clients | items | add_deployments rows/s | COPY rows/s            | add_deployments ms/batch | COPY ms/batch        | COPY/ext |"
say "|--------:|------:|------------------------|------------------------|--------------------------|----------------------|---------:|"
for c in $CLIENTS; do
	for n in $SIZES; do
		a=() b=() la=() lb=() q=()
		for r in $(seq "$BENCH_RUNS"); do
			a+=("${ROWS[ext,$n,$c,$r]}")
			b+=("${ROWS[copy,$n,$c,$r]}")
			la+=("${LAT[ext,$n,$c,$r]}")
			lb+=("${LAT[copy,$n,$c,$r]}")
			q+=("$(ratio "${ROWS[copy,$n,$c,$r]}" "${ROWS[ext,$n,$c,$r]}")")
		done
		say "$(printf '| %7s | %5s | %-22s | %-22s | %-24s | %-20s | %8s |' \
			"$c" "$n" "$(med_spread %.0f "${a[@]}")" \
			"$(med_spread %.0f "${b[@]}")" "$(med_spread %.3f "${la[@]}")" \
			"$(med_spread %.3f "${lb[@]}")" "$(median "${q[@]}")")"
	done
done
say "load: $(cut -d' ' -f1-3 /proc/loadavg) at end"

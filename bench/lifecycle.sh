#!/bin/bash
# bench/lifecycle.sh
#	Benchmark 1: the whole life of a task in SQL, against a floor.
#
# One pgbench transaction is one lifecycle, twelve autocommit statements
# (twelve commits) and a status read:
#	create_task; add_deployments of 10 items; then task and deployments
#	through planning, planned, plan_approved, installing, completed
#	(deployments moved by add_deployments items with "action"); then
#	task_status().
# The floor runs the same inserts and updates, statement for statement and
# commit for commit, as bare SQL on floor.task and floor.deployment
# (bench/sql/floor.sql), and reads the task row with a count of its
# deployments.  Both run as the superuser (an operator, allowed everything,
# no request claims).
#
# Reported: time per lifecycle (pgbench's average latency) and lifecycles a
# second, at 1, 8 and 32 clients; the ratio extension/floor of the time per
# lifecycle is taken per pair of back-to-back runs.

set -euo pipefail
. "$(dirname "$0")/lib.sh"

PORT=25440
CLIENTS=${BENCH_CLIENTS:-1 8 32}
ENV_ID=f27d96be-c486-4075-a926-0ee96775119e
SCRIPTS=$BENCH_RESULTS/scripts
mkdir -p "$SCRIPTS"

# The deployment items of one batch, as one JSON literal; $1 = action or "".
items() {
	local action=$1 i sep=
	printf '['
	for i in 1 2 3 4 5 6 7 8 9 10; do
		printf '%s{"package": {"name": "pkg-%d", "version": "1.0.0",' \
			"$sep" "$i"
		printf ' "uniqueId": "uid-%d", "type": "blueprint"}' "$i"
		[ -n "$action" ] && printf ', "action": "%s"' "$action"
		printf '}'
		sep=', '
	done
	printf ']'
}

write_scripts() {
	local task="{\"command\": \"install\", \"user\": \"bench\","
	task+=" \"organization\": \"acme\", \"environment\": \"$ENV_ID\"}"
	{
		echo "-- one task lifecycle through the extension (12 commits)"
		echo "SELECT bluebricks.create_task('$task') AS tid \\gset"
		echo "SELECT bluebricks.add_deployments(:tid, '$(items '')');"
		echo "SELECT bluebricks.set_task_status(:tid, 'planning');"
		echo "SELECT bluebricks.add_deployments(:tid, '$(items planning)');"
		echo "SELECT bluebricks.add_deployments(:tid, '$(items planned)');"
		echo "SELECT bluebricks.set_task_status(:tid, 'planned');"
		echo "SELECT bluebricks.set_task_status(:tid, 'plan_approved');"
		echo "SELECT bluebricks.add_deployments(:tid," \
			"'$(items plan_approved)');"
		echo "SELECT bluebricks.set_task_status(:tid, 'installing');"
		echo "SELECT bluebricks.add_deployments(:tid, '$(items installing)');"
		echo "SELECT bluebricks.add_deployments(:tid, '$(items completed)');"
		echo "SELECT bluebricks.set_task_status(:tid, 'completed');"
		echo "SELECT bluebricks.task_status(:tid);"
	} >"$SCRIPTS/lifecycle_ext.sql"

	# Stage index n of bluebricks.stage (1-based) for the entered stamps.
	local t="UPDATE floor.task SET updated = now()"
	local d="UPDATE floor.deployment SET updated = now()"
	{
		echo "-- the same inserts and updates on bare tables (12 commits)"
		echo "INSERT INTO floor.task (task_id, command, user_name," \
			"organization, environment_id, entered)" \
			"VALUES (gen_random_uuid(), 'install', 'bench', 'acme'," \
			"'$ENV_ID', ARRAY[now()]) RETURNING task_id AS tid \\gset"
		echo "INSERT INTO floor.deployment (task_id, ordinal, package_name," \
			"package_version, unique_id, type, entered)" \
			"SELECT :tid, g, 'pkg-' || g, '1.0.0', 'uid-' || g," \
			"'blueprint', ARRAY[now()] FROM generate_series(1, 10) g;"
		echo "$t, stage = 'planning', entered[2] = now() WHERE task_id = :tid;"
		echo "$d, stage = 'planning', entered[2] = now() WHERE task_id = :tid;"
		echo "$d, stage = 'planned', entered[4] = now() WHERE task_id = :tid;"
		echo "$t, stage = 'planned', entered[4] = now() WHERE task_id = :tid;"
		echo "$t, stage = 'plan_approved', entered[5] = now()" \
			"WHERE task_id = :tid;"
		echo "$d, stage = 'plan_approved', entered[5] = now()" \
			"WHERE task_id = :tid;"
		echo "$t, stage = 'installing', entered[6] = now()" \
			"WHERE task_id = :tid;"
		echo "$d, stage = 'installing', entered[6] = now()" \
			"WHERE task_id = :tid;"
		echo "$d, stage = 'completed', entered[8] = now()" \
			"WHERE task_id = :tid;"
		echo "$t, stage = 'completed', entered[8] = now()," \
			"completed = now() WHERE task_id = :tid;"
		echo "SELECT t.stage, t.command, t.plan_only, t.created, t.updated," \
			"t.completed, t.entered, (SELECT count(*) FROM floor.deployment d" \
			"WHERE d.task_id = t.task_id) FROM floor.task t" \
			"WHERE t.task_id = :tid;"
	} >"$SCRIPTS/lifecycle_floor.sql"
}

bench_cluster lifecycle "$PORT"
bench_psql -f "$BENCH_DIR/sql/floor.sql" >/dev/null
write_scripts
say "scripts: $SCRIPTS/lifecycle_ext.sql, $SCRIPTS/lifecycle_floor.sql"
say "(pgbench -n -M prepared -j 2 -T <s> -c <clients> -f <script>)"
say ""

DAT=$BENCH_RESULTS/lifecycle.dat
echo "# clients ext_ms floor_ms ratio (medians)" >"$DAT"
rows=()
for c in $CLIENTS; do
	j=$((c < 2 ? 1 : 2))
	w=$BENCH_RESULTS/lifecycle.tmp
	bench_pgbench "$w" -c "$c" -j "$j" -T "$BENCH_WARMUP" \
		-f "$SCRIPTS/lifecycle_ext.sql"
	bench_pgbench "$w" -c "$c" -j "$j" -T "$BENCH_WARMUP" \
		-f "$SCRIPTS/lifecycle_floor.sql"
	ext_ms=() floor_ms=() ext_tps=() floor_tps=() ratios=()
	for r in $(seq "$BENCH_RUNS"); do
		e=$BENCH_RESULTS/lifecycle-ext-c$c-r$r.out
		f=$BENCH_RESULTS/lifecycle-floor-c$c-r$r.out
		bench_pgbench "$e" -c "$c" -j "$j" -T "$BENCH_DURATION" \
			-f "$SCRIPTS/lifecycle_ext.sql"
		bench_pgbench "$f" -c "$c" -j "$j" -T "$BENCH_DURATION" \
			-f "$SCRIPTS/lifecycle_floor.sql"
		ext_ms+=("$(pgb_lat "$e")")
		floor_ms+=("$(pgb_lat "$f")")
		ext_tps+=("$(pgb_tps "$e")")
		floor_tps+=("$(pgb_tps "$f")")
		ratios+=("$(ratio "$(pgb_lat "$e")" "$(pgb_lat "$f")")")
	done
	rows+=("$(printf '| %7s | %-24s | %-24s | %-22s | %-22s | %-18s |' "$c" \
		"$(med_spread %.2f "${ext_ms[@]}")" \
		"$(med_spread %.2f "${floor_ms[@]}")" \
		"$(med_spread %.0f "${ext_tps[@]}")" \
		"$(med_spread %.0f "${floor_tps[@]}")" \
		"$(med_spread %.2f "${ratios[@]}")")")
	echo "$c $(median "${ext_ms[@]}") $(median "${floor_ms[@]}")" \
		"$(median "${ratios[@]}")" >>"$DAT"
done
rm -f "$BENCH_RESULTS/lifecycle.tmp"

say ""
say "Task lifecycle (12 commits + 1 status read per lifecycle)," \
	"median [min..max] of $BENCH_RUNS runs"
say "| clients | extension ms/lifecycle   | floor ms/lifecycle       | extension lifecycles/s | floor lifecycles/s     | ratio ext/floor    |"
say "|--------:|--------------------------|--------------------------|------------------------|------------------------|--------------------|"
for row in "${rows[@]}"; do
	say "$row"
done
say "target: ratio <= 1.5 at 8 clients"
say "rows: $(bench_psql -tAc "SELECT (SELECT count(*) FROM bluebricks.task)
	|| ' tasks, ' || (SELECT count(*) FROM bluebricks.deployment)
	|| ' deployments, ' || (SELECT count(*) FROM bluebricks.stage_history)
	|| ' history rows; floor ' || (SELECT count(*) FROM floor.task)
	|| ' tasks'")"
say "load: $(cut -d' ' -f1-3 /proc/loadavg) at end"

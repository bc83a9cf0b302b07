#!/bin/bash
# bench/claim.sh
#	Benchmark 2: runners claiming and finishing tasks, from a table of
#	100,000 pending tasks, against a bare queue and a PL/pgSQL version.
#
# One pgbench transaction is one cycle of four autocommit statements (four
# commits), the shortest legal path of a claimed task to completed:
#	ext    claim_tasks(runner, 1), then set_task_status with the token to
#	       planning, no_change, completed; run as a runner (a login role in
#	       bluebricks_api whose request.jwt.claims are the runner's).
#	bare   UPDATE floor.task SET lease ... WHERE task_id = (SELECT ... FOR
#	       UPDATE SKIP LOCKED), then three plain UPDATEs of the stage; no
#	       token, no checks (bench/sql/floor.sql).
#	plpgsql  plpg.claim_tasks and plpg.set_task_status
#	       (bench/sql/plpgsql.sql): the same work as the extension's
#	       functions, written in PL/pgSQL, as the superuser.
#	notify the bare cycle with one NOTIFY in each stage change, as the
#	       extension sends: a ceiling for any implementation of the
#	       design, since PostgreSQL serializes the commits of notifying
#	       transactions (see bench/README.md).
# Before each run the variant's table is topped up to 100,000 claimable
# tasks; runs of one client count alternate between variants.  Reported:
# cycles a second (= claims a second), the ratios per run, whether the rate
# decays within a run (mean of the last third of its seconds over the
# first third), and pg_stat_user_tables of each task table at the end.
#
# BENCH_LONG=1 adds one run of BENCH_LONG_DURATION (600) s per variant at
# 8 clients, with a refiller keeping 100,000 tasks claimable; its
# per-second rates feed the plot (bench/plot.gp).

set -euo pipefail
. "$(dirname "$0")/lib.sh"

PORT=${BENCH_PORT:-25441}
CLIENTS=${BENCH_CLIENTS:-1 8 32}
VARIANTS=${BENCH_VARIANTS:-ext bare plpgsql notify}
POOL=${BENCH_POOL:-100000}
LONG_DURATION=${BENCH_LONG_DURATION:-600}
ENV_ID=f27d96be-c486-4075-a926-0ee96775119e
SCRIPTS=$BENCH_RESULTS/scripts
mkdir -p "$SCRIPTS"

table_of() {
	case $1 in
	ext) echo bluebricks.task ;;
	bare | notify) echo floor.task ;;
	plpgsql) echo plpg.task ;;
	esac
}

# Insert claimable tasks into the variant's table until it holds $POOL;
# created is distinct per row (clock_timestamp), as for tasks created one
# by one.
top_up() {
	local t
	t=$(table_of "$1")
	bench_psql -c "INSERT INTO $t (task_id, command, organization,
			environment_id, created)
		SELECT gen_random_uuid(), 'install', 'acme', '$ENV_ID',
			clock_timestamp()
		FROM generate_series(1, $POOL - (SELECT count(*) FROM $t
			WHERE stage IN ('pending', 'plan_approved')
			  AND organization = 'acme'
			  AND (lease_expires IS NULL OR lease_expires <= now())))" \
		>/dev/null
}

write_scripts() {
	{
		echo "-- claim one task as a runner and finish it (4 commits)"
		echo "SELECT j->0->>'taskId' AS tid, j->0->>'token' AS tok" \
			"FROM (SELECT bluebricks.claim_tasks(:runner, 1," \
			"'5 minutes') AS j) s \\gset"
		echo "SELECT bluebricks.set_task_status(:tid, 'planning'," \
			"token => :tok);"
		echo "SELECT bluebricks.set_task_status(:tid, 'no_change'," \
			"token => :tok);"
		echo "SELECT bluebricks.set_task_status(:tid, 'completed'," \
			"token => :tok);"
	} >"$SCRIPTS/claim_ext.sql"
	{
		echo "-- the same four commits on a bare table, no token"
		echo "UPDATE floor.task SET runner_id = :runner," \
			"lease_expires = now() + interval '5 minutes'," \
			"lease_duration = interval '5 minutes'" \
			"WHERE task_id = (SELECT task_id FROM floor.task" \
			"WHERE stage IN ('pending', 'plan_approved')" \
			"AND organization = 'acme'" \
			"AND (lease_expires IS NULL OR lease_expires <= now())" \
			"ORDER BY created, task_id LIMIT 1 FOR UPDATE SKIP LOCKED)" \
			"RETURNING task_id AS tid \\gset"
		echo "UPDATE floor.task SET stage = 'planning', updated = now()" \
			"WHERE task_id = :tid;"
		echo "UPDATE floor.task SET stage = 'no_change', updated = now()" \
			"WHERE task_id = :tid;"
		echo "UPDATE floor.task SET stage = 'completed', updated = now()," \
			"completed = now(), runner_id = NULL, lease_expires = NULL," \
			"lease_duration = NULL WHERE task_id = :tid;"
	} >"$SCRIPTS/claim_bare.sql"
	{
		echo "-- the bare cycle with a NOTIFY per stage change (4 commits)"
		head -2 "$SCRIPTS/claim_bare.sql" | tail -1
		for st in planning no_change completed; do
			extra=
			[ "$st" = completed ] && extra=", completed = now(), runner_id =\
 NULL, lease_expires = NULL, lease_duration = NULL"
			echo "WITH u AS (UPDATE floor.task SET stage = '$st'," \
				"updated = now()$extra WHERE task_id = :tid" \
				"RETURNING task_id) SELECT pg_notify('bluebricks_task'," \
				"json_build_object('taskId', task_id, 'stage', '$st')::text)" \
				"FROM u;"
		done
	} >"$SCRIPTS/claim_notify.sql"
	{
		echo "-- the extension's cycle through the PL/pgSQL functions"
		echo "SELECT j->0->>'taskId' AS tid, j->0->>'token' AS tok" \
			"FROM (SELECT plpg.claim_tasks(:runner, 1," \
			"'5 minutes') AS j) s \\gset"
		echo "SELECT plpg.set_task_status(:tid, 'planning', token => :tok);"
		echo "SELECT plpg.set_task_status(:tid, 'no_change', token => :tok);"
		echo "SELECT plpg.set_task_status(:tid, 'completed', token => :tok);"
	} >"$SCRIPTS/claim_plpgsql.sql"
}

# pgbench options of a variant: the user it connects as, and the script.
variant_opts() {
	case $1 in
	ext) echo "-U bench_runner -f $SCRIPTS/claim_ext.sql" ;;
	bare) echo "-U postgres -f $SCRIPTS/claim_bare.sql" ;;
	plpgsql) echo "-U postgres -f $SCRIPTS/claim_plpgsql.sql" ;;
	notify) echo "-U postgres -f $SCRIPTS/claim_notify.sql" ;;
	esac
}

# Per-second rates "t tps" from pgbench -P 1 output.
progress() {
	sed -n 's/^progress: \([0-9.]*\) s, \([0-9.]*\) tps.*/\1 \2/p' "$1"
}

# Mean rate of the last third of a run's seconds over the first third.
decay() {
	progress "$1" | awk '{ v[NR] = $2 }
		END { k = int(NR / 3); if (k < 1) { print "nan"; exit }
			  for (i = 1; i <= k; i++) { a += v[i]; b += v[NR - k + i] }
			  printf "%.2f\n", (a > 0) ? b / a : 0 }'
}

# Keep the variant's table at $POOL claimable tasks until killed.
refiller() {
	while sleep 5; do
		top_up "$1" || true
	done
}

bench_cluster claim "$PORT"
bench_psql -f "$BENCH_DIR/sql/floor.sql" >/dev/null
bench_psql -f "$BENCH_DIR/sql/plpgsql.sql" >/dev/null
bench_make_runner
bench_psql -c "INSERT INTO plpg.runner VALUES ('$RUNNER', 'acme', NULL)"
write_scripts
for v in $VARIANTS; do
	top_up "$v"
	bench_psql -c "VACUUM ANALYZE $(table_of "$v")"
done

say "runner: $RUNNER; bench_runner's request.jwt.claims = $CLAIMS"
say "scripts: $SCRIPTS/claim_{ext,bare,plpgsql}.sql; pool $POOL" \
	"claimable tasks per variant, topped up before each run"
say "(pgbench -n -M prepared -j 2 -P 1 -T <s> -c <clients>" \
	"-D runner=$RUNNER -U <user> -f <script>)"
say "claim plan (extension's pick, as EXPLAIN shows it now):"
bench_psql -c "EXPLAIN SELECT task_id, stage::text FROM bluebricks.task
	WHERE stage IN ('pending', 'plan_approved') AND organization = 'acme'
	  AND (NULL::uuid[] IS NULL OR environment_id = ANY (NULL::uuid[]))
	  AND (lease_expires IS NULL OR lease_expires <= now())
	ORDER BY created, task_id LIMIT 1 FOR UPDATE SKIP LOCKED" |
	sed 's/^/    /' | tee -a "$BENCH_OUT"
say ""

declare -A TPS DEC
for c in $CLIENTS; do
	j=$((c < 2 ? 1 : 2))
	w=$BENCH_RESULTS/claim.tmp
	for v in $VARIANTS; do
		top_up "$v"
		# shellcheck disable=SC2046
		bench_pgbench "$w" -c "$c" -j "$j" -T "$BENCH_WARMUP" \
			-D runner="$RUNNER" $(variant_opts "$v")
	done
	for r in $(seq "$BENCH_RUNS"); do
		for v in $VARIANTS; do
			o=$BENCH_RESULTS/claim-$v-c$c-r$r.out
			top_up "$v"
			# shellcheck disable=SC2046
			bench_pgbench "$o" -c "$c" -j "$j" -P 1 -T "$BENCH_DURATION" \
				-D runner="$RUNNER" $(variant_opts "$v")
			TPS[$v,$c,$r]=$(pgb_tps "$o")
			DEC[$v,$c,$r]=$(decay "$o")
		done
	done
done
rm -f "$BENCH_RESULTS/claim.tmp"

say ""
say "Claim cycles a second (claim + planning + no_change + completed," \
	"4 commits), median [min..max] of $BENCH_RUNS runs"
say "| clients | extension          | bare               | PL/pgSQL           | ext/bare          | ext/PL/pgSQL      |"
say "|--------:|--------------------|--------------------|--------------------|-------------------|-------------------|"
for c in $CLIENTS; do
	e=() b=() p=() eb=() ep=()
	for r in $(seq "$BENCH_RUNS"); do
		e+=("${TPS[ext,$c,$r]:-0}")
		b+=("${TPS[bare,$c,$r]:-0}")
		p+=("${TPS[plpgsql,$c,$r]:-0}")
		eb+=("$(ratio "${TPS[ext,$c,$r]:-0}" "${TPS[bare,$c,$r]:-0}")")
		ep+=("$(ratio "${TPS[ext,$c,$r]:-0}" "${TPS[plpgsql,$c,$r]:-0}")")
	done
	say "$(printf '| %7s | %-18s | %-18s | %-18s | %-17s | %-17s |' "$c" \
		"$(med_spread %.0f "${e[@]}")" "$(med_spread %.0f "${b[@]}")" \
		"$(med_spread %.0f "${p[@]}")" "$(med_spread %.2f "${eb[@]}")" \
		"$(med_spread %.2f "${ep[@]}")")"
done
say "targets: ext/bare >= 0.8 and ext/PL/pgSQL >= 1.5 at 8 and 32 clients"
if [[ " $VARIANTS " == *" notify "* ]]; then
	say ""
	say "The bare cycle with a NOTIFY per stage change (the ceiling the" \
		"design's NOTIFY sets)"
	say "| clients | bare+NOTIFY        | ext/bare+NOTIFY   | bare+NOTIFY/bare  |"
	say "|--------:|--------------------|-------------------|-------------------|"
	for c in $CLIENTS; do
		n=() en=() nb=()
		for r in $(seq "$BENCH_RUNS"); do
			n+=("${TPS[notify,$c,$r]:-0}")
			en+=("$(ratio "${TPS[ext,$c,$r]:-0}" "${TPS[notify,$c,$r]:-0}")")
			nb+=("$(ratio "${TPS[notify,$c,$r]:-0}" "${TPS[bare,$c,$r]:-0}")")
		done
		say "$(printf '| %7s | %-18s | %-17s | %-17s |' "$c" \
			"$(med_spread %.0f "${n[@]}")" "$(med_spread %.2f "${en[@]}")" \
			"$(med_spread %.2f "${nb[@]}")")"
	done
fi
say ""
say "Rate decay within a run (last third / first third of its seconds)," \
	"median [min..max]"
say "| clients | extension          | bare               | PL/pgSQL           |"
say "|--------:|--------------------|--------------------|--------------------|"
for c in $CLIENTS; do
	line=$(printf '| %7s |' "$c")
	for v in ext bare plpgsql; do
		d=()
		for r in $(seq "$BENCH_RUNS"); do
			d+=("${DEC[$v,$c,$r]:-nan}")
		done
		line+=$(printf ' %-18s |' "$(med_spread %.2f "${d[@]}")")
	done
	say "$line"
done

if [ "${BENCH_LONG:-}" = 1 ]; then
	say ""
	say "Long run: ${LONG_DURATION}s per variant at 8 clients, pool kept" \
		"at $POOL by a refiller every 5 s"
	for v in $VARIANTS; do
		o=$BENCH_RESULTS/claim-long-$v.out
		top_up "$v"
		refiller "$v" &
		rpid=$!
		# shellcheck disable=SC2046
		bench_pgbench "$o" -c 8 -j 2 -P 1 -T "$LONG_DURATION" \
			-D runner="$RUNNER" $(variant_opts "$v")
		kill "$rpid" 2>/dev/null || true
		wait "$rpid" 2>/dev/null || true
		say "$(printf '  %-8s %8s cycles/s, last/first third %s;' "$v" \
			"$(pgb_tps "$o")" "$(decay "$o")")" \
			"per minute: $(progress "$o" | awk '{ s += $2; n++ }
				n == 60 { printf "%.0f ", s / n; s = 0; n = 0 }')"
	done
fi

# The plot's data: per-second rates of each variant at 8 clients, from
# the long run when there was one, else the measured runs back to back.
DAT=$BENCH_RESULTS/claim-rate.dat
for v in ext bare plpgsql; do
	if [ "${BENCH_LONG:-}" = 1 ] && [ -f "$BENCH_RESULTS/claim-long-$v.out" ]
	then
		progress "$BENCH_RESULTS/claim-long-$v.out"
	else
		for r in $(seq "$BENCH_RUNS"); do
			f=$BENCH_RESULTS/claim-$v-c8-r$r.out
			[ -f "$f" ] && progress "$f"
		done
	fi | awk '{ print NR, $2 }' >"$BENCH_RESULTS/claim-rate-$v.tmp"
done
{
	echo "# second ext bare plpgsql (cycles/s at 8 clients)"
	awk 'FNR == 1 { f++ } { v[f, $1] = $2; if ($1 > n) n = $1 }
		END { for (i = 1; i <= n; i++) {
				printf "%d", i
				for (k = 1; k <= 3; k++)
					printf " %s", ((k, i) in v) ? v[k, i] : "nan"
				printf "\n" } }' \
		"$BENCH_RESULTS/claim-rate-ext.tmp" \
		"$BENCH_RESULTS/claim-rate-bare.tmp" \
		"$BENCH_RESULTS/claim-rate-plpgsql.tmp"
} >"$DAT"
rm -f "$BENCH_RESULTS"/claim-rate-*.tmp

sleep 1	# statistics are flushed at most once a second
say ""
say "pg_stat_user_tables at the end (autovacuum on):"
bench_psql -c "SELECT schemaname || '.' || relname AS task_table,
		n_live_tup, n_dead_tup, n_tup_upd, n_tup_hot_upd,
		round(100.0 * n_tup_hot_upd / nullif(n_tup_upd, 0), 1) AS hot_pct,
		autovacuum_count, pg_size_pretty(pg_total_relation_size(relid))
			AS size
	FROM pg_stat_user_tables WHERE relname = 'task'
	ORDER BY 1" | sed 's/^/    /' | tee -a "$BENCH_OUT"
say "load: $(cut -d' ' -f1-3 /proc/loadavg) at end"

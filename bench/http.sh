#!/bin/bash
# bench/http.sh
#	Benchmark 4: GET /api/v1/task/{id}/status through the gateway (wrk)
#	against pgbench running the same SQL at the same concurrency.
#
# The task has 10 deployments.  The gateway runs with a pool of 8
# connections as login role bench_gateway (a member of bluebricks_api);
# wrk signs in with the runner's Basic credentials.  Two pgbench
# baselines, both with N clients:
#	sql       SELECT bluebricks.task_status(:tid) as role bench_runner,
#	          whose claims are preset (no sign-in);
#	sql+auth  what the gateway sends per request: BEGIN; set_config of
#	          the claims from authenticate_basic(name, password);
#	          task_status; COMMIT; as bench_gateway.
# p99 of pgbench comes from its per-transaction log (-l).  The gateway's
# peak RSS (VmHWM) is read after the runs.  When the gateway is not built
# (and `make -C gateway` cannot build it) this prints "skipped".

set -euo pipefail
. "$(dirname "$0")/lib.sh"

PORT=25443
GW_PORT=25444
POOL=${BENCH_GATEWAY_POOL:-8}
CONNS=${BENCH_CLIENTS:-8 32}
SCRIPTS=$BENCH_RESULTS/scripts
mkdir -p "$SCRIPTS"

if ! bench_have_gateway; then
	BENCH_OUT=$BENCH_RESULTS/http.txt
	echo "== http ==" | tee "$BENCH_OUT"
	echo "skipped: gateway not built" | tee -a "$BENCH_OUT"
	exit 0
fi

bench_cluster http "$PORT"
bench_psql -f "$BENCH_DIR/sql/floor.sql" >/dev/null
bench_make_runner
TID=$(bench_make_task 10)
bench_psql -c 'VACUUM ANALYZE' >/dev/null
echo "SELECT bluebricks.task_status(:tid);" >"$SCRIPTS/http_sql.sql"
cat >"$SCRIPTS/http_sql_auth.sql" <<'EOF'
BEGIN;
SELECT pg_catalog.set_config('request.jwt.claims', bluebricks.authenticate_basic(:user, :pass)::text, true);
SELECT bluebricks.task_status(:tid, false);
COMMIT;
EOF
bench_start_gateway "$GW_PORT" "$POOL"
GW_PID=$BENCH_GATEWAY_PID
URL=http://127.0.0.1:$GW_PORT/api/v1/task/$TID/status
AUTH="Authorization: Basic $(printf '%s:%s' "$RUNNER_NAME" "$RUNNER_PASSWORD" |
	base64 -w0)"
code=$(curl -s -o "$BENCH_RESULTS/http-sample.json" -w '%{http_code}' \
	-H "$AUTH" "$URL")
say "task $TID; GET $URL -> $code: $(head -c 160 \
	"$BENCH_RESULTS/http-sample.json")..."
say "gateway: pool $POOL, pid $GW_PID, VmHWM before load" \
	"$(proc_kb "$GW_PID" VmHWM) kB"
say "wrk: wrk -t2 -c <conns> -d <s> --latency -H 'Authorization: Basic" \
	"<runner:password>' $URL"
say "pgbench: $SCRIPTS/http_sql.sql, $SCRIPTS/http_sql_auth.sql"
say ""
[ "$code" = 200 ] || { echo "gateway answered $code" >&2; exit 1; }

declare -A RPS P99 P50 ERR
for c in $CONNS; do
	j=$((c < 2 ? 1 : 2))
	run_logged wrk -t2 -c "$c" -d "${BENCH_WARMUP}s" -H "$AUTH" "$URL" \
		>/dev/null
	bench_pgbench "$BENCH_RESULTS/http.tmp" -c "$c" -j "$j" \
		-T "$BENCH_WARMUP" -U bench_runner -D tid="$TID" \
		-f "$SCRIPTS/http_sql.sql"
	for r in $(seq "$BENCH_RUNS"); do
		o=$BENCH_RESULTS/http-wrk-c$c-r$r.out
		run_logged wrk -t2 -c "$c" -d "${BENCH_DURATION}s" --latency \
			-H "$AUTH" "$URL" >"$o"
		RPS[wrk,$c,$r]=$(wrk_rps "$o")
		P99[wrk,$c,$r]=$(wrk_pct "$o" 99%)
		P50[wrk,$c,$r]=$(wrk_pct "$o" 50%)
		ERR[$c,$r]=$(wrk_errors "$o")
		for v in sql sql_auth; do
			o=$BENCH_RESULTS/http-$v-c$c-r$r.out
			rm -rf "$BENCH_RESULTS/http-log" && mkdir -p "$BENCH_RESULTS/http-log"
			if [ "$v" = sql ]; then
				opts=(-U bench_runner)
			else
				opts=(-U bench_gateway -D user="$RUNNER_NAME"
					-D pass="$RUNNER_PASSWORD")
			fi
			( cd "$BENCH_RESULTS/http-log" &&
				bench_pgbench "$o" -c "$c" -j "$j" -T "$BENCH_DURATION" \
					-l "${opts[@]}" -D tid="$TID" \
					-f "$SCRIPTS/http_$v.sql" )
			RPS[$v,$c,$r]=$(pgb_tps "$o")
			P99[$v,$c,$r]=$(pgb_log_pct 99 "$BENCH_RESULTS"/http-log/pgbench_log.*)
			P50[$v,$c,$r]=$(pgb_log_pct 50 "$BENCH_RESULTS"/http-log/pgbench_log.*)
		done
	done
done
rm -rf "$BENCH_RESULTS/http.tmp" "$BENCH_RESULTS/http-log"

say ""
say "GET /status: requests (transactions) a second and latency ms," \
	"median [min..max] of $BENCH_RUNS runs"
say "| conns | client            | per second          | p50 ms                | p99 ms                | vs sql |"
say "|------:|-------------------|---------------------|-----------------------|-----------------------|-------:|"
for c in $CONNS; do
	for v in wrk sql sql_auth; do
		a=() b=() d=() q=()
		for r in $(seq "$BENCH_RUNS"); do
			a+=("${RPS[$v,$c,$r]}")
			b+=("${P50[$v,$c,$r]}")
			d+=("${P99[$v,$c,$r]}")
			q+=("$(ratio "${RPS[$v,$c,$r]}" "${RPS[sql,$c,$r]}")")
		done
		case $v in
		wrk) label="wrk via gateway" ;;
		sql) label="pgbench sql" ;;
		sql_auth) label="pgbench sql+auth" ;;
		esac
		say "$(printf '| %5s | %-17s | %-19s | %-21s | %-21s | %6s |' "$c" \
			"$label" "$(med_spread %.0f "${a[@]}")" \
			"$(med_spread %.3f "${b[@]}")" "$(med_spread %.3f "${d[@]}")" \
			"$(median "${q[@]}")")"
	done
done
errs=0
for k in "${!ERR[@]}"; do
	errs=$((errs + ERR[$k]))
done
say "non-2xx answers from the gateway over all runs: $errs"
say "gateway peak RSS (VmHWM) after the runs: $(proc_kb "$GW_PID" VmHWM) kB;" \
	"now $(proc_mem "$GW_PID")"
bench_stop_gateway
say "load: $(cut -d' ' -f1-3 /proc/loadavg) at end"

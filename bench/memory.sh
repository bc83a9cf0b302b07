#!/bin/bash
# bench/memory.sh
#	Benchmark 6: peak memory.  A backend's VmHWM (peak resident set) while
#	it reads the status of a task of 10,000 deployments, summary and
#	expanded; and the gateway's VmHWM under load (summary of a 10-deployment
#	task at 32 connections, then the expanded status of the 10,000 one at
#	8 connections), when the gateway is built.
#
# Each backend reading is a fresh session: VmHWM before the call (after
# connecting), then after it, read from /proc/PID/status while the session
# is still open.  VmHWM counts the shared buffers the backend touched as
# well (RssShmem); RssAnon is its private memory after the call.

set -euo pipefail
. "$(dirname "$0")/lib.sh"

PORT=25446
GW_PORT=25447

bench_cluster memory "$PORT"
bench_psql -f "$BENCH_DIR/sql/floor.sql" >/dev/null
bench_make_runner
T10=$(bench_make_task 10)
T10K=$(bench_make_task 10000)
bench_psql -c 'VACUUM ANALYZE' >/dev/null
say "tasks: 10 deployments $T10; 10,000 deployments $T10K"
say ""

# Measure one call in its own session: prints "before_kB after_kB anon_kB
# result_bytes".
measure() {
	local sql=$1 dir pid
	dir=$(mktemp -d)
	mkfifo "$dir/in"
	psql -X -q -At -U bench_runner -d bench <"$dir/in" >"$dir/out" 2>&1 &
	local psql_pid=$!
	exec 7>"$dir/in"
	echo "SELECT pg_backend_pid();" >&7
	for _ in $(seq 100); do
		[ -s "$dir/out" ] && break
		sleep 0.05
	done
	pid=$(head -1 "$dir/out")
	local before
	before=$(proc_kb "$pid" VmHWM)
	echo "SELECT length(($sql)::text); SELECT 'done';" >&7
	for _ in $(seq 600); do
		grep -q '^done$' "$dir/out" && break
		sleep 0.05
	done
	echo "$before $(proc_kb "$pid" VmHWM) $(proc_kb "$pid" RssAnon)" \
		"$(sed -n 2p "$dir/out")"
	exec 7>&-
	wait "$psql_pid" || true
	rm -rf "$dir"
}

say "Backend peak RSS (kB), one call per fresh session as bench_runner," \
	"median [min..max] of $BENCH_RUNS sessions"
say "| call                                   | VmHWM before       | VmHWM after          | RssAnon after      | result bytes |"
say "|----------------------------------------|--------------------|----------------------|--------------------|-------------:|"
for call in "task_status('$T10')" "task_status('$T10K')" \
	"task_status('$T10K', true)" "task('$T10K')"; do
	b=() a=() p=() len=
	for _ in $(seq "$BENCH_RUNS"); do
		read -r x y z l < <(measure "SELECT bluebricks.$call")
		b+=("$x") a+=("$y") p+=("$z") len=$l
	done
	label=${call//$T10K/<10,000>}
	label=${label//$T10/<10>}
	say "$(printf '| %-38s | %-18s | %-20s | %-18s | %12s |' "$label" \
		"$(med_spread %.0f "${b[@]}")" "$(med_spread %.0f "${a[@]}")" \
		"$(med_spread %.0f "${p[@]}")" "$len")"
done

if bench_have_gateway; then
	bench_start_gateway "$GW_PORT" 8
	AUTH="Authorization: Basic $(printf '%s:%s' "$RUNNER_NAME" \
		"$RUNNER_PASSWORD" | base64 -w0)"
	say ""
	say "gateway pid $BENCH_GATEWAY_PID, pool 8: VmHWM at start" \
		"$(proc_kb "$BENCH_GATEWAY_PID" VmHWM) kB"
	run_logged wrk -t2 -c 32 -d "${BENCH_DURATION}s" -H "$AUTH" \
		"http://127.0.0.1:$GW_PORT/api/v1/task/$T10/status" \
		>"$BENCH_RESULTS/memory-wrk-summary.out"
	say "  after summary status, 32 conns: VmHWM" \
		"$(proc_kb "$BENCH_GATEWAY_PID" VmHWM) kB" \
		"($(wrk_rps "$BENCH_RESULTS/memory-wrk-summary.out") req/s," \
		"non-2xx $(wrk_errors "$BENCH_RESULTS/memory-wrk-summary.out"))"
	run_logged wrk -t2 -c 8 -d "${BENCH_DURATION}s" -H "$AUTH" \
		"http://127.0.0.1:$GW_PORT/api/v1/task/$T10K/status?expand=true" \
		>"$BENCH_RESULTS/memory-wrk-expanded.out"
	say "  after expanded status of 10,000 deployments, 8 conns: VmHWM" \
		"$(proc_kb "$BENCH_GATEWAY_PID" VmHWM) kB" \
		"($(wrk_rps "$BENCH_RESULTS/memory-wrk-expanded.out") req/s," \
		"non-2xx $(wrk_errors "$BENCH_RESULTS/memory-wrk-expanded.out"));" \
		"now $(proc_mem "$BENCH_GATEWAY_PID")"
	bench_stop_gateway
else
	say "gateway: skipped: gateway not built"
fi
say "load: $(cut -d' ' -f1-3 /proc/loadavg) at end"

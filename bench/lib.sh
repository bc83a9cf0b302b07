# bench/lib.sh
#	Shared pieces of the benchmarks; sourced by bench/*.sh.
#
# Each benchmark starts its own throwaway cluster (bench_cluster NAME PORT),
# measures with pgbench or wrk, and prints tables.  Nothing here judges a
# number: benchmarks never fail on timing.
#
# Terms:
#	warm-up   one untimed run of the same script before the measured ones
#	run       one timed pgbench (or wrk) invocation of BENCH_DURATION s
#	median    middle of the runs; spread = min..max of the runs
#	pair      the extension's run and its baseline's run taken back to back;
#	          ratios are computed per pair, then their median is shown
#
# Environment (all optional):
#	BENCH_DURATION  seconds per measured run (default 5)
#	BENCH_WARMUP    seconds of the warm-up run (default 2)
#	BENCH_RUNS      measured runs per case (default 3, at least 3)
#	BENCH_LONG=1    the claim benchmark's long run: 600 s at 8 clients
#	BENCH_PGSS=1    load pg_stat_statements and print its top statements
#	BENCH_KEEP=1    keep the cluster directory after the benchmark

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BENCH_REPO=$(cd "$BENCH_DIR/.." && pwd)
BENCH_DURATION=${BENCH_DURATION:-5}
BENCH_WARMUP=${BENCH_WARMUP:-2}
BENCH_RUNS=${BENCH_RUNS:-3}
[ "$BENCH_RUNS" -lt 3 ] && BENCH_RUNS=3
BENCH_RESULTS=${BENCH_RESULTS:-$BENCH_DIR/results}
mkdir -p "$BENCH_RESULTS"

# shellcheck source=../scripts/cluster.sh
. "$BENCH_REPO/scripts/cluster.sh"

# The server settings every benchmark states and uses.
BENCH_PG_SETTINGS="shared_buffers = 256MB
fsync = on
synchronous_commit = on
full_page_writes = on
wal_level = replica
max_wal_size = 4GB
checkpoint_timeout = 15min
max_connections = 200
autovacuum = on
jit = off
log_min_messages = warning
log_autovacuum_min_duration = 0"

# Print a line to stdout and to the benchmark's result file.
say() {
	printf '%s\n' "$*" | tee -a "$BENCH_OUT"
}

# Print a command exactly as it is run, then run it.
run_logged() {
	local q=()
	for a in "$@"; do
		q+=("$(printf '%q' "$a")")
	done
	echo "+ ${q[*]}" | tee -a "$BENCH_OUT"
	"$@"
}

bench_psql() {
	psql -X -q -v ON_ERROR_STOP=1 -d bench "$@"
}

# Stop the cluster and remove its directory (unless BENCH_KEEP=1).
bench_cleanup() {
	if [ -n "${BENCH_GATEWAY_PID:-}" ] &&
		kill -0 "$BENCH_GATEWAY_PID" 2>/dev/null; then
		kill "$BENCH_GATEWAY_PID" 2>/dev/null || true
		wait "$BENCH_GATEWAY_PID" 2>/dev/null || true
	fi
	if [ -n "${BENCH_CLUSTER:-}" ]; then
		bb_cluster_stop "$BENCH_CLUSTER"
		if [ "${BENCH_KEEP:-}" = 1 ]; then
			echo "kept cluster in $BENCH_CLUSTER" >&2
		else
			rm -rf "$BENCH_CLUSTER"
		fi
	fi
}

# Start a throwaway cluster for benchmark NAME on PORT with the stated
# settings, create database bench with the extension, and print the header.
bench_cluster() {
	local name=$1 port=$2
	BENCH_NAME=$name
	BENCH_OUT=$BENCH_RESULTS/$name.txt
	: >"$BENCH_OUT"
	BENCH_CLUSTER=$(mktemp -d "/tmp/bb-bench-$name.XXXXXX")
	chmod 755 "$BENCH_CLUSTER"
	trap bench_cleanup EXIT
	trap 'exit 130' INT TERM
	bb_cluster_start "$BENCH_CLUSTER" "$port" >/dev/null
	# The settings go after the defaults cluster.sh wrote; last one wins.
	{
		echo "# bench/lib.sh settings"
		echo "$BENCH_PG_SETTINGS"
		if [ "${BENCH_PGSS:-}" = 1 ]; then
			echo "shared_preload_libraries = 'pg_stat_statements'"
			echo "pg_stat_statements.track = all"
		fi
	} >>"$BENCH_CLUSTER/data/postgresql.conf"
	bb_cluster_stop "$BENCH_CLUSTER"
	bb_cluster_start "$BENCH_CLUSTER" "$port" >/dev/null
	psql -X -q -d postgres -c 'CREATE DATABASE bench'
	bench_psql -c 'CREATE EXTENSION bluebricks_task'
	[ "${BENCH_PGSS:-}" = 1 ] &&
		bench_psql -c 'CREATE EXTENSION pg_stat_statements'

	say "== $name =="
	say "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)  host: $(uname -n)" \
		"cores: $(nproc)"
	say "load: $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min) at start"
	say "server: $(postgres_version)  extension: bluebricks_task" \
		"$(bench_psql -tAc "SELECT extversion FROM pg_extension
			WHERE extname = 'bluebricks_task'")" \
		"($(git -C "$BENCH_REPO" describe --always --dirty 2>/dev/null ||
			echo unknown))"
	say "cluster: $BENCH_CLUSTER (port $port), settings:"
	while IFS= read -r line; do
		say "    $line"
	done <<<"$BENCH_PG_SETTINGS"
	say "runs: warm-up ${BENCH_WARMUP}s, then $BENCH_RUNS x" \
		"${BENCH_DURATION}s per case; median [min..max]"
	say "re-run alone: bench/run.sh $name (same variables)"
	say ""
}

postgres_version() {
	bench_psql -tAc 'SHOW server_version'
}

# pgbench with the benchmark's defaults; prints the command into the log.
# Usage: bench_pgbench OUTFILE [pgbench options...]
bench_pgbench() {
	local out=$1
	shift
	run_logged pgbench -n -M prepared -d bench "$@" >"$out" 2>&1 || {
		echo "pgbench failed ($out):" >&2
		tail -20 "$out" >&2
		return 1
	}
	# Every script here must run without errors; failures would be
	# counted as transactions otherwise.
	if grep -q 'number of failed transactions: [1-9]' "$out"; then
		echo "pgbench reported failed transactions ($out)" >&2
		grep -m3 -i error "$out" >&2 || true
		return 1
	fi
}

# Transactions per second from a pgbench output file.
pgb_tps() {
	sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$1" | head -1
}

# Average latency (ms) from a pgbench output file.
pgb_lat() {
	sed -n 's/^latency average = \([0-9.]*\) ms/\1/p' "$1" | head -1
}

# Average latency (ms) of the Nth statement (1-based) of a pgbench -r file.
pgb_stmt_lat() {
	awk -v n="$2" '
		/statement latencies in milliseconds/ { on = 1; next }
		on && $1 ~ /^[0-9.]+$/ { if (++i == n) { print $1; exit } }
	' "$1"
}

# Percentile (0-100) of transaction latency, in ms, from pgbench -l logs.
# Usage: pgb_log_pct PCT FILE...
pgb_log_pct() {
	local pct=$1
	shift
	cat "$@" | awk '{ print $3 / 1000.0 }' | sort -g |
		awk -v p="$pct" '{ v[NR] = $1 }
			END { if (NR == 0) { print "nan"; exit }
				  i = int(NR * p / 100.0 + 0.999999); if (i < 1) i = 1;
				  if (i > NR) i = NR; printf "%.3f\n", v[i] }'
}

# "median [min..max]" of the numbers given, with FMT for each.
# Usage: med_spread FMT N...
med_spread() {
	local fmt=$1
	shift
	printf '%s\n' "$@" | sort -g | awk -v f="$fmt" '
		{ v[NR] = $1 }
		END {
			if (NR == 0) { print "n/a"; exit }
			m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			printf(f " [" f ".." f "]\n", m, v[1], v[NR])
		}'
}

# Median alone.
median() {
	printf '%s\n' "$@" | sort -g | awk '
		{ v[NR] = $1 }
		END { if (NR == 0) { print "nan"; exit }
			  print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# a / b with 2 decimals.
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "nan";
		else printf "%.2f\n", a / b }'
}

# Peak and current memory of a process: "VmHWM=... VmRSS=... RssAnon=...".
proc_mem() {
	awk '/^(VmHWM|VmRSS|RssAnon|RssShmem):/ {
		sub(/:$/, "", $1); printf "%s=%s%s ", $1, $2, $3 }' \
		"/proc/$1/status" | sed 's/ $//'
}

# One kB value (VmHWM, RssAnon, ...) of a process.
proc_kb() {
	awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"
}

# Create the runner "bench-runner" of organization acme and a login role
# bench_runner (member of bluebricks_api) whose request.jwt.claims are that
# runner's, as the gateway would set them.  Sets RUNNER, RUNNER_NAME,
# RUNNER_PASSWORD and CLAIMS.
bench_make_runner() {
	local json
	json=$(bench_psql -tAc \
		"SELECT bluebricks.create_runner('bench-runner', 'acme')")
	RUNNER=$(jq -r .runner <<<"$json")
	RUNNER_NAME=$(jq -r .username <<<"$json")
	RUNNER_PASSWORD=$(jq -r .password <<<"$json")
	CLAIMS=$(bench_psql -tAc "SELECT bluebricks.authenticate_basic(
		'$RUNNER_NAME', '$RUNNER_PASSWORD')")
	bench_psql <<SQL
CREATE ROLE bench_runner LOGIN IN ROLE bluebricks_api;
ALTER ROLE bench_runner SET request.jwt.claims = '$CLAIMS';
SQL
}

# Create a task of acme with N deployments (batches of 1,000), move them
# and the task to planning, and print the task id.  The environment must
# exist (bench/sql/floor.sql creates it).
bench_make_task() {
	local n=$1 tid a b
	tid=$(bench_psql -tAc "SELECT bluebricks.create_task('{\"command\":
		\"install\", \"organization\": \"acme\", \"user\": \"bench\",
		\"environment\": \"f27d96be-c486-4075-a926-0ee96775119e\"}')")
	bench_psql -c "SELECT bluebricks.set_task_status('$tid', 'planning')" \
		>/dev/null
	for action in '' planning; do
		for ((a = 1; a <= n; a += 1000)); do
			b=$((a + 999 < n ? a + 999 : n))
			bench_psql -c "SELECT bluebricks.add_deployments('$tid',
				(SELECT jsonb_agg(jsonb_build_object('package',
					jsonb_build_object('name', 'pkg-' || g,
						'version', '1.0.0', 'uniqueId', 'uid-' || g,
						'type', 'blueprint'))
					|| CASE WHEN '$action' = '' THEN '{}'::jsonb
						ELSE jsonb_build_object('action', '$action') END
					ORDER BY g)
				 FROM generate_series($a, $b) g))" >/dev/null
		done
	done
	echo "$tid"
}

BENCH_GATEWAY=$BENCH_REPO/gateway/bluebricks-gateway

# Build the gateway if it is missing and its Makefile can; return 1 when
# there is no gateway binary after that.
bench_have_gateway() {
	if [ ! -x "$BENCH_GATEWAY" ] && [ -f "$BENCH_REPO/gateway/Makefile" ]; then
		make -s -C "$BENCH_REPO/gateway" >/dev/null 2>&1 || true
	fi
	[ -x "$BENCH_GATEWAY" ]
}

# Start the gateway on 127.0.0.1:PORT with POOL connections as login role
# bench_gateway (a member of bluebricks_api); sets BENCH_GATEWAY_PID.
bench_start_gateway() {
	local port=$1 pool=$2
	bench_psql -c "DO \$\$ BEGIN
		IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'bench_gateway')
		THEN CREATE ROLE bench_gateway LOGIN IN ROLE bluebricks_api; END IF;
		END \$\$"
	say "+ BLUEBRICKS_LISTEN=127.0.0.1:$port" \
		"BLUEBRICKS_DATABASE_URL='host=$PGHOST port=$PGPORT dbname=bench" \
		"user=bench_gateway' BLUEBRICKS_POOL_SIZE=$pool $BENCH_GATEWAY"
	BLUEBRICKS_LISTEN=127.0.0.1:$port \
		BLUEBRICKS_DATABASE_URL="host=$PGHOST port=$PGPORT dbname=bench user=bench_gateway" \
		BLUEBRICKS_POOL_SIZE=$pool \
		"$BENCH_GATEWAY" >"$BENCH_RESULTS/$BENCH_NAME-gateway.log" 2>&1 &
	BENCH_GATEWAY_PID=$!
	for _ in $(seq 50); do
		curl -s -o /dev/null "http://127.0.0.1:$port/" && return 0
		kill -0 "$BENCH_GATEWAY_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "gateway did not start; see $BENCH_RESULTS/$BENCH_NAME-gateway.log" >&2
	tail -5 "$BENCH_RESULTS/$BENCH_NAME-gateway.log" >&2
	return 1
}

# Stop the gateway started by bench_start_gateway.
bench_stop_gateway() {
	if [ -n "${BENCH_GATEWAY_PID:-}" ]; then
		kill "$BENCH_GATEWAY_PID" 2>/dev/null || true
		wait "$BENCH_GATEWAY_PID" 2>/dev/null || true
		BENCH_GATEWAY_PID=
	fi
}

# Latency percentile (e.g. 99%) from wrk --latency output, in ms.
wrk_pct() {
	awk -v p="$2" '$1 == p {
		v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v)
		if (u == "us") v /= 1000; else if (u == "s") v *= 1000
		else if (u == "m") v *= 60000
		printf "%.3f\n", v; exit }' "$1"
}

# Requests a second from wrk output.
wrk_rps() {
	sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$1"
}

# Non-2xx answers counted by wrk (0 when none).
wrk_errors() {
	local n
	n=$(sed -n 's/^ *Non-2xx or 3xx responses: *\([0-9]*\).*/\1/p' "$1")
	echo "${n:-0}"
}

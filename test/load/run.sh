#!/bin/bash
# test/load/run.sh
#	Load and fault tests of bluebricks_task through bluebricks-gateway:
#	runners claim, plan and install tasks while people read, approve and
#	cancel them, some runners stop answering, and the database, its
#	backends and the gateway are killed under the load; then SQL checks
#	(test/load/checks.sql) prove that no task was lost, doubled or leaked.
#	Slow clients (stalled headers, idle connections, slow bodies) run
#	against the gateway while a normal request's latency is measured.
#
# Environment:
#	PGHOST, PGPORT, PGUSER  a running cluster where bluebricks_task is
#	                        installed (a superuser, e.g. postgres).
#	BB_CLUSTER_DIR          that cluster's directory as scripts/cluster.sh
#	                        knows it; needed to kill and restart the
#	                        postmaster (that fault is skipped without it).
#	BB_LOAD                 short (default: 8 runners, 600 tasks, one
#	                        backend killed, one staller, a small slow-client
#	                        round) or long (8 then 32 runners, 2,000 tasks
#	                        each; backend, postmaster and gateway killed;
#	                        1,000 idle connections).
#	BB_GATEWAY              gateway binary (default gateway/bluebricks-gateway).
#	BB_LOAD_PORTS           gateway ports to try (default 28100-28149).
#
# The database bb_load_test is dropped and created afresh, with a login
# role bb_load_test (member of bluebricks_api) for the gateway.  Prints each
# check, then "N passed, M failed"; exits non-zero on any failure.

set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
mode=${BB_LOAD:-short}
gateway=${BB_GATEWAY:-$root/gateway/bluebricks-gateway}
ports=${BB_LOAD_PORTS:-$(seq 28100 28149)}
db=bb_load_test
role=bb_load_test
org=load-org
env_id=4c0ad000-0000-4000-8000-000000000001
secret="load-test-secret-$RANDOM$RANDOM"
timeout=5
work=$(mktemp -d /tmp/bb_load_test.XXXXXX)
chmod 755 "$work"

passed=0
failed=0
gw_pid=
load_pid=

# A phase that has not gone idle by then is stopped, and the checks show
# what was left unfinished.
case $mode in
	short) max_seconds=60 ;;
	long) max_seconds=150 ;;
	*) echo "run.sh: BB_LOAD must be short or long, not $mode" >&2; exit 2 ;;
esac
for tool in curl jq openssl psql make; do
	command -v $tool >/dev/null || { echo "run.sh: $tool is required" >&2; exit 2; }
done
[ -x "$gateway" ] || { echo "run.sh: no gateway binary at $gateway" >&2; exit 2; }
make -s -C "$here" >/dev/null || { echo "run.sh: building bbload failed" >&2; exit 2; }
bbload=$here/bbload

cleanup() {
	[ -n "$load_pid" ] && kill "$load_pid" 2>/dev/null
	[ -n "$gw_pid" ] && kill "$gw_pid" 2>/dev/null && wait "$gw_pid" 2>/dev/null
	if [ "${BB_LOAD_KEEP:-}" = 1 ]; then
		echo "# kept $work" >&2
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT

# ---- reporting ---------------------------------------------------------

pass() { passed=$((passed + 1)); echo "ok - $1"; }
fail() {
	failed=$((failed + 1))
	echo "FAIL - $1"
	[ $# -gt 1 ] && echo "  $2" | head -c 2000 && echo
}
check() {
	if [ "$2" = "$3" ]; then pass "$1"; else
		fail "$1" "expected [$2], got [$3] ${4:-}"; fi
}
# check_le NAME LIMIT VALUE
check_le() {
	if [ "$3" -le "$2" ] 2>/dev/null; then pass "$1 ($3 <= $2)"; else
		fail "$1" "expected at most $2, got [$3]"; fi
}

# ---- JWT ---------------------------------------------------------------

b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
jwt() {
	local h p
	h=$(printf '%s' '{"alg":"HS256","typ":"JWT"}' | b64url)
	p=$(printf '%s' "$2" | b64url)
	printf '%s.%s.%s' "$h" "$p" \
		"$(printf '%s.%s' "$h" "$p" | openssl dgst -sha256 -hmac "$1" -binary | b64url)"
}
export BB_LOAD_JWT
BB_LOAD_JWT=$(jwt "$secret" "{\"sub\":\"operator\",\"org\":\"$org\",\"permissions\":[\"read:task\",\"update:task\",\"create:task\"],\"exp\":$(($(date +%s) + 7200))}")

# ---- database ----------------------------------------------------------

export PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning"
sql() { psql -X -qAt -v ON_ERROR_STOP=1 -d $db -c "$1"; }

psql -X -q -v ON_ERROR_STOP=1 -d postgres \
	-c "DROP DATABASE IF EXISTS $db WITH (FORCE)" \
	-c "CREATE DATABASE $db" >/dev/null || exit 2
psql -X -q -v ON_ERROR_STOP=1 -d $db >/dev/null <<SQL || exit 2
CREATE EXTENSION bluebricks_task;
DO \$\$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$role') THEN
		CREATE ROLE $role LOGIN;
	END IF;
END
\$\$;
GRANT bluebricks_api TO $role;
SELECT bluebricks.upsert_environment('{"id": "$env_id", "slug": "load",
	"name": "Load"}');
SQL
psql -X -q -v ON_ERROR_STOP=1 -d $db -f "$here/setup.sql" >/dev/null || exit 2

# ---- gateway -----------------------------------------------------------

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for port in $ports; do
	port_free "$port" && break
done
base=http://127.0.0.1:$port

start_gateway() {
	BLUEBRICKS_LISTEN=127.0.0.1:$port \
	BLUEBRICKS_DATABASE_URL="host=$PGHOST port=$PGPORT dbname=$db user=$role" \
	BLUEBRICKS_JWT_SECRET=$secret \
	BLUEBRICKS_POOL_SIZE=8 \
	BLUEBRICKS_REQUEST_TIMEOUT=$timeout \
		"$gateway" 2>>"$work/gateway.log" &
	gw_pid=$!
	for _ in $(seq 100); do
		curl -s -o /dev/null --max-time 2 "$base/healthz" && return 0
		sleep 0.1
	done
	echo "run.sh: gateway did not start:" >&2
	tail -5 "$work/gateway.log" >&2
	exit 2
}
start_gateway
echo "# mode $mode, gateway on $base (pid $gw_pid), database $db on port $PGPORT"

# ---- faults ------------------------------------------------------------

# SIGKILL one backend of the gateway: the postmaster resets every backend
# and recovers on its own.
kill_backend() {
	local pid
	pid=$(sql "SELECT pid FROM pg_stat_activity WHERE usename = '$role'
			   ORDER BY state = 'active' DESC, random() LIMIT 1")
	if [ -z "$pid" ]; then
		fail "fault: a gateway backend to kill" "none found"
		return
	fi
	kill -KILL "$pid" && echo "# fault: SIGKILL backend $pid"
	probe_unavailable "backend killed"
}

# While the database is away, /healthz answers 503 (or 200 once back)
# well within the request timeout: never a hang.
probe_unavailable() {
	local t0 code ms
	t0=$(date +%s%N)
	code=$(curl -s -o /dev/null -w '%{http_code}' --max-time $((timeout + 5)) \
		"$base/healthz")
	ms=$((($(date +%s%N) - t0) / 1000000))
	if { [ "$code" = 503 ] || [ "$code" = 200 ]; } &&
		[ "$ms" -le $((timeout * 1000 + 1000)) ]; then
		pass "$1: /healthz answers $code in ${ms} ms"
	else
		fail "$1: /healthz answers 503 or 200 within the timeout" \
			"got $code after ${ms} ms"
	fi
}

# SIGKILL the postmaster; its backends exit; start it again.
kill_postmaster() {
	local pm t0
	if [ -z "${BB_CLUSTER_DIR:-}" ] || [ ! -f "$root/scripts/cluster.sh" ]; then
		echo "skip - postmaster kill (BB_CLUSTER_DIR not set)"
		return
	fi
	. "$root/scripts/cluster.sh"
	pm=$(head -1 "$BB_CLUSTER_DIR/data/postmaster.pid")
	kill -KILL "$pm" && echo "# fault: SIGKILL postmaster $pm"
	sleep 0.3
	code=$(curl -s -o /dev/null -w '%{http_code}' --max-time $((timeout + 5)) \
		"$base/healthz")
	check "postmaster killed: /healthz answers 503" 503 "$code"
	sleep 1.5
	t0=$(date +%s)
	# Its backends notice and exit; until then the old shared memory is in
	# use and a new postmaster refuses to start.
	until bb_cluster_start "$BB_CLUSTER_DIR" "$PGPORT" 2>/dev/null; do
		if [ $(($(date +%s) - t0)) -gt 30 ]; then
			fail "postmaster restarts after SIGKILL"
			return
		fi
		sleep 0.5
	done
	pass "postmaster restarts after SIGKILL ($(($(date +%s) - t0)) s)"
}

# SIGKILL the gateway and start it again on the same port.
kill_gateway() {
	kill -KILL "$gw_pid" && echo "# fault: SIGKILL gateway $gw_pid"
	wait "$gw_pid" 2>/dev/null
	sleep 1
	start_gateway
	pass "gateway restarts after SIGKILL (pid $gw_pid)"
}

# ---- one load phase ----------------------------------------------------

phase=0

# run_phase RUNNERS TASKS STALLERS CREATE FAULT...
run_phase() {
	local runners=$1 tasks=$2 stallers=$3 create=$4
	shift 4
	local faults=("$@") out log f rc
	phase=$((phase + 1))
	log=$work/ack.$phase.tsv
	out=$work/load.$phase.out
	echo "# phase $phase: $runners runners, $tasks tasks, $stallers stallers," \
		"faults: ${faults[*]:-none}"

	sql "SELECT task_id || ' ' || kind FROM load.make_tasks($tasks, '$org',
		 '$env_id', $phase)" >"$work/tasks.$phase" || { fail "phase $phase: create tasks"; return; }
	sql "SELECT (r ->> 'username') || ' ' || (r ->> 'password')
		 FROM generate_series(1, $((runners + stallers))) i,
			  bluebricks.create_runner('load-$phase-' || i, '$org') r" \
		>"$work/runners.$phase" || { fail "phase $phase: create runners"; return; }

	"$bbload" run --port "$port" --tasks "$work/tasks.$phase" \
		--runners-file "$work/runners.$phase" --runners "$runners" \
		--stallers "$stallers" --readers 2 --lease 4 --stall-lease 2 \
		--idle-ms 6500 --max-seconds "$max_seconds" --hang-ms $((timeout * 1000 + 2000)) \
		--create "$create" --env "$env_id" --org "$org" \
		--log "$log" >"$out" 2>"$work/load.$phase.err" &
	load_pid=$!

	# Faults come every 3 s.  The short mode's tasks are enough to keep
	# the run going well past the stalled runner's two stalls (about 8 s):
	# a stall needs a pending task when it starts.
	local gap=3
	for f in "${faults[@]}"; do
		sleep "$gap"
		kill -0 "$load_pid" 2>/dev/null || break
		case $f in
			backend) kill_backend ;;
			postmaster) kill_postmaster ;;
			gateway) kill_gateway ;;
		esac
	done
	wait "$load_pid"
	rc=$?
	load_pid=
	check "phase $phase: driver exits 0" 0 "$rc" "$(tail -3 "$work/load.$phase.err")"
	sed 's/^/# /' "$out"
	grep -v '^bbload: an attempt took' "$work/load.$phase.err" | head -5 | sed 's/^/# stderr: /'

	local unexpected hangs late409 stalls gave_up
	unexpected=$(grep -o 'unexpected=[0-9]*' "$out" | cut -d= -f2)
	hangs=$(grep -o 'hangs=[0-9]*' "$out" | cut -d= -f2)
	gave_up=$(grep -o 'gave_up=[0-9]*' "$out" | cut -d= -f2)
	late409=$(grep -o 'late_409=[0-9]*' "$out" | cut -d= -f2)
	stalls=$(grep -o 'stalls=[0-9]*' "$out" | cut -d= -f2)
	check "phase $phase: no reply outside the expected statuses" 0 "${unexpected:-x}"
	check "phase $phase: no request hung past the request timeout" 0 "${hangs:-x}"
	check "phase $phase: no call gave up retrying" 0 "${gave_up:-x}"
	check "phase $phase: stalled runners (2 stalls each)" $((stallers * 2)) "${stalls:-x}"
	if [ "$stallers" -gt 0 ]; then
		check "phase $phase: late calls with the runner's credentials got 409" \
			$((stallers * 2)) "${late409:-x}"
		late_tt_409=$(grep -o 'late_tt_409=[0-9]*' "$out" | cut -d= -f2)
		check "phase $phase: late calls signed in with the task token got 409" \
			$((stallers * 2)) "${late_tt_409:-x}"
		echo "# phase $phase: late task-token calls: $(grep -o 'late_tt_409=[0-9]*' "$out"), $(grep -o 'late_tt_401=[0-9]*' "$out");" \
			"runners' task-token calls after their lease ended: $(grep -o 'token_401=[0-9]*' "$out")"
	fi

	# Leases of tasks nobody finished lapse now; everything is final after.
	sql "SELECT bluebricks.expire_leases()" >/dev/null
	sql "\\copy load.ack (call, attempt, kind, task, actor, first_us, send_us,
		 recv_us, http, target, extra) FROM '$log' WITH (NULL '-')" ||
		fail "phase $phase: load the driver's log"
	sql "UPDATE load.ack SET phase = $phase WHERE phase IS NULL"
	echo "# phase $phase: $(wc -l <"$log") logged attempts"
	run_checks "phase $phase" "$stallers"
}

# Run checks.sql; one pass or fail per row.
run_checks() {
	local label=$1 stallers=$2 name n sample
	psql -X -q -v ON_ERROR_STOP=1 -v stallers_expected="$stallers" -d $db \
		-f "$here/checks.sql" >"$work/checks.out" 2>&1 ||
		{ fail "$label: checks.sql runs" "$(tail -5 "$work/checks.out")"; return; }
	while IFS='|' read -r name n sample; do
		[ -z "$name" ] && continue
		case $name in
			info:*) echo "# $label ${name#info: }: $sample" ;;
			*)	if [ "$n" = 0 ]; then pass "$label: $name"; else
					fail "$label: $name" "$n violations, e.g. $sample"; fi ;;
		esac
	done <"$work/checks.out"
}

# ---- slow clients ------------------------------------------------------

# slow_round LABEL BBLOAD-SLOW-ARGS...: while the slow clients hold their
# connections, a normal request (GET status, from 127.0.0.1) keeps being
# answered, and fast.  Sets slow_out to the report.
slow_round() {
	local label=$1 ok fail_n max
	shift
	slow_out=$work/slow.$label.out
	"$bbload" slow --port "$port" --probe-path "/api/v1/task/$probe_task/status" \
		--probe-auth "Bearer $BB_LOAD_JWT" "$@" >"$slow_out" 2>&1
	sed 's/^/# /' "$slow_out"
	ok=$(grep -o ' ok=[0-9]*' "$slow_out" | cut -d= -f2)
	fail_n=$(grep -o ' fail=[0-9]*' "$slow_out" | cut -d= -f2)
	max=$(grep -o 'max_ms=[0-9]*' "$slow_out" | cut -d= -f2)
	check "$label: every normal request answered meanwhile" 0 "${fail_n:-x}"
	if [ "${ok:-0}" -gt 0 ]; then
		check_le "$label: worst latency of a normal request (ms)" 1000 "${max:-99999}"
	fi
	curl -s -o /dev/null --max-time 5 "$base/healthz" &&
		pass "$label: gateway serves after the slow clients left" ||
		fail "$label: gateway serves after the slow clients left"
}

# slow_closed LABEL GROUP: the gateway held every connection of the group
# until the request timeout (so none was refused at connect, which would
# prove nothing) and closed it within the request timeout and two seconds.
slow_closed() {
	local line open last
	line=$(grep "^slow: $2=" "$slow_out")
	open=$(grep -o ' open=[0-9]*' <<<"$line" | cut -d= -f2)
	last=$(grep -o 'last_close_s=[0-9]*' <<<"$line" | cut -d= -f2)
	if [ "${open:-x}" = 0 ] && [ "${last:-99}" -le $((timeout + 2)) ] &&
		[ "${last:-0}" -ge $((timeout - 1)) ]; then
		pass "$1: the gateway closes every $2 connection within the request timeout (${last} s)"
	else
		fail "$1: the gateway closes every $2 connection within the request timeout" "$line"
	fi
}

# slow_held_from ADDR: while a slow round runs, count the gateway's
# established connections from ADDR after two seconds, into the file
# slow_held, by a background job whose pid is slow_held_pid.
slow_held_from() {
	slow_held=$work/held.$1
	(sleep 2; ss -Htn state established "( sport = :$port )" dst "$1" |
		wc -l >"$slow_held") &
	slow_held_pid=$!
}

# ---- the phases --------------------------------------------------------

t_start=$(date +%s)
probe_task=
if [ "$mode" = short ]; then
	run_phase 8 600 1 10 backend
	probe_task=$(sql "SELECT task_id FROM bluebricks.task LIMIT 1")
	# 56 connections: below the gateway's 64 per client address, so the
	# probe from the same address still gets in
	slow_round "slow clients below the limits" --idle 30 --stall 16 \
		--drip-header 5 --drip 5 --seconds 3
else
	run_phase 8 2000 1 20 backend postmaster
	run_phase 32 2000 2 20 gateway backend
	probe_task=$(sql "SELECT task_id FROM bluebricks.task LIMIT 1")
	# 60 from one address, below the per-address limit: every one is
	# accepted and must be closed by the gateway's own timeouts (the
	# inactivity timeout, the receive watchdog for dripped headers, a 408
	# for a dripped body)
	slow_round "stalled and slow clients" --stall 20 --drip-header 20 \
		--drip 20 --source 127.0.0.3 --seconds $((timeout + 4))
	slow_closed "stalled and slow clients" stalled_header
	slow_closed "stalled and slow clients" dripped_header
	slow_closed "stalled and slow clients" dripped_body
	n=$(grep -c '" 408 .*reason="body still arriving' "$work/gateway.log")
	check "stalled and slow clients: every dripped body was answered 408" 20 "$n"
	# One address opening 1,000 connections gets the per-address limit of
	# them (64 by default) and locks nobody else out.
	slow_held_from 127.0.0.2
	slow_round "1,000 idle connections from 127.0.0.2" --idle 1000 \
		--source 127.0.0.2 --seconds 8
	wait "$slow_held_pid"
	check "1,000 idle connections from 127.0.0.2: the gateway holds 64 of them" \
		64 "$(cat "$slow_held" 2>/dev/null || echo x)"
fi

# Restarted or not, the gateway ends cleanly on SIGTERM.
kill -TERM "$gw_pid"
wait "$gw_pid"
check "gateway exits 0 on SIGTERM at the end" 0 "$?"
gw_pid=
grep -c 'libmicrohttpd' "$work/gateway.log" | sed 's/^/# libmicrohttpd log lines: /'
grep 'libmicrohttpd' "$work/gateway.log" | sort | uniq -c | sort -rn | head -3 | sed 's/^/#   /'

echo "# $mode mode took $(($(date +%s) - t_start)) s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

#!/bin/bash
# scripts/run.sh
#	Build, install and run bluebricks_task on a local cluster (`make run`).
#
# The cluster lives in ./.run and persists across runs; each run restarts
# it on 127.0.0.1:$BB_PORT (25432 unless set), makes sure the database
# bluebricks and the extension exist, loads the demo data of scripts/demo.sql
# once, and starts the HTTP gateway when it has been built.
#
# Environment:
#	BB_RUN_DIR       where the cluster and the gateway's files live
#	                 (default ./.run)
#	BB_PORT          PostgreSQL port (default 25432)
#	BB_GATEWAY_PORT  gateway port (default 8080)
#	BB_GATEWAY=0     do not build or start the gateway
#	BB_RESET=1       drop and recreate the database bluebricks first, e.g.
#	                 after the extension's install script changed

set -euo pipefail

cd "$(dirname "$0")/.."
repo=$(pwd)

port=${BB_PORT:-25432}
gateway_port=${BB_GATEWAY_PORT:-8080}
rundir=${BB_RUN_DIR:-$repo/.run}
db=bluebricks

if [ "$port" = 5432 ]; then
	echo "run: port 5432 belongs to the system's own cluster; pick another" \
		"with BB_PORT" >&2
	exit 1
fi

scripts/deps.sh
make -s with_llvm=no >/dev/null
make -s with_llvm=no install >/dev/null

# shellcheck source=scripts/cluster.sh
. scripts/cluster.sh

# Restart, so that a freshly installed library is the one loaded.
bb_cluster_stop "$rundir"
bb_cluster_start "$rundir"	"$port"
export PGHOST PGPORT PGUSER

bb_psql() {
	psql -X -q -v ON_ERROR_STOP=1 "$@"
}

if [ "${BB_RESET:-}" = 1 ]; then
	bb_psql -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)"
fi
if [ -z "$(bb_psql -d postgres -tAc \
	"SELECT 1 FROM pg_database WHERE datname = '$db'")" ]; then
	bb_psql -d postgres -c "CREATE DATABASE $db"
fi
PGOPTIONS='-c client_min_messages=warning' \
	bb_psql -d "$db" -c 'CREATE EXTENSION IF NOT EXISTS bluebricks_task'
bb_psql -d "$db" -f scripts/demo.sql

# ---- Gateway --------------------------------------------------------------
# Built when gateway/Makefile exists; started in the background when its
# binary is there, as login role bluebricks_gateway (a member of
# bluebricks_api), with a JWT secret kept in .run/jwt-secret and a demo
# runner whose credentials are kept in .run/demo-runner.json (create_runner
# returns a password only once, so that file is the one copy).
gateway=$repo/gateway/bluebricks-gateway
gateway_note=
sandbox=5a4db0c5-0000-4000-8000-00000000d3e0
if [ "${BB_GATEWAY:-1}" = 0 ]; then
	gateway_note="gateway: skipped (BB_GATEWAY=0)"
elif [ -f gateway/Makefile ]; then
	make -s -C gateway >/dev/null ||
		gateway_note="gateway: build failed (make -C gateway); skipped"
fi
if [ -z "$gateway_note" ] && [ -x "$gateway" ]; then
	# Stop the gateway this script started last time, by its pid.
	if [ -f "$rundir/gateway.pid" ]; then
		old=$(cat "$rundir/gateway.pid")
		if [ -n "$old" ] && kill -0 "$old" 2>/dev/null &&
			grep -q bluebricks-gateway "/proc/$old/cmdline" 2>/dev/null; then
			kill "$old"
			for _ in 1 2 3 4 5 6 7 8 9 10; do
				kill -0 "$old" 2>/dev/null || break
				sleep 0.2
			done
		fi
		rm -f "$rundir/gateway.pid"
	fi

	bb_psql -d "$db" -c "DO \$\$ BEGIN
		IF NOT EXISTS (SELECT FROM pg_roles
					   WHERE rolname = 'bluebricks_gateway') THEN
			CREATE ROLE bluebricks_gateway LOGIN IN ROLE bluebricks_api;
		END IF;
	END \$\$"
	if [ ! -s "$rundir/jwt-secret" ]; then
		( umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' \
			>"$rundir/jwt-secret" )
	fi
	# A sandbox environment for the walkthrough, so that its runner never
	# leases the reference's own demo task.
	bb_psql -d "$db" -c "SELECT bluebricks.upsert_environment('{
		\"id\": \"$sandbox\", \"slug\": \"sandbox\",
		\"name\": \"Sandbox\", \"color\": \"#00aa00\"}')" >/dev/null
	if [ ! -s "$rundir/demo-runner.json" ]; then
		# The runner serves the demo organization's sandbox.
		runner=$(bb_psql -d "$db" -tAc \
			"SELECT bluebricks.create_runner('demo-runner', 'text',
				ARRAY['$sandbox']::uuid[])")
		( umask 077; printf '%s\n' "$runner" >"$rundir/demo-runner.json" )
	fi

	BLUEBRICKS_LISTEN=127.0.0.1:$gateway_port \
	BLUEBRICKS_DATABASE_URL="host=$PGHOST port=$port dbname=$db user=bluebricks_gateway" \
	BLUEBRICKS_JWT_SECRET=$(cat "$rundir/jwt-secret") \
		nohup "$gateway" >>"$rundir/gateway.log" 2>&1 </dev/null &
	echo $! >"$rundir/gateway.pid"
	sleep 0.5
	if ! kill -0 "$(cat "$rundir/gateway.pid")" 2>/dev/null; then
		echo "run: the gateway exited at once; see $rundir/gateway.log" >&2
		tail -20 "$rundir/gateway.log" >&2
		exit 1
	fi
elif [ -z "$gateway_note" ]; then
	gateway_note="gateway: not built ($gateway is missing); skipped"
fi
# ---- end of gateway -------------------------------------------------------

cat <<EOF

bluebricks_task is running on 127.0.0.1:$port (data in $rundir).

Connect:
  psql -h $PGHOST -p $port -U postgres -d $db
  (or: psql -h 127.0.0.1 -p $port -U postgres -d $db)

Sample query:
  SELECT jsonb_pretty(bluebricks.task_status(
      '123e4567-e89b-12d3-a456-426614174000', expand => true));

Stop (the gateway too; the data stays):
  make stop
EOF

if [ -n "$gateway_note" ]; then
	echo
	echo "$gateway_note"
else
	name=$(jq -r '.username // empty' "$rundir/demo-runner.json" \
		2>/dev/null || true)
	password=$(jq -r '.password // empty' "$rundir/demo-runner.json" \
		2>/dev/null || true)
	# shellcheck source=scripts/jwt.sh
	. scripts/jwt.sh
	exp=$(( $(date +%s) + 30 * 24 * 3600 ))
	perms='"read:task","update:task","create:task","create:deployment","delete:deployment"'
	jwt=$(bb_jwt_hs256 "$(cat "$rundir/jwt-secret")" \
		"{\"sub\":\"demo-user\",\"org\":\"text\",\"exp\":$exp,\"permissions\":[$perms]}")
	url=http://127.0.0.1:$gateway_port
	demo=123e4567-e89b-12d3-a456-426614174000
	ctype="-H 'Content-Type: application/json'"
	cat <<EOF

Gateway on $url (pid $(cat "$rundir/gateway.pid"), log $rundir/gateway.log).

Credentials (the JWT: org "text", every permission, valid 30 days):
  export BB_URL=$url
  export BB_RUNNER='$name:$password'
  export BB_JWT='$jwt'
  export BB_ENV=$sandbox

Every route (the demo runner serves the sandbox environment \$BB_ENV, so
it sees the tasks made there, not the reference's demo task; the last two
commands cancel and delete the demo task, which the next make run reloads):
  curl -s -H "Authorization: Bearer \$BB_JWT" $ctype -d '{"command": "install", "environment": "'\$BB_ENV'"}' \$BB_URL/api/v1/tasks
  curl -s -u "\$BB_RUNNER" \$BB_URL/api/v1/tasks
  curl -s -u "\$BB_RUNNER" $ctype -d '{"limit": 1, "lease_seconds": 300}' \$BB_URL/api/v1/tasks/claim
  curl -s -H "Authorization: Bearer \$BB_JWT" \$BB_URL/api/v1/task/$demo
  curl -s -H "Authorization: Bearer \$BB_JWT" "\$BB_URL/api/v1/task/$demo/status?expand=true"
  curl -s -H "Authorization: Bearer \$BB_JWT" $ctype -d '{"status": "canceled", "error": "not today"}' \$BB_URL/api/v1/task/$demo/status
  curl -s -u "\$TASK:\$TOKEN" $ctype -d '[{"package": {"name": "my-app", "version": "1.2.3", "uniqueId": "my-unique-id", "type": "blueprint"}, "action": "planning"}]' \$BB_URL/api/v1/task/\$TASK/deployments
  curl -s -H "Authorization: Bearer \$BB_JWT" -X DELETE \$BB_URL/api/v1/task/$demo
  curl -s \$BB_URL/healthz
  curl -s \$BB_URL/api/v1/openapi.json
(\$TASK and \$TOKEN: the taskId and token a claim returned.)

A task from pending to completed through HTTP alone, each command shown:
  scripts/walkthrough.sh
EOF
fi

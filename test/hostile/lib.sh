# test/hostile/lib.sh
#	Setup shared by the hostile-input test (run.sh) and the leak check
#	(valgrind.sh): a cluster, a test database with runners and tasks, a
#	gateway on a loopback port, JWTs and a checksum of the stored rows.
#	Sourced, not run.
#
# Terms: org-a and org-b are the two organizations of the test data; runner
# ra and ra2 belong to org-a, rb to org-b.  "The checksum" is an md5 over the
# text of every row of every bluebricks table, read as a superuser (who is
# not subject to row-level security): equal checksums before and after a
# request mean it wrote nothing.
#
# Environment:
#	PGHOST, PGPORT, PGUSER  a running cluster with bluebricks_task installed;
#	                        without them one is started here, on the first
#	                        free port of HS_CLUSTER_PORTS (25460-25469).
#	BB_GATEWAY              gateway binary (default gateway/bluebricks-gateway).
#	HS_GATEWAY_PORTS        ports tried for the gateway (28150-28199).
#	HS_GATEWAY_WRAPPER      command put before the gateway (e.g. valgrind).

hs_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
hs_root=$(cd "$hs_here/../.." && pwd)
hs_gateway=${BB_GATEWAY:-$hs_root/gateway/bluebricks-gateway}
hs_db=${HS_DB:-bb_hostile_test}
hs_role=bb_hostile_test
hs_secret="hostile-secret-$RANDOM$RANDOM$RANDOM"
hs_work=$(mktemp -d /tmp/bb_hostile.XXXXXX)
chmod 755 "$hs_work"
hs_own_cluster=
gw_pid=

for tool in curl jq openssl psql; do
	command -v $tool >/dev/null || { echo "hostile: $tool is required" >&2; exit 2; }
done
[ -x "$hs_gateway" ] || { echo "hostile: no gateway binary at $hs_gateway" >&2; exit 2; }

# Stop what was started here and remove the scratch directory.
hs_cleanup() {
	if [ -n "$gw_pid" ]; then
		kill "$gw_pid" 2>/dev/null
		wait "$gw_pid" 2>/dev/null
	fi
	if [ -n "$hs_own_cluster" ]; then
		bb_cluster_stop "$hs_own_cluster"
	fi
	rm -rf "$hs_work"
}
trap hs_cleanup EXIT

# Whether nothing answers on 127.0.0.1:port.
hs_port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Use the cluster of PGHOST/PGPORT, or start one of our own.
hs_cluster() {
	# shellcheck source=../../scripts/cluster.sh
	. "$hs_root/scripts/cluster.sh"
	if [ -n "${PGHOST:-}" ] && [ -n "${PGPORT:-}" ]; then
		export PGUSER=${PGUSER:-postgres}
		return 0
	fi
	local p
	for p in ${HS_CLUSTER_PORTS:-$(seq 25460 25469)}; do
		hs_port_free "$p" || continue
		hs_own_cluster=$hs_work/cluster
		if bb_cluster_start "$hs_own_cluster" "$p"; then
			return 0
		fi
		bb_cluster_stop "$hs_own_cluster"
		rm -rf "$hs_own_cluster"
		hs_own_cluster=
	done
	echo "hostile: could not start a cluster" >&2
	exit 2
}

export PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning"
sql() { psql -X -qAt -v ON_ERROR_STOP=1 -d "$hs_db" -c "$1"; }

# A fresh test database with the extension and the gateway's login role.
hs_database() {
	psql -X -q -v ON_ERROR_STOP=1 -d postgres \
		-c "DROP DATABASE IF EXISTS $hs_db" -c "CREATE DATABASE $hs_db" \
		>/dev/null || exit 2
	psql -X -q -v ON_ERROR_STOP=1 -d "$hs_db" >/dev/null <<SQL || exit 2
CREATE EXTENSION bluebricks_task;
DO \$\$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$hs_role') THEN
		CREATE ROLE $hs_role LOGIN;
	END IF;
END
\$\$;
GRANT bluebricks_api TO $hs_role;
-- Canary: an injected statement that ran would drop or empty it.
CREATE TABLE public.hostile_canary (n int);
INSERT INTO public.hostile_canary VALUES (1), (2), (3);
SQL
}

# The checksum of every bluebricks row, and the canary's row count.
hs_checksum() {
	sql "SELECT md5(coalesce(string_agg(r, E'\n' ORDER BY r), ''))
		|| ' ' || (SELECT count(*) FROM public.hostile_canary)
		FROM (SELECT 'task ' || t::text AS r FROM bluebricks.task t
		UNION ALL SELECT 'deployment ' || d::text FROM bluebricks.deployment d
		UNION ALL SELECT 'dep ' || x::text FROM bluebricks.deployment_dependency x
		UNION ALL SELECT 'hist ' || h::text FROM bluebricks.stage_history h
		UNION ALL SELECT 'claim ' || c::text FROM bluebricks.claim_log c
		UNION ALL SELECT 'env ' || e::text FROM bluebricks.environment e
		UNION ALL SELECT 'user ' || u::text FROM bluebricks.environment_user u
		UNION ALL SELECT 'role ' || o::text FROM bluebricks.environment_user_role o
		UNION ALL SELECT 'cloud ' || a::text FROM bluebricks.cloud_account a
		UNION ALL SELECT 'runner ' || n::text FROM bluebricks.runner n) s"
}

# ---- JWT ---------------------------------------------------------------

b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }

# jwt SECRET PAYLOAD [HEADER]: an HS256 token.
jwt() {
	local h p
	h=$(printf '%s' "${3:-{\"alg\":\"HS256\",\"typ\":\"JWT\"}}" | b64url)
	p=$(printf '%s' "$2" | b64url)
	printf '%s.%s.%s' "$h" "$p" \
		"$(printf '%s.%s' "$h" "$p" | openssl dgst -sha256 -hmac "$1" -binary | b64url)"
}

hs_now=$(date +%s)
hs_perms='["read:task","update:task","create:task","create:deployment","delete:deployment"]'
# jwt_for ORG: a token with every permission in ORG, valid for an hour.
jwt_for() {
	jwt "$hs_secret" "{\"sub\":\"hostile\",\"org\":\"$1\",\"permissions\":$hs_perms,\"exp\":$((hs_now + 3600))}"
}

# ---- test data ---------------------------------------------------------

# Runners, an environment and tasks; a task of org-a leased to ra, one
# leased to ra2, one of org-b leased to rb.  Sets the variables the cases
# name: ra_user ra_pass ra2_user ra2_pass rb_user rb_pass env_a task_a
# token_a task_y token_y task_b token_b task_free.
hs_data() {
	local r
	r=$(sql "SELECT bluebricks.create_runner('hs-ra', 'org-a')") || exit 2
	ra_user=$(jq -r .username <<<"$r") ra_pass=$(jq -r .password <<<"$r")
	r=$(sql "SELECT bluebricks.create_runner('hs-ra2', 'org-a')") || exit 2
	ra2_user=$(jq -r .username <<<"$r") ra2_pass=$(jq -r .password <<<"$r")
	r=$(sql "SELECT bluebricks.create_runner('hs-rb', 'org-b')") || exit 2
	rb_user=$(jq -r .username <<<"$r") rb_pass=$(jq -r .password <<<"$r")
	env_a=$(sql "SELECT bluebricks.upsert_environment('{\"id\": \"f27d96be-c486-4075-a926-0ee96775119e\", \"slug\": \"prod\", \"name\": \"Prod\"}')") || exit 2
	local mk="SELECT bluebricks.create_task('{\"command\": \"install\", \"planOnly\": false, \"user\": \"u\", \"organization\": \"ORG\", \"environment\": \"$env_a\"}')"
	task_a=$(sql "${mk/ORG/org-a}") || exit 2
	token_a=$(sql "SELECT bluebricks.claim_tasks((SELECT id FROM bluebricks.runner WHERE name = 'hs-ra'), 1, '1 hour') -> 0 ->> 'token'") || exit 2
	task_y=$(sql "${mk/ORG/org-a}") || exit 2
	token_y=$(sql "SELECT bluebricks.claim_tasks((SELECT id FROM bluebricks.runner WHERE name = 'hs-ra2'), 1, '1 hour') -> 0 ->> 'token'") || exit 2
	task_b=$(sql "${mk/ORG/org-b}") || exit 2
	token_b=$(sql "SELECT bluebricks.claim_tasks((SELECT id FROM bluebricks.runner WHERE name = 'hs-rb'), 1, '1 hour') -> 0 ->> 'token'") || exit 2
	task_free=$(sql "${mk/ORG/org-a}") || exit 2
	for v in ra_pass ra2_pass rb_pass task_a token_a task_y token_y task_b token_b task_free; do
		if [ -z "${!v}" ] || [ "${!v}" = null ]; then
			echo "hostile: test data incomplete: $v is empty" >&2
			exit 2
		fi
	done
}

# ---- gateway -----------------------------------------------------------

# Start the gateway on the first free port; sets base and gw_pid.
hs_gateway_start() {
	local p
	for p in ${HS_GATEWAY_PORTS:-$(seq 28150 28199)}; do
		hs_port_free "$p" && break
	done
	base=http://127.0.0.1:$p
	BLUEBRICKS_LISTEN=127.0.0.1:$p \
	BLUEBRICKS_DATABASE_URL="host=$PGHOST port=$PGPORT dbname=$hs_db user=$hs_role" \
	BLUEBRICKS_JWT_SECRET=$hs_secret \
	BLUEBRICKS_POOL_SIZE=${HS_POOL_SIZE:-2} \
	BLUEBRICKS_REQUEST_TIMEOUT=${HS_REQUEST_TIMEOUT:-20} \
		${HS_GATEWAY_WRAPPER:-} "$hs_gateway" 2>"$hs_work/gateway.log" &
	gw_pid=$!
	for _ in $(seq 300); do
		curl -s -o /dev/null --max-time 2 "$base/healthz" && return 0
		kill -0 "$gw_pid" 2>/dev/null || break
		sleep 0.1
	done
	echo "hostile: gateway did not start:" >&2
	cat "$hs_work/gateway.log" >&2
	exit 2
}

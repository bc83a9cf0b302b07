#!/bin/bash
# test/gateway/run.sh
#	End-to-end tests of bluebricks-gateway: real HTTP requests (curl, on
#	loopback only) against a gateway started here, backed by the
#	bluebricks_task extension in a database of its own.
#
# Environment:
#	PGHOST, PGPORT, PGUSER  a running cluster where bluebricks_task is
#	                        installed (a superuser, e.g. postgres).
#	BB_CLUSTER_DIR          that cluster's directory as scripts/cluster.sh
#	                        knows it; needed by the tests that stop and
#	                        restart the database (skipped without it).
#	BB_GATEWAY              gateway binary (default gateway/bluebricks-gateway).
#	BB_GATEWAY_PORTS        ports to try, first free wins (default
#	                        28080-28099).
#	BB_GATEWAY_TEST_SQL     SQL file run in the test database instead of
#	                        CREATE EXTENSION bluebricks_task (to test the
#	                        gateway alone against a stand-in schema).
#
# The test database bb_gateway_test is dropped and created afresh, with a
# login role bb_gateway_test (member of bluebricks_api) for the gateway.
# JWTs are minted with openssl.  Needs curl, jq and openssl.  Prints each
# check, then "N passed, M failed"; exits non-zero on any failure.

set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
examples=$here/examples
gateway=${BB_GATEWAY:-$root/gateway/bluebricks-gateway}
ports=${BB_GATEWAY_PORTS:-$(seq 28080 28099)}
db=bb_gateway_test
role=bb_gateway_test
secret="gateway-test-secret-$RANDOM$RANDOM"
work=$(mktemp -d /tmp/bb_gateway_test.XXXXXX)
chmod 755 "$work"

passed=0
failed=0
gw_pid=

for tool in curl jq openssl psql; do
	command -v $tool >/dev/null || { echo "run.sh: $tool is required" >&2; exit 2; }
done
[ -x "$gateway" ] || { echo "run.sh: no gateway binary at $gateway" >&2; exit 2; }

cleanup() {
	[ -n "$gw_pid" ] && kill "$gw_pid" 2>/dev/null && wait "$gw_pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

# ---- reporting ---------------------------------------------------------

pass() { passed=$((passed + 1)); echo "ok - $1"; }
fail() {
	failed=$((failed + 1))
	echo "FAIL - $1"
	[ $# -gt 1 ] && echo "  $2" | head -c 2000 && echo
}
skip() { echo "skip - $1"; }

# check NAME EXPECTED ACTUAL [context]
check() {
	if [ "$2" = "$3" ]; then pass "$1"; else
		fail "$1" "expected [$2], got [$3] ${4:-$BODY}"; fi
}

# ---- HTTP --------------------------------------------------------------

# req METHOD PATH [curl args...]: sets STATUS, BODY, HDRS (header file).
req() {
	local method=$1 path=$2
	shift 2
	HDRS=$work/headers
	STATUS=$(curl -s -o "$work/body" -D "$HDRS" -w '%{http_code}' \
		-X "$method" --max-time 60 "$@" "$base$path")
	BODY=$(cat "$work/body")
	if [ "$STATUS" != 000 ] && [ -s "$work/body" ] &&
		! grep -qi '^content-type: application/json' "$HDRS"; then
		fail "$method $path answers with Content-Type application/json" \
			"$(cat "$HDRS")"
	fi
}

header() { grep -i "^$1:" "$HDRS" | head -1 | cut -d' ' -f2- | tr -d '\r'; }
headers_all() { grep -i "^$1:" "$HDRS" | cut -d' ' -f2- | tr -d '\r'; }

# Body must be an error of this status with this code and the exact shape.
check_error() {
	local name=$1 status=$2 code=$3
	check "$name: status $status" "$status" "$STATUS"
	check "$name: error code $code" "$code" "$(jq -r '.error.code' <<<"$BODY" 2>/dev/null)"
	local want='["code","hint","message"]'
	[ "$status" = 500 ] && want='["code","hint","message","request_id"]'
	check "$name: error body shape" "$want" \
		"$(jq -c '[.error | keys[]]' <<<"$BODY" 2>/dev/null)"
}

# Keys of every object of an example must equal those of the reply at the
# same place (where the reply also has an object there).  Free-form maps
# (cloud_config, secrets, payload) are not compared.
check_keys() {
	local name=$1 example=$2 got=$3 diff
	diff=$(jq -n --slurpfile ex "$example" --argjson got "$got" '
		$ex[0] as $e
		| ([[]] + [$e | paths(type == "object")])
		| map(select(any(.[]; . == "cloud_config" or . == "secrets"
						 or . == "payload") | not))
		| map(. as $p | select(($got | getpath($p) | type) == "object")
			  | {path: $p,
				 missing: (($e | getpath($p) | keys) - ($got | getpath($p) | keys)),
				 extra: (($got | getpath($p) | keys) - ($e | getpath($p) | keys))})
		| map(select(.missing != [] or .extra != []))' 2>&1)
	if [ "$diff" = "[]" ]; then pass "$name: keys match the reference"; else
		fail "$name: keys match the reference" "$diff"; fi
}

# Every key of the example's top-level object is in the reply (an
# expanded reply may add more).
check_superset() {
	local name=$1 example=$2 got=$3 missing
	missing=$(jq -c -n --slurpfile ex "$example" --argjson got "$got" \
		'($ex[0] | keys) - ($got | keys)' 2>&1)
	if [ "$missing" = "[]" ]; then pass "$name: has every key of the reference"
	else fail "$name: has every key of the reference" "missing $missing"; fi
}

# ---- JWT ---------------------------------------------------------------

b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }

# jwt SECRET PAYLOAD [ALG-HEADER]
jwt() {
	local h p
	h=$(printf '%s' "${3:-{\"alg\":\"HS256\",\"typ\":\"JWT\"}}" | b64url)
	p=$(printf '%s' "$2" | b64url)
	printf '%s.%s.%s' "$h" "$p" \
		"$(printf '%s.%s' "$h" "$p" | openssl dgst -sha256 -hmac "$1" -binary | b64url)"
}

now=$(date +%s)
all_perms='["read:task","update:task","create:task","create:deployment","delete:deployment"]'
tok_a=$(jwt "$secret" "{\"sub\":\"alice\",\"org\":\"org-a\",\"permissions\":$all_perms,\"exp\":$((now + 3600))}")
tok_a_scope=$(jwt "$secret" "{\"sub\":\"alice\",\"org\":\"org-a\",\"scope\":\"read:task update:task\",\"exp\":$((now + 3600))}")
tok_a_noread=$(jwt "$secret" "{\"sub\":\"alice\",\"org\":\"org-a\",\"permissions\":[\"update:task\",\"create:task\"],\"exp\":$((now + 3600))}")
tok_expired=$(jwt "$secret" "{\"sub\":\"alice\",\"org\":\"org-a\",\"permissions\":$all_perms,\"exp\":$((now - 60))}")
tok_future=$(jwt "$secret" "{\"sub\":\"alice\",\"org\":\"org-a\",\"permissions\":$all_perms,\"nbf\":$((now + 600))}")
tok_wrong=$(jwt "wrong-$secret" "{\"sub\":\"alice\",\"org\":\"org-a\",\"permissions\":$all_perms,\"exp\":$((now + 3600))}")
tok_noorg=$(jwt "$secret" "{\"sub\":\"alice\",\"permissions\":$all_perms,\"exp\":$((now + 3600))}")
tok_none="$(printf '{"alg":"none","typ":"JWT"}' | b64url).$(printf '%s' "{\"sub\":\"alice\",\"org\":\"org-a\",\"permissions\":$all_perms}" | b64url)."
bearer() { echo "Authorization: Bearer $1"; }

# ---- database ----------------------------------------------------------

export PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning"
psql_q() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }
sql() { psql -X -qAt -v ON_ERROR_STOP=1 -d $db -c "$1"; }

psql_q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" \
	>/dev/null || exit 2
if [ -n "${BB_GATEWAY_TEST_SQL:-}" ]; then
	psql_q -d $db -f "$BB_GATEWAY_TEST_SQL" >/dev/null || exit 2
else
	psql_q -d $db -c "CREATE EXTENSION bluebricks_task" || exit 2
fi
psql_q -d $db >/dev/null <<SQL || exit 2
DO \$\$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$role') THEN
		CREATE ROLE $role LOGIN;
	END IF;
END
\$\$;
GRANT bluebricks_api TO $role;
SQL

runner_a=$(sql "SELECT bluebricks.create_runner('gw-runner-a', 'org-a')") || exit 2
runner_b=$(sql "SELECT bluebricks.create_runner('gw-runner-b', 'org-b')") || exit 2
ra_user=$(jq -r '.username // .name' <<<"$runner_a")
ra_pass=$(jq -r .password <<<"$runner_a")
rb_user=$(jq -r '.username // .name' <<<"$runner_b")
rb_pass=$(jq -r .password <<<"$runner_b")
if [ "$ra_pass" = null ] || [ -z "$ra_pass" ]; then
	echo "run.sh: create_runner returned no password: $runner_a" >&2
	exit 2
fi

# ---- gateway -----------------------------------------------------------

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start_gateway() {
	local p
	for p in $ports; do
		port_free "$p" && break
	done
	port=$p
	base=http://127.0.0.1:$port
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
		-out "$work/rsa.pem" 2>/dev/null
	openssl pkey -in "$work/rsa.pem" -pubout -out "$work/rsa.pub" 2>/dev/null
	BLUEBRICKS_LISTEN=127.0.0.1:$port \
	BLUEBRICKS_DATABASE_URL="host=$PGHOST port=$PGPORT dbname=$db user=$role password=not-used-$RANDOM" \
	BLUEBRICKS_JWT_SECRET=$secret \
	BLUEBRICKS_JWT_PUBLIC_KEY=$work/rsa.pub \
	BLUEBRICKS_POOL_SIZE=4 \
	BLUEBRICKS_REQUEST_TIMEOUT=10 \
		"$gateway" 2>"$work/gateway.log" &
	gw_pid=$!
	for _ in $(seq 50); do
		curl -s -o /dev/null "$base/healthz" && return 0
		sleep 0.1
	done
	echo "run.sh: gateway did not start:" >&2
	cat "$work/gateway.log" >&2
	exit 2
}

start_gateway
echo "# gateway on $base, pid $gw_pid"

# ---- startup, health, OpenAPI ------------------------------------------

startline=$(head -1 "$work/gateway.log")
case $startline in
	*"listening on 127.0.0.1:$port"*"dbname=$db"*) pass "start line names address and database" ;;
	*) fail "start line names address and database" "$startline" ;;
esac
case $startline in
	*"password=****"*) pass "start line masks the password" ;;
	*) fail "start line masks the password" "$startline" ;;
esac

req GET /healthz
check "GET /healthz" 200 "$STATUS"
check "GET /healthz body" '{"status":"ok"}' "$(jq -c . <<<"$BODY")"

req GET /api/v1/openapi.json
check "GET openapi.json" 200 "$STATUS"
check "openapi.json is OpenAPI 3" 3 "$(jq -r '.openapi | split(".")[0]' <<<"$BODY")"
spec_routes=$(jq -r '.paths | to_entries[] | .key as $p | .value | keys[]
	| select(. as $m | ["get","post","put","delete","patch"] | index($m))
	| "\(ascii_upcase) \($p)"' <<<"$BODY" | sort)
table_routes=$("$gateway" --routes | sort)
check "openapi.json paths and methods equal the route table" \
	"$table_routes" "$spec_routes"

# Every documented route is served (neither 404 nor 405 from routing).
while read -r m p; do
	path=${p//\{taskId\}/00000000-0000-0000-0000-000000000000}
	req "$m" "$path" -H "$(bearer "$tok_a")" -H 'Content-Type: application/json' -d '{}'
	[ "$m" = GET ] && req "$m" "$path" -H "$(bearer "$tok_a")"
	if [ "$STATUS" != 405 ] && { [ "$STATUS" != 404 ] || [ "$(jq -r .error.code <<<"$BODY")" != not_found ] ||
		[ "$(jq -r .error.message <<<"$BODY")" != "no such route" ]; }; then
		pass "route $m $p is served"
	else
		fail "route $m $p is served" "$STATUS $BODY"
	fi
done <<<"$table_routes"

# Keep-alive: two requests over one connection.
conns=$(curl -s -o /dev/null -o /dev/null -w '%{num_connects}\n' \
	"$base/healthz" "$base/healthz" | awk '{ s += $1 } END { print s }')
check "keep-alive: two requests, one connection" 1 "$conns"

# ---- the routes on the reference's examples ----------------------------

task_body=$(jq -c '{command, planOnly, user, organization: "org-a",
	environment: (.environment | .users[0].email = "john.doe@example.com"),
	props, secrets, decryptionKeyId}' "$examples/task.json")

req POST /api/v1/tasks -H "$(bearer "$tok_a")" -H 'Content-Type: application/json' -d "$task_body"
check "POST /api/v1/tasks" 201 "$STATUS"
check "POST /api/v1/tasks body keys" '["taskId"]' "$(jq -c keys <<<"$BODY")"
task1=$(jq -r .taskId <<<"$BODY")
check "POST /api/v1/tasks Location" "/api/v1/task/$task1" "$(header Location)"

req POST /api/v1/tasks -H "$(bearer "$tok_a")" -d "$task_body"
task2=$(jq -r .taskId <<<"$BODY")
check "POST /api/v1/tasks (second task)" 201 "$STATUS"

req GET "/api/v1/task/$task1" -H "$(bearer "$tok_a")"
check "GET /api/v1/task/{id} (bearer)" 200 "$STATUS"
check_keys "GET /api/v1/task/{id}" "$examples/task.json" "$BODY"
check "GET /api/v1/task/{id} taskId" "$task1" "$(jq -r .taskId <<<"$BODY")"
check "GET /api/v1/task/{id} stage" pending "$(jq -r .stage <<<"$BODY")"

req GET "/api/v1/task/$task1" -H "$(bearer "$tok_a_scope")"
check "GET /api/v1/task/{id} with scope claim" 200 "$STATUS"

req GET "/api/v1/task/$task1" -u "$ra_user:$ra_pass"
check "GET /api/v1/task/{id} (runner of the same organization)" 200 "$STATUS"

req GET "/api/v1/task/$task1/status" -H "$(bearer "$tok_a")"
check "GET status" 200 "$STATUS"
check_keys "GET status" "$examples/status_get.json" "$BODY"
req GET "/api/v1/task/$task1/status?expand=false" -H "$(bearer "$tok_a")"
check "GET status?expand=false" 200 "$STATUS"
check_keys "GET status?expand=false" "$examples/status_get.json" "$BODY"
req GET "/api/v1/task/$task1/status?expand=true" -H "$(bearer "$tok_a")"
check "GET status?expand=true" 200 "$STATUS"
check_superset "GET status?expand=true" "$examples/status_get.json" "$BODY"
req GET "/api/v1/task/$task1/status" -u "$ra_user:$ra_pass"
check "GET status (runner, no expand)" 200 "$STATUS"
check "GET status task" "$task1" "$(jq -r .task <<<"$BODY")"

req GET /api/v1/tasks -u "$ra_user:$ra_pass"
check "GET /api/v1/tasks (runner)" 200 "$STATUS"
check "GET /api/v1/tasks lists both tasks" 2 \
	"$(jq --arg a "$task1" --arg b "$task2" '[.[] | select(.taskId == $a or .taskId == $b)] | length' <<<"$BODY")"
check_keys "GET /api/v1/tasks" "$examples/pending.json" "$BODY"
req GET /api/v1/tasks -H "$(bearer "$tok_a")"
check "GET /api/v1/tasks (bearer)" 200 "$STATUS"
req GET /api/v1/tasks -u "$rb_user:$rb_pass"
check "GET /api/v1/tasks (runner of another organization) sees none of them" 0 \
	"$(jq --arg a "$task1" '[.[] | select(.taskId == $a)] | length' <<<"$BODY")"

req POST /api/v1/tasks/claim -u "$ra_user:$ra_pass" -d '{"limit": 1, "lease_seconds": 120}'
check "POST /api/v1/tasks/claim" 200 "$STATUS"
check "claim returns one task" 1 "$(jq length <<<"$BODY")"
check_keys "POST /api/v1/tasks/claim" "$examples/pending.json" "$BODY"
claimed=$(jq -r '.[0].taskId' <<<"$BODY")
token=$(jq -r '.[0].token' <<<"$BODY")
check "claim takes the oldest task" "$task1" "$claimed"
[ -n "$token" ] && [ "$token" != null ] && pass "claim returns a token" || fail "claim returns a token" "$BODY"

req POST "/api/v1/task/$task1/deployments" -u "$task1:$token" \
	-H 'Content-Type: application/json' --data-binary "@$examples/deployments_request.json"
check "POST deployments (task token)" 200 "$STATUS"
check_keys "POST deployments" "$examples/deployments.json" "$BODY"
check "POST deployments returns one id" 1 "$(jq length <<<"$BODY")"

req POST "/api/v1/task/$task1/status" -u "$task1:$token" \
	-H 'Content-Type: application/json' --data-binary "@$examples/status_request.json"
check "POST status (reference example, task token)" 200 "$STATUS"
check_keys "POST status" "$examples/status_post.json" "$BODY"
check "POST status status" pending "$(jq -r .status <<<"$BODY")"

req POST "/api/v1/task/$task1/status?expand=true" -u "$task1:$token" \
	-d '{"status": "planning"}'
check "POST status?expand=true to planning" 200 "$STATUS"
check_superset "POST status?expand=true" "$examples/status_post.json" "$BODY"
check "POST status moved to planning" planning "$(jq -r .status <<<"$BODY")"

req POST "/api/v1/task/$task1/status" -u "$ra_user:$ra_pass" \
	-d "{\"status\": \"planning\", \"token\": \"$token\"}"
check "POST status (runner password, token in body)" 200 "$STATUS"

req GET "/api/v1/task/$task1" -u "$task1:$token"
check "GET task after deployments" 200 "$STATUS"
check_keys "GET task with a deployment" "$examples/task.json" "$BODY"
check "GET task lists the deployment" 1 "$(jq '.deployments | length' <<<"$BODY")"

# ---- error statuses ----------------------------------------------------

# 400
req GET /api/v1/task/not-a-uuid -H "$(bearer "$tok_a")"
check_error "invalid uuid in path" 400 invalid_input
req GET "/api/v1/task/$task1/status?expand=maybe" -H "$(bearer "$tok_a")"
check_error "invalid expand" 400 invalid_input
req POST "/api/v1/task/$task1/status" -H "$(bearer "$tok_a")" -d '{"status": '
check_error "malformed JSON body" 400 invalid_input
req POST "/api/v1/task/$task1/status" -H "$(bearer "$tok_a")" -d '{"status": "bogus"}'
check_error "unknown stage (22P02 from the database)" 400 invalid_input
req POST /api/v1/tasks -H "$(bearer "$tok_a")" -d '{"command": '
check_error "malformed task JSON (database)" 400 invalid_input
req POST /api/v1/tasks -H "$(bearer "$tok_a")"
check_error "empty body" 400 invalid_input

# 401
req GET "/api/v1/task/$task1"
check_error "no credentials" 401 unauthorized
check "no credentials: challenges" $'Basic realm="bluebricks"\nBearer' "$(headers_all WWW-Authenticate)"
req GET "/api/v1/task/$task1" -u "$ra_user:wrong-password"
check_error "wrong runner password (BB009)" 401 bad_credentials
check "BB009: challenges" $'Basic realm="bluebricks"\nBearer' "$(headers_all WWW-Authenticate)"
req GET "/api/v1/task/$task1" -H "$(bearer "$tok_expired")"
check_error "expired JWT" 401 unauthorized
req GET "/api/v1/task/$task1" -H "$(bearer "$tok_future")"
check_error "JWT not valid yet (nbf)" 401 unauthorized
req GET "/api/v1/task/$task1" -H "$(bearer "$tok_wrong")"
check_error "JWT with the wrong secret" 401 unauthorized
req GET "/api/v1/task/$task1" -H "$(bearer "$tok_none")"
check_error "JWT with alg none" 401 unauthorized
req GET "/api/v1/task/$task1" -H "$(bearer "$tok_noorg")"
check_error "JWT without org" 401 unauthorized
req GET "/api/v1/task/$task1" -H "Authorization: Digest abc"
check_error "unknown scheme" 401 unauthorized
req GET "/api/v1/task/$task1" -H "Authorization: Basic !!!"
check_error "undecodable basic credentials" 401 unauthorized

# RS256 with the configured public key; an HS256 token keyed with that
# public key (algorithm confusion) is refused.
rs_h=$(printf '{"alg":"RS256","typ":"JWT"}' | b64url)
rs_p=$(printf '%s' "{\"sub\":\"rob\",\"org\":\"org-a\",\"permissions\":[\"read:task\"],\"exp\":$((now + 600))}" | b64url)
rs_s=$(printf '%s.%s' "$rs_h" "$rs_p" | openssl dgst -sha256 -sign "$work/rsa.pem" -binary | b64url)
req GET "/api/v1/task/$task1" -H "$(bearer "$rs_h.$rs_p.$rs_s")"
check "RS256 JWT" 200 "$STATUS"
tok_confused=$(jwt "$(cat "$work/rsa.pub")" "{\"sub\":\"eve\",\"org\":\"org-a\",\"permissions\":$all_perms}")
req GET "/api/v1/task/$task1" -H "$(bearer "$tok_confused")"
check_error "HS256 JWT keyed with the RSA public key" 401 unauthorized

# 403
req GET "/api/v1/task/$task1" -H "$(bearer "$tok_a_noread")"
check_error "JWT without read:task" 403 permission_denied
req DELETE "/api/v1/task/$task1" -H "$(bearer "$tok_a_scope")"
check_error "JWT without delete:deployment" 403 permission_denied
req POST /api/v1/tasks/claim -H "$(bearer "$tok_a")" -d '{}'
check_error "claim with a bearer token" 403 permission_denied
req POST /api/v1/tasks -u "$ra_user:$ra_pass" -d "$task_body"
check_error "runner creating a task" 403 permission_denied

# 404
req GET /api/v1/nothing-here -H "$(bearer "$tok_a")"
check_error "unknown route" 404 not_found
req GET "/api/v1/task/$task1" -u "$rb_user:$rb_pass"
check_error "runner of another organization" 404 not_found
req GET /api/v1/task/0b0e0b0e-0000-4000-8000-000000000000 -H "$(bearer "$tok_a")"
check_error "unknown task (BB001)" 404 not_found

# 405
req DELETE /api/v1/tasks -H "$(bearer "$tok_a")"
check_error "DELETE /api/v1/tasks" 405 method_not_allowed
check "405 Allow header" "GET, POST" "$(header Allow)"
req PUT "/api/v1/task/$task1/status" -H "$(bearer "$tok_a")"
check "405 Allow on status" "GET, POST" "$(header Allow)"

# 409
req POST "/api/v1/task/$task1/status" -u "$ra_user:$ra_pass" \
	-d '{"status": "planned", "token": "0000000000000000000000000000000000000000000000000000000000000000"}'
check_error "wrong lease token (BB003)" 409 lease_conflict
req POST "/api/v1/task/$task1/status" -u "$ra_user:$ra_pass" -d '{"status": "planned"}'
check_error "runner without the token of a live lease (BB003)" 409 lease_conflict

req POST /api/v1/tasks/claim -u "$ra_user:$ra_pass" -d '{"limit": 1, "lease_seconds": 1}'
short_task=$(jq -r '.[0].taskId' <<<"$BODY")
short_token=$(jq -r '.[0].token' <<<"$BODY")
check "claim with a one-second lease" "$task2" "$short_task"
sleep 2.2
req POST "/api/v1/task/$task2/status" -u "$ra_user:$ra_pass" \
	-d "{\"status\": \"planning\", \"token\": \"$short_token\"}"
check_error "stale lease token after the lease lapsed (BB003)" 409 lease_conflict

req POST "/api/v1/task/$task2/status" -H "$(bearer "$tok_a")" -d '{"status": "canceled"}'
check "cancel a task (bearer)" 200 "$STATUS"
req POST "/api/v1/task/$task2/status" -H "$(bearer "$tok_a")" -d '{"status": "plan_approved"}'
check_error "move out of a final stage (BB002)" 409 invalid_transition
hint=$(jq -r .error.hint <<<"$BODY")
[ -n "$hint" ] && [ "$hint" != null ] && pass "BB002 passes the database's hint" || fail "BB002 passes the database's hint" "$BODY"
case $(jq -r .error.message <<<"$BODY") in
	*"$task2"*) pass "BB002 passes the database's message" ;;
	*) fail "BB002 passes the database's message" "$BODY" ;;
esac

dup_body=$(jq -c --arg id "$task2" '. + {taskId: $id}' <<<"$task_body")
req POST /api/v1/tasks -H "$(bearer "$tok_a")" -d "$dup_body"
check_error "duplicate task id (BB008)" 409 duplicate_task

# 413
head -c $((2 * 1024 * 1024)) /dev/zero | tr '\0' ' ' >"$work/big.json"
req POST /api/v1/tasks -H "$(bearer "$tok_a")" -H 'Content-Type: application/json' \
	--data-binary "@$work/big.json"
check_error "2 MiB body against the 1 MiB limit" 413 body_too_large
req POST /api/v1/tasks -H "$(bearer "$tok_a")" -H 'Transfer-Encoding: chunked' \
	--data-binary "@$work/big.json"
check_error "2 MiB chunked body" 413 body_too_large
req GET /healthz
check "gateway serves after 413s" 200 "$STATUS"

# 422
req POST /api/v1/tasks -H "$(bearer "$tok_a")" -d '{"planOnly": false}'
check_error "task without a command (BB005)" 422 invalid_field
req POST /api/v1/tasks/claim -u "$ra_user:$ra_pass" -d '{"limit": "many"}'
check_error "claim limit not an integer" 422 invalid_field
req POST "/api/v1/task/$task1/status" -H "$(bearer "$tok_a")" -d '{"error": "x"}'
check_error "status missing" 422 invalid_field

# DELETE (after the error checks that need the task)
req DELETE "/api/v1/task/$task2" -H "$(bearer "$tok_a")"
check "DELETE /api/v1/task/{id}" 200 "$STATUS"
check_keys "DELETE /api/v1/task/{id}" "$examples/delete.json" "$BODY"
check "DELETE names the task" "$task2" "$(jq -r .task <<<"$BODY")"
req GET "/api/v1/task/$task2" -H "$(bearer "$tok_a")"
check_error "deleted task is gone" 404 not_found

# 500: the function disappears under a fresh connection.
sql "ALTER FUNCTION bluebricks.task(uuid) RENAME TO task_gateway_test_renamed"
sql "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = '$role'" >/dev/null
sleep 0.3
req GET "/api/v1/task/$task1" -H "$(bearer "$tok_a")"
check_error "database fault" 500 internal
rid=$(jq -r .error.request_id <<<"$BODY")
check "500 message is generic" "internal error" "$(jq -r .error.message <<<"$BODY")"
check "500 request_id equals X-Request-Id" "$(header X-Request-Id)" "$rid"
grep -q "request_id=$rid" "$work/gateway.log" && pass "500 request id is in the log" ||
	fail "500 request id is in the log" "$(tail -3 "$work/gateway.log")"
case $BODY in
	*"does not exist"*|*task_gateway_test_renamed*) fail "500 hides the database's text" "$BODY" ;;
	*) pass "500 hides the database's text" ;;
esac
sql "ALTER FUNCTION bluebricks.task_gateway_test_renamed(uuid) RENAME TO task"
sql "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = '$role'" >/dev/null
sleep 0.3
req GET "/api/v1/task/$task1" -H "$(bearer "$tok_a")"
check "recovers after the fault is repaired" 200 "$STATUS"

# ---- robustness --------------------------------------------------------

for h in "Basic" "Bearer" "Bearer a.b" "Bearer ..." "Bearer $(head -c 300 /dev/urandom | b64url)" \
	"Basic $(printf 'no-colon' | b64url)" "Basic $(printf '\xff\xfe:x' | openssl base64 -A)" \
	"Bearer $(printf '{"alg":"HS256"}' | b64url).$(printf '[1]' | b64url).x" ; do
	req GET "/api/v1/task/$task1" -H "Authorization: $h"
	[ "$STATUS" = 401 ] || fail "odd Authorization [$h] gives 401" "$STATUS $BODY"
done
req POST "/api/v1/task/$task1/status" -H "$(bearer "$tok_a")" --data-binary $'{"status":"\xff"}'
check "invalid UTF-8 body" 400 "$STATUS"
req POST "/api/v1/task/$task1/deployments" -H "$(bearer "$tok_a")" --data-binary '[1,2'
check "malformed deployments JSON" 400 "$STATUS"
req GET "/api/v1/task/$(head -c 5000 /dev/zero | tr '\0' a)" -H "$(bearer "$tok_a")"
check "very long task id" 400 "$STATUS"
req GET "/api/v1/task/%00%ff/status" -H "$(bearer "$tok_a")"
[ "$STATUS" -ge 400 ] && [ "$STATUS" -lt 500 ] && pass "escaped bytes in the path" || fail "escaped bytes in the path" "$STATUS"
for _ in $(seq 20); do
	head -c $((RANDOM % 3000)) /dev/urandom >"$work/rand"
	curl -s -o /dev/null --max-time 5 -X POST -H "$(bearer "$tok_a")" \
		--data-binary "@$work/rand" "$base/api/v1/task/$task1/status" || true
	curl -s -o /dev/null --max-time 5 -X POST -u "$ra_user:$ra_pass" \
		--data-binary "@$work/rand" "$base/api/v1/tasks/claim" || true
done
req GET /healthz
if kill -0 "$gw_pid" 2>/dev/null && [ "$STATUS" = 200 ]; then
	pass "gateway alive after odd input"; else fail "gateway alive after odd input"; fi

# Log lines: one per request, with method, path, status, ms, request id.
grep -Eq '^[0-9T:.-]+Z GET "/healthz" 200 [0-9.]+ms request_id=[0-9a-f]{16}$' "$work/gateway.log" &&
	pass "request log line format" || fail "request log line format" "$(tail -3 "$work/gateway.log")"

# ---- the database stopped under the gateway: 503, then recovery --------

if [ -n "${BB_CLUSTER_DIR:-}" ] && [ -f "$root/scripts/cluster.sh" ]; then
	. "$root/scripts/cluster.sh"
	saved_pghost=$PGHOST saved_pgport=$PGPORT
	bb_cluster_stop "$BB_CLUSTER_DIR"
	req GET "/api/v1/task/$task1" -H "$(bearer "$tok_a")"
	check_error "database stopped" 503 unavailable
	req GET /healthz
	check_error "healthz with the database stopped" 503 unavailable
	req GET /api/v1/task/not-a-uuid -H "$(bearer "$tok_a")"
	check_error "invalid uuid answered without the database" 400 invalid_input
	req GET "/api/v1/task/$task1" -H "$(bearer "$tok_a_noread")"
	check_error "permission checked without the database" 403 permission_denied
	bb_cluster_start "$BB_CLUSTER_DIR" "$saved_pgport" || fail "restart the cluster"
	export PGHOST=$saved_pghost PGPORT=$saved_pgport
	req GET /healthz
	check "healthz after the database is back" 200 "$STATUS"
	req GET "/api/v1/task/$task1" -H "$(bearer "$tok_a")"
	check "requests work again without restarting the gateway" 200 "$STATUS"
else
	skip "database stop/start (BB_CLUSTER_DIR not set)"
fi

# ---- SIGTERM drains requests in flight ---------------------------------

# A request held up by a row lock is in flight when SIGTERM arrives.
req POST /api/v1/tasks -H "$(bearer "$tok_a")" -d "$task_body"
task3=$(jq -r .taskId <<<"$BODY")
check "POST /api/v1/tasks (task to cancel during shutdown)" 201 "$STATUS"
psql -X -q -d $db >/dev/null 2>&1 <<SQL &
BEGIN;
SELECT 1 FROM bluebricks.task WHERE task_id = '$task3' FOR UPDATE;
SELECT pg_sleep(2);
COMMIT;
SQL
locker=$!
sleep 0.5
curl -s -o "$work/inflight" -w '%{http_code}' --max-time 30 -X POST \
	-H "$(bearer "$tok_a")" -d '{"status": "canceled"}' \
	"$base/api/v1/task/$task3/status" >"$work/inflight.status" &
inflight=$!
sleep 0.5
t0=$(date +%s.%N)
kill -TERM "$gw_pid"
sleep 0.3
if curl -s -o /dev/null --max-time 2 "$base/healthz"; then
	fail "no new connections after SIGTERM"; else pass "no new connections after SIGTERM"; fi
wait "$gw_pid"
rc=$?
gw_pid=
wait "$inflight"
wait "$locker"
check "gateway exits 0 after SIGTERM" 0 "$rc"
check "request in flight at SIGTERM completes" 200 "$(cat "$work/inflight.status")"
check "its body is the status" canceled "$(jq -r .status "$work/inflight" 2>/dev/null)"
grep -q 'stopped' "$work/gateway.log" && pass "shutdown is logged" || fail "shutdown is logged"

echo "# gateway log: $(wc -l <"$work/gateway.log") lines"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

#!/bin/bash
# test/hostile/valgrind.sh
#	Leak check of bluebricks-gateway: the gateway runs under valgrind
#	(memcheck, --leak-check=full) while a few thousand mixed requests are
#	sent to it (successes, every kind of 4xx, 413s, database errors, lost
#	connections that it must reopen), then gets SIGTERM; the run fails on
#	any definite leak, any memory error, or an exit status other than 0.
#
# Environment: as lib.sh, plus HS_VG_ROUNDS (default 6): rounds of about
# 500 requests each.  Needs valgrind.  Prints one line per check and ends
# with "N passed, M failed".

set -u

. "$(cd "$(dirname "$0")" && pwd)/lib.sh"

command -v valgrind >/dev/null || { echo "valgrind.sh: valgrind is required" >&2; exit 2; }

rounds=${HS_VG_ROUNDS:-6}
vglog=$hs_work/valgrind.log
passed=0
failed=0
pass() { passed=$((passed + 1)); echo "ok - $1"; }
fail() {
	failed=$((failed + 1))
	echo "FAIL - $1"
	[ $# -gt 1 ] && printf '  %s\n' "$(head -c 3000 <<<"$2")"
}

hs_cluster
hs_database
hs_data
HS_REQUEST_TIMEOUT=60 \
HS_GATEWAY_WRAPPER="valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite --num-callers=30 --log-file=$vglog" \
	hs_gateway_start
echo "# gateway under valgrind on $base (pid $gw_pid)"

bearer="Authorization: Bearer $(jwt_for org-a)"
runner="Authorization: Basic $(printf '%s:%s' "$ra_user" "$ra_pass" | openssl base64 -A)"
tok="Authorization: Basic $(printf '%s:%s' "$task_a" "$token_a" | openssl base64 -A)"
head -c $((1536 * 1024)) /dev/zero | tr '\0' ' ' >"$hs_work/big.json"
{ head -c 5000 /dev/zero | tr '\0' '['; head -c 5000 /dev/zero | tr '\0' ']'; } >"$hs_work/deep.json"
items='[{"package": {"name": "vg-a", "uniqueId": "vg-a", "type": "artifact"}, "dependencies": {"direct": ["vg-b"]}}, {"package": {"name": "vg-b", "uniqueId": "vg-b", "type": "artifact"}, "payload": {"plan_file": "p"}}]'
task_body="{\"command\": \"install\", \"planOnly\": false, \"user\": \"vg\", \"organization\": \"org-a\", \"environment\": \"$env_a\"}"

# One curl config of n requests: url, method, headers and body per
# request, "next" between them.  Each entry: METHOD PATH AUTH [BODY|@FILE].
entry() {
	local method=$1 path=$2 auth=$3 body=${4:-}
	printf 'next\nurl = "%s%s"\nrequest = "%s"\noutput = "/dev/null"\n' "$base" "$path" "$method"
	printf 'write-out = "%%{http_code}\\n"\n'
	[ -n "$auth" ] && printf 'header = "%s"\n' "$auth"
	if [ -n "$body" ]; then
		printf 'header = "Content-Type: application/json"\n'
		case $body in
			@*) printf 'data-binary = "%s"\n' "$body" ;;
			*) printf 'data-binary = "%s"\n' "$(sed 's/\\/\\\\/g; s/"/\\"/g' <<<"$body")" ;;
		esac
	fi
}

# About 500 requests of every kind.
round_config() {
	local i
	for i in $(seq 20); do
		entry GET /healthz ""
		entry GET /api/v1/openapi.json ""
		entry GET "/api/v1/task/$task_a" "$bearer"
		entry GET "/api/v1/task/$task_a/status?expand=true" "$bearer"
		entry GET "/api/v1/task/$task_a/status?expand=maybe" "$bearer"
		entry GET /api/v1/tasks "$runner"
		entry GET /api/v1/tasks "$bearer"
		entry POST "/api/v1/task/$task_a/status" "$tok" '{"status": "pending", "error": "again"}'
		entry POST "/api/v1/task/$task_a/status" "$tok" '{"status": "completed"}'
		entry POST "/api/v1/task/$task_a/status" "$tok" '{"status": "bogus"}'
		entry POST "/api/v1/task/$task_a/status" "$tok" '{"status": '
		entry POST "/api/v1/task/$task_a/deployments" "$tok" "$items"
		entry POST "/api/v1/task/$task_a/deployments" "$tok" '[{"package": {"name": 5}}]'
		entry POST "/api/v1/task/$task_a/deployments" "$tok" '[{"package": {"name": "c1", "uniqueId": "c1", "type": "artifact"}, "dependencies": {"direct": "c2"}}, {"package": {"name": "c2", "uniqueId": "c2", "type": "artifact"}, "dependencies": {"direct": "c1"}}]'
		entry POST "/api/v1/task/$task_a/deployments" "$tok" "@$hs_work/deep.json"
		entry POST /api/v1/tasks "$bearer" "$task_body"
		entry POST /api/v1/tasks "$bearer" '{"command": "install", "user": "u\u0000"}'
		entry POST /api/v1/tasks/claim "$runner" '{"limit": "x"}'
		entry POST /api/v1/tasks/claim "$bearer" '{}'
		entry GET "/api/v1/task/$task_b" "$bearer"
		entry GET "/api/v1/task/$task_a" "Authorization: Basic $(printf 'hs-ra:wrong' | openssl base64 -A)"
		entry GET "/api/v1/task/$task_a" "Authorization: Bearer $(gen_jwt_none)"
		entry GET "/api/v1/task/$task_a" "Authorization: Basic !!!"
		entry GET "/api/v1/task/$task_a%2Fstatus" "$bearer"
		entry GET /api/v1/nothing "$bearer"
		entry PUT /api/v1/tasks "$bearer"
	done
	entry POST /api/v1/tasks "$bearer" "@$hs_work/big.json"
	entry POST "/api/v1/task/$task_a/deployments" "$tok" "@$hs_work/big.json"
}

gen_jwt_none() {
	printf '%s.%s.' "$(printf '{"alg":"none"}' | b64url)" \
		"$(printf '{"org":"org-a","permissions":["read:task"]}' | b64url)"
}

sent=0
for r in $(seq "$rounds"); do
	round_config | tail -n +2 >"$hs_work/round.conf"	# no leading "next"
	n=$(grep -c '^url' "$hs_work/round.conf")
	# two clients at once, so both worker threads serve
	curl -s --max-time 600 -K "$hs_work/round.conf" \
		>"$hs_work/codes.$r.a" 2>/dev/null &
	c1=$!
	curl -s --max-time 600 -K "$hs_work/round.conf" \
		>"$hs_work/codes.$r.b" 2>/dev/null
	wait "$c1"
	sent=$((sent + 2 * n))
	# every other round the database drops the gateway's connections
	if [ $((r % 2)) = 0 ]; then
		sql "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
			WHERE usename = '$hs_role'" >/dev/null
	fi
	echo "# round $r: $((2 * n)) requests"
done
cat "$hs_work"/codes.* >"$hs_work/codes"
answered=$(grep -cv '^000$' "$hs_work/codes")
echo "# statuses: $(sort "$hs_work/codes" | uniq -c | tr '\n' ' ')"
if [ "$answered" -ge $((sent * 99 / 100)) ]; then pass "gateway answered $answered of $sent requests"
else fail "gateway answered $answered of $sent requests"; fi
if grep -q '^500$' "$hs_work/codes"; then
	fail "no 500 among the answers" "$(grep -E ' 500 ' "$hs_work/gateway.log" | head -5)"
else pass "no 500 among the answers"; fi

kill -TERM "$gw_pid"
wait "$gw_pid"
rc=$?
gw_pid=
if [ "$rc" = 0 ]; then pass "gateway exits 0 on SIGTERM under valgrind"
else fail "gateway exits 0 on SIGTERM under valgrind" "exit $rc: $(tail -5 "$hs_work/gateway.log")"; fi

echo "# $(grep -E 'definitely lost|indirectly lost|possibly lost|still reachable|ERROR SUMMARY' "$vglog" | sed 's/^==[0-9]*== *//' | tr '\n' ';')"
definite=$(sed -n 's/.*definitely lost: \([0-9,]*\) bytes.*/\1/p' "$vglog" | tr -d ,)
if grep -q 'All heap blocks were freed' "$vglog" || [ "${definite:-x}" = 0 ]; then
	pass "valgrind: no definite leak"
else
	fail "valgrind: no definite leak" "$(grep -B2 -A30 'definitely lost in' "$vglog" | head -80)"
fi
if grep -qE 'Invalid (read|write|free)|uninitialised|Mismatched free|overlap' "$vglog"; then
	fail "valgrind: no memory error" "$(grep -A20 -E 'Invalid (read|write|free)|uninitialised|Mismatched|overlap' "$vglog" | head -60)"
else pass "valgrind: no memory error"; fi
if [ -n "${HS_VG_LOG:-}" ]; then cp "$vglog" "$HS_VG_LOG"; fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

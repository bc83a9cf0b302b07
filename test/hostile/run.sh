#!/bin/bash
# test/hostile/run.sh
#	Hostile-input test of bluebricks-gateway: each case of cases.tsv is sent
#	to a gateway started here (loopback only) and must get exactly the
#	status and error code the table names, in the error shape
#	{"error": {"code", "message", "hint"}}, without a crash and without
#	writing anything.
#
# cases.txt has one case a line, fields separated by "|" (so no field may
# hold one) with the spaces around them dropped; "#" starts a comment line:
#	name | method | path | auth | headers | body | status | code | check
# path and body may name {task} (org-a, leased to runner ra with {token}),
# {task_y} (org-a, leased to ra2 with {token_y}), {task_b} (org-b, leased
# to rb with {token_b}), {task_free} (org-a, not leased), {env} and {sqli}
# (a string of SQL fragments).  A body is "-" for none, the literal text,
# or @generator (see gen_body).  auth is none, bearer_a, bearer_b,
# runner_a, runner_a2, runner_b, tok_a (Basic {task}:{token}), raw:VALUE
# (the Authorization header as given) or @generator (see gen_auth).
# headers is "-" or @generator (see gen_headers).  code "-" expects no
# error body (a success); "@mhd" marks an answer that libmicrohttpd gives
# itself before the gateway sees the request (a request line or headers
# beyond its per-connection memory): only the status is checked, since
# libmicrohttpd 0.9.75 writes a fixed HTML body there.  check is
#	nowrite        the checksum of every bluebricks row is unchanged
#	stored:JQ      writes are allowed; the canary table is intact and JQ
#	               (given $sqli) holds on GET /api/v1/task/<id> (id from
#	               the reply's taskId, else the path's task)
#	stored_status:JQ  the same on GET /api/v1/task/<id>/status?expand=true
#
# Then slow senders, against a second gateway with a 2-second receive
# timeout and 4 connections per client address: a body sent a byte at a
# time is answered 408 request_timeout in time, headers sent a byte at a
# time get the connection closed in time, and a fifth connection from one
# address is refused while another address is served (skipped with
# HS_ONLY).
#
# Environment: see lib.sh.  Prints one line per check and ends with
# "N passed, M failed"; exits non-zero on any failure.

set -u

. "$(cd "$(dirname "$0")" && pwd)/lib.sh"

cases=${HS_CASES:-$hs_here/cases.txt}
sqli="x'); DROP TABLE public.hostile_canary; -- ' OR '1'='1 \$\$; DELETE FROM bluebricks.task; /*"
passed=0
failed=0

pass() { passed=$((passed + 1)); echo "ok - $1"; }
fail() {
	failed=$((failed + 1))
	echo "FAIL - $1"
	[ $# -gt 1 ] && printf '  %s\n' "$(head -c 1500 <<<"$2")"
}

# ---- generated inputs --------------------------------------------------

# gen_body NAME FILE: write the named body into FILE.
gen_body() {
	local name=$1 out=$2
	case $name in
		deep_array)		# 100,000 nested arrays
			{ head -c 100000 /dev/zero | tr '\0' '['
			  head -c 100000 /dev/zero | tr '\0' ']'; } >"$out" ;;
		deep_object)	# 100,000 nested objects in a deployment item
			{ printf '[{"package":{"name":"d","uniqueId":"d"},"payload":'
			  printf '{"a":%.0s' $(seq 100000)
			  printf '1'
			  head -c 100000 /dev/zero | tr '\0' '}'
			  printf '}]'; } >"$out" ;;
		deep_status)	# nesting under a known key of the status body
			{ printf '{"status":"planning","error":'
			  head -c 100000 /dev/zero | tr '\0' '['
			  head -c 100000 /dev/zero | tr '\0' ']'
			  printf '}'; } >"$out" ;;
		deep_task)		# nesting in the props of a task
			{ printf '{"command":"install","planOnly":false,"user":"u","organization":"org-a","environment":"%s","props":' "$env_a"
			  head -c 100000 /dev/zero | tr '\0' '['
			  head -c 100000 /dev/zero | tr '\0' ']'
			  printf '}'; } >"$out" ;;
		deep_600)		# 600 levels: past the gateway's limit of 512
			{ printf '{"command":"install","planOnly":false,"user":"u","organization":"org-a","environment":"%s","props":' "$env_a"
			  head -c 600 /dev/zero | tr '\0' '['
			  head -c 600 /dev/zero | tr '\0' ']'
			  printf '}'; } >"$out" ;;
		items_10k)		# 10,000 small deployments, under 1 MiB
			jq -cn '[range(10000) | {package: {name: "p\(.)", uniqueId: "p\(.)", type: "artifact"}}]' >"$out" ;;
		items_10k_big)	# 10,000 deployments, over 1 MiB
			jq -cn '[range(10000) | {package: {name: "package-\(.)", uniqueId: "unique-package-\(.)", version: "1.2.3", type: "blueprint", url: "https://example.invalid/\(.)"}, action: "pending", payload: {}}]' >"$out" ;;
		items_5001)		# one over the batch limit, well under 1 MiB
			jq -cn '[range(5001) | {package: {name: "p\(.)", uniqueId: "p\(.)", type: "artifact"}}]' >"$out" ;;
		ws_only)		# spaces, a tab and a newline
			printf '   \t \n' >"$out" ;;
		chain_5000)		# p0 <- p1 <- ... <- p4999, each depending on the last
			jq -cn '[range(5000) | {package: {name: "c\(.)", uniqueId: "c\(.)", type: "artifact"}} + (if . > 0 then {dependencies: {direct: "c\(. - 1)"}} else {} end)]' >"$out" ;;
		cycle_5000)		# the same chain closed into a cycle
			jq -cn '[range(5000) | {package: {name: "c\(.)", uniqueId: "c\(.)", type: "artifact"}, dependencies: {direct: "c\((. + 4999) % 5000)"}}]' >"$out" ;;
		parent_chain_5000)	# each deployment the parent of the next
			jq -cn '[range(5000) | {package: {name: "q\(.)", uniqueId: "q\(.)", type: "artifact"}} + (if . > 0 then {parent: "q\(. - 1)"} else {} end)]' >"$out" ;;
		parent_cycle_5000)
			jq -cn '[range(5000) | {package: {name: "q\(.)", uniqueId: "q\(.)", type: "artifact"}, parent: "q\((. + 4999) % 5000)"}]' >"$out" ;;
		nul_raw)		# a raw NUL byte inside a string
			printf '{"status":"plan\0ning"}' >"$out" ;;
		nul_raw_items)
			printf '[{"package":{"name":"a\0b","uniqueId":"a"}}]' >"$out" ;;
		bad_utf8_items)	# \xff, an overlong '/', a lone surrogate
			printf '[{"package":{"name":"a\xffb","uniqueId":"a"}}]' >"$out" ;;
		overlong_items)
			printf '[{"package":{"name":"a\xc0\xafb","uniqueId":"a"}}]' >"$out" ;;
		surrogate_items)
			printf '[{"package":{"name":"a\xed\xa0\x80b","uniqueId":"a"}}]' >"$out" ;;
		bad_utf8_task)
			printf '{"command":"install","planOnly":false,"user":"\xfe\xff","organization":"org-a","environment":"%s"}' "$env_a" >"$out" ;;
		bad_utf8_status)
			printf '{"status":"planning","error":"\xc3"}' >"$out" ;;
		long_string)	# one 900 KB string in a field
			{ printf '[{"package":{"name":"'; head -c 900000 /dev/zero | tr '\0' a
			  printf '","uniqueId":"long"}}]'; } >"$out" ;;
		*) echo "hostile: unknown body generator $name" >&2; exit 2 ;;
	esac
}

# gen_auth NAME: print the Authorization header value.
gen_auth() {
	local h p s
	case $1 in
		jwt_none)		# alg none, no signature
			printf '%s.%s.' "$(printf '{"alg":"none","typ":"JWT"}' | b64url)" \
				"$(printf '{"sub":"x","org":"org-a","permissions":%s}' "$hs_perms" | b64url)" ;;
		jwt_none_sig)	# alg none with a signature made with the secret
			jwt "$hs_secret" "{\"sub\":\"x\",\"org\":\"org-a\",\"permissions\":$hs_perms}" '{"alg":"none","typ":"JWT"}' ;;
		jwt_None)
			jwt "$hs_secret" "{\"sub\":\"x\",\"org\":\"org-a\",\"permissions\":$hs_perms}" '{"alg":"None"}' ;;
		jwt_cut)		# the signature cut short by 10 characters
			s=$(jwt_for org-a); printf '%s' "${s:0:${#s}-10}" ;;
		jwt_cut1)		# cut by one character
			s=$(jwt_for org-a); printf '%s' "${s:0:${#s}-1}" ;;
		jwt_nosig)		# the signature removed, the dot kept
			s=$(jwt_for org-a); printf '%s.' "${s%.*}" ;;
		jwt_twodots)	# header and payload only
			s=$(jwt_for org-a); printf '%s' "${s%.*}" ;;
		jwt_extra)		# a fourth segment
			s=$(jwt_for org-a); printf '%s.xyz' "$s" ;;
		jwt_hs512)
			jwt "$hs_secret" "{\"sub\":\"x\",\"org\":\"org-a\",\"permissions\":$hs_perms}" '{"alg":"HS512"}' ;;
		jwt_rs256)		# RS256 while no public key is configured
			jwt "$hs_secret" "{\"sub\":\"x\",\"org\":\"org-a\",\"permissions\":$hs_perms}" '{"alg":"RS256"}' ;;
		jwt_alg_num)
			jwt "$hs_secret" "{\"sub\":\"x\",\"org\":\"org-a\",\"permissions\":$hs_perms}" '{"alg":256}' ;;
		jwt_org_num)	# a valid signature over an org that is a number
			jwt "$hs_secret" "{\"sub\":\"x\",\"org\":7,\"permissions\":$hs_perms}" ;;
		jwt_exp_str)
			jwt "$hs_secret" "{\"sub\":\"x\",\"org\":\"org-a\",\"exp\":\"never\",\"permissions\":$hs_perms}" ;;
		jwt_payload_arr)
			jwt "$hs_secret" '[{"org":"org-a"}]' ;;
		jwt_dup_org)	# duplicate keys: one org for the gateway, another for SQL
			jwt "$hs_secret" "{\"sub\":\"x\",\"org\":\"org-a\",\"org\":\"org-b\",\"permissions\":$hs_perms}" ;;
		jwt_nul_org)	# an org with a NUL escape
			jwt "$hs_secret" "{\"sub\":\"x\",\"org\":\"org-a\\u0000b\",\"permissions\":$hs_perms}" ;;
		jwt_sqli_org)	# a valid token whose org is SQL
			jwt "$hs_secret" "{\"sub\":\"x\",\"org\":\"org-a' OR '1'='1\",\"permissions\":$hs_perms}" ;;
		jwt_sqli_sub)
			jwt "$hs_secret" "{\"sub\":\"$sqli\",\"org\":\"org-a\",\"permissions\":[\"read:task\"]}" ;;
		jwt_runner_role)	# a person's token claiming to be a runner
			jwt "$hs_secret" "{\"sub\":\"x\",\"org\":\"org-a\",\"role\":\"runner\",\"runner\":\"$(sql "SELECT id FROM bluebricks.runner WHERE name = 'hs-ra2'")\",\"permissions\":$hs_perms}" ;;
		jwt_task_claim)	# a person's token naming a task it did not lease
			jwt "$hs_secret" "{\"sub\":\"x\",\"org\":\"org-a\",\"task\":\"$task_y\",\"permissions\":$hs_perms}" ;;
		jwt_deep|jwt_deep_100k)	# claims nested 5,000 or 100,000 levels
			local d=5000
			[ "$1" = jwt_deep_100k ] && d=100000
			h=$(printf '{"alg":"HS256"}' | b64url)
			p=$({ printf '{"org":"org-a","x":'; head -c $d /dev/zero | tr '\0' '['
				  head -c $d /dev/zero | tr '\0' ']'; printf '}'; } | b64url)
			printf '%s.%s.%s' "$h" "$p" "$(printf '%s.%s' "$h" "$p" | openssl dgst -sha256 -hmac "$hs_secret" -binary | b64url)" ;;
		jwt_long)		# 20,000 characters, over the 16 KiB limit
			printf '%s' "$(jwt_for org-a)$(head -c 20000 /dev/zero | tr '\0' A)" ;;
		basic_no_colon)
			printf '%s' "$(printf 'hs-ra' | openssl base64 -A)" ;;
		basic_empty_user)
			printf '%s' "$(printf ':%s' "$ra_pass" | openssl base64 -A)" ;;
		basic_nul)		# a NUL byte in the decoded username
			printf '%s' "$(printf 'hs-ra\0x:%s' "$ra_pass" | openssl base64 -A)" ;;
		basic_utf8)		# invalid UTF-8 in the decoded password
			printf '%s' "$(printf 'hs-ra:\xff\xfe' | openssl base64 -A)" ;;
		basic_sqli)
			printf '%s' "$(printf "%s:%s" "$sqli" "$sqli" | openssl base64 -A)" ;;
		basic_sqli_pw)
			printf '%s' "$(printf "hs-ra:' OR '1'='1" | openssl base64 -A)" ;;
		basic_other_token)	# task_a with the token of task_y
			printf '%s' "$(printf '%s:%s' "$task_a" "$token_y" | openssl base64 -A)" ;;
		basic_tok_y)	# task_y with its own token
			printf '%s' "$(printf '%s:%s' "$task_y" "$token_y" | openssl base64 -A)" ;;
		basic_tok_b)	# org-b's task with its token
			printf '%s' "$(printf '%s:%s' "$task_b" "$token_b" | openssl base64 -A)" ;;
		basic_tok_free)	# a task that has no lease, with a made-up token
			printf '%s' "$(printf '%s:%s' "$task_free" "$token_a" | openssl base64 -A)" ;;
		basic_short_uuid)	# a 35-character "task id" and a token
			printf '%s' "$(printf '%s:%s' "${task_a:0:35}" "$token_a" | openssl base64 -A)" ;;
		*) echo "hostile: unknown auth generator $1" >&2; exit 2 ;;
	esac
}

# gen_headers NAME FILE: write curl -H lines (one argument per line).
gen_headers() {
	case $1 in
		hdr_100k)		# one 100 KB header
			printf 'X-Filler: %s\n' "$(head -c 100000 /dev/zero | tr '\0' a)" >"$2" ;;
		hdr_many)		# 2,000 small headers
			for i in $(seq 2000); do printf 'X-H%d: v\n' "$i"; done >"$2" ;;
		hdr_8k_auth)	# an Authorization header of 8 KB of garbage
			printf 'Authorization: Bearer %s\n' "$(head -c 8000 /dev/zero | tr '\0' a)" >"$2" ;;
		ctype_text)		# a body labelled as something else
			printf 'Content-Type: text/plain\n' >"$2" ;;
		cl_huge)		# a Content-Length far beyond the limit
			printf 'Content-Length: 99999999999\nExpect: 100-continue\n' >"$2" ;;
		*) echo "hostile: unknown header generator $1" >&2; exit 2 ;;
	esac
}

# raw_request METHOD PATH AUTH: send a body-less request over a plain
# socket, write the answer's headers and body where curl would; print the
# status (000 when there is no answer).
raw_request() {
	local port=${base##*:} status
	(
		exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
		{
			printf '%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n' "$1" "$2"
			[ -n "$3" ] && printf 'Authorization: %s\r\n' "$3"
			printf 'Connection: close\r\n\r\n'
		} >&3 2>/dev/null
		timeout 30 cat <&3
	) >"$hs_work/raw.out" 2>/dev/null
	sed -n '1,/^\r\{0,1\}$/p' "$hs_work/raw.out" >"$hs_work/headers.out"
	sed '1,/^\r\{0,1\}$/d' "$hs_work/raw.out" >"$hs_work/body.out"
	status=$(head -1 "$hs_work/raw.out" | cut -d' ' -f2)
	printf '%s' "${status:-000}"
}

# Escape a value for a double-quoted string of a curl config file.
curl_quote() {
	local s=${1//\\/\\\\}
	printf '%s' "${s//\"/\\\"}"
}

# Replace the placeholders of a path or body.
subst() {
	local s=$1
	s=${s//\{task\}/$task_a}
	s=${s//\{token\}/$token_a}
	s=${s//\{task_y\}/$task_y}
	s=${s//\{token_y\}/$token_y}
	s=${s//\{task_b\}/$task_b}
	s=${s//\{token_b\}/$token_b}
	s=${s//\{task_free\}/$task_free}
	s=${s//\{env\}/$env_a}
	s=${s//\{sqli\}/$sqli}
	printf '%s' "$s"
}

# The Authorization header value of an auth field; empty for none.
auth_value() {
	case $1 in
		none) ;;
		bearer_a) printf 'Bearer %s' "$(jwt_for org-a)" ;;
		bearer_b) printf 'Bearer %s' "$(jwt_for org-b)" ;;
		runner_a) printf 'Basic %s' "$(printf '%s:%s' "$ra_user" "$ra_pass" | openssl base64 -A)" ;;
		runner_a2) printf 'Basic %s' "$(printf '%s:%s' "$ra2_user" "$ra2_pass" | openssl base64 -A)" ;;
		runner_b) printf 'Basic %s' "$(printf '%s:%s' "$rb_user" "$rb_pass" | openssl base64 -A)" ;;
		tok_a) printf 'Basic %s' "$(printf '%s:%s' "$task_a" "$token_a" | openssl base64 -A)" ;;
		raw:*) subst "${1#raw:}" ;;
		@jwt_*) printf 'Bearer %s' "$(gen_auth "${1#@}")" ;;
		@basic_*) printf 'Basic %s' "$(gen_auth "${1#@}")" ;;
		*) echo "hostile: unknown auth $1" >&2; exit 2 ;;
	esac
}

# ---- one case ----------------------------------------------------------

# run_case NAME METHOD PATH AUTH HEADERS BODY STATUS CODE CHECK
run_case() {
	local name=$1 method=$2 path=$3 auth=$4 headers=$5 body=$6
	local want_status=$7 want_code=$8 check=$9
	local args=() av before after status got_code shape id
	path=$(subst "$path")
	case $path in
		@longpath) path="/api/v1/task/$(head -c 200000 /dev/zero | tr '\0' a)" ;;
	esac
	# URL and credentials go through a config file: they may be longer
	# than one argument may be.
	av=$(auth_value "$auth")
	{
		printf 'url = "%s"\n' "$(curl_quote "$base$path")"
		[ -n "$av" ] && printf 'header = "%s"\n' "$(curl_quote "Authorization: $av")"
	} >"$hs_work/curl.conf"
	if [ "$headers" != - ]; then
		gen_headers "${headers#@}" "$hs_work/headers.in"
		while IFS= read -r line; do args+=(-H "$line"); done <"$hs_work/headers.in"
	fi
	case $body in
		-) ;;
		@*) gen_body "${body#@}" "$hs_work/body.in"
			args+=(-H 'Content-Type: application/json' --data-binary "@$hs_work/body.in") ;;
		*) subst "$body" >"$hs_work/body.in"
			args+=(-H 'Content-Type: application/json' --data-binary "@$hs_work/body.in") ;;
	esac
	[ "$check" = nowrite ] && before=$(hs_checksum)
	rm -f "$hs_work/body.out" "$hs_work/headers.out"
	touch "$hs_work/body.out" "$hs_work/headers.out"
	if [ $((${#path} + ${#av})) -gt 60000 ]; then
		# beyond what curl reads from a config line: sent by hand
		# (retried: libmicrohttpd closes with the rest unread, and the
		# reset may beat its answer to the client)
		for _ in 1 2 3; do
			status=$(raw_request "$method" "$path" "$av")
			[ "$status" != 000 ] && break
		done
	else
		status=$(curl -s -o "$hs_work/body.out" -D "$hs_work/headers.out" \
			-w '%{http_code}' --max-time 60 --path-as-is -X "$method" \
			-K "$hs_work/curl.conf" "${args[@]}")
	fi
	BODY=$(head -c 100000 "$hs_work/body.out")
	echo "# $name: $status $(head -c 300 <<<"$BODY")"
	RESULTS+=("$name	$status	$(head -c 200 <<<"$BODY" | tr '\t\n' '  ')")

	if [ "$status" = "$want_status" ]; then pass "$name: status $want_status"
	else fail "$name: status $want_status" "got $status $BODY"; fi
	if [ "$want_code" = @mhd ]; then
		echo "# $name: answered by libmicrohttpd itself, body not checked"
	elif [ "$want_code" != - ]; then
		got_code=$(jq -r .error.code <<<"$BODY" 2>/dev/null)
		if [ "$got_code" = "$want_code" ]; then pass "$name: code $want_code"
		else fail "$name: code $want_code" "got [$got_code] $BODY"; fi
		shape=$(jq -c '[.error | keys[]] == ["code","hint","message"]
			and (.error.code | type) == "string"
			and (.error.message | type) == "string"
			and ((.error.hint | type) == "string" or .error.hint == null)' \
			<<<"$BODY" 2>/dev/null)
		if [ "$shape" = true ]; then pass "$name: error shape"
		else fail "$name: error shape" "$BODY"; fi
		if grep -qi '^content-type: application/json' "$hs_work/headers.out"; then
			pass "$name: JSON content type"
		else fail "$name: JSON content type" "$(cat "$hs_work/headers.out")"; fi
	fi
	case $check in
		nowrite)
			after=$(hs_checksum)
			if [ -n "$before" ] && [ "$before" = "$after" ]; then pass "$name: nothing written"
			else fail "$name: nothing written" "before [$before] after [$after]"; fi ;;
		stored:*|stored_status:*)
			local url=/api/v1/task/ jqf=${check#*:}
			id=$(jq -r '.taskId? // empty' <<<"$BODY" 2>/dev/null)
			[ -z "$id" ] && id=$(sed -n 's|^/api/v1/task/\([0-9a-f-]\{36\}\).*|\1|p' <<<"$path")
			url=$url$id
			[ "${check%%:*}" = stored_status ] && url=$url/status?expand=true
			curl -s -o "$hs_work/readback" --max-time 20 \
				-H "Authorization: Bearer $(jwt_for org-a)" "$base$url"
			if jq -e --arg sqli "$sqli" "$jqf" "$hs_work/readback" >/dev/null 2>&1
			then pass "$name: stored verbatim"
			else fail "$name: stored verbatim" "$(head -c 1000 "$hs_work/readback")"; fi
			if [ "$(sql 'SELECT count(*) FROM public.hostile_canary' 2>&1)" = 3 ]; then
				pass "$name: canary intact"
			else fail "$name: canary intact"; fi ;;
		*) echo "hostile: unknown check $check" >&2; exit 2 ;;
	esac
	if kill -0 "$gw_pid" 2>/dev/null; then pass "$name: gateway alive"
	else
		fail "$name: gateway alive" "$(tail -20 "$hs_work/gateway.log")"
		echo "hostile: the gateway died; restarting it" >&2
		hs_gateway_start
	fi
}

# ---- main --------------------------------------------------------------

hs_cluster
hs_database
hs_data
hs_gateway_start
echo "# gateway on $base (pid $gw_pid), database $hs_db on port $PGPORT"

RESULTS=()
only=${HS_ONLY:-}
# Drop the spaces around a field.
trim() {
	local s=$1
	s=${s#"${s%%[![:space:]]*}"}
	printf '%s' "${s%"${s##*[![:space:]]}"}"
}

while IFS='|' read -r name method path auth headers body status code check; do
	name=$(trim "$name")
	case $name in ''|'#'*) continue ;; esac
	method=$(trim "$method") path=$(trim "$path") auth=$(trim "$auth")
	headers=$(trim "$headers") body=$(trim "$body") status=$(trim "$status")
	code=$(trim "$code") check=$(trim "$check")
	[ -n "$only" ] && [[ $name != *$only* ]] && continue
	run_case "$name" "$method" "$path" "$auth" "$headers" "$body" \
		"$status" "$code" "$check"
done <"$cases"

# SIGTERM: the gateway drains and exits 0 (a sanitizer's exit code
# otherwise).
kill -TERM "$gw_pid"
wait "$gw_pid"
rc=$?
gw_pid=
if [ "$rc" = 0 ]; then pass "gateway exits 0 on SIGTERM"
else fail "gateway exits 0 on SIGTERM" "exit $rc: $(tail -30 "$hs_work/gateway.log")"; fi

# The log has one line per request and nothing unescaped.
if grep -qaP '[^\x20-\x7e\n]' "$hs_work/gateway.log"; then
	fail "gateway log is printable ASCII" "$(grep -aP '[^\x20-\x7e]' "$hs_work/gateway.log" | head -3)"
else pass "gateway log is printable ASCII"; fi
if grep -qE ' 5[0-9][0-9] [0-9.]+ms' "$hs_work/gateway.log"; then
	fail "no 5xx in the gateway log" "$(grep -E ' 5[0-9][0-9] [0-9.]+ms' "$hs_work/gateway.log" | head -5)"
else pass "no 5xx in the gateway log"; fi
if grep -qiE 'AddressSanitizer|runtime error:|LeakSanitizer' "$hs_work/gateway.log"; then
	fail "no sanitizer report" "$(grep -iE -A5 'AddressSanitizer|runtime error:' "$hs_work/gateway.log" | head -20)"
else pass "no sanitizer report"; fi

# ---- slow senders ------------------------------------------------------

# drip PORT HEAD OUT: send HEAD, then a byte every half second, until the
# gateway answers and closes or 10 s pass; the answer goes to OUT; prints
# the milliseconds the gateway took to close.
drip() {
	local t0 t1
	t0=$(date +%s%N)
	(
		exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
		printf '%b' "$2" >&3
		(
			for _ in $(seq 20); do
				sleep 0.5
				printf x >&3 2>/dev/null || exit 0
			done
		) &
		timeout 10 cat <&3 >"$3"
		kill $! 2>/dev/null
	) 2>/dev/null
	t1=$(date +%s%N)
	echo $(((t1 - t0) / 1000000))
}

slow_senders() {
	local p sport spid ms code
	for p in ${HS_GATEWAY_PORTS:-$(seq 28150 28199)}; do
		[ "$p" = "${base##*:}" ] && continue
		hs_port_free "$p" && break
	done
	sport=$p
	BLUEBRICKS_LISTEN=127.0.0.1:$sport \
	BLUEBRICKS_DATABASE_URL="host=$PGHOST port=$PGPORT dbname=$hs_db user=$hs_role" \
	BLUEBRICKS_POOL_SIZE=1 BLUEBRICKS_RECEIVE_TIMEOUT=2 \
	BLUEBRICKS_MAX_CONNECTIONS_PER_IP=4 \
		${HS_GATEWAY_WRAPPER:-} "$hs_gateway" 2>"$hs_work/slow.log" &
	spid=$!
	for _ in $(seq 100); do
		curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$sport/healthz" && break
		sleep 0.1
	done

	ms=$(drip "$sport" 'POST /api/v1/tasks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{' "$hs_work/drip_body.out")
	code=$(sed '1,/^\r$/d' "$hs_work/drip_body.out" | jq -r .error.code 2>/dev/null)
	if head -1 "$hs_work/drip_body.out" | grep -q '^HTTP/1.1 408' &&
		[ "$code" = request_timeout ]; then
		pass "slow body: 408 request_timeout"
	else fail "slow body: 408 request_timeout" "$(head -c 600 "$hs_work/drip_body.out")"; fi
	if [ "$ms" -ge 1900 ] && [ "$ms" -le 3500 ]; then
		pass "slow body: answered after the 2 s receive timeout ($ms ms)"
	else fail "slow body: answered after the 2 s receive timeout" "$ms ms"; fi

	ms=$(drip "$sport" 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ' "$hs_work/drip_head.out")
	if [ "$ms" -ge 1900 ] && [ "$ms" -le 3500 ] && [ ! -s "$hs_work/drip_head.out" ]; then
		pass "slow headers: connection closed after the 2 s receive timeout ($ms ms)"
	else fail "slow headers: connection closed after the 2 s receive timeout" \
		"$ms ms, answer: $(head -c 300 "$hs_work/drip_head.out")"; fi

	# four idle connections from 127.0.0.1 hold its share
	exec 6<>"/dev/tcp/127.0.0.1/$sport" 7<>"/dev/tcp/127.0.0.1/$sport" \
		8<>"/dev/tcp/127.0.0.1/$sport" 9<>"/dev/tcp/127.0.0.1/$sport"
	sleep 0.3
	code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$sport/healthz")
	check_eq "per-address limit: a fifth connection from 127.0.0.1 is refused" 000 "$code"
	code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 --interface 127.0.0.5 "http://127.0.0.1:$sport/healthz")
	check_eq "per-address limit: another address is served meanwhile" 200 "$code"
	exec 6>&- 7>&- 8>&- 9>&-
	sleep 0.3
	code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$sport/healthz")
	check_eq "per-address limit: 127.0.0.1 is served once it closed them" 200 "$code"

	kill -TERM "$spid"
	wait "$spid"
	check_eq "slow-sender gateway exits 0 on SIGTERM" 0 "$?"
	if grep -q 'request_timeout\|408' "$hs_work/slow.log" &&
		grep -q 'reason="request not received within 2 s"' "$hs_work/slow.log"; then
		pass "slow-sender gateway logs the 408 and the cut connection"
	else fail "slow-sender gateway logs the 408 and the cut connection" "$(tail -5 "$hs_work/slow.log")"; fi
	if grep -qiE 'AddressSanitizer|runtime error:|LeakSanitizer' "$hs_work/slow.log"; then
		fail "slow-sender gateway: no sanitizer report" "$(grep -iE -A5 'AddressSanitizer|runtime error:' "$hs_work/slow.log" | head -20)"
	else pass "slow-sender gateway: no sanitizer report"; fi
}

check_eq() {
	if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "expected [$2], got [$3]"; fi
}

[ -z "$only" ] && slow_senders

if [ -n "${HS_RESULTS:-}" ]; then
	printf '%s\n' "${RESULTS[@]}" >"$HS_RESULTS"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

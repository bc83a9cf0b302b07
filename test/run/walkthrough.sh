#!/bin/bash
# test/run/walkthrough.sh
#	`make run` in a scratch directory, then the commands it prints: the
#	exports, each route's curl command, and scripts/walkthrough.sh, which
#	must take a task from pending to completed.  Ports are free loopback
#	ports picked by the caller (BB_PORT, BB_GATEWAY_PORT).
#
# Last line: "N passed, M failed".

set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1

: "${BB_PORT:?}" "${BB_GATEWAY_PORT:?}"
dir=$(mktemp -d /tmp/bb_run.XXXXXX)
chmod 755 "$dir"
export BB_RUN_DIR=$dir/run BB_PORT BB_GATEWAY_PORT
passed=0
failed=0

check() {
	if [ "$2" = 0 ]; then
		passed=$((passed + 1))
		echo "ok - $1"
	else
		failed=$((failed + 1))
		echo "not ok - $1"
	fi
}

cleanup() {
	[ -f "$BB_RUN_DIR/gateway.pid" ] && kill "$(cat "$BB_RUN_DIR/gateway.pid")" 2>/dev/null
	. scripts/cluster.sh
	bb_cluster_stop "$BB_RUN_DIR"
	rm -rf "$dir"
}
trap cleanup EXIT

scripts/run.sh >"$dir/run.out" 2>&1
check "make run succeeds" $?
BB_RESET= scripts/run.sh >"$dir/run2.out" 2>&1
check "make run again keeps the data" $?
grep -q 'demo data already loaded' "$dir/run2.out"
check "the second run does not reload the demo" $?

# The exports, exactly as printed.
eval "$(grep '^  export ' "$dir/run.out")"
[ -n "${BB_JWT:-}" ] && [ -n "${BB_RUNNER:-}" ]
check "credentials are printed" $?

# Each printed route command answers with JSON (none needs a claim).
while IFS= read -r cmd; do
	case $cmd in *'$TASK'*) continue ;; esac
	out=$(eval "$cmd -w '\n%{http_code}'")
	code=${out##*$'\n'}
	body=${out%$'\n'*}
	jq -e . >/dev/null 2>&1 <<<"$body" && [ "${code:0:1}" = 2 ]
	check "printed command answers ${code}: ${cmd:0:70}" $?
done < <(grep '^  curl ' "$dir/run.out" | sed 's/^  //')

scripts/walkthrough.sh >"$dir/walk.out" 2>&1
check "the walkthrough takes a task to completed" $?
tail -1 "$dir/walk.out"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]

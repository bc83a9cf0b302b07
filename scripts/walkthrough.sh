#!/bin/bash
# scripts/walkthrough.sh
#	Take one task from pending to completed through the HTTP API alone,
#	printing each curl command before running it.  `make run` prints the
#	variables to export; every route of the API is used once.  The commands
#	are printed as they would be typed, with $BB_URL, $BB_RUNNER, $BB_JWT,
#	$BB_ENV, $TASK and $TOKEN unexpanded.
#
# Environment (all required):
#	BB_URL     gateway base URL, e.g. http://127.0.0.1:8080
#	BB_RUNNER  runner credentials, name:password
#	BB_JWT     a Bearer token with every permission
#	BB_ENV     environment id the runner serves

set -euo pipefail

: "${BB_URL:?}" "${BB_RUNNER:?}" "${BB_JWT:?}" "${BB_ENV:?}"

# Print a command, run it, show its output; leave the output in $out.
step() {
	printf '\n$ %s\n' "$1"
	out=$(eval "$1")
	jq . <<<"$out" 2>/dev/null || printf '%s\n' "$out"
}

# Post a batch of deployment items as the lease holder.
deployments() {
	step "curl -sf -u \"\$TASK:\$TOKEN\" -H 'Content-Type: application/json' -d '$1' \$BB_URL/api/v1/task/\$TASK/deployments"
}

app='"package": {"name": "my-app", "version": "1.2.3", "uniqueId": "my-unique-id", "type": "blueprint"}'
dep='"package": {"name": "my-dependent-app", "version": "2.0.0", "uniqueId": "my-dependent-app", "type": "artifact"}'

echo "# 1. A person creates a task (create:task)."
step 'curl -sf -H "Authorization: Bearer $BB_JWT" -H '"'Content-Type: application/json'"' -d "{\"command\": \"install\", \"planOnly\": false, \"user\": \"demo\", \"environment\": \"$BB_ENV\"}" $BB_URL/api/v1/tasks'

echo "# 2. The runner lists what it may take, and leases the oldest."
step 'curl -sf -u "$BB_RUNNER" $BB_URL/api/v1/tasks'
step 'curl -sf -u "$BB_RUNNER" -H '"'Content-Type: application/json'"' -d '"'"'{"limit": 1, "lease_seconds": 300}'"'"' $BB_URL/api/v1/tasks/claim'
TASK=$(jq -r '.[0].taskId' <<<"$out")
TOKEN=$(jq -r '.[0].token' <<<"$out")
echo "TASK=$TASK TOKEN=$TOKEN"

echo "# 3. From now on the runner signs in with the task id and its token."
step 'curl -sf -u "$TASK:$TOKEN" $BB_URL/api/v1/task/$TASK'
step 'curl -sf -u "$TASK:$TOKEN" -H '"'Content-Type: application/json'"' -d '"'"'{"status": "planning"}'"'"' $BB_URL/api/v1/task/$TASK/status'

echo "# 4. It reports what it plans: the reference's example deployment and"
echo "#    the package that example depends on; a batch moves each item one"
echo "#    stage."
deployments "[{$app, \"dependencies\": {\"direct\": \"my-dependent-app\"}, \"parent\": null, \"action\": \"planning\", \"payload\": {}}, {$dep, \"action\": \"planning\", \"payload\": {}}]"
deployments "[{$app, \"action\": \"planned\", \"payload\": {\"plan_file\": \"plans/my-app.plan\"}}, {$dep, \"action\": \"planned\"}]"
step 'curl -sf -u "$TASK:$TOKEN" -H '"'Content-Type: application/json'"' -d '"'"'{"status": "planned"}'"'"' $BB_URL/api/v1/task/$TASK/status'

echo "# 5. A person reviews the plan and approves it (update:task)."
step 'curl -sf -H "Authorization: Bearer $BB_JWT" "$BB_URL/api/v1/task/$TASK/status?expand=true"'
step 'curl -sf -H "Authorization: Bearer $BB_JWT" -H '"'Content-Type: application/json'"' -d '"'"'{"status": "plan_approved"}'"'"' $BB_URL/api/v1/task/$TASK/status'

echo "# 6. The runner installs: the dependency first, then my-app."
step 'curl -sf -u "$TASK:$TOKEN" -H '"'Content-Type: application/json'"' -d '"'"'{"status": "installing"}'"'"' $BB_URL/api/v1/task/$TASK/status'
deployments "[{$app, \"action\": \"plan_approved\"}, {$dep, \"action\": \"plan_approved\"}]"
deployments "[{$dep, \"action\": \"installing\"}]"
deployments "[{$dep, \"action\": \"completed\"}, {$app, \"action\": \"installing\"}]"
deployments "[{$app, \"action\": \"completed\", \"payload\": {\"state_file\": \"state/my-app.tfstate\"}}]"
step 'curl -sf -u "$TASK:$TOKEN" -H '"'Content-Type: application/json'"' -d '"'"'{"status": "completed"}'"'"' $BB_URL/api/v1/task/$TASK/status'

echo "# 7. The outcome, then the task is removed (delete:deployment)."
step 'curl -sf -H "Authorization: Bearer $BB_JWT" $BB_URL/api/v1/task/$TASK/status'
status=$(jq -r .status <<<"$out")
step 'curl -sf -H "Authorization: Bearer $BB_JWT" -X DELETE $BB_URL/api/v1/task/$TASK'
step 'curl -sf $BB_URL/healthz'
step 'curl -sf $BB_URL/api/v1/openapi.json | jq -c ".paths | keys"'

echo
echo "task $TASK ended $status"
[ "$status" = completed ]

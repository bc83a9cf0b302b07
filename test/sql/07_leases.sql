-- test/sql/07_leases.sql
--	Leases: claiming, tokens, fencing of changes, and what a lapsed lease
--	does to its task.
\set VERBOSITY default
\set SHOW_CONTEXT never

SELECT bluebricks.upsert_environment('{
  "id": "07000000-0000-4000-8000-0000000000e0",
  "slug": "lease-1", "name": "Lease 1"}') IS NOT NULL AS environment;
SELECT bluebricks.upsert_environment('{
  "id": "07000000-0000-4000-8000-0000000000e1",
  "slug": "lease-2", "name": "Lease 2"}') IS NOT NULL AS environment;

-- Runners with known ids: r1 and r2 serve all of org-l, r3 only lease-2,
-- r4 another organization.
INSERT INTO bluebricks.runner (id, name, organization, environments,
							   password_hash)
VALUES ('07000000-0000-4000-8000-0000000000a1', 'r1', 'org-l', NULL,
		sha256('p1')),
	   ('07000000-0000-4000-8000-0000000000a2', 'r2', 'org-l', NULL,
		sha256('p2')),
	   ('07000000-0000-4000-8000-0000000000a3', 'r3', 'org-l',
		'{07000000-0000-4000-8000-0000000000e1}', sha256('p3')),
	   ('07000000-0000-4000-8000-0000000000a4', 'r4', 'org-other', NULL,
		sha256('p4'));

-- Three tasks, oldest first: t1 and t2 in lease-1, t3 in lease-2.
SELECT bluebricks.create_task('{
  "taskId": "07000000-0000-4000-8000-000000000001", "command": "install",
  "organization": "org-l", "user": "u",
  "environment": "07000000-0000-4000-8000-0000000000e0"}');
SELECT bluebricks.create_task('{
  "taskId": "07000000-0000-4000-8000-000000000002", "command": "install",
  "organization": "org-l", "user": "u",
  "environment": "07000000-0000-4000-8000-0000000000e0"}');
SELECT bluebricks.create_task('{
  "taskId": "07000000-0000-4000-8000-000000000003", "command": "install",
  "organization": "org-l", "user": "u",
  "environment": "07000000-0000-4000-8000-0000000000e1"}');
SELECT jsonb_array_length(bluebricks.add_deployments(
	'07000000-0000-4000-8000-000000000001',
	'[{"package": {"name": "d1", "uniqueId": "d1", "type": "blueprint"}},
	  {"package": {"name": "d2", "uniqueId": "d2", "type": "blueprint"}}]'))
	AS deployments;

-- Waiting tasks, oldest first, as a runner sees them.
SELECT t ->> 'taskId' AS task, t ->> 'stage' AS stage, t -> 'token' AS token
FROM jsonb_array_elements(bluebricks.pending_tasks(
	'07000000-0000-4000-8000-0000000000a1')) t;
SELECT jsonb_array_length(bluebricks.pending_tasks(
	'07000000-0000-4000-8000-0000000000a3')) AS r3_sees,
	   jsonb_array_length(bluebricks.pending_tasks(
	'07000000-0000-4000-8000-0000000000a4')) AS r4_sees;

-- r4 is of another organization: nothing to claim.
SELECT bluebricks.claim_tasks('07000000-0000-4000-8000-0000000000a4', 5);
-- r3 serves lease-2 only: it gets t3 although t1 is older.
SELECT t ->> 'taskId' AS task, t ->> 'stage' AS stage
FROM jsonb_array_elements(bluebricks.claim_tasks(
	'07000000-0000-4000-8000-0000000000a3', 5)) t;

-- r1 claims one: the oldest, with a 64-hex-digit token; the stage stays.
SELECT bluebricks.claim_tasks('07000000-0000-4000-8000-0000000000a1', 1,
							  '10 minutes') -> 0 AS claim \gset
SELECT :'claim'::jsonb ->> 'taskId' AS task, :'claim'::jsonb ->> 'stage' AS stage,
	   :'claim'::jsonb ->> 'token' ~ '^[0-9a-f]{64}$' AS token_shape;
SELECT :'claim'::jsonb ->> 'token' AS t1_token \gset
SELECT stage, runner_id, lease_duration,
	   lease_expires BETWEEN now() + interval '9 minutes'
		   AND now() + interval '11 minutes' AS expires_in_10_minutes,
	   lease_token_hash = sha256(convert_to(:'t1_token', 'UTF8'))
		   AS hash_of_text,
	   lease_token_hash = sha256(decode(:'t1_token', 'hex'))
		   AS hash_of_bytes
FROM bluebricks.task WHERE task_id = '07000000-0000-4000-8000-000000000001';
SELECT task_id, runner_id, expires > claimed AS expires_later
FROM bluebricks.claim_log ORDER BY seq;

-- r2 gets t2: t1 has a live lease.
SELECT bluebricks.claim_tasks('07000000-0000-4000-8000-0000000000a2', 5) -> 0
	AS claim2 \gset
SELECT :'claim2'::jsonb ->> 'taskId' AS task;
SELECT :'claim2'::jsonb ->> 'token' AS t2_token \gset
SELECT :'t1_token' <> :'t2_token' AS distinct_tokens;
-- Nothing is left for anyone.
SELECT bluebricks.claim_tasks('07000000-0000-4000-8000-0000000000a2', 5);
SELECT bluebricks.pending_tasks('07000000-0000-4000-8000-0000000000a1');

-- Fencing.  The right token is accepted and extends the lease.
UPDATE bluebricks.task SET lease_expires = now() + interval '1 minute'
WHERE task_id = '07000000-0000-4000-8000-000000000001';
SELECT bluebricks.set_task_status('07000000-0000-4000-8000-000000000001',
	'planning', token => :'t1_token') ->> 'status' AS status;
SELECT lease_expires > now() + interval '9 minutes' AS extended
FROM bluebricks.task WHERE task_id = '07000000-0000-4000-8000-000000000001';
-- A wrong token, or another task's, is refused.
SELECT bluebricks.set_task_status('07000000-0000-4000-8000-000000000001',
	'planned', token => repeat('0', 64));
\echo :LAST_ERROR_SQLSTATE
SELECT bluebricks.set_task_status('07000000-0000-4000-8000-000000000001',
	'planned', token => :'t2_token');
\echo :LAST_ERROR_SQLSTATE
SELECT bluebricks.add_deployments('07000000-0000-4000-8000-000000000001',
	'[{"package": {"name": "d1", "uniqueId": "d1", "type": "blueprint"},
	   "action": "planning"}]', token => repeat('0', 64));
\echo :LAST_ERROR_SQLSTATE
-- The lease holder, as a runner, must present its token ...
BEGIN;
SET LOCAL request.jwt.claims = '{"sub": "r1", "org": "org-l", "role": "runner", "runner": "07000000-0000-4000-8000-0000000000a1"}';
SELECT bluebricks.set_task_status('07000000-0000-4000-8000-000000000001',
								  'planned');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
-- ... and another runner may not act on it even with the token.
BEGIN;
SET LOCAL request.jwt.claims = '{"sub": "r2", "org": "org-l", "role": "runner", "runner": "07000000-0000-4000-8000-0000000000a2"}';
SELECT bluebricks.set_task_status('07000000-0000-4000-8000-000000000001',
	'planned', token => :'t1_token');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN;
SET LOCAL request.jwt.claims = '{"sub": "r1", "org": "org-l", "role": "runner", "runner": "07000000-0000-4000-8000-0000000000a1"}';
SELECT bluebricks.set_task_status('07000000-0000-4000-8000-000000000001',
	'planning', 'still planning', token => :'t1_token') ->> 'status' AS status;
COMMIT;
-- A person may act on a leased task without a token (to cancel it, say),
-- but planning is a runner's move.
BEGIN;
SET LOCAL request.jwt.claims = '{"sub": "ann", "org": "org-l", "permissions": ["read:task", "update:task"]}';
SELECT bluebricks.set_task_status('07000000-0000-4000-8000-000000000002',
								  'canceled') ->> 'status' AS status;
ROLLBACK;
BEGIN;
SET LOCAL request.jwt.claims = '{"sub": "ann", "org": "org-l", "permissions": ["read:task", "update:task"]}';
SELECT bluebricks.set_task_status('07000000-0000-4000-8000-000000000002',
								  'planning') ->> 'status' AS status;
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
-- So may an operator (no claims).
BEGIN;
SELECT bluebricks.set_task_status('07000000-0000-4000-8000-000000000002',
								  'planning') ->> 'status' AS status;
ROLLBACK;

-- Deployments of t1 start planning under the lease.
SELECT jsonb_array_length(bluebricks.add_deployments(
	'07000000-0000-4000-8000-000000000001',
	'[{"package": {"name": "d1", "uniqueId": "d1", "type": "blueprint"},
	   "action": "planning"},
	  {"package": {"name": "d2", "uniqueId": "d2", "type": "blueprint"},
	   "action": "planning"}]', token => :'t1_token')) AS deployments;

-- A lapsed lease in planning: the task and its planning deployments go back
-- to pending, and the task is claimable again.
UPDATE bluebricks.task SET lease_expires = now() - interval '1 second'
WHERE task_id = '07000000-0000-4000-8000-000000000001';
SELECT bluebricks.set_task_status('07000000-0000-4000-8000-000000000001',
	'planned', token => :'t1_token');
\echo :LAST_ERROR_SQLSTATE
SELECT bluebricks.expire_leases() AS lapsed;
SELECT stage, runner_id, lease_token_hash, lease_expires, state_counts
FROM bluebricks.task WHERE task_id = '07000000-0000-4000-8000-000000000001';
SELECT unique_id, stage FROM bluebricks.deployment
WHERE task_id = '07000000-0000-4000-8000-000000000001' ORDER BY ordinal;
SELECT from_stage, to_stage, error FROM bluebricks.stage_history
WHERE task_id = '07000000-0000-4000-8000-000000000001' AND guid IS NULL
ORDER BY seq;
SELECT bluebricks.expire_leases() AS lapsed_again;
-- A token of the lapsed lease is refused.
SELECT bluebricks.set_task_status('07000000-0000-4000-8000-000000000001',
	'planning', token => :'t1_token');
\echo :LAST_ERROR_SQLSTATE

-- r2 claims t1 again (claim_tasks applies lapsed leases itself).
SELECT bluebricks.claim_tasks('07000000-0000-4000-8000-0000000000a2', 1) -> 0
	AS claim3 \gset
SELECT :'claim3'::jsonb ->> 'taskId' AS task;
SELECT :'claim3'::jsonb ->> 'token' AS t1_token2 \gset
SELECT bluebricks.set_task_status('07000000-0000-4000-8000-000000000001',
	'planning', token => :'t1_token2') ->> 'status' AS status;
SELECT bluebricks.set_task_status('07000000-0000-4000-8000-000000000001',
	'planned', token => :'t1_token2') ->> 'status' AS status;
SELECT bluebricks.set_task_status('07000000-0000-4000-8000-000000000001',
	'plan_approved', token => :'t1_token2') ->> 'status' AS status;

-- A lapsed lease in plan_approved is only cleared (pending_tasks applies
-- it), and the task is claimable for its installation.
UPDATE bluebricks.task SET lease_expires = now() - interval '1 second'
WHERE task_id = '07000000-0000-4000-8000-000000000001';
SELECT t ->> 'taskId' AS task, t ->> 'stage' AS stage
FROM jsonb_array_elements(bluebricks.pending_tasks(
	'07000000-0000-4000-8000-0000000000a1')) t;
SELECT stage, runner_id IS NULL AS no_holder FROM bluebricks.task
WHERE task_id = '07000000-0000-4000-8000-000000000001';
SELECT bluebricks.claim_tasks('07000000-0000-4000-8000-0000000000a1', 1) -> 0
	AS claim4 \gset
SELECT :'claim4'::jsonb ->> 'taskId' AS task, :'claim4'::jsonb ->> 'stage' AS stage;
SELECT :'claim4'::jsonb ->> 'token' AS t1_token3 \gset
SELECT bluebricks.set_task_status('07000000-0000-4000-8000-000000000001',
	'installing', token => :'t1_token3') ->> 'status' AS status;

-- A lapsed lease in installing: the task fails, naming the runner.
UPDATE bluebricks.task SET lease_expires = now() - interval '1 second'
WHERE task_id = '07000000-0000-4000-8000-000000000001';
SELECT bluebricks.expire_leases() AS lapsed;
SELECT stage, error, runner_id IS NULL AS no_holder, completed IS NOT NULL
	AS completed_stamped
FROM bluebricks.task WHERE task_id = '07000000-0000-4000-8000-000000000001';
SELECT from_stage, to_stage, error FROM bluebricks.stage_history
WHERE task_id = '07000000-0000-4000-8000-000000000001' AND guid IS NULL
ORDER BY seq DESC LIMIT 1;

-- Entering a final stage clears the lease.
SELECT bluebricks.set_task_status('07000000-0000-4000-8000-000000000002',
	'canceled', token => :'t2_token') ->> 'status' AS status;
SELECT stage, runner_id, lease_token_hash, lease_expires FROM bluebricks.task
WHERE task_id = '07000000-0000-4000-8000-000000000002';

-- Every claim was logged.
SELECT task_id, string_agg(r.name, ', ' ORDER BY seq) AS claimed_by
FROM bluebricks.claim_log c JOIN bluebricks.runner r ON r.id = c.runner_id
GROUP BY task_id ORDER BY task_id;

-- Claiming for an unknown runner is refused.
SELECT bluebricks.claim_tasks('07000000-0000-4000-8000-0000000000ff', 1);
\echo :LAST_ERROR_SQLSTATE

DELETE FROM bluebricks.task;
DELETE FROM bluebricks.runner;
DELETE FROM bluebricks.environment;

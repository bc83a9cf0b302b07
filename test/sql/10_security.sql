-- test/sql/10_security.sql
--	Who sees and changes what: row-level security by organization,
--	permissions, callers without claims, and Basic credentials.
\set VERBOSITY default
\set SHOW_CONTEXT never

SELECT bluebricks.upsert_environment('{
  "id": "10000000-0000-4000-8000-0000000000e0",
  "slug": "security", "name": "Security"}') IS NOT NULL AS environment;
SELECT bluebricks.create_task('{
  "taskId": "10000000-0000-4000-8000-000000000001", "command": "install",
  "organization": "org-a", "user": "ann",
  "environment": "10000000-0000-4000-8000-0000000000e0"}');
SELECT bluebricks.create_task('{
  "taskId": "10000000-0000-4000-8000-000000000002", "command": "install",
  "organization": "org-b", "user": "bob",
  "environment": "10000000-0000-4000-8000-0000000000e0"}');
SELECT bluebricks.create_task('{
  "taskId": "10000000-0000-4000-8000-000000000003", "command": "install",
  "organization": "org-a", "user": "ann",
  "environment": "10000000-0000-4000-8000-0000000000e0"}');
SELECT jsonb_array_length(bluebricks.add_deployments(
	'10000000-0000-4000-8000-000000000001',
	'[{"package": {"name": "a1", "uniqueId": "a1", "type": "blueprint"}}]'))
	AS deployments_a;

-- A person of org-b cannot see org-a's task: it does not exist for them.
BEGIN;
SET LOCAL request.jwt.claims = '{"sub": "bob", "org": "org-b", "permissions": ["read:task", "update:task", "create:deployment", "delete:deployment"]}';
SELECT bluebricks.task('10000000-0000-4000-8000-000000000001');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN;
SET LOCAL request.jwt.claims = '{"sub": "bob", "org": "org-b", "permissions": ["read:task", "update:task", "create:deployment", "delete:deployment"]}';
SELECT bluebricks.task_status('10000000-0000-4000-8000-000000000001');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN;
SET LOCAL request.jwt.claims = '{"sub": "bob", "org": "org-b", "permissions": ["read:task", "update:task", "create:deployment", "delete:deployment"]}';
SELECT bluebricks.set_task_status('10000000-0000-4000-8000-000000000001',
								  'canceled');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN;
SET LOCAL request.jwt.claims = '{"sub": "bob", "org": "org-b", "permissions": ["read:task", "update:task", "create:deployment", "delete:deployment"]}';
SELECT bluebricks.add_deployments('10000000-0000-4000-8000-000000000001',
	'[{"package": {"name": "b1", "uniqueId": "b1", "type": "blueprint"}}]');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN;
SET LOCAL request.jwt.claims = '{"sub": "bob", "org": "org-b", "permissions": ["read:task", "update:task", "create:deployment", "delete:deployment"]}';
SELECT bluebricks.delete_task('10000000-0000-4000-8000-000000000001');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
-- ... while their own task is there.
BEGIN;
SET LOCAL request.jwt.claims = '{"sub": "bob", "org": "org-b", "permissions": ["read:task"]}';
SELECT bluebricks.task('10000000-0000-4000-8000-000000000002') ->> 'organization'
	AS organization;
ROLLBACK;
SELECT stage FROM bluebricks.task
WHERE task_id = '10000000-0000-4000-8000-000000000001';

-- The policies bind the functions' owner as well: as bluebricks_owner, a
-- request of org-a sees only org-a's rows in every task-owned table.
BEGIN;
SET LOCAL ROLE bluebricks_owner;
SET LOCAL request.jwt.claims = '{"sub": "ann", "org": "org-a", "permissions": ["read:task"]}';
SELECT task_id, organization FROM bluebricks.task ORDER BY task_id;
SELECT count(*) AS deployments FROM bluebricks.deployment;
SELECT DISTINCT task_id FROM bluebricks.stage_history ORDER BY 1;
ROLLBACK;
BEGIN;
SET LOCAL ROLE bluebricks_owner;
SET LOCAL request.jwt.claims = '{"sub": "bob", "org": "org-b", "permissions": ["read:task"]}';
SELECT task_id, organization FROM bluebricks.task ORDER BY task_id;
SELECT count(*) AS deployments FROM bluebricks.deployment;
WITH u AS (
	UPDATE bluebricks.task SET error = 'x'
	WHERE task_id = '10000000-0000-4000-8000-000000000001' RETURNING 1)
SELECT count(*) AS updated_elsewhere FROM u;
INSERT INTO bluebricks.task (task_id, command, organization, environment_id)
VALUES ('10000000-0000-4000-8000-000000000009', 'install', 'org-a',
		'10000000-0000-4000-8000-0000000000e0');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;

-- A missing permission is refused before anything is read.
BEGIN;
SET LOCAL request.jwt.claims = '{"sub": "ann", "org": "org-a", "permissions": []}';
SELECT bluebricks.task_status('10000000-0000-4000-8000-000000000001');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN;
SET LOCAL request.jwt.claims = '{"sub": "ann", "org": "org-a", "permissions": ["read:task"]}';
SELECT bluebricks.set_task_status('10000000-0000-4000-8000-000000000001',
								  'planning');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN;
SET LOCAL request.jwt.claims = '{"sub": "ann", "org": "org-a", "permissions": ["read:task"]}';
SELECT bluebricks.add_deployments('10000000-0000-4000-8000-000000000001',
	'[{"package": {"name": "a2", "uniqueId": "a2", "type": "blueprint"}}]');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN;
SET LOCAL request.jwt.claims = '{"sub": "ann", "org": "org-a", "scope": "read:task update:task"}';
SELECT bluebricks.delete_task('10000000-0000-4000-8000-000000000001');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
-- A "scope" string grants like a "permissions" array.
BEGIN;
SET LOCAL request.jwt.claims = '{"sub": "ann", "org": "org-a", "scope": "read:task update:task"}';
SELECT bluebricks.set_task_status('10000000-0000-4000-8000-000000000001',
								  'canceled') ->> 'status' AS status;
ROLLBACK;

-- A session user outside bluebricks_admin with no claims sees nothing.
SET client_min_messages = warning;
DROP ROLE IF EXISTS regress_bb_api;
DROP ROLE IF EXISTS regress_bb_operator;
RESET client_min_messages;
CREATE ROLE regress_bb_api LOGIN IN ROLE bluebricks_api;
SET SESSION AUTHORIZATION regress_bb_api;
SELECT bluebricks.task('10000000-0000-4000-8000-000000000001');
\echo :LAST_ERROR_SQLSTATE
SELECT bluebricks.pending_tasks();
\echo :LAST_ERROR_SQLSTATE
-- The tables themselves are closed to it.
SELECT count(*) FROM bluebricks.task;
\echo :LAST_ERROR_SQLSTATE
-- Operator functions are not granted to the API role.
SELECT bluebricks.create_runner('sneaky', 'org-a');
\echo :LAST_ERROR_SQLSTATE
SELECT bluebricks.expire_leases();
\echo :LAST_ERROR_SQLSTATE
-- With claims it acts for their organization.
BEGIN;
SET LOCAL request.jwt.claims = '{"sub": "ann", "org": "org-a", "permissions": ["read:task"]}';
SELECT bluebricks.task_status('10000000-0000-4000-8000-000000000001') ->> 'status'
	AS status;
ROLLBACK;
RESET SESSION AUTHORIZATION;
-- A member of bluebricks_admin without claims is an operator.
CREATE ROLE regress_bb_operator LOGIN IN ROLE bluebricks_api, bluebricks_admin;
SET SESSION AUTHORIZATION regress_bb_operator;
SELECT bluebricks.task_status('10000000-0000-4000-8000-000000000002') ->> 'status'
	AS status;
RESET SESSION AUTHORIZATION;
DROP ROLE regress_bb_api;
DROP ROLE regress_bb_operator;

-- Basic credentials: a runner's name and password.
SELECT bluebricks.create_runner('regress-runner', 'org-a') AS runner \gset
SELECT (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(:'runner') k)
		   AS runner_keys,
	   :'runner'::jsonb ->> 'username' AS username,
	   (:'runner'::jsonb ->> 'runner')::uuid = r.id AS runner_id,
	   length(:'runner'::jsonb ->> 'password') AS password_length,
	   r.organization, r.environments
FROM bluebricks.runner r WHERE r.name = 'regress-runner';
SELECT (bluebricks.authenticate_basic('regress-runner',
		:'runner'::jsonb ->> 'password')) AS claims \gset
SELECT :'claims'::jsonb ->> 'role' AS role, :'claims'::jsonb ->> 'org' AS org,
	   :'claims'::jsonb ->> 'runner' = :'runner'::jsonb ->> 'runner' AS runner_id;
SELECT bluebricks.authenticate_basic('regress-runner', 'wrong');
\echo :LAST_ERROR_SQLSTATE
SELECT bluebricks.authenticate_basic('no-such-runner', 'wrong');
\echo :LAST_ERROR_SQLSTATE
-- The password is stored as its SHA-256 only.
SELECT password_hash = sha256(convert_to(:'runner'::jsonb ->> 'password',
										  'UTF8')) AS hashed
FROM bluebricks.runner WHERE name = 'regress-runner';

-- ... or a task id and its lease token.
SELECT bluebricks.claim_tasks((:'runner'::jsonb ->> 'runner')::uuid, 1) -> 0
	AS lease \gset
SELECT :'lease'::jsonb ->> 'taskId' AS leased;
SELECT bluebricks.authenticate_basic(:'lease'::jsonb ->> 'taskId',
	:'lease'::jsonb ->> 'token') AS claims \gset
SELECT :'claims'::jsonb ->> 'role' AS role, :'claims'::jsonb ->> 'org' AS org,
	   :'claims'::jsonb ->> 'task' AS task,
	   :'claims'::jsonb ->> 'runner' = :'runner'::jsonb ->> 'runner' AS runner_id;
SELECT bluebricks.authenticate_basic(:'lease'::jsonb ->> 'taskId', 'wrong');
\echo :LAST_ERROR_SQLSTATE
-- A task token speaks for its task only.
BEGIN;
SELECT set_config('request.jwt.claims', :'claims', true) IS NOT NULL AS set;
SELECT bluebricks.task_status('10000000-0000-4000-8000-000000000001')
	->> 'status' AS own_task;
SELECT bluebricks.task_status('10000000-0000-4000-8000-000000000003');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;

DELETE FROM bluebricks.task;
DELETE FROM bluebricks.runner;
DELETE FROM bluebricks.environment;

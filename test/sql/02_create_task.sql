-- test/sql/02_create_task.sql
--	create_task: a pending task from a document, its first timestamps and
--	history row, and the refusals of bad documents.
\set VERBOSITY default
\set SHOW_CONTEXT never
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';

SELECT bluebricks.upsert_environment('{
  "id": "02000000-0000-4000-8000-0000000000e0",
  "slug": "create", "name": "Create"}');

-- Environment given by id.
SELECT bluebricks.create_task('{
  "taskId": "02000000-0000-4000-8000-000000000001",
  "command": "install", "planOnly": false, "user": "ann",
  "organization": "o2",
  "environment": "02000000-0000-4000-8000-0000000000e0",
  "props": {"region": "eu"}, "secrets": {"TOKEN": "s3cret"},
  "decryptionKeyId": "key1"}');

-- Secrets are sealed at rest: the column holds no plaintext.
SELECT task_id, command, plan_only, user_name, organization, environment_id,
	   stage, props, substr(secrets, 1, 3) AS sealed_form,
	   position('s3cret'::bytea IN secrets) AS plaintext_at,
	   decryption_key_id, error, state_counts,
	   runner_id, lease_token_hash, lease_expires, lease_duration
FROM bluebricks.task WHERE task_id = '02000000-0000-4000-8000-000000000001';

-- A key the server does not hold is refused.
SELECT bluebricks.create_task('{
  "command": "install", "organization": "o2",
  "environment": "02000000-0000-4000-8000-0000000000e0",
  "secrets": {"TOKEN": "s3cret"}, "decryptionKeyId": "no-such-key"}');

-- INSERT stamps entered[pending] with created and leaves the rest empty.
SELECT entered[1] = created AS pending_stamped,
	   cardinality(array_remove(entered[2:9], NULL)) AS other_stamps,
	   created > now() - interval '1 minute' AS created_now,
	   updated IS NULL AS not_updated, completed IS NULL AS not_completed
FROM bluebricks.task WHERE task_id = '02000000-0000-4000-8000-000000000001';

SELECT guid, from_stage, to_stage, error
FROM bluebricks.stage_history
WHERE task_id = '02000000-0000-4000-8000-000000000001';

-- Without taskId an id is made; defaults: planOnly false.
SELECT bluebricks.create_task('{
  "command": "uninstall", "organization": "o2",
  "environment": "02000000-0000-4000-8000-0000000000e0"}') AS made_id \gset
SELECT task_id = :'made_id' AS same_id, command, plan_only, user_name, stage
FROM bluebricks.task WHERE task_id = :'made_id';

-- A whole environment document creates the environment when it is new.
SELECT bluebricks.create_task('{
  "taskId": "02000000-0000-4000-8000-000000000002",
  "command": "force_uninstall", "planOnly": true, "organization": "o2",
  "stage": "pending",
  "environment": {"id": "02000000-0000-4000-8000-0000000000e1",
				  "slug": "embedded", "name": "Embedded"}}');
SELECT id, slug, name FROM bluebricks.environment ORDER BY id;
SELECT command, plan_only, environment_id FROM bluebricks.task
WHERE task_id = '02000000-0000-4000-8000-000000000002';

-- Refusals.
SELECT bluebricks.create_task('{
  "taskId": "02000000-0000-4000-8000-000000000001",
  "command": "install", "organization": "o2",
  "environment": "02000000-0000-4000-8000-0000000000e0"}');
\echo :LAST_ERROR_SQLSTATE
SELECT bluebricks.create_task('{
  "taskId": "02000000-0000-4000-8000-000000000003",
  "command": "install", "organization": "o2",
  "environment": "02000000-0000-4000-8000-0000000000ff"}');
\echo :LAST_ERROR_SQLSTATE
SELECT bluebricks.create_task('{
  "taskId": "02000000-0000-4000-8000-000000000003",
  "organization": "o2",
  "environment": "02000000-0000-4000-8000-0000000000e0"}');
\echo :LAST_ERROR_SQLSTATE
SELECT bluebricks.create_task('{
  "taskId": "02000000-0000-4000-8000-000000000003",
  "command": "destroy", "organization": "o2",
  "environment": "02000000-0000-4000-8000-0000000000e0"}');
\echo :LAST_ERROR_SQLSTATE
SELECT bluebricks.create_task('{
  "taskId": "02000000-0000-4000-8000-000000000003",
  "command": "install", "organization": "o2"}');
\echo :LAST_ERROR_SQLSTATE
SELECT bluebricks.create_task('{
  "taskId": "02000000-0000-4000-8000-000000000003",
  "command": "install",
  "environment": "02000000-0000-4000-8000-0000000000e0"}');
\echo :LAST_ERROR_SQLSTATE
SELECT bluebricks.create_task('{
  "taskId": "02000000-0000-4000-8000-000000000003",
  "command": "install", "organization": "o2", "stage": "planning",
  "environment": "02000000-0000-4000-8000-0000000000e0"}');
\echo :LAST_ERROR_SQLSTATE
SELECT bluebricks.create_task('{
  "taskId": "02000000-0000-4000-8000-000000000003",
  "command": "install", "organization": "o2", "planOnly": "yes",
  "environment": "02000000-0000-4000-8000-0000000000e0"}');
\echo :LAST_ERROR_SQLSTATE
SELECT bluebricks.create_task('{
  "taskId": "02000000-0000-4000-8000-000000000003",
  "command": "install", "organization": "o2", "secrets": ["a"],
  "environment": "02000000-0000-4000-8000-0000000000e0"}');
\echo :LAST_ERROR_SQLSTATE
SELECT bluebricks.create_task('{
  "taskId": "not-a-uuid", "command": "install", "organization": "o2",
  "environment": "02000000-0000-4000-8000-0000000000e0"}');
\echo :LAST_ERROR_SQLSTATE
SELECT bluebricks.create_task('[1, 2]');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS tasks FROM bluebricks.task;

-- With claims: create:task is needed, and the task belongs to the
-- request's organization.
BEGIN;
SET LOCAL request.jwt.claims = '{"sub": "bob", "org": "o2", "permissions": ["read:task"]}';
SELECT bluebricks.create_task('{
  "taskId": "02000000-0000-4000-8000-000000000004", "command": "install",
  "environment": "02000000-0000-4000-8000-0000000000e0"}');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN;
SET LOCAL request.jwt.claims = '{"sub": "bob", "org": "o2", "permissions": ["create:task", "read:task"]}';
SELECT bluebricks.create_task('{
  "taskId": "02000000-0000-4000-8000-000000000004", "command": "install",
  "environment": "02000000-0000-4000-8000-0000000000e0"}');
SELECT organization, user_name FROM bluebricks.task
WHERE task_id = '02000000-0000-4000-8000-000000000004';
SELECT bluebricks.create_task('{
  "taskId": "02000000-0000-4000-8000-000000000005", "command": "install",
  "organization": "someone-else",
  "environment": "02000000-0000-4000-8000-0000000000e0"}');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN;
SET LOCAL request.jwt.claims = '{"sub": "bob", "org": "o2", "scope": "read:task create:task"}';
SELECT bluebricks.create_task('{
  "taskId": "02000000-0000-4000-8000-000000000006", "command": "install",
  "environment": "02000000-0000-4000-8000-0000000000e0"}');
ROLLBACK;

DELETE FROM bluebricks.task;
DELETE FROM bluebricks.environment;

-- test/sql/09_delete.sql
--	delete_task: the task goes with its deployments, dependencies, history
--	and claims, and the answer lists what went.
\set VERBOSITY default
\set SHOW_CONTEXT never

SELECT bluebricks.upsert_environment('{
  "id": "09000000-0000-4000-8000-0000000000e0",
  "slug": "delete", "name": "Delete"}') IS NOT NULL AS environment;
SELECT bluebricks.create_task('{
  "taskId": "09000000-0000-4000-8000-000000000001", "command": "install",
  "organization": "o9", "user": "u9",
  "environment": "09000000-0000-4000-8000-0000000000e0"}');
SELECT bluebricks.create_task('{
  "taskId": "09000000-0000-4000-8000-000000000002", "command": "install",
  "organization": "o9", "user": "u9",
  "environment": "09000000-0000-4000-8000-0000000000e0"}');
SELECT jsonb_array_length(bluebricks.add_deployments(
	'09000000-0000-4000-8000-000000000001', '[
  {"package": {"name": "a", "uniqueId": "a", "type": "blueprint"},
   "guid": "09000000-0000-4000-8000-0000000000d1"},
  {"package": {"name": "b", "uniqueId": "b", "type": "blueprint"},
   "guid": "09000000-0000-4000-8000-0000000000d2",
   "parent": "a", "dependencies": {"direct": ["a", "later"]}}]')) AS added;
SELECT jsonb_array_length(bluebricks.add_deployments(
	'09000000-0000-4000-8000-000000000001', '[
  {"package": {"name": "a", "uniqueId": "a", "type": "blueprint"},
   "action": "planning"}]')) AS moved;
SELECT jsonb_array_length(bluebricks.add_deployments(
	'09000000-0000-4000-8000-000000000002', '[
  {"package": {"name": "keep", "uniqueId": "keep", "type": "blueprint"}}]'))
	AS added_elsewhere;
INSERT INTO bluebricks.runner (id, name, organization, password_hash)
VALUES ('09000000-0000-4000-8000-0000000000a1', 'r9', 'o9', sha256('p'));
SELECT jsonb_array_length(bluebricks.claim_tasks(
	'09000000-0000-4000-8000-0000000000a1', 1)) AS claimed;

CREATE FUNCTION pg_temp.rows_of(t uuid)
RETURNS TABLE (tasks bigint, deployments bigint, dependencies bigint,
			   history bigint, claims bigint) LANGUAGE sql AS $$
	SELECT (SELECT count(*) FROM bluebricks.task WHERE task_id = t),
		   (SELECT count(*) FROM bluebricks.deployment WHERE task_id = t),
		   (SELECT count(*) FROM bluebricks.deployment_dependency
			WHERE task_id = t),
		   (SELECT count(*) FROM bluebricks.stage_history WHERE task_id = t),
		   (SELECT count(*) FROM bluebricks.claim_log WHERE task_id = t)
$$;
SELECT * FROM pg_temp.rows_of('09000000-0000-4000-8000-000000000001');

-- The answer: the task id and its deployments' guids, in their order.
SELECT bluebricks.delete_task('09000000-0000-4000-8000-000000000001');
SELECT * FROM pg_temp.rows_of('09000000-0000-4000-8000-000000000001');
-- The other task is untouched; the environment and runner stay.
SELECT * FROM pg_temp.rows_of('09000000-0000-4000-8000-000000000002');
SELECT (SELECT count(*) FROM bluebricks.environment) AS environments,
	   (SELECT count(*) FROM bluebricks.runner) AS runners;

-- Deleted, it is not found any more.
SELECT bluebricks.delete_task('09000000-0000-4000-8000-000000000001');
\echo :LAST_ERROR_SQLSTATE
SELECT bluebricks.task('09000000-0000-4000-8000-000000000001');
\echo :LAST_ERROR_SQLSTATE

-- A task with no deployments lists none.
SELECT bluebricks.create_task('{
  "taskId": "09000000-0000-4000-8000-000000000003", "command": "uninstall",
  "organization": "o9", "environment": "09000000-0000-4000-8000-0000000000e0"}');
SELECT bluebricks.delete_task('09000000-0000-4000-8000-000000000003');

-- Deleting takes delete:deployment.
BEGIN;
SET LOCAL request.jwt.claims = '{"sub": "u9", "org": "o9", "permissions": ["read:task", "update:task", "create:task"]}';
SELECT bluebricks.delete_task('09000000-0000-4000-8000-000000000002');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN;
SET LOCAL request.jwt.claims = '{"sub": "u9", "org": "o9", "permissions": ["delete:deployment"]}';
SELECT bluebricks.delete_task('09000000-0000-4000-8000-000000000002')
	->> 'task' AS deleted;
ROLLBACK;
-- A runner holds no delete:deployment.
BEGIN;
SET LOCAL request.jwt.claims = '{"sub": "r9", "org": "o9", "role": "runner", "runner": "09000000-0000-4000-8000-0000000000a1"}';
SELECT bluebricks.delete_task('09000000-0000-4000-8000-000000000002');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
SELECT * FROM pg_temp.rows_of('09000000-0000-4000-8000-000000000002');

DELETE FROM bluebricks.task;
DELETE FROM bluebricks.runner;
DELETE FROM bluebricks.environment;

-- test/sql/11_errors.sql
--	One case of every SQLSTATE the API raises, with its message: the
--	gateway maps each to an HTTP status, so they must not drift.
\set VERBOSITY default
\set SHOW_CONTEXT never

SELECT bluebricks.upsert_environment('{
  "id": "11000000-0000-4000-8000-0000000000e0",
  "slug": "errors", "name": "Errors"}') IS NOT NULL AS environment;
SELECT bluebricks.create_task('{
  "taskId": "11000000-0000-4000-8000-000000000001", "command": "install",
  "organization": "o11", "user": "u11",
  "environment": "11000000-0000-4000-8000-0000000000e0"}');
INSERT INTO bluebricks.runner (id, name, organization, password_hash)
VALUES ('11000000-0000-4000-8000-0000000000a1', 'r11', 'o11', sha256('p'));
SELECT jsonb_array_length(bluebricks.add_deployments(
	'11000000-0000-4000-8000-000000000001', '[
  {"package": {"name": "a", "uniqueId": "a", "type": "blueprint"},
   "guid": "11000000-0000-4000-8000-0000000000d1"},
  {"package": {"name": "b", "uniqueId": "b", "type": "blueprint"},
   "guid": "11000000-0000-4000-8000-0000000000d2",
   "dependencies": {"direct": "a"}}]')) AS deployments;
SELECT s, jsonb_array_length(bluebricks.add_deployments(
	'11000000-0000-4000-8000-000000000001', jsonb_build_array(
		jsonb_build_object('package', '{"name": "b", "uniqueId": "b",
									   "type": "blueprint"}'::jsonb,
						   'action', s)))) AS moved
FROM unnest('{planning,planned,plan_approved}'::text[]) WITH ORDINALITY x(s, n)
ORDER BY n;

CREATE TEMP TABLE cases (n serial, expect text, claims text, stmt text);
INSERT INTO cases (expect, claims, stmt) VALUES
	('BB001', NULL, $$SELECT bluebricks.task('11000000-0000-4000-8000-00000000dead')$$),
	('BB001', '{"sub": "x", "org": "elsewhere", "permissions": ["read:task"]}',
	 $$SELECT bluebricks.task_status('11000000-0000-4000-8000-000000000001')$$),
	('BB002', NULL, $$SELECT bluebricks.set_task_status('11000000-0000-4000-8000-000000000001', 'completed')$$),
	('BB003', NULL, $$SELECT bluebricks.set_task_status('11000000-0000-4000-8000-000000000001', 'planning', token => 'deadbeef')$$),
	('BB004', NULL, $$SELECT bluebricks.add_deployments('11000000-0000-4000-8000-000000000001', '[{"package": {"name": "b", "uniqueId": "b", "type": "blueprint"}, "action": "installing"}]')$$),
	('BB005', NULL, $$SELECT bluebricks.create_task('{"command": "install"}')$$),
	('BB005', NULL, $$INSERT INTO bluebricks.deployment (task_id, guid, ordinal, package_name, unique_id, type, stage) VALUES ('11000000-0000-4000-8000-000000000001', '11000000-0000-4000-8000-0000000000d9', 9, 'z', 'z', 'blueprint', 'planning')$$),
	('BB006', NULL, $$SELECT bluebricks.add_deployments('11000000-0000-4000-8000-000000000001', '[{"package": {"name": "a", "uniqueId": "a", "type": "blueprint"}, "dependencies": {"direct": "b"}}]')$$),
	('BB007', NULL, $$SELECT bluebricks.add_deployments('11000000-0000-4000-8000-000000000001', '[{"package": {"name": "c", "uniqueId": "c", "type": "blueprint"}, "parent": "nobody"}]')$$),
	('BB007', NULL, $$SELECT bluebricks.claim_tasks('11000000-0000-4000-8000-0000000000ff')$$),
	('BB008', NULL, $$SELECT bluebricks.create_task('{"taskId": "11000000-0000-4000-8000-000000000001", "command": "install", "organization": "o11", "environment": "11000000-0000-4000-8000-0000000000e0"}')$$),
	('BB009', NULL, $$SELECT bluebricks.authenticate_basic('r11', 'not-the-password')$$),
	('42501', '{"sub": "x", "org": "o11", "permissions": ["read:task"]}',
	 $$SELECT bluebricks.delete_task('11000000-0000-4000-8000-000000000001')$$),
	('42501', '{"sub": "x", "org": "o11", "permissions": ["create:task"]}',
	 $$SELECT bluebricks.create_task('{"command": "install", "organization": "o12", "environment": "11000000-0000-4000-8000-0000000000e0"}')$$),
	('22P02', NULL, $$SELECT bluebricks.task('not-a-uuid')$$),
	('22P02', NULL, $$SELECT bluebricks.set_task_status('11000000-0000-4000-8000-000000000001', 'sideways')$$),
	('22P02', NULL, $$SELECT bluebricks.create_task('{"command": ')$$);

-- Run each case in a subtransaction under its claims.
CREATE FUNCTION pg_temp.run(c cases)
RETURNS TABLE (sqlstate text, message text, detail text)
LANGUAGE plpgsql AS $$
DECLARE
	st text;
	msg text;
	det text;
BEGIN
	PERFORM set_config('request.jwt.claims', coalesce(c.claims, ''), true);
	BEGIN
		EXECUTE c.stmt;
		st := 'none';
	EXCEPTION WHEN OTHERS THEN
		GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
			det = PG_EXCEPTION_DETAIL;
	END;
	PERFORM set_config('request.jwt.claims', '', true);
	RETURN QUERY SELECT st, msg, nullif(det, '');
END
$$;

SELECT c.n, c.expect, r.sqlstate, r.sqlstate = c.expect AS as_expected,
	   r.message
FROM cases c, pg_temp.run(c) r ORDER BY c.n;

-- Nothing above changed the task.
SELECT stage, state_counts FROM bluebricks.task
WHERE task_id = '11000000-0000-4000-8000-000000000001';

DELETE FROM bluebricks.task;
DELETE FROM bluebricks.runner;
DELETE FROM bluebricks.environment;

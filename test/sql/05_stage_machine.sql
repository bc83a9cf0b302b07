-- test/sql/05_stage_machine.sql
--	The stage machine of tasks and deployments: every move from every
--	stage under each kind of task, same-stage moves, the error raised for
--	an illegal move, and dependency gating of deployments.
\set VERBOSITY default
\set SHOW_CONTEXT never

SELECT bluebricks.upsert_environment('{
  "id": "05000000-0000-4000-8000-0000000000e0",
  "slug": "machine", "name": "Machine"}') IS NOT NULL AS environment;

-- A path of legal moves from pending to each stage, for any kind of task.
CREATE TEMP TABLE path_to (stage text PRIMARY KEY, path text[]);
INSERT INTO path_to VALUES
	('pending', '{}'),
	('planning', '{planning}'),
	('no_change', '{planning,no_change}'),
	('planned', '{planning,planned}'),
	('plan_approved', '{planning,planned,plan_approved}'),
	('installing', '{planning,planned,plan_approved,installing}'),
	('canceled', '{canceled}'),
	('completed', '{planning,no_change,completed}'),
	('error', '{error}');

-- Outcome of moving a fresh task of the kind along path, then to target:
-- 'ok', the SQLSTATE of the refusal, or '-' when the path itself is
-- refused (the stage cannot be reached by that kind).
CREATE FUNCTION pg_temp.try_move(cmd text, plan_only boolean, path text[],
								 target text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	t uuid;
	s text;
BEGIN
	t := bluebricks.create_task(jsonb_build_object(
		'command', cmd, 'planOnly', plan_only, 'organization', 'o5',
		'user', 'u5', 'environment', '05000000-0000-4000-8000-0000000000e0'));
	BEGIN
		FOREACH s IN ARRAY path LOOP
			PERFORM bluebricks.set_task_status(t, s::bluebricks.stage);
		END LOOP;
	EXCEPTION WHEN OTHERS THEN
		PERFORM bluebricks.delete_task(t);
		RETURN '-';
	END;
	BEGIN
		PERFORM bluebricks.set_task_status(t, target::bluebricks.stage);
		s := 'ok';
	EXCEPTION WHEN OTHERS THEN
		s := SQLSTATE;
	END;
	PERFORM bluebricks.delete_task(t);
	RETURN s;
END
$$;

-- One matrix per kind: rows are the stage moved from, columns the stage
-- moved to.
CREATE FUNCTION pg_temp.matrix(cmd text, plan_only boolean)
RETURNS TABLE ("from" text, pending text, planning text, no_change text,
			   planned text, plan_approved text, installing text,
			   canceled text, completed text, error text)
LANGUAGE sql AS $$
	SELECT f.stage,
		   max(r) FILTER (WHERE t = 'pending'),
		   max(r) FILTER (WHERE t = 'planning'),
		   max(r) FILTER (WHERE t = 'no_change'),
		   max(r) FILTER (WHERE t = 'planned'),
		   max(r) FILTER (WHERE t = 'plan_approved'),
		   max(r) FILTER (WHERE t = 'installing'),
		   max(r) FILTER (WHERE t = 'canceled'),
		   max(r) FILTER (WHERE t = 'completed'),
		   max(r) FILTER (WHERE t = 'error')
	FROM path_to f
	CROSS JOIN LATERAL unnest(enum_range(NULL::bluebricks.stage)::text[]) t
	CROSS JOIN LATERAL pg_temp.try_move(cmd, plan_only, f.path, t) r
	GROUP BY f.stage
	ORDER BY f.stage::bluebricks.stage
$$;

SELECT * FROM pg_temp.matrix('install', false);
SELECT * FROM pg_temp.matrix('uninstall', false);
SELECT * FROM pg_temp.matrix('force_install', false);
SELECT * FROM pg_temp.matrix('force_uninstall', false);
SELECT * FROM pg_temp.matrix('install', true);
SELECT * FROM pg_temp.matrix('force_install', true);
SELECT count(*) AS tasks_left FROM bluebricks.task;

-- The refusal names the task and both stages, and hints the way on.
SELECT bluebricks.create_task('{
  "taskId": "05000000-0000-4000-8000-000000000001", "command": "install",
  "planOnly": false, "organization": "o5", "user": "u5",
  "environment": "05000000-0000-4000-8000-0000000000e0"}');
SELECT bluebricks.set_task_status('05000000-0000-4000-8000-000000000001',
								  'installing');
\echo :LAST_ERROR_SQLSTATE
SELECT bluebricks.set_task_status('05000000-0000-4000-8000-000000000001',
								  'planning') ->> 'status' AS status;
SELECT bluebricks.set_task_status('05000000-0000-4000-8000-000000000001',
								  'plan_approved');
SELECT bluebricks.set_task_status('05000000-0000-4000-8000-000000000001',
								  'no_change') ->> 'status' AS status;
SELECT bluebricks.set_task_status('05000000-0000-4000-8000-000000000001',
								  'completed') ->> 'status' AS status;
SELECT bluebricks.set_task_status('05000000-0000-4000-8000-000000000001',
								  'planning');
\echo :LAST_ERROR_SQLSTATE

-- A plan-only task says why it may not install.
SELECT bluebricks.create_task('{
  "taskId": "05000000-0000-4000-8000-000000000002", "command": "force_install",
  "planOnly": true, "organization": "o5", "user": "u5",
  "environment": "05000000-0000-4000-8000-0000000000e0"}');
SELECT bluebricks.set_task_status('05000000-0000-4000-8000-000000000002',
								  'planning') ->> 'status' AS status;
SELECT bluebricks.set_task_status('05000000-0000-4000-8000-000000000002',
								  'planned') ->> 'status' AS status;
SELECT bluebricks.set_task_status('05000000-0000-4000-8000-000000000002',
								  'installing');
\echo :LAST_ERROR_SQLSTATE
SELECT bluebricks.set_task_status('05000000-0000-4000-8000-000000000002',
								  'completed') ->> 'status' AS status;

-- The machine binds plain UPDATEs as well as the API.
UPDATE bluebricks.task SET stage = 'pending'
WHERE task_id = '05000000-0000-4000-8000-000000000001';
\echo :LAST_ERROR_SQLSTATE
-- A task row is inserted pending or not at all.
INSERT INTO bluebricks.task (task_id, command, organization, environment_id,
							 stage)
VALUES ('05000000-0000-4000-8000-000000000003', 'install', 'o5',
		'05000000-0000-4000-8000-0000000000e0', 'planning');
\echo :LAST_ERROR_SQLSTATE

-- Same stage: succeeds and changes nothing, but a new error text is kept
-- in the history.
SELECT bluebricks.create_task('{
  "taskId": "05000000-0000-4000-8000-000000000004", "command": "install",
  "organization": "o5", "user": "u5",
  "environment": "05000000-0000-4000-8000-0000000000e0"}');
SELECT bluebricks.set_task_status('05000000-0000-4000-8000-000000000004',
								  'planning') ->> 'status' AS status;
CREATE TEMP TABLE before AS
SELECT stage, entered, updated, completed,
	   (SELECT count(*) FROM bluebricks.stage_history h
		WHERE h.task_id = t.task_id) AS history
FROM bluebricks.task t
WHERE task_id = '05000000-0000-4000-8000-000000000004';
SELECT bluebricks.set_task_status('05000000-0000-4000-8000-000000000004',
								  'planning') ->> 'status' AS status;
SELECT b.stage = t.stage AS same_stage, b.entered = t.entered AS same_entered,
	   b.completed IS NOT DISTINCT FROM t.completed AS same_completed,
	   (SELECT count(*) FROM bluebricks.stage_history h
		WHERE h.task_id = t.task_id) - b.history AS new_history
FROM bluebricks.task t, before b
WHERE t.task_id = '05000000-0000-4000-8000-000000000004';
SELECT bluebricks.set_task_status('05000000-0000-4000-8000-000000000004',
								  'planning', 'provider timed out, retrying')
	   ->> 'status' AS status;
SELECT from_stage, to_stage, error FROM bluebricks.stage_history
WHERE task_id = '05000000-0000-4000-8000-000000000004' AND guid IS NULL
ORDER BY seq;
SELECT b.entered = t.entered AS same_entered, t.error
FROM bluebricks.task t, before b
WHERE t.task_id = '05000000-0000-4000-8000-000000000004';

-- Timestamps: entered[i] is stamped on first entry only; final stages
-- stamp completed.
SELECT bluebricks.set_task_status('05000000-0000-4000-8000-000000000004',
								  'planned') ->> 'status' AS status;
SELECT bluebricks.set_task_status('05000000-0000-4000-8000-000000000004',
								  'plan_approved') ->> 'status' AS status;
SELECT bluebricks.set_task_status('05000000-0000-4000-8000-000000000004',
								  'installing') ->> 'status' AS status;
SELECT bluebricks.set_task_status('05000000-0000-4000-8000-000000000004',
								  'completed') ->> 'status' AS status;
SELECT array_agg(s ORDER BY s::bluebricks.stage) FILTER (
		   WHERE entered[array_position(enum_range(NULL::bluebricks.stage),
									   s::bluebricks.stage)] IS NOT NULL)
		   AS stamped,
	   entered[1] = created AS pending_at_creation,
	   completed IS NOT NULL AS completed_stamped,
	   updated >= created AS updated_stamped
FROM bluebricks.task,
	 unnest(enum_range(NULL::bluebricks.stage)::text[]) s
WHERE task_id = '05000000-0000-4000-8000-000000000004'
GROUP BY entered, created, completed, updated;

-- Deployments follow the machine of their task's kind.
SELECT bluebricks.create_task('{
  "taskId": "05000000-0000-4000-8000-000000000005", "command": "install",
  "organization": "o5", "user": "u5",
  "environment": "05000000-0000-4000-8000-0000000000e0"}');
CREATE FUNCTION pg_temp.act(t uuid, items jsonb) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM bluebricks.add_deployments(t, items);
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;
-- a has no dependencies, b depends on a, c on a package never posted.
SELECT pg_temp.act('05000000-0000-4000-8000-000000000005', '[
  {"package": {"name": "a", "uniqueId": "a", "type": "blueprint"},
   "guid": "05000000-0000-4000-8000-0000000000da"},
  {"package": {"name": "b", "uniqueId": "b", "type": "blueprint"},
   "guid": "05000000-0000-4000-8000-0000000000db",
   "dependencies": {"direct": "a"}},
  {"package": {"name": "c", "uniqueId": "c", "type": "blueprint"},
   "guid": "05000000-0000-4000-8000-0000000000dc",
   "dependencies": {"direct": ["a", "missing"]}}]');
SELECT s, pg_temp.act('05000000-0000-4000-8000-000000000005',
	jsonb_build_array(
		jsonb_build_object('package', '{"name": "a", "uniqueId": "a", "type": "blueprint"}'::jsonb, 'action', s),
		jsonb_build_object('package', '{"name": "b", "uniqueId": "b", "type": "blueprint"}'::jsonb, 'action', s),
		jsonb_build_object('package', '{"name": "c", "uniqueId": "c", "type": "blueprint"}'::jsonb, 'action', s)))
FROM unnest('{planning,planned,plan_approved}'::text[]) WITH ORDINALITY x(s, n)
ORDER BY n;
-- Gating: b may not install before a is done, nor c before "missing"
-- exists.
SELECT bluebricks.add_deployments('05000000-0000-4000-8000-000000000005', '[
  {"package": {"name": "b", "uniqueId": "b", "type": "blueprint"},
   "action": "installing"}]');
\echo :LAST_ERROR_SQLSTATE
SELECT pg_temp.act('05000000-0000-4000-8000-000000000005', '[
  {"package": {"name": "a", "uniqueId": "a", "type": "blueprint"},
   "action": "installing"}]') AS a_installing;
SELECT bluebricks.add_deployments('05000000-0000-4000-8000-000000000005', '[
  {"package": {"name": "c", "uniqueId": "c", "type": "blueprint"},
   "action": "installing"}]');
\echo :LAST_ERROR_SQLSTATE
-- a completing earlier in a batch lets b install later in the same batch.
SELECT pg_temp.act('05000000-0000-4000-8000-000000000005', '[
  {"package": {"name": "a", "uniqueId": "a", "type": "blueprint"},
   "action": "completed"},
  {"package": {"name": "b", "uniqueId": "b", "type": "blueprint"},
   "action": "installing"}]') AS a_then_b;
-- The plain UPDATE is gated as well.
UPDATE bluebricks.deployment SET stage = 'installing'
WHERE task_id = '05000000-0000-4000-8000-000000000005' AND unique_id = 'c';
\echo :LAST_ERROR_SQLSTATE
-- "missing" arrives and completes through no_change; c may install.
SELECT pg_temp.act('05000000-0000-4000-8000-000000000005', '[
  {"package": {"name": "missing", "uniqueId": "m", "type": "artifact"}}]');
SELECT s, pg_temp.act('05000000-0000-4000-8000-000000000005',
	jsonb_build_array(jsonb_build_object('package',
		'{"name": "missing", "uniqueId": "m", "type": "artifact"}'::jsonb,
		'action', s)))
FROM unnest('{planning,no_change}'::text[]) WITH ORDINALITY x(s, n)
ORDER BY n;
SELECT pg_temp.act('05000000-0000-4000-8000-000000000005', '[
  {"package": {"name": "c", "uniqueId": "c", "type": "blueprint"},
   "action": "installing"}]') AS c_installing;
SELECT unique_id, stage FROM bluebricks.deployment
WHERE task_id = '05000000-0000-4000-8000-000000000005' ORDER BY ordinal;
-- Illegal deployment moves name the deployment.
SELECT bluebricks.add_deployments('05000000-0000-4000-8000-000000000005', '[
  {"package": {"name": "a", "uniqueId": "a", "type": "blueprint"},
   "action": "planning"}]');
\echo :LAST_ERROR_SQLSTATE

-- A plan-only task's deployments never enter plan_approved or installing;
-- planned -> completed is their way out.
SELECT bluebricks.create_task('{
  "taskId": "05000000-0000-4000-8000-000000000006", "command": "force_install",
  "planOnly": true, "organization": "o5", "user": "u5",
  "environment": "05000000-0000-4000-8000-0000000000e0"}');
SELECT pg_temp.act('05000000-0000-4000-8000-000000000006', '[
  {"package": {"name": "p", "uniqueId": "p", "type": "blueprint"}}]');
SELECT s, pg_temp.act('05000000-0000-4000-8000-000000000006',
	jsonb_build_array(jsonb_build_object('package',
		'{"name": "p", "uniqueId": "p", "type": "blueprint"}'::jsonb,
		'action', s)))
FROM unnest('{planning,planned,plan_approved,installing,completed}'::text[])
	 WITH ORDINALITY x(s, n)
ORDER BY n;

DELETE FROM bluebricks.task;
DELETE FROM bluebricks.environment;

-- test/sql/06_status.sql
--	task_status and set_task_status: the documents of GET and POST
--	/api/v1/task/{taskId}/status, their keys as in the reference, counts of
--	all nine stages, timestamps and the error list.
\set VERBOSITY default
\set SHOW_CONTEXT never

SELECT bluebricks.upsert_environment('{
  "id": "06000000-0000-4000-8000-0000000000e0",
  "slug": "status", "name": "Status"}') IS NOT NULL AS environment;
SELECT bluebricks.create_task('{
  "taskId": "06000000-0000-4000-8000-000000000001", "command": "force_install",
  "planOnly": false, "organization": "o6", "user": "u6",
  "environment": "06000000-0000-4000-8000-0000000000e0"}');

-- Keys of an object, sorted.
CREATE FUNCTION pg_temp.keys(j jsonb) RETURNS text[] LANGUAGE sql AS $$
	SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(j) k
$$;
-- Whether a value is a timestamp as the API writes them.
CREATE FUNCTION pg_temp.is_ts(j jsonb) RETURNS boolean LANGUAGE sql AS $$
	SELECT jsonb_typeof(j) = 'string' AND
		   j #>> '{}' ~ '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$'
$$;

-- A fresh task: the summary has the reference's keys.
SELECT bluebricks.task_status('06000000-0000-4000-8000-000000000001') AS s \gset
SELECT pg_temp.keys(:'s') = ARRAY['command', 'completed', 'created',
		   'deployments', 'errors', 'planOnly', 'status', 'statusTimestamps',
		   'task', 'updated'] AS summary_keys,
	   pg_temp.keys(:'s'::jsonb -> 'deployments') AS deployments_keys,
	   pg_temp.keys(:'s'::jsonb -> 'deployments' -> 'states') =
		   pg_temp.keys(:'s'::jsonb -> 'statusTimestamps') AS same_stage_keys,
	   (SELECT array_agg(s ORDER BY s) FROM unnest(enum_range(NULL::bluebricks.stage)::text[]) s)
		   = pg_temp.keys(:'s'::jsonb -> 'statusTimestamps') AS all_nine;
SELECT :'s'::jsonb ->> 'task' AS task, :'s'::jsonb ->> 'status' AS status,
	   :'s'::jsonb ->> 'command' AS command, :'s'::jsonb -> 'planOnly' AS plan_only,
	   :'s'::jsonb -> 'deployments' AS deployments,
	   :'s'::jsonb -> 'errors' AS errors,
	   pg_temp.is_ts(:'s'::jsonb -> 'created') AS created,
	   :'s'::jsonb -> 'updated' AS updated, :'s'::jsonb -> 'completed' AS completed;
SELECT key, pg_temp.is_ts(value) AS is_timestamp, value = 'null' AS is_null
FROM jsonb_each(:'s'::jsonb -> 'statusTimestamps')
ORDER BY key::bluebricks.stage;
-- The creation time is the row's, to the millisecond, in UTC.
SELECT (:'s'::jsonb ->> 'created')::timestamptz = date_trunc('milliseconds', created)
		   AS created_matches,
	   :'s'::jsonb -> 'statusTimestamps' -> 'pending' = :'s'::jsonb -> 'created'
		   AS pending_at_created
FROM bluebricks.task WHERE task_id = '06000000-0000-4000-8000-000000000001';

-- Nine deployments, one left in each stage.
SELECT jsonb_array_length(bluebricks.add_deployments(
	'06000000-0000-4000-8000-000000000001',
	(SELECT jsonb_agg(jsonb_build_object('package', jsonb_build_object(
			'name', s, 'uniqueId', s, 'type', 'blueprint')) ORDER BY n)
	 FROM unnest(enum_range(NULL::bluebricks.stage)::text[])
		  WITH ORDINALITY x(s, n)))) AS deployments;
-- Paths of legal moves, applied a step at a time.
CREATE TEMP TABLE route (uid text, step int, action text);
INSERT INTO route VALUES
	('planning', 1, 'planning'),
	('no_change', 1, 'planning'), ('no_change', 2, 'no_change'),
	('planned', 1, 'planning'), ('planned', 2, 'planned'),
	('plan_approved', 1, 'planning'), ('plan_approved', 2, 'planned'),
	('plan_approved', 3, 'plan_approved'),
	('installing', 1, 'planning'), ('installing', 2, 'planned'),
	('installing', 3, 'installing'),
	('canceled', 1, 'canceled'),
	('completed', 1, 'planning'), ('completed', 2, 'no_change'),
	('completed', 3, 'completed'),
	('error', 1, 'error');
SELECT step, jsonb_array_length(bluebricks.add_deployments(
	'06000000-0000-4000-8000-000000000001',
	(SELECT jsonb_agg(jsonb_build_object(
			'package', jsonb_build_object('name', uid, 'uniqueId', uid,
										  'type', 'blueprint'),
			'action', action,
			'payload', CASE WHEN action = 'error'
						   THEN '{"error": "disk full"}'::jsonb END))
	 FROM route r WHERE r.step = s.step))) AS moved
FROM generate_series(1, 3) s(step) ORDER BY step;
SELECT unique_id, stage FROM bluebricks.deployment
WHERE task_id = '06000000-0000-4000-8000-000000000001' ORDER BY ordinal;

-- The task itself walks its way through planning to installing.
SELECT pg_temp.keys(bluebricks.set_task_status(
	'06000000-0000-4000-8000-000000000001', 'planning')) AS post_keys;
SELECT bluebricks.set_task_status('06000000-0000-4000-8000-000000000001',
	'planning', 'first plan failed, retrying') -> 'deployments' AS deployments;
SELECT bluebricks.set_task_status('06000000-0000-4000-8000-000000000001',
	'planned') AS p \gset
SELECT :'p'::jsonb ->> 'task' AS task, :'p'::jsonb ->> 'status' AS status,
	   pg_temp.is_ts(:'p'::jsonb -> 'created') AS created,
	   pg_temp.is_ts(:'p'::jsonb -> 'updated') AS updated,
	   :'p'::jsonb -> 'completed' AS completed;
SELECT bluebricks.set_task_status('06000000-0000-4000-8000-000000000001',
	'installing', 'forced past approval') ->> 'status' AS status;

SELECT bluebricks.task_status('06000000-0000-4000-8000-000000000001') AS s \gset
SELECT :'s'::jsonb ->> 'status' AS status,
	   :'s'::jsonb -> 'deployments' AS deployments;
SELECT (SELECT sum(value::int) FROM jsonb_each_text(
			:'s'::jsonb -> 'deployments' -> 'states'))
		   = (:'s'::jsonb -> 'deployments' ->> 'total')::int AS total_is_sum;
SELECT key, pg_temp.is_ts(value) AS is_timestamp
FROM jsonb_each(:'s'::jsonb -> 'statusTimestamps')
ORDER BY key::bluebricks.stage;
SELECT ((:'s'::jsonb -> 'statusTimestamps' ->> 'pending')::timestamptz <=
		(:'s'::jsonb -> 'statusTimestamps' ->> 'planning')::timestamptz) AND
	   ((:'s'::jsonb -> 'statusTimestamps' ->> 'planning')::timestamptz <=
		(:'s'::jsonb -> 'statusTimestamps' ->> 'planned')::timestamptz) AND
	   ((:'s'::jsonb -> 'statusTimestamps' ->> 'planned')::timestamptz <=
		(:'s'::jsonb -> 'statusTimestamps' ->> 'installing')::timestamptz)
		   AS in_order,
	   pg_temp.is_ts(:'s'::jsonb -> 'updated') AS updated,
	   :'s'::jsonb -> 'completed' AS completed;
-- The errors reported with the task's changes, oldest first.
SELECT jsonb_typeof(:'s'::jsonb -> 'errors') AS errors_type,
	   jsonb_array_length(:'s'::jsonb -> 'errors') AS errors;
SELECT e ->> 'status' AS status, e ->> 'error' AS error, pg_temp.is_ts(e -> 'at') AS at
FROM jsonb_array_elements(:'s'::jsonb -> 'errors') e;

-- The expanded form adds the deployments and the legal next moves.
SELECT bluebricks.task_status('06000000-0000-4000-8000-000000000001',
							  true) AS x \gset
SELECT pg_temp.keys(:'x') AS expanded_keys,
	   pg_temp.keys(:'x'::jsonb -> 'deployments') AS deployments_keys,
	   (:'x'::jsonb - 'actions' - 'deployments') =
		   (:'s'::jsonb - 'deployments') AS rest_as_summary,
	   :'x'::jsonb -> 'deployments' -> 'states' =
		   :'s'::jsonb -> 'deployments' -> 'states' AS same_states;
SELECT :'x'::jsonb -> 'actions' AS actions;
SELECT jsonb_array_length(:'x'::jsonb -> 'deployments' -> 'items') AS items,
	   pg_temp.keys(:'x'::jsonb -> 'deployments' -> 'items' -> 0) AS item_keys;
SELECT i -> 'package' ->> 'uniqueId' AS deployment, i ->> 'stage' AS stage,
	   (SELECT array_agg(k ORDER BY k::bluebricks.stage)
		FROM jsonb_each(i -> 'statusTimestamps') t(k, v)
		WHERE pg_temp.is_ts(v)) AS stamped,
	   (SELECT jsonb_agg(e - 'at') FROM jsonb_array_elements(
			CASE WHEN jsonb_typeof(i -> 'errors') = 'array'
				 THEN i -> 'errors' END) e) AS errors,
	   (SELECT bool_and(pg_temp.is_ts(e -> 'at')) FROM jsonb_array_elements(
			CASE WHEN jsonb_typeof(i -> 'errors') = 'array'
				 THEN i -> 'errors' END) e) AS errors_at,
	   jsonb_typeof(i -> 'errors') AS errors_type
FROM jsonb_array_elements(:'x'::jsonb -> 'deployments' -> 'items') i;

-- Ending the task stamps completed; the POST form says so.
SELECT bluebricks.set_task_status('06000000-0000-4000-8000-000000000001',
	'error', 'apply failed') AS p \gset
SELECT :'p'::jsonb ->> 'status' AS status,
	   pg_temp.is_ts(:'p'::jsonb -> 'completed') AS completed,
	   :'p'::jsonb -> 'deployments' AS deployments;
SELECT (bluebricks.task_status('06000000-0000-4000-8000-000000000001', true)
		-> 'actions') AS actions_when_final;

-- Unknown task; bad arguments.
SELECT bluebricks.task_status('06000000-0000-4000-8000-00000000dead');
\echo :LAST_ERROR_SQLSTATE
SELECT bluebricks.set_task_status('06000000-0000-4000-8000-00000000dead',
								  'planning');
\echo :LAST_ERROR_SQLSTATE
SELECT bluebricks.set_task_status('06000000-0000-4000-8000-000000000001',
								  'flying');
\echo :LAST_ERROR_SQLSTATE
SELECT bluebricks.set_task_status('06000000-0000-4000-8000-000000000001', NULL);
\echo :LAST_ERROR_SQLSTATE

DELETE FROM bluebricks.task;
DELETE FROM bluebricks.environment;

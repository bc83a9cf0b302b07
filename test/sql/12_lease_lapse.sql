-- test/sql/12_lease_lapse.sql
--	What a lapsed lease does in each stage, and how a late runner's token
--	is refused.
\set VERBOSITY default
\set SHOW_CONTEXT never

SELECT bluebricks.upsert_environment('{
  "id": "12000000-0000-4000-8000-0000000000e0",
  "slug": "lapse", "name": "Lapse"}') IS NOT NULL AS environment;
SELECT bluebricks.create_runner('lapse-runner', 'org-lapse') ->> 'runner'
	AS runner \gset

-- One task per case, each with one deployment, all claimed by the runner.
SELECT bluebricks.create_task(format('{"taskId": "12000000-0000-4000-8000-00000000000%s",
  "command": "%s", "planOnly": %s, "organization": "org-lapse",
  "environment": "12000000-0000-4000-8000-0000000000e0"}', n, c, p)::jsonb)
FROM (VALUES (1, 'install', 'true'), (2, 'install', 'false'),
			 (3, 'force_install', 'false'), (4, 'install', 'false'),
			 (5, 'install', 'false')) v (n, c, p);
SELECT count(*) AS claimed
FROM jsonb_array_elements(bluebricks.claim_tasks(:'runner', 5));

-- Move each to the stage the case needs, as the lease holder would.
CREATE TEMP TABLE lapse_case (task uuid, stages text[]);
INSERT INTO lapse_case VALUES
	('12000000-0000-4000-8000-000000000001', '{planning,planned}'),
	('12000000-0000-4000-8000-000000000002', '{planning,planned}'),
	('12000000-0000-4000-8000-000000000003', '{planning,planned}'),
	('12000000-0000-4000-8000-000000000004', '{planning,no_change}'),
	('12000000-0000-4000-8000-000000000005',
	 '{planning,planned,plan_approved,installing}');
DO $$
DECLARE
	c record;
	s text;
BEGIN
	FOR c IN SELECT * FROM lapse_case LOOP
		FOREACH s IN ARRAY c.stages LOOP
			PERFORM bluebricks.set_task_status(c.task, s::bluebricks.stage);
			PERFORM bluebricks.add_deployments(c.task, format(
				'[{"package": {"name": "p", "uniqueId": "p", "type": "artifact"},
				   "action": "%s"}]', s)::jsonb);
		END LOOP;
	END LOOP;
END
$$;
SELECT t.task_id, t.stage, d.stage AS deployment
FROM bluebricks.task t JOIN bluebricks.deployment d USING (task_id)
ORDER BY 1;

-- Keep one token, then let every lease lapse.
SELECT encode(lease_token_hash, 'hex') IS NOT NULL AS leased
FROM bluebricks.task WHERE task_id = '12000000-0000-4000-8000-000000000001';
UPDATE bluebricks.task SET lease_expires = now() - interval '1 second';
SELECT bluebricks.expire_leases() AS lapsed;

-- planOnly planned, forced planned and no_change go back to pending with
-- their deployments; planned awaiting approval stays; installing fails.
SELECT t.task_id, t.stage, d.stage AS deployment, t.runner_id IS NULL AS free,
	   d.error = 'lease of runner ' || :'runner' || ' expired: runner lost'
		   AS runner_lost,
	   t.state_counts
FROM bluebricks.task t JOIN bluebricks.deployment d USING (task_id)
ORDER BY 1;

-- The tasks sent back are claimable again, oldest first; the one awaiting
-- approval becomes claimable once approved.
SELECT jsonb_path_query_array(bluebricks.pending_tasks(:'runner'),
							  '$[*].taskId') AS claimable;
SELECT bluebricks.set_task_status('12000000-0000-4000-8000-000000000002',
	'plan_approved') ->> 'status' AS approved;
SELECT jsonb_path_query_array(bluebricks.pending_tasks(:'runner'),
							  '$[*].stage') AS stages;

-- A late runner signing in with a token of a lease that is over is told
-- so (BB003), not that its credentials are wrong (BB009).
SELECT bluebricks.claim_tasks(:'runner', 1) -> 0 ->> 'token' AS token \gset
UPDATE bluebricks.task SET lease_expires = now() - interval '1 second'
WHERE task_id = '12000000-0000-4000-8000-000000000001';
SELECT bluebricks.expire_leases() AS lapsed;
SELECT bluebricks.authenticate_basic('12000000-0000-4000-8000-000000000001',
									 :'token');
\echo :LAST_ERROR_SQLSTATE
SELECT bluebricks.authenticate_basic('12000000-0000-4000-8000-000000000001',
									 repeat('0', 64));
\echo :LAST_ERROR_SQLSTATE

DELETE FROM bluebricks.task;
DELETE FROM bluebricks.runner;
DELETE FROM bluebricks.environment;

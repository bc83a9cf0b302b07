-- test/load/checks.sql
--	What must hold after a load run, checked in SQL against the extension's
--	tables, the driver's log (load.ack) and the lease trigger (load.lease).
--
-- Each check is one row: name | violations | a few examples.  run.sh
-- counts a check as passed when violations is 0; names starting with
-- "info:" report a number and never fail.
--
-- Terms: an acked call is a call whose last attempt answered 2xx; its
-- window runs from its first attempt's send to its reply.  A transaction's
-- now() (stage_history.at, claim_log.claimed) falls inside the window of
-- the call that made it, since the gateway begins the transaction after
-- the request arrived and commits before it answers.

\set ON_ERROR_STOP 1
\pset format unaligned
\pset tuples_only on
\pset fieldsep '|'

CREATE TEMP VIEW acked AS
SELECT a.*, load.ts(a.first_us) AS t_first, load.ts(a.send_us) AS t_send,
	   load.ts(a.recv_us) AS t_recv
FROM load.ack a
WHERE a.http BETWEEN 200 AND 299;

CREATE TEMP VIEW acked_claim AS
SELECT split_part(a.extra, ':', 1)::uuid AS task_id,
	   split_part(a.extra, ':', 2) AS stage, r.id AS runner_id, a.*
FROM acked a JOIN bluebricks.runner r ON r.name = a.actor
WHERE a.kind = 'claim' AND a.extra IS NOT NULL;

-- Acked deployment items: task, uniqueId, action, guid.
CREATE TEMP VIEW acked_item AS
SELECT a.call, a.task, a.actor, a.t_first, a.t_send, a.t_recv,
	   split_part(it.pair, ':', 1) AS unique_id,
	   split_part(it.pair, ':', 2)::bluebricks.stage AS action,
	   g.guid::uuid AS guid
FROM acked a,
	 unnest(string_to_array(a.target, ',')) WITH ORDINALITY AS it (pair, n),
	 unnest(string_to_array(a.extra, ',')) WITH ORDINALITY AS g (guid, n)
WHERE a.kind = 'deploy' AND it.n = g.n;

CREATE TEMP VIEW task_history AS
SELECT h.*, lag(h.to_stage) OVER w AS prev_to, lag(h.at) OVER w AS prev_at
FROM bluebricks.stage_history h
WHERE h.guid IS NULL
WINDOW w AS (PARTITION BY h.task_id ORDER BY h.seq);

CREATE TEMP VIEW deployment_history AS
SELECT h.*, lag(h.to_stage) OVER w AS prev_to, lag(h.at) OVER w AS prev_at
FROM bluebricks.stage_history h
WHERE h.guid IS NOT NULL
WINDOW w AS (PARTITION BY h.task_id, h.guid ORDER BY h.seq);

-- Consecutive claims of a task.
CREATE TEMP VIEW claim_pair AS
SELECT c.task_id, c.seq, c.runner_id, c.claimed, c.expires,
	   lead(c.claimed) OVER w AS next_claimed,
	   lead(c.runner_id) OVER w AS next_runner
FROM bluebricks.claim_log c
WINDOW w AS (PARTITION BY c.task_id ORDER BY c.seq);

-- 1. No task is left in a stage that is not final.
SELECT 'every task ends in a final stage', count(*),
	   string_agg(task_id || '=' || stage, ' ') FILTER (WHERE rn <= 3)
FROM (SELECT task_id, stage, row_number() OVER () AS rn
	  FROM bluebricks.task
	  WHERE stage NOT IN ('completed', 'canceled', 'error')) x;

-- 2. A task's final stage is the one an acked call moved it to, and no
--    two acked calls moved it to different final stages.
SELECT 'final stage equals the acked final move', count(*),
	   string_agg(task_id || ':' || finals || '/' || stage, ' ')
		   FILTER (WHERE rn <= 3)
FROM (SELECT t.task_id, t.stage,
			 string_agg(DISTINCT a.target, ',') AS finals,
			 row_number() OVER () AS rn
	  FROM acked a JOIN bluebricks.task t ON t.task_id = a.task
	  WHERE a.kind IN ('status', 'cancel')
		AND a.target IN ('completed', 'canceled', 'error')
	  GROUP BY t.task_id, t.stage
	  HAVING count(DISTINCT a.target) > 1
		  OR min(a.target) <> t.stage::text) x;

-- 3. Every acked move of a task is in its history, inside the call's
--    window (or, for a final stage asked again, the task was already
--    there).
SELECT 'every acked task move is in stage_history', count(*),
	   string_agg(task || ':' || target, ' ') FILTER (WHERE rn <= 3)
FROM (SELECT a.task, a.target, row_number() OVER () AS rn
	  FROM acked a
	  WHERE a.kind IN ('status', 'cancel', 'approve')
		AND NOT EXISTS (
			SELECT FROM bluebricks.stage_history h
			WHERE h.task_id = a.task AND h.guid IS NULL
			  AND h.to_stage = a.target::bluebricks.stage
			  AND h.at BETWEEN a.t_first AND a.t_recv)
		AND NOT EXISTS (
			SELECT FROM bluebricks.stage_history h
			JOIN bluebricks.task t ON t.task_id = h.task_id
			WHERE h.task_id = a.task AND h.guid IS NULL
			  AND h.to_stage = a.target::bluebricks.stage
			  AND t.stage = h.to_stage
			  AND h.to_stage IN ('completed', 'canceled', 'error')
			  AND h.at < a.t_first)) x;

-- 4. Every acked deployment item is the deployment of its uniqueId, and
--    the deployment was in the item's stage at some moment of the call:
--    its history enters that stage inside the call's window, or its last
--    entry before the window is that stage.  The latter is an item that
--    asks for the stage the deployment has already, which changes nothing
--    and writes no history: a runner whose lease lapsed in plan_approved
--    after it had posted plan_approved, and that (or another runner)
--    claims the task again and posts plan_approved once more.
CREATE TEMP VIEW acked_item_seen AS
SELECT i.*,
	   EXISTS (
		SELECT FROM bluebricks.stage_history h
		WHERE h.task_id = i.task AND h.guid = i.guid
		  AND h.to_stage = i.action
		  AND h.at BETWEEN i.t_first AND i.t_recv) AS entered_in_window,
	   (SELECT h.to_stage FROM bluebricks.stage_history h
		WHERE h.task_id = i.task AND h.guid = i.guid AND h.at < i.t_first
		ORDER BY h.seq DESC LIMIT 1) AS stage_before
FROM acked_item i;

SELECT 'every acked deployment item is in the database', count(*),
	   string_agg(task || ':' || unique_id || ':' || action, ' ')
		   FILTER (WHERE rn <= 3)
FROM (SELECT i.*, row_number() OVER () AS rn
	  FROM acked_item_seen i
	  WHERE NOT EXISTS (
			SELECT FROM bluebricks.deployment d
			WHERE d.task_id = i.task AND d.guid = i.guid
			  AND d.unique_id = i.unique_id)
		 OR (NOT i.entered_in_window
			 AND i.stage_before IS DISTINCT FROM i.action)) x;

-- 5. A uniqueId keeps its deployment across posts and retries.
SELECT 'a uniqueId always answers the same deployment', count(*),
	   string_agg(task || ':' || unique_id, ' ') FILTER (WHERE rn <= 3)
FROM (SELECT task, unique_id, row_number() OVER () AS rn
	  FROM acked_item GROUP BY task, unique_id
	  HAVING count(DISTINCT guid) > 1) x;

-- 6. No deployment is duplicated per uniqueId.
SELECT 'no duplicate deployment per uniqueId', count(*),
	   string_agg(task_id || ':' || unique_id, ' ') FILTER (WHERE rn <= 3)
FROM (SELECT task_id, unique_id, row_number() OVER () AS rn
	  FROM bluebricks.deployment GROUP BY task_id, unique_id
	  HAVING count(*) > 1) x;

-- 7. state_counts equals a fresh count of the deployments.
SELECT 'state_counts equals a GROUP BY over deployment', count(*),
	   string_agg(task_id || ':' || state_counts::text || '/' || fresh::text,
				  ' ') FILTER (WHERE rn <= 3)
FROM (SELECT t.task_id, t.state_counts, f.fresh,
			 row_number() OVER () AS rn
	  FROM bluebricks.task t
	  CROSS JOIN LATERAL (
		SELECT array_agg(coalesce(c.n, 0)::int ORDER BY s.i) AS fresh
		FROM unnest(enum_range(NULL::bluebricks.stage))
			 WITH ORDINALITY AS s (stage, i)
		LEFT JOIN (SELECT d.stage, count(*) AS n
				   FROM bluebricks.deployment d
				   WHERE d.task_id = t.task_id GROUP BY d.stage) c
			   ON c.stage = s.stage) f
	  WHERE t.state_counts <> f.fresh) x;

-- 8. Each history row leaves the stage the previous one entered, and the
--    last one entered the row's current stage: no move was lost.
SELECT 'task history is one unbroken chain ending in the stage', count(*),
	   string_agg(task_id::text, ' ') FILTER (WHERE rn <= 3)
FROM (SELECT DISTINCT task_id, 1 AS rn FROM (
		SELECT h.task_id FROM task_history h
		WHERE h.from_stage IS DISTINCT FROM h.prev_to
		  AND NOT (h.prev_to IS NULL AND h.from_stage IS NULL)
		UNION ALL
		SELECT t.task_id FROM bluebricks.task t
		WHERE t.stage IS DISTINCT FROM (
			SELECT h.to_stage FROM bluebricks.stage_history h
			WHERE h.task_id = t.task_id AND h.guid IS NULL
			ORDER BY h.seq DESC LIMIT 1)) y) x;

SELECT 'deployment history is one unbroken chain ending in the stage',
	   count(*), string_agg(guid::text, ' ') FILTER (WHERE rn <= 3)
FROM (SELECT DISTINCT guid, 1 AS rn FROM (
		SELECT h.guid FROM deployment_history h
		WHERE h.from_stage IS DISTINCT FROM h.prev_to
		  AND NOT (h.prev_to IS NULL AND h.from_stage IS NULL)
		UNION ALL
		SELECT d.guid FROM bluebricks.deployment d
		WHERE d.stage IS DISTINCT FROM (
			SELECT h.to_stage FROM bluebricks.stage_history h
			WHERE h.task_id = d.task_id AND h.guid = d.guid
			ORDER BY h.seq DESC LIMIT 1)) y) x;

-- 9. Time never runs backwards along a history (statusTimestamps are the
--    first entries of it).
SELECT 'task history times never run backwards', count(*),
	   string_agg(task_id || ':' || prev_to || '@' || prev_at || '>' ||
				  to_stage || '@' || at, ' ') FILTER (WHERE rn <= 2)
FROM (SELECT h.*, row_number() OVER () AS rn
	  FROM task_history h WHERE h.at < h.prev_at) x;

SELECT 'deployment history times never run backwards', count(*),
	   string_agg(guid || ':' || prev_to || '>' || to_stage, ' ')
		   FILTER (WHERE rn <= 2)
FROM (SELECT h.*, row_number() OVER () AS rn
	  FROM deployment_history h WHERE h.at < h.prev_at) x;

-- 10. entered[stage] is the first time the history entered that stage.
SELECT 'task entered[] equals the first entry in stage_history', count(*),
	   string_agg(task_id || ':' || stage, ' ') FILTER (WHERE rn <= 3)
FROM (SELECT t.task_id, s.stage, row_number() OVER () AS rn
	  FROM bluebricks.task t,
		   unnest(enum_range(NULL::bluebricks.stage))
			   WITH ORDINALITY AS s (stage, i)
	  WHERE t.entered[s.i] IS DISTINCT FROM (
			SELECT min(h.at) FROM bluebricks.stage_history h
			WHERE h.task_id = t.task_id AND h.guid IS NULL
			  AND h.to_stage = s.stage)) x;

SELECT 'deployment entered[] equals the first entry in stage_history',
	   count(*), string_agg(guid || ':' || stage, ' ') FILTER (WHERE rn <= 3)
FROM (SELECT d.guid, s.stage, row_number() OVER () AS rn
	  FROM bluebricks.deployment d,
		   unnest(enum_range(NULL::bluebricks.stage))
			   WITH ORDINALITY AS s (stage, i)
	  WHERE d.entered[s.i] IS DISTINCT FROM (
			SELECT min(h.at) FROM bluebricks.stage_history h
			WHERE h.task_id = d.task_id AND h.guid = d.guid
			  AND h.to_stage = s.stage)) x;

-- 11. Every acked claim is in claim_log, granted inside the call.
SELECT 'every acked claim is in claim_log', count(*),
	   string_agg(task_id::text, ' ') FILTER (WHERE rn <= 3)
FROM (SELECT a.task_id, row_number() OVER () AS rn
	  FROM acked_claim a
	  WHERE NOT EXISTS (
			SELECT FROM bluebricks.claim_log c
			WHERE c.task_id = a.task_id AND c.runner_id = a.runner_id
			  AND c.claimed BETWEEN a.t_first AND a.t_recv)) x;

-- 12. Claims nobody heard of are at most the claim attempts that failed
--     (their reply was lost; the lease then lapses).
SELECT 'claims without an acked reply <= failed claim attempts',
	   greatest(0, (SELECT count(*) FROM bluebricks.claim_log c
					WHERE NOT EXISTS (
						SELECT FROM acked_claim a
						WHERE a.task_id = c.task_id
						  AND a.runner_id = c.runner_id
						  AND c.claimed BETWEEN a.t_first AND a.t_recv))
				   - (SELECT count(*) FROM load.ack
					  WHERE kind = 'claim' AND http NOT BETWEEN 200 AND 299)),
	   (SELECT count(*) FROM load.ack
		WHERE kind = 'claim' AND http NOT BETWEEN 200 AND 299)
	   || ' failed claim attempts';

-- 13. No lease was granted while another was live: a claim after an acked
--     write of the holder must come after that write's extension lapsed
--     (now() of the write >= its send, so the lease ran at least to
--     send + duration), and after the first expiry of the lease.
SELECT 'no claim overlaps a live lease (claim_log + acked writes)', count(*),
	   string_agg(task_id::text, ' ') FILTER (WHERE rn <= 3)
FROM (SELECT DISTINCT p.task_id, p.seq, 1 AS rn
	  FROM claim_pair p
	  LEFT JOIN bluebricks.runner r ON r.id = p.runner_id
	  WHERE p.next_claimed IS NOT NULL
		AND (p.next_claimed < p.expires
			 OR EXISTS (
				SELECT FROM acked a
				WHERE a.task = p.task_id AND a.actor = r.name
				  AND a.kind IN ('status', 'deploy')
				  AND a.t_first >= p.claimed AND a.t_first < p.next_claimed
				  AND p.next_claimed < a.t_send + (p.expires - p.claimed))))
	 x;

-- 14. The same from the lease trigger: a grant replaces only a lapsed or
--     cleared lease, an extension only extends a live one, and a live
--     lease is cleared only by a final stage.
SELECT 'no lease granted over a live lease', count(*),
	   string_agg(task_id::text, ' ') FILTER (WHERE rn <= 3)
FROM (SELECT l.*, row_number() OVER () AS rn FROM load.lease l
	  WHERE l.new_hash IS NOT NULL AND l.old_hash IS NOT NULL
		AND l.new_hash <> l.old_hash AND l.old_expires > l.now_ts) x;

SELECT 'no lapsed lease extended (late runner revived)', count(*),
	   string_agg(task_id::text, ' ') FILTER (WHERE rn <= 3)
FROM (SELECT l.*, row_number() OVER () AS rn FROM load.lease l
	  WHERE l.new_hash = l.old_hash AND l.new_expires > l.old_expires
		AND l.old_expires <= l.now_ts) x;

SELECT 'a live lease is cleared only by a final stage', count(*),
	   string_agg(task_id::text, ' ') FILTER (WHERE rn <= 3)
FROM (SELECT l.*, row_number() OVER () AS rn FROM load.lease l
	  WHERE l.new_hash IS NULL AND l.old_hash IS NOT NULL
		AND l.old_expires > l.now_ts
		AND l.new_stage NOT IN ('completed', 'canceled', 'error')) x;

SELECT 'a task changes stage only under a live lease or by a person or expiry',
	   count(*), string_agg(task_id || ':' || old_stage || '>' || new_stage,
							' ') FILTER (WHERE rn <= 3)
FROM (SELECT l.*, row_number() OVER () AS rn FROM load.lease l
	  WHERE l.old_stage IS DISTINCT FROM l.new_stage
		AND l.old_hash IS NOT NULL AND l.old_expires <= l.now_ts
		AND NOT (l.old_stage = 'planning' AND l.new_stage = 'pending')
		AND NOT (l.old_stage = 'installing' AND l.new_stage = 'error')
		AND l.new_stage NOT IN ('canceled', 'plan_approved')) x;

-- 15. No lease is left behind: final tasks hold none, and none runs
--     longer than the longest lease granted.
SELECT 'no lease left that cannot expire', count(*),
	   string_agg(task_id || '=' || stage, ' ') FILTER (WHERE rn <= 3)
FROM (SELECT t.*, row_number() OVER () AS rn FROM bluebricks.task t
	  WHERE (t.stage IN ('completed', 'canceled', 'error')
			 AND (t.runner_id IS NOT NULL OR t.lease_expires IS NOT NULL))
		 OR t.lease_expires > now() + (SELECT max(expires - claimed)
									   FROM bluebricks.claim_log)) x;

-- 16. Runners that stopped answering: planning went back to pending (with
--     its planning deployments) and was finished by another claim;
--     installing ended in error naming the runner; the late call got 409.
SELECT 'stalled in planning: back to pending, then finished', count(*),
	   string_agg(task::text, ' ') FILTER (WHERE rn <= 3)
FROM (SELECT s.task, row_number() OVER () AS rn
	  FROM load.ack s JOIN bluebricks.task t ON t.task_id = s.task
	  WHERE s.kind = 'stall' AND s.target = 'planning'
		AND (t.stage NOT IN ('completed', 'canceled')
			 OR NOT EXISTS (
				SELECT FROM bluebricks.stage_history h
				WHERE h.task_id = s.task AND h.guid IS NULL
				  AND h.from_stage = 'planning' AND h.to_stage = 'pending'
				  AND h.at > load.ts(s.send_us))
			 OR EXISTS (
				SELECT FROM bluebricks.deployment d
				WHERE d.task_id = s.task AND NOT EXISTS (
					SELECT FROM bluebricks.stage_history h
					WHERE h.task_id = s.task AND h.guid = d.guid
					  AND h.from_stage = 'planning'
					  AND h.to_stage = 'pending'
					  AND h.at > load.ts(s.send_us))))) x;

SELECT 'stalled in installing: error naming the lost runner', count(*),
	   string_agg(task || '=' || stage || ':' || coalesce(error, ''), ' ')
		   FILTER (WHERE rn <= 3)
FROM (SELECT s.task, t.stage, t.error, row_number() OVER () AS rn
	  FROM load.ack s JOIN bluebricks.task t ON t.task_id = s.task
	  JOIN bluebricks.runner r ON r.name = s.actor
	  WHERE s.kind = 'stall' AND s.target = 'installing'
		AND (t.stage <> 'error'
			 OR t.error IS DISTINCT FROM
				'lease of runner ' || r.id || ' expired: runner lost')) x;

SELECT 'every late call of a stalled runner got 409', count(*),
	   string_agg(task || ':' || http, ' ') FILTER (WHERE rn <= 3)
FROM (SELECT a.*, row_number() OVER () AS rn FROM load.ack a
	  WHERE a.kind = 'late' AND a.http <> 409) x;

SELECT 'stalls happened as planned', CASE WHEN
	   (SELECT count(*) FROM load.ack WHERE kind = 'stall') =
	   (SELECT count(*) FROM load.ack WHERE kind = 'stall'
		AND target IN ('planning', 'installing'))
	   AND (SELECT count(DISTINCT target) FROM load.ack WHERE kind = 'stall')
		   = CASE WHEN :'stallers_expected' = '0' THEN 0 ELSE 2 END
	   THEN 0 ELSE 1 END,
	   (SELECT count(*) FROM load.ack WHERE kind = 'stall') || ' stalls';

-- 17. No task moved without someone asking: every move of a task was asked
--     by a call whose window holds its time, or is a lease expiry.
SELECT 'no task move nobody asked for', count(*),
	   string_agg(task_id || ':' || from_stage || '>' || to_stage, ' ')
		   FILTER (WHERE rn <= 3)
FROM (SELECT h.*, row_number() OVER () AS rn FROM task_history h
	  WHERE h.from_stage IS NOT NULL
		AND NOT (h.from_stage = 'planning' AND h.to_stage = 'pending')
		AND NOT (h.from_stage = 'installing' AND h.to_stage = 'error'
				 AND h.error LIKE 'lease of runner % expired: runner lost')
		AND NOT EXISTS (
			SELECT FROM load.ack a
			WHERE a.task = h.task_id AND a.target = h.to_stage::text
			  AND a.kind IN ('status', 'cancel', 'approve', 'late',
							 'late_tt')
			  AND h.at BETWEEN load.ts(a.first_us) AND load.ts(a.recv_us)))
	 x;

-- 18. A completed task has all three deployments completed; a canceled
--     one has none left unfinished.
SELECT 'completed tasks have their deployments completed', count(*),
	   string_agg(task_id::text, ' ') FILTER (WHERE rn <= 3)
FROM (SELECT t.task_id, row_number() OVER () AS rn FROM bluebricks.task t
	  WHERE t.stage = 'completed'
		AND t.task_id IN (SELECT task FROM load.ack WHERE task IS NOT NULL)
		AND t.state_counts[8] <> 3) x;

SELECT 'canceled tasks have no unfinished deployment', count(*),
	   string_agg(task_id::text, ' ') FILTER (WHERE rn <= 3)
FROM (SELECT t.task_id, row_number() OVER () AS rn FROM bluebricks.task t
	  WHERE t.stage = 'canceled'
		AND EXISTS (SELECT FROM bluebricks.deployment d
					WHERE d.task_id = t.task_id
					  AND d.stage NOT IN ('completed', 'canceled',
										  'error'))) x;

-- 19. Tasks created over HTTP exist.
SELECT 'every task created over HTTP exists', count(*),
	   string_agg(extra, ' ') FILTER (WHERE rn <= 3)
FROM (SELECT a.extra, row_number() OVER () AS rn FROM acked a
	  WHERE a.kind = 'create' AND NOT EXISTS (
			SELECT FROM bluebricks.task t
			WHERE t.task_id::text = a.extra)) x;

-- Numbers worth a look, never failing.
SELECT 'info: tasks by final stage', 0,
	   string_agg(stage || '=' || n, ' ' ORDER BY stage)
FROM (SELECT stage, count(*) AS n FROM bluebricks.task GROUP BY stage) x;

SELECT 'info: acked items that asked for the stage the deployment had', 0,
	   count(*) || ' items'
FROM acked_item_seen i
WHERE NOT i.entered_in_window AND i.stage_before = i.action;

SELECT 'info: deployments left unfinished under errored tasks', 0,
	   count(*) || ' deployments'
FROM bluebricks.deployment d JOIN bluebricks.task t USING (task_id)
WHERE t.stage = 'error'
  AND d.stage NOT IN ('completed', 'canceled', 'error');

SELECT 'info: grants after a lease lapsed by now() but not by the clock', 0,
	   count(*) || ' grants'
FROM load.lease l
WHERE l.new_hash IS NOT NULL AND l.old_hash IS NOT NULL
  AND l.new_hash <> l.old_hash AND l.old_expires > l.clock_ts;

SELECT 'info: writes accepted after the lease lapsed by the clock', 0,
	   count(*) || ' extensions'
FROM load.lease l
WHERE l.new_hash = l.old_hash AND l.new_expires > l.old_expires
  AND l.old_expires <= l.clock_ts;

SELECT 'info: claims, acked claims', 0,
	   (SELECT count(*) FROM bluebricks.claim_log) || ' claims, ' ||
	   (SELECT count(*) FROM acked_claim) || ' acked'
;

SELECT 'info: task and deployment updates (hot/all, dead tuples)', 0,
	   string_agg(relname || ' ' || n_tup_hot_upd || '/' || n_tup_upd ||
				  ' dead ' || n_dead_tup, ', ' ORDER BY relname)
FROM pg_stat_user_tables
WHERE schemaname = 'bluebricks' AND relname IN ('task', 'deployment');

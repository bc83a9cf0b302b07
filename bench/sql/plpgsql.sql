-- bench/sql/plpgsql.sql
--	The claim cycle of bluebricks_task written in PL/pgSQL, as a baseline
--	for the claim benchmark: the same lease columns, token hashing,
--	fencing, stage machine, stamps, history, claim log and NOTIFY, on
--	plain tables of schema plpg, with no triggers and no row-level security.
--
-- Only what the claim cycle needs is here: claim_tasks() and
-- set_task_status() with a token, answering with the same JSON shapes.

CREATE SCHEMA plpg;

CREATE TABLE plpg.runner (
	id uuid PRIMARY KEY,
	organization text NOT NULL,
	environments uuid[]
);

CREATE TABLE plpg.task (LIKE floor.task INCLUDING DEFAULTS);
ALTER TABLE plpg.task ADD PRIMARY KEY (task_id);
CREATE INDEX ON plpg.task (organization, created)
	WHERE stage IN ('pending', 'plan_approved');
CREATE INDEX ON plpg.task (lease_expires) WHERE lease_expires IS NOT NULL;

CREATE TABLE plpg.stage_history (
	task_id uuid NOT NULL,
	seq bigint GENERATED ALWAYS AS IDENTITY,
	guid uuid,
	from_stage bluebricks.stage,
	to_stage bluebricks.stage NOT NULL,
	error text,
	at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (task_id, seq)
);

CREATE TABLE plpg.claim_log (
	task_id uuid NOT NULL,
	seq bigint GENERATED ALWAYS AS IDENTITY,
	runner_id uuid NOT NULL,
	claimed timestamptz NOT NULL,
	expires timestamptz NOT NULL,
	PRIMARY KEY (task_id, seq)
);

-- Whether a task of this command and plan_only may move from a to b.
CREATE FUNCTION plpg.move_allowed(a bluebricks.stage, b bluebricks.stage,
								  cmd bluebricks.command, plan_only boolean)
RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
	SELECT a = b OR CASE a
		WHEN 'pending' THEN b IN ('planning', 'canceled', 'error')
		WHEN 'planning' THEN b IN ('planned', 'no_change', 'canceled', 'error')
		WHEN 'planned' THEN b IN ('canceled', 'error')
			OR (b = 'plan_approved' AND NOT plan_only)
			OR (b = 'installing' AND NOT plan_only
				AND cmd IN ('force_install', 'force_uninstall'))
			OR (b = 'completed' AND plan_only)
		WHEN 'no_change' THEN b IN ('completed', 'canceled', 'error')
		WHEN 'plan_approved' THEN b IN ('installing', 'canceled', 'error')
		WHEN 'installing' THEN b IN ('completed', 'canceled', 'error')
		ELSE false
	END
$$;

-- Lease up to lim claimable tasks to the runner; returns tokens.
CREATE FUNCTION plpg.claim_tasks(runner uuid, lim int DEFAULT 1,
								 lease interval DEFAULT '5 minutes')
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	r plpg.runner;
	t record;
	tok text;
	out jsonb := '[]';
BEGIN
	-- Lapsed leases first, as the extension does on every claim.
	IF EXISTS (SELECT 1 FROM plpg.task WHERE lease_expires <= now()) THEN
		UPDATE plpg.task SET runner_id = NULL, lease_token_hash = NULL,
			lease_expires = NULL, lease_duration = NULL
		WHERE task_id IN (SELECT task_id FROM plpg.task
						  WHERE lease_expires <= now()
						  FOR UPDATE SKIP LOCKED);
	END IF;
	SELECT * INTO r FROM plpg.runner WHERE id = claim_tasks.runner;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'runner % does not exist', claim_tasks.runner;
	END IF;
	FOR t IN
		SELECT task_id, stage FROM plpg.task
		WHERE stage IN ('pending', 'plan_approved')
		  AND organization = r.organization
		  AND (r.environments IS NULL OR environment_id = ANY (r.environments))
		  AND (lease_expires IS NULL OR lease_expires <= now())
		ORDER BY created, task_id
		LIMIT lim
		FOR UPDATE SKIP LOCKED
	LOOP
		tok := replace(gen_random_uuid()::text, '-', '')
			|| replace(gen_random_uuid()::text, '-', '');
		UPDATE plpg.task SET runner_id = claim_tasks.runner,
			lease_token_hash = sha256(convert_to(tok, 'UTF8')),
			lease_expires = now() + lease, lease_duration = lease
		WHERE task_id = t.task_id;
		INSERT INTO plpg.claim_log (task_id, runner_id, claimed, expires)
		VALUES (t.task_id, claim_tasks.runner, now(), now() + lease);
		out := out || jsonb_build_object('taskId', t.task_id, 'token', tok,
										 'stage', t.stage);
	END LOOP;
	RETURN out;
END
$$;

-- Move a task along the stage machine under its lease; returns the
-- POST /status body.
CREATE FUNCTION plpg.set_task_status(task_id uuid, status bluebricks.stage,
									 error text DEFAULT NULL,
									 expand boolean DEFAULT false,
									 token text DEFAULT NULL)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	t plpg.task;
	old_stage bluebricks.stage;
	final boolean := status IN ('completed', 'canceled', 'error');
	idx int := array_position(enum_range(NULL::bluebricks.stage), status);
BEGIN
	SELECT * INTO t FROM plpg.task p
	WHERE p.task_id = set_task_status.task_id FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'task % does not exist', task_id USING ERRCODE = 'BB001';
	END IF;
	-- Fencing: a given token must match a live lease; extend it.
	IF token IS NOT NULL THEN
		IF t.lease_expires IS NULL OR t.lease_expires <= now() THEN
			RAISE EXCEPTION 'no live lease on task %', task_id
				USING ERRCODE = 'BB003';
		END IF;
		IF sha256(convert_to(token, 'UTF8')) <> t.lease_token_hash THEN
			RAISE EXCEPTION 'wrong lease token for task %', task_id
				USING ERRCODE = 'BB003';
		END IF;
		t.lease_expires := now() + coalesce(t.lease_duration, '5 minutes');
	END IF;
	IF t.stage = status THEN
		RETURN jsonb_build_object('task', t.task_id, 'status', t.stage);
	END IF;
	IF NOT plpg.move_allowed(t.stage, status, t.command, t.plan_only) THEN
		RAISE EXCEPTION 'cannot move task % from "%" to "%"', task_id,
			t.stage, status USING ERRCODE = 'BB002';
	END IF;
	old_stage := t.stage;
	UPDATE plpg.task p SET
		stage = status,
		error = coalesce(set_task_status.error, p.error),
		entered[idx] = coalesce(p.entered[idx], now()),
		updated = now(),
		completed = CASE WHEN final THEN now() ELSE p.completed END,
		runner_id = CASE WHEN final THEN NULL ELSE p.runner_id END,
		lease_token_hash = CASE WHEN final THEN NULL
							ELSE p.lease_token_hash END,
		lease_expires = CASE WHEN final THEN NULL ELSE t.lease_expires END,
		lease_duration = CASE WHEN final THEN NULL ELSE p.lease_duration END
	WHERE p.task_id = t.task_id
	RETURNING * INTO t;
	INSERT INTO plpg.stage_history (task_id, guid, from_stage, to_stage, error)
	VALUES (t.task_id, NULL, old_stage, status, set_task_status.error);
	PERFORM pg_notify('bluebricks_task',
					  jsonb_build_object('taskId', t.task_id,
										 'stage', status)::text);
	RETURN jsonb_build_object(
		'task', t.task_id, 'status', t.stage,
		'deployments', jsonb_build_object(
			'total', (SELECT sum(c) FROM unnest(t.state_counts) c),
			'states', (SELECT jsonb_object_agg(s, t.state_counts[i])
					   FROM unnest(enum_range(NULL::bluebricks.stage))
					   WITH ORDINALITY AS e (s, i))),
		'created', t.created, 'updated', t.updated,
		'completed', t.completed);
END
$$;

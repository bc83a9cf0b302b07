-- test/load/setup.sql
--	Schema of the load test's own bookkeeping, in the load test database
--	(never in a database of the extension's users).
--
-- load.ack    every attempt of a mutating call, as bbload logged it
--             (columns as in test/load/bbload.c); task and extra are NULL
--             where the log has "-".  phase numbers the runs of one test.
-- load.lease  every change of a task's lease or stage, written by a
--             trigger under the task's row lock: the lease before and
--             after, the transaction's now() (the clock leases are judged
--             by) and clock_timestamp().  claim_log alone cannot tell when
--             a lease ended or how far it was extended; this can.
-- load.ts(us) microseconds since the epoch as timestamptz.

CREATE SCHEMA load;

CREATE TABLE load.ack (
	call bigint NOT NULL,
	attempt int NOT NULL,
	kind text NOT NULL,
	task uuid,
	actor text NOT NULL,
	first_us bigint NOT NULL,
	send_us bigint NOT NULL,
	recv_us bigint NOT NULL,
	http int NOT NULL,
	target text,
	extra text,
	phase int
);

CREATE TABLE load.lease (
	seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	task_id uuid NOT NULL,
	now_ts timestamptz NOT NULL,
	clock_ts timestamptz NOT NULL,
	old_stage bluebricks.stage,
	new_stage bluebricks.stage,
	old_runner uuid,
	new_runner uuid,
	old_hash bytea,
	new_hash bytea,
	old_expires timestamptz,
	new_expires timestamptz
);

CREATE FUNCTION load.ts(us bigint) RETURNS timestamptz
LANGUAGE sql IMMUTABLE
RETURN timestamptz 'epoch' + us * interval '1 microsecond';

-- Runs as the function's owner (the superuser that ran this file), since
-- the API functions that fire it run as bluebricks_owner.
CREATE FUNCTION load.record_lease() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
BEGIN
	INSERT INTO load.lease (task_id, now_ts, clock_ts, old_stage, new_stage,
							old_runner, new_runner, old_hash, new_hash,
							old_expires, new_expires)
	VALUES (NEW.task_id, now(), clock_timestamp(), OLD.stage, NEW.stage,
			OLD.runner_id, NEW.runner_id, OLD.lease_token_hash,
			NEW.lease_token_hash, OLD.lease_expires, NEW.lease_expires);
	RETURN NULL;
END
$$;

CREATE TRIGGER zz_load_lease
	AFTER UPDATE ON bluebricks.task
	FOR EACH ROW
	WHEN (OLD.lease_token_hash IS DISTINCT FROM NEW.lease_token_hash
		  OR OLD.lease_expires IS DISTINCT FROM NEW.lease_expires
		  OR OLD.stage IS DISTINCT FROM NEW.stage)
	EXECUTE FUNCTION load.record_lease();

-- Tasks of one phase: n of them, kinds in a fixed mix, in organization
-- org and environment env; returns "task-id kind" lines for bbload.
CREATE FUNCTION load.make_tasks(n int, org text, env uuid, phase int)
RETURNS TABLE (task_id uuid, kind text)
LANGUAGE plpgsql AS $$
DECLARE
	kinds text[] := ARRAY['plain', 'plain', 'plain', 'plain', 'plain',
						  'plain', 'force', 'force', 'planonly', 'planonly',
						  'nochange', 'nochange', 'handoff', 'handoff',
						  'cancel', 'cancel', 'cancel', 'uninstall',
						  'uninstall', 'funinstall'];
	k text;
	id uuid;
BEGIN
	FOR i IN 1 .. n LOOP
		k := kinds[1 + (i % 20)];
		id := bluebricks.create_task(jsonb_build_object(
			'command', CASE k WHEN 'force' THEN 'force_install'
							  WHEN 'uninstall' THEN 'uninstall'
							  WHEN 'funinstall' THEN 'force_uninstall'
							  ELSE 'install' END,
			'planOnly', k = 'planonly',
			'user', 'load-' || k,
			'organization', org,
			'environment', env,
			'props', jsonb_build_object('phase', phase, 'i', i)));
		task_id := id;
		kind := k;
		RETURN NEXT;
	END LOOP;
END
$$;

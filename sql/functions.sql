-- sql/functions.sql
--	SQL-callable functions of bluebricks_task, all implemented in C.
--
-- Every function that reads or writes task data is SECURITY DEFINER and is
-- owned by bluebricks_owner (see sql/security.sql), a role without
-- superuser or BYPASSRLS, so row-level security applies to all of them.

CREATE FUNCTION bluebricks.upsert_environment(environment jsonb)
RETURNS uuid
AS 'MODULE_PATHNAME', 'bb_upsert_environment'
LANGUAGE C VOLATILE STRICT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION bluebricks.upsert_environment(jsonb) IS
	'Create or replace an environment, its users and its cloud account.';

CREATE FUNCTION bluebricks.create_task(task jsonb)
RETURNS uuid
AS 'MODULE_PATHNAME', 'bb_create_task'
LANGUAGE C VOLATILE STRICT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION bluebricks.create_task(jsonb) IS
	'Create a pending task; environment is an id or a whole environment.';

CREATE FUNCTION bluebricks.task(task_id uuid)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'bb_task'
LANGUAGE C STABLE STRICT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION bluebricks.task(uuid) IS
	'The task with its environment and deployments, as GET /api/v1/task/{taskId}.';

CREATE FUNCTION bluebricks.add_deployments(task_id uuid, items jsonb,
										   token text DEFAULT NULL)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'bb_add_deployments'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION bluebricks.add_deployments(uuid, jsonb, text) IS
	'Insert or update deployments of a task, all or nothing.';

CREATE FUNCTION bluebricks.set_task_status(task_id uuid,
										   status bluebricks.stage,
										   error text DEFAULT NULL,
										   expand boolean DEFAULT false,
										   token text DEFAULT NULL)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'bb_set_task_status'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION bluebricks.set_task_status(uuid, bluebricks.stage, text,
											   boolean, text) IS
	'Move a task along the stage machine, as POST /api/v1/task/{taskId}/status.';

CREATE FUNCTION bluebricks.task_status(task_id uuid, expand boolean DEFAULT false)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'bb_task_status'
LANGUAGE C STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION bluebricks.task_status(uuid, boolean) IS
	'Status of a task, as GET /api/v1/task/{taskId}/status.';

CREATE FUNCTION bluebricks.delete_task(task_id uuid)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'bb_delete_task'
LANGUAGE C VOLATILE STRICT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION bluebricks.delete_task(uuid) IS
	'Delete a task with its deployments and history.';

CREATE FUNCTION bluebricks.pending_tasks(runner uuid DEFAULT NULL,
										 lim integer DEFAULT 100)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'bb_pending_tasks'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION bluebricks.pending_tasks(uuid, integer) IS
	'Tasks waiting for a runner, oldest first, as GET /api/v1/tasks.';

CREATE FUNCTION bluebricks.claim_tasks(runner uuid, lim integer DEFAULT 1,
									   lease interval DEFAULT '5 minutes')
RETURNS jsonb
AS 'MODULE_PATHNAME', 'bb_claim_tasks'
LANGUAGE C VOLATILE STRICT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION bluebricks.claim_tasks(uuid, integer, interval) IS
	'Lease waiting tasks to a runner; each comes with a fresh token.';

CREATE FUNCTION bluebricks.expire_leases()
RETURNS integer
AS 'MODULE_PATHNAME', 'bb_expire_leases'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION bluebricks.expire_leases() IS
	'Apply lapsed leases; returns how many were lapsed.';

CREATE FUNCTION bluebricks.create_runner(name text, organization text,
										 environments uuid[] DEFAULT NULL)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'bb_create_runner'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION bluebricks.create_runner(text, text, uuid[]) IS
	'Create a runner; its random password is returned this once only.';

CREATE FUNCTION bluebricks.authenticate_basic(username text, password text)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'bb_authenticate_basic'
LANGUAGE C VOLATILE STRICT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION bluebricks.authenticate_basic(text, text) IS
	'Check Basic credentials (runner name and password, or task id and lease '
	'token) and return the request claims they stand for.';

CREATE FUNCTION bluebricks.org_visible(organization text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'bb_org_visible_sql'
LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION bluebricks.org_visible(text) IS
	'Whether the current request may see rows of this organization.';

-- Trigger functions.

CREATE FUNCTION bluebricks.task_stage_guard()
RETURNS trigger
AS 'MODULE_PATHNAME', 'bb_task_stage_guard'
LANGUAGE C;
COMMENT ON FUNCTION bluebricks.task_stage_guard() IS
	'Enforce the stage machine on task rows and stamp their times.';

CREATE FUNCTION bluebricks.task_stage_record()
RETURNS trigger
AS 'MODULE_PATHNAME', 'bb_task_stage_record'
LANGUAGE C;
COMMENT ON FUNCTION bluebricks.task_stage_record() IS
	'Record a task''s stage change in its history and send a NOTIFY.';

CREATE FUNCTION bluebricks.deployment_stage_guard()
RETURNS trigger
AS 'MODULE_PATHNAME', 'bb_deployment_stage_guard'
LANGUAGE C;
COMMENT ON FUNCTION bluebricks.deployment_stage_guard() IS
	'Enforce the stage machine and dependency gating on deployment rows.';

CREATE FUNCTION bluebricks.deployment_stage_record()
RETURNS trigger
AS 'MODULE_PATHNAME', 'bb_deployment_stage_record'
LANGUAGE C;
COMMENT ON FUNCTION bluebricks.deployment_stage_record() IS
	'Record a deployment''s stage change and keep its task''s counts.';

CREATE TRIGGER task_stage_guard
	BEFORE INSERT OR UPDATE ON bluebricks.task
	FOR EACH ROW EXECUTE FUNCTION bluebricks.task_stage_guard();
-- An UPDATE that changes neither stage nor error (a claim, a lease being
-- extended or cleared, a count kept) has nothing to record: the WHEN clause
-- spares it the AFTER event and the trigger call.
CREATE TRIGGER task_stage_record
	AFTER UPDATE ON bluebricks.task
	FOR EACH ROW
	WHEN (OLD.stage IS DISTINCT FROM NEW.stage
		  OR OLD.error IS DISTINCT FROM NEW.error)
	EXECUTE FUNCTION bluebricks.task_stage_record();
CREATE TRIGGER task_stage_record_insert
	AFTER INSERT ON bluebricks.task
	FOR EACH ROW EXECUTE FUNCTION bluebricks.task_stage_record();
CREATE TRIGGER deployment_stage_guard
	BEFORE INSERT OR UPDATE ON bluebricks.deployment
	FOR EACH ROW EXECUTE FUNCTION bluebricks.deployment_stage_guard();
CREATE TRIGGER deployment_stage_record
	AFTER INSERT OR UPDATE OR DELETE ON bluebricks.deployment
	FOR EACH ROW EXECUTE FUNCTION bluebricks.deployment_stage_record();

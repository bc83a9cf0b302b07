-- sql/security.sql
--	Roles, grants and row-level security of bluebricks_task.
--
-- Roles (cluster-wide, created here when missing, left by DROP EXTENSION):
--	bluebricks_owner  owns the SECURITY DEFINER functions and holds the table
--	                  rights they need; no login, no superuser, no BYPASSRLS,
--	                  so every query the functions run passes the policies.
--	bluebricks_api    may execute the API functions and nothing else; the
--	                  gateway's login role and PostgREST's roles are its
--	                  members.
--	bluebricks_admin  members see every organization when a request carries
--	                  no claims (plain SQL from an operator).  Superusers
--	                  count as members.
--
-- Policies compare each row's organization with the request's, which comes
-- from the request.jwt.claims setting (its "org" key) as PostgREST sets it.

DO $roles$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles
				   WHERE rolname = 'bluebricks_owner') THEN
		CREATE ROLE bluebricks_owner NOLOGIN NOSUPERUSER NOBYPASSRLS;
	END IF;
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles
				   WHERE rolname = 'bluebricks_api') THEN
		CREATE ROLE bluebricks_api NOLOGIN;
	END IF;
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles
				   WHERE rolname = 'bluebricks_admin') THEN
		CREATE ROLE bluebricks_admin NOLOGIN;
	END IF;
END
$roles$;

GRANT USAGE ON SCHEMA bluebricks TO bluebricks_owner, bluebricks_api;

GRANT SELECT, INSERT, UPDATE, DELETE ON
	bluebricks.cloud_account, bluebricks.environment,
	bluebricks.environment_user, bluebricks.environment_user_role,
	bluebricks.runner, bluebricks.task, bluebricks.deployment,
	bluebricks.deployment_dependency, bluebricks.stage_history,
	bluebricks.claim_log
	TO bluebricks_owner;

-- Functions: nobody but bluebricks_api (and superusers) may call them.
DO $grants$
DECLARE
	f regprocedure;
BEGIN
	FOR f IN
		SELECT p.oid::regprocedure
		FROM pg_catalog.pg_proc p
		WHERE p.pronamespace = 'bluebricks'::regnamespace
	LOOP
		EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
	END LOOP;
END
$grants$;

ALTER FUNCTION bluebricks.upsert_environment(jsonb) OWNER TO bluebricks_owner;
ALTER FUNCTION bluebricks.create_task(jsonb) OWNER TO bluebricks_owner;
ALTER FUNCTION bluebricks.task(uuid) OWNER TO bluebricks_owner;
ALTER FUNCTION bluebricks.add_deployments(uuid, jsonb, text)
	OWNER TO bluebricks_owner;
ALTER FUNCTION bluebricks.set_task_status(uuid, bluebricks.stage, text,
										  boolean, text)
	OWNER TO bluebricks_owner;
ALTER FUNCTION bluebricks.task_status(uuid, boolean) OWNER TO bluebricks_owner;
ALTER FUNCTION bluebricks.delete_task(uuid) OWNER TO bluebricks_owner;
ALTER FUNCTION bluebricks.pending_tasks(uuid, integer)
	OWNER TO bluebricks_owner;
ALTER FUNCTION bluebricks.claim_tasks(uuid, integer, interval)
	OWNER TO bluebricks_owner;
ALTER FUNCTION bluebricks.expire_leases() OWNER TO bluebricks_owner;
ALTER FUNCTION bluebricks.create_runner(text, text, uuid[])
	OWNER TO bluebricks_owner;
ALTER FUNCTION bluebricks.authenticate_basic(text, text)
	OWNER TO bluebricks_owner;

GRANT EXECUTE ON FUNCTION
	bluebricks.task(uuid),
	bluebricks.create_task(jsonb),
	bluebricks.add_deployments(uuid, jsonb, text),
	bluebricks.set_task_status(uuid, bluebricks.stage, text, boolean, text),
	bluebricks.task_status(uuid, boolean),
	bluebricks.delete_task(uuid),
	bluebricks.pending_tasks(uuid, integer),
	bluebricks.claim_tasks(uuid, integer, interval),
	bluebricks.authenticate_basic(text, text)
	TO bluebricks_api;

-- Policies and triggers call these as bluebricks_owner.
GRANT EXECUTE ON FUNCTION
	bluebricks.org_visible(text),
	bluebricks.task_stage_guard(),
	bluebricks.task_stage_record(),
	bluebricks.deployment_stage_guard(),
	bluebricks.deployment_stage_record()
	TO bluebricks_owner;

-- Row-level security: task-owned rows follow their task's organization.
ALTER TABLE bluebricks.task ENABLE ROW LEVEL SECURITY;
ALTER TABLE bluebricks.deployment ENABLE ROW LEVEL SECURITY;
ALTER TABLE bluebricks.deployment_dependency ENABLE ROW LEVEL SECURITY;
ALTER TABLE bluebricks.stage_history ENABLE ROW LEVEL SECURITY;
ALTER TABLE bluebricks.claim_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE bluebricks.runner ENABLE ROW LEVEL SECURITY;

CREATE POLICY task_org ON bluebricks.task
	USING (bluebricks.org_visible(organization))
	WITH CHECK (bluebricks.org_visible(organization));
CREATE POLICY runner_org ON bluebricks.runner
	USING (bluebricks.org_visible(organization))
	WITH CHECK (bluebricks.org_visible(organization));

-- For rows below a task, the task's own policy does the filtering: a task
-- that is not visible cannot be joined to.
CREATE POLICY deployment_org ON bluebricks.deployment
	USING (EXISTS (SELECT FROM bluebricks.task t
				   WHERE t.task_id = deployment.task_id));
CREATE POLICY deployment_dependency_org ON bluebricks.deployment_dependency
	USING (EXISTS (SELECT FROM bluebricks.task t
				   WHERE t.task_id = deployment_dependency.task_id));
CREATE POLICY stage_history_org ON bluebricks.stage_history
	USING (EXISTS (SELECT FROM bluebricks.task t
				   WHERE t.task_id = stage_history.task_id));
CREATE POLICY claim_log_org ON bluebricks.claim_log
	USING (EXISTS (SELECT FROM bluebricks.task t
				   WHERE t.task_id = claim_log.task_id));

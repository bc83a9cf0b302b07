-- test/pgtap/schema.sql
--	The catalog shape of bluebricks_task: types, tables, columns, keys,
--	functions and their security, grants, row-level security and comments.
--
-- Runs in a database where both pgtap and bluebricks_task are installed,
-- inside a transaction that is rolled back.

BEGIN;
SELECT plan(128);

-- Schema and types -----------------------------------------------------

SELECT has_schema('bluebricks');
SELECT enum_has_labels('bluebricks', 'stage',
	ARRAY['pending', 'planning', 'no_change', 'planned', 'plan_approved',
		  'installing', 'canceled', 'completed', 'error'],
	'stage has the nine stages in machine order');
SELECT enum_has_labels('bluebricks', 'command',
	ARRAY['install', 'force_install', 'uninstall', 'force_uninstall']);
SELECT enum_has_labels('bluebricks', 'package_type',
	ARRAY['blueprint', 'artifact']);

-- Tables and columns ---------------------------------------------------

SELECT tables_are('bluebricks',
	ARRAY['cloud_account', 'environment', 'environment_user',
		  'environment_user_role', 'runner', 'task', 'deployment',
		  'deployment_dependency', 'stage_history', 'claim_log']);

SELECT columns_are('bluebricks', 'cloud_account',
	ARRAY['id', 'name', 'provider', 'slug', 'is_active', 'is_deleted',
		  'created', 'cloud_account', 'assume_role_arn', 'external_id',
		  'cloud_config', 'is_primary', 'profile']);
SELECT columns_are('bluebricks', 'environment',
	ARRAY['id', 'slug', 'name', 'color', 'allow_pre_release', 'is_default',
		  'is_active', 'is_deleted', 'created', 'cloud_account_id']);
SELECT columns_are('bluebricks', 'environment_user',
	ARRAY['environment_id', 'id', 'ordinal', 'name', 'email', 'nickname',
		  'picture']);
SELECT columns_are('bluebricks', 'environment_user_role',
	ARRAY['environment_id', 'user_id', 'id', 'ordinal', 'name',
		  'description']);
SELECT columns_are('bluebricks', 'runner',
	ARRAY['id', 'name', 'organization', 'environments', 'password_hash',
		  'created']);
SELECT columns_are('bluebricks', 'task',
	ARRAY['task_id', 'command', 'plan_only', 'user_name', 'organization',
		  'environment_id', 'stage', 'props', 'secrets', 'decryption_key_id',
		  'error', 'entered', 'state_counts', 'runner_id', 'lease_token_hash',
		  'lease_expires', 'lease_duration', 'created', 'updated',
		  'completed']);
SELECT columns_are('bluebricks', 'deployment',
	ARRAY['task_id', 'guid', 'ordinal', 'package_name', 'package_version',
		  'unique_id', 'type', 'parent_guid', 'stage', 'plan_file',
		  'state_file', 'origin_state_location', 'slug', 'url', 'error',
		  'payload', 'entered', 'created', 'updated']);
SELECT columns_are('bluebricks', 'deployment_dependency',
	ARRAY['task_id', 'guid', 'depends_on', 'depends_on_guid']);
SELECT columns_are('bluebricks', 'stage_history',
	ARRAY['task_id', 'seq', 'guid', 'from_stage', 'to_stage', 'error', 'at']);
SELECT columns_are('bluebricks', 'claim_log',
	ARRAY['task_id', 'seq', 'runner_id', 'claimed', 'expires',
		  'token_hash']);

SELECT col_type_is('bluebricks', 'task', 'stage', 'bluebricks.stage', '');
SELECT col_type_is('bluebricks', 'task', 'entered', 'timestamp with time zone[]', '');
SELECT col_type_is('bluebricks', 'task', 'state_counts', 'integer[]', '');
SELECT col_type_is('bluebricks', 'task', 'lease_token_hash', 'bytea', '');
SELECT col_type_is('bluebricks', 'deployment', 'stage', 'bluebricks.stage', '');
SELECT col_type_is('bluebricks', 'deployment', 'type',
	'bluebricks.package_type', '');
SELECT col_not_null('bluebricks', 'task', 'organization', '');
SELECT col_not_null('bluebricks', 'task', 'environment_id', '');
SELECT col_not_null('bluebricks', 'deployment', 'unique_id', '');
SELECT col_is_null('bluebricks', 'deployment_dependency', 'depends_on_guid',
	'');
SELECT col_default_is('bluebricks', 'task', 'stage',
	'pending'::bluebricks.stage, '');
SELECT col_default_is('bluebricks', 'task', 'state_counts',
	'{0,0,0,0,0,0,0,0,0}'::int[], '');

-- Primary keys: every task-owned table leads with task_id ---------------

SELECT col_is_pk('bluebricks', 'cloud_account', ARRAY['id'], '');
SELECT col_is_pk('bluebricks', 'environment', ARRAY['id'], '');
SELECT col_is_pk('bluebricks', 'environment_user',
	ARRAY['environment_id', 'id'], '');
SELECT col_is_pk('bluebricks', 'environment_user_role',
	ARRAY['environment_id', 'user_id', 'id'], '');
SELECT col_is_pk('bluebricks', 'runner', ARRAY['id'], '');
SELECT col_is_pk('bluebricks', 'task', ARRAY['task_id'], '');
SELECT col_is_pk('bluebricks', 'deployment', ARRAY['task_id', 'guid'], '');
SELECT col_is_pk('bluebricks', 'deployment_dependency',
	ARRAY['task_id', 'guid', 'depends_on'], '');
SELECT col_is_pk('bluebricks', 'stage_history', ARRAY['task_id', 'seq'], '');
SELECT col_is_pk('bluebricks', 'claim_log', ARRAY['task_id', 'seq'], '');

SELECT is_empty($$
	SELECT c.relname
	FROM pg_catalog.pg_constraint k
	JOIN pg_catalog.pg_class c ON c.oid = k.conrelid
	JOIN pg_catalog.pg_attribute a
	  ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1]
	WHERE c.relnamespace = 'bluebricks'::regnamespace
	  AND c.relname IN ('task', 'deployment', 'deployment_dependency',
						'stage_history', 'claim_log')
	  AND k.contype IN ('p', 'u')
	  AND a.attname <> 'task_id'
$$, 'primary and unique keys of task-owned tables lead with task_id');

SELECT col_is_unique('bluebricks', 'deployment',
	ARRAY['task_id', 'unique_id'], '');
SELECT col_is_unique('bluebricks', 'runner', ARRAY['name'], '');

-- Foreign keys ---------------------------------------------------------

SELECT fk_ok('bluebricks', 'environment', ARRAY['cloud_account_id'],
			 'bluebricks', 'cloud_account', ARRAY['id']);
SELECT fk_ok('bluebricks', 'environment_user', ARRAY['environment_id'],
			 'bluebricks', 'environment', ARRAY['id']);
SELECT fk_ok('bluebricks', 'environment_user_role',
			 ARRAY['environment_id', 'user_id'],
			 'bluebricks', 'environment_user', ARRAY['environment_id', 'id']);
SELECT fk_ok('bluebricks', 'task', ARRAY['environment_id'],
			 'bluebricks', 'environment', ARRAY['id']);
SELECT fk_ok('bluebricks', 'task', ARRAY['runner_id'],
			 'bluebricks', 'runner', ARRAY['id']);
SELECT fk_ok('bluebricks', 'deployment', ARRAY['task_id'],
			 'bluebricks', 'task', ARRAY['task_id']);
SELECT fk_ok('bluebricks', 'deployment', ARRAY['task_id', 'parent_guid'],
			 'bluebricks', 'deployment', ARRAY['task_id', 'guid']);
SELECT fk_ok('bluebricks', 'deployment_dependency', ARRAY['task_id', 'guid'],
			 'bluebricks', 'deployment', ARRAY['task_id', 'guid']);
SELECT fk_ok('bluebricks', 'deployment_dependency',
			 ARRAY['task_id', 'depends_on_guid'],
			 'bluebricks', 'deployment', ARRAY['task_id', 'guid']);
SELECT fk_ok('bluebricks', 'stage_history', ARRAY['task_id'],
			 'bluebricks', 'task', ARRAY['task_id']);
SELECT fk_ok('bluebricks', 'stage_history', ARRAY['task_id', 'guid'],
			 'bluebricks', 'deployment', ARRAY['task_id', 'guid']);
SELECT fk_ok('bluebricks', 'claim_log', ARRAY['task_id'],
			 'bluebricks', 'task', ARRAY['task_id']);

SELECT is_empty($$
	SELECT k.conname
	FROM pg_catalog.pg_constraint k
	JOIN pg_catalog.pg_class c ON c.oid = k.conrelid
	JOIN pg_catalog.pg_class r ON r.oid = k.confrelid
	WHERE k.contype = 'f'
	  AND c.relnamespace = 'bluebricks'::regnamespace
	  AND c.relname IN ('deployment', 'deployment_dependency',
						'stage_history', 'claim_log')
	  AND r.relname IN ('task', 'deployment')
	  AND NOT EXISTS (
		  SELECT FROM pg_catalog.pg_attribute a
		  WHERE a.attrelid = k.conrelid AND a.attnum = k.conkey[1]
			AND a.attname = 'task_id')
$$, 'foreign keys among task-owned tables lead with task_id');

SELECT is(
	(SELECT confdeltype::text FROM pg_catalog.pg_constraint
	 WHERE conrelid = 'bluebricks.deployment'::regclass
	   AND confrelid = 'bluebricks.task'::regclass),
	'c', 'deleting a task cascades to its deployments');

-- Indexes --------------------------------------------------------------

SELECT has_index('bluebricks', 'task', 'task_claimable_idx',
	ARRAY['organization', 'created']);
SELECT has_index('bluebricks', 'task', 'task_lease_idx',
	ARRAY['lease_expires']);
SELECT has_index('bluebricks', 'stage_history',
	'stage_history_task_error_idx', ARRAY['task_id', 'seq']);
SELECT has_index('bluebricks', 'deployment_dependency',
	'deployment_dependency_target_idx', ARRAY['task_id', 'depends_on_guid']);

-- Functions ------------------------------------------------------------

SELECT functions_are('bluebricks',
	ARRAY['upsert_environment', 'create_task', 'task', 'add_deployments',
		  'set_task_status', 'task_status', 'delete_task', 'pending_tasks',
		  'claim_tasks', 'expire_leases', 'create_runner',
		  'authenticate_basic', 'org_visible', 'task_stage_guard',
		  'task_stage_record', 'deployment_stage_guard',
		  'deployment_stage_record']);

SELECT has_function('bluebricks', 'upsert_environment', ARRAY['jsonb']);
SELECT has_function('bluebricks', 'create_task', ARRAY['jsonb']);
SELECT has_function('bluebricks', 'task', ARRAY['uuid']);
SELECT has_function('bluebricks', 'add_deployments',
	ARRAY['uuid', 'jsonb', 'text']);
SELECT has_function('bluebricks', 'set_task_status',
	ARRAY['uuid', 'bluebricks.stage', 'text', 'boolean', 'text']);
SELECT has_function('bluebricks', 'task_status', ARRAY['uuid', 'boolean']);
SELECT has_function('bluebricks', 'delete_task', ARRAY['uuid']);
SELECT has_function('bluebricks', 'pending_tasks', ARRAY['uuid', 'integer']);
SELECT has_function('bluebricks', 'claim_tasks',
	ARRAY['uuid', 'integer', 'interval']);
SELECT has_function('bluebricks', 'expire_leases', ARRAY[]::name[]);
SELECT has_function('bluebricks', 'create_runner',
	ARRAY['text', 'text', 'uuid[]']);
SELECT has_function('bluebricks', 'authenticate_basic',
	ARRAY['text', 'text']);
SELECT has_function('bluebricks', 'org_visible', ARRAY['text']);

SELECT function_returns('bluebricks', 'create_task', ARRAY['jsonb'], 'uuid');
SELECT function_returns('bluebricks', 'task_status',
	ARRAY['uuid', 'boolean'], 'jsonb');
SELECT function_returns('bluebricks', 'expire_leases', ARRAY[]::name[],
	'integer');

-- Every API function: C, SECURITY DEFINER, owned by bluebricks_owner, with
-- search_path pinned.
SELECT set_eq($$
	SELECT p.proname::text
	FROM pg_catalog.pg_proc p
	WHERE p.pronamespace = 'bluebricks'::regnamespace AND p.prosecdef
$$, ARRAY['upsert_environment', 'create_task', 'task', 'add_deployments',
		  'set_task_status', 'task_status', 'delete_task', 'pending_tasks',
		  'claim_tasks', 'expire_leases', 'create_runner',
		  'authenticate_basic'],
	'exactly the API functions are SECURITY DEFINER');

SELECT is_empty($$
	SELECT p.oid::regprocedure::text
	FROM pg_catalog.pg_proc p
	WHERE p.pronamespace = 'bluebricks'::regnamespace AND p.prosecdef
	  AND p.proowner <> 'bluebricks_owner'::regrole
$$, 'SECURITY DEFINER functions are owned by bluebricks_owner');

SELECT is_empty($$
	SELECT p.oid::regprocedure::text
	FROM pg_catalog.pg_proc p
	WHERE p.pronamespace = 'bluebricks'::regnamespace AND p.prosecdef
	  AND (p.proconfig IS NULL OR NOT
		   'search_path=pg_catalog, pg_temp' = ANY (p.proconfig))
$$, 'SECURITY DEFINER functions pin search_path to pg_catalog, pg_temp');

SELECT is_empty($$
	SELECT p.oid::regprocedure::text
	FROM pg_catalog.pg_proc p
	WHERE p.pronamespace = 'bluebricks'::regnamespace
	  AND p.prolang <> (SELECT oid FROM pg_catalog.pg_language
						WHERE lanname = 'c')
$$, 'every function is written in C');

SELECT is_definer('bluebricks', 'set_task_status',
	ARRAY['uuid', 'bluebricks.stage', 'text', 'boolean', 'text']);
SELECT isnt_definer('bluebricks', 'org_visible', ARRAY['text']);
SELECT function_owner_is('bluebricks', 'claim_tasks',
	ARRAY['uuid', 'integer', 'interval'], 'bluebricks_owner');
SELECT volatility_is('bluebricks', 'task', ARRAY['uuid'], 'stable');
SELECT volatility_is('bluebricks', 'task_status', ARRAY['uuid', 'boolean'],
	'stable');
SELECT volatility_is('bluebricks', 'claim_tasks',
	ARRAY['uuid', 'integer', 'interval'], 'volatile');
SELECT is_strict('bluebricks', 'create_task', ARRAY['jsonb']);
SELECT isnt_strict('bluebricks', 'set_task_status',
	ARRAY['uuid', 'bluebricks.stage', 'text', 'boolean', 'text']);

-- Grants ---------------------------------------------------------------

SELECT is_empty($$
	SELECT p.oid::regprocedure::text
	FROM pg_catalog.pg_proc p
	WHERE p.pronamespace = 'bluebricks'::regnamespace
	  AND (p.proacl IS NULL
		   OR EXISTS (SELECT FROM pg_catalog.aclexplode(p.proacl) x
					  WHERE x.grantee = 0
						AND x.privilege_type = 'EXECUTE'))
$$, 'no function is executable by PUBLIC');

SELECT set_eq($$
	SELECT p.proname::text
	FROM pg_catalog.pg_proc p
	WHERE p.pronamespace = 'bluebricks'::regnamespace
	  AND pg_catalog.has_function_privilege('bluebricks_api', p.oid,
											'EXECUTE')
$$, ARRAY['task', 'create_task', 'add_deployments', 'set_task_status',
		  'task_status', 'delete_task', 'pending_tasks', 'claim_tasks',
		  'authenticate_basic'],
	'bluebricks_api executes the API functions and no others');

SELECT ok(NOT pg_catalog.has_function_privilege('bluebricks_api',
		'bluebricks.create_runner(text, text, uuid[])', 'EXECUTE'),
	'bluebricks_api may not create runners');
SELECT ok(NOT pg_catalog.has_function_privilege('bluebricks_api',
		'bluebricks.upsert_environment(jsonb)', 'EXECUTE'),
	'bluebricks_api may not write environments');

SELECT is_empty($$
	SELECT c.relname || ':' || x.privilege_type
	FROM pg_catalog.pg_class c,
		 pg_catalog.aclexplode(c.relacl) x
	WHERE c.relnamespace = 'bluebricks'::regnamespace
	  AND c.relkind = 'r'
	  AND x.grantee IN (0, 'bluebricks_api'::regrole)
$$, 'neither PUBLIC nor bluebricks_api has rights on any table');

SELECT ok(NOT pg_catalog.has_table_privilege('bluebricks_api',
		'bluebricks.task', 'SELECT'),
	'bluebricks_api cannot read task directly');
SELECT table_privs_are('bluebricks', 'task', 'bluebricks_owner',
	ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE']);
SELECT schema_privs_are('bluebricks', 'bluebricks_api', ARRAY['USAGE']);

-- Roles ----------------------------------------------------------------

SELECT has_role('bluebricks_owner');
SELECT has_role('bluebricks_api');
SELECT has_role('bluebricks_admin');
SELECT isnt_superuser('bluebricks_owner');
SELECT is(
	(SELECT rolbypassrls FROM pg_catalog.pg_roles
	 WHERE rolname = 'bluebricks_owner'),
	false, 'bluebricks_owner does not bypass row-level security');
SELECT is(
	(SELECT rolcanlogin FROM pg_catalog.pg_roles
	 WHERE rolname = 'bluebricks_owner'),
	false, 'bluebricks_owner cannot log in');
SELECT is(
	(SELECT rolcanlogin FROM pg_catalog.pg_roles
	 WHERE rolname = 'bluebricks_api'),
	false, 'bluebricks_api cannot log in');
SELECT isnt(
	(SELECT c.relowner FROM pg_catalog.pg_class c
	 WHERE c.oid = 'bluebricks.task'::regclass),
	'bluebricks_owner'::regrole::oid,
	'bluebricks_owner does not own the tables, so their policies bind it');

-- Row-level security ---------------------------------------------------

SELECT set_eq($$
	SELECT c.relname::text
	FROM pg_catalog.pg_class c
	WHERE c.relnamespace = 'bluebricks'::regnamespace
	  AND c.relkind = 'r' AND c.relrowsecurity
$$, ARRAY['task', 'deployment', 'deployment_dependency', 'stage_history',
		  'claim_log', 'runner'],
	'row-level security is on for task-owned tables and runner');

SELECT policies_are('bluebricks', 'task', ARRAY['task_org']);
SELECT policies_are('bluebricks', 'runner', ARRAY['runner_org']);
SELECT policies_are('bluebricks', 'deployment', ARRAY['deployment_org']);
SELECT policies_are('bluebricks', 'deployment_dependency',
	ARRAY['deployment_dependency_org']);
SELECT policies_are('bluebricks', 'stage_history',
	ARRAY['stage_history_org']);
SELECT policies_are('bluebricks', 'claim_log', ARRAY['claim_log_org']);
SELECT policy_cmd_is('bluebricks', 'task', 'task_org'::name, 'all',
	'task_org applies to every command');

-- Triggers -------------------------------------------------------------

SELECT triggers_are('bluebricks', 'task',
	ARRAY['task_stage_guard', 'task_stage_record',
		  'task_stage_record_insert']);
SELECT triggers_are('bluebricks', 'deployment',
	ARRAY['deployment_stage_guard', 'deployment_stage_record']);
SELECT trigger_is('bluebricks', 'task', 'task_stage_guard',
	'bluebricks', 'task_stage_guard');
SELECT trigger_is('bluebricks', 'task', 'task_stage_record',
	'bluebricks', 'task_stage_record');
SELECT trigger_is('bluebricks', 'task', 'task_stage_record_insert',
	'bluebricks', 'task_stage_record');
SELECT is(
	(SELECT string_agg(tgname || ':' ||
					   CASE WHEN (tgtype & 4) <> 0 THEN 'insert'
							ELSE 'update' END ||
					   CASE WHEN tgqual IS NULL THEN '' ELSE ' when' END,
					   ', ' ORDER BY tgname)
	 FROM pg_catalog.pg_trigger
	 WHERE tgrelid = 'bluebricks.task'::regclass
	   AND tgname LIKE 'task_stage_record%'),
	'task_stage_record:update when, task_stage_record_insert:insert',
	'task_stage_record fires on UPDATE only when stage or error change, '
	'and on every INSERT');
SELECT trigger_is('bluebricks', 'deployment', 'deployment_stage_guard',
	'bluebricks', 'deployment_stage_guard');
SELECT trigger_is('bluebricks', 'deployment', 'deployment_stage_record',
	'bluebricks', 'deployment_stage_record');
SELECT is(
	(SELECT (tgtype & 2) <> 0 FROM pg_catalog.pg_trigger
	 WHERE tgrelid = 'bluebricks.task'::regclass
	   AND tgname = 'task_stage_guard'),
	true, 'task_stage_guard fires BEFORE');
SELECT is(
	(SELECT (tgtype & 2) = 0 AND (tgtype & 8) <> 0
	 FROM pg_catalog.pg_trigger
	 WHERE tgrelid = 'bluebricks.deployment'::regclass
	   AND tgname = 'deployment_stage_record'),
	true, 'deployment_stage_record fires AFTER and on DELETE');

-- Comments -------------------------------------------------------------

SELECT is_empty($$
	SELECT c.relname
	FROM pg_catalog.pg_class c
	WHERE c.relnamespace = 'bluebricks'::regnamespace AND c.relkind = 'r'
	  AND pg_catalog.obj_description(c.oid, 'pg_class') IS NULL
$$, 'every table has a comment');

SELECT is_empty($$
	SELECT c.relname || '.' || a.attname
	FROM pg_catalog.pg_class c
	JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid
	WHERE c.relnamespace = 'bluebricks'::regnamespace AND c.relkind = 'r'
	  AND a.attnum > 0 AND NOT a.attisdropped
	  AND pg_catalog.col_description(c.oid, a.attnum) IS NULL
$$, 'every column has a comment');

SELECT is_empty($$
	SELECT p.oid::regprocedure::text
	FROM pg_catalog.pg_proc p
	WHERE p.pronamespace = 'bluebricks'::regnamespace
	  AND pg_catalog.obj_description(p.oid, 'pg_proc') IS NULL
$$, 'every function has a comment');

SELECT is_empty($$
	SELECT t.typname
	FROM pg_catalog.pg_type t
	WHERE t.typnamespace = 'bluebricks'::regnamespace AND t.typtype = 'e'
	  AND pg_catalog.obj_description(t.oid, 'pg_type') IS NULL
$$, 'every enum type has a comment');

-- The extension --------------------------------------------------------

SELECT has_extension('bluebricks', 'bluebricks_task',
	'bluebricks_task is installed in schema bluebricks');
SELECT is(
	(SELECT extrelocatable FROM pg_catalog.pg_extension
	 WHERE extname = 'bluebricks_task'),
	false, 'the extension is not relocatable');
SELECT is_empty($$
	SELECT c.relname
	FROM pg_catalog.pg_class c
	WHERE c.relnamespace = 'bluebricks'::regnamespace AND c.relkind = 'r'
	  AND NOT EXISTS (
		  SELECT FROM pg_catalog.pg_depend d
		  WHERE d.classid = 'pg_catalog.pg_class'::regclass
			AND d.objid = c.oid AND d.deptype = 'e')
$$, 'every table belongs to the extension');

SELECT * FROM finish();
ROLLBACK;

-- sql/tables.sql
--	Types and tables of bluebricks_task.
--
-- Shared tables (cloud_account, environment and its users, runner) are small,
-- reference nothing that belongs to a task and carry no triggers.  Task-owned
-- tables (task, deployment, deployment_dependency, stage_history) all lead
-- their primary key with task_id and name task_id in every foreign key among
-- them, so that they can be distributed by task id.
--
-- Stage arrays (entered) hold one timestamp per stage, indexed by the stage's
-- position in bluebricks.stage (1-based), and state_counts holds one count per
-- stage in the same order.

CREATE TYPE bluebricks.stage AS ENUM (
	'pending', 'planning', 'no_change', 'planned', 'plan_approved',
	'installing', 'canceled', 'completed', 'error'
);
COMMENT ON TYPE bluebricks.stage IS
	'Stage of a task or deployment; completed, canceled and error are final.';

CREATE TYPE bluebricks.command AS ENUM (
	'install', 'force_install', 'uninstall', 'force_uninstall'
);
COMMENT ON TYPE bluebricks.command IS 'What a task does to its environment.';

CREATE TYPE bluebricks.package_type AS ENUM ('blueprint', 'artifact');
COMMENT ON TYPE bluebricks.package_type IS 'Kind of package a deployment runs.';

-- Shared tables ---------------------------------------------------------

CREATE TABLE bluebricks.cloud_account (
	id uuid PRIMARY KEY,
	name text NOT NULL,
	provider text NOT NULL,
	slug text NOT NULL,
	is_active boolean NOT NULL DEFAULT true,
	is_deleted boolean NOT NULL DEFAULT false,
	created timestamptz NOT NULL DEFAULT now(),
	cloud_account text,
	assume_role_arn text,
	external_id text,
	cloud_config jsonb NOT NULL DEFAULT '{}'
		CHECK (jsonb_typeof(cloud_config) = 'object'),
	is_primary boolean NOT NULL DEFAULT false,
	profile text
);
COMMENT ON TABLE bluebricks.cloud_account IS
	'Cloud account an environment deploys into.';
COMMENT ON COLUMN bluebricks.cloud_account.id IS 'Cloud account id.';
COMMENT ON COLUMN bluebricks.cloud_account.name IS 'Display name.';
COMMENT ON COLUMN bluebricks.cloud_account.provider IS
	'Cloud provider, e.g. aws, gcp, azure.';
COMMENT ON COLUMN bluebricks.cloud_account.slug IS 'URL-safe name.';
COMMENT ON COLUMN bluebricks.cloud_account.is_active IS
	'Whether the account may be used.';
COMMENT ON COLUMN bluebricks.cloud_account.is_deleted IS
	'Soft-delete flag.';
COMMENT ON COLUMN bluebricks.cloud_account.created IS 'Creation time.';
COMMENT ON COLUMN bluebricks.cloud_account.cloud_account IS
	'Provider-side account number or project id.';
COMMENT ON COLUMN bluebricks.cloud_account.assume_role_arn IS
	'Role the runner assumes in the account.';
COMMENT ON COLUMN bluebricks.cloud_account.external_id IS
	'External id presented when assuming the role.';
COMMENT ON COLUMN bluebricks.cloud_account.cloud_config IS
	'Provider settings; unknown keys are kept as given.';
COMMENT ON COLUMN bluebricks.cloud_account.is_primary IS
	'Whether this is the organization''s primary account.';
COMMENT ON COLUMN bluebricks.cloud_account.profile IS
	'Credentials profile, e.g. secrets-manager.';

CREATE TABLE bluebricks.environment (
	id uuid PRIMARY KEY,
	slug text NOT NULL,
	name text NOT NULL,
	color text,
	allow_pre_release boolean NOT NULL DEFAULT false,
	is_default boolean NOT NULL DEFAULT false,
	is_active boolean NOT NULL DEFAULT true,
	is_deleted boolean NOT NULL DEFAULT false,
	created timestamptz NOT NULL DEFAULT now(),
	cloud_account_id uuid REFERENCES bluebricks.cloud_account (id)
);
COMMENT ON TABLE bluebricks.environment IS
	'Target environment of tasks.';
COMMENT ON COLUMN bluebricks.environment.id IS 'Environment id.';
COMMENT ON COLUMN bluebricks.environment.slug IS 'URL-safe name.';
COMMENT ON COLUMN bluebricks.environment.name IS 'Display name.';
COMMENT ON COLUMN bluebricks.environment.color IS 'Display color, e.g. #0000ff.';
COMMENT ON COLUMN bluebricks.environment.allow_pre_release IS
	'Whether pre-release package versions may be deployed.';
COMMENT ON COLUMN bluebricks.environment.is_default IS
	'Whether this is the default environment.';
COMMENT ON COLUMN bluebricks.environment.is_active IS
	'Whether the environment may be used.';
COMMENT ON COLUMN bluebricks.environment.is_deleted IS 'Soft-delete flag.';
COMMENT ON COLUMN bluebricks.environment.created IS 'Creation time.';
COMMENT ON COLUMN bluebricks.environment.cloud_account_id IS
	'Cloud account the environment deploys into.';

CREATE TABLE bluebricks.environment_user (
	environment_id uuid NOT NULL
		REFERENCES bluebricks.environment (id) ON DELETE CASCADE,
	id text NOT NULL,
	ordinal int NOT NULL,
	name text,
	email text,
	nickname text,
	picture text,
	PRIMARY KEY (environment_id, id)
);
COMMENT ON TABLE bluebricks.environment_user IS
	'User with access to an environment.';
COMMENT ON COLUMN bluebricks.environment_user.environment_id IS
	'Environment the user belongs to.';
COMMENT ON COLUMN bluebricks.environment_user.id IS
	'Identity provider user id, e.g. prov0|1234567890.';
COMMENT ON COLUMN bluebricks.environment_user.ordinal IS
	'Position in the environment''s user list.';
COMMENT ON COLUMN bluebricks.environment_user.name IS 'Full name.';
COMMENT ON COLUMN bluebricks.environment_user.email IS 'E-mail address.';
COMMENT ON COLUMN bluebricks.environment_user.nickname IS 'Short name.';
COMMENT ON COLUMN bluebricks.environment_user.picture IS 'Picture URL.';

CREATE TABLE bluebricks.environment_user_role (
	environment_id uuid NOT NULL,
	user_id text NOT NULL,
	id text NOT NULL,
	ordinal int NOT NULL,
	name text NOT NULL,
	description text,
	PRIMARY KEY (environment_id, user_id, id),
	FOREIGN KEY (environment_id, user_id)
		REFERENCES bluebricks.environment_user (environment_id, id)
		ON DELETE CASCADE
);
COMMENT ON TABLE bluebricks.environment_user_role IS
	'Role an environment user holds.';
COMMENT ON COLUMN bluebricks.environment_user_role.environment_id IS
	'Environment of the user.';
COMMENT ON COLUMN bluebricks.environment_user_role.user_id IS
	'User holding the role.';
COMMENT ON COLUMN bluebricks.environment_user_role.id IS
	'Role id, e.g. rol_abCdeFghIjklMnmP.';
COMMENT ON COLUMN bluebricks.environment_user_role.ordinal IS
	'Position in the user''s role list.';
COMMENT ON COLUMN bluebricks.environment_user_role.name IS 'Role name.';
COMMENT ON COLUMN bluebricks.environment_user_role.description IS
	'What the role permits.';

CREATE TABLE bluebricks.runner (
	id uuid PRIMARY KEY,
	name text NOT NULL UNIQUE CHECK (name <> ''),
	organization text NOT NULL CHECK (organization <> ''),
	environments uuid[],
	password_hash bytea NOT NULL CHECK (length(password_hash) = 32),
	created timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE bluebricks.runner IS
	'Worker that claims and runs tasks of one organization.';
COMMENT ON COLUMN bluebricks.runner.id IS 'Runner id.';
COMMENT ON COLUMN bluebricks.runner.name IS
	'Login name, used as the Basic username.';
COMMENT ON COLUMN bluebricks.runner.organization IS
	'Organization whose tasks the runner may take.';
COMMENT ON COLUMN bluebricks.runner.environments IS
	'Environments the runner may serve; null means all of its organization.';
COMMENT ON COLUMN bluebricks.runner.password_hash IS
	'SHA-256 of the runner''s random password.';
COMMENT ON COLUMN bluebricks.runner.created IS 'Creation time.';

-- Task-owned tables -----------------------------------------------------

CREATE TABLE bluebricks.task (
	task_id uuid PRIMARY KEY,
	command bluebricks.command NOT NULL,
	plan_only boolean NOT NULL DEFAULT false,
	user_name text,
	organization text NOT NULL CHECK (organization <> ''),
	environment_id uuid NOT NULL REFERENCES bluebricks.environment (id),
	stage bluebricks.stage NOT NULL DEFAULT 'pending',
	props jsonb,
	secrets bytea,
	decryption_key_id text,
	error text,
	entered timestamptz[] NOT NULL DEFAULT '{}',
	state_counts int[] NOT NULL DEFAULT '{0,0,0,0,0,0,0,0,0}'
		CHECK (cardinality(state_counts) = 9),
	runner_id uuid REFERENCES bluebricks.runner (id) ON DELETE SET NULL,
	lease_token_hash bytea CHECK (length(lease_token_hash) = 32),
	lease_expires timestamptz,
	lease_duration interval,
	created timestamptz NOT NULL DEFAULT now(),
	updated timestamptz,
	completed timestamptz,
	CHECK ((runner_id IS NULL) = (lease_expires IS NULL)),
	CHECK ((lease_expires IS NULL) = (lease_token_hash IS NULL))
);
COMMENT ON TABLE bluebricks.task IS
	'One command run against an environment, made of deployments.';
COMMENT ON COLUMN bluebricks.task.task_id IS 'Task id.';
COMMENT ON COLUMN bluebricks.task.command IS 'What the task does.';
COMMENT ON COLUMN bluebricks.task.plan_only IS
	'Whether the task stops after planning.';
COMMENT ON COLUMN bluebricks.task.user_name IS 'User who started the task.';
COMMENT ON COLUMN bluebricks.task.organization IS
	'Organization that owns the task; the row-level security boundary.';
COMMENT ON COLUMN bluebricks.task.environment_id IS
	'Environment the task runs against.';
COMMENT ON COLUMN bluebricks.task.stage IS
	'Current stage, changed only along the stage machine.';
COMMENT ON COLUMN bluebricks.task.props IS 'Free-form task properties.';
COMMENT ON COLUMN bluebricks.task.secrets IS
	'Secrets handed to the runner: a JSON object sealed with AES-256-GCM.';
COMMENT ON COLUMN bluebricks.task.decryption_key_id IS
	'Id of the key in bluebricks.secret_key_file that seals the secrets.';
COMMENT ON COLUMN bluebricks.task.error IS
	'Error text given with the latest stage change.';
COMMENT ON COLUMN bluebricks.task.entered IS
	'First time each stage was entered, in bluebricks.stage order.';
COMMENT ON COLUMN bluebricks.task.state_counts IS
	'Deployments per stage, in bluebricks.stage order; kept by trigger.';
COMMENT ON COLUMN bluebricks.task.runner_id IS
	'Runner holding the lease, if any.';
COMMENT ON COLUMN bluebricks.task.lease_token_hash IS
	'SHA-256 of the lease token.';
COMMENT ON COLUMN bluebricks.task.lease_expires IS
	'When the lease lapses unless the holder reports again.';
COMMENT ON COLUMN bluebricks.task.lease_duration IS
	'Length the lease is extended by on each accepted change.';
COMMENT ON COLUMN bluebricks.task.created IS 'Creation time.';
COMMENT ON COLUMN bluebricks.task.updated IS 'Time of the latest change.';
COMMENT ON COLUMN bluebricks.task.completed IS
	'Time a final stage was entered.';

CREATE INDEX task_claimable_idx ON bluebricks.task (organization, created)
	WHERE stage IN ('pending', 'plan_approved');
CREATE INDEX task_lease_idx ON bluebricks.task (lease_expires)
	WHERE lease_expires IS NOT NULL;

CREATE TABLE bluebricks.deployment (
	task_id uuid NOT NULL
		REFERENCES bluebricks.task (task_id) ON DELETE CASCADE,
	guid uuid NOT NULL,
	ordinal int NOT NULL,
	package_name text NOT NULL CHECK (package_name <> ''),
	package_version text,
	unique_id text NOT NULL CHECK (unique_id <> ''),
	type bluebricks.package_type NOT NULL,
	parent_guid uuid,
	stage bluebricks.stage NOT NULL DEFAULT 'pending',
	plan_file text,
	state_file text,
	origin_state_location text,
	slug text,
	url text,
	error text,
	payload jsonb,
	entered timestamptz[] NOT NULL DEFAULT '{}',
	created timestamptz NOT NULL DEFAULT now(),
	updated timestamptz,
	PRIMARY KEY (task_id, guid),
	UNIQUE (task_id, unique_id),
	FOREIGN KEY (task_id, parent_guid)
		REFERENCES bluebricks.deployment (task_id, guid)
);
COMMENT ON TABLE bluebricks.deployment IS
	'One package of a task''s graph, planned and installed by a runner.';
COMMENT ON COLUMN bluebricks.deployment.task_id IS 'Task it belongs to.';
COMMENT ON COLUMN bluebricks.deployment.guid IS 'Deployment id.';
COMMENT ON COLUMN bluebricks.deployment.ordinal IS
	'Position in the order deployments were first posted.';
COMMENT ON COLUMN bluebricks.deployment.package_name IS
	'Package name, shown as package.qualified_name.';
COMMENT ON COLUMN bluebricks.deployment.package_version IS
	'Package version.';
COMMENT ON COLUMN bluebricks.deployment.unique_id IS
	'Package uniqueId; identifies the deployment within its task.';
COMMENT ON COLUMN bluebricks.deployment.type IS 'Package kind.';
COMMENT ON COLUMN bluebricks.deployment.parent_guid IS
	'Enclosing deployment of the same task, if any.';
COMMENT ON COLUMN bluebricks.deployment.stage IS
	'Current stage, changed only along the stage machine.';
COMMENT ON COLUMN bluebricks.deployment.plan_file IS 'Location of the plan.';
COMMENT ON COLUMN bluebricks.deployment.state_file IS
	'Location of the state after install.';
COMMENT ON COLUMN bluebricks.deployment.origin_state_location IS
	'Location of the state before the task.';
COMMENT ON COLUMN bluebricks.deployment.slug IS 'URL-safe name.';
COMMENT ON COLUMN bluebricks.deployment.url IS 'Package URL.';
COMMENT ON COLUMN bluebricks.deployment.error IS
	'Error text given with the latest stage change.';
COMMENT ON COLUMN bluebricks.deployment.payload IS
	'Payload as last posted.';
COMMENT ON COLUMN bluebricks.deployment.entered IS
	'First time each stage was entered, in bluebricks.stage order.';
COMMENT ON COLUMN bluebricks.deployment.created IS 'Creation time.';
COMMENT ON COLUMN bluebricks.deployment.updated IS
	'Time of the latest change.';

CREATE TABLE bluebricks.deployment_dependency (
	task_id uuid NOT NULL,
	guid uuid NOT NULL,
	depends_on text NOT NULL CHECK (depends_on <> ''),
	depends_on_guid uuid,
	PRIMARY KEY (task_id, guid, depends_on),
	FOREIGN KEY (task_id, guid)
		REFERENCES bluebricks.deployment (task_id, guid) ON DELETE CASCADE,
	-- Deleting the target makes the name unresolved again, which blocks.
	FOREIGN KEY (task_id, depends_on_guid)
		REFERENCES bluebricks.deployment (task_id, guid)
		ON DELETE SET NULL (depends_on_guid)
);
COMMENT ON TABLE bluebricks.deployment_dependency IS
	'Direct dependency of a deployment on another of the same task.';
COMMENT ON COLUMN bluebricks.deployment_dependency.task_id IS
	'Task of both deployments.';
COMMENT ON COLUMN bluebricks.deployment_dependency.guid IS
	'Dependent deployment.';
COMMENT ON COLUMN bluebricks.deployment_dependency.depends_on IS
	'Package name or uniqueId as posted.';
COMMENT ON COLUMN bluebricks.deployment_dependency.depends_on_guid IS
	'Deployment it resolved to; null until one is posted.';
CREATE INDEX deployment_dependency_target_idx
	ON bluebricks.deployment_dependency (task_id, depends_on_guid);

CREATE TABLE bluebricks.stage_history (
	task_id uuid NOT NULL
		REFERENCES bluebricks.task (task_id) ON DELETE CASCADE,
	seq bigint GENERATED ALWAYS AS IDENTITY,
	guid uuid,
	from_stage bluebricks.stage,
	to_stage bluebricks.stage NOT NULL,
	error text,
	at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (task_id, seq),
	FOREIGN KEY (task_id, guid)
		REFERENCES bluebricks.deployment (task_id, guid) ON DELETE CASCADE
);
COMMENT ON TABLE bluebricks.stage_history IS
	'Every stage change and error of a task and its deployments.';
COMMENT ON COLUMN bluebricks.stage_history.task_id IS 'Task concerned.';
COMMENT ON COLUMN bluebricks.stage_history.seq IS 'Order of events.';
COMMENT ON COLUMN bluebricks.stage_history.guid IS
	'Deployment concerned; null for the task itself.';
COMMENT ON COLUMN bluebricks.stage_history.from_stage IS
	'Stage left; null on creation.';
COMMENT ON COLUMN bluebricks.stage_history.to_stage IS 'Stage entered.';
COMMENT ON COLUMN bluebricks.stage_history.error IS
	'Error text reported with the change.';
COMMENT ON COLUMN bluebricks.stage_history.at IS 'Time of the change.';
-- The errors of a task itself, which its status lists, without reading
-- the history of its deployments.
CREATE INDEX stage_history_task_error_idx
	ON bluebricks.stage_history (task_id, seq)
	WHERE error IS NOT NULL AND guid IS NULL;

CREATE TABLE bluebricks.claim_log (
	task_id uuid NOT NULL
		REFERENCES bluebricks.task (task_id) ON DELETE CASCADE,
	seq bigint GENERATED ALWAYS AS IDENTITY,
	runner_id uuid NOT NULL,
	claimed timestamptz NOT NULL,
	expires timestamptz NOT NULL,
	token_hash bytea NOT NULL CHECK (length(token_hash) = 32),
	PRIMARY KEY (task_id, seq)
);
COMMENT ON TABLE bluebricks.claim_log IS
	'Every lease granted, for audits that no task had two holders at once.';
COMMENT ON COLUMN bluebricks.claim_log.task_id IS 'Task leased.';
COMMENT ON COLUMN bluebricks.claim_log.seq IS 'Order of claims.';
COMMENT ON COLUMN bluebricks.claim_log.runner_id IS 'Runner that got it.';
COMMENT ON COLUMN bluebricks.claim_log.claimed IS 'When it was granted.';
COMMENT ON COLUMN bluebricks.claim_log.token_hash IS
	'SHA-256 of the lease token, to tell a stale token from a wrong one.';
COMMENT ON COLUMN bluebricks.claim_log.expires IS
	'Expiry as first granted.';

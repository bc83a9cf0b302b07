-- bench/sql/floor.sql
--	Bare tables for the benchmarks' floors: the columns, types, primary
--	keys and indexes of bluebricks.task and bluebricks.deployment, with no
--	checks, no foreign keys, no triggers, no row-level security and no
--	JSON.  Whatever the extension costs above these is its own overhead.

CREATE SCHEMA floor;

CREATE TABLE floor.task (
	task_id uuid PRIMARY KEY,
	command bluebricks.command NOT NULL,
	plan_only boolean NOT NULL DEFAULT false,
	user_name text,
	organization text NOT NULL,
	environment_id uuid NOT NULL,
	stage bluebricks.stage NOT NULL DEFAULT 'pending',
	props jsonb,
	secrets jsonb,
	decryption_key_id text,
	error text,
	entered timestamptz[] NOT NULL DEFAULT '{}',
	state_counts int[] NOT NULL DEFAULT '{0,0,0,0,0,0,0,0,0}',
	runner_id uuid,
	lease_token_hash bytea,
	lease_expires timestamptz,
	lease_duration interval,
	created timestamptz NOT NULL DEFAULT now(),
	updated timestamptz,
	completed timestamptz
);
CREATE INDEX ON floor.task (organization, created)
	WHERE stage IN ('pending', 'plan_approved');
CREATE INDEX ON floor.task (lease_expires) WHERE lease_expires IS NOT NULL;

CREATE TABLE floor.deployment (
	task_id uuid NOT NULL,
	guid uuid NOT NULL DEFAULT gen_random_uuid(),
	ordinal int NOT NULL,
	package_name text NOT NULL,
	package_version text,
	unique_id text NOT NULL,
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
	UNIQUE (task_id, unique_id)
);

-- The environment every benchmark's tasks run against.
SELECT bluebricks.upsert_environment(
	'{"id": "f27d96be-c486-4075-a926-0ee96775119e", "slug": "bench",
	  "name": "Bench"}');

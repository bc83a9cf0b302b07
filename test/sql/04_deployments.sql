-- test/sql/04_deployments.sql
--	add_deployments: batches inserted in order, retries that update rather
--	than duplicate, dependencies kept unresolved until their target comes,
--	parents that must exist, cycles and bad fields refused whole.
\set VERBOSITY default
\set SHOW_CONTEXT never

SELECT bluebricks.upsert_environment('{
  "id": "04000000-0000-4000-8000-0000000000e0",
  "slug": "deploy", "name": "Deploy"}') IS NOT NULL AS environment;
SELECT bluebricks.create_task('{
  "taskId": "04000000-0000-4000-8000-000000000001", "command": "install",
  "organization": "o4", "user": "u4",
  "environment": "04000000-0000-4000-8000-0000000000e0"}');

-- What the task holds: deployments in order, with parent and dependencies
-- named by uniqueId.
CREATE FUNCTION pg_temp.show(t uuid)
RETURNS TABLE (ordinal int, unique_id text, package text, version text,
			   type bluebricks.package_type, stage bluebricks.stage,
			   parent text, depends_on text, payload jsonb)
LANGUAGE sql AS $$
	SELECT d.ordinal, d.unique_id, d.package_name, d.package_version, d.type,
		   d.stage, p.unique_id,
		   (SELECT string_agg(x.depends_on || coalesce('=' || y.unique_id, '?'),
							  ', ' ORDER BY x.depends_on)
			FROM bluebricks.deployment_dependency x
			LEFT JOIN bluebricks.deployment y
			  ON y.task_id = x.task_id AND y.guid = x.depends_on_guid
			WHERE x.task_id = d.task_id AND x.guid = d.guid),
		   d.payload
	FROM bluebricks.deployment d
	LEFT JOIN bluebricks.deployment p
	  ON p.task_id = d.task_id AND p.guid = d.parent_guid
	WHERE d.task_id = t
	ORDER BY d.ordinal
$$;
-- Whether state_counts equals a count of the deployments by stage.
CREATE FUNCTION pg_temp.counts_agree(t uuid)
RETURNS TABLE (state_counts int[], agree boolean) LANGUAGE sql AS $$
	SELECT k.state_counts,
		   k.state_counts = (SELECT array_agg(
								 (SELECT count(*)::int FROM bluebricks.deployment d
								  WHERE d.task_id = t AND d.stage = s)
								 ORDER BY s)
							 FROM unnest(enum_range(NULL::bluebricks.stage)) s)
	FROM bluebricks.task k WHERE k.task_id = t
$$;

-- The reference's example: a dependency on a package not posted yet.
SELECT bluebricks.add_deployments('04000000-0000-4000-8000-000000000001', '[
  {
    "package": {
      "name": "my-app",
      "version": "1.2.3",
      "uniqueId": "my-unique-id",
      "type": "blueprint"
    },
    "dependencies": {
      "direct": "my-dependent-app"
    },
    "parent": null,
    "action": "pending",
    "payload": {}
  }
]') AS first \gset
SELECT jsonb_typeof(:'first'::jsonb) AS shape,
	   jsonb_array_length(:'first'::jsonb) AS items,
	   (SELECT array_agg(k) FROM jsonb_object_keys(:'first'::jsonb -> 0) k)
		   AS keys,
	   (:'first'::jsonb -> 0 ->> 'deployment')::uuid = d.guid AS is_its_guid
FROM bluebricks.deployment d
WHERE d.task_id = '04000000-0000-4000-8000-000000000001';
SELECT * FROM pg_temp.show('04000000-0000-4000-8000-000000000001');

-- The same batch again updates: same guid, still one deployment.
SELECT bluebricks.add_deployments('04000000-0000-4000-8000-000000000001', '[
  {"package": {"name": "my-app", "version": "1.2.4",
			   "uniqueId": "my-unique-id", "type": "blueprint"},
   "dependencies": {"direct": "my-dependent-app"}, "parent": null,
   "action": "pending", "payload": {"note": "retried"}}
]') = :'first'::jsonb AS same_guids;
SELECT * FROM pg_temp.show('04000000-0000-4000-8000-000000000001');

-- The dependency arrives, by package name, with a child of my-app (parent
-- named by uniqueId) and a grandchild (parent named by package name); the
-- unresolved dependency resolves.  Results come in input order.
SELECT bluebricks.add_deployments('04000000-0000-4000-8000-000000000001', '[
  {"package": {"name": "my-dependent-app", "version": "2.0.0",
			   "uniqueId": "dep-1", "type": "artifact"}},
  {"package": {"name": "child", "uniqueId": "child-1", "type": "artifact"},
   "parent": "my-unique-id"},
  {"package": {"name": "grandchild", "uniqueId": "gc-1", "type": "artifact"},
   "parent": "child", "dependencies": {"direct": ["dep-1", "child-1"]}}
]') AS second \gset
SELECT (SELECT array_agg(d.unique_id ORDER BY e.n)
		FROM jsonb_array_elements(:'second'::jsonb) WITH ORDINALITY e(v, n)
		JOIN bluebricks.deployment d
		  ON d.task_id = '04000000-0000-4000-8000-000000000001'
		 AND d.guid = (e.v ->> 'deployment')::uuid) AS returned_in_order;
SELECT * FROM pg_temp.show('04000000-0000-4000-8000-000000000001');
SELECT * FROM pg_temp.counts_agree('04000000-0000-4000-8000-000000000001');

-- A parent must exist in the task or the batch; nothing of a refused batch
-- is kept, even its valid items.
SELECT bluebricks.add_deployments('04000000-0000-4000-8000-000000000001', '[
  {"package": {"name": "fine", "uniqueId": "fine-1", "type": "blueprint"}},
  {"package": {"name": "orphan", "uniqueId": "orphan-1", "type": "blueprint"},
   "parent": "ghost"}
]');
\echo :LAST_ERROR_SQLSTATE
-- A parent later in the same batch is fine.
SELECT jsonb_array_length(bluebricks.add_deployments(
	'04000000-0000-4000-8000-000000000001', '[
  {"package": {"name": "late-child", "uniqueId": "lc-1", "type": "blueprint"},
   "parent": "late-parent"},
  {"package": {"name": "late-parent", "uniqueId": "lp-1", "type": "blueprint"},
   "guid": "04000000-0000-4000-8000-0000000000b1"}
]')) AS added;
SELECT guid FROM bluebricks.deployment WHERE unique_id = 'lp-1';

-- Cycles are refused whole: within a batch, through the stored graph, and
-- through parents.
SELECT bluebricks.add_deployments('04000000-0000-4000-8000-000000000001', '[
  {"package": {"name": "x", "uniqueId": "x-1", "type": "blueprint"},
   "dependencies": {"direct": "y"}},
  {"package": {"name": "y", "uniqueId": "y-1", "type": "blueprint"},
   "dependencies": {"direct": "x"}}
]');
\echo :LAST_ERROR_SQLSTATE
SELECT bluebricks.add_deployments('04000000-0000-4000-8000-000000000001', '[
  {"package": {"name": "my-dependent-app", "uniqueId": "dep-1",
			   "type": "artifact"},
   "dependencies": {"direct": "gc-1"}}
]');
\echo :LAST_ERROR_SQLSTATE
SELECT bluebricks.add_deployments('04000000-0000-4000-8000-000000000001', '[
  {"package": {"name": "my-app", "uniqueId": "my-unique-id",
			   "type": "blueprint"},
   "parent": "gc-1"}
]');
\echo :LAST_ERROR_SQLSTATE
SELECT bluebricks.add_deployments('04000000-0000-4000-8000-000000000001', '[
  {"package": {"name": "self", "uniqueId": "self-1", "type": "blueprint"},
   "dependencies": {"direct": "self-1"}}
]');
\echo :LAST_ERROR_SQLSTATE

-- A bad field is refused with the index of its item.
SELECT bluebricks.add_deployments('04000000-0000-4000-8000-000000000001', '[
  {"package": {"name": "ok-1", "uniqueId": "ok-1", "type": "blueprint"}},
  {"package": {"name": "ok-2", "uniqueId": "ok-2", "type": "blueprint"}},
  {"package": {"name": "bad", "type": "blueprint"}}
]');
\echo :LAST_ERROR_SQLSTATE
SELECT bluebricks.add_deployments('04000000-0000-4000-8000-000000000001', '[
  {"package": {"name": "ok-1", "uniqueId": "ok-1", "type": "blueprint"}},
  {"package": {"name": "bad", "uniqueId": "bad-1", "type": "container"}}
]');
\echo :LAST_ERROR_SQLSTATE
SELECT bluebricks.add_deployments('04000000-0000-4000-8000-000000000001', '[
  {"package": {"name": "ok-1", "uniqueId": "ok-1", "type": "blueprint"},
   "action": "flying"}
]');
\echo :LAST_ERROR_SQLSTATE
SELECT bluebricks.add_deployments('04000000-0000-4000-8000-000000000001', '[
  {"package": {"name": "ok-1", "uniqueId": "ok-1", "type": "blueprint"},
   "dependencies": {"direct": 5}}
]');
\echo :LAST_ERROR_SQLSTATE
SELECT bluebricks.add_deployments('04000000-0000-4000-8000-000000000001', '[
  {"package": {"name": "ok-1", "uniqueId": "ok-1", "type": "blueprint"}},
  {"package": {"name": "ok-1b", "uniqueId": "ok-1", "type": "blueprint"}}
]');
\echo :LAST_ERROR_SQLSTATE
SELECT bluebricks.add_deployments('04000000-0000-4000-8000-000000000001', '[
  {"package": {"name": "ok-1", "uniqueId": "ok-1", "type": "blueprint"}},
  "not an object"
]');
\echo :LAST_ERROR_SQLSTATE
SELECT bluebricks.add_deployments('04000000-0000-4000-8000-000000000001',
								  '{"package": {}}');
\echo :LAST_ERROR_SQLSTATE
SELECT bluebricks.add_deployments('04000000-0000-4000-8000-000000000001', '[
  {"package": {"name": "late-parent", "uniqueId": "lp-1",
			   "type": "blueprint"},
   "guid": "04000000-0000-4000-8000-00000000beef"}
]');
\echo :LAST_ERROR_SQLSTATE
SELECT bluebricks.add_deployments('04000000-0000-4000-8000-000000000001', '[
  {"package": {"name": "new", "uniqueId": "new-1", "type": "blueprint"},
   "guid": "04000000-0000-4000-8000-0000000000b1"}
]');
\echo :LAST_ERROR_SQLSTATE
-- An item whose action is an illegal move refuses the batch too.
SELECT bluebricks.add_deployments('04000000-0000-4000-8000-000000000001', '[
  {"package": {"name": "ok-1", "uniqueId": "ok-1", "type": "blueprint"}},
  {"package": {"name": "my-app", "uniqueId": "my-unique-id",
			   "type": "blueprint"}, "action": "completed"}
]');
\echo :LAST_ERROR_SQLSTATE
-- An empty batch changes nothing.
SELECT bluebricks.add_deployments('04000000-0000-4000-8000-000000000001', '[]');
-- After all the refusals the task is as it was.
SELECT * FROM pg_temp.show('04000000-0000-4000-8000-000000000001');
SELECT * FROM pg_temp.counts_agree('04000000-0000-4000-8000-000000000001');

-- Actions move deployments along the machine and keep the counts; the
-- payload's fields are stored.  A uniqueId appears once per batch.
SELECT bluebricks.add_deployments('04000000-0000-4000-8000-000000000001', '[
  {"package": {"name": "my-dependent-app", "uniqueId": "dep-1",
			   "type": "artifact"}, "action": "planning"},
  {"package": {"name": "my-dependent-app", "uniqueId": "dep-1",
			   "type": "artifact"}, "action": "planned"}
]');
\echo :LAST_ERROR_SQLSTATE
SELECT jsonb_array_length(bluebricks.add_deployments(
	'04000000-0000-4000-8000-000000000001', '[
  {"package": {"name": "my-dependent-app", "uniqueId": "dep-1",
			   "type": "artifact"}, "action": "planning"}]')) AS items;
SELECT jsonb_array_length(bluebricks.add_deployments(
	'04000000-0000-4000-8000-000000000001', '[
  {"package": {"name": "my-dependent-app", "uniqueId": "dep-1",
			   "type": "artifact"}, "action": "planned",
   "payload": {"plan_file": "s3://plans/dep-1", "slug": "dep"}},
  {"package": {"name": "child", "uniqueId": "child-1", "type": "artifact"},
   "action": "error", "payload": {"error": "quota exceeded"}}
]')) AS items;
SELECT unique_id, stage, plan_file, slug, error FROM bluebricks.deployment
WHERE task_id = '04000000-0000-4000-8000-000000000001'
  AND unique_id IN ('dep-1', 'child-1') ORDER BY ordinal;
SELECT * FROM pg_temp.counts_agree('04000000-0000-4000-8000-000000000001');
SELECT d.unique_id, h.from_stage, h.to_stage, h.error
FROM bluebricks.stage_history h
JOIN bluebricks.deployment d ON d.task_id = h.task_id AND d.guid = h.guid
WHERE h.task_id = '04000000-0000-4000-8000-000000000001'
  AND h.from_stage IS NOT NULL
ORDER BY h.seq;

-- Unknown task; final task.
SELECT bluebricks.add_deployments('04000000-0000-4000-8000-00000000dead', '[]');
\echo :LAST_ERROR_SQLSTATE
SELECT bluebricks.set_task_status('04000000-0000-4000-8000-000000000001',
								  'canceled') ->> 'status' AS status;
SELECT unique_id, stage FROM bluebricks.deployment
WHERE task_id = '04000000-0000-4000-8000-000000000001' ORDER BY ordinal;
SELECT * FROM pg_temp.counts_agree('04000000-0000-4000-8000-000000000001');
SELECT bluebricks.add_deployments('04000000-0000-4000-8000-000000000001', '[
  {"package": {"name": "late", "uniqueId": "late-1", "type": "blueprint"}}
]');
\echo :LAST_ERROR_SQLSTATE

DELETE FROM bluebricks.task;
DELETE FROM bluebricks.environment;

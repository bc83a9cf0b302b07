-- test/sql/03_task_json.sql
--	bluebricks.task renders GET /api/v1/task/{taskId}: the reference's task
--	example is fed to create_task as it stands and read back, and the two
--	documents are compared key for key.
\set VERBOSITY default
\set SHOW_CONTEXT never

-- Every key path of a document, with the JSON type found there; arrays
-- are entered as [].
CREATE FUNCTION pg_temp.key_types(doc jsonb)
RETURNS TABLE (path text, type text) LANGUAGE sql AS $$
	WITH RECURSIVE walk(path, value) AS (
		SELECT '$', doc
		UNION ALL
		SELECT w.path || e.step, e.value
		FROM walk w
		CROSS JOIN LATERAL (
			SELECT '.' || o.key AS step, o.value
			FROM jsonb_each(CASE WHEN jsonb_typeof(w.value) = 'object'
							THEN w.value END) o
			UNION ALL
			SELECT '[]', a.value
			FROM jsonb_array_elements(CASE WHEN jsonb_typeof(w.value) = 'array'
									  THEN w.value END) a
		) e
	)
	SELECT DISTINCT path, jsonb_typeof(value) FROM walk
$$;

CREATE TEMP TABLE reference (doc jsonb);
INSERT INTO reference VALUES ($task$
{
  "taskId": "123e4567-e89b-12d3-a456-426614174000",
  "command": "force_install",
  "planOnly": true,
  "user": "text",
  "organization": "text",
  "stage": "pending",
  "environment": {
    "id": "f27d96be-c486-4075-a926-0ee96775119e",
    "slug": "production-europe",
    "name": "Production Europe",
    "color": "#0000ff",
    "allow_pre_release": false,
    "is_default": true,
    "is_active": true,
    "is_deleted": true,
    "created": "2025-11-11T15:54:19.923Z",
    "users": [
      {
        "id": "prov0|1234567890",
        "name": "John Doe",
        "email": "[email protected]",
        "nickname": "JD",
        "picture": "https://example.com/profile.jpg",
        "roles": [
          {
            "id": "rol_abCdeFghIjklMnmP",
            "name": "Admin",
            "description": "Role for managing Admin permissions"
          }
        ]
      }
    ],
    "cloud_account": {
      "id": "123e4567-e89b-12d3-a456-426614174000",
      "name": "Production Europe",
      "provider": "aws",
      "slug": "production-europe",
      "is_active": true,
      "is_deleted": false,
      "created": "2025-11-11T15:54:19.923Z",
      "cloud_account": "123456789012",
      "assume_role_arn": "arn:aws:iam::123456789012:role/Bluebricks-Setup-BluebricksReadOnlyRole-123abc456DEF",
      "external_id": "abcdef-ghijklm",
      "cloud_config": {
        "service_account_email": "sa@project_id.iam.gserviceaccount.com",
        "scopes": "https://www.googleapis.com/auth/cloud-platform",
        "cluster_name": "text",
        "service_account_namespace": "text",
        "service_account_name": "text",
        "cluster_oidc_url": "https://example.com",
        "ANY_ADDITIONAL_PROPERTY": "anything"
      },
      "is_primary": true,
      "profile": "secrets-manager"
    }
  },
  "props": null,
  "secrets": {
    "ANY_ADDITIONAL_PROPERTY": "anything"
  },
  "decryptionKeyId": null,
  "deployments": [
    {
      "guid": "123e4567-e89b-12d3-a456-426614174000",
      "parent": null,
      "taskId": "123e4567-e89b-12d3-a456-426614174000",
      "depend": null,
      "stage": "pending",
      "type": "blueprint",
      "plan_file": null,
      "state_file": null,
      "origin_state_location": null,
      "slug": null,
      "package": {
        "qualified_name": "text",
        "url": null,
        "version": "text",
        "uniqueId": "text"
      }
    }
  ]
}
$task$);

SELECT bluebricks.create_task(doc) FROM reference;
SELECT bluebricks.task('123e4567-e89b-12d3-a456-426614174000') AS got \gset
CREATE TEMP TABLE got AS SELECT :'got'::jsonb AS doc;

-- Keys of the reference the rendering lacks, and keys it adds.
SELECT r.path AS missing FROM reference, pg_temp.key_types(doc) r
EXCEPT SELECT g.path FROM got, pg_temp.key_types(doc) g
ORDER BY 1;
SELECT g.path AS extra FROM got, pg_temp.key_types(doc) g
EXCEPT SELECT r.path FROM reference, pg_temp.key_types(doc) r
ORDER BY 1;
-- Keys whose JSON type differs (a null where the reference has a value, or
-- the other way round, counts).
SELECT r.path, r.type AS reference, g.type AS got
FROM (SELECT k.* FROM reference, pg_temp.key_types(doc) k) r
JOIN (SELECT k.* FROM got, pg_temp.key_types(doc) k) g USING (path)
WHERE r.type <> g.type
ORDER BY 1;

-- The document is given back as it was posted, the deployment it embeds
-- included, but for decryptionKeyId: it names the server's key that seals
-- the secrets.
SELECT (g.doc - 'decryptionKeyId') = (r.doc - 'decryptionKeyId') AS identical,
	   g.doc ->> 'decryptionKeyId' AS key_id,
	   (g.doc - '{deployments,decryptionKeyId}'::text[]) =
		   (r.doc - '{deployments,decryptionKeyId}'::text[]) AS same_task,
	   g.doc -> 'environment' = r.doc -> 'environment' AS same_environment,
	   g.doc ->> 'stage' AS stage,
	   g.doc -> 'environment' ->> 'created' AS environment_created
FROM got g, reference r;
SELECT key, g.doc -> key AS got, r.doc -> key AS reference
FROM got g, reference r, jsonb_object_keys(r.doc) key
WHERE g.doc -> key IS DISTINCT FROM r.doc -> key AND key <> 'decryptionKeyId'
ORDER BY key;

-- A deployment added as POST /deployments takes it renders in the shape of
-- the reference's deployments, after the one the task came with.
SELECT jsonb_array_length(bluebricks.add_deployments(
	'123e4567-e89b-12d3-a456-426614174000',
	'[{"package": {"name": "text", "version": "text", "uniqueId": "u-text",
				   "type": "blueprint"},
	   "parent": null, "action": "pending", "payload": {}}]')) AS added;
SELECT d.key_list = r.key_list AS same_deployment_keys,
	   d.pkg_keys = r.pkg_keys AS same_package_keys,
	   d.key_list AS deployment_keys, d.pkg_keys AS package_keys
FROM (SELECT array_agg(k ORDER BY k) AS key_list,
			 (SELECT array_agg(p ORDER BY p)
			  FROM jsonb_object_keys(dep -> 'package') p) AS pkg_keys
	  FROM (SELECT bluebricks.task('123e4567-e89b-12d3-a456-426614174000')
				   -> 'deployments' -> -1 AS dep) x,
		   jsonb_object_keys(dep) k
	  GROUP BY dep) d,
	 (SELECT array_agg(k ORDER BY k) AS key_list,
			 (SELECT array_agg(p ORDER BY p)
			  FROM jsonb_object_keys(dep -> 'package') p) AS pkg_keys
	  FROM (SELECT doc -> 'deployments' -> 0 AS dep FROM reference) x,
		   jsonb_object_keys(dep) k
	  GROUP BY dep) r;
SELECT jsonb_array_length(bluebricks.task(
	'123e4567-e89b-12d3-a456-426614174000') -> 'deployments') AS deployments;
SELECT dep -> 'package' AS package, dep ->> 'taskId' AS task_id,
	   dep ->> 'stage' AS stage, dep ->> 'type' AS type,
	   dep -> 'parent' AS parent, dep -> 'depend' AS depend,
	   (dep ->> 'guid')::uuid IS NOT NULL AS has_guid
FROM (SELECT bluebricks.task('123e4567-e89b-12d3-a456-426614174000')
			 -> 'deployments' -> -1 AS dep) x;

-- An unknown task is not found.
SELECT bluebricks.task('03000000-0000-4000-8000-00000000dead');
\echo :LAST_ERROR_SQLSTATE

DELETE FROM bluebricks.task;
DELETE FROM bluebricks.environment;
DELETE FROM bluebricks.cloud_account;

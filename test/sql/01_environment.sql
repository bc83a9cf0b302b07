-- test/sql/01_environment.sql
--	upsert_environment: the reference's environment stored whole, replaced
--	on a second post, and refused field by field when malformed.
\set VERBOSITY default
\set SHOW_CONTEXT never

-- The environment of the API reference's task example.
SELECT bluebricks.upsert_environment($env$
{
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
}
$env$::jsonb);

SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SELECT id, slug, name, color, allow_pre_release, is_default, is_active,
	   is_deleted, created, cloud_account_id
FROM bluebricks.environment;
SELECT id, name, provider, slug, is_active, is_deleted, created,
	   cloud_account, assume_role_arn, external_id, is_primary, profile
FROM bluebricks.cloud_account;
-- cloud_config is kept whole, unknown keys included.
SELECT jsonb_pretty(cloud_config) FROM bluebricks.cloud_account;
SELECT environment_id, id, ordinal, name, email, nickname, picture
FROM bluebricks.environment_user;
SELECT environment_id, user_id, id, ordinal, name, description
FROM bluebricks.environment_user_role;

-- Posting again replaces fields and the user list; the cloud account is
-- dropped from the environment when absent.
SELECT bluebricks.upsert_environment('{
  "id": "f27d96be-c486-4075-a926-0ee96775119e",
  "slug": "production-eu",
  "name": "Production EU",
  "users": [
    {"id": "u2", "name": "Second", "roles": []},
    {"id": "u1", "name": "First",
     "roles": [{"id": "r1", "name": "Viewer"}, {"id": "r2", "name": "Editor"}]}
  ]
}');
SELECT slug, name, color, allow_pre_release, is_default, is_active,
	   is_deleted, created = '2025-11-11T15:54:19.923Z' AS created_kept,
	   cloud_account_id
FROM bluebricks.environment;
SELECT id, ordinal, name, email FROM bluebricks.environment_user
ORDER BY ordinal;
SELECT user_id, id, ordinal, name FROM bluebricks.environment_user_role
ORDER BY user_id, ordinal;

-- A second environment with no users and no created: created is now().
SELECT bluebricks.upsert_environment('{
  "id": "0b5c3a8e-1111-4a4a-8a8a-000000000001",
  "slug": "staging", "name": "Staging"}');
SELECT slug, created > now() - interval '1 minute' AS created_now,
	   (SELECT count(*) FROM bluebricks.environment_user u
		WHERE u.environment_id = e.id) AS users
FROM bluebricks.environment e WHERE slug = 'staging';

-- Refusals name the field; nothing is stored.
SELECT bluebricks.upsert_environment('[]');
\echo :LAST_ERROR_SQLSTATE
SELECT bluebricks.upsert_environment('{"slug": "x", "name": "x"}');
\echo :LAST_ERROR_SQLSTATE
SELECT bluebricks.upsert_environment('{"id": "not-a-uuid", "slug": "x", "name": "x"}');
\echo :LAST_ERROR_SQLSTATE
SELECT bluebricks.upsert_environment('{
  "id": "0b5c3a8e-1111-4a4a-8a8a-000000000002", "name": "x"}');
\echo :LAST_ERROR_SQLSTATE
SELECT bluebricks.upsert_environment('{
  "id": "0b5c3a8e-1111-4a4a-8a8a-000000000002", "slug": 7, "name": "x"}');
\echo :LAST_ERROR_SQLSTATE
SELECT bluebricks.upsert_environment('{
  "id": "0b5c3a8e-1111-4a4a-8a8a-000000000002", "slug": "x", "name": "x",
  "is_active": "yes"}');
\echo :LAST_ERROR_SQLSTATE
SELECT bluebricks.upsert_environment('{
  "id": "0b5c3a8e-1111-4a4a-8a8a-000000000002", "slug": "x", "name": "x",
  "created": "yesterday-ish"}');
\echo :LAST_ERROR_SQLSTATE
SELECT bluebricks.upsert_environment('{
  "id": "0b5c3a8e-1111-4a4a-8a8a-000000000002", "slug": "x", "name": "x",
  "users": [{"id": "a"}, {"id": "a"}]}');
\echo :LAST_ERROR_SQLSTATE
SELECT bluebricks.upsert_environment('{
  "id": "0b5c3a8e-1111-4a4a-8a8a-000000000002", "slug": "x", "name": "x",
  "users": [{"id": "a", "roles": [{"id": "r"}]}]}');
\echo :LAST_ERROR_SQLSTATE
SELECT bluebricks.upsert_environment('{
  "id": "0b5c3a8e-1111-4a4a-8a8a-000000000002", "slug": "x", "name": "x",
  "cloud_account": {"id": "0b5c3a8e-1111-4a4a-8a8a-0000000000aa",
					"name": "a", "slug": "a"}}');
\echo :LAST_ERROR_SQLSTATE
SELECT bluebricks.upsert_environment('{
  "id": "0b5c3a8e-1111-4a4a-8a8a-000000000002", "slug": "x", "name": "x",
  "cloud_account": {"id": "0b5c3a8e-1111-4a4a-8a8a-0000000000aa",
					"name": "a", "slug": "a", "provider": "gcp",
					"cloud_config": "flat"}}');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS stored FROM bluebricks.environment
WHERE id = '0b5c3a8e-1111-4a4a-8a8a-000000000002';
SELECT count(*) AS stored FROM bluebricks.cloud_account
WHERE id = '0b5c3a8e-1111-4a4a-8a8a-0000000000aa';

-- Writing environments takes create:task when a request carries claims.
BEGIN;
SET LOCAL request.jwt.claims = '{"sub": "u", "org": "o", "permissions": ["read:task"]}';
SELECT bluebricks.upsert_environment('{
  "id": "0b5c3a8e-1111-4a4a-8a8a-000000000003", "slug": "x", "name": "x"}');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN;
SET LOCAL request.jwt.claims = '{"sub": "u", "org": "o", "permissions": ["create:task"]}';
SELECT bluebricks.upsert_environment('{
  "id": "0b5c3a8e-1111-4a4a-8a8a-000000000003", "slug": "x", "name": "x"}');
ROLLBACK;

-- Leave no environment behind for the files that follow.
DELETE FROM bluebricks.environment;
DELETE FROM bluebricks.cloud_account;

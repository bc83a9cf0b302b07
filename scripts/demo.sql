-- scripts/demo.sql
--	Demo data for a local cluster (scripts/run.sh): the environment, the
--	task and the deployments of the API reference's examples.
--
-- Loaded once: it does nothing when the demo task already exists, and it
-- runs in one transaction, so a failure leaves nothing behind and the next
-- run tries again.  Run with psql -v ON_ERROR_STOP=1.

SELECT NOT EXISTS (
	SELECT FROM bluebricks.task
	WHERE task_id = '123e4567-e89b-12d3-a456-426614174000'
) AS bb_demo_needed \gset

\if :bb_demo_needed
BEGIN;

-- The environment, as the reference embeds it in a task.
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
$env$::jsonb) AS environment;

-- The task, exactly as GET /api/v1/task/{taskId} shows it.
SELECT bluebricks.create_task($task$
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
$task$::jsonb) AS task;

-- A deployments batch, as POST /api/v1/task/{taskId}/deployments takes it.
SELECT bluebricks.add_deployments('123e4567-e89b-12d3-a456-426614174000',
$items$
[
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
]
$items$::jsonb) AS deployments;

COMMIT;
\echo demo data loaded
\else
\echo demo data already loaded
\endif

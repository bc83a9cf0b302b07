/*-------------------------------------------------------------------------
 *
 * src/task.c
 *	  Creating, reading and deleting tasks.
 *
 * The task document of GET /api/v1/task/{taskId} embeds the environment and
 * every deployment in the order they were first posted.  Secrets go only to
 * operators and runners: a person's request sees null, and so does a runner
 * other than the holder of a live lease.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"

#include "deployments.h"
#include "environment.h"
#include "errcodes.h"
#include "ids.h"
#include "json_in.h"
#include "json_out.h"
#include "request.h"
#include "secrets.h"
#include "spi_query.h"
#include "task.h"

static const char *const command_names[] = {
	"install", "force_install", "uninstall", "force_uninstall"
};

static BbQuery lock_task = BB_QUERY(
	"SELECT stage::text, plan_only,"
	" command IN ('force_install', 'force_uninstall'), error"
	" FROM bluebricks.task WHERE task_id = $1 FOR UPDATE");

static BbQuery insert_task = BB_QUERY(
	"INSERT INTO bluebricks.task (task_id, command, plan_only, user_name,"
	" organization, environment_id, props, secrets, decryption_key_id)"
	" VALUES ($1, $2::bluebricks.command, $3, $4, $5, $6, $7, $8, $9)"
	" ON CONFLICT (task_id) DO NOTHING");

static BbQuery select_task = BB_QUERY(
	"SELECT command::text, plan_only, user_name, organization, stage::text,"
	" environment_id, props, secrets, decryption_key_id,"
	" runner_id, lease_expires > now()"
	" FROM bluebricks.task WHERE task_id = $1");

static BbQuery select_deployments = BB_QUERY(
	"SELECT d.guid, d.parent_guid, d.stage::text, d.type::text, d.plan_file,"
	" d.state_file, d.origin_state_location, d.slug, d.package_name, d.url,"
	" d.package_version, d.unique_id,"
	" (SELECT jsonb_agg(dd.depends_on ORDER BY dd.depends_on)"
	"  FROM bluebricks.deployment_dependency dd"
	"  WHERE dd.task_id = d.task_id AND dd.guid = d.guid)"
	" FROM bluebricks.deployment d WHERE d.task_id = $1 ORDER BY d.ordinal");

static BbQuery lock_deployment_guids = BB_QUERY(
	"SELECT guid FROM bluebricks.deployment WHERE task_id = $1"
	" ORDER BY ordinal FOR UPDATE");

static BbQuery delete_task = BB_QUERY(
	"DELETE FROM bluebricks.task WHERE task_id = $1");

/* Raise ERRCODE_BB_TASK_NOT_FOUND for the task. */
void
bb_task_not_found(const pg_uuid_t *task_id)
{
	ereport(ERROR,
			(errcode(ERRCODE_BB_TASK_NOT_FOUND),
			 errmsg("task %s does not exist", bb_uuid_text(task_id))));
	pg_unreachable();
}

/* Lock the task row FOR UPDATE and read its head (SPI connected). */
void
bb_task_lock(const pg_uuid_t *task_id, BbTaskHead *head)
{
	BbParams	p = {0};
	char	   *stage;

	if (!bb_request_task_allowed(task_id))
		bb_task_not_found(task_id);
	bb_param_uuid(&p, task_id);
	if (bb_query_run(&lock_task, &p, false, SPI_OK_SELECT) != 1)
		bb_task_not_found(task_id);
	stage = bb_col_text(0, 1);
	if (!bb_stage_from_name(stage, &head->stage))
		elog(ERROR, "unknown stage \"%s\"", stage);
	head->rules.plan_only = bb_col_bool(0, 2);
	head->rules.force = bb_col_bool(0, 3);
	head->error = bb_col_text(0, 4);
}

/* Check the command field and return it. */
static const char *
command_field(JsonbContainer *doc)
{
	char	   *command = bb_jtext(doc, "", "command", true);

	for (size_t i = 0; i < lengthof(command_names); i++)
		if (strcmp(command, command_names[i]) == 0)
			return command;
	bb_field_error("", "command", "is not a known command",
				   "Known commands are install, force_install, uninstall "
				   "and force_uninstall.");
}

/* The organization of a new task: the body's, checked against the claims. */
static const char *
organization_field(JsonbContainer *doc)
{
	const BbRequest *req = bb_request();
	char	   *org = bb_jtext(doc, "", "organization", req->org == NULL);

	if (org == NULL)
		return req->org;
	if (req->kind != BB_CALLER_ADMIN &&
		(req->org == NULL || strcmp(org, req->org) != 0))
		ereport(ERROR,
				(errcode(ERRCODE_BB_PERMISSION_DENIED),
				 errmsg("permission denied: cannot create a task for "
						"organization \"%s\"", org),
				 errdetail("The request belongs to organization \"%s\".",
						   req->org ? req->org : "")));
	return org;
}

/* The user of a new task: the body's, else the request's subject. */
static const char *
user_field(JsonbContainer *doc)
{
	char	   *user = bb_jtext(doc, "", "user", false);

	return user ? user : bb_request()->subject;
}

/* The environment of a new task: an existing id, or a whole document. */
static void
environment_field(JsonbContainer *doc, pg_uuid_t *env)
{
	JsonbValue *v = bb_jfind(doc, "environment");

	if (v == NULL)
		bb_field_error("", "environment", "is required", NULL);
	if (v->type == jbvBinary && !JsonContainerIsArray(v->val.binary.data))
	{
		bb_environment_store(v->val.binary.data, "environment.", true, env);
		return;
	}
	if (!bb_juuid(doc, "", "environment", true, env))
		bb_field_error("", "environment", "is required", NULL);
	if (!bb_environment_exists(env))
		ereport(ERROR,
				(errcode(ERRCODE_BB_UNKNOWN_REFERENCE),
				 errmsg("environment %s does not exist", bb_uuid_text(env)),
				 errhint("Give the whole environment object to create it "
						 "with the task.")));
}

/* Add the sealed secrets and their key id to the task's parameters. */
static void
secrets_fields(JsonbContainer *doc, const pg_uuid_t *task_id, BbParams *p)
{
	char	   *key_id = bb_jtext(doc, "", "decryptionKeyId", false);
	const char *used = key_id;
	bytea	   *sealed = NULL;

	if (bb_jobject(doc, "", "secrets", false) != NULL)
		sealed = bb_secrets_encrypt(task_id, bb_jjsonb(doc, "secrets"),
									key_id, &used);
	bb_param_bytea(p, sealed);
	bb_param_text(p, used);
}

/*
 * bluebricks.create_task(task jsonb) RETURNS uuid
 *
 * Create a pending task from the task document's own fields.
 */
PG_FUNCTION_INFO_V1(bb_create_task);
Datum
bb_create_task(PG_FUNCTION_ARGS)
{
	Jsonb	   *doc = PG_GETARG_JSONB_P(0);
	JsonbContainer *root = &doc->root;
	pg_uuid_t  *task_id = palloc(sizeof(pg_uuid_t));
	pg_uuid_t	env;
	BbParams	p = {0};
	char	   *stage;
	JsonbContainer *deployments;

	bb_require_permission("create:task");
	if (!JB_ROOT_IS_OBJECT(doc))
		bb_field_error("", "task", "must be an object", NULL);
	if (!bb_juuid(root, "", "taskId", false, task_id))
		bb_random_uuid(task_id);
	stage = bb_jtext(root, "", "stage", false);
	if (stage && strcmp(stage, "pending") != 0)
		bb_field_error("", "stage", "must be \"pending\"",
					   "A task always starts pending.");
	deployments = bb_jarray(root, "", "deployments");

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	bb_param_uuid(&p, task_id);
	bb_param_text(&p, command_field(root));
	bb_param_bool(&p, bb_jbool(root, "", "planOnly", false));
	bb_param_text(&p, user_field(root));
	bb_param_text(&p, organization_field(root));
	environment_field(root, &env);
	bb_param_uuid(&p, &env);
	(void) bb_jobject(root, "", "props", false);
	bb_param_jsonb(&p, bb_jjsonb(root, "props"));
	secrets_fields(root, task_id, &p);
	if (bb_query_run(&insert_task, &p, false, SPI_OK_INSERT) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_BB_DUPLICATE_TASK),
				 errmsg("task %s already exists", bb_uuid_text(task_id))));
	if (deployments && JsonContainerSize(deployments) > 0)
	{
		BbTaskHead	head;

		bb_task_lock(task_id, &head);
		bb_deployments_add(task_id, &head, deployments, "deployments", NULL);
	}
	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed");
	PG_RETURN_UUID_P(task_id);
}

/* Append one deployment of the current SPI result, in the task document. */
static void
render_deployment(StringInfo buf, uint64 r, const pg_uuid_t *task_id)
{
	pg_uuid_t	guid;
	pg_uuid_t	parent;

	bb_col_uuid(r, 1, &guid);
	appendStringInfoChar(buf, '{');
	bb_json_key(buf, "guid", true);
	bb_json_uuid(buf, &guid);
	bb_json_key(buf, "parent", false);
	if (bb_col_uuid(r, 2, &parent))
		bb_json_uuid(buf, &parent);
	else
		appendStringInfoString(buf, "null");
	bb_json_key(buf, "taskId", false);
	bb_json_uuid(buf, task_id);
	bb_json_key(buf, "depend", false);
	bb_json_jsonb(buf, bb_col_jsonb(r, 13));
	bb_json_key(buf, "stage", false);
	bb_json_string(buf, bb_col_text(r, 3));
	bb_json_key(buf, "type", false);
	bb_json_string(buf, bb_col_text(r, 4));
	bb_json_key(buf, "plan_file", false);
	bb_json_string(buf, bb_col_text(r, 5));
	bb_json_key(buf, "state_file", false);
	bb_json_string(buf, bb_col_text(r, 6));
	bb_json_key(buf, "origin_state_location", false);
	bb_json_string(buf, bb_col_text(r, 7));
	bb_json_key(buf, "slug", false);
	bb_json_string(buf, bb_col_text(r, 8));
	bb_json_key(buf, "package", false);
	appendStringInfoChar(buf, '{');
	bb_json_key(buf, "qualified_name", true);
	bb_json_string(buf, bb_col_text(r, 9));
	bb_json_key(buf, "url", false);
	bb_json_string(buf, bb_col_text(r, 10));
	bb_json_key(buf, "version", false);
	bb_json_string(buf, bb_col_text(r, 11));
	bb_json_key(buf, "uniqueId", false);
	bb_json_string(buf, bb_col_text(r, 12));
	appendStringInfoString(buf, "}}");
}

/* Whether this request may read the task's secrets. */
static bool
secrets_visible(bool has_holder, const pg_uuid_t *holder, bool lease_live)
{
	const BbRequest *req = bb_request();

	if (req->kind == BB_CALLER_ADMIN)
		return true;
	if (req->kind != BB_CALLER_RUNNER)
		return false;
	if (has_holder && lease_live)
		return memcmp(holder, &req->runner, sizeof(pg_uuid_t)) == 0;
	return true;
}

/*
 * bluebricks.task(task_id uuid) RETURNS jsonb
 *
 * The task document of GET /api/v1/task/{taskId}.
 */
PG_FUNCTION_INFO_V1(bb_task);
Datum
bb_task(PG_FUNCTION_ARGS)
{
	pg_uuid_t  *task_id = PG_GETARG_UUID_P(0);
	BbParams	p = {0};
	StringInfoData buf;
	pg_uuid_t	env;
	pg_uuid_t	holder;
	bool		has_holder;
	bool		lease_live;
	Datum		sealed;
	bool		no_secrets;

	bb_require_permission("read:task");
	initStringInfo(&buf);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	bb_param_uuid(&p, task_id);
	if (!bb_request_task_allowed(task_id) ||
		bb_query_run(&select_task, &p, true, SPI_OK_SELECT) != 1)
		bb_task_not_found(task_id);

	appendStringInfoChar(&buf, '{');
	bb_json_key(&buf, "taskId", true);
	bb_json_uuid(&buf, task_id);
	bb_json_key(&buf, "command", false);
	bb_json_string(&buf, bb_col_text(0, 1));
	bb_json_key(&buf, "planOnly", false);
	bb_json_bool(&buf, bb_col_bool(0, 2));
	bb_json_key(&buf, "user", false);
	bb_json_string(&buf, bb_col_text(0, 3));
	bb_json_key(&buf, "organization", false);
	bb_json_string(&buf, bb_col_text(0, 4));
	bb_json_key(&buf, "stage", false);
	bb_json_string(&buf, bb_col_text(0, 5));
	bb_json_key(&buf, "props", false);
	bb_json_jsonb(&buf, bb_col_jsonb(0, 7));
	has_holder = bb_col_uuid(0, 10, &holder);
	lease_live = bb_col_bool(0, 11);
	bb_json_key(&buf, "secrets", false);
	sealed = bb_col_datum(0, 8, &no_secrets);
	if (!no_secrets && secrets_visible(has_holder, &holder, lease_live))
		bb_json_jsonb(&buf, bb_secrets_decrypt(task_id,
											   DatumGetByteaPP(sealed),
											   bb_col_text(0, 9)));
	else
		appendStringInfoString(&buf, "null");
	bb_json_key(&buf, "decryptionKeyId", false);
	bb_json_string(&buf, bb_col_text(0, 9));
	bb_col_uuid(0, 6, &env);

	bb_json_key(&buf, "environment", false);
	bb_environment_render(&buf, &env);

	bb_query_run(&select_deployments, &p, true, SPI_OK_SELECT);
	bb_json_key(&buf, "deployments", false);
	appendStringInfoChar(&buf, '[');
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		if (r > 0)
			appendStringInfoChar(&buf, ',');
		render_deployment(&buf, r, task_id);
	}
	appendStringInfoString(&buf, "]}");
	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed");
	PG_RETURN_JSONB_P(bb_json_finish(&buf));
}

/*
 * bluebricks.delete_task(task_id uuid) RETURNS jsonb
 *
 * Delete the task, its deployments and its history; returns
 * {"task": id, "deployments": [guid, ...]}.
 */
PG_FUNCTION_INFO_V1(bb_delete_task);
Datum
bb_delete_task(PG_FUNCTION_ARGS)
{
	pg_uuid_t  *task_id = PG_GETARG_UUID_P(0);
	BbParams	p = {0};
	BbTaskHead	head;
	StringInfoData buf;

	bb_require_permission("delete:deployment");
	initStringInfo(&buf);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	bb_task_lock(task_id, &head);
	bb_param_uuid(&p, task_id);
	bb_query_run(&lock_deployment_guids, &p, false, SPI_OK_SELECT);

	appendStringInfoChar(&buf, '{');
	bb_json_key(&buf, "task", true);
	bb_json_uuid(&buf, task_id);
	bb_json_key(&buf, "deployments", false);
	appendStringInfoChar(&buf, '[');
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		pg_uuid_t	guid;

		bb_col_uuid(r, 1, &guid);
		if (r > 0)
			appendStringInfoChar(&buf, ',');
		bb_json_uuid(&buf, &guid);
	}
	appendStringInfoString(&buf, "]}");

	if (bb_query_run(&delete_task, &p, false, SPI_OK_DELETE) != 1)
		bb_task_not_found(task_id);
	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed");
	PG_RETURN_JSONB_P(bb_json_finish(&buf));
}

/*-------------------------------------------------------------------------
 *
 * src/environment.c
 *	  Environments, their users and cloud accounts: storing and rendering.
 *
 * An environment document is stored whole: posting it again replaces its
 * fields, its user list and its cloud account, so the stored form always
 * equals the latest document.  cloud_config is kept as given, unknown keys
 * included.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"

#include "environment.h"
#include "errcodes.h"
#include "json_in.h"
#include "json_out.h"
#include "request.h"
#include "spi_query.h"

static BbQuery upsert_cloud_account = BB_QUERY(
	"INSERT INTO bluebricks.cloud_account AS c (id, name, provider, slug,"
	" is_active, is_deleted, created, cloud_account, assume_role_arn,"
	" external_id, cloud_config, is_primary, profile)"
	" VALUES ($1, $2, $3, $4, $5, $6, coalesce($7, now()), $8, $9, $10,"
	" coalesce($11, '{}'), $12, $13)"
	" ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name,"
	" provider = EXCLUDED.provider, slug = EXCLUDED.slug,"
	" is_active = EXCLUDED.is_active, is_deleted = EXCLUDED.is_deleted,"
	" created = coalesce($7, c.created),"
	" cloud_account = EXCLUDED.cloud_account,"
	" assume_role_arn = EXCLUDED.assume_role_arn,"
	" external_id = EXCLUDED.external_id,"
	" cloud_config = EXCLUDED.cloud_config,"
	" is_primary = EXCLUDED.is_primary, profile = EXCLUDED.profile");

/* An environment embedded in a new task never changes an account. */
static BbQuery insert_cloud_account = BB_QUERY(
	"INSERT INTO bluebricks.cloud_account (id, name, provider, slug,"
	" is_active, is_deleted, created, cloud_account, assume_role_arn,"
	" external_id, cloud_config, is_primary, profile)"
	" VALUES ($1, $2, $3, $4, $5, $6, coalesce($7, now()), $8, $9, $10,"
	" coalesce($11, '{}'), $12, $13)"
	" ON CONFLICT (id) DO NOTHING");

static BbQuery upsert_environment = BB_QUERY(
	"INSERT INTO bluebricks.environment AS e (id, slug, name, color,"
	" allow_pre_release, is_default, is_active, is_deleted, created,"
	" cloud_account_id)"
	" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, coalesce($9, now()), $10)"
	" ON CONFLICT (id) DO UPDATE SET slug = EXCLUDED.slug,"
	" name = EXCLUDED.name, color = EXCLUDED.color,"
	" allow_pre_release = EXCLUDED.allow_pre_release,"
	" is_default = EXCLUDED.is_default, is_active = EXCLUDED.is_active,"
	" is_deleted = EXCLUDED.is_deleted, created = coalesce($9, e.created),"
	" cloud_account_id = EXCLUDED.cloud_account_id");

static BbQuery delete_users = BB_QUERY(
	"DELETE FROM bluebricks.environment_user WHERE environment_id = $1");

static BbQuery insert_user = BB_QUERY(
	"INSERT INTO bluebricks.environment_user (environment_id, id, ordinal,"
	" name, email, nickname, picture) VALUES ($1, $2, $3, $4, $5, $6, $7)");

static BbQuery insert_role = BB_QUERY(
	"INSERT INTO bluebricks.environment_user_role (environment_id, user_id,"
	" id, ordinal, name, description) VALUES ($1, $2, $3, $4, $5, $6)");

static BbQuery environment_exists = BB_QUERY(
	"SELECT 1 FROM bluebricks.environment WHERE id = $1");

static BbQuery select_environment = BB_QUERY(
	"SELECT e.slug, e.name, e.color, e.allow_pre_release, e.is_default,"
	" e.is_active, e.is_deleted, e.created, c.id, c.name, c.provider,"
	" c.slug, c.is_active, c.is_deleted, c.created, c.cloud_account,"
	" c.assume_role_arn, c.external_id, c.cloud_config, c.is_primary,"
	" c.profile"
	" FROM bluebricks.environment e"
	" LEFT JOIN bluebricks.cloud_account c ON c.id = e.cloud_account_id"
	" WHERE e.id = $1");

static BbQuery select_users = BB_QUERY(
	"SELECT u.id, u.name, u.email, u.nickname, u.picture,"
	" r.id, r.name, r.description"
	" FROM bluebricks.environment_user u"
	" LEFT JOIN bluebricks.environment_user_role r"
	" ON r.environment_id = u.environment_id AND r.user_id = u.id"
	" WHERE u.environment_id = $1 ORDER BY u.ordinal, r.ordinal");

/*
 * Store the cloud_account object; returns its id in *id.  With only_if_new
 * an account that exists already is left as it is.
 */
static void
store_cloud_account(JsonbContainer *ca, const char *path, bool only_if_new,
					pg_uuid_t *id)
{
	BbParams	p = {0};
	TimestampTz created;
	bool		has_created;
	JsonbContainer *config;

	bb_juuid(ca, path, "id", true, id);
	bb_param_uuid(&p, id);
	bb_param_text(&p, bb_jtext(ca, path, "name", true));
	bb_param_text(&p, bb_jtext(ca, path, "provider", true));
	bb_param_text(&p, bb_jtext(ca, path, "slug", true));
	bb_param_bool(&p, bb_jbool(ca, path, "is_active", true));
	bb_param_bool(&p, bb_jbool(ca, path, "is_deleted", false));
	has_created = bb_jtimestamp(ca, path, "created", &created);
	bb_param_timestamp(&p, created, !has_created);
	bb_param_text(&p, bb_jtext(ca, path, "cloud_account", false));
	bb_param_text(&p, bb_jtext(ca, path, "assume_role_arn", false));
	bb_param_text(&p, bb_jtext(ca, path, "external_id", false));
	config = bb_jobject(ca, path, "cloud_config", false);
	bb_param_jsonb(&p, config ? bb_jjsonb(ca, "cloud_config") : NULL);
	bb_param_bool(&p, bb_jbool(ca, path, "is_primary", false));
	bb_param_text(&p, bb_jtext(ca, path, "profile", false));
	bb_query_run(only_if_new ? &insert_cloud_account : &upsert_cloud_account,
				 &p, false, SPI_OK_INSERT);
}

/*
 * Refuse element i of a list of objects whose "id" repeats an earlier
 * element's: the key would collide, and the caller should hear which.
 */
static void
check_unique_id(JsonbContainer *list, int i, const char *path,
				const char *what)
{
	JsonbValue *mine = getIthJsonbValueFromContainer(list, i);
	JsonbValue *id = bb_jfind(mine->val.binary.data, "id");

	if (id == NULL || id->type != jbvString)
		return;					/* the field check names that problem */
	for (int j = 0; j < i; j++)
	{
		JsonbValue *other = getIthJsonbValueFromContainer(list, j);
		JsonbValue *oid;

		if (other->type != jbvBinary ||
			JsonContainerIsArray(other->val.binary.data))
			continue;
		oid = bb_jfind(other->val.binary.data, "id");
		if (oid && oid->type == jbvString &&
			oid->val.string.len == id->val.string.len &&
			memcmp(oid->val.string.val, id->val.string.val,
				   id->val.string.len) == 0)
			bb_field_error(path, "id",
						   psprintf("repeats an earlier %s", what), NULL);
	}
}

/* Store the roles of one user. */
static void
store_roles(const pg_uuid_t *env, const char *user_id, JsonbContainer *roles,
			const char *path)
{
	int			n = JsonContainerSize(roles);

	for (int i = 0; i < n; i++)
	{
		JsonbValue *v = getIthJsonbValueFromContainer(roles, i);
		char	   *rpath = psprintf("%sroles[%d].", path, i);
		JsonbContainer *role;
		BbParams	p = {0};

		if (v->type != jbvBinary || JsonContainerIsArray(v->val.binary.data))
			bb_field_error(path, psprintf("roles[%d]", i),
						   "must be an object", NULL);
		role = v->val.binary.data;
		check_unique_id(roles, i, rpath, "role");
		bb_param_uuid(&p, env);
		bb_param_text(&p, user_id);
		bb_param_text(&p, bb_jtext(role, rpath, "id", true));
		bb_param_int(&p, i);
		bb_param_text(&p, bb_jtext(role, rpath, "name", true));
		bb_param_text(&p, bb_jtext(role, rpath, "description", false));
		bb_query_run(&insert_role, &p, false, SPI_OK_INSERT);
	}
}

/* Replace the environment's users with the given list. */
static void
store_users(const pg_uuid_t *env, JsonbContainer *users, const char *path)
{
	BbParams	p = {0};
	int			n;

	bb_param_uuid(&p, env);
	bb_query_run(&delete_users, &p, false, SPI_OK_DELETE);
	if (users == NULL)
		return;
	n = JsonContainerSize(users);
	for (int i = 0; i < n; i++)
	{
		JsonbValue *v = getIthJsonbValueFromContainer(users, i);
		char	   *upath = psprintf("%susers[%d].", path, i);
		JsonbContainer *user;
		JsonbContainer *roles;
		char	   *user_id;
		BbParams	q = {0};

		if (v->type != jbvBinary || JsonContainerIsArray(v->val.binary.data))
			bb_field_error(path, psprintf("users[%d]", i),
						   "must be an object", NULL);
		user = v->val.binary.data;
		user_id = bb_jtext(user, upath, "id", true);
		bb_param_uuid(&q, env);
		bb_param_text(&q, user_id);
		bb_param_int(&q, i);
		bb_param_text(&q, bb_jtext(user, upath, "name", false));
		bb_param_text(&q, bb_jtext(user, upath, "email", false));
		bb_param_text(&q, bb_jtext(user, upath, "nickname", false));
		bb_param_text(&q, bb_jtext(user, upath, "picture", false));
		check_unique_id(users, i, upath, "user");
		bb_query_run(&insert_user, &q, false, SPI_OK_INSERT);
		roles = bb_jarray(user, upath, "roles");
		if (roles)
			store_roles(env, user_id, roles, upath);
	}
}

/* Whether an environment exists (SPI connected). */
bool
bb_environment_exists(const pg_uuid_t *id)
{
	BbParams	p = {0};

	bb_param_uuid(&p, id);
	return bb_query_run(&environment_exists, &p, false, SPI_OK_SELECT) > 0;
}

/* Store an environment document (SPI connected). */
void
bb_environment_store(JsonbContainer *env, const char *path,
					 bool only_if_new, pg_uuid_t *id)
{
	BbParams	p = {0};
	JsonbContainer *ca;
	pg_uuid_t	ca_id;
	TimestampTz created;
	bool		has_created;
	char	   *ca_path = psprintf("%scloud_account.", path);

	bb_juuid(env, path, "id", true, id);
	if (only_if_new && bb_environment_exists(id))
		return;

	ca = bb_jobject(env, path, "cloud_account", false);
	if (ca)
		store_cloud_account(ca, ca_path, only_if_new, &ca_id);

	bb_param_uuid(&p, id);
	bb_param_text(&p, bb_jtext(env, path, "slug", true));
	bb_param_text(&p, bb_jtext(env, path, "name", true));
	bb_param_text(&p, bb_jtext(env, path, "color", false));
	bb_param_bool(&p, bb_jbool(env, path, "allow_pre_release", false));
	bb_param_bool(&p, bb_jbool(env, path, "is_default", false));
	bb_param_bool(&p, bb_jbool(env, path, "is_active", true));
	bb_param_bool(&p, bb_jbool(env, path, "is_deleted", false));
	has_created = bb_jtimestamp(env, path, "created", &created);
	bb_param_timestamp(&p, created, !has_created);
	bb_param_uuid(&p, ca ? &ca_id : NULL);
	bb_query_run(&upsert_environment, &p, false, SPI_OK_INSERT);

	store_users(id, bb_jarray(env, path, "users"), path);
}

/* Append the user list from the current SPI result. */
static void
render_users(StringInfo buf)
{
	char	   *prev = NULL;
	bool		open_user = false;

	appendStringInfoChar(buf, '[');
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		char	   *uid = bb_col_text(r, 1);
		char	   *role_id = bb_col_text(r, 6);

		if (prev == NULL || strcmp(prev, uid) != 0)
		{
			if (open_user)
				appendStringInfoString(buf, "]},");
			appendStringInfoChar(buf, '{');
			bb_json_key(buf, "id", true);
			bb_json_string(buf, uid);
			bb_json_key(buf, "name", false);
			bb_json_string(buf, bb_col_text(r, 2));
			bb_json_key(buf, "email", false);
			bb_json_string(buf, bb_col_text(r, 3));
			bb_json_key(buf, "nickname", false);
			bb_json_string(buf, bb_col_text(r, 4));
			bb_json_key(buf, "picture", false);
			bb_json_string(buf, bb_col_text(r, 5));
			bb_json_key(buf, "roles", false);
			appendStringInfoChar(buf, '[');
			open_user = true;
			prev = uid;
		}
		else if (role_id)
			appendStringInfoChar(buf, ',');
		if (role_id)
		{
			appendStringInfoChar(buf, '{');
			bb_json_key(buf, "id", true);
			bb_json_string(buf, role_id);
			bb_json_key(buf, "name", false);
			bb_json_string(buf, bb_col_text(r, 7));
			bb_json_key(buf, "description", false);
			bb_json_string(buf, bb_col_text(r, 8));
			appendStringInfoChar(buf, '}');
		}
	}
	if (open_user)
		appendStringInfoString(buf, "]}");
	appendStringInfoChar(buf, ']');
}

/* Append the cloud account from columns 9.. of the environment row. */
static void
render_cloud_account(StringInfo buf)
{
	pg_uuid_t	id;
	bool		isnull;
	TimestampTz created;

	if (!bb_col_uuid(0, 9, &id))
	{
		appendStringInfoString(buf, "null");
		return;
	}
	appendStringInfoChar(buf, '{');
	bb_json_key(buf, "id", true);
	bb_json_uuid(buf, &id);
	bb_json_key(buf, "name", false);
	bb_json_string(buf, bb_col_text(0, 10));
	bb_json_key(buf, "provider", false);
	bb_json_string(buf, bb_col_text(0, 11));
	bb_json_key(buf, "slug", false);
	bb_json_string(buf, bb_col_text(0, 12));
	bb_json_key(buf, "is_active", false);
	bb_json_bool(buf, bb_col_bool(0, 13));
	bb_json_key(buf, "is_deleted", false);
	bb_json_bool(buf, bb_col_bool(0, 14));
	bb_json_key(buf, "created", false);
	created = bb_col_timestamp(0, 15, &isnull);
	bb_json_timestamp(buf, created, isnull);
	bb_json_key(buf, "cloud_account", false);
	bb_json_string(buf, bb_col_text(0, 16));
	bb_json_key(buf, "assume_role_arn", false);
	bb_json_string(buf, bb_col_text(0, 17));
	bb_json_key(buf, "external_id", false);
	bb_json_string(buf, bb_col_text(0, 18));
	bb_json_key(buf, "cloud_config", false);
	bb_json_jsonb(buf, bb_col_jsonb(0, 19));
	bb_json_key(buf, "is_primary", false);
	bb_json_bool(buf, bb_col_bool(0, 20));
	bb_json_key(buf, "profile", false);
	bb_json_string(buf, bb_col_text(0, 21));
	appendStringInfoChar(buf, '}');
}

/* Append the environment's JSON object (SPI connected). */
void
bb_environment_render(StringInfo buf, const pg_uuid_t *id)
{
	BbParams	p = {0};
	bool		isnull;
	TimestampTz created;

	bb_param_uuid(&p, id);
	if (bb_query_run(&select_environment, &p, true, SPI_OK_SELECT) != 1)
	{
		appendStringInfoString(buf, "null");
		return;
	}
	appendStringInfoChar(buf, '{');
	bb_json_key(buf, "id", true);
	bb_json_uuid(buf, id);
	bb_json_key(buf, "slug", false);
	bb_json_string(buf, bb_col_text(0, 1));
	bb_json_key(buf, "name", false);
	bb_json_string(buf, bb_col_text(0, 2));
	bb_json_key(buf, "color", false);
	bb_json_string(buf, bb_col_text(0, 3));
	bb_json_key(buf, "allow_pre_release", false);
	bb_json_bool(buf, bb_col_bool(0, 4));
	bb_json_key(buf, "is_default", false);
	bb_json_bool(buf, bb_col_bool(0, 5));
	bb_json_key(buf, "is_active", false);
	bb_json_bool(buf, bb_col_bool(0, 6));
	bb_json_key(buf, "is_deleted", false);
	bb_json_bool(buf, bb_col_bool(0, 7));
	bb_json_key(buf, "created", false);
	created = bb_col_timestamp(0, 8, &isnull);
	bb_json_timestamp(buf, created, isnull);
	/* The account goes last in the document but is read from this row. */
	{
		StringInfoData ca;

		initStringInfo(&ca);
		render_cloud_account(&ca);
		bb_query_run(&select_users, &p, true, SPI_OK_SELECT);
		bb_json_key(buf, "users", false);
		render_users(buf);
		bb_json_key(buf, "cloud_account", false);
		appendBinaryStringInfo(buf, ca.data, ca.len);
	}
	appendStringInfoChar(buf, '}');
}

/*
 * bluebricks.upsert_environment(environment jsonb) RETURNS uuid
 *
 * Create the environment or replace the one with the same id.
 */
PG_FUNCTION_INFO_V1(bb_upsert_environment);
Datum
bb_upsert_environment(PG_FUNCTION_ARGS)
{
	Jsonb	   *doc = PG_GETARG_JSONB_P(0);
	pg_uuid_t  *id = palloc(sizeof(pg_uuid_t));

	if (bb_request()->kind != BB_CALLER_ADMIN)
		bb_require_permission("create:task");
	if (!JB_ROOT_IS_OBJECT(doc))
		bb_field_error("", "environment", "must be an object", NULL);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	bb_environment_store(&doc->root, "", false, id);
	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed");
	PG_RETURN_UUID_P(id);
}

/*-------------------------------------------------------------------------
 *
 * gateway/api.c
 *	  The routes' work: checking a request, calling its SQL function and
 *	  shaping the reply.
 *
 * Each API route is one prepared statement calling one bluebricks
 * function, run by db.c after the claims statement in one transaction.
 * The claims statement of a Basic caller is authenticate_basic() itself,
 * so the credentials are checked in the same round trip; the runner id a
 * route needs is then read back from those claims by the call's own SQL.
 * A Bearer caller's runner argument is always NULL, whatever its token
 * says.
 *
 *-------------------------------------------------------------------------
 */
#include "api.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "auth.h"
#include "db.h"
#include "errors.h"
#include "pool.h"
#include "util.h"

/* The OpenAPI document, compiled in from openapi.json. */
extern const char gw_openapi_json[];

/*
 * Deepest nesting of arrays and objects accepted in a body; deeper bodies
 * are refused before the database parses them, which would run out of
 * stack (SQLSTATE 54001) on tens of thousands of levels.
 */
#define GW_JSON_MAX_DEPTH 512

/* Attempts of a transaction that failed to serialize or deadlocked. */
#define GW_MAX_ATTEMPTS 3

/* Default claim when the body leaves them out. */
#define GW_CLAIM_LIMIT "1"
#define GW_CLAIM_LEASE "300"

/* The runner id in the claims that authenticate_basic() returned. */
#define RUNNER_OF_CLAIMS \
	"(pg_catalog.current_setting('request.jwt.claims')::jsonb" \
	" ->> 'runner')::uuid"

static const GwStatement claims_bearer = {
	0, "SELECT pg_catalog.set_config('request.jwt.claims', $1, true)", 1
};
static const GwStatement claims_basic = {
	1, "SELECT pg_catalog.set_config('request.jwt.claims',"
	" bluebricks.authenticate_basic($1, $2)::text, true)", 2
};
static const GwStatement st_pending_runner = {
	2, "SELECT bluebricks.pending_tasks(" RUNNER_OF_CLAIMS ", 100)", 0
};
static const GwStatement st_pending_any = {
	3, "SELECT bluebricks.pending_tasks(NULL::uuid, 100)", 0
};
static const GwStatement st_claim = {
	4, "SELECT bluebricks.claim_tasks(" RUNNER_OF_CLAIMS ", $1::integer,"
	" pg_catalog.make_interval(secs => $2::double precision))", 2
};
static const GwStatement st_create = {
	5, "SELECT bluebricks.create_task($1::jsonb)", 1
};
static const GwStatement st_task = {
	6, "SELECT bluebricks.task($1::uuid)", 1
};
static const GwStatement st_delete = {
	7, "SELECT bluebricks.delete_task($1::uuid)", 1
};
static const GwStatement st_status = {
	8, "SELECT bluebricks.task_status($1::uuid, $2::boolean)", 2
};
static const GwStatement st_set_status = {
	9, "SELECT bluebricks.set_task_status($1::uuid, $2::bluebricks.stage,"
	" $3::text, $4::boolean, $5::text)", 5
};
static const GwStatement st_deployments = {
	10, "SELECT bluebricks.add_deployments($1::uuid, $2::jsonb, $3::text)", 3
};

/* Set a 422 reply for a field of the body. */
static void
invalid_field(GwReply *reply, const char *message, const char *hint)
{
	gw_reply_error(reply, 422, "invalid_field", message, hint, NULL);
}

/* Set a 400 reply for malformed input. */
static void
invalid_input(GwReply *reply, const char *message)
{
	gw_reply_error(reply, 400, "invalid_input", message, NULL, NULL);
}

/* The ?expand= flag as "true"/"false"; NULL (with a reply) if invalid. */
static const char *
expand_flag(const GwApiRequest *req, GwReply *reply)
{
	const char *e = req->expand;

	if (e == NULL || strcmp(e, "false") == 0 || strcmp(e, "0") == 0)
		return "false";
	if (strcmp(e, "true") == 0 || strcmp(e, "1") == 0 || e[0] == '\0')
		return "true";
	invalid_input(reply, "query parameter expand must be true or false");
	return NULL;
}

/* Parse the body as a JSON object; NULL (with a reply) if it is not one. */
static json_t *
body_object(const GwApiRequest *req, GwReply *reply)
{
	json_t	   *js;
	json_error_t err;

	js = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &err);
	if (js == NULL)
	{
		invalid_input(reply, "the request body is not valid JSON");
		return NULL;
	}
	if (!json_is_object(js))
	{
		json_decref(js);
		invalid_input(reply, "the request body must be a JSON object");
		return NULL;
	}
	return js;
}

/*
 * Run stmt with params in the request's transaction; on success return the
 * call's value (malloc'd; *isnull set), else set the error reply and
 * return NULL with *failed set.
 */
static char *
run_call(const GwApiRequest *req, const GwAuth *auth, const GwStatement *stmt,
		 const char *const *params, GwReply *reply, bool *isnull,
		 bool *failed)
{
	const GwStatement *claims;
	const char *claims_params[2];
	GwConn	   *conn;
	GwDbResult	result;
	GwSqlError	err;
	char	   *why;
	char		reason[512];

	*failed = true;
	*isnull = false;
	if (auth->kind == GW_AUTH_BASIC)
	{
		claims = &claims_basic;
		claims_params[0] = auth->username;
		claims_params[1] = auth->password;
	}
	else
	{
		claims = &claims_bearer;
		claims_params[0] = auth->claims;
	}

	conn = gw_pool_acquire(&why);
	if (conn == NULL)
	{
		gw_reply_error(reply, 503, "unavailable",
					   "the database is unavailable", NULL, NULL);
		gw_reply_reason(reply, why);
		free(why);
		return NULL;
	}
	for (int attempt = 1;; attempt++)
	{
		gw_db_transaction(conn, claims, claims_params, stmt, params, &result);
		if (result.ok || result.lost || attempt == GW_MAX_ATTEMPTS ||
			!gw_sql_error(result.sqlstate).retry)
			break;
		gw_db_result_free(&result);
	}
	gw_pool_release(conn, result.lost);

	if (result.ok)
	{
		char	   *value = result.value;

		*isnull = result.isnull;
		result.value = NULL;
		gw_db_result_free(&result);
		*failed = false;
		return value;
	}

	err = gw_sql_error(result.lost ? NULL : result.sqlstate);
	if (err.user_message)
		gw_reply_error(reply, err.status, err.code, result.message,
					   result.hint, req->request_id);
	else if (err.status == 500)
		gw_reply_error(reply, 500, "internal", "internal error", NULL,
					   req->request_id);
	else if (strcmp(err.code, "timeout") == 0)
		gw_reply_error(reply, err.status, err.code,
					   "the database did not answer in time", NULL, NULL);
	else if (strcmp(err.code, "conflict_retry") == 0)
		gw_reply_error(reply, err.status, err.code,
					   "the request kept conflicting with others",
					   "Retry the request.", NULL);
	else
		gw_reply_error(reply, err.status, err.code,
					   "the database is unavailable", NULL, NULL);
	if (err.status >= 500)
	{
		snprintf(reason, sizeof(reason), "%s %s",
				 result.lost ? "connection" : result.sqlstate,
				 result.message ? result.message : "");
		gw_reply_reason(reply, reason);
	}
	gw_db_result_free(&result);
	return NULL;
}

/* Reply 200 with the call's JSON value, or with dflt when it was NULL. */
static void
reply_value(GwReply *reply, char *value, bool isnull, const char *dflt)
{
	if (isnull || value == NULL)
	{
		free(value);
		value = strdup(dflt);
	}
	gw_reply_json(reply, 200, value);
}

/* GET /api/v1/tasks */
static void
route_tasks_list(const GwApiRequest *req, const GwAuth *auth, GwReply *reply)
{
	const GwStatement *stmt = auth->kind == GW_AUTH_BASIC ?
		&st_pending_runner : &st_pending_any;
	bool		isnull;
	bool		failed;
	char	   *v = run_call(req, auth, stmt, NULL, reply, &isnull, &failed);

	if (!failed)
		reply_value(reply, v, isnull, "[]");
}

/* POST /api/v1/tasks/claim */
static void
route_tasks_claim(const GwApiRequest *req, const GwAuth *auth,
				  GwReply *reply)
{
	char		limit[24] = GW_CLAIM_LIMIT;
	char		lease[40] = GW_CLAIM_LEASE;
	const char *params[2] = {limit, lease};
	bool		isnull;
	bool		failed;
	char	   *v;

	if (req->body_len > 0)
	{
		json_t	   *obj = body_object(req, reply);
		json_t	   *jl;
		json_t	   *js;

		if (obj == NULL)
			return;
		jl = json_object_get(obj, "limit");
		js = json_object_get(obj, "lease_seconds");
		if (jl != NULL && !json_is_null(jl))
		{
			if (!json_is_integer(jl) || json_integer_value(jl) < 1 ||
				json_integer_value(jl) > INT32_MAX)
			{
				json_decref(obj);
				invalid_field(reply, "limit must be a positive integer",
							  NULL);
				return;
			}
			snprintf(limit, sizeof(limit), "%lld",
					 (long long) json_integer_value(jl));
		}
		if (js != NULL && !json_is_null(js))
		{
			double		secs = json_is_number(js) ? json_number_value(js) : 0;

			if (!json_is_number(js) || !(secs > 0) || !isfinite(secs))
			{
				json_decref(obj);
				invalid_field(reply, "lease_seconds must be a positive "
							  "number", NULL);
				return;
			}
			snprintf(lease, sizeof(lease), "%.17g", secs);
		}
		json_decref(obj);
	}

	v = run_call(req, auth, &st_claim, params, reply, &isnull, &failed);
	if (failed)
		return;
	if (isnull)
	{
		/* claim_tasks() is strict: the credentials named no runner */
		free(v);
		gw_reply_error(reply, 403, "permission_denied",
					   "only runners may claim tasks", NULL, NULL);
		return;
	}
	reply_value(reply, v, false, "[]");
}

/* POST /api/v1/tasks */
static void
route_task_create(const GwApiRequest *req, const GwAuth *auth,
				  GwReply *reply)
{
	const char *params[1] = {req->body};
	bool		isnull;
	bool		failed;
	char	   *v;
	char	   *body;

	v = run_call(req, auth, &st_create, params, reply, &isnull, &failed);
	if (failed)
		return;
	if (isnull || v == NULL || !gw_is_uuid(v))
	{
		free(v);
		gw_reply_error(reply, 500, "internal", "internal error", NULL,
					   req->request_id);
		gw_reply_reason(reply, "create_task returned no task id");
		return;
	}
	body = malloc(64);
	if (body != NULL)
		snprintf(body, 64, "{\"taskId\":\"%s\"}", v);
	snprintf(reply->location, sizeof(reply->location), "/api/v1/task/%s", v);
	free(v);
	gw_reply_json(reply, 201, body);
}

/* GET and DELETE /api/v1/task/{taskId}, GET its status: one task's JSON. */
static void
route_task(const GwApiRequest *req, const GwAuth *auth, GwReply *reply,
		   const GwStatement *stmt, const char *const *params)
{
	bool		isnull;
	bool		failed;
	char	   *v = run_call(req, auth, stmt, params, reply, &isnull, &failed);

	if (failed)
		return;
	if (isnull)
	{
		gw_reply_error(reply, 404, "not_found", "task not found", NULL,
					   NULL);
		return;
	}
	reply_value(reply, v, false, "null");
}

/* GET /api/v1/task/{taskId}/status */
static void
route_status_get(const GwApiRequest *req, const GwAuth *auth,
				 GwReply *reply)
{
	const char *params[2] = {req->task_id, NULL};

	params[1] = expand_flag(req, reply);
	if (params[1] == NULL)
		return;
	route_task(req, auth, reply, &st_status, params);
}

/* POST /api/v1/task/{taskId}/status */
static void
route_status_set(const GwApiRequest *req, const GwAuth *auth,
				 GwReply *reply)
{
	const char *params[5] = {req->task_id, NULL, NULL, NULL, NULL};
	json_t	   *obj;
	json_t	   *status;
	json_t	   *error;
	json_t	   *token;
	bool		isnull;
	bool		failed;
	char	   *v;

	params[3] = expand_flag(req, reply);
	if (params[3] == NULL)
		return;
	obj = body_object(req, reply);
	if (obj == NULL)
		return;
	status = json_object_get(obj, "status");
	error = json_object_get(obj, "error");
	token = json_object_get(obj, "token");
	if (!json_is_string(status))
	{
		json_decref(obj);
		invalid_field(reply, "status must be given as a string",
					  "Give one of the stages, e.g. \"planning\".");
		return;
	}
	if (error != NULL && !json_is_null(error) && !json_is_string(error))
	{
		json_decref(obj);
		invalid_field(reply, "error must be a string or null", NULL);
		return;
	}
	if (token != NULL && !json_is_null(token) && !json_is_string(token))
	{
		json_decref(obj);
		invalid_field(reply, "token must be a string or null", NULL);
		return;
	}
	params[1] = json_string_value(status);
	params[2] = json_is_string(error) ? json_string_value(error) : NULL;
	if (auth->kind == GW_AUTH_BASIC && auth->task_token)
		params[4] = auth->password;
	else if (json_is_string(token))
		params[4] = json_string_value(token);

	v = run_call(req, auth, &st_set_status, params, reply, &isnull, &failed);
	json_decref(obj);
	if (!failed)
		reply_value(reply, v, isnull, "null");
}

/* POST /api/v1/task/{taskId}/deployments */
static void
route_deployments_add(const GwApiRequest *req, const GwAuth *auth,
					  GwReply *reply)
{
	const char *params[3] = {req->task_id, req->body, NULL};
	bool		isnull;
	bool		failed;
	char	   *v;

	if (auth->kind == GW_AUTH_BASIC && auth->task_token)
		params[2] = auth->password;
	v = run_call(req, auth, &st_deployments, params, reply, &isnull,
				 &failed);
	if (!failed)
		reply_value(reply, v, isnull, "[]");
}

/* GET /healthz */
static void
route_healthz(GwReply *reply)
{
	char	   *why = NULL;
	GwConn	   *conn = gw_pool_acquire(&why);
	bool		ok = false;

	if (conn != NULL)
	{
		ok = gw_db_ping(conn, &why);
		gw_pool_release(conn, !ok);
	}
	if (ok)
		gw_reply_json(reply, 200, strdup("{\"status\":\"ok\"}"));
	else
	{
		gw_reply_error(reply, 503, "unavailable",
					   "the database is unavailable", NULL, NULL);
		gw_reply_reason(reply, why);
	}
	free(why);
}

/* Whether the request's body may be handed on as JSON text. */
static bool
check_body(const GwApiRequest *req, GwReply *reply)
{
	if (req->body_len == 0)
	{
		if (req->route->id == GW_ROUTE_TASKS_CLAIM)
			return true;
		invalid_input(reply, "the request body is empty");
		return false;
	}
	if (!gw_valid_utf8(req->body, req->body_len))
	{
		invalid_input(reply, "the request body is not valid UTF-8 text");
		return false;
	}
	if (!gw_json_depth_ok(req->body, req->body_len, GW_JSON_MAX_DEPTH))
	{
		invalid_input(reply, "the request body nests arrays and objects "
					  "more than 512 levels deep");
		return false;
	}
	return true;
}

/* Serve one matched request. */
void
gw_api_handle(const GwApiRequest *req, GwReply *reply)
{
	const GwRoute *route = req->route;
	const char *id_param[1] = {req->task_id};
	GwAuth		auth;
	const char *why = NULL;
	GwAuthResult ar;
	unsigned int missing;

	if (route->id == GW_ROUTE_HEALTHZ)
	{
		route_healthz(reply);
		return;
	}
	if (route->id == GW_ROUTE_OPENAPI)
	{
		gw_reply_json(reply, 200, (char *) gw_openapi_json);
		reply->static_body = true;
		return;
	}

	ar = gw_auth_parse(req->authorization, &auth, &why);
	if (ar != GW_AUTH_OK)
	{
		gw_reply_error(reply, 401, "unauthorized",
					   ar == GW_AUTH_MISSING ?
					   "credentials are required" : why,
					   "Sign in with Basic credentials or a Bearer token.",
					   NULL);
		return;
	}

	missing = route->permission & ~auth.permissions;
	if (missing & GW_PERM_RUNNER)
	{
		gw_reply_error(reply, 403, "permission_denied",
					   "only runners may claim tasks",
					   "Sign in with the runner's Basic credentials.", NULL);
		goto done;
	}
	if (missing != 0)
	{
		static const struct
		{
			unsigned int bit;
			const char *message;
		}			names[] = {
			{GW_PERM_READ_TASK, "this request needs the read:task permission"},
			{GW_PERM_UPDATE_TASK,
			"this request needs the update:task permission"},
			{GW_PERM_CREATE_TASK,
			"this request needs the create:task permission"},
			{GW_PERM_CREATE_DEPLOYMENT,
			"this request needs the create:deployment permission"},
			{GW_PERM_DELETE_DEPLOYMENT,
			"this request needs the delete:deployment permission"},
		};
		const char *message = "permission denied";

		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		{
			if (missing & names[i].bit)
			{
				message = names[i].message;
				break;
			}
		}
		gw_reply_error(reply, 403, "permission_denied", message, NULL, NULL);
		goto done;
	}

	if (req->task_id[0] != '\0' && !gw_is_uuid(req->task_id))
	{
		invalid_input(reply, "the task id in the path is not a valid UUID");
		goto done;
	}
	if (route->has_body && !check_body(req, reply))
		goto done;

	switch (route->id)
	{
		case GW_ROUTE_TASKS_LIST:
			route_tasks_list(req, &auth, reply);
			break;
		case GW_ROUTE_TASKS_CLAIM:
			route_tasks_claim(req, &auth, reply);
			break;
		case GW_ROUTE_TASK_CREATE:
			route_task_create(req, &auth, reply);
			break;
		case GW_ROUTE_TASK_GET:
			route_task(req, &auth, reply, &st_task, id_param);
			break;
		case GW_ROUTE_TASK_DELETE:
			route_task(req, &auth, reply, &st_delete, id_param);
			break;
		case GW_ROUTE_STATUS_GET:
			route_status_get(req, &auth, reply);
			break;
		case GW_ROUTE_STATUS_SET:
			route_status_set(req, &auth, reply);
			break;
		case GW_ROUTE_DEPLOYMENTS_ADD:
			route_deployments_add(req, &auth, reply);
			break;
		case GW_ROUTE_HEALTHZ:
		case GW_ROUTE_OPENAPI:
			break;
	}

done:
	gw_auth_free(&auth);
}

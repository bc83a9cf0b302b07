/*-------------------------------------------------------------------------
 *
 * gateway/errors.c
 *	  HTTP status and error code of each SQLSTATE, and error bodies.
 *
 * Besides the extension's own class BB: 42501 is a missing permission
 * (403); class 22 is bad input (400: an invalid UUID, enum label, JSON
 * text or number); class 08, 53300 and 57P01-57P03 mean the database is
 * out of reach or going away, 57014 that it did not answer within the
 * statement timeout, and 25006 that it is a read-only standby (all 503);
 * serialization failures and deadlocks are retried and become 503 when
 * they persist.  Anything else is a fault of the server: 500.
 *
 *-------------------------------------------------------------------------
 */
#include "errors.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

static const struct
{
	const char *sqlstate;
	GwSqlError	error;
}			sql_errors[] = {
	{"BB001", {404, "not_found", true, false}},
	{"BB002", {409, "invalid_transition", true, false}},
	{"BB003", {409, "lease_conflict", true, false}},
	{"BB004", {409, "dependency_not_ready", true, false}},
	{"BB005", {422, "invalid_field", true, false}},
	{"BB006", {422, "dependency_cycle", true, false}},
	{"BB007", {422, "unknown_reference", true, false}},
	{"BB008", {409, "duplicate_task", true, false}},
	{"BB009", {401, "bad_credentials", true, false}},
	{"42501", {403, "permission_denied", true, false}},
	{"53300", {503, "unavailable", false, false}},
	{"57P01", {503, "unavailable", false, false}},
	{"57P02", {503, "unavailable", false, false}},
	{"57P03", {503, "unavailable", false, false}},
	{"57014", {503, "timeout", false, false}},
	{"25006", {503, "unavailable", false, false}},
	{"40001", {503, "conflict_retry", false, true}},
	{"40P01", {503, "conflict_retry", false, true}},
};

/* The HTTP meaning of a SQLSTATE. */
GwSqlError
gw_sql_error(const char *sqlstate)
{
	static const GwSqlError lost = {503, "unavailable", false, false};
	static const GwSqlError bad_input = {400, "invalid_input", true, false};
	static const GwSqlError internal = {500, "internal", false, false};

	if (sqlstate == NULL || strlen(sqlstate) != 5)
		return lost;
	for (size_t i = 0; i < sizeof(sql_errors) / sizeof(sql_errors[0]); i++)
	{
		if (strcmp(sql_errors[i].sqlstate, sqlstate) == 0)
			return sql_errors[i].error;
	}
	if (strncmp(sqlstate, "08", 2) == 0)
		return lost;
	if (strncmp(sqlstate, "22", 2) == 0)
		return bad_input;
	return internal;
}

/* A JSON string, or a fallback when s is not valid UTF-8. */
static json_t *
string_or(const char *s, const char *fallback)
{
	json_t	   *js = json_string(s);

	return js != NULL ? js : json_string(fallback);
}

/* A JSON error body, malloc'd. */
char *
gw_error_body(const char *code, const char *message, const char *hint,
			  const char *request_id)
{
	json_t	   *inner = json_object();
	json_t	   *outer = json_object();
	char	   *text = NULL;

	if (inner != NULL && outer != NULL)
	{
		json_object_set_new(inner, "code", string_or(code, "error"));
		json_object_set_new(inner, "message", string_or(message, "error"));
		json_object_set_new(inner, "hint",
							hint ? string_or(hint, "") : json_null());
		if (request_id != NULL)
			json_object_set_new(inner, "request_id", json_string(request_id));
		json_object_set(outer, "error", inner);
		text = json_dumps(outer, JSON_COMPACT | JSON_PRESERVE_ORDER);
	}
	json_decref(inner);
	json_decref(outer);
	if (text == NULL)
		text = strdup("{\"error\":{\"code\":\"internal\","
					  "\"message\":\"internal error\",\"hint\":null}}");
	return text;
}

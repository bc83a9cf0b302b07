/*-------------------------------------------------------------------------
 *
 * src/json_in.c
 *	  Reading fields of the API's JSON documents; see json_in.h.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "errcodes.h"
#include "json_in.h"

/* Raise ERRCODE_BB_INVALID_FIELD for path+key. */
void
bb_field_error(const char *path, const char *key, const char *problem,
			   const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_BB_INVALID_FIELD),
			 errmsg("field \"%s%s\" %s", path, key, problem),
			 detail ? errdetail("%s", detail) : 0));
	pg_unreachable();
}

/* Name of a JSON value's type, for error details. */
const char *
bb_jtype_name(const JsonbValue *value)
{
	switch (value->type)
	{
		case jbvNull:
			return "null";
		case jbvString:
			return "string";
		case jbvNumeric:
			return "number";
		case jbvBool:
			return "boolean";
		case jbvBinary:
			return JsonContainerIsArray(value->val.binary.data) ?
				"array" : "object";
		default:
			return "value";
	}
}

/* Raise "must be a T" for a field of the wrong type. */
static void
wrong_type(const char *path, const char *key, const char *want,
		   const JsonbValue *got)
{
	char	   *problem = psprintf("must be %s", want);

	bb_field_error(path, key, problem,
				   psprintf("The value given is of type %s.",
							bb_jtype_name(got)));
}

/* The value of key, or NULL when absent or JSON null. */
JsonbValue *
bb_jfind(JsonbContainer *obj, const char *key)
{
	JsonbValue *v;

	if (obj == NULL)
		return NULL;
	v = getKeyJsonValueFromContainer(obj, key, strlen(key), NULL);
	if (v == NULL || v->type == jbvNull)
		return NULL;
	return v;
}

/* A string field; NULL when absent. */
char *
bb_jtext(JsonbContainer *obj, const char *path, const char *key,
		 bool required)
{
	JsonbValue *v = bb_jfind(obj, key);
	char	   *s;

	if (v == NULL)
	{
		if (required)
			bb_field_error(path, key, "is required", NULL);
		return NULL;
	}
	if (v->type != jbvString)
		wrong_type(path, key, "a string", v);
	s = pnstrdup(v->val.string.val, v->val.string.len);
	if (required && s[0] == '\0')
		bb_field_error(path, key, "must not be empty", NULL);
	return s;
}

/* A boolean field; dflt when absent. */
bool
bb_jbool(JsonbContainer *obj, const char *path, const char *key, bool dflt)
{
	JsonbValue *v = bb_jfind(obj, key);

	if (v == NULL)
		return dflt;
	if (v->type != jbvBool)
		wrong_type(path, key, "a boolean", v);
	return v->val.boolean;
}

/* Value of one hex digit, or -1. */
static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Parse a uuid in its canonical 8-4-4-4-12 form. */
bool
bb_parse_uuid(const char *text, pg_uuid_t *out)
{
	int			byte = 0;

	for (int i = 0; i < 36; i++)
	{
		int			hi,
					lo;

		if (i == 8 || i == 13 || i == 18 || i == 23)
		{
			if (text[i] != '-')
				return false;
			continue;
		}
		if ((hi = hex_value(text[i])) < 0 || (lo = hex_value(text[i + 1])) < 0)
			return false;
		out->data[byte++] = (unsigned char) (hi << 4 | lo);
		i++;
	}
	return text[36] == '\0';
}

/* A uuid field; false when absent. */
bool
bb_juuid(JsonbContainer *obj, const char *path, const char *key,
		 bool required, pg_uuid_t *out)
{
	char	   *s = bb_jtext(obj, path, key, required);

	if (s == NULL)
		return false;
	if (!bb_parse_uuid(s, out))
		bb_field_error(path, key, "must be a uuid",
					   "A uuid is written as 32 hex digits in groups of "
					   "8-4-4-4-12.");
	return true;
}

/*
 * Whether text looks like an ISO 8601 timestamp with a zone:
 * YYYY-MM-DDTHH:MM:SS, optional fraction, then Z or +HH:MM / -HH:MM.
 * timestamptz_in accepts far more; the API promises only this form.
 */
static bool
looks_like_iso_timestamp(const char *s)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:dd";
	int			i;

	for (i = 0; shape[i] != '\0'; i++)
	{
		if (shape[i] == 'd' ? !isdigit((unsigned char) s[i]) :
			s[i] != shape[i] && !(shape[i] == 'T' && s[i] == ' '))
			return false;
	}
	if (s[i] == '.')
	{
		if (!isdigit((unsigned char) s[++i]))
			return false;
		while (isdigit((unsigned char) s[i]))
			i++;
	}
	if (s[i] == 'Z')
		return s[i + 1] == '\0';
	if (s[i] != '+' && s[i] != '-')
		return false;
	return isdigit((unsigned char) s[i + 1]) &&
		isdigit((unsigned char) s[i + 2]) &&
		(s[i + 3] == '\0' ||
		 (s[i + 3] == ':' && isdigit((unsigned char) s[i + 4]) &&
		  isdigit((unsigned char) s[i + 5]) && s[i + 6] == '\0'));
}

/* A timestamp field; false when absent. */
bool
bb_jtimestamp(JsonbContainer *obj, const char *path, const char *key,
			  TimestampTz *out)
{
	char	   *s = bb_jtext(obj, path, key, false);

	if (s == NULL)
		return false;
	if (!looks_like_iso_timestamp(s))
		bb_field_error(path, key, "must be a timestamp",
					   "Timestamps are written as in 2025-11-11T15:54:19.923Z.");
	*out = DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in,
												   CStringGetDatum(s),
												   ObjectIdGetDatum(InvalidOid),
												   Int32GetDatum(-1)));
	return true;
}

/* A container field of the wanted kind; NULL when absent. */
static JsonbContainer *
container_field(JsonbContainer *obj, const char *path, const char *key,
				bool array, bool required)
{
	JsonbValue *v = bb_jfind(obj, key);

	if (v == NULL)
	{
		if (required)
			bb_field_error(path, key, "is required", NULL);
		return NULL;
	}
	if (v->type != jbvBinary ||
		(JsonContainerIsArray(v->val.binary.data) != array))
		wrong_type(path, key, array ? "an array" : "an object", v);
	return v->val.binary.data;
}

JsonbContainer *
bb_jobject(JsonbContainer *obj, const char *path, const char *key,
		   bool required)
{
	return container_field(obj, path, key, false, required);
}

JsonbContainer *
bb_jarray(JsonbContainer *obj, const char *path, const char *key)
{
	return container_field(obj, path, key, true, false);
}

/* Any field as a jsonb of its own; NULL when absent or null. */
Jsonb *
bb_jjsonb(JsonbContainer *obj, const char *key)
{
	JsonbValue *v = bb_jfind(obj, key);

	if (v == NULL)
		return NULL;
	return JsonbValueToJsonb(v);
}

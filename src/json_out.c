/*-------------------------------------------------------------------------
 *
 * src/json_out.c
 *	  Writing the API's JSON documents; see json_out.h.
 *
 * Timestamps are always rendered in UTC with exactly three fractional
 * digits and a Z, whatever the session's TimeZone or DateStyle.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/json.h"

#include "json_out.h"

/* Append "key": with a leading comma unless first. */
void
bb_json_key(StringInfo buf, const char *key, bool first)
{
	if (!first)
		appendStringInfoChar(buf, ',');
	escape_json(buf, key);
	appendStringInfoChar(buf, ':');
}

/* Append a JSON string, or null. */
void
bb_json_string(StringInfo buf, const char *value)
{
	if (value == NULL)
		appendStringInfoString(buf, "null");
	else
		escape_json(buf, value);
}

/* Text form of a uuid, palloc'd. */
char *
bb_uuid_text(const pg_uuid_t *value)
{
	static const char hex[] = "0123456789abcdef";
	char	   *out = palloc(UUID_LEN * 2 + 5);
	char	   *p = out;

	for (int i = 0; i < UUID_LEN; i++)
	{
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*p++ = '-';
		*p++ = hex[value->data[i] >> 4];
		*p++ = hex[value->data[i] & 0x0f];
	}
	*p = '\0';
	return out;
}

/* Append a uuid as a JSON string. */
void
bb_json_uuid(StringInfo buf, const pg_uuid_t *value)
{
	char	   *text = bb_uuid_text(value);

	appendStringInfoChar(buf, '"');
	appendStringInfoString(buf, text);
	appendStringInfoChar(buf, '"');
	pfree(text);
}

/* Append a timestamp in UTC with milliseconds, or null. */
void
bb_json_timestamp(StringInfo buf, TimestampTz value, bool isnull)
{
	struct pg_tm tm;
	fsec_t		fsec;

	if (isnull)
	{
		appendStringInfoString(buf, "null");
		return;
	}
	if (TIMESTAMP_NOT_FINITE(value) ||
		timestamp2tm(value, NULL, &tm, &fsec, NULL, NULL) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range for the API's format")));
	appendStringInfo(buf, "\"%04d-%02d-%02dT%02d:%02d:%02d.%03dZ\"",
					 tm.tm_year, tm.tm_mon, tm.tm_mday,
					 tm.tm_hour, tm.tm_min, tm.tm_sec, (int) (fsec / 1000));
}

void
bb_json_bool(StringInfo buf, bool value)
{
	appendStringInfoString(buf, value ? "true" : "false");
}

/* Append a jsonb value as text, or null. */
void
bb_json_jsonb(StringInfo buf, Jsonb *value)
{
	if (value == NULL)
		appendStringInfoString(buf, "null");
	else
		(void) JsonbToCString(buf, &value->root, VARSIZE(value));
}

/* Turn the finished text into jsonb. */
Jsonb *
bb_json_finish(StringInfo buf)
{
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
											  CStringGetDatum(buf->data)));
}

/*-------------------------------------------------------------------------
 *
 * src/json_out.h
 *	  Writing the API's JSON documents.
 *
 * Documents are written as text into a StringInfo and turned into jsonb
 * once at the end: cheaper than building JsonbValue trees by hand, and the
 * writer controls every spelling.  Callers write their own separators.
 *
 *-------------------------------------------------------------------------
 */
#ifndef BB_JSON_OUT_H
#define BB_JSON_OUT_H

#include "postgres.h"

#include "lib/stringinfo.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

/* Append "key": (with a leading comma unless first). */
extern void bb_json_key(StringInfo buf, const char *key, bool first);

/* Append a JSON string, or null for NULL. */
extern void bb_json_string(StringInfo buf, const char *value);

/* Append a uuid as a JSON string. */
extern void bb_json_uuid(StringInfo buf, const pg_uuid_t *value);

/* Append a timestamp as "2025-11-11T15:54:19.923Z", or null. */
extern void bb_json_timestamp(StringInfo buf, TimestampTz value, bool isnull);

extern void bb_json_bool(StringInfo buf, bool value);

/* Append a jsonb value as text, or null. */
extern void bb_json_jsonb(StringInfo buf, Jsonb *value);

/* Turn the finished text into jsonb. */
extern Jsonb *bb_json_finish(StringInfo buf);

/* Text form of a uuid, palloc'd. */
extern char *bb_uuid_text(const pg_uuid_t *value);

#endif							/* BB_JSON_OUT_H */

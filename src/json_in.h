/*-------------------------------------------------------------------------
 *
 * src/json_in.h
 *	  Reading fields of the API's JSON documents, with errors that name them.
 *
 * A field is named by its path in the document, e.g. items[3].package.name;
 * callers pass the path of the enclosing object ("" at the top, or
 * "items[3]." with the trailing dot) and the key.  Every refusal raises
 * ERRCODE_BB_INVALID_FIELD naming that path.  A JSON null counts as absent.
 *
 *-------------------------------------------------------------------------
 */
#ifndef BB_JSON_IN_H
#define BB_JSON_IN_H

#include "postgres.h"

#include "utils/jsonb.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

/* The value of key, or NULL when absent or JSON null. */
extern JsonbValue *bb_jfind(JsonbContainer *obj, const char *key);

/* A string field; NULL when absent (an error if required). */
extern char *bb_jtext(JsonbContainer *obj, const char *path,
					  const char *key, bool required);

/* A boolean field; dflt when absent. */
extern bool bb_jbool(JsonbContainer *obj, const char *path,
					 const char *key, bool dflt);

/* A uuid field; false when absent (an error if required). */
extern bool bb_juuid(JsonbContainer *obj, const char *path,
					 const char *key, bool required, pg_uuid_t *out);

/* A timestamp field; false when absent. */
extern bool bb_jtimestamp(JsonbContainer *obj, const char *path,
						  const char *key, TimestampTz *out);

/* An object field; NULL when absent (an error if required). */
extern JsonbContainer *bb_jobject(JsonbContainer *obj, const char *path,
								  const char *key, bool required);

/* An array field; NULL when absent. */
extern JsonbContainer *bb_jarray(JsonbContainer *obj, const char *path,
								 const char *key);

/* Any field as a jsonb of its own; NULL when absent or null. */
extern Jsonb *bb_jjsonb(JsonbContainer *obj, const char *key);

/* Parse a uuid in its canonical 8-4-4-4-12 form. */
extern bool bb_parse_uuid(const char *text, pg_uuid_t *out);

/* Raise ERRCODE_BB_INVALID_FIELD for path+key, with a detail sentence. */
extern void bb_field_error(const char *path, const char *key,
						   const char *problem, const char *detail)
			pg_attribute_noreturn();

/* Name of a JSON value's type, for error details. */
extern const char *bb_jtype_name(const JsonbValue *value);

#endif							/* BB_JSON_IN_H */

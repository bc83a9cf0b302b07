/*-------------------------------------------------------------------------
 *
 * src/spi_query.h
 *	  Prepared SPI statements and typed access to their results.
 *
 * A BbQuery is a static statement whose plan is prepared on first use and
 * kept for the life of the backend; the plan cache re-plans it if the
 * extension's tables change.  Parameters are only of built-in types, so no
 * cached type OID can go stale; extension types are reached with casts in
 * the SQL text ($2::bluebricks.stage).
 *
 * A statement declared with BB_QUERY_GENERIC is planned once, generically,
 * and never re-planned per call: for statements run many times a second
 * whose custom plans would not differ, so that planning is not paid on
 * every call (see CURSOR_OPT_GENERIC_PLAN).
 *
 *-------------------------------------------------------------------------
 */
#ifndef BB_SPI_QUERY_H
#define BB_SPI_QUERY_H

#include "postgres.h"

#include "executor/spi.h"
#include "nodes/parsenodes.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#define BB_MAX_PARAMS 24

typedef struct BbQuery
{
	const char *sql;
	SPIPlanPtr	plan;
	int			cursor_options; /* CURSOR_OPT_* given to SPI_prepare_cursor */
} BbQuery;

typedef struct BbParams
{
	int			n;
	Oid			types[BB_MAX_PARAMS];
	Datum		values[BB_MAX_PARAMS];
	char		nulls[BB_MAX_PARAMS];
} BbParams;

#define BB_QUERY(sqltext) {(sqltext), NULL, 0}
#define BB_QUERY_GENERIC(sqltext) {(sqltext), NULL, CURSOR_OPT_GENERIC_PLAN}

extern void bb_param_datum(BbParams *p, Oid type, Datum value, bool isnull);
extern void bb_param_text(BbParams *p, const char *value);
extern void bb_param_uuid(BbParams *p, const pg_uuid_t *value);
extern void bb_param_bool(BbParams *p, bool value);
extern void bb_param_int(BbParams *p, int32 value);
extern void bb_param_jsonb(BbParams *p, Jsonb *value);
extern void bb_param_bytea(BbParams *p, bytea *value);
extern void bb_param_timestamp(BbParams *p, TimestampTz value, bool isnull);

/*
 * Run q with the parameters (SPI connected); returns SPI_processed.  Raises
 * an internal error for any result code but the expected one.
 */
extern uint64 bb_query_run(BbQuery *q, BbParams *p, bool read_only,
						   int expected);

/* Typed column access on row of SPI_tuptable; NULLs as stated. */
extern char *bb_col_text(uint64 row, int col);	/* NULL for NULL */
extern bool bb_col_bool(uint64 row, int col);	/* false for NULL */
extern int32 bb_col_int(uint64 row, int col);	/* 0 for NULL */
extern bool bb_col_uuid(uint64 row, int col, pg_uuid_t *out);
extern Jsonb *bb_col_jsonb(uint64 row, int col);	/* NULL for NULL */
extern TimestampTz bb_col_timestamp(uint64 row, int col, bool *isnull);
extern Datum bb_col_datum(uint64 row, int col, bool *isnull);

#endif							/* BB_SPI_QUERY_H */

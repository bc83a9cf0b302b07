/*-------------------------------------------------------------------------
 *
 * gateway/db.h
 *	  One request's transaction: claims, then one SQL function call.
 *
 * Every API request runs
 *		BEGIN;
 *		SELECT set_config('request.jwt.claims', ..., true);
 *		SELECT bluebricks.<function>(...);
 *		COMMIT;
 * as four statements sent together in libpq pipeline mode: one round trip,
 * and the claims are certainly set before the function runs (two
 * expressions of one SELECT have no guaranteed order).  Statements are
 * prepared on each connection the first time it needs them, within the
 * same pipeline.
 *
 *-------------------------------------------------------------------------
 */
#ifndef GW_DB_H
#define GW_DB_H

#include <stdbool.h>

#include "pool.h"

/* Largest number of statements; each needs a bit of GwConn.prepared. */
#define GW_MAX_STATEMENTS 64

typedef struct GwStatement
{
	int			index;			/* unique, below GW_MAX_STATEMENTS */
	const char *sql;
	int			nparams;
} GwStatement;

typedef struct GwDbResult
{
	bool		ok;				/* the whole transaction committed */
	bool		lost;			/* the connection failed; not a SQL error */
	char	   *value;			/* text of the call's single value */
	bool		isnull;			/* the call returned SQL NULL */
	char		sqlstate[6];	/* of the error, when !ok && !lost */
	char	   *message;		/* error message, primary text */
	char	   *hint;			/* error hint, or NULL */
} GwDbResult;

/*
 * Run the transaction: claims (with claims_params) then call (with
 * params), each returning one row of one column.  Fills result; free it
 * with gw_db_result_free().
 */
extern void gw_db_transaction(GwConn *conn, const GwStatement *claims,
							  const char *const *claims_params,
							  const GwStatement *call,
							  const char *const *params,
							  GwDbResult *result);

/* SELECT 1 on the connection; true when it answered. */
extern bool gw_db_ping(GwConn *conn, char **why);

/* Free the strings of a result. */
extern void gw_db_result_free(GwDbResult *result);

#endif							/* GW_DB_H */

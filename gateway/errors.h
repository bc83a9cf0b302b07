/*-------------------------------------------------------------------------
 *
 * gateway/errors.h
 *	  HTTP status and error code of each SQLSTATE, and error bodies.
 *
 * The SQLSTATE table mirrors src/errcodes.h and README: change them
 * together.  Error bodies are {"error": {"code", "message", "hint"}}, with
 * "request_id" added for 500s, whose message never carries database text.
 *
 *-------------------------------------------------------------------------
 */
#ifndef GW_ERRORS_H
#define GW_ERRORS_H

#include <stdbool.h>

typedef struct GwSqlError
{
	int			status;			/* HTTP status */
	const char *code;			/* error code of the body */
	bool		user_message;	/* the database's message may be shown */
	bool		retry;			/* the transaction may simply be rerun */
} GwSqlError;

/* The HTTP meaning of a SQLSTATE (NULL or empty: a lost connection). */
extern GwSqlError gw_sql_error(const char *sqlstate);

/*
 * A JSON error body, malloc'd; hint and request_id may be NULL (the
 * request id is included only when given).  Never NULL.
 */
extern char *gw_error_body(const char *code, const char *message,
						   const char *hint, const char *request_id);

#endif							/* GW_ERRORS_H */

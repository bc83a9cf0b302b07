/*-------------------------------------------------------------------------
 *
 * fuzz/fake_db.c
 *	  Stand-ins for gateway/pool.c and gateway/db.c, so that the gateway's
 *	  request handling runs in the fuzz target without a socket or a
 *	  database.
 *
 * The fuzz target sets gw_fake_db (what "the database" answers) before
 * each request; every transaction of that request gets the same answer:
 * a lost connection, an error with a SQLSTATE, message and hint, or a
 * value (possibly SQL NULL).  gw_fake_db.calls counts the transactions and
 * pings, so the target can tell whether a reply came from "the database".
 *
 *-------------------------------------------------------------------------
 */
#include "fake_db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

GwFakeDb	gw_fake_db;

static GwConn fake_conn;

/* Duplicate s, aborting when out of memory (a fuzzing artifact anyway). */
static char *
dup_or_die(const char *s)
{
	char	   *d = strdup(s);

	if (d == NULL)
		abort();
	return d;
}

/* Create the slots: nothing to do. */
bool
gw_pool_init(int size)
{
	(void) size;
	return true;
}

/* Take "a connection", or fail as an unreachable database would. */
GwConn *
gw_pool_acquire(char **why)
{
	gw_fake_db.calls++;
	if (gw_fake_db.unreachable)
	{
		*why = dup_or_die("fake database unreachable");
		return NULL;
	}
	fake_conn.busy = true;
	return &fake_conn;
}

/* Give the connection back. */
void
gw_pool_release(GwConn *conn, bool broken)
{
	(void) broken;
	conn->busy = false;
}

/* Close every connection: nothing to do. */
void
gw_pool_close(void)
{
}

/* Answer one transaction as gw_fake_db says; check the statements. */
void
gw_db_transaction(GwConn *conn, const GwStatement *claims,
				  const char *const *claims_params, const GwStatement *call,
				  const char *const *params, GwDbResult *result)
{
	(void) conn;
	memset(result, 0, sizeof(*result));
	gw_fake_db.calls++;

	/*
	 * Read every parameter as the real code's libpq would: a NULL pointer
	 * is SQL NULL, anything else must be a NUL-terminated string.
	 */
	if (claims != NULL)
		for (int i = 0; i < claims->nparams; i++)
			if (claims_params[i] != NULL)
				gw_fake_db.param_bytes += strlen(claims_params[i]);
	for (int i = 0; i < call->nparams; i++)
		if (params[i] != NULL)
			gw_fake_db.param_bytes += strlen(params[i]);

	if (gw_fake_db.lost)
	{
		result->lost = true;
		result->message = dup_or_die("server closed the connection");
		return;
	}
	if (gw_fake_db.sqlstate[0] != '\0')
	{
		snprintf(result->sqlstate, sizeof(result->sqlstate), "%s",
				 gw_fake_db.sqlstate);
		result->message = dup_or_die(gw_fake_db.message);
		result->hint = gw_fake_db.hint ? dup_or_die(gw_fake_db.hint) : NULL;
		return;
	}
	result->ok = true;
	result->isnull = gw_fake_db.isnull;
	if (!result->isnull)
		result->value = dup_or_die(gw_fake_db.value);
}

/* SELECT 1: answers unless the connection is "lost". */
bool
gw_db_ping(GwConn *conn, char **why)
{
	(void) conn;
	gw_fake_db.calls++;
	*why = gw_fake_db.lost ? dup_or_die("fake connection lost") : NULL;
	return !gw_fake_db.lost;
}

/* Free the strings of a result. */
void
gw_db_result_free(GwDbResult *result)
{
	free(result->value);
	free(result->message);
	free(result->hint);
	memset(result, 0, sizeof(*result));
}

/*-------------------------------------------------------------------------
 *
 * gateway/db.c
 *	  One request's transaction: claims, then one SQL function call.
 *
 * In the pipeline, an error makes the server skip every later statement up
 * to the sync point, and leaves the explicit transaction aborted; it is
 * then rolled back with one more round trip.  A connection whose state is
 * anything but idle afterwards is dropped by the pool.
 *
 *-------------------------------------------------------------------------
 */
#include "db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum StepKind
{
	STEP_PREPARE,
	STEP_BEGIN,
	STEP_CLAIMS,
	STEP_CALL,
	STEP_COMMIT
} StepKind;

typedef struct Step
{
	StepKind	kind;
	const GwStatement *stmt;	/* for STEP_PREPARE */
} Step;

/* Append a step to the list of what was sent. */
static void
push_step(Step *steps, int *n, StepKind kind, const GwStatement *stmt)
{
	steps[*n].kind = kind;
	steps[*n].stmt = stmt;
	(*n)++;
}

/* Name of statement s on a connection: "bb_<index>". */
static void
statement_name(const GwStatement *s, char *buf, size_t size)
{
	snprintf(buf, size, "bb_%d", s->index);
}

/* Copy the error of res (or of the connection) into result. */
static void
record_error(PGconn *pg, PGresult *res, GwDbResult *result)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = res ? PQresultErrorField(res,
											   PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *hint = res ? PQresultErrorField(res,
												PG_DIAG_MESSAGE_HINT) : NULL;

	if (result->message != NULL || result->lost)
		return;					/* the first error is the one that counts */
	if (state == NULL || PQstatus(pg) == CONNECTION_BAD)
	{
		result->lost = true;
		msg = msg ? msg : PQerrorMessage(pg);
	}
	else
		snprintf(result->sqlstate, sizeof(result->sqlstate), "%s", state);
	result->message = strdup(msg ? msg : "unknown error");
	if (result->message != NULL)
		result->message[strcspn(result->message, "\n")] = '\0';
	result->hint = hint ? strdup(hint) : NULL;
}

/* Queue one statement with its parameters; false if libpq refused. */
static bool
send_prepared(PGconn *pg, const GwStatement *s, const char *const *params)
{
	char		name[16];

	statement_name(s, name, sizeof(name));
	return PQsendQueryPrepared(pg, name, s->nparams, params, NULL, NULL, 0);
}

/* Read the results of one step; false when the connection gave out. */
static bool
read_step(PGconn *pg, GwConn *conn, const Step *step, GwDbResult *result)
{
	PGresult   *res;
	bool		any = false;

	while ((res = PQgetResult(pg)) != NULL)
	{
		ExecStatusType st = PQresultStatus(res);

		any = true;
		if (st == PGRES_FATAL_ERROR)
			record_error(pg, res, result);
		else if (st == PGRES_PIPELINE_ABORTED)
			;					/* skipped after an earlier error */
		else if (step->kind == STEP_PREPARE && st == PGRES_COMMAND_OK)
			conn->prepared |= (uint64_t) 1 << step->stmt->index;
		else if (step->kind == STEP_CALL && st == PGRES_TUPLES_OK &&
				 PQntuples(res) == 1 && PQnfields(res) == 1)
		{
			result->isnull = PQgetisnull(res, 0, 0);
			if (!result->isnull)
			{
				result->value = strdup(PQgetvalue(res, 0, 0));
				if (result->value == NULL)
					record_error(pg, NULL, result);
			}
		}
		else if ((step->kind == STEP_CLAIMS && st == PGRES_TUPLES_OK) ||
				 ((step->kind == STEP_BEGIN || step->kind == STEP_COMMIT) &&
				  st == PGRES_COMMAND_OK))
			;
		else
		{
			/* a shape of result this code never asks for */
			if (result->message == NULL && !result->lost)
			{
				snprintf(result->sqlstate, sizeof(result->sqlstate), "XX000");
				result->message = strdup("unexpected result from the database");
			}
		}
		PQclear(res);
	}
	if (!any)
	{
		record_error(pg, NULL, result);
		return false;
	}
	return true;
}

/* Run the transaction of one request. */
void
gw_db_transaction(GwConn *conn, const GwStatement *claims,
				  const char *const *claims_params, const GwStatement *call,
				  const char *const *params, GwDbResult *result)
{
	PGconn	   *pg = conn->pg;
	Step		steps[8];
	int			n = 0;
	bool		sent = true;
	const GwStatement *needed[2] = {claims, call};
	PGresult   *res;

	memset(result, 0, sizeof(*result));

	if (!PQenterPipelineMode(pg))
	{
		record_error(pg, NULL, result);
		return;
	}
	for (int i = 0; i < 2 && sent; i++)
	{
		const GwStatement *s = needed[i];
		char		name[16];

		if (s == NULL || (conn->prepared & ((uint64_t) 1 << s->index)))
			continue;
		statement_name(s, name, sizeof(name));
		sent = PQsendPrepare(pg, name, s->sql, s->nparams, NULL);
		push_step(steps, &n, STEP_PREPARE, s);
	}
	if (sent)
	{
		sent = PQsendQueryParams(pg, "BEGIN", 0, NULL, NULL, NULL, NULL, 0);
		push_step(steps, &n, STEP_BEGIN, NULL);
	}
	if (sent && claims != NULL)
	{
		sent = send_prepared(pg, claims, claims_params);
		push_step(steps, &n, STEP_CLAIMS, NULL);
	}
	if (sent)
	{
		sent = send_prepared(pg, call, params);
		push_step(steps, &n, STEP_CALL, NULL);
	}
	if (sent)
	{
		sent = PQsendQueryParams(pg, "COMMIT", 0, NULL, NULL, NULL, NULL, 0);
		push_step(steps, &n, STEP_COMMIT, NULL);
	}
	if (!sent || !PQpipelineSync(pg))
	{
		/* libpq could not queue or send: the connection is unusable */
		record_error(pg, NULL, result);
		result->lost = true;
		return;
	}

	for (int i = 0; i < n; i++)
	{
		if (!read_step(pg, conn, &steps[i], result))
			return;
	}
	res = PQgetResult(pg);
	if (res == NULL || PQresultStatus(res) != PGRES_PIPELINE_SYNC)
	{
		PQclear(res);
		record_error(pg, NULL, result);
		result->lost = true;
		return;
	}
	PQclear(res);
	if (!PQexitPipelineMode(pg))
	{
		record_error(pg, NULL, result);
		result->lost = true;
		return;
	}

	if (PQtransactionStatus(pg) == PQTRANS_INERROR)
	{
		res = PQexec(pg, "ROLLBACK");
		PQclear(res);
	}
	if (result->message == NULL && !result->lost)
	{
		if (PQtransactionStatus(pg) == PQTRANS_IDLE)
			result->ok = true;
		else
			record_error(pg, NULL, result);
	}
}

/* SELECT 1 on the connection. */
bool
gw_db_ping(GwConn *conn, char **why)
{
	PGresult   *res = PQexec(conn->pg, "SELECT 1");
	bool		ok = PQresultStatus(res) == PGRES_TUPLES_OK;

	*why = NULL;
	if (!ok)
	{
		*why = strdup(PQerrorMessage(conn->pg));
		if (*why != NULL)
			(*why)[strcspn(*why, "\n")] = '\0';
	}
	PQclear(res);
	return ok;
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

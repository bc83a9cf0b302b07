/*-------------------------------------------------------------------------
 *
 * gateway/pool.c
 *	  The gateway's pool of libpq connections.
 *
 * Connections are opened with the configured conninfo (a URI or key=value
 * string, expanded as libpq's dbname), with connect_timeout defaulting to
 * the request timeout, client_encoding forced to UTF8 and the session's
 * statement_timeout set to the request timeout.  Connecting and liveness
 * checks happen outside the mutex, so a slow connect holds up only its own
 * request.
 *
 *-------------------------------------------------------------------------
 */
#include "pool.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"

static GwConn *slots;
static int	n_slots;
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_free = PTHREAD_COND_INITIALIZER;

/* Create the slots. */
bool
gw_pool_init(int size)
{
	slots = calloc(size, sizeof(GwConn));
	if (slots == NULL)
		return false;
	n_slots = size;
	return true;
}

/* Whether an idle connection is still usable. */
static bool
conn_alive(PGconn *pg)
{
	struct pollfd pfd;

	if (PQstatus(pg) != CONNECTION_OK ||
		PQtransactionStatus(pg) != PQTRANS_IDLE ||
		PQpipelineStatus(pg) != PQ_PIPELINE_OFF)
		return false;

	/*
	 * An idle connection has nothing to read: the gateway never LISTENs.
	 * Data there is most likely the server's farewell (a FATAL message
	 * before it closed the socket, as at shutdown or when the backend was
	 * terminated), so the connection is replaced rather than read.
	 */
	pfd.fd = PQsocket(pg);
	pfd.events = POLLIN;
	pfd.revents = 0;
	if (pfd.fd < 0 || poll(&pfd, 1, 0) != 0)
		return false;
	return PQstatus(pg) == CONNECTION_OK;
}

/* Drop notices: the functions called send none worth a log line. */
static void
ignore_notice(void *arg, const char *message)
{
	(void) arg;
	(void) message;
}

/* Open a connection and set its session up; NULL with *why on failure. */
static PGconn *
conn_open(char **why)
{
	char		timeout[16];
	char		statement_timeout[24];
	const char *keys[] = {"connect_timeout", "fallback_application_name",
	"dbname", "client_encoding", NULL};
	const char *vals[] = {timeout, "bluebricks-gateway",
	gw_config.database_url, "UTF8", NULL};
	const char *params[1];
	PGconn	   *pg;
	PGresult   *res;

	snprintf(timeout, sizeof(timeout), "%d", gw_config.request_timeout);
	snprintf(statement_timeout, sizeof(statement_timeout), "%d",
			 gw_config.request_timeout * 1000);

	pg = PQconnectdbParams(keys, vals, 1);
	if (pg == NULL || PQstatus(pg) != CONNECTION_OK)
	{
		const char *msg = pg ? PQerrorMessage(pg) : "out of memory";

		*why = strdup(msg);
		if (*why != NULL)
			(*why)[strcspn(*why, "\n")] = '\0';
		PQfinish(pg);
		return NULL;
	}

	params[0] = statement_timeout;
	res = PQexecParams(pg,
					   "SELECT pg_catalog.set_config('statement_timeout', "
					   "$1, false)", 1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		*why = strdup(PQerrorMessage(pg));
		if (*why != NULL)
			(*why)[strcspn(*why, "\n")] = '\0';
		PQclear(res);
		PQfinish(pg);
		return NULL;
	}
	PQclear(res);
	PQsetNoticeProcessor(pg, ignore_notice, NULL);
	return pg;
}

/* Take a slot with a live connection. */
GwConn *
gw_pool_acquire(char **why)
{
	GwConn	   *conn = NULL;
	struct timespec deadline;

	*why = NULL;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += gw_config.request_timeout;

	pthread_mutex_lock(&pool_lock);
	for (;;)
	{
		/* Prefer a slot that is already connected. */
		for (int i = 0; i < n_slots; i++)
		{
			if (!slots[i].busy &&
				(conn == NULL || (conn->pg == NULL && slots[i].pg != NULL)))
				conn = &slots[i];
		}
		if (conn != NULL)
			break;
		if (pthread_cond_timedwait(&pool_free, &pool_lock,
								   &deadline) == ETIMEDOUT)
			break;
	}
	if (conn != NULL)
		conn->busy = true;
	pthread_mutex_unlock(&pool_lock);

	if (conn == NULL)
	{
		*why = strdup("no database connection became free in time");
		return NULL;
	}

	if (conn->pg != NULL && !conn_alive(conn->pg))
	{
		PQfinish(conn->pg);
		conn->pg = NULL;
	}
	if (conn->pg == NULL)
	{
		conn->prepared = 0;
		conn->pg = conn_open(why);
		if (conn->pg == NULL)
		{
			gw_pool_release(conn, true);
			return NULL;
		}
	}
	return conn;
}

/* Give a slot back. */
void
gw_pool_release(GwConn *conn, bool broken)
{
	if (conn->pg != NULL &&
		(broken || PQstatus(conn->pg) != CONNECTION_OK ||
		 PQtransactionStatus(conn->pg) != PQTRANS_IDLE))
	{
		PQfinish(conn->pg);
		conn->pg = NULL;
		conn->prepared = 0;
	}
	pthread_mutex_lock(&pool_lock);
	conn->busy = false;
	pthread_cond_signal(&pool_free);
	pthread_mutex_unlock(&pool_lock);
}

/* Close every connection. */
void
gw_pool_close(void)
{
	pthread_mutex_lock(&pool_lock);
	for (int i = 0; i < n_slots; i++)
	{
		if (slots[i].pg != NULL && !slots[i].busy)
		{
			PQfinish(slots[i].pg);
			slots[i].pg = NULL;
		}
	}
	pthread_mutex_unlock(&pool_lock);
}

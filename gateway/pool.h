/*-------------------------------------------------------------------------
 *
 * gateway/pool.h
 *	  The gateway's pool of libpq connections.
 *
 * A fixed number of slots, each holding at most one connection, guarded
 * by one mutex.  A request takes a slot for its whole database work and
 * gives it back; a slot whose connection is missing or found dead when
 * taken is (re)connected then, so the gateway recovers from a database
 * restart on the next request without restarting itself.
 *
 *-------------------------------------------------------------------------
 */
#ifndef GW_POOL_H
#define GW_POOL_H

#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

typedef struct GwConn
{
	PGconn	   *pg;				/* NULL until connected */
	uint64_t	prepared;		/* bit i: statement i is prepared on pg */
	bool		busy;			/* taken by a request */
} GwConn;

/* Create the slots (no connection is opened yet). */
extern bool gw_pool_init(int size);

/*
 * Take a slot with a live connection, waiting up to the request timeout
 * for a free one.  NULL when none is free in time or connecting failed;
 * *why then holds a malloc'd reason for the log.
 */
extern GwConn *gw_pool_acquire(char **why);

/* Give a slot back; broken drops its connection. */
extern void gw_pool_release(GwConn *conn, bool broken);

/* Close every connection (call after all requests have finished). */
extern void gw_pool_close(void);

#endif							/* GW_POOL_H */

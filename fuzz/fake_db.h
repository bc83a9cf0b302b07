/*-------------------------------------------------------------------------
 *
 * fuzz/fake_db.h
 *	  What the fuzz target's stand-in database answers (see fake_db.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef GW_FAKE_DB_H
#define GW_FAKE_DB_H

#include <stdbool.h>
#include <stddef.h>

#include "db.h"
#include "pool.h"

typedef struct GwFakeDb
{
	bool		unreachable;	/* gw_pool_acquire() fails */
	bool		lost;			/* the connection is lost mid-transaction */
	char		sqlstate[6];	/* "" for success, else the error's state */
	const char *message;		/* error message */
	const char *hint;			/* error hint, or NULL */
	const char *value;			/* the call's value on success */
	bool		isnull;			/* the call returned SQL NULL */
	int			calls;			/* acquisitions, transactions and pings */
	size_t		param_bytes;	/* bytes of parameters read */
} GwFakeDb;

extern GwFakeDb gw_fake_db;

#endif							/* GW_FAKE_DB_H */

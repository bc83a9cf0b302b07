/*-------------------------------------------------------------------------
 *
 * src/ids.c
 *	  Fresh random identifiers, from the server's strong random source.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "ids.h"

/* Fill id with a random (version 4) uuid. */
void
bb_random_uuid(pg_uuid_t *id)
{
	if (!pg_strong_random(id->data, UUID_LEN))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate a random uuid")));
	id->data[6] = (id->data[6] & 0x0f) | 0x40;
	id->data[8] = (id->data[8] & 0x3f) | 0x80;
}

/*-------------------------------------------------------------------------
 *
 * src/ids.h
 *	  Fresh random identifiers.
 *
 *-------------------------------------------------------------------------
 */
#ifndef BB_IDS_H
#define BB_IDS_H

#include "postgres.h"

#include "utils/uuid.h"

/* Fill id with a random (version 4) uuid. */
extern void bb_random_uuid(pg_uuid_t *id);

#endif							/* BB_IDS_H */

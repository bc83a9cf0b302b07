/*-------------------------------------------------------------------------
 *
 * src/arrays.h
 *	  Building SQL arrays, for statements that handle a whole batch at once.
 *
 * A BbArray collects Datums (with NULLs) of one element type; the finished
 * array goes to a statement as one parameter and unnest() turns it back
 * into rows there.
 *
 *-------------------------------------------------------------------------
 */
#ifndef BB_ARRAYS_H
#define BB_ARRAYS_H

#include "postgres.h"

#include "spi_query.h"
#include "utils/uuid.h"

typedef struct BbArray
{
	Oid			elemtype;
	int			n;
	int			cap;
	Datum	   *values;
	bool	   *nulls;
} BbArray;

extern void bb_array_init(BbArray *a, Oid elemtype);
extern void bb_array_add(BbArray *a, Datum value, bool isnull);
extern void bb_array_add_text(BbArray *a, const char *value);
extern void bb_array_add_uuid(BbArray *a, const pg_uuid_t *value);

/* Append the finished array as a parameter of its array type. */
extern void bb_param_array(BbParams *p, BbArray *a);

#endif							/* BB_ARRAYS_H */

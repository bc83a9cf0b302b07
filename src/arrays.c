/*-------------------------------------------------------------------------
 *
 * src/arrays.c
 *	  Building SQL arrays for set-based statements; see arrays.h.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "arrays.h"

void
bb_array_init(BbArray *a, Oid elemtype)
{
	a->elemtype = elemtype;
	a->n = 0;
	a->cap = 16;
	a->values = palloc(sizeof(Datum) * a->cap);
	a->nulls = palloc(sizeof(bool) * a->cap);
}

void
bb_array_add(BbArray *a, Datum value, bool isnull)
{
	if (a->n == a->cap)
	{
		a->cap *= 2;
		a->values = repalloc(a->values, sizeof(Datum) * a->cap);
		a->nulls = repalloc(a->nulls, sizeof(bool) * a->cap);
	}
	a->values[a->n] = value;
	a->nulls[a->n] = isnull;
	a->n++;
}

void
bb_array_add_text(BbArray *a, const char *value)
{
	bb_array_add(a, value ? PointerGetDatum(cstring_to_text(value)) : 0,
				 value == NULL);
}

void
bb_array_add_uuid(BbArray *a, const pg_uuid_t *value)
{
	pg_uuid_t  *copy = NULL;

	if (value)
	{
		copy = palloc(sizeof(pg_uuid_t));
		*copy = *value;
	}
	bb_array_add(a, UUIDPGetDatum(copy), value == NULL);
}

/* Append the finished array as a parameter of its array type. */
void
bb_param_array(BbParams *p, BbArray *a)
{
	int16		typlen;
	bool		typbyval;
	char		typalign;
	int			dims[1] = {a->n};
	int			lbs[1] = {1};
	ArrayType  *arr;
	Oid			arraytype = get_array_type(a->elemtype);

	get_typlenbyvalalign(a->elemtype, &typlen, &typbyval, &typalign);
	arr = construct_md_array(a->values, a->nulls, 1, dims, lbs, a->elemtype,
							 typlen, typbyval, typalign);
	bb_param_datum(p, arraytype, PointerGetDatum(arr), false);
}

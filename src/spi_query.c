/*-------------------------------------------------------------------------
 *
 * src/spi_query.c
 *	  Prepared SPI statements and typed access to results; see spi_query.h.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"

#include "spi_query.h"

/* Append one parameter of any type. */
void
bb_param_datum(BbParams *p, Oid type, Datum value, bool isnull)
{
	if (p->n >= BB_MAX_PARAMS)
		elog(ERROR, "too many parameters for one statement");
	p->types[p->n] = type;
	p->values[p->n] = value;
	p->nulls[p->n] = isnull ? 'n' : ' ';
	p->n++;
}

void
bb_param_text(BbParams *p, const char *value)
{
	bb_param_datum(p, TEXTOID,
			  value ? PointerGetDatum(cstring_to_text(value)) : (Datum) 0,
			  value == NULL);
}

void
bb_param_uuid(BbParams *p, const pg_uuid_t *value)
{
	bb_param_datum(p, UUIDOID, UUIDPGetDatum(value), value == NULL);
}

void
bb_param_bool(BbParams *p, bool value)
{
	bb_param_datum(p, BOOLOID, BoolGetDatum(value), false);
}

void
bb_param_int(BbParams *p, int32 value)
{
	bb_param_datum(p, INT4OID, Int32GetDatum(value), false);
}

void
bb_param_jsonb(BbParams *p, Jsonb *value)
{
	bb_param_datum(p, JSONBOID, JsonbPGetDatum(value), value == NULL);
}

void
bb_param_bytea(BbParams *p, bytea *value)
{
	bb_param_datum(p, BYTEAOID, PointerGetDatum(value), value == NULL);
}

void
bb_param_timestamp(BbParams *p, TimestampTz value, bool isnull)
{
	bb_param_datum(p, TIMESTAMPTZOID, TimestampTzGetDatum(value), isnull);
}

/* Run q with the parameters; returns SPI_processed. */
uint64
bb_query_run(BbQuery *q, BbParams *p, bool read_only, int expected)
{
	static BbParams none;
	int			rc;

	if (p == NULL)
		p = &none;
	if (q->plan == NULL)
	{
		SPIPlanPtr	plan = SPI_prepare_cursor(q->sql, p->n, p->types,
											  q->cursor_options);

		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed for \"%s\": %s",
				 q->sql, SPI_result_code_string(SPI_result));
		if (SPI_keepplan(plan) != 0)
			elog(ERROR, "SPI_keepplan failed");
		q->plan = plan;
	}
	rc = SPI_execute_plan(q->plan, p->values, p->nulls, read_only, 0);
	if (rc != expected)
		elog(ERROR, "SPI_execute_plan returned %s for \"%s\"",
			 SPI_result_code_string(rc), q->sql);
	return SPI_processed;
}

Datum
bb_col_datum(uint64 row, int col, bool *isnull)
{
	return SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc,
						 col, isnull);
}

char *
bb_col_text(uint64 row, int col)
{
	bool		isnull;
	Datum		d = bb_col_datum(row, col, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

bool
bb_col_bool(uint64 row, int col)
{
	bool		isnull;
	Datum		d = bb_col_datum(row, col, &isnull);

	return isnull ? false : DatumGetBool(d);
}

int32
bb_col_int(uint64 row, int col)
{
	bool		isnull;
	Datum		d = bb_col_datum(row, col, &isnull);

	return isnull ? 0 : DatumGetInt32(d);
}

bool
bb_col_uuid(uint64 row, int col, pg_uuid_t *out)
{
	bool		isnull;
	Datum		d = bb_col_datum(row, col, &isnull);

	if (isnull)
		return false;
	memcpy(out, DatumGetUUIDP(d), sizeof(pg_uuid_t));
	return true;
}

Jsonb *
bb_col_jsonb(uint64 row, int col)
{
	bool		isnull;
	Datum		d = bb_col_datum(row, col, &isnull);

	return isnull ? NULL : DatumGetJsonbP(d);
}

TimestampTz
bb_col_timestamp(uint64 row, int col, bool *isnull)
{
	return DatumGetTimestampTz(bb_col_datum(row, col, isnull));
}

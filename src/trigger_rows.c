/*-------------------------------------------------------------------------
 *
 * src/trigger_rows.c
 *	  What the row triggers share; see trigger_rows.h.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "executor/spi.h"

#include "trigger_rows.h"

/* The trigger data of a BEFORE or AFTER row trigger. */
TriggerData *
bb_row_trigger_data(FunctionCallInfo fcinfo, const char *name, bool before)
{
	TriggerData *td;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("%s() must be called as a trigger", name)));
	td = (TriggerData *) fcinfo->context;
	if ((before ? !TRIGGER_FIRED_BEFORE(td->tg_event) :
		 !TRIGGER_FIRED_AFTER(td->tg_event)) ||
		!TRIGGER_FIRED_FOR_ROW(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("%s() must fire %s ... FOR EACH ROW", name,
						before ? "BEFORE" : "AFTER")));
	return td;
}

/* Attribute number of a column the trigger relies on. */
int
bb_row_attnum(TupleDesc desc, const char *name)
{
	int			attnum = SPI_fnumber(desc, name);

	if (attnum <= 0)
		elog(ERROR, "column \"%s\" is missing from the trigger's table", name);
	return attnum;
}

/* Value of a column of the row; *isnull set. */
Datum
bb_row_col(HeapTuple tuple, TupleDesc desc, const char *name, bool *isnull)
{
	return heap_getattr(tuple, bb_row_attnum(desc, name), desc, isnull);
}

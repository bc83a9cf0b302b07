/*-------------------------------------------------------------------------
 *
 * src/trigger_rows.h
 *	  What the row triggers on task and deployment share: checking how they
 *	  were called, and reading a column of a row by name.
 *
 *-------------------------------------------------------------------------
 */
#ifndef BB_TRIGGER_ROWS_H
#define BB_TRIGGER_ROWS_H

#include "postgres.h"

#include "commands/trigger.h"

/*
 * The trigger data of a row trigger that fires BEFORE (before true) or
 * AFTER; raises the protocol error naming the function otherwise.
 */
extern TriggerData *bb_row_trigger_data(FunctionCallInfo fcinfo,
										const char *name, bool before);

/* Attribute number of a column the trigger relies on. */
extern int	bb_row_attnum(TupleDesc desc, const char *name);

/* Value of a column of the row; *isnull set. */
extern Datum bb_row_col(HeapTuple tuple, TupleDesc desc, const char *name,
						bool *isnull);

#endif							/* BB_TRIGGER_ROWS_H */

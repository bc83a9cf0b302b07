/*-------------------------------------------------------------------------
 *
 * src/stage_guard.c
 *	  BEFORE triggers that keep task and deployment rows on the stage
 *	  machine and stamp their times.
 *
 * Both triggers fire for INSERT and UPDATE of one row:
 *	- a new row must be in stage pending; entered[pending] is set to its
 *	  creation time and updated is left NULL;
 *	- every UPDATE sets updated; a change of stage must be a legal move
 *	  (see stage.c) and sets entered[new stage] when that is still NULL;
 *	- a task entering a final stage gets completed set and its lease
 *	  columns cleared;
 *	- a deployment takes its rules (plan_only, force) from its task, and
 *	  may enter installing only once every deployment it depends on is
 *	  completed or no_change.  An unresolved dependency blocks it too.
 *
 * planning, planned and no_change -> pending are refused except while
 * lease expiry runs, which sets bb_stage_lease_override.  Times are the transaction's start time,
 * the same clock as now() and the tables' defaults.
 *
 * The task trigger needs no SPI: everything it reads is in the row.  The
 * deployment trigger connects to SPI only when the stage changes.  Neither
 * writes any table, so a statement that fires them may itself run inside
 * another trigger.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "batch_context.h"
#include "trigger_rows.h"
#include "errcodes.h"
#include "json_out.h"
#include "spi_query.h"
#include "stage.h"

/* Columns a trigger replaces in the row it returns. */
#define MAX_CHANGES 8

typedef struct RowChanges
{
	int			n;
	int			cols[MAX_CHANGES];
	Datum		values[MAX_CHANGES];
	bool		nulls[MAX_CHANGES];
} RowChanges;

static BbQuery q_task_rules = BB_QUERY(
	"SELECT command::text, plan_only FROM bluebricks.task "
	"WHERE task_id = $1");

static BbQuery q_blockers = BB_QUERY(
	"SELECT dd.depends_on, d.stage::text "
	"FROM bluebricks.deployment_dependency dd "
	"LEFT JOIN bluebricks.deployment d "
	"  ON d.task_id = dd.task_id AND d.guid = dd.depends_on_guid "
	"WHERE dd.task_id = $1 AND dd.guid = $2 "
	"  AND (d.guid IS NULL OR d.stage NOT IN ('completed', 'no_change')) "
	"ORDER BY dd.depends_on");

/* Check that the trigger fires BEFORE INSERT OR UPDATE FOR EACH ROW. */
static TriggerData *
guard_trigger_data(FunctionCallInfo fcinfo, const char *name)
{
	TriggerData *td = bb_row_trigger_data(fcinfo, name, true);

	if (!(TRIGGER_FIRED_BY_INSERT(td->tg_event) ||
		  TRIGGER_FIRED_BY_UPDATE(td->tg_event)))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("%s() must fire BEFORE INSERT OR UPDATE FOR EACH ROW",
						name)));
	return td;
}

/* Stage of a row (the column is NOT NULL). */
static BbStage
row_stage(HeapTuple tuple, TupleDesc desc)
{
	bool		isnull;
	Datum		d = bb_row_col(tuple, desc, "stage", &isnull);

	if (isnull)
		elog(ERROR, "stage of a row is null");
	return bb_stage_from_datum(d);
}

/* Text form of a row's uuid column. */
static char *
row_uuid_text(HeapTuple tuple, TupleDesc desc, const char *name)
{
	bool		isnull;
	Datum		d = bb_row_col(tuple, desc, name, &isnull);

	if (isnull)
		return pstrdup("(null)");
	return bb_uuid_text(DatumGetUUIDP(d));
}

/* Text of a row's text column, for messages. */
static char *
row_text(HeapTuple tuple, TupleDesc desc, const char *name)
{
	bool		isnull;
	Datum		d = bb_row_col(tuple, desc, name, &isnull);

	if (isnull)
		return pstrdup("(null)");
	return TextDatumGetCString(d);
}

/* Queue a replacement of one column. */
static void
change(RowChanges *rc, TupleDesc desc, const char *name, Datum value,
	   bool isnull)
{
	if (rc->n >= MAX_CHANGES)
		elog(ERROR, "too many column changes in one trigger");
	rc->cols[rc->n] = bb_row_attnum(desc, name);
	rc->values[rc->n] = value;
	rc->nulls[rc->n] = isnull;
	rc->n++;
}

/*
 * The entered array of a row with stage's slot set to at if it was NULL;
 * returns false (and leaves *result alone) when nothing changes.  The
 * result always has BB_NUM_STAGES elements from index 1; elements of the
 * old array outside 1..BB_NUM_STAGES are dropped.
 */
static bool
stamp_entered(Datum entered, bool isnull, BbStage stage, TimestampTz at,
			  Datum *result)
{
	Datum		values[BB_NUM_STAGES];
	bool		nulls[BB_NUM_STAGES];
	int			dims[1] = {BB_NUM_STAGES};
	int			lbs[1] = {1};
	bool		well_formed = false;

	for (int i = 0; i < BB_NUM_STAGES; i++)
	{
		values[i] = (Datum) 0;
		nulls[i] = true;
	}
	if (!isnull)
	{
		ArrayType  *arr = DatumGetArrayTypeP(entered);

		if (ARR_NDIM(arr) == 1)
		{
			Datum	   *elems;
			bool	   *enulls;
			int			n;
			int			lb = ARR_LBOUND(arr)[0];

			deconstruct_array(arr, TIMESTAMPTZOID, sizeof(TimestampTz),
							  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE,
							  &elems, &enulls, &n);
			for (int k = 0; k < n; k++)
			{
				int			slot = lb + k - 1;

				if (slot >= 0 && slot < BB_NUM_STAGES)
				{
					values[slot] = elems[k];
					nulls[slot] = enulls[k];
				}
			}
			well_formed = (lb == 1 && n == BB_NUM_STAGES);
		}
	}
	if (well_formed && !nulls[stage])
		return false;
	if (nulls[stage])
	{
		values[stage] = TimestampTzGetDatum(at);
		nulls[stage] = false;
	}
	*result = PointerGetDatum(construct_md_array(values, nulls, 1, dims, lbs,
												 TIMESTAMPTZOID,
												 sizeof(TimestampTz),
												 FLOAT8PASSBYVAL,
												 TYPALIGN_DOUBLE));
	return true;
}

/* Queue entered[stage] = at unless already set. */
static void
change_entered(RowChanges *rc, HeapTuple tuple, TupleDesc desc,
			   BbStage stage, TimestampTz at)
{
	bool		isnull;
	Datum		entered = bb_row_col(tuple, desc, "entered", &isnull);
	Datum		stamped;

	if (stamp_entered(entered, isnull, stage, at, &stamped))
		change(rc, desc, "entered", stamped, false);
}

/* Refuse a new row that is not pending. */
static void
check_new_row_pending(const char *what, const char *id, BbStage stage)
{
	if (stage != BB_STAGE_PENDING)
		ereport(ERROR,
				(errcode(ERRCODE_BB_INVALID_FIELD),
				 errmsg("a new %s must be in stage \"pending\"", what),
				 errdetail("The new %s %s was given stage \"%s\".",
						   what, id, bb_stage_names[stage]),
				 errhint("Create it pending and move it along the stage "
						 "machine afterwards.")));
}

/* Stamp a new row: entered[pending] = created, updated NULL. */
static void
stamp_insert(RowChanges *rc, HeapTuple tuple, TupleDesc desc)
{
	bool		isnull;
	Datum		created = bb_row_col(tuple, desc, "created", &isnull);
	TimestampTz at = isnull ? GetCurrentTransactionStartTimestamp() :
		DatumGetTimestampTz(created);

	change_entered(rc, tuple, desc, BB_STAGE_PENDING, at);
	change(rc, desc, "updated", (Datum) 0, true);
}

/* Whether the move is allowed, counting the lease-expiry exception. */
static bool
move_allowed(BbStage from, BbStage to, const BbStageRules *rules)
{
	/* Lease expiry sends a task and its plans back to pending. */
	if (to == BB_STAGE_PENDING && bb_stage_lease_override &&
		(from == BB_STAGE_PLANNING || from == BB_STAGE_PLANNED ||
		 from == BB_STAGE_NO_CHANGE))
		return true;
	return bb_stage_move_allowed(from, to, rules);
}

/* The row with the queued changes applied, or the row itself. */
static HeapTuple
apply_changes(HeapTuple tuple, TupleDesc desc, RowChanges *rc)
{
	if (rc->n == 0)
		return tuple;
	return heap_modify_tuple_by_cols(tuple, desc, rc->n, rc->cols,
									 rc->values, rc->nulls);
}

/*
 * bluebricks.task_stage_guard() RETURNS trigger
 *
 * BEFORE INSERT OR UPDATE ON bluebricks.task FOR EACH ROW.
 */
PG_FUNCTION_INFO_V1(bb_task_stage_guard);
Datum
bb_task_stage_guard(PG_FUNCTION_ARGS)
{
	TriggerData *td = guard_trigger_data(fcinfo, "task_stage_guard");
	TupleDesc	desc = td->tg_relation->rd_att;
	TimestampTz now = GetCurrentTransactionStartTimestamp();
	RowChanges	rc = {0};
	HeapTuple	newrow;
	BbStage		from;
	BbStage		to;

	if (TRIGGER_FIRED_BY_INSERT(td->tg_event))
	{
		newrow = td->tg_trigtuple;
		to = row_stage(newrow, desc);
		if (to != BB_STAGE_PENDING)
			check_new_row_pending("task",
								  row_uuid_text(newrow, desc, "task_id"), to);
		stamp_insert(&rc, newrow, desc);
		change(&rc, desc, "completed", (Datum) 0, true);
		return PointerGetDatum(apply_changes(newrow, desc, &rc));
	}

	newrow = td->tg_newtuple;
	to = row_stage(newrow, desc);
	from = row_stage(td->tg_trigtuple, desc);
	change(&rc, desc, "updated", TimestampTzGetDatum(now), false);
	if (from != to)
	{
		BbStageRules rules;
		bool		isnull;
		bool		plan_only;
		char	   *command;

		plan_only = DatumGetBool(bb_row_col(newrow, desc, "plan_only",
											&isnull)) && !isnull;
		command = SPI_getvalue(newrow, desc, bb_row_attnum(desc, "command"));
		bb_stage_rules_for(command, plan_only, &rules);
		if (!move_allowed(from, to, &rules))
			bb_stage_raise_invalid("task",
								   row_uuid_text(newrow, desc, "task_id"),
								   from, to, &rules);

		change_entered(&rc, newrow, desc, to, now);
		if (bb_stage_is_final(to))
		{
			change(&rc, desc, "completed", TimestampTzGetDatum(now), false);
			change(&rc, desc, "runner_id", (Datum) 0, true);
			change(&rc, desc, "lease_token_hash", (Datum) 0, true);
			change(&rc, desc, "lease_expires", (Datum) 0, true);
			change(&rc, desc, "lease_duration", (Datum) 0, true);
		}
	}
	return PointerGetDatum(apply_changes(newrow, desc, &rc));
}

/* Rules of a deployment's task (SPI connected). */
static void
deployment_rules(Datum task_id, BbStageRules *rules)
{
	BbParams	p = {0};

	if (bb_batch_rules(DatumGetUUIDP(task_id), rules))
		return;
	bb_param_uuid(&p, DatumGetUUIDP(task_id));
	if (bb_query_run(&q_task_rules, &p, false, SPI_OK_SELECT) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_BB_TASK_NOT_FOUND),
				 errmsg("task %s not found",
						bb_uuid_text(DatumGetUUIDP(task_id))),
				 errdetail("A deployment's stage can change only while its "
						   "task exists and is visible.")));
	bb_stage_rules_for(bb_col_text(0, 1), bb_col_bool(0, 2), rules);
}

/* Refuse installing while a dependency is not done (SPI connected). */
static void
check_dependencies(Datum task_id, Datum guid, const char *unique_id)
{
	BbParams	p = {0};
	uint64		n;
	StringInfoData detail;

	bb_param_uuid(&p, DatumGetUUIDP(task_id));
	bb_param_uuid(&p, DatumGetUUIDP(guid));
	n = bb_query_run(&q_blockers, &p, false, SPI_OK_SELECT);
	if (n == 0)
		return;

	initStringInfo(&detail);
	appendStringInfoString(&detail, "Not ready: ");
	for (uint64 i = 0; i < n; i++)
	{
		char	   *name = bb_col_text(i, 1);
		char	   *stage = bb_col_text(i, 2);

		if (i > 0)
			appendStringInfoString(&detail, ", ");
		if (stage == NULL)
			appendStringInfo(&detail, "\"%s\" (no such deployment yet)", name);
		else
			appendStringInfo(&detail, "\"%s\" (%s)", name, stage);
	}
	appendStringInfoChar(&detail, '.');
	ereport(ERROR,
			(errcode(ERRCODE_BB_DEPENDENCY_NOT_READY),
			 errmsg("deployment %s cannot enter \"installing\" before its "
					"dependencies", unique_id),
			 errdetail("%s", detail.data),
			 errhint("A dependency is ready once it is completed or "
					 "no_change.")));
}

/*
 * bluebricks.deployment_stage_guard() RETURNS trigger
 *
 * BEFORE INSERT OR UPDATE ON bluebricks.deployment FOR EACH ROW.
 */
PG_FUNCTION_INFO_V1(bb_deployment_stage_guard);
Datum
bb_deployment_stage_guard(PG_FUNCTION_ARGS)
{
	TriggerData *td = guard_trigger_data(fcinfo, "deployment_stage_guard");
	TupleDesc	desc = td->tg_relation->rd_att;
	TimestampTz now = GetCurrentTransactionStartTimestamp();
	RowChanges	rc = {0};
	HeapTuple	newrow;
	BbStage		from;
	BbStage		to;

	if (TRIGGER_FIRED_BY_INSERT(td->tg_event))
	{
		newrow = td->tg_trigtuple;
		to = row_stage(newrow, desc);
		if (to != BB_STAGE_PENDING)
			check_new_row_pending("deployment",
								  row_text(newrow, desc, "unique_id"), to);
		stamp_insert(&rc, newrow, desc);
		return PointerGetDatum(apply_changes(newrow, desc, &rc));
	}

	newrow = td->tg_newtuple;
	to = row_stage(newrow, desc);
	from = row_stage(td->tg_trigtuple, desc);
	change(&rc, desc, "updated", TimestampTzGetDatum(now), false);
	if (from != to)
	{
		bool		isnull;
		Datum		task_id = bb_row_col(newrow, desc, "task_id", &isnull);
		Datum		guid = bb_row_col(newrow, desc, "guid", &isnull);
		BbStageRules rules;

		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		deployment_rules(task_id, &rules);
		if (!move_allowed(from, to, &rules))
			bb_stage_raise_invalid("deployment",
								   row_text(newrow, desc, "unique_id"),
								   from, to, &rules);
		if (to == BB_STAGE_INSTALLING)
			check_dependencies(task_id, guid,
							   row_text(newrow, desc, "unique_id"));
		if (SPI_finish() != SPI_OK_FINISH)
			elog(ERROR, "SPI_finish failed");

		change_entered(&rc, newrow, desc, to, now);
	}
	return PointerGetDatum(apply_changes(newrow, desc, &rc));
}

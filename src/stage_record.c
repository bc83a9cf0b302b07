/*-------------------------------------------------------------------------
 *
 * src/stage_record.c
 *	  AFTER triggers that record stage changes and keep derived columns.
 *
 * bb_task_stage_record, AFTER INSERT OR UPDATE ON bluebricks.task:
 *	- on creation, a change of stage, or a new non-NULL error text, adds a
 *	  stage_history row (guid NULL) and sends NOTIFY bluebricks_task with
 *	  {"taskId": ..., "stage": ...};
 *	- a task entering canceled cancels its deployments not yet final.
 *
 * bb_deployment_stage_record, AFTER INSERT OR UPDATE OR DELETE ON
 * bluebricks.deployment:
 *	- adds a stage_history row with the deployment's guid on creation, a
 *	  change of stage, or a new non-NULL error text;
 *	- keeps task.state_counts (one count per stage, 1-based in enum order):
 *	  one UPDATE of the task row per inserted, moved or deleted deployment,
 *	  or one per batch while add_deployments runs (batch_context.c).  When
 *	  the task is being deleted too (the cascade from bluebricks.task) that
 *	  UPDATE finds no row, which is fine.
 *
 * Reentrancy: the UPDATEs these triggers run fire the guards and these
 * triggers again (cancel -> deployment record -> task counts -> task
 * record).  The inner task record sees no stage change and returns early,
 * so the recursion stops after one level.  Nothing is cached between
 * calls except prepared plans.
 *
 * The error text recorded is the row's error column when it differs from
 * the old row's; an unchanged error is not repeated in the history.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "commands/async.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/uuid.h"

#include "batch_context.h"
#include "trigger_rows.h"
#include "errcodes.h"
#include "json_out.h"
#include "spi_query.h"
#include "stage.h"

#define TASK_CHANNEL "bluebricks_task"

static BbQuery q_history = BB_QUERY(
	"INSERT INTO bluebricks.stage_history "
	"  (task_id, guid, from_stage, to_stage, error) "
	"VALUES ($1, $2, $3::bluebricks.stage, $4::bluebricks.stage, $5)");

static BbQuery q_cancel_deployments = BB_QUERY(
	"UPDATE bluebricks.deployment SET stage = 'canceled' "
	"WHERE task_id = $1 "
	"  AND stage NOT IN ('canceled', 'completed', 'error')");

/* One side (old or new) of the row a record trigger fired for. */
typedef struct RowState
{
	pg_uuid_t	task_id;
	pg_uuid_t	guid;			/* deployments only */
	BbStage		stage;
	text	   *error;			/* NULL when the column is NULL */
} RowState;

/* Read task_id, guid (if with_guid), stage and error of a row. */
static void
read_row(HeapTuple tuple, TupleDesc desc, bool with_guid, RowState *row)
{
	bool		isnull;
	Datum		d;

	d = bb_row_col(tuple, desc, "task_id", &isnull);
	if (isnull)
		elog(ERROR, "task_id of a row is null");
	row->task_id = *DatumGetUUIDP(d);
	if (with_guid)
	{
		d = bb_row_col(tuple, desc, "guid", &isnull);
		if (isnull)
			elog(ERROR, "guid of a row is null");
		row->guid = *DatumGetUUIDP(d);
	}
	d = bb_row_col(tuple, desc, "stage", &isnull);
	if (isnull)
		elog(ERROR, "stage of a row is null");
	row->stage = bb_stage_from_datum(d);
	d = bb_row_col(tuple, desc, "error", &isnull);
	row->error = isnull ? NULL : DatumGetTextPP(d);
}

/* Whether the new row brings an error text the old one did not have. */
static bool
error_is_new(const text *old_error, const text *new_error)
{
	if (new_error == NULL)
		return false;
	if (old_error == NULL)
		return true;
	return VARSIZE_ANY_EXHDR(old_error) != VARSIZE_ANY_EXHDR(new_error) ||
		memcmp(VARDATA_ANY(old_error), VARDATA_ANY(new_error),
			   VARSIZE_ANY_EXHDR(new_error)) != 0;
}

/* Add a stage_history row (SPI connected); from NULL when has_from false. */
static void
add_history(const pg_uuid_t *task_id, const pg_uuid_t *guid, bool has_from,
			BbStage from, BbStage to, const text *error)
{
	BbParams	p = {0};

	bb_param_uuid(&p, task_id);
	bb_param_uuid(&p, guid);
	bb_param_text(&p, has_from ? bb_stage_names[from] : NULL);
	bb_param_text(&p, bb_stage_names[to]);
	bb_param_text(&p, error ? text_to_cstring(error) : NULL);
	if (bb_query_run(&q_history, &p, false, SPI_OK_INSERT) != 1)
		elog(ERROR, "stage_history row was not inserted");
}

/* Queue the NOTIFY of a task's stage. */
static void
notify_task(const pg_uuid_t *task_id, BbStage stage)
{
	StringInfoData payload;

	initStringInfo(&payload);
	appendStringInfoString(&payload, "{\"taskId\": ");
	bb_json_uuid(&payload, task_id);
	appendStringInfo(&payload, ", \"stage\": \"%s\"}", bb_stage_names[stage]);
	Async_Notify(TASK_CHANNEL, payload.data);
	pfree(payload.data);
}

/*
 * bluebricks.task_stage_record() RETURNS trigger
 *
 * AFTER INSERT OR UPDATE ON bluebricks.task FOR EACH ROW.
 */
PG_FUNCTION_INFO_V1(bb_task_stage_record);
Datum
bb_task_stage_record(PG_FUNCTION_ARGS)
{
	TriggerData *td = bb_row_trigger_data(fcinfo, "task_stage_record", false);
	TupleDesc	desc = td->tg_relation->rd_att;
	bool		inserted = TRIGGER_FIRED_BY_INSERT(td->tg_event);
	RowState	oldrow = {0};
	RowState	newrow = {0};
	bool		stage_changed;
	bool		new_error;

	if (!inserted && !TRIGGER_FIRED_BY_UPDATE(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("task_stage_record() must fire for INSERT or "
						"UPDATE")));

	read_row(inserted ? td->tg_trigtuple : td->tg_newtuple, desc, false,
			 &newrow);
	if (inserted)
	{
		stage_changed = true;
		new_error = newrow.error != NULL;
	}
	else
	{
		read_row(td->tg_trigtuple, desc, false, &oldrow);
		stage_changed = oldrow.stage != newrow.stage;
		new_error = error_is_new(oldrow.error, newrow.error);
	}
	if (!stage_changed && !new_error)
		return PointerGetDatum(NULL);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	add_history(&newrow.task_id, NULL, !inserted, oldrow.stage, newrow.stage,
				new_error ? newrow.error : NULL);
	notify_task(&newrow.task_id, newrow.stage);
	if (stage_changed && !inserted && newrow.stage == BB_STAGE_CANCELED)
	{
		BbParams	p = {0};

		bb_param_uuid(&p, &newrow.task_id);
		(void) bb_query_run(&q_cancel_deployments, &p, false, SPI_OK_UPDATE);
	}
	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed");
	return PointerGetDatum(NULL);
}

/*
 * bluebricks.deployment_stage_record() RETURNS trigger
 *
 * AFTER INSERT OR UPDATE OR DELETE ON bluebricks.deployment FOR EACH ROW.
 */
PG_FUNCTION_INFO_V1(bb_deployment_stage_record);
Datum
bb_deployment_stage_record(PG_FUNCTION_ARGS)
{
	TriggerData *td = bb_row_trigger_data(fcinfo, "deployment_stage_record", false);
	TupleDesc	desc = td->tg_relation->rd_att;
	RowState	oldrow = {0};
	RowState	newrow = {0};

	if (TRIGGER_FIRED_BY_INSERT(td->tg_event))
	{
		read_row(td->tg_trigtuple, desc, true, &newrow);
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		add_history(&newrow.task_id, &newrow.guid, false, 0, newrow.stage,
					newrow.error);
		bb_batch_count(&newrow.task_id, newrow.stage, 1);
	}
	else if (TRIGGER_FIRED_BY_DELETE(td->tg_event))
	{
		read_row(td->tg_trigtuple, desc, true, &oldrow);
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		bb_batch_count(&oldrow.task_id, oldrow.stage, -1);
	}
	else if (TRIGGER_FIRED_BY_UPDATE(td->tg_event))
	{
		bool		same_task;
		bool		stage_changed;
		bool		new_error;

		read_row(td->tg_trigtuple, desc, true, &oldrow);
		read_row(td->tg_newtuple, desc, true, &newrow);
		same_task = memcmp(&oldrow.task_id, &newrow.task_id,
						   sizeof(pg_uuid_t)) == 0;
		stage_changed = oldrow.stage != newrow.stage;
		new_error = error_is_new(oldrow.error, newrow.error);
		if (same_task && !stage_changed && !new_error)
			return PointerGetDatum(NULL);

		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		if (stage_changed || new_error)
			add_history(&newrow.task_id, &newrow.guid, true, oldrow.stage,
						newrow.stage, new_error ? newrow.error : NULL);
		if (!same_task)
		{
			bb_batch_count(&oldrow.task_id, oldrow.stage, -1);
			bb_batch_count(&newrow.task_id, newrow.stage, 1);
		}
		else if (stage_changed)
		{
			bb_batch_count(&newrow.task_id, oldrow.stage, -1);
			bb_batch_count(&newrow.task_id, newrow.stage, 1);
		}
	}
	else
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("deployment_stage_record() must fire for INSERT, "
						"UPDATE or DELETE")));

	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed");
	return PointerGetDatum(NULL);
}

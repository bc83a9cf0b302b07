/*-------------------------------------------------------------------------
 *
 * src/batch_context.c
 *	  What the deployment triggers may take from the batch being applied;
 *	  see batch_context.h.
 *
 * The state is one static struct, valid only within the transaction (and
 * subtransaction level) that began it: a batch that errors out is either
 * abandoned by its caller or, failing that, ignored by the next call,
 * which checks the transaction and nesting level it was begun in.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "executor/spi.h"
#include "storage/proc.h"

#include "batch_context.h"
#include "spi_query.h"

static struct
{
	bool		active;
	LocalTransactionId lxid;
	int			level;			/* GetCurrentTransactionNestLevel() */
	pg_uuid_t	task_id;
	BbStageRules rules;
	int			deltas[BB_NUM_STAGES];
} batch;

static BbQuery q_counts_add = BB_QUERY(
	"UPDATE bluebricks.task "
	"SET state_counts = ARRAY(SELECT c + d "
	"    FROM unnest(state_counts, $2) WITH ORDINALITY AS u (c, d, i) "
	"    ORDER BY i) "
	"WHERE task_id = $1");

static BbQuery q_count_add = BB_QUERY(
	"UPDATE bluebricks.task "
	"SET state_counts[$2] = state_counts[$2] + $3 "
	"WHERE task_id = $1");

/* Whether a batch on this task is running in this (sub)transaction. */
static bool
batch_on(const pg_uuid_t *task_id)
{
	return batch.active && batch.lxid == MyProc->lxid &&
		batch.level == GetCurrentTransactionNestLevel() &&
		memcmp(&batch.task_id, task_id, sizeof(pg_uuid_t)) == 0;
}

void
bb_batch_begin(const pg_uuid_t *task_id, const BbStageRules *rules)
{
	memset(&batch, 0, sizeof(batch));
	batch.active = true;
	batch.lxid = MyProc->lxid;
	batch.level = GetCurrentTransactionNestLevel();
	batch.task_id = *task_id;
	batch.rules = *rules;
}

void
bb_batch_abandon(void)
{
	batch.active = false;
}

/* Write the batch's count changes (SPI connected) and end the batch. */
void
bb_batch_end(void)
{
	BbParams	p = {0};
	bool		any = false;
	Datum		values[BB_NUM_STAGES];
	ArrayType  *arr;

	if (!batch_on(&batch.task_id))
	{
		batch.active = false;
		return;
	}
	batch.active = false;
	for (int s = 0; s < BB_NUM_STAGES; s++)
	{
		values[s] = Int32GetDatum(batch.deltas[s]);
		any |= batch.deltas[s] != 0;
	}
	if (!any)
		return;
	arr = construct_array(values, BB_NUM_STAGES, INT4OID, sizeof(int32),
						  true, TYPALIGN_INT);
	bb_param_uuid(&p, &batch.task_id);
	bb_param_datum(&p, INT4ARRAYOID, PointerGetDatum(arr), false);
	(void) bb_query_run(&q_counts_add, &p, false, SPI_OK_UPDATE);
}

/* The task's rules, when a batch on that task is running. */
bool
bb_batch_rules(const pg_uuid_t *task_id, BbStageRules *rules)
{
	if (!batch_on(task_id))
		return false;
	*rules = batch.rules;
	return true;
}

/* Add delta to the task's count of stage; see batch_context.h. */
void
bb_batch_count(const pg_uuid_t *task_id, BbStage stage, int delta)
{
	BbParams	p = {0};

	if (batch_on(task_id))
	{
		batch.deltas[stage] += delta;
		return;
	}
	bb_param_uuid(&p, task_id);
	bb_param_int(&p, (int32) stage + 1);
	bb_param_int(&p, delta);
	(void) bb_query_run(&q_count_add, &p, false, SPI_OK_UPDATE);
}

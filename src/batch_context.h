/*-------------------------------------------------------------------------
 *
 * src/batch_context.h
 *	  What the deployment triggers may take from the batch being applied.
 *
 * While add_deployments applies a batch to a task (whose row it holds
 * locked), the triggers on bluebricks.deployment need not look up the
 * task's rules for every row, and the task's state_counts are updated once
 * at the end instead of once per deployment.  Outside a batch (a plain
 * UPDATE by an application) both happen row by row.
 *
 *-------------------------------------------------------------------------
 */
#ifndef BB_BATCH_CONTEXT_H
#define BB_BATCH_CONTEXT_H

#include "postgres.h"

#include "stage.h"
#include "utils/uuid.h"

/* Start a batch on the task; its rules are known and its row is locked. */
extern void bb_batch_begin(const pg_uuid_t *task_id,
						   const BbStageRules *rules);

/* Write the batch's count changes (SPI connected) and end the batch. */
extern void bb_batch_end(void);

/* End the batch without writing, after an error. */
extern void bb_batch_abandon(void);

/* The task's rules, when a batch on that task is running. */
extern bool bb_batch_rules(const pg_uuid_t *task_id, BbStageRules *rules);

/*
 * Add delta to the task's count of stage: kept for the batch's end when a
 * batch on that task is running, else written at once (SPI connected).
 */
extern void bb_batch_count(const pg_uuid_t *task_id, BbStage stage,
						   int delta);

#endif							/* BB_BATCH_CONTEXT_H */

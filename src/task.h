/*-------------------------------------------------------------------------
 *
 * src/task.h
 *	  Shared look-ups of one task row.
 *
 *-------------------------------------------------------------------------
 */
#ifndef BB_TASK_H
#define BB_TASK_H

#include "postgres.h"

#include "stage.h"
#include "utils/uuid.h"

/* What the writers of a task need to know about it. */
typedef struct BbTaskHead
{
	BbStage		stage;
	BbStageRules rules;
	char	   *error;			/* latest error text, or NULL */
} BbTaskHead;

/*
 * Lock the task row FOR UPDATE and read its head (SPI connected).  Raises
 * ERRCODE_BB_TASK_NOT_FOUND when it does not exist or is not visible.
 */
extern void bb_task_lock(const pg_uuid_t *task_id, BbTaskHead *head);

/* Raise ERRCODE_BB_TASK_NOT_FOUND for the task. */
extern void bb_task_not_found(const pg_uuid_t *task_id)
			pg_attribute_noreturn();

#endif							/* BB_TASK_H */

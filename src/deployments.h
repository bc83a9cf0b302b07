/*-------------------------------------------------------------------------
 *
 * src/deployments.h
 *	  Inserting and updating a task's deployments from API items.
 *
 *-------------------------------------------------------------------------
 */
#ifndef BB_DEPLOYMENTS_H
#define BB_DEPLOYMENTS_H

#include "postgres.h"

#include "lib/stringinfo.h"
#include "task.h"
#include "utils/jsonb.h"

/* Most items one batch may hold. */
#define BB_MAX_BATCH 5000

/*
 * Apply a batch of items to the task (SPI connected, task row locked).
 * path names the array in errors ("items").  When out is not NULL, append
 * [{"deployment": guid}, ...] in input order.
 */
extern void bb_deployments_add(const pg_uuid_t *task_id,
							   const BbTaskHead *head,
							   JsonbContainer *items, const char *path,
							   StringInfo out);

#endif							/* BB_DEPLOYMENTS_H */

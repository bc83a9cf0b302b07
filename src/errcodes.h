/*-------------------------------------------------------------------------
 *
 * src/errcodes.h
 *	  SQLSTATEs raised by bluebricks_task.
 *
 * All of them are in class BB, which PostgreSQL does not use.  README lists
 * them, with the HTTP status the gateway maps each to; the gateway keeps its
 * own copy of that table, so change both together.
 *
 *-------------------------------------------------------------------------
 */
#ifndef BB_ERRCODES_H
#define BB_ERRCODES_H

#include "utils/elog.h"

/* no such task, or not visible to this request (HTTP 404) */
#define ERRCODE_BB_TASK_NOT_FOUND			MAKE_SQLSTATE('B','B','0','0','1')
/* a move the stage machine forbids (HTTP 409) */
#define ERRCODE_BB_INVALID_TRANSITION		MAKE_SQLSTATE('B','B','0','0','2')
/* lease held by another runner, or a stale or wrong token (HTTP 409) */
#define ERRCODE_BB_LEASE_CONFLICT			MAKE_SQLSTATE('B','B','0','0','3')
/* a deployment may not install before its dependencies (HTTP 409) */
#define ERRCODE_BB_DEPENDENCY_NOT_READY		MAKE_SQLSTATE('B','B','0','0','4')
/* a document with a missing, mistyped or invalid field (HTTP 422) */
#define ERRCODE_BB_INVALID_FIELD			MAKE_SQLSTATE('B','B','0','0','5')
/* a dependency or parent cycle among deployments (HTTP 422) */
#define ERRCODE_BB_DEPENDENCY_CYCLE			MAKE_SQLSTATE('B','B','0','0','6')
/* a referenced environment, parent or runner does not exist (HTTP 422) */
#define ERRCODE_BB_UNKNOWN_REFERENCE		MAKE_SQLSTATE('B','B','0','0','7')
/* a task id that is already taken (HTTP 409) */
#define ERRCODE_BB_DUPLICATE_TASK			MAKE_SQLSTATE('B','B','0','0','8')
/* credentials that do not match (HTTP 401) */
#define ERRCODE_BB_BAD_CREDENTIALS			MAKE_SQLSTATE('B','B','0','0','9')
/* the request lacks a permission (HTTP 403); standard 42501 */
#define ERRCODE_BB_PERMISSION_DENIED		ERRCODE_INSUFFICIENT_PRIVILEGE

#endif							/* BB_ERRCODES_H */

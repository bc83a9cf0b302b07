/*
 * src/unimplemented.c
 *	  Placeholders for entry points still being written; each is removed
 *	  when its real definition lands.
 */
#include "postgres.h"
#include "fmgr.h"

#define BB_PLACEHOLDER(name) \
	PG_FUNCTION_INFO_V1(name); \
	Datum name(PG_FUNCTION_ARGS) \
	{ \
		ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED), \
						errmsg("%s is not available yet", #name))); \
		PG_RETURN_NULL(); \
	}

BB_PLACEHOLDER(bb_pending_tasks)
BB_PLACEHOLDER(bb_claim_tasks)
BB_PLACEHOLDER(bb_expire_leases)
BB_PLACEHOLDER(bb_create_runner)
BB_PLACEHOLDER(bb_authenticate_basic)
BB_PLACEHOLDER(bb_task_stage_guard)
BB_PLACEHOLDER(bb_task_stage_record)
BB_PLACEHOLDER(bb_deployment_stage_guard)
BB_PLACEHOLDER(bb_deployment_stage_record)

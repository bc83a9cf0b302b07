/*-------------------------------------------------------------------------
 *
 * src/stage.h
 *	  The stage machine shared by tasks and deployments.
 *
 * BbStage follows the order of the SQL enum bluebricks.stage, so a stage's
 * value plus one is its index in the entered and state_counts arrays.
 *
 *-------------------------------------------------------------------------
 */
#ifndef BB_STAGE_H
#define BB_STAGE_H

#include "postgres.h"

typedef enum BbStage
{
	BB_STAGE_PENDING,
	BB_STAGE_PLANNING,
	BB_STAGE_NO_CHANGE,
	BB_STAGE_PLANNED,
	BB_STAGE_PLAN_APPROVED,
	BB_STAGE_INSTALLING,
	BB_STAGE_CANCELED,
	BB_STAGE_COMPLETED,
	BB_STAGE_ERROR
} BbStage;

#define BB_NUM_STAGES 9

/* What the rules depend on besides the two stages: the task's kind. */
typedef struct BbStageRules
{
	bool		plan_only;		/* the task stops after planning */
	bool		force;			/* force_install or force_uninstall */
} BbStageRules;

extern const char *const bb_stage_names[BB_NUM_STAGES];

/* The rules of a task of this command (NULL for none) and plan_only. */
extern void bb_stage_rules_for(const char *command, bool plan_only,
							   BbStageRules *rules);

/* Stage named by label; false if there is none. */
extern bool bb_stage_from_name(const char *name, BbStage *stage);

/* Stage of a bluebricks.stage enum Datum. */
extern BbStage bb_stage_from_datum(Datum value);

extern bool bb_stage_is_final(BbStage stage);

/* Whether from -> to is a legal move (from == to is always allowed). */
extern bool bb_stage_move_allowed(BbStage from, BbStage to,
								  const BbStageRules *rules);

/* Fill next[] with the legal targets of from; returns how many. */
extern int	bb_stage_next(BbStage from, const BbStageRules *rules,
						  BbStage next[BB_NUM_STAGES]);

/*
 * Raise ERRCODE_BB_INVALID_TRANSITION for an illegal move of the object
 * ("task" or "deployment") with the given id, with a hint listing the
 * legal next stages.
 */
extern void bb_stage_raise_invalid(const char *what, const char *id,
								   BbStage from, BbStage to,
								   const BbStageRules *rules)
			pg_attribute_noreturn();

/*
 * Set while lease expiry moves a task (and its deployments) back from
 * planning, planned or no_change to pending, which the machine otherwise
 * forbids.  Only lease.c sets it.
 */
extern bool bb_stage_lease_override;

#endif							/* BB_STAGE_H */

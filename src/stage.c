/*-------------------------------------------------------------------------
 *
 * src/stage.c
 *	  The stage machine shared by tasks and deployments; see stage.h.
 *
 * The machine is a table of allowed moves with two exceptions that depend
 * on the task's kind: a plan-only task goes from planned straight to
 * completed and never enters plan_approved or installing, and a forced
 * task (force_install, force_uninstall) may skip plan_approved.
 *
 * A bluebricks.stage Datum is the OID of its pg_enum row.  Those OIDs
 * change when the extension is dropped and created again, so the OIDs of
 * the nine labels are cached only until the next invalidation of pg_type
 * or pg_enum, and a value that is not in the cache is looked up by OID in
 * the catalog before it is refused.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_enum.h"
#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "utils/inval.h"
#include "utils/syscache.h"

#include "errcodes.h"
#include "stage.h"

const char *const bb_stage_names[BB_NUM_STAGES] = {
	"pending", "planning", "no_change", "planned", "plan_approved",
	"installing", "canceled", "completed", "error"
};

bool		bb_stage_lease_override = false;

/* Moves allowed whatever the task's kind, by source stage (bit per target). */
#define S(x) (1u << (x))
static const uint32 base_moves[BB_NUM_STAGES] = {
	/* pending */
	S(BB_STAGE_PLANNING) | S(BB_STAGE_CANCELED) | S(BB_STAGE_ERROR),
	/* planning */
	S(BB_STAGE_PLANNED) | S(BB_STAGE_NO_CHANGE) | S(BB_STAGE_CANCELED) |
	S(BB_STAGE_ERROR),
	/* no_change */
	S(BB_STAGE_COMPLETED) | S(BB_STAGE_CANCELED) | S(BB_STAGE_ERROR),
	/* planned; plan_approved, installing and completed depend on the kind */
	S(BB_STAGE_CANCELED) | S(BB_STAGE_ERROR),
	/* plan_approved */
	S(BB_STAGE_INSTALLING) | S(BB_STAGE_CANCELED) | S(BB_STAGE_ERROR),
	/* installing */
	S(BB_STAGE_COMPLETED) | S(BB_STAGE_CANCELED) | S(BB_STAGE_ERROR),
	/* canceled, completed, error: final */
	0, 0, 0
};

/* Cached enum OIDs of bluebricks.stage, valid until a catalog change. */
static bool stage_oids_valid = false;
static bool stage_callbacks_registered = false;
static Oid	stage_oids[BB_NUM_STAGES];

/* Bit set of the stages reachable from from under the rules. */
static uint32
allowed_moves(BbStage from, const BbStageRules *rules)
{
	uint32		moves = base_moves[from];

	if (from == BB_STAGE_PLANNED)
	{
		if (rules->plan_only)
			moves |= S(BB_STAGE_COMPLETED);
		else
		{
			moves |= S(BB_STAGE_PLAN_APPROVED);
			if (rules->force)
				moves |= S(BB_STAGE_INSTALLING);
		}
	}
	if (rules->plan_only)
		moves &= ~(S(BB_STAGE_PLAN_APPROVED) | S(BB_STAGE_INSTALLING));
	return moves;
}

/* The rules of a task of this command (NULL for none) and plan_only. */
void
bb_stage_rules_for(const char *command, bool plan_only, BbStageRules *rules)
{
	rules->plan_only = plan_only;
	rules->force = command != NULL &&
		(strcmp(command, "force_install") == 0 ||
		 strcmp(command, "force_uninstall") == 0);
}

/* Stage named by label; false if there is none. */
bool
bb_stage_from_name(const char *name, BbStage *stage)
{
	for (int i = 0; i < BB_NUM_STAGES; i++)
	{
		if (strcmp(name, bb_stage_names[i]) == 0)
		{
			*stage = (BbStage) i;
			return true;
		}
	}
	return false;
}

/* Whether no move leads out of the stage. */
bool
bb_stage_is_final(BbStage stage)
{
	return stage == BB_STAGE_CANCELED || stage == BB_STAGE_COMPLETED ||
		stage == BB_STAGE_ERROR;
}

/* Whether from -> to is a legal move. */
bool
bb_stage_move_allowed(BbStage from, BbStage to, const BbStageRules *rules)
{
	if (from == to)
		return true;
	return (allowed_moves(from, rules) & S(to)) != 0;
}

/* Fill next[] with the legal targets of from, in enum order. */
int
bb_stage_next(BbStage from, const BbStageRules *rules,
			  BbStage next[BB_NUM_STAGES])
{
	uint32		moves = allowed_moves(from, rules);
	int			n = 0;

	for (int i = 0; i < BB_NUM_STAGES; i++)
		if (moves & S(i))
			next[n++] = (BbStage) i;
	return n;
}

/* Raise ERRCODE_BB_INVALID_TRANSITION for from -> to. */
void
bb_stage_raise_invalid(const char *what, const char *id, BbStage from,
					   BbStage to, const BbStageRules *rules)
{
	BbStage		next[BB_NUM_STAGES];
	int			n = bb_stage_next(from, rules, next);
	StringInfoData hint;
	bool		plan_only_refusal;

	initStringInfo(&hint);
	if (n == 0)
		appendStringInfo(&hint, "Stage \"%s\" is final.", bb_stage_names[from]);
	else
	{
		appendStringInfo(&hint, "Legal next stages from \"%s\": ",
						 bb_stage_names[from]);
		for (int i = 0; i < n; i++)
			appendStringInfo(&hint, "%s%s", i > 0 ? ", " : "",
							 bb_stage_names[next[i]]);
		appendStringInfoChar(&hint, '.');
	}
	plan_only_refusal = rules->plan_only &&
		(to == BB_STAGE_PLAN_APPROVED || to == BB_STAGE_INSTALLING);

	ereport(ERROR,
			(errcode(ERRCODE_BB_INVALID_TRANSITION),
			 errmsg("cannot move %s %s from \"%s\" to \"%s\"",
					what, id, bb_stage_names[from], bb_stage_names[to]),
			 plan_only_refusal ?
			 errdetail("A plan-only task stops after planning and never "
					   "enters \"%s\".", bb_stage_names[to]) : 0,
			 errhint("%s", hint.data)));
	pg_unreachable();
}

/* Forget the cached enum OIDs after any change of pg_type or pg_enum. */
static void
stage_oids_invalidate(Datum arg, int cacheid, uint32 hashvalue)
{
	stage_oids_valid = false;
}

/* Look up the OIDs of bluebricks.stage's labels, once per catalog state. */
static void
stage_oids_load(void)
{
	Oid			nsp;
	Oid			typid = InvalidOid;

	if (stage_oids_valid)
		return;
	if (!stage_callbacks_registered)
	{
		CacheRegisterSyscacheCallback(TYPEOID, stage_oids_invalidate, 0);
		CacheRegisterSyscacheCallback(ENUMOID, stage_oids_invalidate, 0);
		stage_callbacks_registered = true;
	}

	nsp = get_namespace_oid("bluebricks", true);
	if (OidIsValid(nsp))
		typid = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid,
								CStringGetDatum("stage"),
								ObjectIdGetDatum(nsp));
	if (!OidIsValid(typid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("type bluebricks.stage does not exist"),
				 errhint("Create the extension bluebricks_task first.")));

	for (int i = 0; i < BB_NUM_STAGES; i++)
	{
		Oid			label = GetSysCacheOid2(ENUMTYPOIDNAME, Anum_pg_enum_oid,
											ObjectIdGetDatum(typid),
											CStringGetDatum(bb_stage_names[i]));

		if (!OidIsValid(label))
			elog(ERROR, "label \"%s\" of type bluebricks.stage is missing",
				 bb_stage_names[i]);
		stage_oids[i] = label;
	}
	stage_oids_valid = true;
}

/* Stage of a bluebricks.stage enum Datum. */
BbStage
bb_stage_from_datum(Datum value)
{
	Oid			oid = DatumGetObjectId(value);
	HeapTuple	tup;
	Form_pg_enum entry;
	BbStage		stage;
	bool		found;

	stage_oids_load();
	for (int i = 0; i < BB_NUM_STAGES; i++)
		if (stage_oids[i] == oid)
			return (BbStage) i;

	/* Not a label of the current type: ask the catalog by OID. */
	tup = SearchSysCache1(ENUMOID, ObjectIdGetDatum(oid));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "invalid internal value for enum: %u", oid);
	entry = (Form_pg_enum) GETSTRUCT(tup);
	found = bb_stage_from_name(NameStr(entry->enumlabel), &stage);
	ReleaseSysCache(tup);
	if (!found)
		elog(ERROR, "enum value %u is not a stage", oid);
	return stage;
}

/*-------------------------------------------------------------------------
 *
 * src/status.c
 *	  Reading and changing a task's status.
 *
 * The summary is read from the task row and the task's own errors:
 * state_counts is kept by trigger in the same transaction as every
 * deployment change, and the errors come through the partial index
 * stage_history_task_error_idx, so a task of 10,000 deployments costs what
 * one of 10 does.  Only the expanded form reads the deployments.
 *
 * A change (set_task_status) reads and locks the task row with its lease
 * in one statement, and writes it with one UPDATE that also extends the
 * lease and returns what the answer shows.
 *
 * Terms: "summary" is the reference's GET /status body; the POST /status
 * body is a subset of it; "expanded" adds deployments.items and actions.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"

#include "errcodes.h"
#include "json_out.h"
#include "lease.h"
#include "request.h"
#include "spi_query.h"
#include "stage.h"
#include "task.h"

#define ENTERED_COLS \
	"entered[1], entered[2], entered[3], entered[4], entered[5]," \
	" entered[6], entered[7], entered[8], entered[9]"

/* What the status document shows of the task row, as select_status. */
#define STATUS_COLS \
	"stage::text, command::text, plan_only," \
	" command IN ('force_install', 'force_uninstall')," \
	" created, updated, completed," \
	" state_counts[1], state_counts[2], state_counts[3], state_counts[4]," \
	" state_counts[5], state_counts[6], state_counts[7], state_counts[8]," \
	" state_counts[9], " ENTERED_COLS

static BbQuery select_status = BB_QUERY(
	"SELECT " STATUS_COLS " FROM bluebricks.task WHERE task_id = $1");

/* Columns of select_status. */
#define COL_STAGE 1
#define COL_COMMAND 2
#define COL_PLAN_ONLY 3
#define COL_FORCE 4
#define COL_CREATED 5
#define COL_UPDATED 6
#define COL_COMPLETED 7
#define COL_COUNTS 8
#define COL_ENTERED (COL_COUNTS + BB_NUM_STAGES)

static BbQuery select_task_errors = BB_QUERY(
	"SELECT to_stage::text, error, at FROM bluebricks.stage_history"
	" WHERE task_id = $1 AND guid IS NULL AND error IS NOT NULL"
	" ORDER BY seq");

static BbQuery select_deployment_errors = BB_QUERY(
	"SELECT guid, to_stage::text, error, at FROM bluebricks.stage_history"
	" WHERE task_id = $1 AND guid IS NOT NULL AND error IS NOT NULL"
	" ORDER BY guid, seq");

static BbQuery select_dependencies = BB_QUERY(
	"SELECT dd.guid, dd.depends_on, dd.depends_on_guid, t.stage::text"
	" FROM bluebricks.deployment_dependency dd"
	" LEFT JOIN bluebricks.deployment t"
	" ON t.task_id = dd.task_id AND t.guid = dd.depends_on_guid"
	" WHERE dd.task_id = $1 ORDER BY dd.guid, dd.depends_on");

static BbQuery select_expanded = BB_QUERY(
	"SELECT guid, slug, parent_guid, type::text, stage::text, package_name,"
	" url, package_version, unique_id, " ENTERED_COLS
	" FROM bluebricks.deployment WHERE task_id = $1 ORDER BY ordinal");

/*
 * The task row locked for a change, with its lease: bb_task_lock's head
 * and the fence's state in one statement.
 */
static BbQuery lock_task = BB_QUERY_GENERIC(
	"SELECT stage::text, plan_only,"
	" command IN ('force_install', 'force_uninstall'), error, "
	BB_LEASE_COLS
	" FROM bluebricks.task WHERE task_id = $1 FOR UPDATE");

/* Columns of lock_task. */
#define LOCK_STAGE 1
#define LOCK_PLAN_ONLY 2
#define LOCK_FORCE 3
#define LOCK_ERROR 4
#define LOCK_LEASE 5

/*
 * The one UPDATE of a change: stage and error as given ($4: whether they
 * change), and the lease extended when $5.  A lease extension is folded
 * in here so that a change writes one row version, not two.  It returns
 * the columns of select_status, so that the answer needs no second read.
 */
static BbQuery update_task = BB_QUERY_GENERIC(
	"UPDATE bluebricks.task"
	" SET stage = CASE WHEN $4 THEN $2::bluebricks.stage ELSE stage END,"
	" error = CASE WHEN $4 THEN coalesce($3, error) ELSE error END,"
	" lease_expires = CASE WHEN $5 THEN " BB_LEASE_EXTENDED
	" ELSE lease_expires END"
	" WHERE task_id = $1"
	" RETURNING " STATUS_COLS);

/*
 * Whether the document being rendered comes from a read (GET): its queries
 * then share the calling statement's snapshot, as a STABLE function's must.
 * After a change (POST) they must see the change, so they take a new one.
 */
static bool reading = false;

/* What the expanded form knows of one deployment, by guid. */
typedef struct DeploymentExtras
{
	pg_uuid_t	guid;			/* hash key */
	StringInfo	errors;			/* JSON list items, comma-separated */
	StringInfo	dependencies;	/* likewise */
	StringInfo	blocked_by;		/* likewise */
} DeploymentExtras;

/* Append a statusTimestamps object from nine consecutive columns. */
static void
render_timestamps(StringInfo buf, uint64 row, int first_col)
{
	appendStringInfoChar(buf, '{');
	for (int s = 0; s < BB_NUM_STAGES; s++)
	{
		bool		isnull;
		TimestampTz ts = bb_col_timestamp(row, first_col + s, &isnull);

		bb_json_key(buf, bb_stage_names[s], s == 0);
		bb_json_timestamp(buf, ts, isnull);
	}
	appendStringInfoChar(buf, '}');
}

/* Append one {status, error, at} entry from columns starting at col. */
static void
render_error_entry(StringInfo buf, uint64 row, int col)
{
	bool		isnull;
	TimestampTz at = bb_col_timestamp(row, col + 2, &isnull);

	appendStringInfoChar(buf, '{');
	bb_json_key(buf, "status", true);
	bb_json_string(buf, bb_col_text(row, col));
	bb_json_key(buf, "error", false);
	bb_json_string(buf, bb_col_text(row, col + 1));
	bb_json_key(buf, "at", false);
	bb_json_timestamp(buf, at, isnull);
	appendStringInfoChar(buf, '}');
}

/* Append the deployments block's total and states from the status row. */
static void
render_counts(StringInfo buf)
{
	int64		total = 0;

	for (int s = 0; s < BB_NUM_STAGES; s++)
		total += bb_col_int(0, COL_COUNTS + s);
	bb_json_key(buf, "total", true);
	appendStringInfo(buf, INT64_FORMAT, total);
	bb_json_key(buf, "states", false);
	appendStringInfoChar(buf, '{');
	for (int s = 0; s < BB_NUM_STAGES; s++)
	{
		bb_json_key(buf, bb_stage_names[s], s == 0);
		appendStringInfo(buf, "%d", bb_col_int(0, COL_COUNTS + s));
	}
	appendStringInfoChar(buf, '}');
}

/* Append to a comma-separated list held in *list, creating it. */
static StringInfo
list_next(StringInfo *list)
{
	if (*list == NULL)
		*list = makeStringInfo();
	else
		appendStringInfoChar(*list, ',');
	return *list;
}

/* Append [items] of a list, or empty_value when there are none. */
static void
render_list(StringInfo buf, StringInfo list, const char *empty_value)
{
	if (list == NULL)
	{
		appendStringInfoString(buf, empty_value);
		return;
	}
	appendStringInfoChar(buf, '[');
	appendBinaryStringInfo(buf, list->data, list->len);
	appendStringInfoChar(buf, ']');
}

/* Entry for guid in the extras table. */
static DeploymentExtras *
extras_for(HTAB *extras, uint64 row, int col)
{
	pg_uuid_t	guid;
	bool		found;
	DeploymentExtras *e;

	bb_col_uuid(row, col, &guid);
	e = hash_search(extras, &guid, HASH_ENTER, &found);
	if (!found)
		e->errors = e->dependencies = e->blocked_by = NULL;
	return e;
}

/* Gather every deployment's errors and dependencies of the task. */
static HTAB *
gather_extras(BbParams *p)
{
	HASHCTL		ctl = {0};
	HTAB	   *extras;
	uint64		n;

	ctl.keysize = sizeof(pg_uuid_t);
	ctl.entrysize = sizeof(DeploymentExtras);
	ctl.hcxt = CurrentMemoryContext;
	extras = hash_create("bluebricks deployment extras", 256, &ctl,
						 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);

	n = bb_query_run(&select_deployment_errors, p, reading, SPI_OK_SELECT);
	for (uint64 r = 0; r < n; r++)
		render_error_entry(list_next(&extras_for(extras, r, 1)->errors), r, 2);

	n = bb_query_run(&select_dependencies, p, reading, SPI_OK_SELECT);
	for (uint64 r = 0; r < n; r++)
	{
		DeploymentExtras *e = extras_for(extras, r, 1);
		StringInfo	dep = list_next(&e->dependencies);
		char	   *name = bb_col_text(r, 2);
		char	   *stage = bb_col_text(r, 4);
		pg_uuid_t	target;
		bool		resolved = bb_col_uuid(r, 3, &target);

		appendStringInfoChar(dep, '{');
		bb_json_key(dep, "name", true);
		bb_json_string(dep, name);
		bb_json_key(dep, "deployment", false);
		if (resolved)
			bb_json_uuid(dep, &target);
		else
			appendStringInfoString(dep, "null");
		bb_json_key(dep, "stage", false);
		bb_json_string(dep, stage);
		appendStringInfoChar(dep, '}');
		if (!resolved || (strcmp(stage, "completed") != 0 &&
						  strcmp(stage, "no_change") != 0))
		{
			StringInfo	b = list_next(&e->blocked_by);

			appendStringInfoChar(b, '{');
			bb_json_key(b, "name", true);
			bb_json_string(b, name);
			bb_json_key(b, "reason", false);
			bb_json_string(b, resolved ?
						   psprintf("dependency is \"%s\"", stage) :
						   "no deployment of this name has been posted");
			appendStringInfoChar(b, '}');
		}
	}
	return extras;
}

/* Append deployments.items of the expanded form. */
static void
render_items(StringInfo buf, BbParams *p)
{
	HTAB	   *extras = gather_extras(p);
	uint64		n = bb_query_run(&select_expanded, p, reading, SPI_OK_SELECT);

	appendStringInfoChar(buf, '[');
	for (uint64 r = 0; r < n; r++)
	{
		pg_uuid_t	guid;
		pg_uuid_t	parent;
		DeploymentExtras *e;
		bool		found;

		bb_col_uuid(r, 1, &guid);
		e = hash_search(extras, &guid, HASH_FIND, &found);
		if (r > 0)
			appendStringInfoChar(buf, ',');
		appendStringInfoChar(buf, '{');
		bb_json_key(buf, "guid", true);
		bb_json_uuid(buf, &guid);
		bb_json_key(buf, "slug", false);
		bb_json_string(buf, bb_col_text(r, 2));
		bb_json_key(buf, "parent", false);
		if (bb_col_uuid(r, 3, &parent))
			bb_json_uuid(buf, &parent);
		else
			appendStringInfoString(buf, "null");
		bb_json_key(buf, "type", false);
		bb_json_string(buf, bb_col_text(r, 4));
		bb_json_key(buf, "stage", false);
		bb_json_string(buf, bb_col_text(r, 5));
		bb_json_key(buf, "package", false);
		appendStringInfoChar(buf, '{');
		bb_json_key(buf, "qualified_name", true);
		bb_json_string(buf, bb_col_text(r, 6));
		bb_json_key(buf, "url", false);
		bb_json_string(buf, bb_col_text(r, 7));
		bb_json_key(buf, "version", false);
		bb_json_string(buf, bb_col_text(r, 8));
		bb_json_key(buf, "uniqueId", false);
		bb_json_string(buf, bb_col_text(r, 9));
		appendStringInfoChar(buf, '}');
		bb_json_key(buf, "statusTimestamps", false);
		render_timestamps(buf, r, 10);
		bb_json_key(buf, "errors", false);
		render_list(buf, e ? e->errors : NULL, "null");
		bb_json_key(buf, "dependencies", false);
		render_list(buf, e ? e->dependencies : NULL, "[]");
		bb_json_key(buf, "blockedBy", false);
		render_list(buf, e ? e->blocked_by : NULL, "[]");
		appendStringInfoChar(buf, '}');
	}
	appendStringInfoChar(buf, ']');
}

/* Append the actions block: the legal moves from the current stage. */
static void
render_actions(StringInfo buf, BbStage stage, const BbStageRules *rules)
{
	BbStage		next[BB_NUM_STAGES];
	int			n = bb_stage_next(stage, rules, next);
	static const struct
	{
		const char *action;
		BbStage		target;
	}			named[] = {
		{"plan", BB_STAGE_PLANNING},
		{"approve", BB_STAGE_PLAN_APPROVED},
		{"install", BB_STAGE_INSTALLING},
		{"complete", BB_STAGE_COMPLETED},
		{"cancel", BB_STAGE_CANCELED},
		{"fail", BB_STAGE_ERROR},
	};

	appendStringInfoChar(buf, '{');
	for (size_t a = 0; a < lengthof(named); a++)
	{
		bool		legal = false;

		for (int i = 0; i < n; i++)
			legal |= (next[i] == named[a].target);
		bb_json_key(buf, named[a].action, a == 0);
		bb_json_bool(buf, legal);
	}
	bb_json_key(buf, "next", false);
	appendStringInfoChar(buf, '[');
	for (int i = 0; i < n; i++)
	{
		if (i > 0)
			appendStringInfoChar(buf, ',');
		bb_json_string(buf, bb_stage_names[next[i]]);
	}
	appendStringInfoString(buf, "]}");
}

/* Append statusTimestamps (full form only), created, updated, completed. */
static void
render_row_times(StringInfo buf, bool full)
{
	static const struct
	{
		const char *key;
		int			col;
	}			times[] = {
		{"created", COL_CREATED},
		{"updated", COL_UPDATED},
		{"completed", COL_COMPLETED},
	};

	if (full)
	{
		bb_json_key(buf, "statusTimestamps", false);
		render_timestamps(buf, 0, COL_ENTERED);
	}
	for (size_t i = 0; i < lengthof(times); i++)
	{
		bool		isnull;
		TimestampTz ts = bb_col_timestamp(0, times[i].col, &isnull);

		bb_json_key(buf, times[i].key, false);
		bb_json_timestamp(buf, ts, isnull);
	}
}

/*
 * Append the status document of a task (SPI connected) from the columns of
 * select_status in the first row of SPI_tuptable.  full selects the GET
 * form over the POST form; expand adds deployments and actions.
 */
static void
render_status_row(StringInfo buf, const pg_uuid_t *task_id, bool full,
				  bool expand)
{
	BbParams	p = {0};
	BbStage		stage;
	BbStageRules rules;
	uint64		nerrors;

	bb_param_uuid(&p, task_id);
	if (!bb_stage_from_name(bb_col_text(0, COL_STAGE), &stage))
		elog(ERROR, "unknown stage of task");
	rules.plan_only = bb_col_bool(0, COL_PLAN_ONLY);
	rules.force = bb_col_bool(0, COL_FORCE);

	appendStringInfoChar(buf, '{');
	bb_json_key(buf, "task", true);
	bb_json_uuid(buf, task_id);
	bb_json_key(buf, "status", false);
	bb_json_string(buf, bb_stage_names[stage]);
	if (full)
	{
		bb_json_key(buf, "command", false);
		bb_json_string(buf, bb_col_text(0, COL_COMMAND));
		bb_json_key(buf, "planOnly", false);
		bb_json_bool(buf, rules.plan_only);
	}
	bb_json_key(buf, "deployments", false);
	appendStringInfoChar(buf, '{');
	render_counts(buf);
	if (expand)
	{
		/* render_items runs queries of its own: read this row first */
		StringInfoData head;

		initStringInfo(&head);
		render_row_times(&head, full);
		bb_json_key(buf, "items", false);
		render_items(buf, &p);
		appendStringInfoChar(buf, '}');
		appendBinaryStringInfo(buf, head.data, head.len);
	}
	else
	{
		appendStringInfoChar(buf, '}');
		render_row_times(buf, full);
	}
	if (full)
	{
		bb_json_key(buf, "errors", false);
		nerrors = bb_query_run(&select_task_errors, &p, reading, SPI_OK_SELECT);
		if (nerrors == 0)
			appendStringInfoString(buf, "null");
		else
		{
			appendStringInfoChar(buf, '[');
			for (uint64 r = 0; r < nerrors; r++)
			{
				if (r > 0)
					appendStringInfoChar(buf, ',');
				render_error_entry(buf, r, 1);
			}
			appendStringInfoChar(buf, ']');
		}
	}
	if (expand)
	{
		bb_json_key(buf, "actions", false);
		render_actions(buf, stage, &rules);
	}
	appendStringInfoChar(buf, '}');
}

/* Append the status document of a task (SPI connected), as read now. */
static void
render_status(StringInfo buf, const pg_uuid_t *task_id, bool full,
			  bool expand)
{
	BbParams	p = {0};

	bb_param_uuid(&p, task_id);
	if (!bb_request_task_allowed(task_id) ||
		bb_query_run(&select_status, &p, reading, SPI_OK_SELECT) != 1)
		bb_task_not_found(task_id);
	render_status_row(buf, task_id, full, expand);
}

/*
 * bluebricks.task_status(task_id uuid, expand boolean DEFAULT false)
 *		RETURNS jsonb
 *
 * The body of GET /api/v1/task/{taskId}/status.
 */
PG_FUNCTION_INFO_V1(bb_task_status);
Datum
bb_task_status(PG_FUNCTION_ARGS)
{
	pg_uuid_t  *task_id;
	bool		expand = PG_ARGISNULL(1) ? false : PG_GETARG_BOOL(1);
	StringInfoData buf;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	task_id = PG_GETARG_UUID_P(0);
	bb_require_permission("read:task");
	initStringInfo(&buf);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	reading = true;
	render_status(&buf, task_id, true, expand);
	reading = false;
	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed");
	PG_RETURN_JSONB_P(bb_json_finish(&buf));
}

/* Refuse moves a person may not make: only approve and cancel. */
static void
check_person_move(BbStage from, BbStage to)
{
	if (bb_request()->kind != BB_CALLER_PERSON || from == to ||
		to == BB_STAGE_PLAN_APPROVED || to == BB_STAGE_CANCELED)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_BB_PERMISSION_DENIED),
			 errmsg("permission denied: only a runner may move a task to "
					"\"%s\"", bb_stage_names[to]),
			 errdetail("People and services may approve (plan_approved) or "
					   "cancel (canceled) a task.")));
}

/*
 * bluebricks.set_task_status(task_id uuid, status bluebricks.stage,
 *		error text DEFAULT NULL, expand boolean DEFAULT false,
 *		token text DEFAULT NULL) RETURNS jsonb
 *
 * Move the task along the stage machine; the body of POST .../status.
 * Setting the stage it already has changes nothing but a new error text.
 */
PG_FUNCTION_INFO_V1(bb_set_task_status);
Datum
bb_set_task_status(PG_FUNCTION_ARGS)
{
	pg_uuid_t  *task_id;
	BbStage		target;
	char	   *error = PG_ARGISNULL(2) ? NULL : TextDatumGetCString(PG_GETARG_DATUM(2));
	bool		expand = PG_ARGISNULL(3) ? false : PG_GETARG_BOOL(3);
	char	   *token = PG_ARGISNULL(4) ? NULL : TextDatumGetCString(PG_GETARG_DATUM(4));
	BbTaskHead	head;
	BbLease		lease;
	bool		extend = false;
	bool		change = false;
	BbParams	p = {0};
	StringInfoData buf;
	char	   *stage;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	task_id = PG_GETARG_UUID_P(0);
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_BB_INVALID_FIELD),
				 errmsg("field \"status\" is required")));
	target = bb_stage_from_datum(PG_GETARG_DATUM(1));
	bb_require_permission("update:task");
	initStringInfo(&buf);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	/* Lock the row and read its head and lease (as bb_task_lock does). */
	if (!bb_request_task_allowed(task_id))
		bb_task_not_found(task_id);
	bb_param_uuid(&p, task_id);
	if (bb_query_run(&lock_task, &p, false, SPI_OK_SELECT) != 1)
		bb_task_not_found(task_id);
	stage = bb_col_text(0, LOCK_STAGE);
	if (!bb_stage_from_name(stage, &head.stage))
		elog(ERROR, "unknown stage \"%s\"", stage);
	head.rules.plan_only = bb_col_bool(0, LOCK_PLAN_ONLY);
	head.rules.force = bb_col_bool(0, LOCK_FORCE);
	head.error = bb_col_text(0, LOCK_ERROR);
	bb_lease_read(0, LOCK_LEASE, &lease);

	check_person_move(head.stage, target);
	/* A final task has no lease left; repeating its stage must not fail. */
	if (!(target == head.stage && bb_stage_is_final(head.stage)))
		extend = bb_lease_check(task_id, token, &lease);

	if (target != head.stage)
	{
		if (!bb_stage_move_allowed(head.stage, target, &head.rules))
			bb_stage_raise_invalid("task", bb_uuid_text(task_id), head.stage,
								   target, &head.rules);
		change = true;
	}
	else if (error && (head.error == NULL || strcmp(error, head.error) != 0))
		change = true;
	if (change || extend)
	{
		bb_param_text(&p, bb_stage_names[target]);
		bb_param_text(&p, error);
		bb_param_bool(&p, change);
		bb_param_bool(&p, extend);
		if (bb_query_run(&update_task, &p, false,
						 SPI_OK_UPDATE_RETURNING) != 1)
			bb_task_not_found(task_id);
	}

	/*
	 * The row the UPDATE returned is the answer, unless the AFTER triggers
	 * changed the task since: a task entering canceled cancels its
	 * deployments, which moves its counts.
	 */
	reading = false;			/* even if a failed read left it set */
	if ((change || extend) && target != BB_STAGE_CANCELED)
		render_status_row(&buf, task_id, expand, expand);
	else
		render_status(&buf, task_id, expand, expand);
	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed");
	PG_RETURN_JSONB_P(bb_json_finish(&buf));
}

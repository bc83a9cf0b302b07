/*-------------------------------------------------------------------------
 *
 * src/deployments.c
 *	  Inserting and updating a task's deployments from API items.
 *
 * (task_id, package.uniqueId) identifies a deployment: an item whose
 * uniqueId the task has already updates that deployment, so a retried
 * batch changes nothing.  A batch runs in steps, each over all items:
 *
 *	1. parse and check every item, before anything is written
 *	   (deployment_items.c);
 *	2. read the deployments the batch names, insert the new ones (stage
 *	   pending) in one statement and update the known ones that changed;
 *	3. resolve parents, which must exist in the task or the batch, and
 *	   dependency names, in memory (deployment_graph.c); a dependency name
 *	   no deployment has yet is kept unresolved, and earlier unresolved
 *	   names are resolved against the batch;
 *	4. refuse the whole batch if dependencies or parents form a cycle;
 *	5. apply each item's action (its target stage) and error, in input
 *	   order, so that a dependency completed earlier in the batch lets a
 *	   later item install.
 *
 * Steps 2 and 3 cost a fixed number of statements whatever the batch's
 * size; step 5 one per item that moves.  The caller holds the task row's
 * lock, so batches of one task never interleave, and the task's counts are
 * written once at the end (batch_context.c).  Any error aborts the
 * caller's transaction: all or nothing.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"

#include "arrays.h"
#include "batch_context.h"
#include "deployment_graph.h"
#include "deployment_items.h"
#include "deployments.h"
#include "errcodes.h"
#include "ids.h"
#include "json_in.h"
#include "json_out.h"
#include "lease.h"
#include "request.h"
#include "spi_query.h"

static BbQuery find_known = BB_QUERY(
	"SELECT d.unique_id, d.guid, d.stage::text, d.parent_guid,"
	" (d.package_name, d.package_version, d.type::text, d.plan_file,"
	"  d.state_file, d.origin_state_location, d.slug, d.url, d.payload)"
	" IS NOT DISTINCT FROM"
	" (u.name, u.version, u.type,"
	"  coalesce(($6::text[])[u.i], d.plan_file),"
	"  coalesce(($7::text[])[u.i], d.state_file),"
	"  coalesce(($8::text[])[u.i], d.origin_state_location),"
	"  coalesce(($9::text[])[u.i], d.slug),"
	"  coalesce(($10::text[])[u.i], d.url),"
	"  coalesce(($11::jsonb[])[u.i], d.payload))"
	" FROM bluebricks.deployment d,"
	" unnest($2::text[], $3::text[], $4::text[], $5::text[])"
	"  WITH ORDINALITY AS u (unique_id, name, version, type, i)"
	" WHERE d.task_id = $1 AND d.unique_id = u.unique_id"
	" FOR UPDATE OF d");

static BbQuery max_ordinal = BB_QUERY(
	"SELECT coalesce(max(ordinal), 0) FROM bluebricks.deployment"
	" WHERE task_id = $1");

static BbQuery guids_taken = BB_QUERY(
	"SELECT guid FROM bluebricks.deployment"
	" WHERE task_id = $1 AND guid = ANY ($2)");

static BbQuery insert_new = BB_QUERY(
	"INSERT INTO bluebricks.deployment (task_id, guid, ordinal,"
	" package_name, package_version, unique_id, type, plan_file, state_file,"
	" origin_state_location, slug, url, payload)"
	" SELECT $1, guid, ordinal, name, version, unique_id,"
	" type::bluebricks.package_type, plan_file, state_file, origin, slug,"
	" url, payload"
	" FROM unnest($2::uuid[], $3::int[], $4::text[], $5::text[], $6::text[],"
	" $7::text[], $8::text[], $9::text[], $10::text[], $11::text[],"
	" $12::text[], $13::jsonb[])"
	" AS u (guid, ordinal, name, version, unique_id, type, plan_file,"
	" state_file, origin, slug, url, payload)");

static BbQuery update_known = BB_QUERY(
	"UPDATE bluebricks.deployment SET package_name = $3,"
	" package_version = $4, type = $5::bluebricks.package_type,"
	" plan_file = coalesce($6, plan_file),"
	" state_file = coalesce($7, state_file),"
	" origin_state_location = coalesce($8, origin_state_location),"
	" slug = coalesce($9, slug), url = coalesce($10, url),"
	" payload = coalesce($11, payload)"
	" WHERE task_id = $1 AND guid = $2");

static BbQuery set_parents = BB_QUERY(
	"UPDATE bluebricks.deployment d SET parent_guid = u.parent"
	" FROM unnest($2::uuid[], $3::uuid[]) AS u (guid, parent)"
	" WHERE d.task_id = $1 AND d.guid = u.guid");

static BbQuery delete_dependencies = BB_QUERY(
	"DELETE FROM bluebricks.deployment_dependency"
	" WHERE task_id = $1 AND guid = ANY ($2)");

static BbQuery insert_dependencies = BB_QUERY(
	"INSERT INTO bluebricks.deployment_dependency"
	" (task_id, guid, depends_on, depends_on_guid)"
	" SELECT $1, guid, name, target"
	" FROM unnest($2::uuid[], $3::text[], $4::uuid[]) AS u (guid, name, target)"
	" ON CONFLICT DO NOTHING");

static BbQuery resolve_pending = BB_QUERY(
	"UPDATE bluebricks.deployment_dependency dd SET depends_on_guid = u.guid"
	" FROM unnest($2::text[], $3::uuid[]) AS u (name, guid)"
	" WHERE dd.task_id = $1 AND dd.depends_on_guid IS NULL"
	" AND dd.depends_on = u.name");

static BbQuery dependency_edges = BB_QUERY(
	"SELECT guid, depends_on_guid FROM bluebricks.deployment_dependency"
	" WHERE task_id = $1 AND depends_on_guid IS NOT NULL");

static BbQuery parent_edges = BB_QUERY(
	"SELECT guid, parent_guid FROM bluebricks.deployment"
	" WHERE task_id = $1 AND parent_guid IS NOT NULL");

static BbQuery move_deployment = BB_QUERY(
	"UPDATE bluebricks.deployment"
	" SET stage = $3::bluebricks.stage, error = coalesce($4, error)"
	" WHERE task_id = $1 AND guid = $2");

static BbQuery set_error = BB_QUERY(
	"UPDATE bluebricks.deployment SET error = $3"
	" WHERE task_id = $1 AND guid = $2 AND error IS DISTINCT FROM $3");

/* Error context: which item (and step) an error arose in. */
static void
item_error_context(void *arg)
{
	const char *what = (const char *) arg;

	errcontext("while applying %s", what);
}

/* Step 2a: mark the items the task knows already, with their state. */
static void
read_known(const pg_uuid_t *task_id, BatchItem *batch, int n,
		   BatchItem **sorted, bool *changed)
{
	BbArray		cols[10];
	static const Oid types[10] = {
		TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
		TEXTOID, TEXTOID, JSONBOID
	};
	BbParams	p = {0};
	uint64		rows;

	for (int c = 0; c < 10; c++)
		bb_array_init(&cols[c], types[c]);
	for (int i = 0; i < n; i++)
	{
		BatchItem  *it = &batch[i];

		bb_array_add_text(&cols[0], it->unique_id);
		bb_array_add_text(&cols[1], it->name);
		bb_array_add_text(&cols[2], it->version);
		bb_array_add_text(&cols[3], it->type);
		bb_array_add_text(&cols[4], it->plan_file);
		bb_array_add_text(&cols[5], it->state_file);
		bb_array_add_text(&cols[6], it->origin);
		bb_array_add_text(&cols[7], it->slug);
		bb_array_add_text(&cols[8], it->url);
		bb_array_add(&cols[9], PointerGetDatum(it->payload),
					 it->payload == NULL);
		it->is_new = true;
		it->stage = BB_STAGE_PENDING;
	}
	bb_param_uuid(&p, task_id);
	for (int c = 0; c < 10; c++)
		bb_param_array(&p, &cols[c]);
	rows = bb_query_run(&find_known, &p, false, SPI_OK_SELECT);
	for (uint64 r = 0; r < rows; r++)
	{
		BatchItem  *it = bb_items_find(sorted, n, bb_col_text(r, 1));
		pg_uuid_t	guid;

		if (it == NULL)
			elog(ERROR, "a known deployment matches no item");
		bb_col_uuid(r, 2, &guid);
		if (it->has_guid && memcmp(&guid, &it->guid, UUID_LEN) != 0)
			bb_field_error(it->path, "guid",
						   "differs from the deployment's guid",
						   psprintf("Deployment \"%s\" of this task has guid %s.",
									it->unique_id, bb_uuid_text(&guid)));
		it->guid = guid;
		it->is_new = false;
		bb_stage_from_name(bb_col_text(r, 3), &it->stage);
		it->has_parent_guid = bb_col_uuid(r, 4, &it->parent_guid);
		changed[it->index] = !bb_col_bool(r, 5);
	}
}

/* Step 2b: refuse guids given for new items that the task already uses. */
static void
check_new_guids(const pg_uuid_t *task_id, BatchItem *batch, int n)
{
	BbArray		given;
	BbParams	p = {0};
	uint64		rows;

	bb_array_init(&given, UUIDOID);
	for (int i = 0; i < n; i++)
		if (batch[i].is_new && batch[i].has_guid)
			bb_array_add_uuid(&given, &batch[i].guid);
	if (given.n == 0)
		return;
	bb_param_uuid(&p, task_id);
	bb_param_array(&p, &given);
	rows = bb_query_run(&guids_taken, &p, false, SPI_OK_SELECT);
	for (uint64 r = 0; r < rows; r++)
	{
		pg_uuid_t	taken;

		bb_col_uuid(r, 1, &taken);
		for (int i = 0; i < n; i++)
			if (batch[i].is_new && batch[i].has_guid &&
				memcmp(&taken, &batch[i].guid, UUID_LEN) == 0)
				bb_field_error(batch[i].path, "guid",
							   "belongs to another deployment of this task",
							   NULL);
	}
}

/* Step 2c: insert the new items in one statement, in input order. */
static void
insert_items(const pg_uuid_t *task_id, BatchItem *batch, int n)
{
	BbArray		cols[12];
	static const Oid types[12] = {
		UUIDOID, INT4OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
		TEXTOID, TEXTOID, TEXTOID, TEXTOID, JSONBOID
	};
	BbParams	p = {0};
	BbParams	q = {0};
	int32		ordinal;

	bb_param_uuid(&q, task_id);
	bb_query_run(&max_ordinal, &q, false, SPI_OK_SELECT);
	ordinal = bb_col_int(0, 1);

	for (int c = 0; c < 12; c++)
		bb_array_init(&cols[c], types[c]);
	for (int i = 0; i < n; i++)
	{
		BatchItem  *it = &batch[i];

		if (!it->is_new)
			continue;
		if (!it->has_guid)
			bb_random_uuid(&it->guid);
		bb_array_add_uuid(&cols[0], &it->guid);
		bb_array_add(&cols[1], Int32GetDatum(++ordinal), false);
		bb_array_add_text(&cols[2], it->name);
		bb_array_add_text(&cols[3], it->version);
		bb_array_add_text(&cols[4], it->unique_id);
		bb_array_add_text(&cols[5], it->type);
		bb_array_add_text(&cols[6], it->plan_file);
		bb_array_add_text(&cols[7], it->state_file);
		bb_array_add_text(&cols[8], it->origin);
		bb_array_add_text(&cols[9], it->slug);
		bb_array_add_text(&cols[10], it->url);
		bb_array_add(&cols[11], PointerGetDatum(it->payload),
					 it->payload == NULL);
	}
	if (cols[0].n == 0)
		return;
	bb_param_uuid(&p, task_id);
	for (int c = 0; c < 12; c++)
		bb_param_array(&p, &cols[c]);
	bb_query_run(&insert_new, &p, false, SPI_OK_INSERT);
}

/* Step 2d: update a known item whose package or payload changed. */
static void
update_item(const pg_uuid_t *task_id, BatchItem *it)
{
	BbParams	p = {0};

	bb_param_uuid(&p, task_id);
	bb_param_uuid(&p, &it->guid);
	bb_param_text(&p, it->name);
	bb_param_text(&p, it->version);
	bb_param_text(&p, it->type);
	bb_param_text(&p, it->plan_file);
	bb_param_text(&p, it->state_file);
	bb_param_text(&p, it->origin);
	bb_param_text(&p, it->slug);
	bb_param_text(&p, it->url);
	bb_param_jsonb(&p, it->payload);
	bb_query_run(&update_known, &p, false, SPI_OK_UPDATE);
}

/* Raise the error for a name that matches several deployments. */
static void
ambiguous(const char *path, const char *field, const char *name)
{
	ereport(ERROR,
			(errcode(ERRCODE_BB_UNKNOWN_REFERENCE),
			 errmsg("field \"%s%s\" names \"%s\", which several deployments "
					"of the task share", path, field, name),
			 errhint("Name the deployment by its package uniqueId.")));
}

/* Every name the batch uses: parents, dependencies, and its own. */
static char **
batch_names(BatchItem *batch, int n, int *count)
{
	int			cap = n * 2 + 8;
	char	  **names = palloc(sizeof(char *) * cap);
	int			k = 0;

	for (int i = 0; i < n; i++)
	{
		if (k + batch[i].ndirect + 3 > cap)
		{
			cap = (cap + batch[i].ndirect + 3) * 2;
			names = repalloc(names, sizeof(char *) * cap);
		}
		names[k++] = batch[i].unique_id;
		names[k++] = batch[i].name;
		if (batch[i].parent)
			names[k++] = batch[i].parent;
		for (int d = 0; d < batch[i].ndirect; d++)
			names[k++] = batch[i].direct[d];
	}
	*count = k;
	return names;
}

/* Step 3a: resolve and set the parents the items name. */
static void
store_parents(const pg_uuid_t *task_id, BatchItem *batch, int n,
			  const BbNameIndex *names)
{
	BbArray		guids;
	BbArray		parents;
	BbParams	p = {0};

	bb_array_init(&guids, UUIDOID);
	bb_array_init(&parents, UUIDOID);
	for (int i = 0; i < n; i++)
	{
		BatchItem  *it = &batch[i];
		pg_uuid_t	parent;
		int			found;

		if (it->parent == NULL)
			continue;
		found = bb_names_resolve(names, it->parent, &parent);
		if (found == 0)
			ereport(ERROR,
					(errcode(ERRCODE_BB_UNKNOWN_REFERENCE),
					 errmsg("field \"%sparent\" names \"%s\", which is no "
							"deployment of the task", it->path, it->parent),
					 errhint("A parent must exist already or be in the same "
							 "batch.")));
		if (found > 1)
			ambiguous(it->path, "parent", it->parent);
		if (memcmp(&parent, &it->guid, UUID_LEN) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_BB_DEPENDENCY_CYCLE),
					 errmsg("field \"%sparent\" names the deployment itself",
							it->path)));
		if (it->has_parent_guid &&
			memcmp(&parent, &it->parent_guid, UUID_LEN) == 0)
			continue;
		bb_array_add_uuid(&guids, &it->guid);
		bb_array_add_uuid(&parents, &parent);
	}
	if (guids.n == 0)
		return;
	bb_param_uuid(&p, task_id);
	bb_param_array(&p, &guids);
	bb_param_array(&p, &parents);
	bb_query_run(&set_parents, &p, false, SPI_OK_UPDATE);
}

/* Step 3b: replace the dependency lists the items give. */
static void
store_dependencies(const pg_uuid_t *task_id, BatchItem *batch, int n,
				   const BbNameIndex *names)
{
	BbArray		owners;
	BbArray		guids;
	BbArray		targets;
	BbArray		texts;
	BbParams	p = {0};
	BbParams	q = {0};

	bb_array_init(&owners, UUIDOID);
	bb_array_init(&guids, UUIDOID);
	bb_array_init(&texts, TEXTOID);
	bb_array_init(&targets, UUIDOID);
	for (int i = 0; i < n; i++)
	{
		BatchItem  *it = &batch[i];

		if (!it->has_direct)
			continue;
		bb_array_add_uuid(&owners, &it->guid);
		for (int d = 0; d < it->ndirect; d++)
		{
			pg_uuid_t	target;
			int			found = bb_names_resolve(names, it->direct[d],
												 &target);

			if (found > 1)
				ambiguous(it->path, "dependencies.direct", it->direct[d]);
			if (found == 1 && memcmp(&target, &it->guid, UUID_LEN) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_BB_DEPENDENCY_CYCLE),
						 errmsg("field \"%sdependencies.direct\" names the "
								"deployment itself", it->path)));
			bb_array_add_uuid(&guids, &it->guid);
			bb_array_add_text(&texts, it->direct[d]);
			bb_array_add_uuid(&targets, found == 1 ? &target : NULL);
		}
	}
	if (owners.n == 0)
		return;
	bb_param_uuid(&p, task_id);
	bb_param_array(&p, &owners);
	bb_query_run(&delete_dependencies, &p, false, SPI_OK_DELETE);
	if (guids.n == 0)
		return;
	bb_param_uuid(&q, task_id);
	bb_param_array(&q, &guids);
	bb_param_array(&q, &texts);
	bb_param_array(&q, &targets);
	bb_query_run(&insert_dependencies, &q, false, SPI_OK_INSERT);
}

/*
 * Step 3c: resolve the task's earlier unresolved dependencies that name a
 * deployment of this batch, by uniqueId, or by a package name that only
 * one deployment of the task has.
 */
static void
resolve_earlier(const pg_uuid_t *task_id, BatchItem *batch, int n,
				const BbNameIndex *names)
{
	BbArray		texts;
	BbArray		guids;
	BbParams	p = {0};

	bb_array_init(&texts, TEXTOID);
	bb_array_init(&guids, UUIDOID);
	for (int i = 0; i < n; i++)
	{
		pg_uuid_t	g;

		bb_array_add_text(&texts, batch[i].unique_id);
		bb_array_add_uuid(&guids, &batch[i].guid);
		if (strcmp(batch[i].name, batch[i].unique_id) != 0 &&
			bb_names_resolve(names, batch[i].name, &g) == 1 &&
			memcmp(&g, &batch[i].guid, UUID_LEN) == 0)
		{
			bb_array_add_text(&texts, batch[i].name);
			bb_array_add_uuid(&guids, &batch[i].guid);
		}
	}
	bb_param_uuid(&p, task_id);
	bb_param_array(&p, &texts);
	bb_param_array(&p, &guids);
	bb_query_run(&resolve_pending, &p, false, SPI_OK_UPDATE);
}

/* Step 5: apply one item's action and error. */
static void
apply_action(const pg_uuid_t *task_id, const BbTaskHead *head, BatchItem *item)
{
	BbParams	p = {0};

	bb_param_uuid(&p, task_id);
	bb_param_uuid(&p, &item->guid);
	if (item->has_action && item->action != item->stage)
	{
		if (!bb_stage_move_allowed(item->stage, item->action, &head->rules))
			bb_stage_raise_invalid("deployment", item->unique_id, item->stage,
								   item->action, &head->rules);
		bb_param_text(&p, bb_stage_names[item->action]);
		bb_param_text(&p, item->error);
		bb_query_run(&move_deployment, &p, false, SPI_OK_UPDATE);
		item->stage = item->action;
	}
	else if (item->error)
	{
		bb_param_text(&p, item->error);
		bb_query_run(&set_error, &p, false, SPI_OK_UPDATE);
	}
}

/*
 * Apply one item's action; an error it raises, from the stage machine or
 * the dependency gate, has the field's name put in front of its message,
 * so that a client which sees only the message knows the item.  The error
 * is re-thrown at once: nothing runs between catching and re-throwing.
 */
static void
apply_action_named(const pg_uuid_t *task_id, const BbTaskHead *head,
				   BatchItem *item, const char *field)
{
	MemoryContext cxt = CurrentMemoryContext;

	PG_TRY();
	{
		apply_action(task_id, head, item);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		edata->message = psprintf("field \"%s\": %s", field, edata->message);
		ReThrowError(edata);
	}
	PG_END_TRY();
}

/* Apply a batch of items to the task; see the header comment. */
static void
apply_batch(const pg_uuid_t *task_id, const BbTaskHead *head,
			BatchItem *batch, int n, const char *path)
{
	BatchItem **sorted = bb_items_sorted(batch, n);
	bool	   *changed = palloc0(sizeof(bool) * Max(n, 1));
	ErrorContextCallback errcb;
	BbNameIndex names;
	char	  **all_names;
	int			nnames;

	errcb.callback = item_error_context;
	errcb.previous = error_context_stack;
	errcb.arg = psprintf("the items of %s", path);
	error_context_stack = &errcb;

	read_known(task_id, batch, n, sorted, changed);
	check_new_guids(task_id, batch, n);
	insert_items(task_id, batch, n);
	for (int i = 0; i < n; i++)
	{
		if (!changed[i])
			continue;
		errcb.arg = psprintf("%s[%d]", path, i);
		update_item(task_id, &batch[i]);
	}

	errcb.arg = psprintf("the parents and dependencies of %s", path);
	all_names = batch_names(batch, n, &nnames);
	bb_names_load(&names, task_id, all_names, nnames);
	store_parents(task_id, batch, n, &names);
	store_dependencies(task_id, batch, n, &names);
	resolve_earlier(task_id, batch, n, &names);
	bb_graph_check_acyclic(task_id, &dependency_edges, "dependencies");
	bb_graph_check_acyclic(task_id, &parent_edges, "parents");

	for (int i = 0; i < n; i++)
	{
		errcb.arg = psprintf("%s[%d].action", path, i);
		apply_action_named(task_id, head, &batch[i], errcb.arg);
	}
	error_context_stack = errcb.previous;
}

/* Apply a batch of items to the task; see deployments.h. */
void
bb_deployments_add(const pg_uuid_t *task_id, const BbTaskHead *head,
				   JsonbContainer *items, const char *path, StringInfo out)
{
	int			n = JsonContainerSize(items);
	BatchItem  *batch;

	if (n > BB_MAX_BATCH)
		ereport(ERROR,
				(errcode(ERRCODE_BB_INVALID_FIELD),
				 errmsg("field \"%s\" holds %d items, more than %d", path, n,
						BB_MAX_BATCH),
				 errhint("Post the deployments in several batches.")));
	if (bb_stage_is_final(head->stage))
		ereport(ERROR,
				(errcode(ERRCODE_BB_INVALID_TRANSITION),
				 errmsg("task %s is \"%s\"; its deployments can no longer "
						"change", bb_uuid_text(task_id),
						bb_stage_names[head->stage])));
	batch = palloc0(sizeof(BatchItem) * Max(n, 1));
	bb_items_parse(items, path, batch, n);

	bb_batch_begin(task_id, &head->rules);
	PG_TRY();
	{
		apply_batch(task_id, head, batch, n, path);
		bb_batch_end();
	}
	PG_CATCH();
	{
		bb_batch_abandon();
		PG_RE_THROW();
	}
	PG_END_TRY();

	if (out == NULL)
		return;
	appendStringInfoChar(out, '[');
	for (int i = 0; i < n; i++)
	{
		if (i > 0)
			appendStringInfoChar(out, ',');
		appendStringInfoChar(out, '{');
		bb_json_key(out, "deployment", true);
		bb_json_uuid(out, &batch[i].guid);
		appendStringInfoChar(out, '}');
	}
	appendStringInfoChar(out, ']');
}

/*
 * bluebricks.add_deployments(task_id uuid, items jsonb,
 *		token text DEFAULT NULL) RETURNS jsonb
 *
 * The body of POST /api/v1/task/{taskId}/deployments in, the list of
 * [{"deployment": guid}] out, in input order.
 */
PG_FUNCTION_INFO_V1(bb_add_deployments);
Datum
bb_add_deployments(PG_FUNCTION_ARGS)
{
	pg_uuid_t  *task_id;
	Jsonb	   *items;
	char	   *token = PG_ARGISNULL(2) ? NULL :
		TextDatumGetCString(PG_GETARG_DATUM(2));
	BbTaskHead	head;
	StringInfoData out;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	task_id = PG_GETARG_UUID_P(0);
	if (PG_ARGISNULL(1))
		bb_field_error("", "items", "is required", NULL);
	items = PG_GETARG_JSONB_P(1);
	if (!JB_ROOT_IS_ARRAY(items) || JB_ROOT_IS_SCALAR(items))
		bb_field_error("", "items", "must be an array",
					   "The body is a JSON array of deployment items.");
	bb_require_permission("create:deployment");
	initStringInfo(&out);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	bb_task_lock(task_id, &head);
	bb_lease_fence(task_id, token);
	bb_deployments_add(task_id, &head, &items->root, "items", &out);
	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed");
	PG_RETURN_JSONB_P(bb_json_finish(&out));
}

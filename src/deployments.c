/*-------------------------------------------------------------------------
 *
 * src/deployments.c
 *	  Inserting and updating a task's deployments from API items.
 *
 * (task_id, package.uniqueId) identifies a deployment: an item whose
 * uniqueId the task has already updates that deployment, so a retried
 * batch changes nothing.  A batch runs in steps, each over all items:
 *
 *	1. parse and check every item, before anything is written;
 *	2. insert new deployments (stage pending) and update known ones;
 *	3. resolve parents, which must exist in the task or the batch;
 *	4. replace the dependency lists; a name no deployment has yet is kept
 *	   unresolved, and earlier unresolved names are resolved against the
 *	   batch;
 *	5. refuse the whole batch if dependencies or parents form a cycle;
 *	6. apply each item's action (its target stage) and error, in input
 *	   order, so that a dependency completed earlier in the batch lets a
 *	   later item install.
 *
 * The caller holds the task row's lock, so batches of one task never
 * interleave.  Any error aborts the caller's transaction: all or nothing.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"

#include "deployments.h"
#include "errcodes.h"
#include "ids.h"
#include "json_in.h"
#include "json_out.h"
#include "lease.h"
#include "request.h"
#include "spi_query.h"

/* One parsed item of a batch. */
typedef struct BatchItem
{
	char	   *path;			/* "items[3]." */
	char	   *name;
	char	   *version;
	char	   *unique_id;
	char	   *type;
	char	   *url;
	char	   *parent;			/* name, uniqueId or guid; or NULL */
	bool		has_direct;		/* dependency list given (maybe empty) */
	int			ndirect;
	char	  **direct;
	bool		has_action;
	BbStage		action;
	bool		has_guid;
	pg_uuid_t	guid;
	char	   *plan_file;
	char	   *state_file;
	char	   *origin;
	char	   *slug;
	char	   *error;
	Jsonb	   *payload;
	/* filled in step 2 */
	bool		is_new;
	BbStage		stage;
} BatchItem;

static BbQuery find_by_unique_id = BB_QUERY(
	"SELECT guid, stage::text FROM bluebricks.deployment"
	" WHERE task_id = $1 AND unique_id = $2 FOR UPDATE");

static BbQuery max_ordinal = BB_QUERY(
	"SELECT coalesce(max(ordinal), 0) FROM bluebricks.deployment"
	" WHERE task_id = $1");

static BbQuery guid_taken = BB_QUERY(
	"SELECT 1 FROM bluebricks.deployment WHERE task_id = $1 AND guid = $2");

static BbQuery insert_deployment = BB_QUERY(
	"INSERT INTO bluebricks.deployment (task_id, guid, ordinal,"
	" package_name, package_version, unique_id, type, plan_file, state_file,"
	" origin_state_location, slug, url, payload)"
	" VALUES ($1, $2, $3, $4, $5, $6, $7::bluebricks.package_type, $8, $9,"
	" $10, $11, $12, $13)");

static BbQuery update_deployment = BB_QUERY(
	"UPDATE bluebricks.deployment SET package_name = $3,"
	" package_version = $4, type = $5::bluebricks.package_type,"
	" plan_file = coalesce($6, plan_file),"
	" state_file = coalesce($7, state_file),"
	" origin_state_location = coalesce($8, origin_state_location),"
	" slug = coalesce($9, slug), url = coalesce($10, url),"
	" payload = coalesce($11, payload)"
	" WHERE task_id = $1 AND guid = $2"
	" AND (package_name, package_version, type::text, plan_file, state_file,"
	" origin_state_location, slug, url, payload)"
	" IS DISTINCT FROM ($3, $4, $5, coalesce($6, plan_file),"
	" coalesce($7, state_file),"
	" coalesce($8, origin_state_location), coalesce($9, slug),"
	" coalesce($10, url), coalesce($11, payload))");

static BbQuery resolve_exact = BB_QUERY(
	"SELECT guid FROM bluebricks.deployment WHERE task_id = $1"
	" AND (unique_id = $2 OR guid::text = $2)");

static BbQuery resolve_by_name = BB_QUERY(
	"SELECT guid FROM bluebricks.deployment WHERE task_id = $1"
	" AND package_name = $2 LIMIT 2");

static BbQuery set_parent = BB_QUERY(
	"UPDATE bluebricks.deployment SET parent_guid = $3"
	" WHERE task_id = $1 AND guid = $2 AND parent_guid IS DISTINCT FROM $3");

static BbQuery delete_dependencies = BB_QUERY(
	"DELETE FROM bluebricks.deployment_dependency"
	" WHERE task_id = $1 AND guid = $2");

static BbQuery insert_dependency = BB_QUERY(
	"INSERT INTO bluebricks.deployment_dependency"
	" (task_id, guid, depends_on, depends_on_guid) VALUES ($1, $2, $3, $4)"
	" ON CONFLICT DO NOTHING");

static BbQuery resolve_pending_by_unique_id = BB_QUERY(
	"UPDATE bluebricks.deployment_dependency dd SET depends_on_guid = d.guid"
	" FROM bluebricks.deployment d"
	" WHERE dd.task_id = $1 AND dd.depends_on_guid IS NULL"
	" AND d.task_id = $1 AND d.unique_id = dd.depends_on");

static BbQuery resolve_pending_by_name = BB_QUERY(
	"UPDATE bluebricks.deployment_dependency dd SET depends_on_guid = d.guid"
	" FROM bluebricks.deployment d"
	" WHERE dd.task_id = $1 AND dd.depends_on_guid IS NULL"
	" AND d.task_id = $1 AND d.package_name = dd.depends_on"
	" AND (SELECT count(*) FROM bluebricks.deployment d2"
	"      WHERE d2.task_id = $1 AND d2.package_name = dd.depends_on) = 1");

static BbQuery dependency_edges = BB_QUERY(
	"SELECT guid, depends_on_guid FROM bluebricks.deployment_dependency"
	" WHERE task_id = $1 AND depends_on_guid IS NOT NULL");

static BbQuery parent_edges = BB_QUERY(
	"SELECT guid, parent_guid FROM bluebricks.deployment"
	" WHERE task_id = $1 AND parent_guid IS NOT NULL");

static BbQuery unique_id_of = BB_QUERY(
	"SELECT unique_id FROM bluebricks.deployment"
	" WHERE task_id = $1 AND guid = $2");

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

/* Read a dependency list: a string, an array of strings, or null. */
static void
parse_direct(BatchItem *item, JsonbValue *v, const char *path, const char *field)
{
	item->has_direct = true;
	if (v == NULL)
		return;
	if (v->type == jbvString)
	{
		item->ndirect = 1;
		item->direct = palloc(sizeof(char *));
		item->direct[0] = pnstrdup(v->val.string.val, v->val.string.len);
	}
	else if (v->type == jbvBinary && JsonContainerIsArray(v->val.binary.data))
	{
		JsonbContainer *arr = v->val.binary.data;
		int			n = JsonContainerSize(arr);

		item->direct = palloc0(sizeof(char *) * Max(n, 1));
		for (int i = 0; i < n; i++)
		{
			JsonbValue *e = getIthJsonbValueFromContainer(arr, i);

			if (e->type != jbvString)
				bb_field_error(path, psprintf("%s[%d]", field, i),
							   "must be a string", NULL);
			item->direct[item->ndirect++] =
				pnstrdup(e->val.string.val, e->val.string.len);
		}
	}
	else
		bb_field_error(path, field,
					   "must be a string or an array of strings",
					   psprintf("The value given is of type %s.",
								bb_jtype_name(v)));
	for (int i = 0; i < item->ndirect; i++)
		if (item->direct[i][0] == '\0')
			bb_field_error(path, field, "must not name an empty string",
						   NULL);
}

/* A stage field: a known stage name. */
static bool
parse_stage(JsonbContainer *obj, const char *path, const char *key,
			BbStage *stage)
{
	char	   *name = bb_jtext(obj, path, key, false);

	if (name == NULL)
		return false;
	if (!bb_stage_from_name(name, stage))
		bb_field_error(path, key, "is not a known stage",
					   "Stages are pending, planning, no_change, planned, "
					   "plan_approved, installing, canceled, completed and "
					   "error.");
	return true;
}

/*
 * Step 1: parse one item.  Both the POST deployments shape (package.name,
 * package.type, dependencies.direct, action, payload) and the task
 * document's deployment shape (package.qualified_name, type, depend, stage,
 * plan_file ...) are read.
 */
static void
parse_item(JsonbValue *v, BatchItem *item)
{
	JsonbContainer *obj;
	JsonbContainer *pkg;
	JsonbContainer *deps;
	JsonbContainer *payload;
	char	   *ppath = psprintf("%spackage.", item->path);
	char	   *dpath = psprintf("%sdependencies.", item->path);
	char	   *lpath = psprintf("%spayload.", item->path);

	if (v->type != jbvBinary || JsonContainerIsArray(v->val.binary.data))
		ereport(ERROR,
				(errcode(ERRCODE_BB_INVALID_FIELD),
				 errmsg("field \"%.*s\" must be an object",
						(int) strlen(item->path) - 1, item->path)));
	obj = v->val.binary.data;

	pkg = bb_jobject(obj, item->path, "package", true);
	item->name = bb_jtext(pkg, ppath, "name", false);
	if (item->name == NULL)
		item->name = bb_jtext(pkg, ppath, "qualified_name", false);
	if (item->name == NULL)
		bb_field_error(ppath, "name", "is required", NULL);
	if (item->name[0] == '\0')
		bb_field_error(ppath, "name", "must not be empty", NULL);
	item->version = bb_jtext(pkg, ppath, "version", false);
	item->unique_id = bb_jtext(pkg, ppath, "uniqueId", true);
	item->type = bb_jtext(pkg, ppath, "type", false);
	if (item->type == NULL)
		item->type = bb_jtext(obj, item->path, "type", false);
	if (item->type == NULL)
		bb_field_error(ppath, "type", "is required", NULL);
	if (strcmp(item->type, "blueprint") != 0 &&
		strcmp(item->type, "artifact") != 0)
		bb_field_error(ppath, "type", "must be \"blueprint\" or \"artifact\"",
					   NULL);
	item->url = bb_jtext(pkg, ppath, "url", false);

	item->parent = bb_jtext(obj, item->path, "parent", false);
	if (item->parent && item->parent[0] == '\0')
		bb_field_error(item->path, "parent", "must not be empty", NULL);

	deps = bb_jobject(obj, item->path, "dependencies", false);
	if (deps)
		parse_direct(item, bb_jfind(deps, "direct"), dpath, "direct");
	else if (getKeyJsonValueFromContainer(obj, "depend", 6, NULL))
		parse_direct(item, bb_jfind(obj, "depend"), item->path, "depend");

	item->has_action = parse_stage(obj, item->path, "action", &item->action);
	if (!item->has_action)
		item->has_action = parse_stage(obj, item->path, "stage",
									   &item->action);
	item->has_guid = bb_juuid(obj, item->path, "guid", false, &item->guid);

	payload = bb_jobject(obj, item->path, "payload", false);
	if (payload == NULL)
	{
		payload = obj;			/* the task document's flat shape */
		lpath = item->path;
	}
	else
		item->payload = bb_jjsonb(obj, "payload");
	item->plan_file = bb_jtext(payload, lpath, "plan_file", false);
	item->state_file = bb_jtext(payload, lpath, "state_file", false);
	item->origin = bb_jtext(payload, lpath, "origin_state_location", false);
	item->slug = bb_jtext(payload, lpath, "slug", false);
	item->error = bb_jtext(payload, lpath, "error", false);
	if (item->url == NULL)
		item->url = bb_jtext(payload, lpath, "url", false);
}

/* Step 2: insert or update one item's deployment. */
static void
store_item(const pg_uuid_t *task_id, BatchItem *item, int32 *ordinal)
{
	BbParams	p = {0};

	bb_param_uuid(&p, task_id);
	bb_param_text(&p, item->unique_id);
	if (bb_query_run(&find_by_unique_id, &p, false, SPI_OK_SELECT) == 1)
	{
		pg_uuid_t	guid;
		BbParams	u = {0};

		bb_col_uuid(0, 1, &guid);
		bb_stage_from_name(bb_col_text(0, 2), &item->stage);
		if (item->has_guid && memcmp(&guid, &item->guid, UUID_LEN) != 0)
			bb_field_error(item->path, "guid",
						   "differs from the deployment's guid",
						   psprintf("Deployment \"%s\" of this task has guid %s.",
									item->unique_id, bb_uuid_text(&guid)));
		item->guid = guid;
		item->is_new = false;
		bb_param_uuid(&u, task_id);
		bb_param_uuid(&u, &item->guid);
		bb_param_text(&u, item->name);
		bb_param_text(&u, item->version);
		bb_param_text(&u, item->type);
		bb_param_text(&u, item->plan_file);
		bb_param_text(&u, item->state_file);
		bb_param_text(&u, item->origin);
		bb_param_text(&u, item->slug);
		bb_param_text(&u, item->url);
		bb_param_jsonb(&u, item->payload);
		bb_query_run(&update_deployment, &u, false, SPI_OK_UPDATE);
		return;
	}

	if (item->has_guid)
	{
		BbParams	g = {0};

		bb_param_uuid(&g, task_id);
		bb_param_uuid(&g, &item->guid);
		if (bb_query_run(&guid_taken, &g, false, SPI_OK_SELECT) > 0)
			bb_field_error(item->path, "guid",
						   "belongs to another deployment of this task", NULL);
	}
	else
		bb_random_uuid(&item->guid);
	item->is_new = true;
	item->stage = BB_STAGE_PENDING;
	memset(&p, 0, sizeof(p));
	bb_param_uuid(&p, task_id);
	bb_param_uuid(&p, &item->guid);
	bb_param_int(&p, ++(*ordinal));
	bb_param_text(&p, item->name);
	bb_param_text(&p, item->version);
	bb_param_text(&p, item->unique_id);
	bb_param_text(&p, item->type);
	bb_param_text(&p, item->plan_file);
	bb_param_text(&p, item->state_file);
	bb_param_text(&p, item->origin);
	bb_param_text(&p, item->slug);
	bb_param_text(&p, item->url);
	bb_param_jsonb(&p, item->payload);
	bb_query_run(&insert_deployment, &p, false, SPI_OK_INSERT);
}

/*
 * Find the deployment of the task that name denotes: its uniqueId or guid,
 * else its package name.  Returns the number of matches, capped at 2.
 */
static int
resolve_name(const pg_uuid_t *task_id, const char *name, pg_uuid_t *guid)
{
	BbParams	p = {0};
	uint64		n;

	bb_param_uuid(&p, task_id);
	bb_param_text(&p, name);
	n = bb_query_run(&resolve_exact, &p, false, SPI_OK_SELECT);
	if (n == 0)
		n = bb_query_run(&resolve_by_name, &p, false, SPI_OK_SELECT);
	if (n >= 1)
		bb_col_uuid(0, 1, guid);
	return (int) Min(n, 2);
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

/* Step 3: resolve and set one item's parent. */
static void
store_parent(const pg_uuid_t *task_id, BatchItem *item)
{
	pg_uuid_t	parent;
	BbParams	p = {0};
	int			n = resolve_name(task_id, item->parent, &parent);

	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_BB_UNKNOWN_REFERENCE),
				 errmsg("field \"%sparent\" names \"%s\", which is no "
						"deployment of the task", item->path, item->parent),
				 errhint("A parent must exist already or be in the same "
						 "batch.")));
	if (n > 1)
		ambiguous(item->path, "parent", item->parent);
	if (memcmp(&parent, &item->guid, UUID_LEN) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_BB_DEPENDENCY_CYCLE),
				 errmsg("field \"%sparent\" names the deployment itself",
						item->path)));
	bb_param_uuid(&p, task_id);
	bb_param_uuid(&p, &item->guid);
	bb_param_uuid(&p, &parent);
	bb_query_run(&set_parent, &p, false, SPI_OK_UPDATE);
}

/* Step 4: replace one item's dependency list. */
static void
store_dependencies(const pg_uuid_t *task_id, BatchItem *item)
{
	BbParams	p = {0};

	bb_param_uuid(&p, task_id);
	bb_param_uuid(&p, &item->guid);
	bb_query_run(&delete_dependencies, &p, false, SPI_OK_DELETE);
	for (int i = 0; i < item->ndirect; i++)
	{
		pg_uuid_t	target;
		BbParams	q = {0};
		int			n = resolve_name(task_id, item->direct[i], &target);

		if (n > 1)
			ambiguous(item->path, "dependencies.direct", item->direct[i]);
		if (n == 1 && memcmp(&target, &item->guid, UUID_LEN) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_BB_DEPENDENCY_CYCLE),
					 errmsg("field \"%sdependencies.direct\" names the "
							"deployment itself", item->path)));
		bb_param_uuid(&q, task_id);
		bb_param_uuid(&q, &item->guid);
		bb_param_text(&q, item->direct[i]);
		bb_param_uuid(&q, n == 1 ? &target : NULL);
		bb_query_run(&insert_dependency, &q, false, SPI_OK_INSERT);
	}
}

/* GraphNode of the cycle check: one deployment and its out-edges. */
typedef struct GraphNode
{
	pg_uuid_t	guid;			/* hash key */
	int			index;
} GraphNode;

/* Index of guid in the graph, adding it if new. */
static int
node_index(HTAB *nodes, const pg_uuid_t *guid, int *count,
		   pg_uuid_t **guids, int *cap)
{
	bool		found;
	GraphNode	   *node = hash_search(nodes, guid, HASH_ENTER, &found);

	if (!found)
	{
		if (*count == *cap)
		{
			*cap *= 2;
			*guids = repalloc(*guids, sizeof(pg_uuid_t) * *cap);
		}
		node->index = (*count)++;
		(*guids)[node->index] = *guid;
	}
	return node->index;
}

/* uniqueId of a deployment of the task, for messages. */
static char *
unique_id_text(const pg_uuid_t *task_id, const pg_uuid_t *guid)
{
	BbParams	p = {0};

	bb_param_uuid(&p, task_id);
	bb_param_uuid(&p, guid);
	if (bb_query_run(&unique_id_of, &p, false, SPI_OK_SELECT) == 1)
		return bb_col_text(0, 1);
	return bb_uuid_text(guid);
}

/*
 * Step 5: refuse the batch if the edges the query returns form a cycle.
 * Kahn's algorithm; what it cannot remove lies on or behind a cycle, and
 * following out-edges among those nodes must come back to one of them.
 */
static void
check_acyclic(const pg_uuid_t *task_id, BbQuery *edges_query,
			  const char *kind)
{
	BbParams	p = {0};
	uint64		nedges;
	HASHCTL		ctl = {0};
	HTAB	   *nodes;
	int			count = 0;
	int			cap = 64;
	pg_uuid_t  *guids = palloc(sizeof(pg_uuid_t) * cap);
	int		   *from;
	int		   *to;
	int		   *indegree;
	int		   *queue;
	int			head = 0;
	int			tail = 0;
	int			removed = 0;
	int			start = -1;
	StringInfoData path;

	bb_param_uuid(&p, task_id);
	nedges = bb_query_run(edges_query, &p, false, SPI_OK_SELECT);
	if (nedges == 0)
		return;
	ctl.keysize = sizeof(pg_uuid_t);
	ctl.entrysize = sizeof(GraphNode);
	ctl.hcxt = CurrentMemoryContext;
	nodes = hash_create("bluebricks deployment graph", nedges * 2, &ctl,
						HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	from = palloc(sizeof(int) * nedges);
	to = palloc(sizeof(int) * nedges);
	for (uint64 e = 0; e < nedges; e++)
	{
		pg_uuid_t	a;
		pg_uuid_t	b;

		bb_col_uuid(e, 1, &a);
		bb_col_uuid(e, 2, &b);
		from[e] = node_index(nodes, &a, &count, &guids, &cap);
		to[e] = node_index(nodes, &b, &count, &guids, &cap);
	}
	indegree = palloc0(sizeof(int) * count);
	queue = palloc(sizeof(int) * count);
	for (uint64 e = 0; e < nedges; e++)
		indegree[to[e]]++;
	for (int i = 0; i < count; i++)
		if (indegree[i] == 0)
			queue[tail++] = i;
	/* Edges are few per node; a scan per removed node keeps this simple. */
	while (head < tail)
	{
		int			n = queue[head++];

		removed++;
		for (uint64 e = 0; e < nedges; e++)
			if (from[e] == n && --indegree[to[e]] == 0)
				queue[tail++] = to[e];
	}
	if (removed == count)
		return;

	/* Walk out-edges among the remaining nodes until one repeats. */
	for (int i = 0; i < count && start < 0; i++)
		if (indegree[i] > 0)
			start = i;
	{
		bool	   *seen = palloc0(sizeof(bool) * count);
		int			n = start;

		while (!seen[n])
		{
			seen[n] = true;
			for (uint64 e = 0; e < nedges; e++)
				if (from[e] == n && indegree[to[e]] > 0)
				{
					n = to[e];
					break;
				}
		}
		start = n;
	}
	initStringInfo(&path);
	{
		int			n = start;

		do
		{
			appendStringInfo(&path, "%s -> ",
							 unique_id_text(task_id, &guids[n]));
			for (uint64 e = 0; e < nedges; e++)
				if (from[e] == n && indegree[to[e]] > 0)
				{
					n = to[e];
					break;
				}
		} while (n != start);
		appendStringInfoString(&path, unique_id_text(task_id, &guids[n]));
	}
	ereport(ERROR,
			(errcode(ERRCODE_BB_DEPENDENCY_CYCLE),
			 errmsg("%s of the task would form a cycle", kind),
			 errdetail("Cycle: %s.", path.data)));
}

/* Step 6: apply one item's action and error. */
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

/* qsort comparator: items by uniqueId, ties in input order. */
static int
compare_unique_ids(const void *a, const void *b)
{
	const BatchItem *x = *(const BatchItem *const *) a;
	const BatchItem *y = *(const BatchItem *const *) b;
	int			c = strcmp(x->unique_id, y->unique_id);

	if (c != 0)
		return c;
	return x < y ? -1 : (x > y ? 1 : 0);
}

/* Apply a batch of items to the task; see the header comment. */
void
bb_deployments_add(const pg_uuid_t *task_id, const BbTaskHead *head,
				   JsonbContainer *items, const char *path, StringInfo out)
{
	int			n = JsonContainerSize(items);
	BatchItem	   *batch = palloc0(sizeof(BatchItem) * Max(n, 1));
	int32		ordinal;
	BbParams	p = {0};
	ErrorContextCallback errcb;
	BatchItem	  **order = palloc(sizeof(BatchItem *) * Max(n, 1));

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

	/* Step 1, then a check that no uniqueId repeats within the batch. */
	for (int i = 0; i < n; i++)
	{
		batch[i].path = psprintf("%s[%d].", path, i);
		parse_item(getIthJsonbValueFromContainer(items, i), &batch[i]);
		order[i] = &batch[i];
	}
	qsort(order, n, sizeof(BatchItem *), compare_unique_ids);
	for (int i = 1; i < n; i++)
		if (strcmp(order[i - 1]->unique_id, order[i]->unique_id) == 0)
		{
			BatchItem	   *first = Min(order[i - 1], order[i]);
			BatchItem	   *again = Max(order[i - 1], order[i]);

			bb_field_error(again->path, "package.uniqueId",
						   psprintf("repeats %s[%d]", path,
									(int) (first - batch)),
						   "Each uniqueId may appear once in a batch.");
		}

	errcb.callback = item_error_context;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;

	bb_param_uuid(&p, task_id);
	bb_query_run(&max_ordinal, &p, false, SPI_OK_SELECT);
	ordinal = bb_col_int(0, 1);
	for (int i = 0; i < n; i++)
	{
		errcb.arg = psprintf("%s[%d]", path, i);
		store_item(task_id, &batch[i], &ordinal);
	}
	for (int i = 0; i < n; i++)
	{
		errcb.arg = psprintf("%s[%d].parent", path, i);
		if (batch[i].parent)
			store_parent(task_id, &batch[i]);
	}
	for (int i = 0; i < n; i++)
	{
		errcb.arg = psprintf("%s[%d].dependencies", path, i);
		if (batch[i].has_direct)
			store_dependencies(task_id, &batch[i]);
	}
	errcb.arg = psprintf("the dependencies of %s", path);
	bb_query_run(&resolve_pending_by_unique_id, &p, false, SPI_OK_UPDATE);
	bb_query_run(&resolve_pending_by_name, &p, false, SPI_OK_UPDATE);
	check_acyclic(task_id, &dependency_edges, "dependencies");
	check_acyclic(task_id, &parent_edges, "parents");
	for (int i = 0; i < n; i++)
	{
		errcb.arg = psprintf("%s[%d].action", path, i);
		apply_action_named(task_id, head, &batch[i], errcb.arg);
	}
	error_context_stack = errcb.previous;

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
	SPI_connect();
	bb_task_lock(task_id, &head);
	bb_lease_fence(task_id, token);
	bb_deployments_add(task_id, &head, &items->root, "items", &out);
	SPI_finish();
	PG_RETURN_JSONB_P(bb_json_finish(&out));
}

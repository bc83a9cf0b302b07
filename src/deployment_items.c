/*-------------------------------------------------------------------------
 *
 * src/deployment_items.c
 *	  Items of a deployments batch, as parsed from the API's JSON.
 *
 * Two shapes are read: the POST /deployments item (package.name,
 * package.type, dependencies.direct, action, payload) and the deployment
 * of the task document (package.qualified_name, type, depend, stage and
 * plan_file ... at the top), so that a task document can be fed back in.
 * Every field is checked before anything is written; errors name the field
 * by its path, e.g. items[3].package.uniqueId.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "deployment_items.h"
#include "errcodes.h"
#include "json_in.h"

/* Read a dependency list: a string, an array of strings, or null. */
static void
parse_direct(BatchItem *item, JsonbValue *v, const char *path,
			 const char *field)
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
 * Parse one item, in either shape.
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

/* qsort comparator: items by uniqueId, ties in input order. */
static int
compare_unique_ids(const void *a, const void *b)
{
	const BatchItem *x = *(const BatchItem *const *) a;
	const BatchItem *y = *(const BatchItem *const *) b;
	int			c = strcmp(x->unique_id, y->unique_id);

	if (c != 0)
		return c;
	return x->index - y->index;
}

/* The batch's items sorted by uniqueId. */
BatchItem **
bb_items_sorted(BatchItem *batch, int n)
{
	BatchItem **order = palloc(sizeof(BatchItem *) * Max(n, 1));

	for (int i = 0; i < n; i++)
		order[i] = &batch[i];
	qsort(order, n, sizeof(BatchItem *), compare_unique_ids);
	return order;
}

/* The item whose uniqueId this is, or NULL. */
BatchItem *
bb_items_find(BatchItem **sorted, int n, const char *unique_id)
{
	int			lo = 0;
	int			hi = n - 1;

	while (lo <= hi)
	{
		int			mid = lo + (hi - lo) / 2;
		int			c = strcmp(sorted[mid]->unique_id, unique_id);

		if (c == 0)
			return sorted[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return NULL;
}

/* Parse every element of the items array; see deployment_items.h. */
void
bb_items_parse(JsonbContainer *items, const char *path, BatchItem *batch,
			   int n)
{
	BatchItem **sorted;

	for (int i = 0; i < n; i++)
	{
		batch[i].index = i;
		batch[i].path = psprintf("%s[%d].", path, i);
		parse_item(getIthJsonbValueFromContainer(items, i), &batch[i]);
	}
	sorted = bb_items_sorted(batch, n);
	for (int i = 1; i < n; i++)
		if (strcmp(sorted[i - 1]->unique_id, sorted[i]->unique_id) == 0)
			bb_field_error(sorted[i]->path, "package.uniqueId",
						   psprintf("repeats %s[%d]", path,
									sorted[i - 1]->index),
						   "Each uniqueId may appear once in a batch.");
	pfree(sorted);
}

/*-------------------------------------------------------------------------
 *
 * src/deployment_graph.c
 *	  Names and edges among the deployments of one task; see the header.
 *
 * Names are resolved in memory, from one query per batch, so a batch of n
 * items costs one look-up query rather than n.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "utils/hsearch.h"

#include "arrays.h"
#include "deployment_graph.h"
#include "errcodes.h"
#include "json_in.h"
#include "json_out.h"

static BbQuery candidates = BB_QUERY(
	"SELECT guid, unique_id, package_name FROM bluebricks.deployment"
	" WHERE task_id = $1"
	" AND (unique_id = ANY ($2) OR package_name = ANY ($2)"
	"      OR guid = ANY ($3))");

static BbQuery unique_id_of = BB_QUERY(
	"SELECT unique_id FROM bluebricks.deployment"
	" WHERE task_id = $1 AND guid = $2");

/* qsort and bsearch comparator of name entries. */
static int
compare_entries(const void *a, const void *b)
{
	return strcmp(((const BbNameEntry *) a)->key,
				  ((const BbNameEntry *) b)->key);
}

/* Load the deployments that any of the names may denote. */
void
bb_names_load(BbNameIndex *index, const pg_uuid_t *task_id, char **names,
			  int nnames)
{
	BbArray		texts;
	BbArray		guids;
	BbParams	p = {0};
	uint64		n;

	bb_array_init(&texts, TEXTOID);
	bb_array_init(&guids, UUIDOID);
	for (int i = 0; i < nnames; i++)
	{
		pg_uuid_t	g;

		bb_array_add_text(&texts, names[i]);
		if (bb_parse_uuid(names[i], &g))
			bb_array_add_uuid(&guids, &g);
	}
	bb_param_uuid(&p, task_id);
	bb_param_array(&p, &texts);
	bb_param_array(&p, &guids);
	n = bb_query_run(&candidates, &p, false, SPI_OK_SELECT);

	index->n = (int) n;
	index->by_unique_id = palloc(sizeof(BbNameEntry) * Max(n, 1));
	index->by_guid = palloc(sizeof(BbNameEntry) * Max(n, 1));
	index->by_name = palloc(sizeof(BbNameEntry) * Max(n, 1));
	for (uint64 r = 0; r < n; r++)
	{
		pg_uuid_t	g;

		bb_col_uuid(r, 1, &g);
		index->by_unique_id[r].key = bb_col_text(r, 2);
		index->by_guid[r].key = bb_uuid_text(&g);
		index->by_name[r].key = bb_col_text(r, 3);
		index->by_unique_id[r].guid = index->by_guid[r].guid =
			index->by_name[r].guid = g;
	}
	qsort(index->by_unique_id, n, sizeof(BbNameEntry), compare_entries);
	qsort(index->by_guid, n, sizeof(BbNameEntry), compare_entries);
	qsort(index->by_name, n, sizeof(BbNameEntry), compare_entries);
}

/* Resolve a name: returns the number of matches (0, 1, or 2 for more). */
int
bb_names_resolve(const BbNameIndex *index, const char *name, pg_uuid_t *guid)
{
	BbNameEntry key = {name};
	BbNameEntry *hit;
	BbNameEntry *first;
	BbNameEntry *end = index->by_name + index->n;

	if (index->n == 0)
		return 0;
	hit = bsearch(&key, index->by_unique_id, index->n, sizeof(BbNameEntry),
				  compare_entries);
	if (hit == NULL)
	{
		pg_uuid_t	g;
		BbNameEntry canonical;

		/* Guids are keyed in their canonical, lowercase text. */
		if (bb_parse_uuid(name, &g))
		{
			canonical.key = bb_uuid_text(&g);
			hit = bsearch(&canonical, index->by_guid, index->n,
						  sizeof(BbNameEntry), compare_entries);
		}
	}
	if (hit)
	{
		*guid = hit->guid;
		return 1;
	}
	hit = bsearch(&key, index->by_name, index->n, sizeof(BbNameEntry),
				  compare_entries);
	if (hit == NULL)
		return 0;
	/* Several deployments may share a package name: look either side. */
	first = hit;
	while (first > index->by_name && strcmp(first[-1].key, name) == 0)
		first--;
	*guid = first->guid;
	return (first + 1 < end && strcmp(first[1].key, name) == 0) ? 2 : 1;
}

/* Node of the cycle check: one deployment. */
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

/* Edges of every node, as offsets into one array (CSR). */
typedef struct Adjacency
{
	int		   *first;			/* edges of n: adj[first[n]..first[n+1]) */
	int		   *adj;
} Adjacency;

/* Build the adjacency of edges src[e] -> dst[e] among count nodes. */
static void
build_adjacency(Adjacency *a, int count, uint64 nedges, const int *src,
				const int *dst)
{
	int		   *fill = palloc(sizeof(int) * Max(count, 1));

	a->first = palloc0(sizeof(int) * (count + 1));
	a->adj = palloc(sizeof(int) * nedges);
	for (uint64 e = 0; e < nedges; e++)
		a->first[src[e] + 1]++;
	for (int n = 0; n < count; n++)
	{
		a->first[n + 1] += a->first[n];
		fill[n] = a->first[n];
	}
	for (uint64 e = 0; e < nedges; e++)
		a->adj[fill[src[e]]++] = dst[e];
	pfree(fill);
}

/* A predecessor of n that Kahn's pass left over (indegree still > 0). */
static int
left_over_predecessor(const Adjacency *preds, const int *indegree, int n)
{
	for (int e = preds->first[n]; e < preds->first[n + 1]; e++)
		if (indegree[preds->adj[e]] > 0)
			return preds->adj[e];
	elog(ERROR, "a node left by the cycle check has no predecessor left");
	return -1;
}

/*
 * Refuse the batch if the edges the query returns form a cycle.  Kahn's
 * algorithm; every node it cannot remove has a predecessor it could not
 * remove either, so walking predecessors must come back to a node: that
 * walk is a cycle, read backwards.
 */
void
bb_graph_check_acyclic(const pg_uuid_t *task_id, BbQuery *edges_query,
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
	int		   *cycle;
	int			ncycle = 0;
	int			head = 0;
	int			tail = 0;
	int			start = -1;
	bool	   *seen;
	Adjacency	succs;
	Adjacency	preds;
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
	build_adjacency(&succs, count, nedges, from, to);

	indegree = palloc0(sizeof(int) * count);
	queue = palloc(sizeof(int) * count);
	for (uint64 e = 0; e < nedges; e++)
		indegree[to[e]]++;
	for (int n = 0; n < count; n++)
		if (indegree[n] == 0)
			queue[tail++] = n;
	while (head < tail)
	{
		int			n = queue[head++];

		for (int e = succs.first[n]; e < succs.first[n + 1]; e++)
			if (--indegree[succs.adj[e]] == 0)
				queue[tail++] = succs.adj[e];
	}
	if (tail == count)
		return;

	build_adjacency(&preds, count, nedges, to, from);
	for (int n = 0; n < count && start < 0; n++)
		if (indegree[n] > 0)
			start = n;
	seen = palloc0(sizeof(bool) * count);
	while (!seen[start])
	{
		seen[start] = true;
		start = left_over_predecessor(&preds, indegree, start);
	}
	cycle = palloc(sizeof(int) * count);
	for (int n = start;;)
	{
		cycle[ncycle++] = n;
		n = left_over_predecessor(&preds, indegree, n);
		if (n == start)
			break;
	}
	initStringInfo(&path);
	for (int i = ncycle - 1; i >= 0; i--)
		appendStringInfo(&path, "%s -> ",
						 unique_id_text(task_id, &guids[cycle[i]]));
	appendStringInfoString(&path,
						   unique_id_text(task_id, &guids[cycle[ncycle - 1]]));
	ereport(ERROR,
			(errcode(ERRCODE_BB_DEPENDENCY_CYCLE),
			 errmsg("%s of the task would form a cycle", kind),
			 errdetail("Cycle: %s.", path.data)));
}

/*-------------------------------------------------------------------------
 *
 * src/deployment_graph.h
 *	  Names and edges among the deployments of one task.
 *
 * A deployment is named, in dependencies and parents, by its package
 * uniqueId, its guid, or its package name; a package name counts only when
 * exactly one deployment of the task has it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef BB_DEPLOYMENT_GRAPH_H
#define BB_DEPLOYMENT_GRAPH_H

#include "postgres.h"

#include "spi_query.h"
#include "utils/uuid.h"

typedef struct BbNameEntry
{
	const char *key;
	pg_uuid_t	guid;
} BbNameEntry;

/* The deployments some names may denote, ready for look-ups. */
typedef struct BbNameIndex
{
	int			n;
	BbNameEntry *by_unique_id;
	BbNameEntry *by_guid;		/* key is the guid's text */
	BbNameEntry *by_name;
} BbNameIndex;

/*
 * Load the deployments of the task that any of the names may denote
 * (SPI connected).
 */
extern void bb_names_load(BbNameIndex *index, const pg_uuid_t *task_id,
						  char **names, int nnames);

/* Resolve a name: returns the number of matches (0, 1, or 2 for more). */
extern int	bb_names_resolve(const BbNameIndex *index, const char *name,
							 pg_uuid_t *guid);

/*
 * Raise ERRCODE_BB_DEPENDENCY_CYCLE if the edges that query returns for
 * the task ($1) form a cycle; kind names them in the message.
 */
extern void bb_graph_check_acyclic(const pg_uuid_t *task_id, BbQuery *edges,
								   const char *kind);

#endif							/* BB_DEPLOYMENT_GRAPH_H */

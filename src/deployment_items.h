/*-------------------------------------------------------------------------
 *
 * src/deployment_items.h
 *	  Items of a deployments batch, as parsed from the API's JSON.
 *
 *-------------------------------------------------------------------------
 */
#ifndef BB_DEPLOYMENT_ITEMS_H
#define BB_DEPLOYMENT_ITEMS_H

#include "postgres.h"

#include "stage.h"
#include "utils/jsonb.h"
#include "utils/uuid.h"

/* One item of a batch. */
typedef struct BatchItem
{
	int			index;			/* position in the batch */
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

	/* What the task already has, filled in when the batch is stored. */
	bool		is_new;
	BbStage		stage;
	bool		has_parent_guid;
	pg_uuid_t	parent_guid;
} BatchItem;

/*
 * Parse every element of the items array into batch[] (n of them), named
 * path[i] in errors, and refuse a uniqueId that repeats within the batch.
 */
extern void bb_items_parse(JsonbContainer *items, const char *path,
						   BatchItem *batch, int n);

/* The item whose uniqueId this is, or NULL; after bb_items_parse. */
extern BatchItem *bb_items_find(BatchItem **sorted, int n,
								const char *unique_id);

/* The batch's items sorted by uniqueId, for bb_items_find. */
extern BatchItem **bb_items_sorted(BatchItem *batch, int n);

#endif							/* BB_DEPLOYMENT_ITEMS_H */

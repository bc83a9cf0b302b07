/*-------------------------------------------------------------------------
 *
 * gateway/routes.h
 *	  The route table of bluebricks-gateway and matching a request to it.
 *
 * A pattern is a path whose segment "{taskId}" matches any one segment;
 * the matched segment is handed to the route as its task id, and checked
 * to be a UUID before any database work.  openapi.json documents exactly
 * this table (the gateway's test compares the two).
 *
 *-------------------------------------------------------------------------
 */
#ifndef GW_ROUTES_H
#define GW_ROUTES_H

#include <stdbool.h>
#include <stddef.h>

/* Permissions a route may require, as bits. */
#define GW_PERM_READ_TASK			0x01
#define GW_PERM_UPDATE_TASK			0x02
#define GW_PERM_CREATE_TASK			0x04
#define GW_PERM_CREATE_DEPLOYMENT	0x08
#define GW_PERM_DELETE_DEPLOYMENT	0x10
#define GW_PERM_RUNNER				0x20	/* only runners (Basic) */

/* What runners signed in with Basic credentials hold implicitly. */
#define GW_PERM_RUNNER_IMPLICIT \
	(GW_PERM_READ_TASK | GW_PERM_UPDATE_TASK | GW_PERM_CREATE_DEPLOYMENT | \
	 GW_PERM_RUNNER)

typedef enum GwRouteId
{
	GW_ROUTE_TASKS_LIST,
	GW_ROUTE_TASKS_CLAIM,
	GW_ROUTE_TASK_CREATE,
	GW_ROUTE_TASK_GET,
	GW_ROUTE_TASK_DELETE,
	GW_ROUTE_STATUS_GET,
	GW_ROUTE_STATUS_SET,
	GW_ROUTE_DEPLOYMENTS_ADD,
	GW_ROUTE_HEALTHZ,
	GW_ROUTE_OPENAPI
} GwRouteId;

typedef struct GwRoute
{
	GwRouteId	id;
	const char *method;
	const char *pattern;
	unsigned int permission;	/* GW_PERM_* bits, all required */
	bool		public;			/* no credentials needed */
	bool		has_body;		/* reads a request body */
} GwRoute;

#define GW_TASK_ID_MAX 64		/* longest path segment kept as task id */

typedef enum GwMatch
{
	GW_MATCH_OK,
	GW_MATCH_NO_PATH,			/* 404 */
	GW_MATCH_NO_METHOD			/* 405; allow lists the path's methods */
} GwMatch;

/*
 * Match method and path.  On GW_MATCH_OK *route is set and task_id holds
 * the {taskId} segment ("" when the pattern has none, or truncated when
 * too long: then it is not a UUID either).  On GW_MATCH_NO_METHOD allow
 * holds e.g. "GET, DELETE".
 */
extern GwMatch gw_route_match(const char *method, const char *path,
							  const GwRoute **route,
							  char task_id[GW_TASK_ID_MAX + 1],
							  char *allow, size_t allow_size);

/* Print "METHOD PATTERN" for each route, one a line. */
extern void gw_routes_print(void);

#endif							/* GW_ROUTES_H */

/*-------------------------------------------------------------------------
 *
 * gateway/routes.c
 *	  The route table of bluebricks-gateway and matching a request to it.
 *
 *-------------------------------------------------------------------------
 */
#include "routes.h"

#include <stdio.h>
#include <string.h>

static const GwRoute routes[] = {
	{GW_ROUTE_TASKS_LIST, "GET", "/api/v1/tasks",
	GW_PERM_READ_TASK, false, false},
	{GW_ROUTE_TASK_CREATE, "POST", "/api/v1/tasks",
	GW_PERM_CREATE_TASK, false, true},
	{GW_ROUTE_TASKS_CLAIM, "POST", "/api/v1/tasks/claim",
	GW_PERM_RUNNER, false, true},
	{GW_ROUTE_TASK_GET, "GET", "/api/v1/task/{taskId}",
	GW_PERM_READ_TASK, false, false},
	{GW_ROUTE_TASK_DELETE, "DELETE", "/api/v1/task/{taskId}",
	GW_PERM_DELETE_DEPLOYMENT, false, false},
	{GW_ROUTE_STATUS_GET, "GET", "/api/v1/task/{taskId}/status",
	GW_PERM_READ_TASK, false, false},
	{GW_ROUTE_STATUS_SET, "POST", "/api/v1/task/{taskId}/status",
	GW_PERM_UPDATE_TASK, false, true},
	{GW_ROUTE_DEPLOYMENTS_ADD, "POST", "/api/v1/task/{taskId}/deployments",
	GW_PERM_CREATE_DEPLOYMENT, false, true},
	{GW_ROUTE_HEALTHZ, "GET", "/healthz", 0, true, false},
	{GW_ROUTE_OPENAPI, "GET", "/api/v1/openapi.json", 0, true, false},
};

#define N_ROUTES (sizeof(routes) / sizeof(routes[0]))

/*
 * Whether path matches pattern; copies the {taskId} segment into task_id.
 */
static bool
path_matches(const char *pattern, const char *path,
			 char task_id[GW_TASK_ID_MAX + 1])
{
	const char *p = pattern;
	const char *s = path;

	task_id[0] = '\0';
	while (*p != '\0')
	{
		if (*p == '{')
		{
			const char *seg_end = strchr(s, '/');
			size_t		seg_len;

			if (seg_end == NULL)
				seg_end = s + strlen(s);
			seg_len = (size_t) (seg_end - s);
			if (seg_len == 0)
				return false;
			if (seg_len > GW_TASK_ID_MAX)
				seg_len = GW_TASK_ID_MAX;
			memcpy(task_id, s, seg_len);
			task_id[seg_len] = '\0';
			s = seg_end;
			p = strchr(p, '}') + 1;
			continue;
		}
		if (*p != *s)
			return false;
		p++;
		s++;
	}
	return *s == '\0';
}

/* Match method and path against the table. */
GwMatch
gw_route_match(const char *method, const char *path, const GwRoute **route,
			   char task_id[GW_TASK_ID_MAX + 1], char *allow,
			   size_t allow_size)
{
	char		scratch[GW_TASK_ID_MAX + 1];
	size_t		allow_len = 0;
	bool		path_found = false;

	allow[0] = '\0';
	for (size_t i = 0; i < N_ROUTES; i++)
	{
		if (!path_matches(routes[i].pattern, path, scratch))
			continue;
		path_found = true;
		if (strcmp(routes[i].method, method) == 0)
		{
			*route = &routes[i];
			memcpy(task_id, scratch, sizeof(scratch));
			return GW_MATCH_OK;
		}
		if (allow_len + strlen(routes[i].method) + 3 < allow_size)
			allow_len += sprintf(allow + allow_len, "%s%s",
								 allow_len ? ", " : "", routes[i].method);
	}
	return path_found ? GW_MATCH_NO_METHOD : GW_MATCH_NO_PATH;
}

/* Print the route table. */
void
gw_routes_print(void)
{
	for (size_t i = 0; i < N_ROUTES; i++)
		printf("%s %s\n", routes[i].method, routes[i].pattern);
}

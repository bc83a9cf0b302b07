/*-------------------------------------------------------------------------
 *
 * gateway/api.h
 *	  The routes' work: checking a request, calling its SQL function and
 *	  shaping the reply.
 *
 * Checks run in this order, each before any database work: credentials
 * present and well formed (401), permission (403), task id a UUID (400),
 * query and body well formed (400, 422).  Basic credentials themselves are
 * checked by the database in the request's transaction (401 when wrong).
 *
 *-------------------------------------------------------------------------
 */
#ifndef GW_API_H
#define GW_API_H

#include <stddef.h>

#include "respond.h"
#include "routes.h"

typedef struct GwApiRequest
{
	const GwRoute *route;
	const char *task_id;		/* {taskId} segment, or "" */
	const char *authorization;	/* Authorization header, or NULL */
	const char *expand;			/* ?expand= value, or NULL */
	const char *body;			/* request body (NUL-terminated), or NULL */
	size_t		body_len;
	const char *request_id;
} GwApiRequest;

/* Serve one matched request into reply. */
extern void gw_api_handle(const GwApiRequest *req, GwReply *reply);

#endif							/* GW_API_H */

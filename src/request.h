/*-------------------------------------------------------------------------
 *
 * src/request.h
 *	  Who is asking: the claims of the current request.
 *
 * A request's claims come from the request.jwt.claims setting, which the
 * gateway (or PostgREST) sets for the transaction.  With no claims set the
 * caller is an operator using plain SQL, trusted only when the session user
 * is a member of bluebricks_admin.
 *
 *-------------------------------------------------------------------------
 */
#ifndef BB_REQUEST_H
#define BB_REQUEST_H

#include "postgres.h"
#include "utils/uuid.h"

typedef enum BbCallerKind
{
	BB_CALLER_NONE,				/* no claims, not an admin: sees nothing */
	BB_CALLER_ADMIN,			/* no claims, member of bluebricks_admin */
	BB_CALLER_PERSON,			/* claims of a person or service (Bearer) */
	BB_CALLER_RUNNER			/* claims of a runner (Basic) */
} BbCallerKind;

typedef struct BbRequest
{
	BbCallerKind kind;
	const char *org;			/* NULL for admin and none */
	const char *subject;		/* "sub" claim, or NULL */
	bool		has_runner;		/* runner claim present */
	pg_uuid_t	runner;			/* runner id, for BB_CALLER_RUNNER */
	bool		has_task;		/* signed in with a task's lease token */
	pg_uuid_t	task;			/* that task */
} BbRequest;

/* The current request; parsed once per distinct claims value. */
extern const BbRequest *bb_request(void);

/* Raise 42501 unless the request holds the permission (e.g. "read:task"). */
extern void bb_require_permission(const char *permission);

/* Whether the request may see rows of this organization. */
extern bool bb_org_visible(const char *org);

/*
 * While true, bb_org_visible() lets everything through: set only around the
 * credential look-ups that must run before any claims exist.
 */
extern bool bb_request_authenticating;

/* Whether a request signed in for one task may touch this task. */
extern bool bb_request_task_allowed(const pg_uuid_t *task_id);

#endif							/* BB_REQUEST_H */

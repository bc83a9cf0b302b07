/*-------------------------------------------------------------------------
 *
 * gateway/auth.h
 *	  Credentials of a request: Basic parsing, Bearer (JWT) verification
 *	  and the permissions they carry.
 *
 * Basic credentials are only decoded here; the database checks them
 * (bluebricks.authenticate_basic) inside the request's own transaction.  A
 * Basic username that is a UUID names a task, and its password is then
 * that task's lease token.  Bearer tokens are verified here in full: HS256
 * with the configured secret or RS256 with the configured public key (alg
 * "none" and every other algorithm refused), exp and nbf enforced, an
 * "org" claim required and "role": "runner" refused.  Their payload is
 * passed to the database verbatim as request.jwt.claims.
 *
 *-------------------------------------------------------------------------
 */
#ifndef GW_AUTH_H
#define GW_AUTH_H

#include <stdbool.h>

typedef enum GwAuthKind
{
	GW_AUTH_NONE,
	GW_AUTH_BASIC,
	GW_AUTH_BEARER
} GwAuthKind;

typedef struct GwAuth
{
	GwAuthKind	kind;
	char	   *username;		/* Basic */
	char	   *password;		/* Basic */
	bool		task_token;		/* Basic username is a task id */
	char	   *claims;			/* Bearer: the JWT payload as sent */
	unsigned int permissions;	/* GW_PERM_* bits held */
} GwAuth;

typedef enum GwAuthResult
{
	GW_AUTH_OK,
	GW_AUTH_MISSING,			/* no Authorization header */
	GW_AUTH_INVALID				/* malformed, unverifiable or expired */
} GwAuthResult;

/*
 * Parse an Authorization header value (NULL when absent) into auth.  On
 * GW_AUTH_INVALID *why says what was wrong, in words fit for the client.
 */
extern GwAuthResult gw_auth_parse(const char *header, GwAuth *auth,
								  const char **why);

/* Free what gw_auth_parse() allocated. */
extern void gw_auth_free(GwAuth *auth);

#endif							/* GW_AUTH_H */

/*-------------------------------------------------------------------------
 *
 * gateway/respond.h
 *	  What the gateway answers: a reply built by a route, turned into an
 *	  HTTP response.
 *
 * Every body is JSON and goes out with Content-Type application/json and
 * the request's X-Request-Id.
 *
 *-------------------------------------------------------------------------
 */
#ifndef GW_RESPOND_H
#define GW_RESPOND_H

#include <stdbool.h>
#include <stddef.h>

#include <microhttpd.h>

typedef struct GwReply
{
	int			status;			/* 0 until set */
	char	   *body;			/* JSON text; owned unless static_body */
	bool		static_body;	/* body is not to be freed */
	const char *allow;			/* Allow header, or NULL */
	bool		challenge;		/* add the WWW-Authenticate challenges */
	char		location[96];	/* Location header, or "" */
	char	   *reason;			/* malloc'd cause of a 5xx or 408, for the
								 * log */
} GwReply;

/* Set a reply with a JSON body, taking ownership of body. */
extern void gw_reply_json(GwReply *reply, int status, char *body);

/*
 * Set an error reply.  request_id is included in the body only for 500s.
 * 401s get the WWW-Authenticate challenges.
 */
extern void gw_reply_error(GwReply *reply, int status, const char *code,
						   const char *message, const char *hint,
						   const char *request_id);

/* Record why a 5xx or 408 happened, for the log line (copied). */
extern void gw_reply_reason(GwReply *reply, const char *reason);

/* Queue reply on the connection; closing adds Connection: close. */
extern enum MHD_Result gw_respond(struct MHD_Connection *connection,
								  GwReply *reply, const char *request_id,
								  bool closing);

/* Free what a reply owns. */
extern void gw_reply_free(GwReply *reply);

#endif							/* GW_RESPOND_H */

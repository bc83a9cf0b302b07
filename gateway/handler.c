/*-------------------------------------------------------------------------
 *
 * gateway/handler.c
 *	  libmicrohttpd callbacks: one request from its headers to its log line.
 *
 * libmicrohttpd calls the access handler first with the headers only, then
 * once per piece of body, then once more with no data.  The route is
 * matched on the first call, the body gathered on the next ones, and the
 * reply queued on the last: a reply queued on the first call would make
 * libmicrohttpd close the connection instead of keeping it alive.
 *
 * Bodies over the limit are never kept.  When the client waits for "100
 * Continue" and announces too large a Content-Length, 413 is answered at
 * once and the body never sent.  Otherwise the client is sending anyway,
 * and closing the connection under it would reset it before it reads the
 * 413; so the rest of the body is read and dropped, and 413 answered at
 * its end, unless the body goes on past a few times the limit: then the
 * 413 is sent and the connection closed at once.
 *
 * Paths are matched after percent-decoding, but an escaped slash (%2F) is
 * not decoded, so it never separates segments, and neither is an escaped
 * NUL (%00), which would otherwise end the path early.
 *
 *-------------------------------------------------------------------------
 */
#include "handler.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "config.h"
#include "log.h"
#include "respond.h"
#include "routes.h"
#include "util.h"

atomic_int	gw_in_flight;
atomic_bool gw_shutting_down;

typedef struct GwRequest
{
	char		request_id[GW_REQUEST_ID_LEN + 1];
	double		start_ms;
	char	   *method;
	char	   *path;
	const GwRoute *route;
	char		task_id[GW_TASK_ID_MAX + 1];
	char		allow[64];		/* Allow header of a 405 */
	GwReply		reply;			/* status set early for 404, 405, 413 */
	char	   *body;
	size_t		body_len;		/* bytes received, kept or dropped */
	size_t		body_cap;
	bool		queued;
} GwRequest;

/* Start the context of a new request; NULL when out of memory. */
static GwRequest *
request_begin(const char *url, const char *method)
{
	GwRequest  *req = calloc(1, sizeof(GwRequest));

	if (req == NULL)
		return NULL;
	gw_new_request_id(req->request_id);
	req->start_ms = gw_now_ms();
	req->method = strdup(method ? method : "");
	req->path = strdup(url ? url : "");
	if (req->method == NULL || req->path == NULL)
	{
		free(req->method);
		free(req->path);
		free(req);
		return NULL;
	}
	atomic_fetch_add(&gw_in_flight, 1);
	return req;
}

/* Bytes of an unwanted body read and dropped before closing instead. */
static size_t
drain_limit(void)
{
	return gw_config.max_body * 4 + 65536;
}

/* The announced Content-Length, or 0 when there is none. */
static unsigned long long
content_length(struct MHD_Connection *connection)
{
	const char *cl = MHD_lookup_connection_value(connection, MHD_HEADER_KIND,
												 MHD_HTTP_HEADER_CONTENT_LENGTH);
	unsigned long long n;

	if (cl == NULL)
		return 0;
	errno = 0;
	n = strtoull(cl, NULL, 10);
	return errno == ERANGE ? ULLONG_MAX : n;
}

/* Whether the client waits for 100 Continue before sending its body. */
static bool
expects_continue(struct MHD_Connection *connection)
{
	const char *e = MHD_lookup_connection_value(connection, MHD_HEADER_KIND,
												MHD_HTTP_HEADER_EXPECT);

	return e != NULL && strcasecmp(e, "100-continue") == 0;
}

/* Make the reply 413 and drop what was kept of the body. */
static void
set_too_large(GwRequest *req)
{
	char		message[96];

	snprintf(message, sizeof(message),
			 "the request body is larger than %zu bytes", gw_config.max_body);
	gw_reply_error(&req->reply, 413, "body_too_large", message, NULL, NULL);
	req->reply.allow = NULL;
	free(req->body);
	req->body = NULL;
	req->body_cap = 0;
}

/* Queue the reply now, closing the connection after it. */
static enum MHD_Result
respond_and_close(struct MHD_Connection *connection, GwRequest *req)
{
	req->queued = true;
	return gw_respond(connection, &req->reply, req->request_id, true);
}

/* Append a piece of body; false when it would exceed the limit. */
static bool
append_body(GwRequest *req, const char *data, size_t len)
{
	if (len > gw_config.max_body - req->body_len)
		return false;
	if (req->body_len + len + 1 > req->body_cap)
	{
		size_t		cap = req->body_cap ? req->body_cap : 4096;
		char	   *bigger;

		while (cap < req->body_len + len + 1)
			cap *= 2;
		bigger = realloc(req->body, cap);
		if (bigger == NULL)
			return false;
		req->body = bigger;
		req->body_cap = cap;
	}
	memcpy(req->body + req->body_len, data, len);
	req->body_len += len;
	req->body[req->body_len] = '\0';
	return true;
}

/* The access handler. */
enum MHD_Result
gw_handle_request(void *cls, struct MHD_Connection *connection,
				  const char *url, const char *method, const char *version,
				  const char *upload_data, size_t *upload_data_size,
				  void **con_cls)
{
	GwRequest  *req = *con_cls;

	(void) cls;
	(void) version;

	if (req == NULL)
	{
		GwMatch		m;

		req = request_begin(url, method);
		if (req == NULL)
			return MHD_NO;
		*con_cls = req;
		m = gw_route_match(req->method, req->path, &req->route, req->task_id,
						   req->allow, sizeof(req->allow));
		if (m == GW_MATCH_NO_PATH)
			gw_reply_error(&req->reply, 404, "not_found", "no such route",
						   NULL, NULL);
		else if (m == GW_MATCH_NO_METHOD)
		{
			gw_reply_error(&req->reply, 405, "method_not_allowed",
						   "this method is not allowed on this path", NULL,
						   NULL);
			req->reply.allow = req->allow;
		}
		if (content_length(connection) > gw_config.max_body)
		{
			set_too_large(req);
			if (expects_continue(connection) ||
				content_length(connection) > drain_limit())
				return respond_and_close(connection, req);
		}
		return MHD_YES;
	}

	if (req->queued)
	{
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (*upload_data_size > 0)
	{
		size_t		len = *upload_data_size;

		*upload_data_size = 0;
		if (req->reply.status == 0 && !append_body(req, upload_data, len))
			set_too_large(req);
		if (req->reply.status != 0)
		{
			/* an early error: the body is dropped, within a bound */
			req->body_len += len;
			if (req->body_len > drain_limit())
				return respond_and_close(connection, req);
		}
		return MHD_YES;
	}

	if (req->reply.status == 0)
	{
		GwApiRequest api;

		api.route = req->route;
		api.task_id = req->task_id;
		api.authorization =
			MHD_lookup_connection_value(connection, MHD_HEADER_KIND,
										MHD_HTTP_HEADER_AUTHORIZATION);
		api.expand = MHD_lookup_connection_value(connection,
												 MHD_GET_ARGUMENT_KIND,
												 "expand");
		api.body = req->body ? req->body : "";
		api.body_len = req->body_len;
		api.request_id = req->request_id;
		gw_api_handle(&api, &req->reply);
	}
	req->queued = true;
	return gw_respond(connection, &req->reply, req->request_id,
					  atomic_load(&gw_shutting_down));
}

/* Decode a path or query argument for libmicrohttpd. */
size_t
gw_unescape(void *cls, struct MHD_Connection *connection, char *s)
{
	(void) cls;
	(void) connection;
	return gw_percent_decode(s);
}

/* Log and free a finished request. */
void
gw_request_completed(void *cls, struct MHD_Connection *connection,
					 void **con_cls, enum MHD_RequestTerminationCode toe)
{
	GwRequest  *req = *con_cls;
	const char *reason;

	(void) cls;
	(void) connection;
	if (req == NULL)
		return;
	reason = req->reply.reason;
	if (reason == NULL && toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
		reason = toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED ?
			"connection timed out" :
			toe == MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN ?
			"gateway shut down" : "connection closed early";
	gw_log_request(req->method, req->path, req->reply.status,
				   gw_now_ms() - req->start_ms, req->request_id, reason);
	gw_reply_free(&req->reply);
	free(req->method);
	free(req->path);
	free(req->body);
	free(req);
	*con_cls = NULL;
	atomic_fetch_sub(&gw_in_flight, 1);
}

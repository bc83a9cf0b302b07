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
 * 413 is sent at once and the connection closed (see answer_mid_body()).
 *
 * A request begins when its request line is in (libmicrohttpd's URI log
 * callback): its clock starts there.  Its headers and body must arrive
 * within the receive timeout; a body still arriving after it is answered
 * 408 and the connection closed.  Headers sent too slowly never reach the
 * access handler, so the watchdog of deadline.c shuts such a connection
 * down instead (and one whose body comes slower than it can be checked).
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
#include <sys/socket.h>

#include "api.h"
#include "config.h"
#include "deadline.h"
#include "log.h"
#include "respond.h"
#include "routes.h"
#include "util.h"

atomic_int	gw_in_flight;
atomic_bool gw_shutting_down;

typedef struct GwRequest
{
	char		request_id[GW_REQUEST_ID_LEN + 1];
	double		start_ms;		/* when the request line was in */
	char	   *method;			/* NULL until the headers are in */
	char	   *path;			/* the raw path until then */
	const GwRoute *route;
	char		task_id[GW_TASK_ID_MAX + 1];
	char		allow[64];		/* Allow header of a 405 */
	GwReply		reply;			/* status set early for 404, 405, 413 */
	char	   *body;
	size_t		body_len;		/* bytes received, kept or dropped */
	size_t		body_cap;
	bool		queued;
	bool		answered;		/* by answer_mid_body() */
} GwRequest;

/*
 * Start the context of a new request from its request target (raw, as
 * sent; the query is left out); NULL when out of memory.
 */
static GwRequest *
request_begin(const char *target)
{
	GwRequest  *req = calloc(1, sizeof(GwRequest));

	if (req == NULL)
		return NULL;
	gw_new_request_id(req->request_id);
	req->start_ms = gw_now_ms();
	if (target == NULL)
		target = "";
	req->path = strndup(target, strcspn(target, "?"));
	if (req->path == NULL)
	{
		free(req);
		return NULL;
	}
	atomic_fetch_add(&gw_in_flight, 1);
	return req;
}

/* Note the method and decoded path once the headers are in. */
static bool
request_headers_in(GwRequest *req, const char *url, const char *method)
{
	char	   *m = strdup(method ? method : "");
	char	   *p = strdup(url ? url : "");

	if (m == NULL || p == NULL)
	{
		free(m);
		free(p);
		return false;
	}
	free(req->path);
	req->method = m;
	req->path = p;
	return true;
}

/* Start a request as soon as its request line is in. */
void *
gw_request_line(void *cls, const char *uri, struct MHD_Connection *connection)
{
	GwRequest  *req = request_begin(uri);

	(void) cls;
	gw_deadline_set(connection, req ? req->start_ms : gw_now_ms(),
					gw_config.receive_timeout);
	return req;
}

/* Whether the request has taken longer than the receive timeout. */
static bool
receive_timed_out(const GwRequest *req)
{
	return gw_now_ms() - req->start_ms > gw_config.receive_timeout * 1000.0;
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

/* Make the reply 408 and drop what was kept of the body. */
static void
set_timed_out(GwRequest *req)
{
	char		message[96];

	gw_reply_free(&req->reply);
	snprintf(message, sizeof(message),
			 "the request was not received within %d seconds",
			 gw_config.receive_timeout);
	gw_reply_error(&req->reply, 408, "request_timeout", message, NULL, NULL);
	gw_reply_reason(&req->reply, "body still arriving at the receive timeout");
	free(req->body);
	req->body = NULL;
	req->body_cap = 0;
}

/* Write all of buf to a non-blocking socket; false when it would block. */
static bool
send_all(int fd, const char *buf, size_t len)
{
	while (len > 0)
	{
		ssize_t		w = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		buf += w;
		len -= (size_t) w;
	}
	return true;
}

/* Queue the reply now, closing the connection after it. */
static enum MHD_Result
respond_and_close(struct MHD_Connection *connection, GwRequest *req)
{
	req->queued = true;
	gw_deadline_set(connection, 0, 0);
	return gw_respond(connection, &req->reply, req->request_id, true);
}

/* The reason phrase of the statuses answered while a body arrives. */
static const char *
reason_phrase(int status)
{
	switch (status)
	{
		case 404:
			return "Not Found";
		case 405:
			return "Method Not Allowed";
		case 408:
			return "Request Timeout";
		case 413:
			return "Content Too Large";
		default:
			return "Error";
	}
}

/*
 * Answer while the body is still arriving, and close.  libmicrohttpd
 * 0.9.75 takes a response only before the body or after all of it, so the
 * reply is written to the socket here (nothing else writes to it while a
 * body is read: any "100 Continue" went before), then the sending side is
 * shut.  What the client sends after that is dropped until it closes, or
 * the watchdog closes it GW_BODY_GRACE seconds later; closing at once
 * would reset the connection, which can discard the reply before the
 * client reads it.
 */
static enum MHD_Result
answer_mid_body(struct MHD_Connection *connection, GwRequest *req)
{
	const union MHD_ConnectionInfo *info =
		MHD_get_connection_info(connection,
								MHD_CONNECTION_INFO_CONNECTION_FD);
	char		head[256];
	const char *body = req->reply.body ? req->reply.body : "{}";
	size_t		body_len = strlen(body);
	int			head_len;

	req->queued = true;
	req->answered = true;
	if (info == NULL)
		return MHD_NO;
	head_len = snprintf(head, sizeof(head),
						"HTTP/1.1 %d %s\r\n"
						"Content-Type: application/json\r\n"
						"X-Request-Id: %s\r\n"
						"Connection: close\r\n"
						"Content-Length: %zu\r\n\r\n",
						req->reply.status, reason_phrase(req->reply.status),
						req->request_id, body_len);
	if (head_len < 0 || (size_t) head_len >= sizeof(head) ||
		!send_all(info->connect_fd, head, (size_t) head_len) ||
		!send_all(info->connect_fd, body, body_len))
		return MHD_NO;
	shutdown(info->connect_fd, SHUT_WR);
	gw_deadline_set(connection, gw_now_ms(), GW_BODY_GRACE);
	return MHD_YES;
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

	if (req == NULL || req->method == NULL)
	{
		GwMatch		m;

		if (req == NULL)
		{
			/* the request line's callback ran out of memory */
			req = request_begin(url);
			if (req == NULL)
				return MHD_NO;
			*con_cls = req;
		}
		if (!request_headers_in(req, url, method))
			return MHD_NO;
		/* the access handler checks the body's time; the watchdog waits */
		gw_deadline_set(connection, req->start_ms,
						gw_config.receive_timeout + GW_BODY_GRACE);
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
		/* the body of a request answered already: dropped */
		if (req->answered && *upload_data_size == 0)
			return MHD_NO;		/* all in after all: close now */
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (*upload_data_size > 0)
	{
		size_t		len = *upload_data_size;

		*upload_data_size = 0;
		if (receive_timed_out(req))
		{
			set_timed_out(req);
			return answer_mid_body(connection, req);
		}
		if (req->reply.status == 0 && !append_body(req, upload_data, len))
			set_too_large(req);
		if (req->reply.status != 0)
		{
			/* an early error: the body is dropped, within a bound */
			req->body_len += len;
			if (req->body_len > drain_limit())
			{
				gw_reply_reason(&req->reply,
								"body beyond the drain limit, closed");
				return answer_mid_body(connection, req);
			}
		}
		return MHD_YES;
	}

	/* the whole request is in: no deadline while it is answered */
	gw_deadline_set(connection, 0, 0);
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
	int			status;
	char		cut[64];

	(void) cls;
	/* a kept-alive connection now waits for its next request line */
	gw_deadline_idle(connection);
	if (req == NULL)
		return;
	reason = req->reply.reason;
	status = req->reply.status;
	if (status == 0)
	{
		/* libmicrohttpd's own answer (a malformed or oversized request) */
		const union MHD_ConnectionInfo *info =
			MHD_get_connection_info(connection,
									MHD_CONNECTION_INFO_HTTP_STATUS);

		if (info != NULL)
			status = (int) info->http_status;
	}
	if (reason == NULL && gw_deadline_was_cut(connection))
	{
		snprintf(cut, sizeof(cut), "request not received within %d s",
				 gw_config.receive_timeout);
		reason = cut;
	}
	else if (reason == NULL && toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
		reason = toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED ?
			"connection timed out" :
			toe == MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN ?
			"gateway shut down" : "connection closed early";
	gw_log_request(req->method, req->path, status,
				   gw_now_ms() - req->start_ms, req->request_id, reason);
	gw_reply_free(&req->reply);
	free(req->method);
	free(req->path);
	free(req->body);
	free(req);
	*con_cls = NULL;
	atomic_fetch_sub(&gw_in_flight, 1);
}

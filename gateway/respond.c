/*-------------------------------------------------------------------------
 *
 * gateway/respond.c
 *	  What the gateway answers: a reply built by a route, turned into an
 *	  HTTP response.
 *
 *-------------------------------------------------------------------------
 */
#include "respond.h"

#include <stdlib.h>
#include <string.h>

#include "errors.h"

/* Set a reply with a JSON body. */
void
gw_reply_json(GwReply *reply, int status, char *body)
{
	if (reply->body != NULL && !reply->static_body)
		free(reply->body);
	reply->status = status;
	reply->body = body;
	reply->static_body = false;
}

/* Set an error reply. */
void
gw_reply_error(GwReply *reply, int status, const char *code,
			   const char *message, const char *hint, const char *request_id)
{
	gw_reply_json(reply, status,
				  gw_error_body(code, message, hint,
								status == 500 ? request_id : NULL));
	reply->challenge = (status == 401);
}

/* Record why a 5xx happened. */
void
gw_reply_reason(GwReply *reply, const char *reason)
{
	free(reply->reason);
	reply->reason = reason ? strdup(reason) : NULL;
}

/* Queue reply on the connection. */
enum MHD_Result
gw_respond(struct MHD_Connection *connection, GwReply *reply,
		   const char *request_id, bool closing)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	const char *body;
	size_t		len;

	if (reply->status == 0)
		gw_reply_error(reply, 500, "internal", "internal error", NULL,
					   request_id);
	body = reply->body ? reply->body : "{}";
	len = strlen(body);

	/* The reply keeps its body until the request is completed. */
	resp = MHD_create_response_from_buffer(len, (void *) body,
										   MHD_RESPMEM_PERSISTENT);
	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
							"application/json");
	MHD_add_response_header(resp, "X-Request-Id", request_id);
	if (reply->allow != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, reply->allow);
	if (reply->challenge)
	{
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
								"Basic realm=\"bluebricks\"");
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
								"Bearer");
	}
	if (reply->location[0] != '\0')
		MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION,
								reply->location);
	if (closing)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	ret = MHD_queue_response(connection, (unsigned int) reply->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* Free what a reply owns. */
void
gw_reply_free(GwReply *reply)
{
	if (!reply->static_body)
		free(reply->body);
	free(reply->reason);
	memset(reply, 0, sizeof(*reply));
}

/*-------------------------------------------------------------------------
 *
 * gateway/handler.h
 *	  libmicrohttpd callbacks: one request from its headers to its log line.
 *
 *-------------------------------------------------------------------------
 */
#ifndef GW_HANDLER_H
#define GW_HANDLER_H

#include <stdatomic.h>
#include <stdbool.h>

#include <microhttpd.h>

/* Requests begun and not yet completed. */
extern atomic_int gw_in_flight;

/* Set once shutdown begins: replies then ask clients to close. */
extern atomic_bool gw_shutting_down;

/*
 * MHD_OPTION_URI_LOG_CALLBACK of the daemon: starts a request (and its
 * receive clock) as soon as its request line is in.
 */
extern void *gw_request_line(void *cls, const char *uri,
							 struct MHD_Connection *connection);

/* MHD_AccessHandlerCallback of the daemon. */
extern enum MHD_Result gw_handle_request(void *cls,
										 struct MHD_Connection *connection,
										 const char *url, const char *method,
										 const char *version,
										 const char *upload_data,
										 size_t *upload_data_size,
										 void **con_cls);

/*
 * MHD_UnescapeCallback of the daemon: decodes the path and query
 * arguments, leaving %2F and %00 encoded (see gw_percent_decode()).
 */
extern size_t gw_unescape(void *cls, struct MHD_Connection *connection,
						  char *s);

/* MHD_RequestCompletedCallback of the daemon: logs and frees a request. */
extern void gw_request_completed(void *cls,
								 struct MHD_Connection *connection,
								 void **con_cls,
								 enum MHD_RequestTerminationCode toe);

#endif							/* GW_HANDLER_H */

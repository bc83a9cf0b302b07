/*-------------------------------------------------------------------------
 *
 * gateway/deadline.h
 *	  Receive deadlines of HTTP connections, and the thread that closes a
 *	  connection past its deadline.
 *
 * libmicrohttpd 0.9.75 times a connection out only after a stretch of
 * silence, so a client sending one byte a second holds a connection for
 * as long as it likes.  Each connection therefore carries a deadline for
 * what it is receiving: its next request line (the idle timeout after it
 * opened or after its last reply), then the headers and body of a request
 * (the receive timeout after the request line).  The access handler
 * answers a body still arriving past the receive timeout with 408 itself;
 * a connection that is past its deadline without the handler having had
 * the chance (a request line or headers sent slowly, or a body slower than
 * a byte per grace period) is shut down by a watchdog thread.  No deadline
 * runs while a request is being answered or its reply sent.
 *
 * Terms: the "socket context" of a connection (libmicrohttpd's name) holds
 * its GwConnWatch, from MHD_CONNECTION_NOTIFY_STARTED to
 * MHD_CONNECTION_NOTIFY_CLOSED; libmicrohttpd closes the socket only after
 * the latter, so the watchdog, which shuts sockets down under the same
 * mutex as that notification unlinks them, never touches a reused one.
 *
 *-------------------------------------------------------------------------
 */
#ifndef GW_DEADLINE_H
#define GW_DEADLINE_H

#include <stdbool.h>

#include <microhttpd.h>

/*
 * Seconds past the receive timeout that the watchdog gives a request whose
 * body has begun, so that the access handler answers 408 first.
 */
#define GW_BODY_GRACE 2

/* Start the watchdog thread; false when it cannot be started. */
extern bool gw_deadline_start(void);

/* Stop the watchdog thread (after the daemon has stopped). */
extern void gw_deadline_stop(void);

/* MHD_NotifyConnectionCallback of the daemon: tracks each connection. */
extern void gw_deadline_notify(void *cls, struct MHD_Connection *connection,
							   void **socket_context,
							   enum MHD_ConnectionNotificationCode toe);

/*
 * Set the connection's deadline to seconds after now_ms (a gw_now_ms()
 * time); seconds <= 0 clears it.
 */
extern void gw_deadline_set(struct MHD_Connection *connection,
							double now_ms, double seconds);

/*
 * Set the deadline of a connection that waits for its next request line:
 * the idle timeout (the longer of the request and receive timeouts).
 */
extern void gw_deadline_idle(struct MHD_Connection *connection);

/* Whether the watchdog shut the connection down. */
extern bool gw_deadline_was_cut(struct MHD_Connection *connection);

/* Connections the watchdog has shut down since start. */
extern long gw_deadline_cuts(void);

#endif							/* GW_DEADLINE_H */

/*-------------------------------------------------------------------------
 *
 * gateway/log.h
 *	  Log lines of bluebricks-gateway, written to stderr.
 *
 * Every line starts with a UTC timestamp.  A request gets exactly one line:
 * method, path, status, milliseconds and request id, plus the reason when
 * the gateway answered 500 or 503.  Lifecycle events (start, stop) get one
 * line each.
 *
 *-------------------------------------------------------------------------
 */
#ifndef GW_LOG_H
#define GW_LOG_H

/* Log a lifecycle event or a failure, printf style. */
extern void gw_log(const char *fmt, ...)
			__attribute__((format(printf, 1, 2)));

/* Log the line of one finished request; reason may be NULL. */
extern void gw_log_request(const char *method, const char *path, int status,
						   double ms, const char *request_id,
						   const char *reason);

#endif							/* GW_LOG_H */

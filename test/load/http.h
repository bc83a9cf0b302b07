/*-------------------------------------------------------------------------
 *
 * test/load/http.h
 *	  A minimal HTTP/1.1 client over loopback TCP with keep-alive, for the
 *	  load driver.
 *
 * One LdHttp is one connection, used by one thread.  A request that fails
 * on the wire (connect refused, reset, timeout, malformed reply) reports
 * status 0 and closes the connection; the next request reconnects.
 *
 *-------------------------------------------------------------------------
 */
#ifndef LD_HTTP_H
#define LD_HTTP_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#define LD_HTTP_BUF (256 * 1024)

typedef struct LdHttp
{
	int			fd;
	int			port;
	int			timeout_ms;		/* per request, connect included */
	char	   *buf;			/* reply bytes read ahead */
	size_t		len;
	long		connects;		/* connections opened */
} LdHttp;

typedef struct LdReply
{
	int			status;			/* 0: failed on the wire */
	char	   *body;			/* NUL-terminated; owned by the LdHttp */
	size_t		body_len;
	int64_t		send_us;		/* wall clock when the request was sent */
	int64_t		recv_us;		/* wall clock when the reply was complete */
} LdReply;

/* Microseconds since the epoch, on the clock PostgreSQL's now() uses. */
extern int64_t ld_now_us(void);

/* Prepare a connection to 127.0.0.1:port. */
extern void ld_http_init(LdHttp *h, int port, int timeout_ms);

/* Close the connection and free its buffer. */
extern void ld_http_close(LdHttp *h);

/*
 * Send one request and read its reply.  auth is a whole header value
 * ("Basic ..." or "Bearer ...") or NULL; body may be NULL.
 */
extern void ld_http_request(LdHttp *h, const char *method, const char *path,
							const char *auth, const char *body,
							LdReply *reply);

/* "Basic " and base64 of user:password, in out (at least 512 bytes). */
extern void ld_basic_auth(char *out, size_t size, const char *user,
						  const char *password);

#endif							/* LD_HTTP_H */

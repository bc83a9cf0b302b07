/*-------------------------------------------------------------------------
 *
 * test/load/http.c
 *	  A minimal HTTP/1.1 client over loopback TCP with keep-alive.
 *
 * Replies are read by Content-Length (the gateway always sends one); a
 * reply without it, or with "Connection: close", closes the connection
 * after it is read.  Every wait is bounded by the request's timeout.
 *
 *-------------------------------------------------------------------------
 */
#include "http.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <arpa/inet.h>

/* Microseconds since the epoch. */
int64_t
ld_now_us(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (int64_t) tv.tv_sec * 1000000 + tv.tv_usec;
}

/* Prepare a connection to 127.0.0.1:port. */
void
ld_http_init(LdHttp *h, int port, int timeout_ms)
{
	memset(h, 0, sizeof(*h));
	h->fd = -1;
	h->port = port;
	h->timeout_ms = timeout_ms;
	h->buf = malloc(LD_HTTP_BUF + 1);
	if (h->buf == NULL)
		abort();
}

/* Drop the connection, keeping the buffer. */
static void
drop(LdHttp *h)
{
	if (h->fd >= 0)
		close(h->fd);
	h->fd = -1;
	h->len = 0;
}

/* Close the connection and free its buffer. */
void
ld_http_close(LdHttp *h)
{
	drop(h);
	free(h->buf);
	h->buf = NULL;
}

/* Milliseconds left before deadline_us, at least 0. */
static int
left_ms(int64_t deadline_us)
{
	int64_t		left = (deadline_us - ld_now_us()) / 1000;

	return left < 0 ? 0 : (int) left;
}

/* Connect to 127.0.0.1; false on failure. */
static bool
open_conn(LdHttp *h, int64_t deadline_us)
{
	struct sockaddr_in sa;
	struct pollfd pfd;
	int			one = 1;
	int			err = 0;
	socklen_t	errlen = sizeof(err);
	int			fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return false;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons(h->port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
	{
		if (errno != EINPROGRESS)
		{
			close(fd);
			return false;
		}
		pfd.fd = fd;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, left_ms(deadline_us)) != 1 ||
			getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &errlen) < 0 ||
			err != 0)
		{
			close(fd);
			return false;
		}
	}
	h->fd = fd;
	h->len = 0;
	h->connects++;
	return true;
}

/* Write all of data; false on failure or timeout. */
static bool
write_all(LdHttp *h, const char *data, size_t len, int64_t deadline_us)
{
	while (len > 0)
	{
		ssize_t		n = send(h->fd, data, len, MSG_NOSIGNAL);

		if (n > 0)
		{
			data += n;
			len -= n;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
		{
			struct pollfd pfd = {h->fd, POLLOUT, 0};

			if (poll(&pfd, 1, left_ms(deadline_us)) != 1)
				return false;
			continue;
		}
		return false;
	}
	return true;
}

/* Read more bytes into the buffer; false on EOF, error or timeout. */
static bool
read_more(LdHttp *h, int64_t deadline_us)
{
	for (;;)
	{
		ssize_t		n;
		struct pollfd pfd = {h->fd, POLLIN, 0};

		if (h->len >= LD_HTTP_BUF)
			return false;
		n = recv(h->fd, h->buf + h->len, LD_HTTP_BUF - h->len, 0);
		if (n > 0)
		{
			h->len += n;
			return true;
		}
		if (n == 0)
			return false;
		if (errno != EAGAIN && errno != EINTR)
			return false;
		if (poll(&pfd, 1, left_ms(deadline_us)) != 1)
			return false;
	}
}

/* Value of header name in the header block, or NULL. */
static const char *
find_header(const char *headers, const char *end, const char *name)
{
	size_t		nl = strlen(name);
	const char *p = headers;

	while (p < end)
	{
		const char *eol = strstr(p, "\r\n");

		if (eol == NULL || eol > end)
			break;
		if ((size_t) (eol - p) > nl && strncasecmp(p, name, nl) == 0 &&
			p[nl] == ':')
		{
			p += nl + 1;
			while (*p == ' ')
				p++;
			return p;
		}
		p = eol + 2;
	}
	return NULL;
}

/* Send one request and read its reply. */
void
ld_http_request(LdHttp *h, const char *method, const char *path,
				const char *auth, const char *body, LdReply *reply)
{
	int64_t		deadline;
	char		head[2048];
	size_t		blen = body ? strlen(body) : 0;
	int			hl;
	char	   *end;
	const char *cl;
	const char *conn;
	size_t		hdr_len;
	size_t		want;
	bool		close_after;

	memset(reply, 0, sizeof(*reply));
	reply->send_us = ld_now_us();
	deadline = reply->send_us + (int64_t) h->timeout_ms * 1000;
	hl = snprintf(head, sizeof(head),
				  "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n%s%s%s"
				  "Content-Type: application/json\r\n"
				  "Content-Length: %zu\r\n\r\n",
				  method, path, h->port, auth ? "Authorization: " : "",
				  auth ? auth : "", auth ? "\r\n" : "", blen);
	if (h->fd < 0 && !open_conn(h, deadline))
		goto fail;
	h->len = 0;
	if (!write_all(h, head, hl, deadline) ||
		(blen > 0 && !write_all(h, body, blen, deadline)))
		goto fail;

	for (;;)
	{
		h->buf[h->len] = '\0';
		end = strstr(h->buf, "\r\n\r\n");
		if (end != NULL)
			break;
		if (!read_more(h, deadline))
			goto fail;
	}
	hdr_len = end - h->buf + 4;
	if (strncmp(h->buf, "HTTP/1.", 7) != 0)
		goto fail;
	reply->status = atoi(h->buf + 9);
	cl = find_header(h->buf, end + 2, "Content-Length");
	conn = find_header(h->buf, end + 2, "Connection");
	close_after = cl == NULL ||
		(conn != NULL && strncasecmp(conn, "close", 5) == 0);
	want = cl ? strtoul(cl, NULL, 10) : 0;
	if (hdr_len + want > LD_HTTP_BUF)
		goto fail;
	while (h->len < hdr_len + want)
	{
		if (!read_more(h, deadline))
			goto fail;
	}
	memmove(h->buf, h->buf + hdr_len, want);
	h->buf[want] = '\0';
	reply->body = h->buf;
	reply->body_len = want;
	reply->recv_us = ld_now_us();
	if (close_after)
	{
		close(h->fd);
		h->fd = -1;
	}
	h->len = 0;
	return;

fail:
	drop(h);
	h->buf[0] = '\0';
	reply->status = 0;
	reply->body = h->buf;
	reply->body_len = 0;
	reply->recv_us = ld_now_us();
}

/* "Basic " and base64 of user:password. */
void
ld_basic_auth(char *out, size_t size, const char *user, const char *password)
{
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char		plain[512];
	size_t		n = snprintf(plain, sizeof(plain), "%s:%s", user, password);
	size_t		o = snprintf(out, size, "Basic ");

	for (size_t i = 0; i < n && o + 5 < size; i += 3)
	{
		unsigned int v = (unsigned char) plain[i] << 16;

		if (i + 1 < n)
			v |= (unsigned char) plain[i + 1] << 8;
		if (i + 2 < n)
			v |= (unsigned char) plain[i + 2];
		out[o++] = b64[(v >> 18) & 63];
		out[o++] = b64[(v >> 12) & 63];
		out[o++] = i + 1 < n ? b64[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < n ? b64[v & 63] : '=';
	}
	out[o] = '\0';
}

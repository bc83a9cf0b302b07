/*-------------------------------------------------------------------------
 *
 * gateway/log.c
 *	  Log lines of bluebricks-gateway, written to stderr.
 *
 * Each line is formatted in full first and written with one write, so lines
 * of concurrent requests never interleave.  Bytes of the path and reason
 * outside printable ASCII are shown as \xNN, so a request cannot forge log
 * lines.
 *
 *-------------------------------------------------------------------------
 */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define GW_LOG_LINE 2048

/* Write the UTC timestamp prefix into buf; returns its length. */
static size_t
timestamp(char *buf, size_t size)
{
	struct timespec ts;
	struct tm	tm;
	size_t		n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
	n += snprintf(buf + n, size - n, ".%03ldZ ", ts.tv_nsec / 1000000);
	return n;
}

/* Append s to buf at *len, escaping unprintable bytes, within size. */
static void
append_escaped(char *buf, size_t size, size_t *len, const char *s)
{
	for (; *s != '\0' && *len + 5 < size; s++)
	{
		unsigned char c = (unsigned char) *s;

		if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\')
			*len += snprintf(buf + *len, size - *len, "\\x%02x", c);
		else
			buf[(*len)++] = (char) c;
	}
	buf[*len] = '\0';
}

/* Write a whole line to stderr with one system call. */
static void
write_line(const char *line, size_t len)
{
	while (len > 0)
	{
		ssize_t		w = write(STDERR_FILENO, line, len);

		if (w <= 0)
		{
			if (w < 0 && errno == EINTR)
				continue;
			return;
		}
		line += w;
		len -= (size_t) w;
	}
}

/* Log a lifecycle event or a failure. */
void
gw_log(const char *fmt, ...)
{
	char		line[GW_LOG_LINE];
	size_t		n;
	va_list		ap;
	int			w;

	n = timestamp(line, sizeof(line));
	va_start(ap, fmt);
	w = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	va_end(ap);
	if (w < 0)
		w = 0;
	n += (size_t) w < sizeof(line) - n - 1 ? (size_t) w : sizeof(line) - n - 2;
	line[n++] = '\n';
	write_line(line, n);
}

/* Log the line of one finished request. */
void
gw_log_request(const char *method, const char *path, int status, double ms,
			   const char *request_id, const char *reason)
{
	char		line[GW_LOG_LINE];
	size_t		n;

	n = timestamp(line, sizeof(line));
	append_escaped(line, sizeof(line), &n, method ? method : "-");
	line[n++] = ' ';
	line[n++] = '"';
	append_escaped(line, sizeof(line) - 200, &n, path ? path : "-");
	n += snprintf(line + n, sizeof(line) - n, "\" %d %.1fms request_id=%s",
				  status, ms, request_id);
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	if (reason != NULL && n < sizeof(line) - 16)
	{
		n += snprintf(line + n, sizeof(line) - n, " reason=\"");
		append_escaped(line, sizeof(line) - 3, &n, reason);
		line[n++] = '"';
	}
	line[n++] = '\n';
	write_line(line, n);
}

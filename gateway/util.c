/*-------------------------------------------------------------------------
 *
 * gateway/util.c
 *	  Small helpers of bluebricks-gateway: base64, UUID, UTF-8 and JSON
 *	  depth checks, percent-decoding, monotonic time and request ids.
 *
 * Request ids are a random 32-bit prefix chosen at start followed by a
 * 32-bit counter, so they are unique within a process and unlikely to
 * repeat across restarts.
 *
 *-------------------------------------------------------------------------
 */
#include "util.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

static uint32_t request_id_prefix;
static atomic_uint request_id_counter;

/* Value of one base64 digit, or -1. */
static int
base64_digit(unsigned char c, bool url_safe)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == (url_safe ? '-' : '+'))
		return 62;
	if (c == (url_safe ? '_' : '/'))
		return 63;
	return -1;
}

/* Decode base64 into a fresh NUL-terminated buffer; NULL if invalid. */
char *
gw_base64_decode(const char *src, size_t srclen, bool url_safe, size_t *len)
{
	char	   *out;
	size_t		n = 0;
	size_t		digits;
	uint32_t	acc = 0;
	int			bits = 0;

	/* Padding: optional, but when present it must complete a quantum. */
	digits = srclen;
	while (digits > 0 && src[digits - 1] == '=')
		digits--;
	if (srclen - digits > 2 ||
		(srclen != digits && srclen % 4 != 0) ||
		digits % 4 == 1)
		return NULL;

	out = malloc(digits / 4 * 3 + 3);
	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < digits; i++)
	{
		int			v = base64_digit((unsigned char) src[i], url_safe);

		if (v < 0)
		{
			free(out);
			return NULL;
		}
		acc = (acc << 6) | (uint32_t) v;
		bits += 6;
		if (bits >= 8)
		{
			bits -= 8;
			out[n++] = (char) ((acc >> bits) & 0xff);
		}
	}
	out[n] = '\0';
	*len = n;
	return out;
}

/* Whether s is a canonical UUID. */
bool
gw_is_uuid(const char *s)
{
	for (int i = 0; i < 36; i++)
	{
		char		c = s[i];

		if (i == 8 || i == 13 || i == 18 || i == 23)
		{
			if (c != '-')
				return false;
		}
		else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
				   (c >= 'A' && c <= 'F')))
			return false;
	}
	return s[36] == '\0';
}

/* Whether s[0..len) is valid UTF-8 without NUL bytes. */
bool
gw_valid_utf8(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *) s;
	size_t		i = 0;

	while (i < len)
	{
		unsigned char c = p[i];
		int			follow;
		uint32_t	cp;

		if (c == 0)
			return false;
		if (c < 0x80)
		{
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
		{
			follow = 1;
			cp = c & 0x1f;
		}
		else if (c >= 0xe0 && c <= 0xef)
		{
			follow = 2;
			cp = c & 0x0f;
		}
		else if (c >= 0xf0 && c <= 0xf4)
		{
			follow = 3;
			cp = c & 0x07;
		}
		else
			return false;
		if (len - i <= (size_t) follow)
			return false;
		for (int k = 1; k <= follow; k++)
		{
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		/* overlong forms, surrogates, beyond U+10FFFF */
		if ((follow == 2 && cp < 0x800) || (follow == 3 && cp < 0x10000) ||
			(cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			return false;
		i += follow + 1;
	}
	return true;
}

/* Whether s[0..len) nests no deeper than max_depth. */
bool
gw_json_depth_ok(const char *s, size_t len, int max_depth)
{
	int			depth = 0;
	bool		in_string = false;

	for (size_t i = 0; i < len; i++)
	{
		char		c = s[i];

		if (in_string)
		{
			if (c == '\\')
				i++;
			else if (c == '"')
				in_string = false;
		}
		else if (c == '"')
			in_string = true;
		else if (c == '[' || c == '{')
		{
			if (++depth > max_depth)
				return false;
		}
		else if ((c == ']' || c == '}') && depth > 0)
			depth--;
	}
	return true;
}

/* Value of one hexadecimal digit, or -1. */
static int
hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode %XX escapes in place, keeping %2F and %00 as they are. */
size_t
gw_percent_decode(char *s)
{
	char	   *r = s;
	char	   *w = s;

	while (*r != '\0')
	{
		int			hi;
		int			lo;

		if (r[0] == '%' && (hi = hex_digit(r[1])) >= 0 &&
			(lo = hex_digit(r[2])) >= 0 && hi * 16 + lo != 0 &&
			hi * 16 + lo != '/')
		{
			*w++ = (char) (hi * 16 + lo);
			r += 3;
		}
		else
			*w++ = *r++;
	}
	*w = '\0';
	return (size_t) (w - s);
}

/* Milliseconds on the monotonic clock. */
double
gw_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

/* Choose the random prefix of request ids; call once before any thread. */
void
gw_request_ids_init(void)
{
	uint32_t	r;

	if (getrandom(&r, sizeof(r), 0) != (ssize_t) sizeof(r))
		r = (uint32_t) time(NULL) ^ (uint32_t) getpid();
	request_id_prefix = r;
}

/* Write a fresh request id into buf. */
void
gw_new_request_id(char *buf)
{
	unsigned int n;

	n = atomic_fetch_add(&request_id_counter, 1);
	snprintf(buf, GW_REQUEST_ID_LEN + 1, "%08x%08x",
			 (unsigned int) request_id_prefix, n);
}

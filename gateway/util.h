/*-------------------------------------------------------------------------
 *
 * gateway/util.h
 *	  Small helpers of bluebricks-gateway: base64, UUID, UTF-8 and JSON
 *	  depth checks, percent-decoding, monotonic time and request ids.
 *
 *-------------------------------------------------------------------------
 */
#ifndef GW_UTIL_H
#define GW_UTIL_H

#include <stdbool.h>
#include <stddef.h>

/* Length of a request id, without its NUL: 16 hex digits. */
#define GW_REQUEST_ID_LEN 16

/*
 * Decode base64 (url_safe: the URL alphabet, padding optional) into a fresh
 * NUL-terminated buffer; NULL when src is not valid.  *len gets the decoded
 * length, which does not count the NUL.
 */
extern char *gw_base64_decode(const char *src, size_t srclen, bool url_safe,
							  size_t *len);

/* Whether s is a UUID in its canonical 8-4-4-4-12 hexadecimal form. */
extern bool gw_is_uuid(const char *s);

/* Whether the len bytes at s are valid UTF-8 without any NUL byte. */
extern bool gw_valid_utf8(const char *s, size_t len);

/*
 * Whether the JSON text s[0..len) nests arrays and objects at most
 * max_depth deep (brackets inside strings do not count).  Says nothing of
 * whether the text is valid JSON otherwise.
 */
extern bool gw_json_depth_ok(const char *s, size_t len, int max_depth);

/*
 * Decode the %XX escapes of a NUL-terminated path or query component in
 * place, except %2F and %00: an escaped slash stays text, not a segment
 * separator, and an escaped NUL cannot cut the string short.  Returns the
 * new length.
 */
extern size_t gw_percent_decode(char *s);

/* Milliseconds on the monotonic clock. */
extern double gw_now_ms(void);

/* Choose the random prefix of request ids; call once before any thread. */
extern void gw_request_ids_init(void);

/* Write a fresh request id (GW_REQUEST_ID_LEN hex digits and a NUL). */
extern void gw_new_request_id(char *buf);

#endif							/* GW_UTIL_H */

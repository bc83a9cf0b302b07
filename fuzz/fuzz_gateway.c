/*-------------------------------------------------------------------------
 *
 * fuzz/fuzz_gateway.c
 *	  libFuzzer target over bluebricks-gateway's own request handling:
 *	  path decoding, route matching, query parsing, credentials (Basic and
 *	  Bearer/JWT), body checks, and the mapping of database errors to
 *	  HTTP statuses and error bodies.
 *
 * The gateway's sources are linked as they are; only pool.c and db.c are
 * replaced by fake_db.c, whose answer each input chooses.  An input is
 *
 *	flags  state  method \0 path[?query] \0 authorization \0 dbtext \0 body
 *
 * where flags (one byte) says how to treat the rest:
 *	0x01  authorization is "HEADER.PAYLOAD" (two JSON texts): the target
 *	      encodes and signs it with the configured HS256 secret, so that
 *	      inputs get past signature checking to the claims
 *	0x02  authorization is "user:password", sent as Basic credentials
 *	0x04  the database is unreachable
 *	0x08  the connection is lost mid-transaction
 *	0x10  the call fails with the SQLSTATE chosen by state (one byte, an
 *	      index into sql_states, or past its end the first five bytes of
 *	      dbtext), message dbtext and, with 0x20, hint dbtext
 *	0x40  the call returns SQL NULL (else dbtext as its value)
 * The body is the rest of the input and may hold NUL bytes.
 *
 * Beyond what the sanitizers catch, the target aborts when a reply breaks
 * the gateway's promises: every reply has a status and a body; every
 * error body is {"error": {"code", "message", "hint"}} (plus request_id
 * for 500s); no 5xx without the database having been asked; a database
 * error maps to the status gw_sql_error() gives it; a 5xx never carries
 * the database's text; a 401 carries the challenges.
 *
 *-------------------------------------------------------------------------
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "api.h"
#include "auth.h"
#include "config.h"
#include "errors.h"
#include "fake_db.h"
#include "respond.h"
#include "routes.h"
#include "util.h"

#define FUZZ_SECRET "fuzz-secret-0123456789"

/* SQLSTATEs worth choosing by index: the mapped ones and their neighbours. */
static const char *const sql_states[] = {
	"BB001", "BB002", "BB003", "BB004", "BB005", "BB006", "BB007", "BB008",
	"BB009", "BB000", "BB010", "42501", "42P01", "42883", "22P02", "22001",
	"22P05", "2201B", "53300", "57P01", "57P02", "57P03", "57014", "25006",
	"40001", "40P01", "08006", "08000", "54001", "XX000", "23505", "P0001",
};

#define N_SQL_STATES (sizeof(sql_states) / sizeof(sql_states[0]))

/* Abort with a message: a broken promise, reported as a crash. */
static void
broken(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_gateway: %s: %.2000s\n", what,
			detail ? detail : "");
	abort();
}

/* Base64url without padding of n bytes, into a fresh string. */
static char *
b64url(const unsigned char *s, size_t n)
{
	static const char digits[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	char	   *out = malloc(n / 3 * 4 + 5);
	size_t		o = 0;

	if (out == NULL)
		abort();
	for (size_t i = 0; i < n; i += 3)
	{
		uint32_t	v = (uint32_t) s[i] << 16;
		size_t		left = n - i;

		if (left > 1)
			v |= (uint32_t) s[i + 1] << 8;
		if (left > 2)
			v |= s[i + 2];
		out[o++] = digits[(v >> 18) & 63];
		out[o++] = digits[(v >> 12) & 63];
		if (left > 1)
			out[o++] = digits[(v >> 6) & 63];
		if (left > 2)
			out[o++] = digits[v & 63];
	}
	out[o] = '\0';
	return out;
}

/* Standard base64 with padding of a string, into a fresh string. */
static char *
b64std(const char *s)
{
	size_t		n = strlen(s);
	char	   *out = malloc(n / 3 * 4 + 5);

	if (out == NULL)
		abort();
	EVP_EncodeBlock((unsigned char *) out, (const unsigned char *) s,
					(int) n);
	return out;
}

/* "Bearer h.p.sig" for "HEADER.PAYLOAD", signed with the secret. */
static char *
signed_bearer(const char *spec)
{
	const char *dot = strchr(spec, '.');
	const char *payload = dot ? dot + 1 : "{}";
	size_t		hlen = dot ? (size_t) (dot - spec) : strlen(spec);
	char	   *h = b64url((const unsigned char *) spec, hlen);
	char	   *p = b64url((const unsigned char *) payload, strlen(payload));
	size_t		signing_len = strlen(h) + 1 + strlen(p);
	char	   *signing = malloc(signing_len + 1);
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	char	   *sig;
	char	   *out;

	if (signing == NULL)
		abort();
	snprintf(signing, signing_len + 1, "%s.%s", h, p);
	HMAC(EVP_sha256(), FUZZ_SECRET, (int) strlen(FUZZ_SECRET),
		 (const unsigned char *) signing, signing_len, mac, &maclen);
	sig = b64url(mac, maclen);
	out = malloc(signing_len + strlen(sig) + 16);
	if (out == NULL)
		abort();
	sprintf(out, "Bearer %s.%s", signing, sig);
	free(h);
	free(p);
	free(signing);
	free(sig);
	return out;
}

/* Set the settings once, as a gateway started with an HS256 secret. */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void) argc;
	(void) argv;
	gw_config.jwt_secret = FUZZ_SECRET;
	gw_config.max_body = 1024 * 1024;
	gw_config.request_timeout = 30;
	gw_config.pool_size = 1;
	gw_config.threads = 1;
	gw_request_ids_init();
	return 0;
}

/* Check an error body's shape; request_id is required for a 500. */
static void
check_error_body(int status, const char *body, const char *request_id)
{
	json_error_t err;
	json_t	   *js = json_loads(body, 0, &err);
	json_t	   *e;
	json_t	   *hint;
	json_t	   *rid;
	size_t		want_keys = status == 500 ? 4 : 3;

	if (js == NULL)
		broken("error body is not JSON", body);
	e = json_object_get(js, "error");
	if (!json_is_object(js) || json_object_size(js) != 1 ||
		!json_is_object(e) || json_object_size(e) != want_keys ||
		!json_is_string(json_object_get(e, "code")) ||
		json_string_length(json_object_get(e, "code")) == 0 ||
		!json_is_string(json_object_get(e, "message")))
		broken("error body has the wrong shape", body);
	hint = json_object_get(e, "hint");
	if (hint == NULL || !(json_is_string(hint) || json_is_null(hint)))
		broken("error body has no hint", body);
	rid = json_object_get(e, "request_id");
	if (status == 500 &&
		(!json_is_string(rid) || strcmp(json_string_value(rid),
										request_id) != 0))
		broken("500 without its request id", body);
	if (status >= 500)
	{
		const char *m = json_string_value(json_object_get(e, "message"));

		if (gw_fake_db.message != NULL && gw_fake_db.message[0] != '\0' &&
			strstr(m, gw_fake_db.message) != NULL &&
			strstr("internal error the database is unavailable "
				   "the database did not answer in time "
				   "the request kept conflicting with others",
				   gw_fake_db.message) == NULL)
			broken("a 5xx shows the database's text", body);
	}
	json_decref(js);
}

/* Serve one request through gw_api_handle() and check the reply. */
static void
serve(const char *method, char *path_query, const char *authorization,
	  const char *body, size_t body_len)
{
	char	   *query = strchr(path_query, '?');
	const char *expand = NULL;
	char	   *expand_copy = NULL;
	const GwRoute *route = NULL;
	char		task_id[GW_TASK_ID_MAX + 1];
	char		allow[64];
	GwMatch		m;
	GwApiRequest req;
	GwReply		reply;
	char		request_id[GW_REQUEST_ID_LEN + 1];
	size_t		len;
	GwSqlError	mapped;

	/* What libmicrohttpd does before calling the handler. */
	if (query != NULL)
		*query++ = '\0';
	len = gw_percent_decode(path_query);
	if (len != strlen(path_query))
		broken("decoded length is not the string's", path_query);
	while (query != NULL && *query != '\0')
	{
		char	   *amp = strchr(query, '&');
		char	   *eq;

		if (amp != NULL)
			*amp = '\0';
		eq = strchr(query, '=');
		if (eq != NULL)
			*eq = '\0';
		gw_percent_decode(query);
		if (expand == NULL && strcmp(query, "expand") == 0)
		{
			expand_copy = strdup(eq ? eq + 1 : "");
			if (expand_copy == NULL)
				abort();
			gw_percent_decode(expand_copy);
			expand = expand_copy;
		}
		query = amp ? amp + 1 : NULL;
	}

	m = gw_route_match(method, path_query, &route, task_id, allow,
					   sizeof(allow));
	if (m == GW_MATCH_NO_METHOD && allow[0] == '\0')
		broken("405 without an Allow list", path_query);
	if (m != GW_MATCH_OK)
	{
		free(expand_copy);
		return;
	}
	if (strlen(task_id) > GW_TASK_ID_MAX)
		broken("task id longer than its buffer", task_id);

	gw_new_request_id(request_id);
	memset(&reply, 0, sizeof(reply));
	req.route = route;
	req.task_id = task_id;
	req.authorization = authorization;
	req.expand = expand;
	req.body = body;
	req.body_len = body_len;
	req.request_id = request_id;
	gw_fake_db.calls = 0;
	gw_api_handle(&req, &reply);

	if (reply.status < 200 || reply.status > 599 || reply.body == NULL)
		broken("reply without a status or a body", path_query);
	if (reply.status >= 500 && gw_fake_db.calls == 0)
		broken("5xx without the database having been asked", reply.body);
	if (reply.status == 401 && !reply.challenge)
		broken("401 without the challenges", reply.body);
	if (reply.status >= 400)
		check_error_body(reply.status, reply.body, request_id);
	mapped = gw_sql_error(gw_fake_db.sqlstate);
	if (gw_fake_db.calls > 0 && !gw_fake_db.unreachable &&
		!gw_fake_db.lost && gw_fake_db.sqlstate[0] != '\0' &&
		route->id != GW_ROUTE_HEALTHZ && reply.status != mapped.status)
	{
		char		detail[64];

		snprintf(detail, sizeof(detail), "%s gave %d, not %d",
				 gw_fake_db.sqlstate, reply.status, mapped.status);
		broken("database error mapped to another status", detail);
	}
	gw_reply_free(&reply);
	free(expand_copy);
}

/* The small helpers, each against a property of its own. */
static void
check_helpers(const char *s, const char *body, size_t body_len)
{
	size_t		n;
	char	   *d;
	char	   *copy;
	size_t		slashes_in = 0;
	size_t		slashes_out = 0;
	json_t	   *js;
	bool		valid;

	for (int url = 0; url < 2; url++)
	{
		d = gw_base64_decode(s, strlen(s), url == 1, &n);
		if (d != NULL && (n > strlen(s) * 3 / 4 + 1 || d[n] != '\0'))
			broken("base64 decoded to too much", s);
		free(d);
	}

	(void) gw_is_uuid(s);

	/* Decoding never makes a slash or a NUL: %2F and %00 stay text. */
	copy = strdup(s);
	if (copy == NULL)
		abort();
	for (const char *p = s; *p; p++)
		slashes_in += (*p == '/');
	n = gw_percent_decode(copy);
	for (const char *p = copy; *p; p++)
		slashes_out += (*p == '/');
	if (n != strlen(copy) || n > strlen(s) || slashes_in != slashes_out)
		broken("percent-decoding made a slash or a NUL", s);
	free(copy);

	/* UTF-8: the same verdict as jansson's, which the body later meets. */
	valid = gw_valid_utf8(body, body_len);
	js = json_stringn(body, body_len);
	if (valid != (js != NULL && memchr(body, '\0', body_len) == NULL))
		broken("UTF-8 check disagrees with jansson", body);
	json_decref(js);

	(void) gw_json_depth_ok(body, body_len, 512);
}

/* The SQLSTATE mapping and error bodies over arbitrary text. */
static void
check_errors(const char *state, const char *text)
{
	GwSqlError e = gw_sql_error(state);
	char	   *body;
	json_t	   *js;
	json_error_t err;
	static const int statuses[] = {400, 401, 403, 404, 409, 422, 500, 503};
	bool		known = false;

	for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++)
		known |= (e.status == statuses[i]);
	if (!known || e.code == NULL || e.code[0] == '\0')
		broken("SQLSTATE mapped outside the known statuses", state);
	if (e.status >= 500 && e.user_message)
		broken("a 5xx would show the database's message", state);

	body = gw_error_body(text, text, text, text[0] ? text : NULL);
	if (body == NULL)
		broken("gw_error_body returned NULL", text);
	js = json_loads(body, 0, &err);
	if (js == NULL)
		broken("gw_error_body made invalid JSON", body);
	json_decref(js);
	free(body);
}

/* Split the input into its fields and run every check. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *buf;
	char	   *fields[4];
	size_t		pos;
	uint8_t		flags;
	uint8_t		state;
	char	   *authorization;
	char	   *auth_owned = NULL;
	const char *body;
	size_t		body_len;
	char		state5[6];

	if (size < 2 || size > 256 * 1024)
		return 0;
	flags = data[0];
	state = data[1];

	/* A copy with a NUL after it, so the last field is a string too. */
	buf = malloc(size + 1);
	if (buf == NULL)
		abort();
	memcpy(buf, data, size);
	buf[size] = '\0';
	pos = 2;
	for (int i = 0; i < 4; i++)
	{
		fields[i] = buf + pos;
		pos += strlen(buf + pos);
		if (pos < size)
			pos++;				/* past the NUL */
	}
	body = buf + pos;
	body_len = size - pos;

	/* The database's answer. */
	memset(&gw_fake_db, 0, sizeof(gw_fake_db));
	gw_fake_db.unreachable = (flags & 0x04) != 0;
	gw_fake_db.lost = (flags & 0x08) != 0;
	gw_fake_db.message = fields[3];
	gw_fake_db.value = fields[3];
	gw_fake_db.isnull = (flags & 0x40) != 0;
	if (flags & 0x10)
	{
		if (state < N_SQL_STATES)
			snprintf(state5, sizeof(state5), "%s", sql_states[state]);
		else
			snprintf(state5, sizeof(state5), "%.5s", fields[3]);
		if (strlen(state5) == 5)
			memcpy(gw_fake_db.sqlstate, state5, 6);
		gw_fake_db.hint = (flags & 0x20) ? fields[3] : NULL;
	}

	/* The credentials. */
	authorization = fields[2];
	if (flags & 0x01)
		authorization = auth_owned = signed_bearer(fields[2]);
	else if (flags & 0x02)
	{
		char	   *b = b64std(fields[2]);

		auth_owned = malloc(strlen(b) + 8);
		if (auth_owned == NULL)
			abort();
		sprintf(auth_owned, "Basic %s", b);
		free(b);
		authorization = auth_owned;
	}

	/* Credentials on their own, as every route parses them. */
	{
		GwAuth		auth;
		const char *why = NULL;
		GwAuthResult r = gw_auth_parse(authorization[0] ? authorization :
									   NULL, &auth, &why);

		if (r == GW_AUTH_INVALID && (why == NULL || why[0] == '\0'))
			broken("invalid credentials without a reason", authorization);
		if (r == GW_AUTH_OK && auth.kind == GW_AUTH_BEARER &&
			auth.claims == NULL)
			broken("bearer accepted without claims", authorization);
		if (r == GW_AUTH_OK && auth.kind == GW_AUTH_BASIC &&
			(auth.username == NULL || auth.password == NULL ||
			 auth.username[0] == '\0'))
			broken("basic accepted without a name", authorization);
		gw_auth_free(&auth);
	}

	serve(fields[0], fields[1], authorization[0] ? authorization : NULL,
		  body, body_len);
	check_helpers(fields[1], body, body_len);
	check_errors(gw_fake_db.sqlstate[0] ? gw_fake_db.sqlstate : fields[3],
				 fields[3]);

	free(auth_owned);
	free(buf);
	return 0;
}

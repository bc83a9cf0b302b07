/*-------------------------------------------------------------------------
 *
 * gateway/auth.c
 *	  Credentials of a request: Basic parsing, Bearer (JWT) verification
 *	  and the permissions they carry.
 *
 * The JWT header is read here first, to choose the key from its "alg":
 * handing libjwt a token whose algorithm the gateway did not choose would
 * let an HS256 token be checked against an RSA public key used as an HMAC
 * secret.  libjwt then verifies the signature, and the algorithm it saw is
 * checked again.  Claims (org, exp, nbf, permissions) are read from the
 * payload as sent, which is also what the database receives; so a token
 * with "role": "runner" is refused, since the database would take its
 * bearer for the runner it names: runners sign in with Basic credentials.
 *
 *-------------------------------------------------------------------------
 */
#include "auth.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>
#include <jwt.h>

#include "config.h"
#include "routes.h"
#include "util.h"

/* Longest token or credentials accepted, in bytes. */
#define GW_AUTH_MAX 16384

static const struct
{
	const char *name;
	unsigned int bit;
}			permission_names[] = {
	{"read:task", GW_PERM_READ_TASK},
	{"update:task", GW_PERM_UPDATE_TASK},
	{"create:task", GW_PERM_CREATE_TASK},
	{"create:deployment", GW_PERM_CREATE_DEPLOYMENT},
	{"delete:deployment", GW_PERM_DELETE_DEPLOYMENT},
};

/* The permission bit named by the len bytes at name, or 0. */
static unsigned int
permission_bit(const char *name, size_t len)
{
	for (size_t i = 0;
		 i < sizeof(permission_names) / sizeof(permission_names[0]); i++)
	{
		if (strlen(permission_names[i].name) == len &&
			memcmp(permission_names[i].name, name, len) == 0)
			return permission_names[i].bit;
	}
	return 0;
}

/* Permissions of a claims object: "permissions" array and "scope". */
static unsigned int
claims_permissions(json_t *claims)
{
	unsigned int bits = 0;
	json_t	   *perms = json_object_get(claims, "permissions");
	json_t	   *scope = json_object_get(claims, "scope");

	if (json_is_array(perms))
	{
		size_t		i;
		json_t	   *p;

		json_array_foreach(perms, i, p)
		{
			if (json_is_string(p))
				bits |= permission_bit(json_string_value(p),
									   json_string_length(p));
		}
	}
	if (json_is_string(scope))
	{
		const char *s = json_string_value(scope);

		while (*s != '\0')
		{
			size_t		len;

			while (*s == ' ')
				s++;
			len = strcspn(s, " ");
			if (len > 0)
				bits |= permission_bit(s, len);
			s += len;
		}
	}
	return bits;
}

/* Decode one base64url JWT segment of len bytes as a JSON object. */
static json_t *
segment_json(const char *seg, size_t len, char **raw)
{
	size_t		n;
	char	   *buf = gw_base64_decode(seg, len, true, &n);
	json_t	   *js;

	if (buf == NULL)
		return NULL;
	if (!gw_valid_utf8(buf, n) ||
		(js = json_loadb(buf, n, JSON_REJECT_DUPLICATES, NULL)) == NULL)
	{
		free(buf);
		return NULL;
	}
	if (!json_is_object(js))
	{
		json_decref(js);
		free(buf);
		return NULL;
	}
	if (raw != NULL)
		*raw = buf;
	else
		free(buf);
	return js;
}

/* Verify a Bearer token and fill auth from its claims. */
static GwAuthResult
parse_bearer(const char *token, GwAuth *auth, const char **why)
{
	const char *dot1 = strchr(token, '.');
	const char *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
	json_t	   *header;
	json_t	   *claims;
	const char *alg;
	jwt_alg_t	want;
	const unsigned char *key;
	int			key_len;
	jwt_t	   *jwt = NULL;
	char	   *payload = NULL;
	json_t	   *v;
	double		now = (double) time(NULL);

	if (dot1 == NULL || dot2 == NULL || strchr(dot2 + 1, '.') != NULL)
	{
		*why = "the bearer token is not a JWT";
		return GW_AUTH_INVALID;
	}

	header = segment_json(token, dot1 - token, NULL);
	if (header == NULL)
	{
		*why = "the bearer token has an unreadable header";
		return GW_AUTH_INVALID;
	}
	alg = json_string_value(json_object_get(header, "alg"));
	if (alg != NULL && strcmp(alg, "HS256") == 0 &&
		gw_config.jwt_secret != NULL)
	{
		want = JWT_ALG_HS256;
		key = (const unsigned char *) gw_config.jwt_secret;
		key_len = (int) strlen(gw_config.jwt_secret);
	}
	else if (alg != NULL && strcmp(alg, "RS256") == 0 &&
			 gw_config.jwt_public_key != NULL)
	{
		want = JWT_ALG_RS256;
		key = (const unsigned char *) gw_config.jwt_public_key;
		key_len = (int) gw_config.jwt_public_key_len;
	}
	else
	{
		json_decref(header);
		*why = "the bearer token's algorithm is not accepted";
		return GW_AUTH_INVALID;
	}
	json_decref(header);

	if (jwt_decode(&jwt, token, key, key_len) != 0 || jwt == NULL ||
		jwt_get_alg(jwt) != want)
	{
		if (jwt != NULL)
			jwt_free(jwt);
		*why = "the bearer token's signature does not verify";
		return GW_AUTH_INVALID;
	}
	jwt_free(jwt);

	claims = segment_json(dot1 + 1, dot2 - dot1 - 1, &payload);
	if (claims == NULL)
	{
		*why = "the bearer token has unreadable claims";
		return GW_AUTH_INVALID;
	}
	v = json_object_get(claims, "exp");
	if (v != NULL && (!json_is_number(v) || now >= json_number_value(v)))
	{
		*why = "the bearer token has expired";
		goto invalid;
	}
	v = json_object_get(claims, "nbf");
	if (v != NULL && (!json_is_number(v) || now < json_number_value(v)))
	{
		*why = "the bearer token is not valid yet";
		goto invalid;
	}
	v = json_object_get(claims, "org");
	if (!json_is_string(v) || json_string_length(v) == 0)
	{
		*why = "the bearer token has no \"org\" claim";
		goto invalid;
	}
	v = json_object_get(claims, "role");
	if (json_is_string(v) && strcmp(json_string_value(v), "runner") == 0)
	{
		*why = "the bearer token claims the runner role, which only Basic "
			"credentials carry";
		goto invalid;
	}

	auth->kind = GW_AUTH_BEARER;
	auth->claims = payload;
	auth->permissions = claims_permissions(claims);
	json_decref(claims);
	return GW_AUTH_OK;

invalid:
	json_decref(claims);
	free(payload);
	return GW_AUTH_INVALID;
}

/* Decode Basic credentials into auth. */
static GwAuthResult
parse_basic(const char *cred, GwAuth *auth, const char **why)
{
	size_t		len;
	char	   *plain = gw_base64_decode(cred, strlen(cred), false, &len);
	char	   *colon;

	if (plain == NULL || !gw_valid_utf8(plain, len) ||
		(colon = strchr(plain, ':')) == NULL || colon == plain)
	{
		free(plain);
		*why = "the basic credentials are malformed";
		return GW_AUTH_INVALID;
	}
	*colon = '\0';
	auth->kind = GW_AUTH_BASIC;
	auth->username = plain;
	auth->password = strdup(colon + 1);
	if (auth->password == NULL)
	{
		free(plain);
		auth->username = NULL;
		*why = "out of memory";
		return GW_AUTH_INVALID;
	}
	auth->task_token = gw_is_uuid(plain);
	auth->permissions = GW_PERM_RUNNER_IMPLICIT;
	return GW_AUTH_OK;
}

/* Parse an Authorization header value into auth. */
GwAuthResult
gw_auth_parse(const char *header, GwAuth *auth, const char **why)
{
	const char *p;
	char	   *cred;
	size_t		len;
	GwAuthResult result;

	memset(auth, 0, sizeof(*auth));
	if (header == NULL)
		return GW_AUTH_MISSING;
	while (*header == ' ' || *header == '\t')
		header++;
	if (*header == '\0')
		return GW_AUTH_MISSING;

	p = header + strcspn(header, " \t");
	while (*p == ' ' || *p == '\t')
		p++;
	len = strlen(p);
	while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
		len--;
	if (len == 0 || len > GW_AUTH_MAX || memchr(p, ' ', len) != NULL)
	{
		*why = "the authorization header is malformed";
		return GW_AUTH_INVALID;
	}
	cred = strndup(p, len);
	if (cred == NULL)
	{
		*why = "out of memory";
		return GW_AUTH_INVALID;
	}

	if (strncasecmp(header, "Basic", 5) == 0 &&
		(header[5] == ' ' || header[5] == '\t'))
		result = parse_basic(cred, auth, why);
	else if (strncasecmp(header, "Bearer", 6) == 0 &&
			 (header[6] == ' ' || header[6] == '\t'))
		result = parse_bearer(cred, auth, why);
	else
	{
		*why = "the authorization scheme must be Basic or Bearer";
		result = GW_AUTH_INVALID;
	}
	free(cred);
	return result;
}

/* Free what gw_auth_parse() allocated. */
void
gw_auth_free(GwAuth *auth)
{
	free(auth->username);
	free(auth->password);
	free(auth->claims);
	memset(auth, 0, sizeof(*auth));
}

/*-------------------------------------------------------------------------
 *
 * gateway/config.c
 *	  Settings of bluebricks-gateway, from command-line flags and the
 *	  environment.
 *
 *-------------------------------------------------------------------------
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#define GW_MAX_BODY_LIMIT ((size_t) 1 << 30)

GwConfig	gw_config;

/* Print usage to stream. */
static void
usage(FILE *stream)
{
	fputs("Usage: bluebricks-gateway [OPTION]...\n"
		  "HTTP gateway of bluebricks_task: serves the Tasks API by calling\n"
		  "the extension's SQL functions.\n"
		  "\n"
		  "Options (each also read from the environment variable shown;\n"
		  "a flag wins over the variable):\n"
		  "  --listen=HOST:PORT         BLUEBRICKS_LISTEN, address to listen\n"
		  "                             on (default 127.0.0.1:8080; IPv6 as\n"
		  "                             [::1]:8080)\n"
		  "  --database-url=CONNINFO    BLUEBRICKS_DATABASE_URL, libpq\n"
		  "                             conninfo or URI (default\n"
		  "                             \"dbname=postgres\")\n"
		  "  --jwt-secret=SECRET        BLUEBRICKS_JWT_SECRET, HS256 secret of\n"
		  "                             Bearer tokens (prefer the variable:\n"
		  "                             flags show in ps)\n"
		  "  --jwt-public-key=FILE      BLUEBRICKS_JWT_PUBLIC_KEY, PEM public\n"
		  "                             key of RS256 Bearer tokens\n"
		  "  --pool-size=N              BLUEBRICKS_POOL_SIZE, database\n"
		  "                             connections (default 8)\n"
		  "  --threads=N                BLUEBRICKS_THREADS, HTTP worker\n"
		  "                             threads (default: the pool size)\n"
		  "  --max-body=BYTES           BLUEBRICKS_MAX_BODY, largest request\n"
		  "                             body; K and M suffixes allowed\n"
		  "                             (default 1M = 1048576)\n"
		  "  --request-timeout=SECONDS  BLUEBRICKS_REQUEST_TIMEOUT, database\n"
		  "                             statement and connect timeout, and\n"
		  "                             idle HTTP connection timeout\n"
		  "                             (default 30)\n"
		  "  --receive-timeout=SECONDS  BLUEBRICKS_RECEIVE_TIMEOUT, longest\n"
		  "                             time from a request line to the end\n"
		  "                             of its headers and body; a body\n"
		  "                             still arriving then is answered 408\n"
		  "                             (default: the request timeout)\n"
		  "  --max-connections=N        BLUEBRICKS_MAX_CONNECTIONS,\n"
		  "                             concurrent HTTP connections\n"
		  "                             (default 256)\n"
		  "  --max-connections-per-ip=N BLUEBRICKS_MAX_CONNECTIONS_PER_IP,\n"
		  "                             concurrent HTTP connections from one\n"
		  "                             client address (default 64)\n"
		  "  --routes                   print the route table and exit\n"
		  "  --help                     print this help and exit\n"
		  "\n"
		  "Without a JWT secret or public key, Bearer tokens are refused and\n"
		  "only Basic (runner or task token) credentials work.  SIGTERM or\n"
		  "SIGINT stops accepting connections, lets requests in flight\n"
		  "finish, and exits 0.\n", stream);
}

/* Parse a decimal integer in [min, max]; false when it is not one. */
static bool
parse_int(const char *s, long min, long max, long *out)
{
	char	   *end;
	long		v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		return false;
	*out = v;
	return true;
}

/* Parse a size in bytes with an optional K or M suffix. */
static bool
parse_size(const char *s, size_t *out)
{
	char	   *end;
	unsigned long long v;
	unsigned long long mult = 1;

	errno = 0;
	if (*s < '0' || *s > '9')
		return false;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s)
		return false;
	if (*end == 'K' || *end == 'k')
		mult = 1024, end++;
	else if (*end == 'M' || *end == 'm')
		mult = 1024 * 1024, end++;
	if (*end != '\0' || v == 0 || v > GW_MAX_BODY_LIMIT / mult)
		return false;
	*out = (size_t) (v * mult);
	return true;
}

/* Resolve host:port or [v6]:port into gw_config.listen_addr. */
static bool
parse_listen(const char *spec)
{
	char		host[256];
	const char *port;
	const char *colon;
	struct addrinfo hints;
	struct addrinfo *res;
	int			rc;
	long		portnum;

	if (spec[0] == '[')
	{
		const char *close = strchr(spec, ']');

		if (close == NULL || close[1] != ':' ||
			(size_t) (close - spec - 1) >= sizeof(host))
			return false;
		memcpy(host, spec + 1, close - spec - 1);
		host[close - spec - 1] = '\0';
		port = close + 2;
	}
	else
	{
		colon = strrchr(spec, ':');
		if (colon == NULL || (size_t) (colon - spec) >= sizeof(host))
			return false;
		memcpy(host, spec, colon - spec);
		host[colon - spec] = '\0';
		port = colon + 1;
	}
	if (!parse_int(port, 0, 65535, &portnum))
		return false;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
	if (rc != 0)
	{
		fprintf(stderr, "bluebricks-gateway: cannot resolve \"%s\": %s\n",
				host, gai_strerror(rc));
		return false;
	}
	memcpy(&gw_config.listen_addr, res->ai_addr, res->ai_addrlen);
	gw_config.listen_addr_len = res->ai_addrlen;
	freeaddrinfo(res);
	return true;
}

/* Read the whole of a file into a fresh NUL-terminated buffer. */
static char *
read_file(const char *path, size_t *len)
{
	FILE	   *f = fopen(path, "rb");
	char	   *buf;
	long		size;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 ||
		size > 1024 * 1024 || fseek(f, 0, SEEK_SET) != 0)
	{
		fclose(f);
		return NULL;
	}
	buf = malloc(size + 1);
	if (buf == NULL || fread(buf, 1, size, f) != (size_t) size)
	{
		free(buf);
		fclose(f);
		return NULL;
	}
	fclose(f);
	buf[size] = '\0';
	*len = size;
	return buf;
}

/* Value of an environment variable, or dflt when unset or empty. */
static const char *
env_or(const char *name, const char *dflt)
{
	const char *v = getenv(name);

	return (v != NULL && v[0] != '\0') ? v : dflt;
}

enum
{
	OPT_LISTEN = 256,
	OPT_DATABASE_URL,
	OPT_JWT_SECRET,
	OPT_JWT_PUBLIC_KEY,
	OPT_POOL_SIZE,
	OPT_THREADS,
	OPT_MAX_BODY,
	OPT_REQUEST_TIMEOUT,
	OPT_RECEIVE_TIMEOUT,
	OPT_MAX_CONNECTIONS,
	OPT_MAX_CONNECTIONS_PER_IP,
	OPT_ROUTES,
	OPT_HELP
};

/* Read flags and environment into gw_config. */
bool
gw_config_load(int argc, char **argv)
{
	static const struct option options[] = {
		{"listen", required_argument, NULL, OPT_LISTEN},
		{"database-url", required_argument, NULL, OPT_DATABASE_URL},
		{"jwt-secret", required_argument, NULL, OPT_JWT_SECRET},
		{"jwt-public-key", required_argument, NULL, OPT_JWT_PUBLIC_KEY},
		{"pool-size", required_argument, NULL, OPT_POOL_SIZE},
		{"threads", required_argument, NULL, OPT_THREADS},
		{"max-body", required_argument, NULL, OPT_MAX_BODY},
		{"request-timeout", required_argument, NULL, OPT_REQUEST_TIMEOUT},
		{"receive-timeout", required_argument, NULL, OPT_RECEIVE_TIMEOUT},
		{"max-connections", required_argument, NULL, OPT_MAX_CONNECTIONS},
		{"max-connections-per-ip", required_argument, NULL,
		OPT_MAX_CONNECTIONS_PER_IP},
		{"routes", no_argument, NULL, OPT_ROUTES},
		{"help", no_argument, NULL, OPT_HELP},
		{NULL, 0, NULL, 0}
	};
	const char *pool = env_or("BLUEBRICKS_POOL_SIZE", "8");
	const char *threads = env_or("BLUEBRICKS_THREADS", NULL);
	const char *max_body = env_or("BLUEBRICKS_MAX_BODY", "1M");
	const char *timeout = env_or("BLUEBRICKS_REQUEST_TIMEOUT", "30");
	const char *receive = env_or("BLUEBRICKS_RECEIVE_TIMEOUT", NULL);
	const char *maxconn = env_or("BLUEBRICKS_MAX_CONNECTIONS", "256");
	const char *maxconn_ip = env_or("BLUEBRICKS_MAX_CONNECTIONS_PER_IP",
									"64");
	long		v;
	int			c;

	gw_config.listen = env_or("BLUEBRICKS_LISTEN", "127.0.0.1:8080");
	gw_config.database_url = env_or("BLUEBRICKS_DATABASE_URL",
									"dbname=postgres");
	gw_config.jwt_secret = env_or("BLUEBRICKS_JWT_SECRET", NULL);
	gw_config.jwt_public_key_file = env_or("BLUEBRICKS_JWT_PUBLIC_KEY", NULL);

	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1)
	{
		switch (c)
		{
			case OPT_LISTEN:
				gw_config.listen = optarg;
				break;
			case OPT_DATABASE_URL:
				gw_config.database_url = optarg;
				break;
			case OPT_JWT_SECRET:
				gw_config.jwt_secret = optarg[0] ? optarg : NULL;
				break;
			case OPT_JWT_PUBLIC_KEY:
				gw_config.jwt_public_key_file = optarg[0] ? optarg : NULL;
				break;
			case OPT_POOL_SIZE:
				pool = optarg;
				break;
			case OPT_THREADS:
				threads = optarg;
				break;
			case OPT_MAX_BODY:
				max_body = optarg;
				break;
			case OPT_REQUEST_TIMEOUT:
				timeout = optarg;
				break;
			case OPT_RECEIVE_TIMEOUT:
				receive = optarg;
				break;
			case OPT_MAX_CONNECTIONS:
				maxconn = optarg;
				break;
			case OPT_MAX_CONNECTIONS_PER_IP:
				maxconn_ip = optarg;
				break;
			case OPT_ROUTES:
				gw_config.print_routes = true;
				break;
			case OPT_HELP:
				usage(stdout);
				exit(0);
			default:
				usage(stderr);
				return false;
		}
	}
	if (optind < argc)
	{
		fprintf(stderr, "bluebricks-gateway: unexpected argument \"%s\"\n",
				argv[optind]);
		return false;
	}

	if (!parse_int(pool, 1, 1024, &v))
	{
		fprintf(stderr, "bluebricks-gateway: pool size must be an integer "
				"from 1 to 1024, not \"%s\"\n", pool);
		return false;
	}
	gw_config.pool_size = (int) v;
	gw_config.threads = gw_config.pool_size;
	if (threads != NULL)
	{
		if (!parse_int(threads, 1, 1024, &v))
		{
			fprintf(stderr, "bluebricks-gateway: threads must be an integer "
					"from 1 to 1024, not \"%s\"\n", threads);
			return false;
		}
		gw_config.threads = (int) v;
	}
	if (!parse_size(max_body, &gw_config.max_body))
	{
		fprintf(stderr, "bluebricks-gateway: max body must be a size from 1 "
				"byte to 1G, such as 1048576 or 1M, not \"%s\"\n", max_body);
		return false;
	}
	if (!parse_int(timeout, 1, 3600, &v))
	{
		fprintf(stderr, "bluebricks-gateway: request timeout must be whole "
				"seconds from 1 to 3600, not \"%s\"\n", timeout);
		return false;
	}
	gw_config.request_timeout = (int) v;
	gw_config.receive_timeout = gw_config.request_timeout;
	if (receive != NULL)
	{
		if (!parse_int(receive, 1, 3600, &v))
		{
			fprintf(stderr, "bluebricks-gateway: receive timeout must be "
					"whole seconds from 1 to 3600, not \"%s\"\n", receive);
			return false;
		}
		gw_config.receive_timeout = (int) v;
	}
	if (!parse_int(maxconn, 1, 65536, &v))
	{
		fprintf(stderr, "bluebricks-gateway: max connections must be an "
				"integer from 1 to 65536, not \"%s\"\n", maxconn);
		return false;
	}
	gw_config.max_connections = (int) v;
	if (!parse_int(maxconn_ip, 1, 65536, &v))
	{
		fprintf(stderr, "bluebricks-gateway: max connections per IP must "
				"be an integer from 1 to 65536, not \"%s\"\n", maxconn_ip);
		return false;
	}
	gw_config.max_connections_per_ip = (int) v;

	if (gw_config.print_routes)
		return true;

	if (!parse_listen(gw_config.listen))
	{
		fprintf(stderr, "bluebricks-gateway: listen address must be "
				"HOST:PORT or [IPV6]:PORT, not \"%s\"\n", gw_config.listen);
		return false;
	}
	if (gw_config.jwt_public_key_file != NULL)
	{
		gw_config.jwt_public_key = read_file(gw_config.jwt_public_key_file,
											 &gw_config.jwt_public_key_len);
		if (gw_config.jwt_public_key == NULL)
		{
			fprintf(stderr, "bluebricks-gateway: cannot read public key "
					"file \"%s\"\n", gw_config.jwt_public_key_file);
			return false;
		}
	}
	return true;
}

/* The database conninfo with any password masked, malloc'd. */
char *
gw_config_masked_database(void)
{
	PQconninfoOption *opts;
	char	   *err = NULL;
	char	   *out;
	size_t		cap = 256;
	size_t		len = 0;

	opts = PQconninfoParse(gw_config.database_url, &err);
	if (opts == NULL)
	{
		PQfreemem(err);
		return strdup("(unparsable conninfo)");
	}
	out = malloc(cap);
	if (out == NULL)
	{
		PQconninfoFree(opts);
		return NULL;
	}
	out[0] = '\0';
	for (PQconninfoOption *o = opts; o->keyword != NULL; o++)
	{
		const char *val = o->val;
		size_t		need;

		if (val == NULL || val[0] == '\0')
			continue;
		if (strcmp(o->keyword, "password") == 0)
			val = "****";
		need = len + strlen(o->keyword) + strlen(val) + 4;
		if (need > cap)
		{
			char	   *bigger;

			cap = need * 2;
			bigger = realloc(out, cap);
			if (bigger == NULL)
				break;
			out = bigger;
		}
		len += sprintf(out + len, "%s%s=%s", len ? " " : "", o->keyword, val);
	}
	PQconninfoFree(opts);
	return out;
}

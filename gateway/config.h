/*-------------------------------------------------------------------------
 *
 * gateway/config.h
 *	  Settings of bluebricks-gateway, from command-line flags and the
 *	  environment.
 *
 * Each setting has a flag and a BLUEBRICKS_* environment variable; a flag
 * wins over the variable, the variable over the default.  --help lists
 * them all.
 *
 *-------------------------------------------------------------------------
 */
#ifndef GW_CONFIG_H
#define GW_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

typedef struct GwConfig
{
	const char *listen;			/* host:port as given */
	struct sockaddr_storage listen_addr;	/* resolved */
	socklen_t	listen_addr_len;
	const char *database_url;	/* libpq conninfo or URI */
	const char *jwt_secret;		/* HS256 secret, or NULL */
	const char *jwt_public_key_file;	/* RS256 PEM file, or NULL */
	char	   *jwt_public_key; /* its contents */
	size_t		jwt_public_key_len;
	int			pool_size;		/* database connections */
	int			threads;		/* HTTP worker threads */
	size_t		max_body;		/* bytes */
	int			request_timeout;	/* seconds */
	int			receive_timeout;	/* seconds to receive a request */
	int			max_connections;	/* concurrent HTTP connections */
	int			max_connections_per_ip; /* of them, from one address */
	bool		print_routes;	/* --routes: print the table and exit */
} GwConfig;

/* The settings, filled by gw_config_load(). */
extern GwConfig gw_config;

/*
 * Read flags and environment; on a bad value print why and return false.
 * Exits 0 itself for --help.
 */
extern bool gw_config_load(int argc, char **argv);

/* The database conninfo with any password replaced by ****, malloc'd. */
extern char *gw_config_masked_database(void);

#endif							/* GW_CONFIG_H */

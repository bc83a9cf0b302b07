/*-------------------------------------------------------------------------
 *
 * src/environment.h
 *	  Environments, their users and cloud accounts: storing and rendering.
 *
 *-------------------------------------------------------------------------
 */
#ifndef BB_ENVIRONMENT_H
#define BB_ENVIRONMENT_H

#include "postgres.h"

#include "lib/stringinfo.h"
#include "utils/jsonb.h"
#include "utils/uuid.h"

/*
 * Store an environment document (SPI connected); path names it in errors.
 * With only_if_new, an environment that exists already is left as it is.
 */
extern void bb_environment_store(JsonbContainer *env, const char *path,
								 bool only_if_new, pg_uuid_t *id);

/* Whether an environment exists (SPI connected). */
extern bool bb_environment_exists(const pg_uuid_t *id);

/* Append the environment's JSON object, as the task document embeds it. */
extern void bb_environment_render(StringInfo buf, const pg_uuid_t *id);

#endif							/* BB_ENVIRONMENT_H */

/*-------------------------------------------------------------------------
 *
 * src/secrets.h
 *	  Encryption of task secrets at rest.
 *
 *-------------------------------------------------------------------------
 */
#ifndef BB_SECRETS_H
#define BB_SECRETS_H

#include "postgres.h"

#include "utils/jsonb.h"
#include "utils/uuid.h"

/* Define the bluebricks.secret_key_file setting; called from _PG_init. */
extern void bb_secrets_init(void);

/*
 * Encrypt a task's secrets with the key named key_id, or the current key
 * when key_id is NULL; *used_key_id receives the key's id.
 */
extern bytea *bb_secrets_encrypt(const pg_uuid_t *task_id, Jsonb *secrets,
								 const char *key_id,
								 const char **used_key_id);

/* Decrypt what bb_secrets_encrypt made for this task. */
extern Jsonb *bb_secrets_decrypt(const pg_uuid_t *task_id, bytea *sealed,
								 const char *key_id);

#endif							/* BB_SECRETS_H */

/*-------------------------------------------------------------------------
 *
 * src/lease.h
 *	  Leases of tasks to runners, their tokens, and fencing.
 *
 * A token is 32 random bytes shown as 64 hex digits; only its SHA-256 is
 * stored.  A lease is live while lease_expires is in the future.
 *
 *-------------------------------------------------------------------------
 */
#ifndef BB_LEASE_H
#define BB_LEASE_H

#include "postgres.h"
#include "utils/uuid.h"

#define BB_HASH_LEN 32
#define BB_SECRET_BYTES 32
#define BB_SECRET_HEX_LEN (BB_SECRET_BYTES * 2)

/* Fill hex with a fresh random secret (NUL-terminated) and hash with its hash. */
extern void bb_new_secret(char hex[BB_SECRET_HEX_LEN + 1],
						  uint8 hash[BB_HASH_LEN]);

/* SHA-256 of len bytes of data. */
extern void bb_sha256(const char *data, size_t len, uint8 hash[BB_HASH_LEN]);

/* Compare two hashes in constant time. */
extern bool bb_hash_equal(const uint8 *a, const uint8 *b);

/*
 * Fence a change of a task (SPI connected; the caller has locked the task
 * row FOR UPDATE).  token may be NULL.  Raises ERRCODE_BB_LEASE_CONFLICT
 * when the change must be refused; extends a live lease when its token was
 * presented.
 */
extern void bb_lease_fence(const pg_uuid_t *task_id, const char *token);

/* Apply every lapsed lease (SPI connected); returns how many. */
extern int	bb_expire_leases_internal(void);

#endif							/* BB_LEASE_H */

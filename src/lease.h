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

/* The lease of a task row, as its columns say. */
typedef struct BbLease
{
	bool		has_holder;		/* runner_id is not NULL */
	pg_uuid_t	holder;			/* runner_id */
	bool		has_hash;		/* lease_token_hash is not NULL */
	uint8		hash[BB_HASH_LEN];	/* lease_token_hash */
	bool		live;			/* held, and lease_expires is after now() */
} BbLease;

/*
 * Select list of the lease columns that bb_lease_read reads: three
 * columns of bluebricks.task, in this order.
 */
#define BB_LEASE_COLS \
	"runner_id, lease_token_hash, coalesce(lease_expires > now(), false)"

/*
 * SQL expression of lease_expires extended by the lease's duration, for a
 * caller that folds the extension into an UPDATE of its own.
 */
#define BB_LEASE_EXTENDED \
	"now() + coalesce(lease_duration, interval '5 minutes')"

/* Read BB_LEASE_COLS from row of SPI_tuptable, starting at column col. */
extern void bb_lease_read(uint64 row, int col, BbLease *lease);

/*
 * Check a change of a task against its lease (the caller has locked the
 * task row FOR UPDATE and read the lease under that lock).  token may be
 * NULL.  Raises ERRCODE_BB_LEASE_CONFLICT when the change must be refused;
 * returns true when the lease must be extended (BB_LEASE_EXTENDED), which
 * the caller does in the same UPDATE as its change.
 */
extern bool bb_lease_check(const pg_uuid_t *task_id, const char *token,
						   const BbLease *lease);

/*
 * Fence a change of a task (SPI connected; the caller has locked the task
 * row FOR UPDATE): bb_lease_check on the row as it is now, and the
 * extension, if due, run as an UPDATE of its own.
 */
extern void bb_lease_fence(const pg_uuid_t *task_id, const char *token);

/* Apply every lapsed lease (SPI connected); returns how many. */
extern int	bb_expire_leases_internal(void);

#endif							/* BB_LEASE_H */

/*-------------------------------------------------------------------------
 *
 * src/lease.c
 *	  Leases of tasks to runners: tokens, claims, fencing and expiry.
 *
 * A lease is the four columns runner_id, lease_token_hash, lease_expires
 * and lease_duration of bluebricks.task; it is live while lease_expires is
 * after now().  A claim sets them without changing the stage and logs the
 * grant to bluebricks.claim_log.  Only the SHA-256 of a token is stored.
 *
 * A task is claimable when it is pending or plan_approved, has no live
 * lease, belongs to the runner's organization, and is in one of the
 * runner's environments if the runner names any.  Claims take the oldest
 * first and skip rows other transactions hold locked, so concurrent
 * runners never wait for each other nor get the same task.
 *
 * Expiry (bb_expire_leases_internal) treats a lapsed lease by stage:
 *	installing -> error, with error text naming the runner, and its
 *	              unfinished deployments with it;
 *	planning, no_change, and planned when no approval is awaited
 *	(planOnly or forced) -> pending, with the deployments not final;
 *	otherwise  -> the lease is only cleared.
 * It also skips locked rows: a task whose row is locked is being changed
 * by someone, and the next expiry will see it.  Expiry sees only the rows
 * the request may see, so a runner's call lapses leases of its own
 * organization only; expire_leases() run by an operator covers all.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/cryptohash.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "errcodes.h"
#include "json_out.h"
#include "lease.h"
#include "request.h"
#include "spi_query.h"
#include "stage.h"

/* Largest lim accepted by pending_tasks and claim_tasks. */
#define MAX_LIMIT 1000

static BbQuery q_fence_state = BB_QUERY(
	"SELECT " BB_LEASE_COLS " FROM bluebricks.task WHERE task_id = $1");

static BbQuery q_fence_extend = BB_QUERY(
	"UPDATE bluebricks.task SET lease_expires = " BB_LEASE_EXTENDED
	" WHERE task_id = $1");

static BbQuery q_any_lapsed = BB_QUERY_GENERIC(
	"SELECT 1 FROM bluebricks.task WHERE lease_expires <= now() LIMIT 1");

static BbQuery q_lapse_installing = BB_QUERY(
	"UPDATE bluebricks.task t "
	"SET stage = 'error', "
	"    error = 'lease of runner ' || t.runner_id::text || "
	"            ' expired: runner lost' "
	"WHERE t.task_id IN (SELECT task_id FROM bluebricks.task "
	"                    WHERE lease_expires <= now() "
	"                      AND stage = 'installing' "
	"                    FOR UPDATE SKIP LOCKED) "
	"RETURNING t.task_id");

/* An apply cut short leaves its deployments in an unknown state too. */
static BbQuery q_lapse_installing_deployments = BB_QUERY(
	"UPDATE bluebricks.deployment d SET stage = 'error', error = t.error "
	"FROM bluebricks.task t "
	"WHERE d.task_id = ANY ($1) AND t.task_id = d.task_id "
	"  AND d.stage NOT IN ('completed', 'canceled', 'error')");

/*
 * A task whose next move is its runner's, short of installing, is planned
 * again from scratch: planning, no_change, and planned when no person
 * approves it (planOnly completes, a forced task installs).  A planned task
 * waiting for approval keeps its stage; approval makes it claimable.
 */
static BbQuery q_lapse_planning = BB_QUERY(
	"UPDATE bluebricks.task t "
	"SET stage = 'pending', runner_id = NULL, lease_token_hash = NULL, "
	"    lease_expires = NULL, lease_duration = NULL "
	"WHERE t.task_id IN (SELECT task_id FROM bluebricks.task "
	"                    WHERE lease_expires <= now() "
	"                      AND (stage IN ('planning', 'no_change') "
	"                           OR (stage = 'planned' AND (plan_only "
	"                               OR command IN ('force_install', "
	"                                              'force_uninstall')))) "
	"                    FOR UPDATE SKIP LOCKED) "
	"RETURNING t.task_id");

/* Re-planning starts from scratch: the plans made so far are dropped. */
static BbQuery q_lapse_planning_deployments = BB_QUERY(
	"UPDATE bluebricks.deployment SET stage = 'pending' "
	"WHERE task_id = ANY ($1) "
	"  AND stage IN ('planning', 'planned', 'no_change')");

static BbQuery q_lapse_rest = BB_QUERY(
	"UPDATE bluebricks.task t "
	"SET runner_id = NULL, lease_token_hash = NULL, "
	"    lease_expires = NULL, lease_duration = NULL "
	"WHERE t.task_id IN (SELECT task_id FROM bluebricks.task "
	"                    WHERE lease_expires <= now() "
	"                    FOR UPDATE SKIP LOCKED)");

/* The runner's scope, and whether any lease visible to it has lapsed. */
static BbQuery q_runner = BB_QUERY_GENERIC(
	"SELECT organization, environments, "
	"       EXISTS (SELECT FROM bluebricks.task "
	"               WHERE lease_expires <= now()) "
	"FROM bluebricks.runner WHERE id = $1");

/*
 * A claim in one statement: pick up to $4 claimable tasks, oldest first,
 * skipping rows locked by others; lease the n-th of them with the n-th
 * token hash of $5; log each grant.  CLAIM_SQL(limit) is its text with
 * the LIMIT clause given.
 */
#define CLAIM_SQL(limit) \
	"WITH picked AS (" \
	"  SELECT task_id, created FROM bluebricks.task " \
	"  WHERE stage IN ('pending', 'plan_approved') " \
	"    AND organization = $2 " \
	"    AND ($3::uuid[] IS NULL OR environment_id = ANY ($3)) " \
	"    AND (lease_expires IS NULL OR lease_expires <= now()) " \
	"  ORDER BY created, task_id " \
	"  LIMIT " limit " " \
	"  FOR UPDATE SKIP LOCKED), " \
	"numbered AS (" \
	"  SELECT task_id, row_number() OVER (ORDER BY created, task_id) AS n " \
	"  FROM picked), " \
	"granted AS (" \
	"  UPDATE bluebricks.task t " \
	"  SET runner_id = $1, lease_token_hash = ($5::bytea[])[p.n], " \
	"      lease_expires = now() + $6, lease_duration = $6 " \
	"  FROM numbered p " \
	"  WHERE t.task_id = p.task_id " \
	"  RETURNING t.task_id, t.stage, t.lease_expires, t.lease_token_hash, " \
	"            p.n), " \
	"logged AS (" \
	"  INSERT INTO bluebricks.claim_log " \
	"    (task_id, runner_id, claimed, expires, token_hash) " \
	"  SELECT task_id, $1, now(), lease_expires, lease_token_hash " \
	"  FROM granted) " \
	"SELECT task_id, stage::text, n FROM granted ORDER BY n"

/*
 * The claim of one task, the common case, has a plan that never depends
 * on its parameters: kept generic, so that it is not planned per call
 * ($4 is then unused).
 */
static BbQuery q_claim_one = BB_QUERY_GENERIC(CLAIM_SQL("1"));

/* Claims of more tasks get custom plans sized by $4. */
static BbQuery q_claim = BB_QUERY(CLAIM_SQL("$4"));

static BbQuery q_pending_for_runner = BB_QUERY(
	"SELECT task_id, stage::text FROM bluebricks.task "
	"WHERE stage IN ('pending', 'plan_approved') "
	"  AND organization = $1 "
	"  AND ($2::uuid[] IS NULL OR environment_id = ANY ($2)) "
	"  AND (lease_expires IS NULL OR lease_expires <= now()) "
	"ORDER BY created, task_id "
	"LIMIT $3");

static BbQuery q_pending_any = BB_QUERY(
	"SELECT task_id, stage::text FROM bluebricks.task "
	"WHERE stage IN ('pending', 'plan_approved') "
	"  AND (lease_expires IS NULL OR lease_expires <= now()) "
	"ORDER BY created, task_id "
	"LIMIT $1");

/* A bytea holding a hash. */
static bytea *
hash_bytea(const uint8 hash[BB_HASH_LEN])
{
	bytea	   *b = palloc(VARHDRSZ + BB_HASH_LEN);

	SET_VARSIZE(b, VARHDRSZ + BB_HASH_LEN);
	memcpy(VARDATA(b), hash, BB_HASH_LEN);
	return b;
}

/* SHA-256 of len bytes of data. */
void
bb_sha256(const char *data, size_t len, uint8 hash[BB_HASH_LEN])
{
	pg_cryptohash_ctx *ctx = pg_cryptohash_create(PG_SHA256);

	if (ctx == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	if (pg_cryptohash_init(ctx) < 0 ||
		pg_cryptohash_update(ctx, (const uint8 *) data, len) < 0 ||
		pg_cryptohash_final(ctx, hash, BB_HASH_LEN) < 0)
	{
		const char *why = pg_cryptohash_error(ctx);

		pg_cryptohash_free(ctx);
		elog(ERROR, "could not compute SHA-256: %s", why);
	}
	pg_cryptohash_free(ctx);
}

/* Compare two hashes in constant time. */
bool
bb_hash_equal(const uint8 *a, const uint8 *b)
{
	volatile uint8 diff = 0;

	for (int i = 0; i < BB_HASH_LEN; i++)
		diff |= a[i] ^ b[i];
	return diff == 0;
}

/* Fill hex with a fresh random secret and hash with its hash. */
void
bb_new_secret(char hex[BB_SECRET_HEX_LEN + 1], uint8 hash[BB_HASH_LEN])
{
	static const char digits[] = "0123456789abcdef";
	uint8		bytes[BB_SECRET_BYTES];

	if (!pg_strong_random(bytes, sizeof(bytes)))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate a random secret")));
	for (int i = 0; i < BB_SECRET_BYTES; i++)
	{
		hex[2 * i] = digits[bytes[i] >> 4];
		hex[2 * i + 1] = digits[bytes[i] & 0x0f];
	}
	hex[BB_SECRET_HEX_LEN] = '\0';
	explicit_bzero(bytes, sizeof(bytes));
	bb_sha256(hex, BB_SECRET_HEX_LEN, hash);
}

/* Read BB_LEASE_COLS from row of SPI_tuptable, starting at column col. */
void
bb_lease_read(uint64 row, int col, BbLease *lease)
{
	bool		isnull;
	Datum		d;

	lease->has_holder = bb_col_uuid(row, col, &lease->holder);
	d = bb_col_datum(row, col + 1, &isnull);
	lease->has_hash = !isnull;
	memset(lease->hash, 0, BB_HASH_LEN);
	if (!isnull)
	{
		bytea	   *b = DatumGetByteaPP(d);

		if (VARSIZE_ANY_EXHDR(b) != BB_HASH_LEN)
			elog(ERROR, "lease token hash of a task has a bad length");
		memcpy(lease->hash, VARDATA_ANY(b), BB_HASH_LEN);
	}
	lease->live = bb_col_bool(row, col + 2) && lease->has_holder &&
		lease->has_hash;
}

/* Raise the lease conflict of a task with a detail sentence. */
static void
lease_conflict(const pg_uuid_t *task_id, const char *message,
			   const char *detail)
		pg_attribute_noreturn();

/* Raise ERRCODE_BB_LEASE_CONFLICT: message, the task id, then detail. */
static void
lease_conflict(const pg_uuid_t *task_id, const char *message,
			   const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_BB_LEASE_CONFLICT),
			 errmsg("%s %s", message, bb_uuid_text(task_id)),
			 errdetail("%s", detail),
			 errhint("Claim the task again to get a fresh lease token.")));
	pg_unreachable();
}

/*
 * Refuse a change of a task the caller may not make under its lease;
 * returns whether the lease is to be extended.
 */
bool
bb_lease_check(const pg_uuid_t *task_id, const char *token,
			   const BbLease *lease)
{
	const BbRequest *req = bb_request();

	if (token != NULL)
	{
		uint8		given[BB_HASH_LEN];

		if (!lease->live)
			lease_conflict(task_id, "no live lease on task",
						   "A lease token was given, but the task's lease "
						   "has lapsed or was never granted.");
		bb_sha256(token, strlen(token), given);
		if (!bb_hash_equal(given, lease->hash))
			lease_conflict(task_id, "wrong lease token for task",
						   "The token given is not the one of the task's "
						   "current lease; the task may have been leased "
						   "again since.");
		if (req->kind == BB_CALLER_RUNNER &&
			(!req->has_runner ||
			 memcmp(&req->runner, &lease->holder, sizeof(pg_uuid_t)) != 0))
			lease_conflict(task_id, "another runner holds the lease of task",
						   "The lease belongs to a runner other than the "
						   "one making the request.");
		return true;
	}

	if (req->kind != BB_CALLER_RUNNER)
		return false;
	/* Lapsed but not yet expired: the holder's time is up all the same. */
	if (lease->has_holder && !lease->live)
		lease_conflict(task_id, "lease lapsed on task",
					   "The task's lease has lapsed; claim a task again.");
	if (!lease->live)
		return false;

	/* A runner with no token: only a sign-in with this task's token. */
	if (!req->has_runner ||
		memcmp(&req->runner, &lease->holder, sizeof(pg_uuid_t)) != 0)
		lease_conflict(task_id, "another runner holds the lease of task",
					   "The lease belongs to a runner other than the one "
					   "making the request.");
	if (req->has_task &&
		memcmp(&req->task, task_id, sizeof(pg_uuid_t)) == 0)
		return true;
	lease_conflict(task_id, "lease token required to change task",
				   "The task is leased, and a runner must present the "
				   "lease token it got with the claim.");
}

/* Refuse a change the caller may not make; extend the lease if due. */
void
bb_lease_fence(const pg_uuid_t *task_id, const char *token)
{
	BbParams	p = {0};
	BbLease		lease;

	bb_param_uuid(&p, task_id);
	if (bb_query_run(&q_fence_state, &p, false, SPI_OK_SELECT) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_BB_TASK_NOT_FOUND),
				 errmsg("task %s not found", bb_uuid_text(task_id))));
	bb_lease_read(0, 1, &lease);
	if (bb_lease_check(task_id, token, &lease))
		(void) bb_query_run(&q_fence_extend, &p, false, SPI_OK_UPDATE);
}

/*
 * Run q over the tasks whose ids the last statement returned in its first
 * column (SPI connected).
 */
static void
for_returned_tasks(BbQuery *q, uint64 n)
{
	Datum	   *ids = palloc(n * sizeof(Datum));
	BbParams	p = {0};
	ArrayType  *arr;

	for (uint64 i = 0; i < n; i++)
	{
		bool		isnull;

		ids[i] = bb_col_datum(i, 1, &isnull);
	}
	arr = construct_array(ids, (int) n, UUIDOID, UUID_LEN, false,
						  TYPALIGN_CHAR);
	bb_param_datum(&p, UUIDARRAYOID, PointerGetDatum(arr), false);
	(void) bb_query_run(q, &p, false, SPI_OK_UPDATE);
}

/*
 * Move lapsed installing tasks and their unfinished deployments to error
 * (SPI connected); returns how many tasks.
 */
static uint64
lapse_installing(void)
{
	uint64		n = bb_query_run(&q_lapse_installing, NULL, false,
								 SPI_OK_UPDATE_RETURNING);

	if (n > 0)
		for_returned_tasks(&q_lapse_installing_deployments, n);
	return n;
}

/*
 * Move lapsed planning tasks and their deployments that are not final back
 * to pending (SPI connected); returns how many tasks.  The stage machine
 * allows those moves only while bb_stage_lease_override is set.
 */
static uint64
lapse_planning(void)
{
	volatile uint64 n = 0;

	PG_TRY();
	{
		bb_stage_lease_override = true;
		n = bb_query_run(&q_lapse_planning, NULL, false,
						 SPI_OK_UPDATE_RETURNING);
		if (n > 0)
			for_returned_tasks(&q_lapse_planning_deployments, n);
	}
	PG_FINALLY();
	{
		bb_stage_lease_override = false;
	}
	PG_END_TRY();
	return n;
}

/* Apply the lapsed leases the request can see (SPI connected). */
static int
expire_lapsed(void)
{
	uint64		total = 0;

	total += lapse_installing();
	total += lapse_planning();
	total += bb_query_run(&q_lapse_rest, NULL, false, SPI_OK_UPDATE);
	if (total > 0)
		elog(DEBUG1, "lapsed " UINT64_FORMAT " task leases", total);
	return (int) Min(total, (uint64) PG_INT32_MAX);
}

/* Apply every lapsed lease the request can see (SPI connected). */
int
bb_expire_leases_internal(void)
{
	if (bb_query_run(&q_any_lapsed, NULL, false, SPI_OK_SELECT) == 0)
		return 0;
	return expire_lapsed();
}

/* Raise BB005 unless 1 <= lim <= MAX_LIMIT. */
static void
check_limit(int32 lim)
{
	if (lim < 1 || lim > MAX_LIMIT)
		ereport(ERROR,
				(errcode(ERRCODE_BB_INVALID_FIELD),
				 errmsg("lim must be between 1 and %d", MAX_LIMIT),
				 errdetail("The value given was %d.", lim)));
}

/* Raise 42501 when a runner asks on behalf of another runner. */
static void
check_runner_is_caller(const pg_uuid_t *runner)
{
	const BbRequest *req = bb_request();

	if (req->kind != BB_CALLER_RUNNER)
		return;
	if (!req->has_runner ||
		memcmp(&req->runner, runner, sizeof(pg_uuid_t)) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_BB_PERMISSION_DENIED),
				 errmsg("permission denied: a runner may act only for "
						"itself"),
				 errdetail("The request is signed in as a runner other than "
						   "%s.", bb_uuid_text(runner))));
}

/*
 * Organization and environments of a runner (SPI connected), after
 * applying the lapsed leases the request can see; raises BB007 when the
 * runner does not exist or is not visible.  *envs is NULL for a runner
 * serving all environments.  One statement reads the runner and tells
 * whether any lease has lapsed, so that a claim with nothing to expire
 * costs one look-up.
 */
static char *
runner_scope(const pg_uuid_t *runner, Datum *envs, bool *envs_null)
{
	BbParams	p = {0};
	char	   *org;

	bb_param_uuid(&p, runner);
	if (bb_query_run(&q_runner, &p, false, SPI_OK_SELECT) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_BB_UNKNOWN_REFERENCE),
				 errmsg("runner %s does not exist", bb_uuid_text(runner))));
	org = bb_col_text(0, 1);
	*envs = bb_col_datum(0, 2, envs_null);
	if (bb_col_bool(0, 3))
	{
		/* envs points into SPI_tuptable: keep a copy past the updates */
		if (!*envs_null)
			*envs = PointerGetDatum(DatumGetArrayTypePCopy(*envs));
		(void) expire_lapsed();
	}
	return org;
}

/* Append {"taskId": ..., "token": ..., "stage": ...} to an array. */
static void
append_task_entry(StringInfo buf, bool first, Datum task_id,
				  const char *token, const char *stage)
{
	if (!first)
		appendStringInfoChar(buf, ',');
	appendStringInfoChar(buf, '{');
	bb_json_key(buf, "taskId", true);
	bb_json_uuid(buf, DatumGetUUIDP(task_id));
	bb_json_key(buf, "token", false);
	bb_json_string(buf, token);
	bb_json_key(buf, "stage", false);
	bb_json_string(buf, stage);
	appendStringInfoChar(buf, '}');
}

/*
 * bluebricks.claim_tasks(runner uuid, lim integer DEFAULT 1,
 *						  lease interval DEFAULT '5 minutes') RETURNS jsonb
 *
 * Lease up to lim claimable tasks to the runner, oldest first.  Returns
 * [{"taskId": ..., "token": ..., "stage": ...}]; each token is shown only
 * here.
 */
PG_FUNCTION_INFO_V1(bb_claim_tasks);
Datum
bb_claim_tasks(PG_FUNCTION_ARGS)
{
	pg_uuid_t  *runner = PG_GETARG_UUID_P(0);
	int32		lim = PG_GETARG_INT32(1);
	Interval   *lease = PG_GETARG_INTERVAL_P(2);
	Interval	zero = {0};
	char	   *lease_text;
	StringInfoData buf;
	Jsonb	   *result;
	char	   *org;
	Datum		envs;
	bool		envs_null;
	char	  **tokens;
	Datum	   *hashes;
	BbParams	p = {0};
	uint64		n;

	bb_require_permission("read:task");
	if (bb_request()->kind != BB_CALLER_RUNNER &&
		bb_request()->kind != BB_CALLER_ADMIN)
		ereport(ERROR,
				(errcode(ERRCODE_BB_PERMISSION_DENIED),
				 errmsg("permission denied: only a runner may claim tasks"),
				 errdetail("A claim returns lease tokens, which belong to "
						   "runners alone.")));
	check_runner_is_caller(runner);
	check_limit(lim);
	if (DatumGetBool(DirectFunctionCall2(interval_le,
										 IntervalPGetDatum(lease),
										 IntervalPGetDatum(&zero))))
	{
		Datum		d = DirectFunctionCall1(interval_out,
											IntervalPGetDatum(lease));

		lease_text = DatumGetCString(d);
		ereport(ERROR,
				(errcode(ERRCODE_BB_INVALID_FIELD),
				 errmsg("lease must be a positive interval"),
				 errdetail("The lease given was \"%s\".", lease_text)));
	}

	/* The result is built in the caller's context, outside SPI's. */
	initStringInfo(&buf);
	appendStringInfoChar(&buf, '[');

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	org = runner_scope(runner, &envs, &envs_null);

	/* One fresh token per task that may be granted; unused ones are lost. */
	tokens = palloc(lim * sizeof(char *));
	hashes = palloc(lim * sizeof(Datum));
	for (int32 i = 0; i < lim; i++)
	{
		uint8		hash[BB_HASH_LEN];

		tokens[i] = palloc(BB_SECRET_HEX_LEN + 1);
		bb_new_secret(tokens[i], hash);
		hashes[i] = PointerGetDatum(hash_bytea(hash));
	}
	bb_param_uuid(&p, runner);
	bb_param_text(&p, org);
	bb_param_datum(&p, UUIDARRAYOID, envs, envs_null);
	bb_param_int(&p, lim);
	bb_param_datum(&p, BYTEAARRAYOID,
				   PointerGetDatum(construct_array(hashes, lim, BYTEAOID, -1,
												   false, TYPALIGN_INT)),
				   false);
	bb_param_datum(&p, INTERVALOID, IntervalPGetDatum(lease), false);
	n = bb_query_run(lim == 1 ? &q_claim_one : &q_claim, &p, false,
					 SPI_OK_SELECT);
	for (uint64 i = 0; i < n; i++)
	{
		bool		isnull;
		Datum		id = bb_col_datum(i, 1, &isnull);
		int64		k = DatumGetInt64(bb_col_datum(i, 3, &isnull));

		if (k < 1 || k > lim)
			elog(ERROR, "claim returned token number " INT64_FORMAT, k);
		append_task_entry(&buf, i == 0, id, tokens[k - 1], bb_col_text(i, 2));
	}
	appendStringInfoChar(&buf, ']');
	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed");

	result = bb_json_finish(&buf);
	PG_RETURN_JSONB_P(result);
}

/*
 * bluebricks.pending_tasks(runner uuid DEFAULT NULL,
 *							lim integer DEFAULT 100) RETURNS jsonb
 *
 * Claimable tasks, oldest first, as [{"taskId", "token": null, "stage"}].
 * With a runner, only those that runner may claim; without one, every
 * claimable task the request may see, except that a runner's request
 * defaults to that runner.
 */
PG_FUNCTION_INFO_V1(bb_pending_tasks);
Datum
bb_pending_tasks(PG_FUNCTION_ARGS)
{
	const BbRequest *req;
	pg_uuid_t	runner;
	bool		has_runner = !PG_ARGISNULL(0);
	int32		lim = PG_ARGISNULL(1) ? 100 : PG_GETARG_INT32(1);
	StringInfoData buf;
	BbParams	p = {0};
	uint64		n;

	bb_require_permission("read:task");
	check_limit(lim);
	req = bb_request();
	if (has_runner)
	{
		runner = *PG_GETARG_UUID_P(0);
		check_runner_is_caller(&runner);
	}
	else if (req->kind == BB_CALLER_RUNNER && req->has_runner)
	{
		runner = req->runner;
		has_runner = true;
	}

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '[');

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (has_runner)
	{
		Datum		envs;
		bool		envs_null;
		char	   *org = runner_scope(&runner, &envs, &envs_null);

		bb_param_text(&p, org);
		bb_param_datum(&p, UUIDARRAYOID, envs, envs_null);
		bb_param_int(&p, lim);
		n = bb_query_run(&q_pending_for_runner, &p, false, SPI_OK_SELECT);
	}
	else
	{
		(void) bb_expire_leases_internal();
		bb_param_int(&p, lim);
		n = bb_query_run(&q_pending_any, &p, false, SPI_OK_SELECT);
	}
	for (uint64 i = 0; i < n; i++)
	{
		bool		isnull;

		append_task_entry(&buf, i == 0, bb_col_datum(i, 1, &isnull), NULL,
						  bb_col_text(i, 2));
	}
	appendStringInfoChar(&buf, ']');
	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed");

	PG_RETURN_JSONB_P(bb_json_finish(&buf));
}

/*
 * bluebricks.expire_leases() RETURNS integer
 *
 * Apply every lapsed lease visible to the request; returns how many.
 */
PG_FUNCTION_INFO_V1(bb_expire_leases);
Datum
bb_expire_leases(PG_FUNCTION_ARGS)
{
	int			n;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	n = bb_expire_leases_internal();
	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed");
	PG_RETURN_INT32(n);
}

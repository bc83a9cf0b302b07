/*-------------------------------------------------------------------------
 *
 * src/runner.c
 *	  Runners and the Basic credentials that stand for them.
 *
 * A runner has a name (its Basic username) and a random password of 64
 * hex digits, returned once by create_runner; only the password's SHA-256
 * is stored.  authenticate_basic accepts two kinds of credentials:
 *	- a runner name and its password: claims of that runner;
 *	- a task id and the token of the task's live lease: claims of the
 *	  runner holding the lease, with a "task" claim for that task.
 * The claims returned are what the gateway puts in request.jwt.claims.
 *
 * The look-ups run before any claims exist, so row-level security is
 * lifted for them with bb_request_authenticating.  Every refusal has the
 * same SQLSTATE (BB009) and message, whether the user is unknown or the
 * password wrong, and a hash is computed on every path; the one exception
 * is a token some earlier lease of the task had, refused with BB003 so
 * that a late runner learns its lease is over.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/uuid.h"

#include "errcodes.h"
#include "json_in.h"
#include "json_out.h"
#include "lease.h"
#include "request.h"
#include "spi_query.h"

/* Longest runner name accepted, in bytes. */
#define MAX_RUNNER_NAME 200

static BbQuery q_runner_name_taken = BB_QUERY(
	"SELECT 1 FROM bluebricks.runner WHERE name = $1");

static BbQuery q_runner_insert = BB_QUERY(
	"INSERT INTO bluebricks.runner "
	"  (id, name, organization, environments, password_hash) "
	"VALUES (pg_catalog.gen_random_uuid(), $1, $2, $3, $4) "
	"RETURNING id");

static BbQuery q_runner_login = BB_QUERY(
	"SELECT id, organization, password_hash FROM bluebricks.runner "
	"WHERE name = $1");

static BbQuery q_task_login = BB_QUERY(
	"SELECT runner_id, organization, lease_token_hash FROM bluebricks.task "
	"WHERE task_id = $1 AND lease_expires > now()");

static BbQuery q_token_granted_before = BB_QUERY(
	"SELECT 1 FROM bluebricks.claim_log WHERE task_id = $1 AND token_hash = $2");

/* What a pair of Basic credentials turned out to be. */
typedef enum Credentials
{
	CREDENTIALS_BAD,			/* match nothing */
	CREDENTIALS_OK,				/* a runner, or a live lease's token */
	CREDENTIALS_STALE			/* a token of a lease that is over */
} Credentials;

/* Raise BB005 for a bad argument of create_runner. */
static void
runner_field_error(const char *message, const char *detail)
		pg_attribute_noreturn();

/* Raise ERRCODE_BB_INVALID_FIELD with the message and detail given. */
static void
runner_field_error(const char *message, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_BB_INVALID_FIELD),
			 errmsg("%s", message),
			 errdetail("%s", detail)));
	pg_unreachable();
}

/* Check a runner name: usable as a Basic username and not a uuid. */
static void
check_runner_name(const char *name)
{
	pg_uuid_t	ignored;
	size_t		len = strlen(name);

	if (len == 0)
		runner_field_error("runner name must not be empty",
						   "A runner signs in with its name as the Basic "
						   "username.");
	if (len > MAX_RUNNER_NAME)
		runner_field_error("runner name is too long",
						   "A runner name has at most 200 bytes.");
	for (const char *c = name; *c; c++)
	{
		if (*c == ':' || (unsigned char) *c < 0x21 || *c == 0x7f)
			runner_field_error("runner name must not contain a colon, "
							   "space or control character",
							   "Basic credentials separate the username "
							   "from the password with a colon.");
	}
	if (bb_parse_uuid(name, &ignored))
		runner_field_error("runner name must not be a uuid",
						   "A uuid as the Basic username stands for a task "
						   "signing in with its lease token.");
}

/* A bytea holding a hash. */
static bytea *
hash_bytea(const uint8 hash[BB_HASH_LEN])
{
	bytea	   *b = palloc(VARHDRSZ + BB_HASH_LEN);

	SET_VARSIZE(b, VARHDRSZ + BB_HASH_LEN);
	memcpy(VARDATA(b), hash, BB_HASH_LEN);
	return b;
}

/*
 * bluebricks.create_runner(name text, organization text,
 *							environments uuid[] DEFAULT NULL) RETURNS jsonb
 *
 * Create a runner and return {"runner", "username", "password"}; the
 * password is shown only here.  Operators only.
 */
PG_FUNCTION_INFO_V1(bb_create_runner);
Datum
bb_create_runner(PG_FUNCTION_ARGS)
{
	char	   *name;
	char	   *org;
	Datum		envs = (Datum) 0;
	bool		envs_null = PG_ARGISNULL(2);
	char		password[BB_SECRET_HEX_LEN + 1];
	uint8		hash[BB_HASH_LEN];
	BbParams	p = {0};
	pg_uuid_t	id;
	StringInfoData buf;

	if (bb_request()->kind != BB_CALLER_ADMIN)
		ereport(ERROR,
				(errcode(ERRCODE_BB_PERMISSION_DENIED),
				 errmsg("permission denied: only an operator may create "
						"runners"),
				 errdetail("Runners are created with plain SQL, without "
						   "request claims, by a member of "
						   "bluebricks_admin.")));

	if (PG_ARGISNULL(0))
		runner_field_error("runner name is required",
						   "A runner signs in with its name as the Basic "
						   "username.");
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	check_runner_name(name);
	if (PG_ARGISNULL(1))
		runner_field_error("runner organization is required",
						   "A runner takes tasks of one organization.");
	org = text_to_cstring(PG_GETARG_TEXT_PP(1));
	if (org[0] == '\0')
		runner_field_error("runner organization must not be empty",
						   "A runner takes tasks of one organization.");
	if (!envs_null)
	{
		ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(2);

		if (ARR_NDIM(arr) > 1 || array_contains_nulls(arr))
			runner_field_error("runner environments must be a flat list of "
							   "uuids without nulls",
							   "Leave environments null for a runner that "
							   "serves all environments of its "
							   "organization.");
		envs = PointerGetDatum(arr);
	}

	bb_new_secret(password, hash);
	initStringInfo(&buf);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	bb_param_text(&p, name);
	if (bb_query_run(&q_runner_name_taken, &p, false, SPI_OK_SELECT) > 0)
		ereport(ERROR,
				(errcode(ERRCODE_BB_INVALID_FIELD),
				 errmsg("runner name \"%s\" is already taken", name),
				 errdetail("Runner names are unique: they are Basic "
						   "usernames.")));
	bb_param_text(&p, org);
	p.types[p.n] = UUIDARRAYOID;
	p.values[p.n] = envs;
	p.nulls[p.n] = envs_null ? 'n' : ' ';
	p.n++;
	p.types[p.n] = BYTEAOID;
	p.values[p.n] = PointerGetDatum(hash_bytea(hash));
	p.nulls[p.n] = ' ';
	p.n++;
	if (bb_query_run(&q_runner_insert, &p, false,
					 SPI_OK_INSERT_RETURNING) != 1 ||
		!bb_col_uuid(0, 1, &id))
		elog(ERROR, "runner was not inserted");
	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed");

	appendStringInfoChar(&buf, '{');
	bb_json_key(&buf, "runner", true);
	bb_json_uuid(&buf, &id);
	bb_json_key(&buf, "username", false);
	bb_json_string(&buf, name);
	bb_json_key(&buf, "password", false);
	bb_json_string(&buf, password);
	appendStringInfoChar(&buf, '}');
	explicit_bzero(password, sizeof(password));
	PG_RETURN_JSONB_P(bb_json_finish(&buf));
}

/* Whether the stored hash (a bytea Datum) is the hash given. */
static bool
stored_hash_matches(Datum stored, bool isnull, const uint8 given[BB_HASH_LEN])
{
	bytea	   *b;

	if (isnull)
		return false;
	b = DatumGetByteaPP(stored);
	if (VARSIZE_ANY_EXHDR(b) != BB_HASH_LEN)
		return false;
	return bb_hash_equal((const uint8 *) VARDATA_ANY(b), given);
}

/* Append a runner's claims; task is the task signed in for, or NULL. */
static void
append_runner_claims(StringInfo buf, const pg_uuid_t *runner,
					 const char *org, const pg_uuid_t *task)
{
	char	   *runner_text = bb_uuid_text(runner);

	appendStringInfoChar(buf, '{');
	bb_json_key(buf, "role", true);
	bb_json_string(buf, "runner");
	bb_json_key(buf, "sub", false);
	appendStringInfo(buf, "\"runner:%s\"", runner_text);
	bb_json_key(buf, "runner", false);
	bb_json_string(buf, runner_text);
	bb_json_key(buf, "org", false);
	bb_json_string(buf, org);
	if (task)
	{
		bb_json_key(buf, "task", false);
		bb_json_uuid(buf, task);
	}
	appendStringInfoChar(buf, '}');
}

/* Whether a claim of the task once granted the token hashed as given. */
static bool
token_granted_before(const pg_uuid_t *task, const uint8 *given)
{
	BbParams	p = {0};
	bytea	   *hash = palloc(VARHDRSZ + BB_HASH_LEN);

	SET_VARSIZE(hash, VARHDRSZ + BB_HASH_LEN);
	memcpy(VARDATA(hash), given, BB_HASH_LEN);
	bb_param_uuid(&p, task);
	bb_param_bytea(&p, hash);
	return bb_query_run(&q_token_granted_before, &p, false,
						SPI_OK_SELECT) > 0;
}

/*
 * Check the credentials (SPI connected) and append the claims they stand
 * for to buf.  A task id with a token of one of its earlier leases is
 * told apart, so that a late runner learns its lease is gone.
 */
static Credentials
check_credentials(const char *username, const char *password,
				  StringInfo buf)
{
	uint8		given[BB_HASH_LEN];
	BbParams	p = {0};
	pg_uuid_t	task;
	pg_uuid_t	runner;
	bool		isnull;
	Datum		stored;

	bb_sha256(password, strlen(password), given);

	bb_param_text(&p, username);
	if (bb_query_run(&q_runner_login, &p, false, SPI_OK_SELECT) > 0)
	{
		stored = bb_col_datum(0, 3, &isnull);
		if (!stored_hash_matches(stored, isnull, given) ||
			!bb_col_uuid(0, 1, &runner))
			return CREDENTIALS_BAD;
		append_runner_claims(buf, &runner, bb_col_text(0, 2), NULL);
		return CREDENTIALS_OK;
	}

	if (!bb_parse_uuid(username, &task))
		return CREDENTIALS_BAD;
	p.n = 0;
	bb_param_uuid(&p, &task);
	if (bb_query_run(&q_task_login, &p, false, SPI_OK_SELECT) == 1)
	{
		stored = bb_col_datum(0, 3, &isnull);
		if (stored_hash_matches(stored, isnull, given) &&
			bb_col_uuid(0, 1, &runner))
		{
			append_runner_claims(buf, &runner, bb_col_text(0, 2), &task);
			return CREDENTIALS_OK;
		}
	}
	return token_granted_before(&task, given) ?
		CREDENTIALS_STALE : CREDENTIALS_BAD;
}

/*
 * bluebricks.authenticate_basic(username text, password text) RETURNS jsonb
 *
 * The claims of a runner name and password, or of a task id and its lease
 * token; raises BB009 for anything else.
 */
PG_FUNCTION_INFO_V1(bb_authenticate_basic);
Datum
bb_authenticate_basic(PG_FUNCTION_ARGS)
{
	char	   *username = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *password = text_to_cstring(PG_GETARG_TEXT_PP(1));
	StringInfoData buf;
	volatile Credentials found = CREDENTIALS_BAD;

	/* Built in the caller's context, so it outlives SPI_finish. */
	initStringInfo(&buf);

	PG_TRY();
	{
		bb_request_authenticating = true;
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		found = check_credentials(username, password, &buf);
		if (SPI_finish() != SPI_OK_FINISH)
			elog(ERROR, "SPI_finish failed");
	}
	PG_FINALLY();
	{
		bb_request_authenticating = false;
	}
	PG_END_TRY();

	explicit_bzero(password, strlen(password));
	if (found == CREDENTIALS_STALE)
		ereport(ERROR,
				(errcode(ERRCODE_BB_LEASE_CONFLICT),
				 errmsg("the lease of task %s is over", username),
				 errdetail("The token was granted by an earlier claim; the "
						   "lease has lapsed or the task has moved on."),
				 errhint("Claim a task again to get a fresh lease.")));
	if (found != CREDENTIALS_OK)
		ereport(ERROR,
				(errcode(ERRCODE_BB_BAD_CREDENTIALS),
				 errmsg("invalid credentials"),
				 errdetail("The username and password match no runner and "
						   "no leased task.")));
	PG_RETURN_JSONB_P(bb_json_finish(&buf));
}

/*-------------------------------------------------------------------------
 *
 * src/request.c
 *	  Who is asking: the claims of the current request; see request.h.
 *
 * The claims text is parsed once and kept, with the transaction it was
 * read in, in a context of its own; a later call in the same transaction
 * with the same text reuses it.  Row-level security policies call
 * bb_org_visible() for every row they check, so that path must stay cheap.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

#include "errcodes.h"
#include "json_in.h"
#include "request.h"

#define CLAIMS_SETTING "request.jwt.claims"

bool		bb_request_authenticating = false;

static MemoryContext request_context = NULL;
static BbRequest current;
static char *current_claims = NULL;		/* text parsed into current */
static LocalTransactionId current_lxid = InvalidLocalTransactionId;
static char **current_permissions = NULL;
static int	current_npermissions = 0;

/* Permissions every runner holds. */
static const char *const runner_permissions[] = {
	"read:task", "update:task", "create:deployment"
};

/* Whether the session user may act for every organization. */
static bool
session_is_admin(void)
{
	Oid			admin = get_role_oid("bluebricks_admin", true);
	Oid			user = GetSessionUserId();

	if (superuser_arg(user))
		return true;
	return OidIsValid(admin) && is_member_of_role(user, admin);
}

/* Copy a string claim into the request context, or NULL. */
static const char *
claim_text(JsonbContainer *claims, const char *key)
{
	JsonbValue *v = bb_jfind(claims, key);

	if (v == NULL || v->type != jbvString)
		return NULL;
	return pnstrdup(v->val.string.val, v->val.string.len);
}

/* Collect permissions from a "permissions" array or a "scope" string. */
static void
collect_permissions(JsonbContainer *claims)
{
	JsonbValue *perms = bb_jfind(claims, "permissions");
	const char *scope = claim_text(claims, "scope");
	int			cap = 8;

	current_permissions = palloc(cap * sizeof(char *));
	current_npermissions = 0;

	if (perms && perms->type == jbvBinary &&
		JsonContainerIsArray(perms->val.binary.data))
	{
		JsonbContainer *arr = perms->val.binary.data;
		int			n = JsonContainerSize(arr);

		for (int i = 0; i < n; i++)
		{
			JsonbValue *p = getIthJsonbValueFromContainer(arr, i);

			if (p->type != jbvString)
				continue;
			if (current_npermissions == cap)
			{
				cap *= 2;
				current_permissions = repalloc(current_permissions,
											   cap * sizeof(char *));
			}
			current_permissions[current_npermissions++] =
				pnstrdup(p->val.string.val, p->val.string.len);
		}
	}
	if (scope)
	{
		char	   *copy = pstrdup(scope);
		char	   *save = NULL;

		for (char *tok = strtok_r(copy, " ", &save); tok;
			 tok = strtok_r(NULL, " ", &save))
		{
			if (current_npermissions == cap)
			{
				cap *= 2;
				current_permissions = repalloc(current_permissions,
											   cap * sizeof(char *));
			}
			current_permissions[current_npermissions++] = tok;
		}
	}
}

/* Parse claims text into current; runs in request_context. */
static void
parse_claims(const char *text)
{
	Jsonb	   *jb;
	JsonbContainer *claims;
	const char *role;
	const char *id;

	jb = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(text)));
	if (!JB_ROOT_IS_OBJECT(jb))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("setting \"%s\" must hold a JSON object",
						CLAIMS_SETTING)));
	claims = &jb->root;
	current.org = claim_text(claims, "org");
	current.subject = claim_text(claims, "sub");
	role = claim_text(claims, "role");
	current.kind = BB_CALLER_PERSON;
	if (role && strcmp(role, "runner") == 0)
	{
		id = claim_text(claims, "runner");
		if (id && bb_parse_uuid(id, &current.runner))
		{
			current.kind = BB_CALLER_RUNNER;
			current.has_runner = true;
		}
		id = claim_text(claims, "task");
		if (id && bb_parse_uuid(id, &current.task))
			current.has_task = true;
	}
	collect_permissions(claims);
}

/* The current request; parsed once per transaction and claims text. */
const BbRequest *
bb_request(void)
{
	const char *text = GetConfigOption(CLAIMS_SETTING, true, false);
	LocalTransactionId lxid = MyProc->lxid;
	MemoryContext old;

	if (text && text[0] == '\0')
		text = NULL;
	if (lxid == current_lxid &&
		((text == NULL && current_claims == NULL) ||
		 (text && current_claims && strcmp(text, current_claims) == 0)))
		return &current;

	if (request_context == NULL)
		request_context = AllocSetContextCreate(TopMemoryContext,
												"bluebricks request",
												ALLOCSET_SMALL_SIZES);
	/* Forget the old request first, so an error leaves nothing stale. */
	current_lxid = InvalidLocalTransactionId;
	MemoryContextReset(request_context);
	memset(&current, 0, sizeof(current));
	current_claims = NULL;
	current_permissions = NULL;
	current_npermissions = 0;

	old = MemoryContextSwitchTo(request_context);
	if (text == NULL)
		current.kind = session_is_admin() ? BB_CALLER_ADMIN : BB_CALLER_NONE;
	else
	{
		parse_claims(text);
		current_claims = pstrdup(text);
	}
	MemoryContextSwitchTo(old);
	current_lxid = lxid;
	return &current;
}

/* Raise 42501 unless the request holds the permission. */
void
bb_require_permission(const char *permission)
{
	const BbRequest *req = bb_request();

	switch (req->kind)
	{
		case BB_CALLER_ADMIN:
			return;
		case BB_CALLER_NONE:
			ereport(ERROR,
					(errcode(ERRCODE_BB_PERMISSION_DENIED),
					 errmsg("permission denied: the request carries no claims"),
					 errdetail("Setting \"%s\" is empty and the session user "
							   "is not a member of bluebricks_admin.",
							   CLAIMS_SETTING),
					 errhint("Call through the gateway, or set the claims "
							 "of the request.")));
			break;
		case BB_CALLER_RUNNER:
			for (size_t i = 0; i < lengthof(runner_permissions); i++)
				if (strcmp(runner_permissions[i], permission) == 0)
					return;
			break;
		case BB_CALLER_PERSON:
			for (int i = 0; i < current_npermissions; i++)
				if (strcmp(current_permissions[i], permission) == 0)
					return;
			break;
	}
	ereport(ERROR,
			(errcode(ERRCODE_BB_PERMISSION_DENIED),
			 errmsg("permission denied: %s is required", permission),
			 errdetail("The request's claims do not grant %s.", permission)));
}

/* Whether the request may see rows of this organization. */
bool
bb_org_visible(const char *org)
{
	const BbRequest *req;

	if (bb_request_authenticating)
		return true;
	req = bb_request();
	if (req->kind == BB_CALLER_ADMIN)
		return true;
	return req->org != NULL && org != NULL && strcmp(req->org, org) == 0;
}

/*
 * bluebricks.org_visible(organization text) RETURNS boolean
 *
 * The test of every row-level security policy of the extension.
 */
PG_FUNCTION_INFO_V1(bb_org_visible_sql);
Datum
bb_org_visible_sql(PG_FUNCTION_ARGS)
{
	char	   *org;
	bool		result;

	if (PG_ARGISNULL(0))
		PG_RETURN_BOOL(false);
	org = text_to_cstring(PG_GETARG_TEXT_PP(0));
	result = bb_org_visible(org);
	pfree(org);
	PG_RETURN_BOOL(result);
}

/* Whether a request signed in for one task may touch this task. */
bool
bb_request_task_allowed(const pg_uuid_t *task_id)
{
	const BbRequest *req = bb_request();

	return !req->has_task ||
		memcmp(&req->task, task_id, sizeof(pg_uuid_t)) == 0;
}

/*-------------------------------------------------------------------------
 *
 * test/load/bbload.c
 *	  Load driver of bluebricks-gateway: runners that claim, plan and
 *	  install tasks, people who read, approve and cancel them, runners that
 *	  stop answering, and slow clients.
 *
 * bbload run   N runner threads claim tasks (POST /api/v1/tasks/claim)
 *              and move each along its kind's path with its lease token
 *              (Basic taskId:token), posting three deployments (p0, p1
 *              depending on p0, p2 depending on p1) at every step; reader
 *              threads read statuses, approve handed-off tasks and cancel
 *              the tasks of kind "cancel" with a Bearer token.  Staller
 *              threads lease a task with a short lease, take it to planning
 *              (then another to installing), stop answering until the lease
 *              lapsed, and then call again, expecting 409.  It ends when
 *              no runner got work for idle-ms, or at max-seconds.
 * bbload slow  holds idle connections, connections that stall inside
 *              their headers, that send their headers one byte a second,
 *              and that send a body one byte a second (from --source, e.g.
 *              127.0.0.2), while it measures the latency of a normal
 *              request from 127.0.0.1 and notes when the gateway closed
 *              each slow connection.
 *
 * Terms: an attempt is one HTTP exchange; a call is the attempts of one
 * logical request, retried while the reply is 503 or the wire failed.
 * Every attempt of a mutating call is a line of the log (tab-separated):
 *	call attempt kind task actor first_send_us send_us recv_us http target
 *	extra
 * kind is claim, status, deploy, cancel, approve, create, stall, late
 * (a stalled runner's call with its own credentials and the token in the
 * body) or late_tt (signed in with the task's token);
 * target the stage asked for (for deploy, uid:action pairs); extra the
 * stage the reply reported, the deployment guids, or a claimed task's
 * id and stage (id:stage; none for an empty claim).  Times are
 * microseconds since the epoch on the wall clock, the one PostgreSQL's
 * now() reads, so the checks can compare them.
 *
 *-------------------------------------------------------------------------
 */
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <jansson.h>

#include "http.h"

/* Kinds of task: the path a runner takes it along. */
typedef enum Kind
{
	K_PLAIN,					/* install: plan, approve itself, install */
	K_FORCE,					/* force_install: planned -> installing */
	K_PLANONLY,					/* planOnly: planned -> completed */
	K_NOCHANGE,					/* planning -> no_change -> completed */
	K_HANDOFF,					/* stops at planned; approved by a person,
								 * installed by the next claim */
	K_CANCEL,					/* plain, canceled at some moment */
	K_UNINSTALL,				/* uninstall: like plain */
	K_FUNINSTALL,				/* force_uninstall: like force */
	K_COUNT
} Kind;

static const char *const kind_names[K_COUNT] = {
	"plain", "force", "planonly", "nochange", "handoff", "cancel",
	"uninstall", "funinstall"
};

typedef struct Task
{
	char		id[37];
	Kind		kind;
	atomic_bool cancel_done;
	atomic_bool stalled;		/* a staller took it: no second stall */
} Task;

typedef struct Runner
{
	char		name[128];
	char		auth[512];
	bool		staller;
	int			stall_phase;	/* 0 planning, 1 installing, 2 done */
	LdHttp		http;
	unsigned int seed;
} Runner;

/* Settings. */
static int	opt_port;
static int	opt_lease = 4;
static int	opt_stall_lease = 2;
static int	opt_readers = 2;
static int	opt_idle_ms = 6000;
static int	opt_max_seconds = 300;
static int	opt_timeout_ms = 15000;
static int	opt_retry_ms = 40000;
static int	opt_hang_ms = 7000;
static int	opt_create;
static const char *opt_env;
static const char *opt_org;
static char bearer[4096];

/* Tasks, sorted by id. */
static Task *tasks;
static int	n_tasks;
static int *cancel_idx;
static int	n_cancel;

/* The log. */
static FILE *log_file;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_long next_call;

/* Tasks waiting for a person's approval. */
#define QUEUE_CAP 8192
static char approve_queue[QUEUE_CAP][37];
static int	q_head;
static int	q_tail;
static pthread_mutex_t q_lock = PTHREAD_MUTEX_INITIALIZER;

/* Run state and counters. */
static atomic_bool stop;
static atomic_llong last_work_us;
static atomic_long n_requests;
static atomic_long n_2xx;
static atomic_long n_409;
static atomic_long n_503;
static atomic_long n_wire;
static atomic_long n_other;
static atomic_long n_unexpected;
static atomic_long n_hangs;
static atomic_long n_reads;
static atomic_long n_finished;
static atomic_long n_abandoned;
static atomic_long n_stalls;
static atomic_long n_late_409;
static atomic_long n_late_other;
static atomic_long n_late_tt_409;
static atomic_long n_late_tt_401;
static atomic_long n_late_tt_other;
static atomic_long n_token_401;
static atomic_long n_gave_up;

#define HIST_MS 20000
static atomic_long hist[HIST_MS + 1];
static atomic_llong max_latency_us;

/* Print a message and exit 2. */
static void
die(const char *msg)
{
	fprintf(stderr, "bbload: %s\n", msg);
	exit(2);
}

/* Sleep ms milliseconds. */
static void
sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long) (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* Count one attempt's status and latency. */
static void
count_attempt(const LdReply *r)
{
	int64_t		us = r->recv_us - r->send_us;
	long long	prev = atomic_load(&max_latency_us);
	int			ms = (int) (us / 1000);

	atomic_fetch_add(&n_requests, 1);
	if (r->status >= 200 && r->status < 300)
		atomic_fetch_add(&n_2xx, 1);
	else if (r->status == 409)
		atomic_fetch_add(&n_409, 1);
	else if (r->status == 503)
		atomic_fetch_add(&n_503, 1);
	else if (r->status == 0)
		atomic_fetch_add(&n_wire, 1);
	else
		atomic_fetch_add(&n_other, 1);
	atomic_fetch_add(&hist[ms > HIST_MS ? HIST_MS : ms], 1);
	while (us > prev &&
		   !atomic_compare_exchange_weak(&max_latency_us, &prev, us))
		;
	if (us > (int64_t) opt_hang_ms * 1000)
	{
		atomic_fetch_add(&n_hangs, 1);
		fprintf(stderr, "bbload: an attempt took %.1f ms (status %d)\n",
				us / 1000.0, r->status);
	}
}

/* Write one log line. */
static void
log_attempt(long call, int attempt, const char *kind, const char *task,
			const char *actor, int64_t first, const LdReply *r,
			const char *target, const char *extra)
{
	pthread_mutex_lock(&log_lock);
	fprintf(log_file, "%ld\t%d\t%s\t%s\t%s\t%lld\t%lld\t%lld\t%d\t%s\t%s\n",
			call, attempt, kind, task ? task : "-", actor, (long long) first,
			(long long) r->send_us, (long long) r->recv_us, r->status,
			target ? target : "-", extra && extra[0] ? extra : "-");
	pthread_mutex_unlock(&log_lock);
}

/* What to take from a 2xx reply for the log. */
typedef enum Extract
{
	EX_NONE,
	EX_STATUS,					/* .status */
	EX_GUIDS,					/* [.[].deployment] joined by commas */
	EX_CLAIM,					/* .[0].stage */
	EX_TASKID					/* .taskId */
} Extract;

/* Fill extra (size 1024) from a reply body. */
static void
extract(const LdReply *r, Extract ex, char *extra, size_t size)
{
	json_t	   *js;
	json_error_t err;

	extra[0] = '\0';
	if (ex == EX_NONE || r->status < 200 || r->status >= 300)
		return;
	js = json_loadb(r->body, r->body_len, 0, &err);
	if (js == NULL)
		return;
	if (ex == EX_STATUS && json_is_string(json_object_get(js, "status")))
		snprintf(extra, size, "%s",
				 json_string_value(json_object_get(js, "status")));
	else if (ex == EX_TASKID && json_is_string(json_object_get(js, "taskId")))
		snprintf(extra, size, "%s",
				 json_string_value(json_object_get(js, "taskId")));
	else if (ex == EX_CLAIM && json_is_array(js) && json_array_size(js) > 0)
	{
		json_t	   *first = json_array_get(js, 0);
		const char *id = json_string_value(json_object_get(first, "taskId"));
		const char *st = json_string_value(json_object_get(first, "stage"));

		snprintf(extra, size, "%s:%s", id ? id : "?", st ? st : "?");
	}
	else if (ex == EX_GUIDS && json_is_array(js))
	{
		size_t		o = 0;
		size_t		i;
		json_t	   *it;

		json_array_foreach(js, i, it)
		{
			const char *g = json_string_value(json_object_get(it,
															  "deployment"));

			o += snprintf(extra + o, size - o, "%s%s", i ? "," : "",
						  g ? g : "?");
			if (o >= size)
				break;
		}
	}
	json_decref(js);
}

/*
 * One call: attempts until the reply is neither 503 nor a wire failure,
 * or the retry window is over.  Each attempt of a mutating call (kind not
 * NULL) is logged.  Returns the last status; *r holds the last reply.
 */
static int
call(LdHttp *h, const char *kind, const char *task, const char *actor,
	 const char *method, const char *path, const char *auth,
	 const char *body, const char *target, Extract ex, LdReply *r,
	 char *extra, size_t extra_size)
{
	long		id = atomic_fetch_add(&next_call, 1);
	int64_t		first = 0;
	int			backoff = 20;

	for (int attempt = 1;; attempt++)
	{
		ld_http_request(h, method, path, auth, body, r);
		if (attempt == 1)
			first = r->send_us;
		count_attempt(r);
		extract(r, ex, extra, extra_size);
		if (kind != NULL)
			log_attempt(id, attempt, kind, task, actor, first, r, target,
						extra);
		if (r->status != 0 && r->status != 503)
			return r->status;
		if (ld_now_us() - first > (int64_t) opt_retry_ms * 1000)
		{
			atomic_fetch_add(&n_gave_up, 1);
			return r->status;
		}
		sleep_ms(backoff);
		if (backoff < 500)
			backoff *= 2;
	}
}

/* The task of an id, or NULL. */
static Task *
find_task(const char *id)
{
	int			lo = 0;
	int			hi = n_tasks - 1;

	while (lo <= hi)
	{
		int			mid = (lo + hi) / 2;
		int			c = strcmp(tasks[mid].id, id);

		if (c == 0)
			return &tasks[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return NULL;
}

/* Count a reply no client should ever get. */
static void
unexpected(const char *what, const char *task, const LdReply *r)
{
	atomic_fetch_add(&n_unexpected, 1);
	fprintf(stderr, "bbload: unexpected %d for %s of %s: %.300s\n",
			r->status, what, task ? task : "-", r->body ? r->body : "");
}

/* One task in the hands of a runner. */
typedef struct Job
{
	Runner	   *runner;
	Task	   *task;
	char		auth[512];		/* Basic taskId:token */
	char		token[80];
	bool		dawdle;			/* pause between steps */
} Job;

/* Pause a little between steps of a task that may be canceled. */
static void
dawdle(Job *j)
{
	if (j->dawdle)
		sleep_ms(rand_r(&j->runner->seed) % 15);
}

/*
 * Move the task to stage; true when the reply is 200 with that status.
 * A 409 (canceled, lapsed lease, taken over) or 404 makes the runner let
 * the task go; other statuses are unexpected.
 */
static bool
step_status(Job *j, const char *stage, const char *kind)
{
	char		path[128];
	char		body[128];
	char		extra[1024];
	LdReply		r;
	int			st;

	dawdle(j);
	snprintf(path, sizeof(path), "/api/v1/task/%s/status", j->task->id);
	snprintf(body, sizeof(body), "{\"status\": \"%s\"}", stage);
	st = call(&j->runner->http, kind, j->task->id, j->runner->name, "POST",
			  path, j->auth, body, stage, EX_STATUS, &r, extra,
			  sizeof(extra));
	if (st == 200 && strcmp(extra, stage) == 0)
		return true;
	if (st == 401)
		atomic_fetch_add(&n_token_401, 1);
	else if (st != 409 && st != 404)
		unexpected("status", j->task->id, &r);
	return false;
}

/*
 * Post the three deployments, each with its action (NULL: not posted);
 * true on 200 with one guid per item.
 */
static bool
step_deploy(Job *j, const char *a0, const char *a1, const char *a2,
			const char *kind)
{
	const char *actions[3] = {a0, a1, a2};
	char		path[128];
	char		body[2048];
	char		target[256];
	char		extra[1024];
	size_t		o = 0;
	size_t		t = 0;
	int			items = 0;
	LdReply		r;
	int			st;
	int			commas = 0;

	dawdle(j);
	o += snprintf(body + o, sizeof(body) - o, "[");
	for (int i = 0; i < 3; i++)
	{
		if (actions[i] == NULL)
			continue;
		o += snprintf(body + o, sizeof(body) - o,
					  "%s{\"package\": {\"name\": \"pkg-%d\", "
					  "\"version\": \"1.%d.0\", \"uniqueId\": \"p%d\", "
					  "\"type\": \"%s\"}, %s%s%s\"action\": \"%s\"}",
					  items ? ", " : "", i, i, i,
					  i == 2 ? "artifact" : "blueprint",
					  i > 0 ? "\"dependencies\": {\"direct\": \"p" : "",
					  i == 1 ? "0\"}, " : i == 2 ? "1\"}, " : "",
					  "", actions[i]);
		t += snprintf(target + t, sizeof(target) - t, "%sp%d:%s",
					  items ? "," : "", i, actions[i]);
		items++;
	}
	snprintf(body + o, sizeof(body) - o, "]");
	snprintf(path, sizeof(path), "/api/v1/task/%s/deployments", j->task->id);
	st = call(&j->runner->http, kind, j->task->id, j->runner->name, "POST",
			  path, j->auth, body, target, EX_GUIDS, &r, extra,
			  sizeof(extra));
	for (char *p = extra; *p; p++)
		commas += *p == ',';
	if (st == 200 && extra[0] != '\0' && commas == items - 1)
		return true;
	if (st == 401)
		atomic_fetch_add(&n_token_401, 1);
	else if (st != 409 && st != 404)
		unexpected("deployments", j->task->id, &r);
	return false;
}

/* Whether the kind skips plan_approved (force_install, force_uninstall). */
static bool
is_force(Kind k)
{
	return k == K_FORCE || k == K_FUNINSTALL;
}

/* Install a task that is in plan_approved (or planned, when forced). */
static bool
install(Job *j)
{
	return step_status(j, "installing", "status") &&
		step_deploy(j, "installing", NULL, NULL, "deploy") &&
		step_deploy(j, "completed", "installing", NULL, "deploy") &&
		step_deploy(j, NULL, "completed", "installing", "deploy") &&
		step_deploy(j, NULL, NULL, "completed", "deploy") &&
		step_status(j, "completed", "status");
}

/* Plan a pending task up to planned (or no_change); false if let go. */
static bool
plan(Job *j)
{
	Kind		k = j->task->kind;

	if (!step_status(j, "planning", "status") ||
		!step_deploy(j, "planning", "planning", "planning", "deploy"))
		return false;
	if (k == K_NOCHANGE)
		return step_deploy(j, "no_change", "no_change", "no_change",
						   "deploy") &&
			step_status(j, "no_change", "status");
	return step_deploy(j, "planned", "planned", "planned", "deploy") &&
		step_status(j, "planned", "status");
}

/* Queue a task for a person's approval. */
static void
queue_approval(const char *id)
{
	pthread_mutex_lock(&q_lock);
	if ((q_tail + 1) % QUEUE_CAP != q_head)
	{
		memcpy(approve_queue[q_tail], id, 37);
		q_tail = (q_tail + 1) % QUEUE_CAP;
	}
	pthread_mutex_unlock(&q_lock);
}

/* Take a task to approve; false when none waits. */
static bool
dequeue_approval(char *id)
{
	bool		got = false;

	pthread_mutex_lock(&q_lock);
	if (q_head != q_tail)
	{
		memcpy(id, approve_queue[q_head], 37);
		q_head = (q_head + 1) % QUEUE_CAP;
		got = true;
	}
	pthread_mutex_unlock(&q_lock);
	return got;
}

/* Take a claimed task along its kind's path, from stage. */
static void
work(Job *j, const char *stage)
{
	Kind		k = j->task->kind;
	bool		done = false;

	if (strcmp(stage, "plan_approved") == 0)
		done = step_deploy(j, "plan_approved", "plan_approved",
						   "plan_approved", "deploy") && install(j);
	else if (!plan(j))
		done = false;
	else if (k == K_NOCHANGE)
		done = step_deploy(j, "completed", "completed", "completed",
						   "deploy") &&
			step_status(j, "completed", "status");
	else if (k == K_PLANONLY)
		done = step_deploy(j, "completed", "completed", "completed",
						   "deploy") &&
			step_status(j, "completed", "status");
	else if (k == K_HANDOFF)
	{
		/* walk away: a person approves, the next claim installs */
		queue_approval(j->task->id);
		return;
	}
	else if (is_force(k))
		done = install(j);
	else
		done = step_status(j, "plan_approved", "status") &&
			step_deploy(j, "plan_approved", "plan_approved",
						"plan_approved", "deploy") && install(j);
	atomic_fetch_add(done ? &n_finished : &n_abandoned, 1);
}

/*
 * Stop answering: sleep until the lease lapsed, then call again, first
 * signed in with the task's token (a deployment for a task stalled in
 * installing, the status otherwise), then with the runner's own
 * credentials and the token in the body (the status), counting how each
 * was refused.
 */
static void
stall_then_call(Job *j, const char *stage, const char *late_stage,
				bool late_deploy)
{
	char		path[128];
	char		body[256];
	char		extra[1024];
	LdReply		r;
	LdReply		mark = {0};
	int			st;

	mark.send_us = mark.recv_us = ld_now_us();
	mark.status = 200;
	log_attempt(atomic_fetch_add(&next_call, 1), 1, "stall", j->task->id,
				j->runner->name, mark.send_us, &mark, stage, "-");
	atomic_fetch_add(&n_stalls, 1);
	sleep_ms(opt_stall_lease * 1000 + 1500);

	if (late_deploy)
	{
		snprintf(path, sizeof(path), "/api/v1/task/%s/deployments",
				 j->task->id);
		snprintf(body, sizeof(body),
				 "[{\"package\": {\"name\": \"pkg-0\", \"uniqueId\": \"p0\", "
				 "\"type\": \"blueprint\"}, \"action\": \"completed\"}]");
		st = call(&j->runner->http, "late_tt", j->task->id, j->runner->name,
				  "POST", path, j->auth, body, "p0:completed", EX_GUIDS, &r,
				  extra, sizeof(extra));
	}
	else
	{
		snprintf(path, sizeof(path), "/api/v1/task/%s/status", j->task->id);
		snprintf(body, sizeof(body), "{\"status\": \"%s\"}", late_stage);
		st = call(&j->runner->http, "late_tt", j->task->id, j->runner->name,
				  "POST", path, j->auth, body, late_stage, EX_STATUS, &r,
				  extra, sizeof(extra));
	}
	atomic_fetch_add(st == 409 ? &n_late_tt_409 :
					 st == 401 ? &n_late_tt_401 : &n_late_tt_other, 1);

	snprintf(path, sizeof(path), "/api/v1/task/%s/status", j->task->id);
	snprintf(body, sizeof(body), "{\"status\": \"%s\", \"token\": \"%s\"}",
			 late_stage, j->token);
	st = call(&j->runner->http, "late", j->task->id, j->runner->name, "POST",
			  path, j->runner->auth, body, late_stage, EX_STATUS, &r, extra,
			  sizeof(extra));
	atomic_fetch_add(st == 409 ? &n_late_409 : &n_late_other, 1);
	if (st != 409)
		fprintf(stderr, "bbload: late call on %s got %d: %.200s\n",
				j->task->id, st, r.body);
}

/*
 * A staller's task: planning phase stops after posting planning
 * deployments; installing phase stops with p0 installing.  Returns false
 * when the task was let go before the stop (then it counts as abandoned).
 */
static bool
stall(Job *j)
{
	Kind		k = j->task->kind;

	if (j->runner->stall_phase == 0)
	{
		if (!step_status(j, "planning", "status") ||
			!step_deploy(j, "planning", "planning", "planning", "deploy"))
			return false;
		stall_then_call(j, "planning", "planned", false);
		return true;
	}
	if (!plan(j))
		return false;
	if (!is_force(k) &&
		!(step_status(j, "plan_approved", "status") &&
		  step_deploy(j, "plan_approved", "plan_approved", "plan_approved",
					  "deploy")))
		return false;
	if (!step_status(j, "installing", "status") ||
		!step_deploy(j, "installing", NULL, NULL, "deploy"))
		return false;
	stall_then_call(j, "installing", "completed", true);
	return true;
}

/* A runner: claim, work, repeat until told to stop. */
static void *
runner_main(void *arg)
{
	Runner	   *run = arg;
	char		body[128];
	char		extra[1024];
	LdReply		r;

	ld_http_init(&run->http, opt_port, opt_timeout_ms);
	while (!atomic_load(&stop))
	{
		int			lease = run->staller && run->stall_phase < 2 ?
			opt_stall_lease : opt_lease;
		int			st;
		json_t	   *js;
		json_error_t err;
		Job			j;
		const char *id;
		const char *token;
		const char *stage;
		char		stage_copy[32];

		snprintf(body, sizeof(body), "{\"limit\": 1, \"lease_seconds\": %d}",
				 lease);
		st = call(&run->http, "claim", NULL, run->name, "POST",
				  "/api/v1/tasks/claim", run->auth, body, NULL, EX_CLAIM, &r,
				  extra, sizeof(extra));
		if (st != 200)
		{
			/* the database is away: not idle */
			atomic_store(&last_work_us, ld_now_us());
			if (st != 503 && st != 0)
				unexpected("claim", NULL, &r);
			sleep_ms(50);
			continue;
		}
		js = json_loadb(r.body, r.body_len, 0, &err);
		if (js == NULL || !json_is_array(js))
		{
			unexpected("claim body", NULL, &r);
			json_decref(js);
			continue;
		}
		if (json_array_size(js) == 0)
		{
			json_decref(js);
			sleep_ms(10 + rand_r(&run->seed) % 20);
			continue;
		}
		atomic_store(&last_work_us, ld_now_us());
		id = json_string_value(json_object_get(json_array_get(js, 0),
											   "taskId"));
		token = json_string_value(json_object_get(json_array_get(js, 0),
												  "token"));
		stage = json_string_value(json_object_get(json_array_get(js, 0),
												  "stage"));
		memset(&j, 0, sizeof(j));
		j.runner = run;
		j.task = id ? find_task(id) : NULL;
		snprintf(stage_copy, sizeof(stage_copy), "%s", stage ? stage : "?");
		if (j.task == NULL || token == NULL)
		{
			unexpected("claimed task unknown to the driver", id, &r);
			json_decref(js);
			continue;
		}
		ld_basic_auth(j.auth, sizeof(j.auth), j.task->id, token);
		snprintf(j.token, sizeof(j.token), "%s", token);
		json_decref(js);
		j.dawdle = j.task->kind == K_CANCEL;

		if (run->staller && run->stall_phase < 2 &&
			strcmp(stage_copy, "pending") == 0 &&
			(j.task->kind == K_PLAIN || j.task->kind == K_FORCE ||
			 j.task->kind == K_UNINSTALL || j.task->kind == K_FUNINSTALL) &&
			!atomic_exchange(&j.task->stalled, true))
		{
			if (stall(&j))
				run->stall_phase++;
			else
				atomic_fetch_add(&n_abandoned, 1);
		}
		else
			work(&j, stage_copy);
		atomic_store(&last_work_us, ld_now_us());
	}
	ld_http_close(&run->http);
	return NULL;
}

/* A person: approve handed-off tasks, cancel some, read statuses. */
static void *
reader_main(void *arg)
{
	long		self = (long) arg;
	unsigned int seed = 7919 * (unsigned int) self + 1;
	char		actor[32];
	char		path[160];
	char		extra[1024];
	char		id[37];
	LdHttp		h;
	LdReply		r;
	int			st;

	snprintf(actor, sizeof(actor), "person-%ld", self);
	ld_http_init(&h, opt_port, opt_timeout_ms);
	while (!atomic_load(&stop))
	{
		int			dice = rand_r(&seed) % 100;

		if (self == 0 && dequeue_approval(id))
		{
			snprintf(path, sizeof(path), "/api/v1/task/%s/status", id);
			st = call(&h, "approve", id, actor, "POST", path, bearer,
					  "{\"status\": \"plan_approved\"}", "plan_approved",
					  EX_STATUS, &r, extra, sizeof(extra));
			if (st != 200 && st != 409)
				unexpected("approve", id, &r);
			continue;
		}
		if (dice < 25 && n_cancel > 0)
		{
			Task	   *t = &tasks[cancel_idx[rand_r(&seed) % n_cancel]];

			if (atomic_load(&t->cancel_done))
				continue;
			snprintf(path, sizeof(path), "/api/v1/task/%s/status", t->id);
			st = call(&h, "cancel", t->id, actor, "POST", path, bearer,
					  "{\"status\": \"canceled\"}", "canceled", EX_STATUS,
					  &r, extra, sizeof(extra));
			if (st == 200 || st == 409)
				atomic_store(&t->cancel_done, true);
			else
				unexpected("cancel", t->id, &r);
			sleep_ms(rand_r(&seed) % 20);
			continue;
		}
		{
			Task	   *t = &tasks[rand_r(&seed) % n_tasks];
			json_t	   *js;
			json_error_t err;

			snprintf(path, sizeof(path), "/api/v1/task/%s/status%s", t->id,
					 dice < 50 ? "?expand=true" : "");
			st = call(&h, NULL, t->id, actor, "GET", path, bearer, NULL,
					  NULL, EX_NONE, &r, extra, sizeof(extra));
			atomic_fetch_add(&n_reads, 1);
			if (st == 200)
			{
				js = json_loadb(r.body, r.body_len, 0, &err);
				if (js == NULL ||
					!json_is_string(json_object_get(js, "status")))
					unexpected("status read body", t->id, &r);
				json_decref(js);
			}
			else if (st != 503 && st != 0)
				unexpected("status read", t->id, &r);
			sleep_ms(2);
		}
	}
	ld_http_close(&h);
	return NULL;
}

/* Compare tasks by id, for qsort. */
static int
task_cmp(const void *a, const void *b)
{
	return strcmp(((const Task *) a)->id, ((const Task *) b)->id);
}

/* Read "task-id kind" lines. */
static void
load_tasks(const char *file, int extra_slots)
{
	FILE	   *f = fopen(file, "r");
	char		id[64];
	char		kind[32];
	int			cap = 1024;

	if (f == NULL)
		die("cannot open the tasks file");
	tasks = calloc(cap + extra_slots, sizeof(Task));
	while (tasks != NULL && fscanf(f, "%63s %31s", id, kind) == 2)
	{
		int			k;

		for (k = 0; k < K_COUNT && strcmp(kind_names[k], kind) != 0; k++)
			;
		if (k == K_COUNT || strlen(id) != 36)
			die("bad line in the tasks file");
		if (n_tasks == cap)
		{
			cap *= 2;
			tasks = realloc(tasks, (cap + extra_slots) * sizeof(Task));
			if (tasks == NULL)
				die("out of memory");
		}
		memset(&tasks[n_tasks], 0, sizeof(Task));
		memcpy(tasks[n_tasks].id, id, 37);
		tasks[n_tasks].kind = (Kind) k;
		n_tasks++;
	}
	fclose(f);
	if (tasks == NULL)
		die("out of memory");
}

/* Create opt_create tasks over POST /api/v1/tasks before the run. */
static void
create_tasks(void)
{
	LdHttp		h;
	LdReply		r;
	char		body[512];
	char		extra[1024];

	ld_http_init(&h, opt_port, opt_timeout_ms);
	for (int i = 0; i < opt_create; i++)
	{
		int			st;

		snprintf(body, sizeof(body),
				 "{\"command\": \"install\", \"planOnly\": false, "
				 "\"user\": \"load-plain\", \"organization\": \"%s\", "
				 "\"environment\": \"%s\"}", opt_org, opt_env);
		st = call(&h, "create", NULL, "person-create", "POST",
				  "/api/v1/tasks", bearer, body, "pending", EX_TASKID, &r,
				  extra, sizeof(extra));
		if (st != 201 || strlen(extra) != 36)
		{
			unexpected("create", NULL, &r);
			continue;
		}
		memset(&tasks[n_tasks], 0, sizeof(Task));
		memcpy(tasks[n_tasks].id, extra, 37);
		tasks[n_tasks].kind = K_PLAIN;
		n_tasks++;
	}
	ld_http_close(&h);
}

/* Latency at quantile q of the histogram, in ms. */
static int
quantile_ms(double q)
{
	long		total = 0;
	long		seen = 0;

	for (int i = 0; i <= HIST_MS; i++)
		total += atomic_load(&hist[i]);
	for (int i = 0; i <= HIST_MS; i++)
	{
		seen += atomic_load(&hist[i]);
		if (total > 0 && seen >= q * total)
			return i;
	}
	return 0;
}

/* bbload run */
static int
cmd_run(int argc, char **argv)
{
	const char *tasks_file = NULL;
	const char *runners_file = NULL;
	const char *log_path = NULL;
	int			n_runners = 8;
	int			n_stallers = 0;
	Runner	   *runners;
	pthread_t  *threads;
	pthread_t  *readers;
	FILE	   *rf;
	char		user[128];
	char		pass[128];
	int			have = 0;
	int64_t		start;
	int64_t		end;
	double		secs;
	static const struct option opts[] = {
		{"port", required_argument, NULL, 'p'},
		{"tasks", required_argument, NULL, 't'},
		{"runners-file", required_argument, NULL, 'f'},
		{"runners", required_argument, NULL, 'n'},
		{"stallers", required_argument, NULL, 's'},
		{"readers", required_argument, NULL, 'r'},
		{"lease", required_argument, NULL, 'l'},
		{"stall-lease", required_argument, NULL, 'L'},
		{"idle-ms", required_argument, NULL, 'i'},
		{"max-seconds", required_argument, NULL, 'm'},
		{"hang-ms", required_argument, NULL, 'H'},
		{"log", required_argument, NULL, 'o'},
		{"create", required_argument, NULL, 'c'},
		{"env", required_argument, NULL, 'e'},
		{"org", required_argument, NULL, 'g'},
		{NULL, 0, NULL, 0}
	};
	int			c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1)
	{
		switch (c)
		{
			case 'p':
				opt_port = atoi(optarg);
				break;
			case 't':
				tasks_file = optarg;
				break;
			case 'f':
				runners_file = optarg;
				break;
			case 'n':
				n_runners = atoi(optarg);
				break;
			case 's':
				n_stallers = atoi(optarg);
				break;
			case 'r':
				opt_readers = atoi(optarg);
				break;
			case 'l':
				opt_lease = atoi(optarg);
				break;
			case 'L':
				opt_stall_lease = atoi(optarg);
				break;
			case 'i':
				opt_idle_ms = atoi(optarg);
				break;
			case 'm':
				opt_max_seconds = atoi(optarg);
				break;
			case 'H':
				opt_hang_ms = atoi(optarg);
				break;
			case 'o':
				log_path = optarg;
				break;
			case 'c':
				opt_create = atoi(optarg);
				break;
			case 'e':
				opt_env = optarg;
				break;
			case 'g':
				opt_org = optarg;
				break;
			default:
				die("unknown option");
		}
	}
	if (opt_port <= 0 || !tasks_file || !runners_file || !log_path)
		die("run needs --port, --tasks, --runners-file and --log");
	if (opt_create > 0 && (!opt_env || !opt_org))
		die("--create needs --env and --org");
	if (getenv("BB_LOAD_JWT") == NULL)
		die("BB_LOAD_JWT must hold a Bearer token");
	snprintf(bearer, sizeof(bearer), "Bearer %s", getenv("BB_LOAD_JWT"));

	load_tasks(tasks_file, opt_create);
	log_file = fopen(log_path, "w");
	if (log_file == NULL)
		die("cannot open the log");
	if (opt_create > 0)
		create_tasks();
	qsort(tasks, n_tasks, sizeof(Task), task_cmp);
	cancel_idx = calloc(n_tasks + 1, sizeof(int));
	for (int i = 0; i < n_tasks; i++)
		if (tasks[i].kind == K_CANCEL)
			cancel_idx[n_cancel++] = i;

	runners = calloc(n_runners + n_stallers, sizeof(Runner));
	rf = fopen(runners_file, "r");
	if (rf == NULL || runners == NULL)
		die("cannot read the runners file");
	while (have < n_runners + n_stallers &&
		   fscanf(rf, "%127s %127s", user, pass) == 2)
	{
		Runner	   *run = &runners[have];

		snprintf(run->name, sizeof(run->name), "%s", user);
		ld_basic_auth(run->auth, sizeof(run->auth), user, pass);
		run->staller = have >= n_runners;
		run->seed = 31 * have + 17;
		have++;
	}
	fclose(rf);
	if (have < n_runners + n_stallers)
		die("the runners file has too few runners");

	start = ld_now_us();
	atomic_store(&last_work_us, start);
	threads = calloc(have, sizeof(pthread_t));
	readers = calloc(opt_readers, sizeof(pthread_t));
	for (int i = 0; i < have; i++)
		pthread_create(&threads[i], NULL, runner_main, &runners[i]);
	for (long i = 0; i < opt_readers; i++)
		pthread_create(&readers[i], NULL, reader_main, (void *) i);

	for (;;)
	{
		int64_t		now = ld_now_us();
		bool		queue_empty;

		sleep_ms(100);
		pthread_mutex_lock(&q_lock);
		queue_empty = q_head == q_tail;
		pthread_mutex_unlock(&q_lock);
		if (queue_empty &&
			now - atomic_load(&last_work_us) > (int64_t) opt_idle_ms * 1000)
			break;
		if (now - start > (int64_t) opt_max_seconds * 1000000)
		{
			fprintf(stderr, "bbload: stopped at --max-seconds\n");
			break;
		}
	}
	atomic_store(&stop, true);
	for (int i = 0; i < have; i++)
		pthread_join(threads[i], NULL);
	for (int i = 0; i < opt_readers; i++)
		pthread_join(readers[i], NULL);
	end = ld_now_us();
	fclose(log_file);

	secs = (end - start) / 1e6 - opt_idle_ms / 1000.0;
	if (secs < 0.1)
		secs = 0.1;
	printf("requests=%ld busy_seconds=%.1f rate=%.0f/s 2xx=%ld 409=%ld "
		   "503=%ld wire=%ld other=%ld reads=%ld\n",
		   atomic_load(&n_requests), secs, atomic_load(&n_requests) / secs,
		   atomic_load(&n_2xx), atomic_load(&n_409), atomic_load(&n_503),
		   atomic_load(&n_wire), atomic_load(&n_other),
		   atomic_load(&n_reads));
	printf("latency p50=%dms p99=%dms max=%.1fms hangs=%ld gave_up=%ld\n",
		   quantile_ms(0.5), quantile_ms(0.99),
		   atomic_load(&max_latency_us) / 1000.0, atomic_load(&n_hangs),
		   atomic_load(&n_gave_up));
	printf("tasks finished=%ld abandoned=%ld stalls=%ld late_409=%ld "
		   "late_other=%ld late_tt_409=%ld late_tt_401=%ld late_tt_other=%ld "
		   "token_401=%ld "
		   "unexpected=%ld\n",
		   atomic_load(&n_finished), atomic_load(&n_abandoned),
		   atomic_load(&n_stalls), atomic_load(&n_late_409),
		   atomic_load(&n_late_other), atomic_load(&n_late_tt_409),
		   atomic_load(&n_late_tt_401),
		   atomic_load(&n_late_tt_other), atomic_load(&n_token_401),
		   atomic_load(&n_unexpected));
	return 0;
}

/* Source address of the slow clients' sockets (NULL: any). */
static const char *opt_source;

/* Connect a socket to the gateway from opt_source; -1 on failure. */
static int
raw_connect(void)
{
	struct sockaddr_in sa;
	int			fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	if (opt_source != NULL)
	{
		memset(&sa, 0, sizeof(sa));
		sa.sin_family = AF_INET;
		if (inet_pton(AF_INET, opt_source, &sa.sin_addr) != 1 ||
			bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
			die("cannot bind the slow clients' source address");
	}
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons(opt_port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
	{
		close(fd);
		return -1;
	}
	return fd;
}

/* One kind of slow client: its sockets and when the server closed each. */
typedef struct SlowGroup
{
	const char *name;
	int			n;
	int		   *fds;
	int64_t    *closed_us;		/* 0 while open */
	const char *head;			/* sent on connect (NULL: nothing) */
	bool		drip;			/* then one more byte a second */
} SlowGroup;

/* Open a group's sockets and send their first bytes. */
static void
slow_open(SlowGroup *g)
{
	g->fds = calloc(g->n + 1, sizeof(int));
	g->closed_us = calloc(g->n + 1, sizeof(int64_t));
	for (int i = 0; i < g->n; i++)
	{
		g->fds[i] = raw_connect();
		if (g->fds[i] < 0)
			g->closed_us[i] = ld_now_us();
		else if (g->head != NULL &&
				 send(g->fds[i], g->head, strlen(g->head), MSG_NOSIGNAL) < 0)
		{
			close(g->fds[i]);
			g->fds[i] = -1;
			g->closed_us[i] = ld_now_us();
		}
	}
}

/* Note which of a group's sockets the server closed; drip on the rest. */
static void
slow_poll(SlowGroup *g, bool drip_now)
{
	for (int i = 0; i < g->n; i++)
	{
		struct pollfd pfd = {g->fds[i], POLLIN, 0};
		char		b[512];

		if (g->fds[i] < 0)
			continue;
		if (poll(&pfd, 1, 0) == 1 &&
			recv(g->fds[i], b, sizeof(b), MSG_DONTWAIT) <= 0)
		{
			close(g->fds[i]);
			g->fds[i] = -1;
			g->closed_us[i] = ld_now_us();
			continue;
		}
		if (drip_now && g->drip &&
			send(g->fds[i], "x", 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		{
			close(g->fds[i]);
			g->fds[i] = -1;
			g->closed_us[i] = ld_now_us();
		}
	}
}

/* Print "name: n opened, k closed by the server after at most T s". */
static void
slow_report(SlowGroup *g, int64_t start)
{
	int			closed = 0;
	int64_t		latest = 0;

	if (g->n == 0)
		return;
	for (int i = 0; i < g->n; i++)
	{
		if (g->closed_us[i] == 0)
			continue;
		closed++;
		if (g->closed_us[i] - start > latest)
			latest = g->closed_us[i] - start;
		if (g->fds[i] >= 0)
			close(g->fds[i]);
	}
	for (int i = 0; i < g->n; i++)
		if (g->closed_us[i] == 0)
			close(g->fds[i]);
	printf("slow: %s=%d closed=%d open=%d last_close_s=%.1f\n", g->name,
		   g->n, closed, g->n - closed, latest / 1e6);
}

/* bbload slow */
static int
cmd_slow(int argc, char **argv)
{
	SlowGroup	groups[4] = {
		{"idle", 0, NULL, NULL, NULL, false},
		{"stalled_header", 0, NULL, NULL,
		"POST /api/v1/tasks HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ", false},
		{"dripped_header", 0, NULL, NULL,
		"POST /api/v1/tasks HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ", true},
		{"dripped_body", 0, NULL, NULL,
			"POST /api/v1/tasks HTTP/1.1\r\nHost: 127.0.0.1\r\n"
			"Content-Type: application/json\r\n"
			"Authorization: Basic eDp5\r\n"
		"Content-Length: 100000\r\n\r\n{", true},
	};
	int			seconds = 10;
	const char *probe_path = "/healthz";
	const char *probe_auth = NULL;
	int			probes = 0;
	int			probe_ok = 0;
	double		max_ms = 0;
	double		sum_ms = 0;
	int64_t		start;
	int64_t		next_drip;
	LdHttp		h;
	static const struct option opts[] = {
		{"port", required_argument, NULL, 'p'},
		{"idle", required_argument, NULL, 'i'},
		{"stall", required_argument, NULL, 's'},
		{"drip-header", required_argument, NULL, 'D'},
		{"drip", required_argument, NULL, 'd'},
		{"seconds", required_argument, NULL, 'S'},
		{"source", required_argument, NULL, 'f'},
		{"probe-path", required_argument, NULL, 'P'},
		{"probe-auth", required_argument, NULL, 'A'},
		{NULL, 0, NULL, 0}
	};
	int			c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1)
	{
		switch (c)
		{
			case 'p':
				opt_port = atoi(optarg);
				break;
			case 'i':
				groups[0].n = atoi(optarg);
				break;
			case 's':
				groups[1].n = atoi(optarg);
				break;
			case 'D':
				groups[2].n = atoi(optarg);
				break;
			case 'd':
				groups[3].n = atoi(optarg);
				break;
			case 'S':
				seconds = atoi(optarg);
				break;
			case 'f':
				opt_source = optarg;
				break;
			case 'P':
				probe_path = optarg;
				break;
			case 'A':
				probe_auth = optarg;
				break;
			default:
				die("unknown option");
		}
	}
	if (opt_port <= 0)
		die("slow needs --port");
	start = ld_now_us();
	for (int g = 0; g < 4; g++)
		slow_open(&groups[g]);

	/* the probe comes from 127.0.0.1, whatever the slow clients' source */
	ld_http_init(&h, opt_port, 5000);
	next_drip = start + 1000000;
	while (ld_now_us() - start < (int64_t) seconds * 1000000)
	{
		LdReply		r;
		double		ms;
		bool		drip_now = ld_now_us() >= next_drip;

		for (int g = 0; g < 4; g++)
			slow_poll(&groups[g], drip_now);
		if (drip_now)
			next_drip += 1000000;
		/* a fresh connection every other probe: accepting must work too */
		if (probes % 2 == 0)
		{
			ld_http_close(&h);
			ld_http_init(&h, opt_port, 5000);
		}
		ld_http_request(&h, "GET", probe_path, probe_auth, NULL, &r);
		ms = (r.recv_us - r.send_us) / 1000.0;
		probes++;
		if (r.status == 200)
			probe_ok++;
		sum_ms += ms;
		if (ms > max_ms)
			max_ms = ms;
		sleep_ms(100);
	}
	ld_http_close(&h);
	printf("slow: seconds=%d probes=%d ok=%d fail=%d mean_ms=%.1f "
		   "max_ms=%.1f\n", seconds, probes, probe_ok, probes - probe_ok,
		   probes ? sum_ms / probes : 0, max_ms);
	for (int g = 0; g < 4; g++)
		slow_report(&groups[g], start);
	return 0;
}

int
main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc < 2)
		die("usage: bbload run|slow [options]");
	if (strcmp(argv[1], "run") == 0)
		return cmd_run(argc - 1, argv + 1);
	if (strcmp(argv[1], "slow") == 0)
		return cmd_slow(argc - 1, argv + 1);
	die("usage: bbload run|slow [options]");
	return 2;
}

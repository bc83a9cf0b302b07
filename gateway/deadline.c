/*-------------------------------------------------------------------------
 *
 * gateway/deadline.c
 *	  Receive deadlines of HTTP connections, and the thread that closes a
 *	  connection past its deadline.
 *
 * Every open connection is on one list, guarded by one mutex; the watchdog
 * walks it four times a second and shuts down (shutdown(2), both ways)
 * each socket whose deadline has passed, once.  libmicrohttpd then sees
 * the socket end and closes the connection as if the client had left,
 * which completes its request (logged with the reason) and runs the
 * connection's close notification.  A deadline is a monotonic time in
 * milliseconds, 0 for none; the worker thread that owns a connection sets
 * it, the watchdog reads it, both atomically.  See deadline.h.
 *
 *-------------------------------------------------------------------------
 */
#include "deadline.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#include "config.h"
#include "log.h"
#include "util.h"

/* Milliseconds between two rounds of the watchdog. */
#define GW_WATCH_INTERVAL_MS 250

typedef struct GwConnWatch
{
	struct GwConnWatch *prev;
	struct GwConnWatch *next;
	MHD_socket	fd;
	atomic_llong deadline_ms;	/* monotonic ms; 0: none */
	atomic_bool cut;			/* shut down by the watchdog */
} GwConnWatch;

static pthread_mutex_t watch_lock = PTHREAD_MUTEX_INITIALIZER;
static GwConnWatch *watch_head;
static pthread_cond_t watch_wake = PTHREAD_COND_INITIALIZER;
static bool watch_stopping;
static bool watch_running;
static pthread_t watch_thread;
static atomic_long watch_cuts;

/* Seconds a connection may take to send a request line. */
static double
idle_seconds(void)
{
	return gw_config.request_timeout > gw_config.receive_timeout ?
		gw_config.request_timeout : gw_config.receive_timeout;
}

/* The watch of a connection, or NULL when it has none. */
static GwConnWatch *
watch_of(struct MHD_Connection *connection)
{
	const union MHD_ConnectionInfo *info =
		MHD_get_connection_info(connection,
								MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return info != NULL ? (GwConnWatch *) info->socket_context : NULL;
}

/* Shut down every connection past its deadline; returns how many. */
static int
watch_round(void)
{
	long long	now = (long long) gw_now_ms();
	int			n = 0;

	pthread_mutex_lock(&watch_lock);
	for (GwConnWatch *w = watch_head; w != NULL; w = w->next)
	{
		long long	deadline = atomic_load(&w->deadline_ms);

		if (deadline == 0 || now < deadline || atomic_load(&w->cut))
			continue;
		atomic_store(&w->cut, true);
		if (shutdown(w->fd, SHUT_RDWR) == 0 || errno == ENOTCONN)
			n++;
	}
	pthread_mutex_unlock(&watch_lock);
	return n;
}

/* The watchdog thread. */
static void *
watch_main(void *arg)
{
	(void) arg;
	pthread_mutex_lock(&watch_lock);
	while (!watch_stopping)
	{
		struct timespec until;
		int			n;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += GW_WATCH_INTERVAL_MS * 1000000L;
		if (until.tv_nsec >= 1000000000L)
		{
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&watch_wake, &watch_lock, &until);
		if (watch_stopping)
			break;
		pthread_mutex_unlock(&watch_lock);
		n = watch_round();
		if (n > 0)
			atomic_fetch_add(&watch_cuts, n);
		pthread_mutex_lock(&watch_lock);
	}
	pthread_mutex_unlock(&watch_lock);
	return NULL;
}

/* Start the watchdog thread. */
bool
gw_deadline_start(void)
{
	sigset_t	all;
	sigset_t	old;
	int			rc;

	/* the thread takes no signals: the main thread waits for them */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	rc = pthread_create(&watch_thread, NULL, watch_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	watch_running = rc == 0;
	return watch_running;
}

/* Stop the watchdog thread. */
void
gw_deadline_stop(void)
{
	if (!watch_running)
		return;
	pthread_mutex_lock(&watch_lock);
	watch_stopping = true;
	pthread_cond_signal(&watch_wake);
	pthread_mutex_unlock(&watch_lock);
	pthread_join(watch_thread, NULL);
	watch_running = false;
}

/* Track a connection from its start to its close. */
void
gw_deadline_notify(void *cls, struct MHD_Connection *connection,
				   void **socket_context,
				   enum MHD_ConnectionNotificationCode toe)
{
	GwConnWatch *w = *socket_context;

	(void) cls;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED)
	{
		const union MHD_ConnectionInfo *info =
			MHD_get_connection_info(connection,
									MHD_CONNECTION_INFO_CONNECTION_FD);

		if (info == NULL)
			return;
		w = calloc(1, sizeof(GwConnWatch));
		if (w == NULL)
			return;				/* untracked: only the idle timeout applies */
		w->fd = info->connect_fd;
		atomic_store(&w->deadline_ms,
					 (long long) (gw_now_ms() + idle_seconds() * 1000.0));
		pthread_mutex_lock(&watch_lock);
		w->next = watch_head;
		if (watch_head != NULL)
			watch_head->prev = w;
		watch_head = w;
		pthread_mutex_unlock(&watch_lock);
		*socket_context = w;
	}
	else if (toe == MHD_CONNECTION_NOTIFY_CLOSED && w != NULL)
	{
		pthread_mutex_lock(&watch_lock);
		if (w->prev != NULL)
			w->prev->next = w->next;
		else
			watch_head = w->next;
		if (w->next != NULL)
			w->next->prev = w->prev;
		pthread_mutex_unlock(&watch_lock);
		free(w);
		*socket_context = NULL;
	}
}

/* Set or clear a connection's deadline. */
void
gw_deadline_set(struct MHD_Connection *connection, double now_ms,
				double seconds)
{
	GwConnWatch *w = watch_of(connection);

	if (w == NULL)
		return;
	if (seconds <= 0)
		atomic_store(&w->deadline_ms, 0);
	else
		atomic_store(&w->deadline_ms,
					 (long long) (now_ms + seconds * 1000.0));
}

/* Set the deadline of a connection waiting for its next request line. */
void
gw_deadline_idle(struct MHD_Connection *connection)
{
	gw_deadline_set(connection, gw_now_ms(), idle_seconds());
}

/* Whether the watchdog shut the connection down. */
bool
gw_deadline_was_cut(struct MHD_Connection *connection)
{
	GwConnWatch *w = watch_of(connection);

	return w != NULL && atomic_load(&w->cut);
}

/* Connections shut down by the watchdog since start. */
long
gw_deadline_cuts(void)
{
	return atomic_load(&watch_cuts);
}

/*-------------------------------------------------------------------------
 *
 * gateway/main.c
 *	  bluebricks-gateway: the HTTP gateway of bluebricks_task.
 *
 * Startup reads the settings, opens one database connection to report
 * whether the database answers (the gateway starts either way and
 * connects on demand), and starts libmicrohttpd with a pool of worker
 * threads, each serving its connections' requests in turn, blocking on the
 * database while it does.  Connections are limited in number, overall and
 * per client address, and in the time they take to send a request (see
 * deadline.h).  SIGTERM and SIGINT are taken by the main thread
 * alone (blocked everywhere else): it stops accepting connections, waits
 * for requests in flight to finish (up to the request timeout and a few
 * seconds more), stops the daemon and exits 0.
 *
 *-------------------------------------------------------------------------
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "config.h"
#include "deadline.h"
#include "handler.h"
#include "log.h"
#include "pool.h"
#include "routes.h"
#include "util.h"

/* Seconds past the request timeout that shutdown waits for requests. */
#define GW_DRAIN_GRACE 5

/* The last message of libmicrohttpd, and how often it came again since. */
static pthread_mutex_t mhd_log_lock = PTHREAD_MUTEX_INITIALIZER;
static char mhd_log_last[512];
static double mhd_log_last_ms;
static long mhd_log_repeated;

/* Write how often the last message came again, if it did; lock held. */
static void
mhd_log_flush_locked(void)
{
	if (mhd_log_repeated > 0)
		gw_log("libmicrohttpd: (%ld more of: %s)", mhd_log_repeated,
			   mhd_log_last);
	mhd_log_repeated = 0;
}

/*
 * Route libmicrohttpd's own messages to the log.  The same message again
 * within a second of its last writing is counted instead (a client opening
 * connections past a limit would otherwise write a line for each), and the
 * count written before the next message written, or at exit.
 */
static void
mhd_logger(void *cls, const char *fmt, va_list ap)
{
	char		msg[512];
	double		now = gw_now_ms();

	(void) cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	pthread_mutex_lock(&mhd_log_lock);
	if (strcmp(msg, mhd_log_last) == 0 && now - mhd_log_last_ms < 1000.0)
	{
		mhd_log_repeated++;
		pthread_mutex_unlock(&mhd_log_lock);
		return;
	}
	mhd_log_flush_locked();
	memcpy(mhd_log_last, msg, sizeof(mhd_log_last));
	mhd_log_last_ms = now;
	gw_log("libmicrohttpd: %s", msg);
	pthread_mutex_unlock(&mhd_log_lock);
}

/* Describe the address actually bound, e.g. 127.0.0.1:8080. */
static void
describe_listen(struct MHD_Daemon *daemon, char *buf, size_t size)
{
	const union MHD_DaemonInfo *info;
	char		host[INET6_ADDRSTRLEN] = "?";
	unsigned int port = 0;
	const struct sockaddr *sa = (const struct sockaddr *) &gw_config.listen_addr;

	if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6,
				  &((const struct sockaddr_in6 *) sa)->sin6_addr,
				  host, sizeof(host));
	else
		inet_ntop(AF_INET, &((const struct sockaddr_in *) sa)->sin_addr,
				  host, sizeof(host));
	info = MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_BIND_PORT);
	if (info != NULL)
		port = info->port;
	if (sa->sa_family == AF_INET6)
		snprintf(buf, size, "[%s]:%u", host, port);
	else
		snprintf(buf, size, "%s:%u", host, port);
}

/* Open one connection to see whether the database answers. */
static void
probe_database(void)
{
	char	   *why = NULL;
	GwConn	   *conn = gw_pool_acquire(&why);

	if (conn != NULL)
		gw_pool_release(conn, false);
	else
		gw_log("database not reachable yet (will retry per request): %s",
			   why ? why : "unknown error");
	free(why);
}

/* Wait for a stop signal, then drain and stop the daemon. */
static void
serve_until_signal(struct MHD_Daemon *daemon, const sigset_t *stop)
{
	int			sig = 0;
	MHD_socket	fd;
	double		deadline;
	struct timespec pause = {0, 10 * 1000 * 1000};

	while (sigwait(stop, &sig) != 0)
		;
	atomic_store(&gw_shutting_down, true);
	fd = MHD_quiesce_daemon(daemon);
	if (fd != MHD_INVALID_SOCKET)
		close(fd);
	gw_log("received %s: no longer accepting connections, %d request(s) "
		   "in flight", strsignal(sig), atomic_load(&gw_in_flight));

	deadline = gw_now_ms() +
		(gw_config.request_timeout + GW_DRAIN_GRACE) * 1000.0;
	while (atomic_load(&gw_in_flight) > 0 && gw_now_ms() < deadline)
		nanosleep(&pause, NULL);
	if (atomic_load(&gw_in_flight) > 0)
		gw_log("stopping with %d request(s) still in flight",
			   atomic_load(&gw_in_flight));
	MHD_stop_daemon(daemon);
}

int
main(int argc, char **argv)
{
	struct MHD_Daemon *daemon;
	sigset_t	stop;
	unsigned int flags;
	char	   *masked;
	char		where[INET6_ADDRSTRLEN + 16];

	if (!gw_config_load(argc, argv))
		return 2;
	if (gw_config.print_routes)
	{
		gw_routes_print();
		return 0;
	}

	gw_request_ids_init();
	if (!gw_pool_init(gw_config.pool_size))
	{
		gw_log("out of memory");
		return 1;
	}

	/* Only the main thread takes the stop signals; nobody dies of SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);

	flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC |
		MHD_USE_ERROR_LOG;
	if (gw_config.listen_addr.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	daemon = MHD_start_daemon(flags, 0, NULL, NULL,
							  gw_handle_request, NULL,
							  MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, NULL,
							  MHD_OPTION_SOCK_ADDR, &gw_config.listen_addr,
							  MHD_OPTION_THREAD_POOL_SIZE,
							  (unsigned int) gw_config.threads,
							  MHD_OPTION_CONNECTION_LIMIT,
							  (unsigned int) gw_config.max_connections,
							  MHD_OPTION_PER_IP_CONNECTION_LIMIT,
							  (unsigned int) gw_config.max_connections_per_ip,
							  MHD_OPTION_CONNECTION_TIMEOUT,
							  (unsigned int) gw_config.request_timeout,
							  MHD_OPTION_NOTIFY_CONNECTION,
							  gw_deadline_notify, NULL,
							  MHD_OPTION_URI_LOG_CALLBACK,
							  gw_request_line, NULL,
							  MHD_OPTION_NOTIFY_COMPLETED,
							  gw_request_completed, NULL,
							  MHD_OPTION_UNESCAPE_CALLBACK, gw_unescape, NULL,
							  MHD_OPTION_END);
	if (daemon == NULL)
	{
		gw_log("cannot listen on %s", gw_config.listen);
		return 1;
	}
	if (!gw_deadline_start())
	{
		gw_log("cannot start the receive watchdog thread");
		MHD_stop_daemon(daemon);
		return 1;
	}

	describe_listen(daemon, where, sizeof(where));
	masked = gw_config_masked_database();
	gw_log("bluebricks-gateway listening on %s, database \"%s\", "
		   "%d connection(s), %d thread(s), max body %zu bytes, "
		   "%d HTTP connection(s), %d per client address, "
		   "receive timeout %d s, bearer tokens: %s%s%s", where,
		   masked ? masked : "?",
		   gw_config.pool_size, gw_config.threads, gw_config.max_body,
		   gw_config.max_connections, gw_config.max_connections_per_ip,
		   gw_config.receive_timeout,
		   gw_config.jwt_secret ? "HS256" : "",
		   gw_config.jwt_secret && gw_config.jwt_public_key ? " and " : "",
		   gw_config.jwt_public_key ? "RS256" :
		   (gw_config.jwt_secret ? "" : "refused (no key configured)"));
	free(masked);
	probe_database();

	serve_until_signal(daemon, &stop);
	gw_deadline_stop();
	pthread_mutex_lock(&mhd_log_lock);
	mhd_log_flush_locked();
	pthread_mutex_unlock(&mhd_log_lock);
	if (gw_deadline_cuts() > 0)
		gw_log("closed %ld connection(s) that sent a request too slowly",
			   gw_deadline_cuts());
	gw_pool_close();
	gw_log("bluebricks-gateway stopped");
	return 0;
}

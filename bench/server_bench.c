/* bench/server_bench.c — hilctl's update server (harness/server/server.h) alone in
 * a poll() loop, for bench-server: it serves ROOT on 127.0.0.1, a free port,
 * until its stdin closes or the deadline passes, the way a run's engine
 * drives it (no threads; libmicrohttpd in external epoll mode).
 *
 *   server_bench ROOT DEADLINE_S
 *
 * Prints "port N" when listening, and at the end one line of the server's
 * counters: "requests R ok K bytes B complete C cut X". */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "lib/clock.h"
#include "harness/server/server.h"
#include "lib/stop.h"


static void on_signal(int sig)
{
	stop_request(sig);
}

/* One turn of the loop: poll the server's fds and stdin until the server's
 * own deadline or the overall one. Returns 1 to go on, 0 when stdin closed. */
static int turn(struct update_server *s, int64_t end)
{
	struct pollfd fds[9];
	int64_t due = INT64_MAX;
	int n = server_pollfds(s, fds + 1, 8, &due);
	char buf[64];

	if (n < 0)
		return 0;
	fds[0] = (struct pollfd){.fd = 0, .events = POLLIN};
	if (poll(fds, (nfds_t)n + 1, clock_poll_ms(due < end ? due : end)) < 0 && errno != EINTR)
		return 0;
	server_process(s, fds + 1, n);
	if (fds[0].revents && read(0, buf, sizeof(buf)) <= 0)
		return 0;
	return 1;
}

int main(int argc, char **argv)
{
	struct update_server *s;
	struct server_stats st;
	int64_t end;

	if (argc < 3) {
		fprintf(stderr, "usage: server_bench ROOT DEADLINE_S\n");
		return 2;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	end = clock_now_ns() + strtoll(argv[2], NULL, 10) * NS_PER_S;
	s = server_start("127.0.0.1", 0, argv[1], NULL);
	if (!s)
		return 3;
	printf("port %u\n", (unsigned)server_port(s));
	fflush(stdout);
	while (!stop_requested() && clock_now_ns() < end && turn(s, end))
		;
	server_get_stats(s, &st);
	printf("requests %llu ok %llu bytes %llu complete %llu cut %llu\n",
	       (unsigned long long)st.requests, (unsigned long long)st.responses_ok,
	       (unsigned long long)st.bytes_sent, (unsigned long long)st.bodies_complete,
	       (unsigned long long)st.bodies_cut);
	server_stop(s);
	return 0;
}

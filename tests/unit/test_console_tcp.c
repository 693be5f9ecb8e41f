/* tests/unit/test_console_tcp.c — the tcp console against real loopback
 * sockets (a listener the test controls stands in for ser2net), with
 * getaddrinfo faked at the link seam for names that must not reach DNS:
 * settings, connect within the deadline, refused, timeout, EOF and reset
 * → -EPIPE, exact bytes both ways. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/cfg.h"
#include "lib/clock.h"
#include "harness/console/console.h"
#include "lib/log.h"

/* ---- fake resolver: names ending in .invalid fail, the rest is real ---- */

int __real_getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                       struct addrinfo **res);
int __wrap_getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                       struct addrinfo **res);
int __wrap_getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                       struct addrinfo **res)
{
	size_t l = strlen(node);

	if (l > 8 && strcmp(node + l - 8, ".invalid") == 0)
		return strncmp(node, "later", 5) == 0 ? EAI_AGAIN : EAI_NONAME;
	return __real_getaddrinfo(node, service, hints, res);
}

/* ---- helpers -------------------------------------------------------- */

static char logbuf[4096];
static struct cfg_node *tree;
static struct console con;
static int listener = -1, peer = -1;
static int port;

static int listen_loopback(int backlog)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, backlog), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	port = ntohs(a.sin_port);
	return fd;
}

static int setup(void **state)
{
	log_capture(logbuf, sizeof(logbuf));
	memset(&con, 0, sizeof(con));
	con.fd = -1;
	con.board = "rpi4-03";
	listener = listen_loopback(8);
	return 0;
}

static int teardown(void **state)
{
	if (con.ops) {
		if (con.fd >= 0)
			con.ops->disconnect(&con);
		con.ops->close(&con);
	}
	con.ops = NULL;
	cfg_free(tree);
	tree = NULL;
	if (peer >= 0)
		close(peer);
	if (listener >= 0)
		close(listener);
	peer = listener = -1;
	log_capture(NULL, 0);
	return 0;
}

static int open_yaml(const char *fmt, ...)
{
	char yaml[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(yaml, sizeof(yaml), fmt, ap);
	va_end(ap);
	tree = cfg_load_buf("lab.yaml", yaml, strlen(yaml));
	assert_non_null(tree);
	con.ops = &console_tcp_ops;
	return con.ops->open(&con, tree);
}

static void connect_and_accept(void)
{
	assert_int_equal(open_yaml("type: tcp\nport: %d\n", port), 0);
	assert_int_equal(con.ops->connect(&con, clock_now_ns() + 5 * NS_PER_S), 0);
	assert_true(con.fd >= 0);
	peer = accept(listener, NULL, NULL);
	assert_true(peer >= 0);
}

/* Read until n bytes or the deadline, the way the event loop would. */
static ssize_t read_some(void *buf, size_t len)
{
	int64_t deadline = clock_now_ns() + 5 * NS_PER_S;
	struct pollfd pfd = {.fd = con.fd, .events = POLLIN};

	for (;;) {
		ssize_t n = con.ops->read(&con, buf, len);

		if (n != 0 || clock_now_ns() >= deadline)
			return n;
		poll(&pfd, 1, clock_poll_ms(deadline));
	}
}

/* ---- settings ------------------------------------------------------- */

static void test_tcp_open_needs_port(void **state)
{
	assert_int_equal(open_yaml("type: tcp\nhost: 127.0.0.1\n"), -EINVAL);
	assert_non_null(strstr(logbuf, "needs key \"port\""));
	con.ops = NULL;
}

static void test_tcp_open_refuses_unknown_key_and_bad_values(void **state)
{
	assert_int_equal(open_yaml("type: tcp\nport: 2000\nhots: x\n"), -EINVAL);
	assert_non_null(strstr(logbuf, "lab.yaml:3:1:"));
	assert_non_null(strstr(logbuf, "known: type, driver, timeout, host, port"));
	con.ops = NULL;
	cfg_free(tree);
	logbuf[0] = '\0';
	assert_int_equal(open_yaml("type: tcp\nport: 70000\n"), -EINVAL);
	assert_non_null(strstr(logbuf, "out of range (1 to 65535)"));
	con.ops = NULL;
	cfg_free(tree);
	logbuf[0] = '\0';
	assert_int_equal(open_yaml("type: tcp\nport: 2000\ntimeout: soon\n"), -EINVAL);
	assert_non_null(strstr(logbuf, "not a duration"));
	con.ops = NULL;
}

/* ---- connect -------------------------------------------------------- */

static void test_tcp_connects_to_127_0_0_1_by_default(void **state)
{
	connect_and_accept();
	assert_true(fcntl(con.fd, F_GETFL) & O_NONBLOCK);
	assert_true(fcntl(con.fd, F_GETFD) & FD_CLOEXEC);
	assert_string_equal(logbuf, "");
}

static void test_tcp_localhost_name_resolves(void **state)
{
	assert_int_equal(open_yaml("type: tcp\nhost: localhost\nport: %d\n", port), 0);
	assert_int_equal(con.ops->connect(&con, clock_now_ns() + 5 * NS_PER_S), 0);
}

static void test_tcp_refused_is_econnrefused_and_quiet_before_deadline(void **state)
{
	close(listener); /* nothing listens on that port any more */
	listener = -1;
	assert_int_equal(open_yaml("type: tcp\nport: %d\n", port), 0);
	assert_int_equal(con.ops->connect(&con, clock_now_ns() + 5 * NS_PER_S), -ECONNREFUSED);
	assert_string_equal(logbuf, "");
	assert_int_equal(con.ops->connect(&con, 0), -ECONNREFUSED);
	assert_non_null(strstr(logbuf, "board \"rpi4-03\": 127.0.0.1:"));
	assert_non_null(strstr(logbuf, "connection refused (is ser2net running"));
	assert_int_equal(con.fd, -1);
}

/* A listener whose queue is full drops the SYN: connect must give up at
 * the console's timeout, not at the kernel's minutes-long SYN retries. */
static void test_tcp_unanswered_connect_stops_at_timeout(void **state)
{
	int filler[4];
	int64_t t0;

	close(listener);
	listener = listen_loopback(0);
	for (int i = 0; i < 4; i++) {
		struct sockaddr_in a = {.sin_family = AF_INET,
		                        .sin_port = htons((uint16_t)port),
		                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		filler[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		connect(filler[i], (struct sockaddr *)&a, sizeof(a));
	}
	assert_int_equal(open_yaml("type: tcp\nport: %d\ntimeout: 300ms\n", port), 0);
	t0 = clock_now_ns();
	assert_int_equal(con.ops->connect(&con, clock_now_ns() + 30 * NS_PER_S), -ETIMEDOUT);
	assert_true(clock_now_ns() - t0 >= 250 * NS_PER_MS);
	assert_true(clock_now_ns() - t0 < 3 * NS_PER_S);
	assert_non_null(strstr(logbuf, "no answer within 0.3 s"));
	for (int i = 0; i < 4; i++)
		close(filler[i]);
}

static void test_tcp_connect_respects_callers_earlier_deadline(void **state)
{
	int filler[4];
	int64_t t0;

	close(listener);
	listener = listen_loopback(0);
	for (int i = 0; i < 4; i++) {
		struct sockaddr_in a = {.sin_family = AF_INET,
		                        .sin_port = htons((uint16_t)port),
		                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		filler[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		connect(filler[i], (struct sockaddr *)&a, sizeof(a));
	}
	assert_int_equal(open_yaml("type: tcp\nport: %d\n", port), 0); /* timeout 10 s */
	t0 = clock_now_ns();
	assert_int_equal(con.ops->connect(&con, t0 + 200 * NS_PER_MS), -ETIMEDOUT);
	assert_true(clock_now_ns() - t0 < 2 * NS_PER_S);
	assert_non_null(strstr(logbuf, "no answer within 0.2 s"));
	for (int i = 0; i < 4; i++)
		close(filler[i]);
}

static void test_tcp_unknown_host_is_reported(void **state)
{
	assert_int_equal(open_yaml("type: tcp\nhost: ser2net-7.invalid\nport: 2000\n"), 0);
	assert_int_equal(con.ops->connect(&con, clock_now_ns() + NS_PER_S), -EHOSTUNREACH);
	assert_non_null(strstr(logbuf, "board \"rpi4-03\": console host \"ser2net-7.invalid\":"));
}

static void test_tcp_resolver_not_ready_is_retried_quietly(void **state)
{
	assert_int_equal(open_yaml("type: tcp\nhost: later.invalid\nport: 2000\n"), 0);
	assert_int_equal(con.ops->connect(&con, clock_now_ns() + NS_PER_S), -EAGAIN);
	assert_string_equal(logbuf, "");
}

/* ---- bytes and the end of the stream -------------------------------- */

static void test_tcp_bytes_pass_unchanged_both_ways(void **state)
{
	static const char boot[] = "U-Boot 2023.01\r\n\0\xff\xfe login:";
	char buf[64];

	connect_and_accept();
	assert_int_equal(write(peer, boot, sizeof(boot) - 1), sizeof(boot) - 1);
	assert_int_equal(read_some(buf, sizeof(buf)), sizeof(boot) - 1);
	assert_memory_equal(buf, boot, sizeof(boot) - 1);
	assert_int_equal(con.ops->write(&con, "root\n\0", 6), 6);
	assert_int_equal(read(peer, buf, sizeof(buf)), 6);
	assert_memory_equal(buf, "root\n\0", 6);
	assert_int_equal(con.ops->read(&con, buf, sizeof(buf)), 0); /* idle */
}

static void test_tcp_eof_is_epipe(void **state)
{
	char buf[16];

	connect_and_accept();
	close(peer); /* ser2net stopped */
	peer = -1;
	assert_int_equal(read_some(buf, sizeof(buf)), -EPIPE);
	assert_string_equal(logbuf, "");
}

static void test_tcp_reset_is_epipe(void **state)
{
	struct linger hard = {.l_onoff = 1, .l_linger = 0};
	char buf[16];

	connect_and_accept();
	setsockopt(peer, SOL_SOCKET, SO_LINGER, &hard, sizeof(hard));
	close(peer); /* RST */
	peer = -1;
	assert_int_equal(read_some(buf, sizeof(buf)), -EPIPE);
}

static void test_tcp_write_after_peer_closed_is_epipe_without_sigpipe(void **state)
{
	char big[65536] = {0};
	ssize_t n = 0;
	int64_t deadline = clock_now_ns() + 5 * NS_PER_S;

	connect_and_accept();
	close(peer);
	peer = -1;
	/* The first write may still be accepted; after the RST it must fail. */
	while (n >= 0 && clock_now_ns() < deadline) {
		n = con.ops->write(&con, big, sizeof(big));
		if (n >= 0)
			poll(NULL, 0, 10);
	}
	assert_int_equal(n, -EPIPE);
}

static void test_tcp_reconnect_after_disconnect(void **state)
{
	char buf[8];

	connect_and_accept();
	con.ops->disconnect(&con);
	assert_int_equal(con.fd, -1);
	close(peer);
	assert_int_equal(con.ops->connect(&con, clock_now_ns() + 5 * NS_PER_S), 0);
	peer = accept(listener, NULL, NULL);
	assert_int_equal(write(peer, "back", 4), 4);
	assert_int_equal(read_some(buf, sizeof(buf)), 4);
	assert_memory_equal(buf, "back", 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	    T(test_tcp_open_needs_port),
	    T(test_tcp_open_refuses_unknown_key_and_bad_values),
	    T(test_tcp_connects_to_127_0_0_1_by_default),
	    T(test_tcp_localhost_name_resolves),
	    T(test_tcp_refused_is_econnrefused_and_quiet_before_deadline),
	    T(test_tcp_unanswered_connect_stops_at_timeout),
	    T(test_tcp_connect_respects_callers_earlier_deadline),
	    T(test_tcp_unknown_host_is_reported),
	    T(test_tcp_resolver_not_ready_is_retried_quietly),
	    T(test_tcp_bytes_pass_unchanged_both_ways),
	    T(test_tcp_eof_is_epipe),
	    T(test_tcp_reset_is_epipe),
	    T(test_tcp_write_after_peer_closed_is_epipe_without_sigpipe),
	    T(test_tcp_reconnect_after_disconnect),
#undef T
	};

	return cmocka_run_group_tests_name("console_tcp", tests, NULL, NULL);
}

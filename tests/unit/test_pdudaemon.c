/* tests/unit/test_pdudaemon.c — the pdudaemon power driver against a tiny
 * HTTP responder on a loopback socket (a thread of this test): the exact
 * request line libcurl sends, pdudaemon's 200 and 500 answers, a refused
 * connection and a daemon that never answers. curl_easy_init and
 * curl_easy_perform are wrapped to fail on demand. http_proxy is set for
 * every test: a request that reaches the responder proves the driver ignores
 * proxies. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "lib/cfg.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "power/power.h"

/* ---- curl_easy_init fails, curl_easy_perform refuses, when told to */
static bool fail_curl_init, refuse_perform;
CURL *__real_curl_easy_init(void);
CURL *__wrap_curl_easy_init(void);
CURL *__wrap_curl_easy_init(void)
{
	return fail_curl_init ? NULL : __real_curl_easy_init();
}

CURLcode __real_curl_easy_perform(CURL *curl);
CURLcode __wrap_curl_easy_perform(CURL *curl);
CURLcode __wrap_curl_easy_perform(CURL *curl)
{
	return refuse_perform ? CURLE_COULDNT_CONNECT : __real_curl_easy_perform(curl);
}

/* ---- the responder: accepts one connection, records the request head,
 * answers (or stays silent until the client hangs up). */
struct responder {
	int listen_fd;
	int port;
	int status; /* 0: never answer */
	const char *body;
	char request[4096];
	bool got_request;
	pthread_t thread;
};

static int read_head(int fd, char *buf, size_t size)
{
	size_t used = 0;
	int64_t deadline = clock_now_ns() + 5 * NS_PER_S;

	while (used + 1 < size) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		ssize_t n;

		if (poll(&pfd, 1, clock_poll_ms(deadline)) <= 0)
			return -1;
		n = read(fd, buf + used, size - 1 - used);
		if (n <= 0)
			return -1;
		used += (size_t)n;
		buf[used] = '\0';
		if (strstr(buf, "\r\n\r\n"))
			return 0;
	}
	return -1;
}

static void *responder_main(void *arg)
{
	struct responder *r = arg;
	struct pollfd pfd = {.fd = r->listen_fd, .events = POLLIN};
	char reply[1024], sink[256];
	int fd;

	if (poll(&pfd, 1, 5000) <= 0)
		return NULL;
	fd = accept(r->listen_fd, NULL, NULL);
	if (fd < 0)
		return NULL;
	if (read_head(fd, r->request, sizeof(r->request)) == 0)
		r->got_request = true;
	if (r->status) {
		int n = snprintf(reply, sizeof(reply),
		                 "HTTP/1.1 %d X\r\nContent-Type: text/plain\r\n"
		                 "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
		                 r->status, strlen(r->body), r->body);
		if (write(fd, reply, (size_t)n) != n)
			r->got_request = false;
	} else {
		/* Silent: wait (bounded) until the client gives up. */
		struct pollfd cfd = {.fd = fd, .events = POLLIN};
		while (poll(&cfd, 1, 5000) > 0 && read(fd, sink, sizeof(sink)) > 0)
			;
	}
	close(fd);
	return NULL;
}

static int bind_loopback(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	/* The responder closes first: its port sits in TIME_WAIT afterwards. */
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &(int){1}, sizeof(int)), 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		print_error("cannot bind 127.0.0.1:%d: %s\n", port, strerror(errno));
		fail();
	}
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	return fd;
}

static int sock_port(int fd)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);

	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	return ntohs(a.sin_port);
}

static void responder_start(struct responder *r, int port, int status, const char *body)
{
	memset(r, 0, sizeof(*r));
	r->listen_fd = bind_loopback(port);
	r->port = sock_port(r->listen_fd);
	r->status = status;
	r->body = body;
	assert_int_equal(listen(r->listen_fd, 4), 0);
	assert_int_equal(pthread_create(&r->thread, NULL, responder_main, r), 0);
}

static void responder_stop(struct responder *r)
{
	pthread_join(r->thread, NULL);
	close(r->listen_fd);
}

/* ---- driver under test, opened from YAML text */
struct fixture {
	struct cfg_node *root;
	struct power p;
	char log[4096];
};

static int open_yaml(struct fixture *f, int64_t timeout_ns, const char *fmt, ...)
{
	char yaml[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(yaml, sizeof(yaml), fmt, ap);
	va_end(ap);
	memset(&f->p, 0, sizeof(f->p));
	f->p.ops = &power_pdudaemon_ops;
	f->p.board = "rpi4-03";
	f->p.timeout_ns = timeout_ns;
	f->root = cfg_load_buf("lab.yaml", yaml, strlen(yaml));
	assert_non_null(f->root);
	log_capture(f->log, sizeof(f->log));
	return power_pdudaemon_ops.open(&f->p, f->root);
}

static void fixture_close(struct fixture *f)
{
	if (f->p.priv)
		power_pdudaemon_ops.close(&f->p);
	cfg_free(f->root);
	log_capture(NULL, 0);
}

static void assert_contains(const char *haystack, const char *needle)
{
	if (!strstr(haystack, needle)) {
		print_error("\"%s\" not found in:\n%s\n", needle, haystack);
		fail();
	}
}

static void test_pdudaemon_on_sends_get_with_pdu_and_outlet(void **state)
{
	struct fixture f;
	struct responder r;

	responder_start(&r, 0, 200, "OK - accepted request\n");
	assert_int_equal(open_yaml(&f, 0,
	                           "driver: pdudaemon\nhost: 127.0.0.1:%d\n"
	                           "hostname: pdu-a\nport: 3\n",
	                           r.port),
	                 0);
	assert_int_equal(power_pdudaemon_ops.set(&f.p, true), 0);
	responder_stop(&r);
	assert_true(r.got_request);
	assert_true(strncmp(r.request, "GET /power/control/on?hostname=pdu-a&port=3 HTTP/1.1\r\n",
	                    54) == 0);
	assert_string_equal(f.log, "");
	fixture_close(&f);
}

static void test_pdudaemon_off_sends_off_path(void **state)
{
	struct fixture f;
	struct responder r;
	char want[128];

	responder_start(&r, 0, 200, "OK - accepted request\n");
	assert_int_equal(open_yaml(&f, 0,
	                           "driver: pdudaemon\nurl: http://127.0.0.1:%d\n"
	                           "hostname: pdu-a\nport: 12\n",
	                           r.port),
	                 0);
	assert_int_equal(power_pdudaemon_ops.set(&f.p, false), 0);
	responder_stop(&r);
	assert_true(r.got_request);
	snprintf(want, sizeof(want), "GET /power/control/off?hostname=pdu-a&port=12 HTTP/1.1\r\n");
	assert_true(strncmp(r.request, want, strlen(want)) == 0);
	snprintf(want, sizeof(want), "\r\nHost: 127.0.0.1:%d\r\n", r.port);
	assert_contains(r.request, want);
	fixture_close(&f);
}

static void test_pdudaemon_escapes_pdu_name(void **state)
{
	struct fixture f;
	struct responder r;

	responder_start(&r, 0, 200, "OK\n");
	assert_int_equal(open_yaml(&f, 0,
	                           "driver: pdudaemon\nhost: 127.0.0.1:%d\n"
	                           "hostname: 'lab pdu&x=1'\nport: 0\n",
	                           r.port),
	                 0);
	assert_int_equal(power_pdudaemon_ops.set(&f.p, true), 0);
	responder_stop(&r);
	assert_contains(r.request, "GET /power/control/on?hostname=lab%20pdu%26x%3D1&port=0 ");
	fixture_close(&f);
}

static void test_pdudaemon_url_keeps_prefix_drops_trailing_slash(void **state)
{
	struct fixture f;
	struct responder r;

	responder_start(&r, 0, 200, "OK\n");
	assert_int_equal(open_yaml(&f, 0,
	                           "driver: pdudaemon\nurl: http://127.0.0.1:%d/pdu//\n"
	                           "hostname: pdu-a\nport: 1\n",
	                           r.port),
	                 0);
	assert_int_equal(power_pdudaemon_ops.set(&f.p, true), 0);
	responder_stop(&r);
	assert_contains(r.request, "GET /pdu/power/control/on?hostname=pdu-a&port=1 HTTP/1.1\r\n");
	fixture_close(&f);
}

/* No socket on a fixed port (other test runs may hold it): the refused
 * request's error message shows the URL. */
static void test_pdudaemon_host_without_port_uses_16421(void **state)
{
	struct fixture f;

	assert_int_equal(open_yaml(&f, 0,
	                           "driver: pdudaemon\nhost: pdu-server\n"
	                           "hostname: pdu-a\nport: 2\n"),
	                 0);
	refuse_perform = true;
	assert_int_equal(power_pdudaemon_ops.set(&f.p, true), -ECONNREFUSED);
	refuse_perform = false;
	assert_contains(f.log,
	                "GET http://pdu-server:16421/power/control/on?hostname=pdu-a&port=2:");
	fixture_close(&f);
	assert_int_equal(open_yaml(&f, 0,
	                           "driver: pdudaemon\nhost: '[::1]'\n"
	                           "hostname: pdu-a\nport: 2\n"),
	                 0);
	refuse_perform = true;
	assert_int_equal(power_pdudaemon_ops.set(&f.p, true), -ECONNREFUSED);
	refuse_perform = false;
	assert_contains(f.log, "GET http://[::1]:16421/power/control/on?");
	fixture_close(&f);
}

static void test_pdudaemon_500_names_board_url_status_and_config(void **state)
{
	struct fixture f;
	struct responder r;
	char url[128];

	responder_start(&r, 0, 500, "Invalid request\n");
	assert_int_equal(open_yaml(&f, 0,
	                           "driver: pdudaemon\nhost: 127.0.0.1:%d\n"
	                           "hostname: nosuchpdu\nport: 3\n",
	                           r.port),
	                 0);
	assert_int_equal(power_pdudaemon_ops.set(&f.p, true), -EIO);
	responder_stop(&r);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/power/control/on?hostname=nosuchpdu&port=3",
	         r.port);
	assert_contains(f.log, "board \"rpi4-03\"");
	assert_contains(f.log, url);
	assert_contains(f.log, "status 500 (Invalid request)");
	assert_contains(f.log, "pdudaemon's config");
	/* One line, no more. */
	assert_int_equal(strchr(f.log, '\n') - f.log + 1, (long)strlen(f.log));
	fixture_close(&f);
}

static void test_pdudaemon_404_is_error(void **state)
{
	struct fixture f;
	struct responder r;

	responder_start(&r, 0, 404, "404: Not Found");
	assert_int_equal(open_yaml(&f, 0,
	                           "driver: pdudaemon\nhost: 127.0.0.1:%d\n"
	                           "hostname: pdu-a\nport: 3\n",
	                           r.port),
	                 0);
	assert_int_equal(power_pdudaemon_ops.set(&f.p, false), -EIO);
	responder_stop(&r);
	assert_contains(f.log, "status 404 (404: Not Found)");
	fixture_close(&f);
}

static void test_pdudaemon_refused_connection_is_error(void **state)
{
	struct fixture f;
	/* A bound socket that does not listen: connections to it are refused. */
	int fd = bind_loopback(0), port = sock_port(fd);

	assert_int_equal(open_yaml(&f, 0,
	                           "driver: pdudaemon\nhost: 127.0.0.1:%d\n"
	                           "hostname: pdu-a\nport: 3\n",
	                           port),
	                 0);
	assert_int_equal(power_pdudaemon_ops.set(&f.p, true), -ECONNREFUSED);
	close(fd);
	assert_contains(f.log, "board \"rpi4-03\": cannot reach pdudaemon");
	assert_contains(f.log, "/power/control/on?hostname=pdu-a&port=3");
	assert_contains(f.log, "is pdudaemon running");
	fixture_close(&f);
}

static void test_pdudaemon_silent_daemon_times_out_on_deadline(void **state)
{
	struct fixture f;
	struct responder r;
	int64_t start;

	responder_start(&r, 0, 0, NULL);
	assert_int_equal(open_yaml(&f, 300 * NS_PER_MS,
	                           "driver: pdudaemon\nhost: 127.0.0.1:%d\n"
	                           "hostname: pdu-a\nport: 3\n",
	                           r.port),
	                 0);
	start = clock_now_ns();
	assert_int_equal(power_pdudaemon_ops.set(&f.p, true), -ETIMEDOUT);
	assert_true(clock_now_ns() - start < 2 * NS_PER_S);
	assert_true(clock_now_ns() - start >= 250 * NS_PER_MS);
	responder_stop(&r);
	assert_true(r.got_request);
	assert_contains(f.log, "did not answer GET http://127.0.0.1:");
	assert_contains(f.log, "within 300 ms");
	fixture_close(&f);
}

static void test_pdudaemon_status_is_unknown_and_sends_nothing(void **state)
{
	struct fixture f;
	enum power_state s = POWER_ON;

	/* Port 1 on loopback: any request would fail and log. */
	assert_int_equal(open_yaml(&f, 0,
	                           "driver: pdudaemon\nhost: 127.0.0.1:1\n"
	                           "hostname: pdu-a\nport: 3\n"),
	                 0);
	assert_int_equal(power_pdudaemon_ops.get(&f.p, &s), 0);
	assert_int_equal(s, POWER_UNKNOWN);
	assert_string_equal(f.log, "");
	fixture_close(&f);
}

static void test_pdudaemon_default_timeout_is_set(void **state)
{
	struct fixture f;

	assert_int_equal(open_yaml(&f, 0, "driver: pdudaemon\nhost: h\nhostname: p\nport: 1\n"), 0);
	assert_true(f.p.timeout_ns >= 10 * NS_PER_S);
	fixture_close(&f);
	assert_int_equal(open_yaml(&f, 2 * NS_PER_S,
	                           "driver: pdudaemon\nhost: h\nhostname: p\n"
	                           "port: 1\n"),
	                 0);
	assert_int_equal(f.p.timeout_ns, 2 * NS_PER_S);
	fixture_close(&f);
}

static void test_pdudaemon_curl_init_failure_is_enomem(void **state)
{
	struct fixture f;

	assert_int_equal(open_yaml(&f, 0, "driver: pdudaemon\nhost: h\nhostname: p\nport: 1\n"), 0);
	fail_curl_init = true;
	assert_int_equal(power_pdudaemon_ops.set(&f.p, true), -ENOMEM);
	fail_curl_init = false;
	assert_contains(f.log, "board \"rpi4-03\"");
	fixture_close(&f);
}

/* ---- settings refused with file:line:col */
static void expect_open_error(const char *yaml, const char *where, const char *what)
{
	struct fixture f;

	assert_int_equal(open_yaml(&f, 0, "%s", yaml), -EINVAL);
	assert_null(f.p.priv);
	assert_contains(f.log, where);
	assert_contains(f.log, what);
	fixture_close(&f);
}

static void test_pdudaemon_open_refuses_bad_settings(void **state)
{
	expect_open_error("driver: pdudaemon\nhost: h\nport: 1\n",
	                  "lab.yaml:1:", "needs key \"hostname\"");
	expect_open_error("driver: pdudaemon\nhost: h\nhostname: p\n",
	                  "lab.yaml:1:", "needs key \"port\"");
	expect_open_error("driver: pdudaemon\nhostname: p\nport: 1\n", "lab.yaml:1:", "needs url:");
	expect_open_error("driver: pdudaemon\nurl: http://h\nhost: h\nhostname: p\nport: 1\n",
	                  "lab.yaml:3:", "either url: or host:");
	expect_open_error("driver: pdudaemon\nurl: ftp://h/\nhostname: p\nport: 1\n",
	                  "lab.yaml:2:", "http:// or https://");
	expect_open_error("driver: pdudaemon\nurl: file:///etc/passwd\nhostname: p\nport: 1\n",
	                  "lab.yaml:2:", "http:// or https://");
	expect_open_error("driver: pdudaemon\nhost: h/x\nhostname: p\nport: 1\n",
	                  "lab.yaml:2:", "host name or address");
	expect_open_error("driver: pdudaemon\nhost: h\nhostname: p\nport: -1\n",
	                  "lab.yaml:4:", "port");
	expect_open_error("driver: pdudaemon\nhost: h\nhostname: p\nport: one\n",
	                  "lab.yaml:4:", "port");
	expect_open_error("driver: pdudaemon\nhost: h\nhostname: ''\nport: 1\n",
	                  "lab.yaml:3:", "pdudaemon's config");
	expect_open_error("driver: pdudaemon\nhost: h\nhostname: p\nport: 1\noutlet: 2\n",
	                  "lab.yaml:5:", "not a known key");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pdudaemon_on_sends_get_with_pdu_and_outlet),
	    cmocka_unit_test(test_pdudaemon_off_sends_off_path),
	    cmocka_unit_test(test_pdudaemon_escapes_pdu_name),
	    cmocka_unit_test(test_pdudaemon_url_keeps_prefix_drops_trailing_slash),
	    cmocka_unit_test(test_pdudaemon_host_without_port_uses_16421),
	    cmocka_unit_test(test_pdudaemon_500_names_board_url_status_and_config),
	    cmocka_unit_test(test_pdudaemon_404_is_error),
	    cmocka_unit_test(test_pdudaemon_refused_connection_is_error),
	    cmocka_unit_test(test_pdudaemon_silent_daemon_times_out_on_deadline),
	    cmocka_unit_test(test_pdudaemon_status_is_unknown_and_sends_nothing),
	    cmocka_unit_test(test_pdudaemon_default_timeout_is_set),
	    cmocka_unit_test(test_pdudaemon_curl_init_failure_is_enomem),
	    cmocka_unit_test(test_pdudaemon_open_refuses_bad_settings),
	};

	/* A proxy that would refuse everything: requests must not use it. */
	setenv("http_proxy", "http://127.0.0.1:1", 1);
	setenv("HTTP_PROXY", "http://127.0.0.1:1", 1);
	setenv("all_proxy", "http://127.0.0.1:1", 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

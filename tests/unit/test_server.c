/* tests/unit/test_server.c — the update server serving files on real
 * loopback sockets, driven by this test's own poll() loop: exact bytes for
 * GET, HEAD and Range, paths that leave the root refused (also without
 * openat2: syscall() is wrapped to say ENOSYS), hostile requests survived, a
 * taken port reported with its address, requests on the timeline. The faults
 * are in test_server_faults.c. */
#include <errno.h>
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
#include <sys/syscall.h>

#include <cmocka.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "harness/server/server.h"
#include "lib/timeline.h"
#include "server_wire.h"

static char logbuf[4096];

/* ---- syscall(SYS_openat2) fails with ENOSYS when told (old kernels) */
static bool no_openat2;
long __real_syscall(long nr, ...);
long __wrap_syscall(long nr, ...);
long __wrap_syscall(long nr, ...)
{
	va_list ap;
	long a, b, c, d;

	va_start(ap, nr);
	a = va_arg(ap, long);
	b = va_arg(ap, long);
	c = va_arg(ap, long);
	d = va_arg(ap, long);
	va_end(ap);
	if (nr == SYS_openat2 && no_openat2) {
		errno = ENOSYS;
		return -1;
	}
	return __real_syscall(nr, a, b, c, d);
}

static void assert_body_is(const struct client *c, const void *want, size_t want_len)
{
	size_t len;
	const unsigned char *b = body(c, &len);

	assert_int_equal(len, want_len);
	assert_memory_equal(b, want, want_len);
}

static void test_server_get_sends_exact_file_bytes(void **state)
{
	struct update_server *s = start();
	struct client *c =
	    fetch(s, "GET /payload HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	char len[32];

	assert_int_equal(status_of(c), 200);
	snprintf(len, sizeof(len), "%d", PAYLOAD_SIZE);
	assert_string_equal(header(c, "Content-Length"), len);
	assert_string_equal(header(c, "Accept-Ranges"), "bytes");
	assert_body_is(c, payload, PAYLOAD_SIZE);
	assert_int_equal(c->err, 0);
	client_free(c);
	server_stop(s);
}

static void test_server_head_sends_length_without_body(void **state)
{
	struct update_server *s = start();
	struct client *c =
	    fetch(s, "HEAD /small.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");

	assert_int_equal(status_of(c), 200);
	assert_string_equal(header(c, "Content-Length"), "6");
	assert_body_is(c, "", 0);
	client_free(c);
	server_stop(s);
}

static void test_server_range_requests_get_206_with_those_bytes(void **state)
{
	static const struct {
		const char *range, *content_range;
		size_t from, len;
	} cases[] = {
	    {"bytes=1000-", "bytes 1000-199999/200000", 1000, PAYLOAD_SIZE - 1000},
	    {"bytes=10-19", "bytes 10-19/200000", 10, 10},
	    {"bytes=-10", "bytes 199990-199999/200000", PAYLOAD_SIZE - 10, 10},
	    {"bytes=199999-300000", "bytes 199999-199999/200000", PAYLOAD_SIZE - 1, 1},
	};
	struct update_server *s = start();

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct client *c = fetch(s,
		                         "GET /payload HTTP/1.1\r\nHost: x\r\nRange: %s\r\n"
		                         "Connection: close\r\n\r\n",
		                         cases[i].range);

		assert_int_equal(status_of(c), 206);
		assert_string_equal(header(c, "Content-Range"), cases[i].content_range);
		assert_body_is(c, payload + cases[i].from, cases[i].len);
		client_free(c);
	}
	server_stop(s);
}

/* What the reference board's agent sends when it resumes. */
static void test_server_http10_resume_request_gets_206_then_eof(void **state)
{
	struct update_server *s = start();
	struct client *c = fetch(s, "GET /payload HTTP/1.0\r\nHost: 10.0.2.2:8080\r\n"
	                            "Range: bytes=5-\r\nUser-Agent: hilctl-refdut\r\n\r\n");

	assert_int_equal(status_of(c), 206);
	assert_string_equal(header(c, "Content-Range"), "bytes 5-199999/200000");
	assert_body_is(c, payload + 5, PAYLOAD_SIZE - 5);
	assert_int_equal(c->err, 0);
	client_free(c);
	server_stop(s);
}

static void test_server_odd_ranges_get_416_or_the_whole_file(void **state)
{
	struct update_server *s = start();
	struct client *c;

	c = fetch(s, "GET /payload HTTP/1.1\r\nRange: bytes=200000-\r\nConnection: close\r\n\r\n");
	assert_int_equal(status_of(c), 416);
	assert_string_equal(header(c, "Content-Range"), "bytes */200000");
	client_free(c);
	/* Several ranges, reversed ones, other units: ignored, whole file. */
	static const char *const ignored[] = {"bytes=0-1,5-6", "bytes=9-3", "items=0-1", "bytes=x-",
	                                      "bytes=99999999999999999999999-"};
	for (size_t i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++) {
		c = fetch(s, "GET /small.txt HTTP/1.1\r\nRange: %s\r\nConnection: close\r\n\r\n",
		          ignored[i]);
		assert_int_equal(status_of(c), 200);
		assert_body_is(c, "hello\n", 6);
		client_free(c);
	}
	server_stop(s);
}

static void test_server_curl_resume_gets_the_rest(void **state)
{
	struct update_server *s = start();
	struct curl_result r = curl_fetch(s, "/v2/payload", 150000);

	assert_int_equal(r.code, CURLE_OK);
	assert_int_equal(r.status, 206);
	assert_int_equal(r.len, PAYLOAD_SIZE - 150000);
	assert_memory_equal(r.data, payload + 150000, r.len);
	free(r.data);
	server_stop(s);
}

static void check_refused(struct update_server *s, const char *path, int status)
{
	struct client *c =
	    fetch(s, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path);

	if (status_of(c) != status)
		fail_msg("%s: got %d, want %d", path, status_of(c), status);
	assert_null(memmem(c->data, c->len, "secret", 6));
	client_free(c);
}

static void refuses_paths_out_of_root(void)
{
	struct update_server *s = start();

	check_refused(s, "/../secret", 403);
	check_refused(s, "/v2/../../secret", 403);
	check_refused(s, "/%2e%2e/secret", 403);
	check_refused(s, "/v2/%2E%2E/%2E%2E/secret", 403);
	check_refused(s, "/out", 403); /* absolute symlink out */
	check_refused(s, "/up", 403);  /* relative symlink out */
	check_refused(s, "http://x/../secret", 403);
	check_refused(s, "../secret", 403);
	check_refused(s, "/nothing-here", 404);
	check_refused(s, "/", 404);
	check_refused(s, "/v2", 404);   /* a directory */
	check_refused(s, "/fifo", 404); /* and opening it must not block */
	check_refused(s, "/inside", 200);
	server_stop(s);
}

static void test_server_refuses_paths_out_of_root(void **state)
{
	refuses_paths_out_of_root();
}

static void test_server_refuses_paths_out_of_root_without_openat2(void **state)
{
	no_openat2 = true;
	refuses_paths_out_of_root();
	no_openat2 = false;
}

static void test_server_symlink_inside_root_is_served(void **state)
{
	struct update_server *s = start();
	struct client *c = fetch(s, "GET /inside HTTP/1.1\r\nConnection: close\r\n\r\n");

	assert_int_equal(status_of(c), 200);
	assert_body_is(c, payload, PAYLOAD_SIZE);
	client_free(c);
	server_stop(s);
}

static void test_server_other_methods_get_405(void **state)
{
	struct update_server *s = start();
	struct client *c = fetch(s, "POST /payload HTTP/1.1\r\nContent-Length: 5\r\n"
	                            "Connection: close\r\n\r\nhello");

	assert_int_equal(status_of(c), 405);
	assert_string_equal(header(c, "Allow"), "GET, HEAD");
	client_free(c);
	server_stop(s);
}

static void test_server_survives_hostile_requests(void **state)
{
	static char huge[20000];
	static const char nul_request[] = "GET /pay\0load HTTP/1.1\r\n\r\n";
	const char *hostile[] = {
	    "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", /* a TLS hello */
	    "GET\r\n\r\n",
	    "GET / HTTP/9.9\r\n\r\n",
	    "GET /payload HTTP/1.1\r\nRange: bytes=-\r\nRange: bytes=--1\r\n\r\n",
	    "GET /payload HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
	    "GET /payload HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
	    "\r\n\r\n\r\n",
	    huge,
	};
	struct update_server *s = start();
	struct client *c;

	memset(huge, 'A', sizeof(huge) - 1);
	memcpy(huge, "GET /", 5);
	/* Each gets half a second; some are answered (400, 505...), the
	 * incomplete ones wait for more until the client goes away. */
	for (size_t i = 0; i <= sizeof(hostile) / sizeof(hostile[0]); i++) {
		int64_t until = clock_now_ns() + 500 * NS_PER_MS;

		if (i < sizeof(hostile) / sizeof(hostile[0]))
			c = client_send(server_port(s), hostile[i], strlen(hostile[i]));
		else
			c = client_send(server_port(s), nul_request, sizeof(nul_request) - 1);
		shutdown(c->fd, SHUT_WR);
		while (!c->done && clock_now_ns() < until)
			pump_once(s, &c, 1, 50 * NS_PER_MS);
		if (c->len > 0)
			assert_memory_equal(c->data, "HTTP/1.1 ", 9);
		client_free(c);
	}
	/* Still serving. */
	c = fetch(s, "GET /small.txt HTTP/1.1\r\nConnection: close\r\n\r\n");
	assert_int_equal(status_of(c), 200);
	client_free(c);
	server_stop(s);
}

static void test_server_keeps_connection_for_next_request(void **state)
{
	struct update_server *s = start();
	struct client *c =
	    fetch(s, "GET /small.txt HTTP/1.1\r\nHost: x\r\n\r\n"
	             "GET /small.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");

	assert_int_equal(status_of(c), 200);
	assert_non_null(
	    memmem(c->data + head_len(c) + 6, c->len - head_len(c) - 6, "HTTP/1.1 200", 12));
	client_free(c);
	server_stop(s);
}

static void test_server_port_in_use_names_address_and_port(void **state)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	char want[64];

	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 1), 0);
	getsockname(fd, (struct sockaddr *)&sa, &len);
	log_capture(logbuf, sizeof(logbuf));
	errno = 0;
	assert_null(server_start("127.0.0.1", ntohs(sa.sin_port), root, NULL));
	assert_int_equal(errno, EADDRINUSE);
	log_capture(NULL, 0);
	snprintf(want, sizeof(want), "cannot listen on 127.0.0.1:%u: ", ntohs(sa.sin_port));
	assert_non_null(strstr(logbuf, want));
	assert_non_null(strstr(logbuf, strerror(EADDRINUSE)));
	close(fd);
}

static void test_server_start_errors_say_what_is_wrong(void **state)
{
	log_capture(logbuf, sizeof(logbuf));
	assert_null(server_start("localhost", 0, root, NULL));
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(logbuf, "\"localhost\" is not a numeric IPv4 or IPv6 address"));
	assert_null(server_start(NULL, 0, "/nonexistent/dir", NULL));
	assert_int_equal(errno, ENOENT);
	assert_non_null(strstr(logbuf, "cannot serve \"/nonexistent/dir\""));
	log_capture(NULL, 0);
}

static void test_server_logs_requests_to_timeline(void **state)
{
	char path[256], text[8192] = "";
	struct timeline *tl;
	struct update_server *s;
	FILE *f;

	snprintf(path, sizeof(path), "%s/timeline.jsonl", tmpdir);
	tl = timeline_open(path, "qemu-01");
	assert_non_null(tl);
	s = server_start(NULL, 0, root, tl);
	assert_non_null(s);
	client_free(fetch(s, "GET /small.txt HTTP/1.1\r\nConnection: close\r\n\r\n"));
	client_free(fetch(s, "GET /../secret HTTP/1.1\r\nConnection: close\r\n\r\n"));
	/* The next run's timeline takes over; the old one can be closed. */
	server_set_timeline(s, NULL);
	timeline_close(tl);
	client_free(fetch(s, "GET /nothing-logged HTTP/1.1\r\nConnection: close\r\n\r\n"));
	server_stop(s);
	f = fopen(path, "r");
	assert_non_null(f);
	text[fread(text, 1, sizeof(text) - 1, f)] = '\0';
	fclose(f);
	assert_non_null(strstr(text, "\"k\":\"server\",\"d\":\"serving "));
	assert_non_null(strstr(text, "\"d\":\"GET /small.txt 200 bytes 0-5/6\""));
	assert_non_null(strstr(text, "\"d\":\"GET /small.txt sent 6/6 in "));
	assert_non_null(strstr(text, "\"d\":\"GET /../secret 403 (path leaves the root)\""));
	assert_null(strstr(text, "nothing-logged"));
}

static void test_server_counts_requests_and_bytes(void **state)
{
	struct update_server *s = start();
	struct server_stats st;

	client_free(fetch(s, "GET /small.txt HTTP/1.1\r\nConnection: close\r\n\r\n"));
	client_free(fetch(s, "GET /nothing HTTP/1.1\r\nConnection: close\r\n\r\n"));
	server_get_stats(s, &st);
	assert_int_equal(st.requests, 2);
	assert_int_equal(st.responses_ok, 1);
	assert_int_equal(st.responses_error, 1);
	assert_int_equal(st.bytes_sent, 6);
	assert_int_equal(st.bodies_complete, 1);
	assert_int_equal(st.bodies_cut, 0);
	server_stop(s);
}

static void test_server_serves_a_handed_over_socket(void **state)
{
	struct update_server *s = start();
	static const char req[] = "GET /small.txt HTTP/1.1\r\nConnection: close\r\n\r\n";
	struct client *c = calloc(1, sizeof(*c));
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	assert_int_equal(server_add_client(s, sv[0]), 0);
	assert_int_equal(write(sv[1], req, sizeof(req) - 1), (ssize_t)sizeof(req) - 1);
	c->fd = sv[1];
	pump(s, &c, 1);
	assert_int_equal(status_of(c), 200);
	assert_body_is(c, "hello\n", 6);
	client_free(c);
	server_stop(s);
}

static void test_server_fault_words_round_trip(void **state)
{
	enum server_fault_kind k;

	for (int i = SERVER_FAULT_NONE; i <= SERVER_FAULT_CORRUPT; i++) {
		assert_int_equal(server_fault_kind_parse(server_fault_kind_name(i), &k), 0);
		assert_int_equal(k, i);
	}
	assert_string_equal(server_fault_kind_name(SERVER_FAULT_RESET_AFTER), "reset");
	assert_int_equal(server_fault_kind_parse("explode", &k), -EINVAL);
	assert_int_equal(server_fault_kind_parse(NULL, &k), -EINVAL);
}

static void test_server_set_fault_refuses_what_cannot_work(void **state)
{
	struct update_server *s = start();
	struct server_fault zero_rate = {.kind = SERVER_FAULT_THROTTLE, .rate_bps = 0};
	struct server_fault back_in_time = {.kind = SERVER_FAULT_STALL, .stall_ns = -1};
	struct server_fault unknown = {.kind = (enum server_fault_kind)42};

	log_capture(logbuf, sizeof(logbuf));
	assert_int_equal(server_set_fault(s, &zero_rate), -EINVAL);
	assert_non_null(strstr(logbuf, "fault throttle needs a rate above 0 bytes/s"));
	assert_int_equal(server_set_fault(s, &back_in_time), -EINVAL);
	assert_int_equal(server_set_fault(s, &unknown), -EINVAL);
	log_capture(NULL, 0);
	assert_int_equal(server_set_fault(s, NULL), 0);
	server_stop(s);
	server_stop(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_server_get_sends_exact_file_bytes),
	    cmocka_unit_test(test_server_head_sends_length_without_body),
	    cmocka_unit_test(test_server_range_requests_get_206_with_those_bytes),
	    cmocka_unit_test(test_server_http10_resume_request_gets_206_then_eof),
	    cmocka_unit_test(test_server_odd_ranges_get_416_or_the_whole_file),
	    cmocka_unit_test(test_server_curl_resume_gets_the_rest),
	    cmocka_unit_test(test_server_refuses_paths_out_of_root),
	    cmocka_unit_test(test_server_refuses_paths_out_of_root_without_openat2),
	    cmocka_unit_test(test_server_symlink_inside_root_is_served),
	    cmocka_unit_test(test_server_other_methods_get_405),
	    cmocka_unit_test(test_server_survives_hostile_requests),
	    cmocka_unit_test(test_server_keeps_connection_for_next_request),
	    cmocka_unit_test(test_server_port_in_use_names_address_and_port),
	    cmocka_unit_test(test_server_start_errors_say_what_is_wrong),
	    cmocka_unit_test(test_server_logs_requests_to_timeline),
	    cmocka_unit_test(test_server_counts_requests_and_bytes),
	    cmocka_unit_test(test_server_serves_a_handed_over_socket),
	    cmocka_unit_test(test_server_fault_words_round_trip),
	    cmocka_unit_test(test_server_set_fault_refuses_what_cannot_work),
	};
	int rc;

	if (wire_setup("test_server") < 0)
		return 1;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	if (wire_cleanup() < 0)
		rc = 1;
	return rc;
}

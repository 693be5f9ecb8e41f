/* tests/unit/test_server_faults.c — the update server's faults as a client
 * sees them on a loopback socket: close gives the headers, exactly N body
 * bytes and a clean EOF; reset gives N bytes and ECONNRESET; stall holds at
 * byte N for S seconds then sends the rest; throttle keeps to R bytes/s;
 * corrupt changes byte N and nothing else. Times are checked loosely (at
 * least S, at most S + 5 s): rates are a benchmark matter. libcurl checks
 * that a real client reports what an update agent would see. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/clock.h"
#include "harness/server/server.h"
#include "lib/timeline.h"
#include "server_wire.h"

#define GET_PAYLOAD "GET /payload HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"

static void assert_body_prefix(const struct client *c, size_t from, size_t want_len)
{
	size_t len;
	const unsigned char *b = body(c, &len);

	assert_int_equal(len, want_len);
	assert_memory_equal(b, payload + from, want_len);
}

static void test_fault_close_sends_n_bytes_then_fin(void **state)
{
	struct update_server *s = start();
	struct server_stats st;
	struct client *c;
	struct curl_result r;

	set_fault(s, SERVER_FAULT_CLOSE_AFTER, 12345, NULL);
	c = fetch(s, GET_PAYLOAD);
	assert_int_equal(status_of(c), 200);
	assert_string_equal(header(c, "Content-Length"), "200000");
	assert_body_prefix(c, 0, 12345);
	assert_int_equal(c->err, 0); /* a clean end of stream, not a reset */
	client_free(c);
	r = curl_fetch(s, "/payload", 0);
	assert_int_equal(r.code, CURLE_PARTIAL_FILE);
	assert_int_equal(r.len, 12345);
	assert_memory_equal(r.data, payload, 12345);
	free(r.data);
	server_get_stats(s, &st);
	assert_int_equal(st.faults_fired, 2);
	assert_int_equal(st.bodies_cut, 2);
	assert_int_equal(st.bytes_sent, 2 * 12345);
	server_stop(s);
}

static void test_fault_close_at_zero_sends_headers_only(void **state)
{
	struct update_server *s = start();
	struct client *c;

	set_fault(s, SERVER_FAULT_CLOSE_AFTER, 0, NULL);
	c = fetch(s, GET_PAYLOAD);
	assert_int_equal(status_of(c), 200);
	assert_body_prefix(c, 0, 0);
	assert_int_equal(c->err, 0);
	client_free(c);
	server_stop(s);
}

static void test_fault_reset_sends_n_bytes_then_rst(void **state)
{
	struct update_server *s = start();
	struct client *c;
	struct curl_result r;

	set_fault(s, SERVER_FAULT_RESET_AFTER, 70000, NULL);
	c = fetch(s, GET_PAYLOAD);
	assert_int_equal(status_of(c), 200);
	assert_body_prefix(c, 0, 70000);
	assert_int_equal(c->err, ECONNRESET);
	client_free(c);
	r = curl_fetch(s, "/payload", 0);
	assert_int_equal(r.code, CURLE_RECV_ERROR);
	assert_int_equal(r.len, 70000);
	free(r.data);
	server_stop(s);
}

static void test_fault_stall_holds_at_byte_n_then_sends_the_rest(void **state)
{
	struct update_server *s = start();
	struct server_fault f = {
	    .kind = SERVER_FAULT_STALL, .at_byte = 50000, .stall_ns = NS_PER_S};
	struct client *c;
	int64_t gap, took;

	assert_int_equal(server_set_fault(s, &f), 0);
	c = fetch(s, GET_PAYLOAD);
	assert_int_equal(status_of(c), 200);
	assert_body_prefix(c, 0, PAYLOAD_SIZE);
	assert_int_equal(c->err, 0);
	/* Byte 49999 came before the stall, byte 50000 after it. */
	gap = time_past(c, 50000) - time_past(c, 49999);
	took = c->t_done - c->t_sent;
	assert_true(gap >= NS_PER_S - 100 * NS_PER_MS);
	assert_true(took >= NS_PER_S);
	assert_true(took <= 6 * NS_PER_S);
	client_free(c);
	server_stop(s);
}

static void test_fault_throttle_keeps_to_the_rate(void **state)
{
	struct update_server *s = start();
	struct server_fault f = {
	    .kind = SERVER_FAULT_THROTTLE, .at_byte = 100000, .rate_bps = 40000};
	struct client *c;
	int64_t took;

	/* 100000 bytes at full speed, then 100000 at 40000 B/s: >= 2.5 s. */
	assert_int_equal(server_set_fault(s, &f), 0);
	c = fetch(s, GET_PAYLOAD);
	assert_body_prefix(c, 0, PAYLOAD_SIZE);
	took = c->t_done - c->t_sent;
	assert_true(took >= 2500 * NS_PER_MS);
	assert_true(took <= 7500 * NS_PER_MS);
	/* The unthrottled part came at once. */
	assert_true(time_past(c, 99999) - c->t_sent < 500 * NS_PER_MS);
	client_free(c);
	server_stop(s);
}

static void test_fault_corrupt_flips_byte_n_only(void **state)
{
	struct update_server *s = start();
	size_t len;
	const unsigned char *b;
	struct client *c;

	set_fault(s, SERVER_FAULT_CORRUPT, 123456, NULL);
	c = fetch(s, GET_PAYLOAD);
	b = body(c, &len);
	assert_int_equal(len, PAYLOAD_SIZE);
	assert_memory_equal(b, payload, 123456);
	assert_int_equal(b[123456], payload[123456] ^ 0xff);
	assert_memory_equal(b + 123457, payload + 123457, PAYLOAD_SIZE - 123457);
	client_free(c);
	/* The byte is a file offset: a range holding it is corrupted there too. */
	c = fetch(s, "GET /payload HTTP/1.1\r\nRange: bytes=123450-123460\r\n"
	             "Connection: close\r\n\r\n");
	b = body(c, &len);
	assert_int_equal(len, 11);
	assert_int_equal(b[6], payload[123456] ^ 0xff);
	assert_memory_equal(b + 7, payload + 123457, 4);
	client_free(c);
	server_stop(s);
}

static void test_fault_applies_to_matching_paths_only(void **state)
{
	struct update_server *s = start();
	struct client *c;

	set_fault(s, SERVER_FAULT_CLOSE_AFTER, 1000, "*/payload");
	c = fetch(s, "GET /v2/payload HTTP/1.1\r\nConnection: close\r\n\r\n");
	assert_body_prefix(c, 0, 1000);
	client_free(c);
	c = fetch(s, "GET /small.txt HTTP/1.1\r\nConnection: close\r\n\r\n");
	assert_int_equal(status_of(c), 200);
	assert_int_equal(c->len - head_len(c), 6);
	assert_memory_equal(c->data + head_len(c), "hello\n", 6);
	client_free(c);
	server_stop(s);
}

static void test_fault_times_then_resume_completes_the_download(void **state)
{
	struct update_server *s = start();
	struct server_fault f = {.kind = SERVER_FAULT_CLOSE_AFTER, .at_byte = 80000, .times = 1};
	struct curl_result first, rest;

	assert_int_equal(server_set_fault(s, &f), 0);
	first = curl_fetch(s, "/payload", 0);
	assert_int_equal(first.code, CURLE_PARTIAL_FILE);
	assert_int_equal(first.len, 80000);
	/* The fault fired once: the agent resumes where it stopped. */
	rest = curl_fetch(s, "/payload", (long)first.len);
	assert_int_equal(rest.code, CURLE_OK);
	assert_int_equal(rest.status, 206);
	assert_int_equal(first.len + rest.len, PAYLOAD_SIZE);
	assert_memory_equal(first.data, payload, first.len);
	assert_memory_equal(rest.data, payload + first.len, rest.len);
	free(first.data);
	free(rest.data);
	server_stop(s);
}

static void test_fault_at_file_offset_meets_range_requests(void **state)
{
	struct update_server *s = start();
	struct client *c;

	set_fault(s, SERVER_FAULT_CLOSE_AFTER, 5000, NULL);
	/* Resumed at 3000: the body stops at file byte 5000, after 2000 bytes. */
	c = fetch(s, "GET /payload HTTP/1.1\r\nRange: bytes=3000-\r\nConnection: close\r\n\r\n");
	assert_int_equal(status_of(c), 206);
	assert_body_prefix(c, 3000, 2000);
	client_free(c);
	/* Resumed past it: the server never gets beyond byte 5000. */
	c = fetch(s, "GET /payload HTTP/1.1\r\nRange: bytes=9000-\r\nConnection: close\r\n\r\n");
	assert_body_prefix(c, 9000, 0);
	client_free(c);
	server_stop(s);
}

static void test_fault_cleared_during_stall_lets_the_download_finish(void **state)
{
	struct update_server *s = start();
	struct server_fault f = {
	    .kind = SERVER_FAULT_STALL, .at_byte = 1000, .stall_ns = 3600 * NS_PER_S};
	struct client *c;
	int64_t deadline = clock_now_ns() + 5 * NS_PER_S;

	assert_int_equal(server_set_fault(s, &f), 0);
	c = client_get(server_port(s), GET_PAYLOAD);
	while (c->len < 1000 + 100 || !memmem(c->data, c->len, "\r\n\r\n", 4)) {
		pump_once(s, &c, 1, 50 * NS_PER_MS);
		assert_true(clock_now_ns() < deadline);
	}
	for (int i = 0; i < 5; i++)
		pump_once(s, &c, 1, 20 * NS_PER_MS);
	assert_int_equal(c->len, head_len(c) + 1000); /* held at byte 1000 */
	assert_int_equal(server_set_fault(s, NULL), 0);
	pump(s, &c, 1);
	assert_body_prefix(c, 0, PAYLOAD_SIZE);
	assert_true(clock_now_ns() < deadline);
	client_free(c);
	server_stop(s);
}

static void test_fault_stop_during_stall_closes_cleanly(void **state)
{
	struct update_server *s = start();
	struct server_fault f = {
	    .kind = SERVER_FAULT_STALL, .at_byte = 10, .stall_ns = 3600 * NS_PER_S};
	struct client *c;

	assert_int_equal(server_set_fault(s, &f), 0);
	c = client_get(server_port(s), GET_PAYLOAD);
	for (int i = 0; i < 10; i++)
		pump_once(s, &c, 1, 20 * NS_PER_MS);
	server_stop(s);
	client_read(c);
	assert_true(c->done);
	client_free(c);
}

static void test_fault_events_are_on_the_timeline(void **state)
{
	char path[256], text[16384] = "";
	struct timeline *tl;
	struct update_server *s;
	FILE *f;

	snprintf(path, sizeof(path), "%s/faults.jsonl", tmpdir);
	tl = timeline_open(path, "qemu-01");
	s = server_start(NULL, 0, root, tl);
	assert_non_null(s);
	set_fault(s, SERVER_FAULT_CLOSE_AFTER, 777, "/v2/*");
	client_free(fetch(s, "GET /v2/payload HTTP/1.1\r\nConnection: close\r\n\r\n"));
	set_fault(s, SERVER_FAULT_CORRUPT, 3, NULL);
	client_free(fetch(s, "GET /small.txt HTTP/1.1\r\nConnection: close\r\n\r\n"));
	server_stop(s);
	timeline_close(tl);
	f = fopen(path, "r");
	assert_non_null(f);
	text[fread(text, 1, sizeof(text) - 1, f)] = '\0';
	fclose(f);
	assert_non_null(strstr(text, "\"k\":\"server\",\"d\":\"fault set: close at byte 777"));
	assert_non_null(strstr(text, "\"k\":\"fault\",\"d\":\"server: close after byte 777 (FIN), "
	                             "GET /v2/payload (777 body bytes sent)\""));
	assert_non_null(strstr(text, "\"d\":\"GET /v2/payload sent 777/200000 in "));
	assert_non_null(strstr(text, "s: closed by fault (FIN)\""));
	assert_non_null(strstr(text,
	                       "\"k\":\"fault\",\"d\":\"server: corrupt byte 3: 0x6c sent as 0x93, "
	                       "GET /small.txt"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fault_close_sends_n_bytes_then_fin),
	    cmocka_unit_test(test_fault_close_at_zero_sends_headers_only),
	    cmocka_unit_test(test_fault_reset_sends_n_bytes_then_rst),
	    cmocka_unit_test(test_fault_stall_holds_at_byte_n_then_sends_the_rest),
	    cmocka_unit_test(test_fault_throttle_keeps_to_the_rate),
	    cmocka_unit_test(test_fault_corrupt_flips_byte_n_only),
	    cmocka_unit_test(test_fault_applies_to_matching_paths_only),
	    cmocka_unit_test(test_fault_times_then_resume_completes_the_download),
	    cmocka_unit_test(test_fault_at_file_offset_meets_range_requests),
	    cmocka_unit_test(test_fault_cleared_during_stall_lets_the_download_finish),
	    cmocka_unit_test(test_fault_stop_during_stall_closes_cleanly),
	    cmocka_unit_test(test_fault_events_are_on_the_timeline),
	};
	int rc;

	if (wire_setup("test_server_faults") < 0)
		return 1;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	if (wire_cleanup() < 0)
		rc = 1;
	return rc;
}

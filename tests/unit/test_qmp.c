/* tests/unit/test_qmp.c — the QMP client against a fake QEMU: the test plays
 * the server on the other end of a socketpair (answers written ahead, the
 * client's messages read back and compared as JSON), or on a unix socket
 * from a forked process. Greeting, capabilities, ids, error answers, events
 * in between, garbage, truncation, closing, deadlines. */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/clock.h"
#include "qemu/qmp.h"

#define GREETING                                                                                   \
	"{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 22, \"minor\": 2, \"major\": 7}, "         \
	"\"package\": \"Debian\"}, \"capabilities\": [\"oob\"]}}\r\n"
#define CAPS_OK "{\"return\": {}, \"id\": 1}\r\n"

static void put(int fd, const char *text)
{
	size_t len = strlen(text);

	assert_int_equal(write(fd, text, len), (ssize_t)len);
}

/* One line the client sent, parsed; fails the test after 2 s. */
static json_t *sent(int fd)
{
	char line[4096];
	size_t len = 0;
	int64_t deadline = clock_now_ns() + 2 * NS_PER_S;
	json_error_t err;
	json_t *msg;

	while (len < sizeof(line) - 1) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		assert_int_equal(poll(&pfd, 1, clock_poll_ms(deadline)), 1);
		assert_int_equal(read(fd, line + len, 1), 1);
		if (line[len++] == '\n')
			break;
	}
	line[len] = '\0';
	msg = json_loads(line, 0, &err);
	if (!msg)
		fail_msg("client sent invalid JSON: %s (%s)", line, err.text);
	return msg;
}

static void assert_sent(int fd, const char *expected)
{
	json_t *got = sent(fd), *want = json_loads(expected, 0, NULL);
	char *text = json_dumps(got, JSON_SORT_KEYS);

	assert_non_null(want);
	if (!json_equal(got, want))
		fail_msg("client sent %s, expected %s", text, expected);
	free(text);
	json_decref(got);
	json_decref(want);
}

/* A client past greeting and capabilities; *server is the fake QEMU. */
static struct qmp *open_pair(int *server)
{
	struct qmp *q;
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	put(sv[1], GREETING CAPS_OK);
	assert_int_equal(qmp_open_fd(&q, sv[0], clock_now_ns() + NS_PER_S, NULL, 0), 0);
	assert_sent(sv[1], "{\"execute\": \"qmp_capabilities\", \"id\": 1}");
	*server = sv[1];
	return q;
}

static int64_t in_ms(int ms)
{
	return clock_now_ns() + ms * NS_PER_MS;
}

static void test_qmp_open_negotiates_capabilities_after_greeting(void **state)
{
	int server;
	struct qmp *q = open_pair(&server);
	const json_t *v = qmp_version(q);

	assert_int_equal(json_integer_value(json_object_get(json_object_get(v, "qemu"), "major")),
	                 7);
	assert_string_equal(qmp_error(q), "");
	qmp_close(q);
	close(server);
}

static void test_qmp_command_sends_name_and_id_and_returns_value(void **state)
{
	int server;
	struct qmp *q = open_pair(&server);
	json_t *ret;

	put(server, "{\"return\": {\"status\": \"running\", \"running\": true}, \"id\": 2}\r\n");
	assert_int_equal(qmp_command(q, "query-status", NULL, &ret, in_ms(1000)), 0);
	assert_sent(server, "{\"execute\": \"query-status\", \"id\": 2}");
	assert_string_equal(json_string_value(json_object_get(ret, "status")), "running");
	json_decref(ret);
	qmp_close(q);
	close(server);
}

static void test_qmp_command_sends_arguments_object(void **state)
{
	int server;
	struct qmp *q = open_pair(&server);
	json_t *args = json_pack("{s:s, s:b}", "name", "net0", "up", 0);

	put(server, "{\"return\": {}, \"id\": 2}\n");
	assert_int_equal(qmp_command(q, "set_link", args, NULL, in_ms(1000)), 0);
	assert_sent(server, "{\"execute\": \"set_link\", \"id\": 2, "
	                    "\"arguments\": {\"name\": \"net0\", \"up\": false}}");
	/* Arguments are borrowed, not stolen. */
	assert_int_equal(args->refcount, 1);
	json_decref(args);
	qmp_close(q);
	close(server);
}

static void test_qmp_command_pack_builds_arguments(void **state)
{
	int server;
	struct qmp *q = open_pair(&server);

	put(server, "{\"return\": {}, \"id\": 2}\n");
	assert_int_equal(qmp_command_pack(q, "savevm", NULL, in_ms(1000), "{s:s}", "name", "s1"),
	                 0);
	assert_sent(server,
	            "{\"execute\": \"savevm\", \"id\": 2, \"arguments\": {\"name\": \"s1\"}}");
	/* A broken pack format never reaches QEMU. */
	assert_int_equal(qmp_command_pack(q, "savevm", NULL, in_ms(100), "{s:"), -EINVAL);
	json_t *not_object = json_integer(1);
	assert_int_equal(qmp_command(q, "x", not_object, NULL, in_ms(100)), -EINVAL);
	json_decref(not_object);
	qmp_close(q);
	close(server);
}

static void test_qmp_error_answer_gives_class_and_description(void **state)
{
	int server;
	struct qmp *q = open_pair(&server);

	put(server, "{\"id\": 2, \"error\": {\"class\": \"DeviceNotFound\", "
	            "\"desc\": \"Device 'nic9' not found\"}}\n");
	assert_int_equal(qmp_command_pack(q, "set_link", NULL, in_ms(1000), "{s:s, s:b}", "name",
	                                  "nic9", "up", 1),
	                 -EREMOTEIO);
	assert_string_equal(qmp_error_class(q), "DeviceNotFound");
	assert_non_null(strstr(qmp_error(q), "set_link"));
	assert_non_null(strstr(qmp_error(q), "Device 'nic9' not found"));
	/* An error answer leaves the client usable. */
	put(server, "{\"return\": {}, \"id\": 3}\n");
	assert_int_equal(qmp_command(q, "cont", NULL, NULL, in_ms(1000)), 0);
	assert_string_equal(qmp_error_class(q), "");
	qmp_close(q);
	close(server);
}

static void test_qmp_events_before_the_answer_are_queued_in_order(void **state)
{
	int server;
	struct qmp *q = open_pair(&server);
	json_t *ev;

	put(server,
	    "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, \"event\": \"STOP\"}\r\n"
	    "{\"event\": \"RESET\", \"data\": {\"guest\": true}}\r\n"
	    "{\"return\": {}, \"id\": 2}\r\n");
	assert_int_equal(qmp_command(q, "stop", NULL, NULL, in_ms(1000)), 0);
	assert_int_equal(qmp_events_queued(q), 2);
	ev = qmp_event_next(q);
	assert_string_equal(json_string_value(json_object_get(ev, "event")), "STOP");
	json_decref(ev);
	ev = qmp_event_next(q);
	assert_string_equal(json_string_value(json_object_get(ev, "event")), "RESET");
	json_decref(ev);
	assert_null(qmp_event_next(q));
	qmp_close(q);
	close(server);
}

static void test_qmp_event_wait_takes_named_event_and_keeps_others(void **state)
{
	int server;
	struct qmp *q = open_pair(&server);
	json_t *ev;

	put(server, "{\"event\": \"RTC_CHANGE\"}\n{\"event\": \"SHUTDOWN\", \"data\": "
	            "{\"guest\": true, \"reason\": \"guest-shutdown\"}}\n{\"event\": \"STOP\"}\n");
	assert_int_equal(qmp_event_wait(q, "SHUTDOWN", &ev, in_ms(1000)), 0);
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(ev, "data"), "reason")),
	    "guest-shutdown");
	json_decref(ev);
	assert_int_equal(qmp_events_queued(q), 1); /* RTC_CHANGE; STOP still unread */
	/* A queued event is found without reading. */
	assert_int_equal(qmp_event_wait(q, "RTC_CHANGE", &ev, in_ms(0)), 0);
	json_decref(ev);
	assert_int_equal(qmp_event_wait(q, NULL, &ev, in_ms(1000)), 0);
	assert_string_equal(json_string_value(json_object_get(ev, "event")), "STOP");
	json_decref(ev);
	assert_int_equal(qmp_event_wait(q, "RESET", &ev, in_ms(50)), -ETIMEDOUT);
	assert_null(ev);
	assert_non_null(strstr(qmp_error(q), "RESET"));
	qmp_close(q);
	close(server);
}

static void test_qmp_command_honours_deadline_and_drops_late_answer(void **state)
{
	int server;
	struct qmp *q = open_pair(&server);
	int64_t start = clock_now_ns(), took;
	json_t *ret;

	assert_int_equal(qmp_command(q, "query-status", NULL, NULL, in_ms(150)), -ETIMEDOUT);
	took = clock_now_ns() - start;
	assert_true(took >= 150 * NS_PER_MS);
	assert_true(took < 2 * NS_PER_S);
	assert_non_null(strstr(qmp_error(q), "query-status"));
	/* The late answer (id 2) arrives before the next one (id 3). */
	put(server,
	    "{\"return\": {\"late\": true}, \"id\": 2}\n{\"return\": {\"ok\": 3}, \"id\": 3}\n");
	assert_int_equal(qmp_command(q, "query-name", NULL, &ret, in_ms(1000)), 0);
	assert_int_equal(json_integer_value(json_object_get(ret, "ok")), 3);
	json_decref(ret);
	qmp_close(q);
	close(server);
}

static void test_qmp_garbage_is_protocol_error_and_kills_client(void **state)
{
	int server;
	struct qmp *q = open_pair(&server);

	put(server, "Welcome to the HMP monitor\n");
	assert_int_equal(qmp_command(q, "query-status", NULL, NULL, in_ms(1000)), -EPROTO);
	assert_non_null(strstr(qmp_error(q), "not a QMP message"));
	assert_non_null(strstr(qmp_error(q), "Welcome to the HMP"));
	put(server, "{\"return\": {}, \"id\": 3}\n");
	assert_int_equal(qmp_command(q, "cont", NULL, NULL, in_ms(100)), -EPROTO);
	qmp_close(q);
	close(server);
}

static void test_qmp_json_that_is_not_an_object_is_protocol_error(void **state)
{
	int server;
	struct qmp *q = open_pair(&server);

	put(server, "[1, 2, 3]\n");
	assert_int_equal(qmp_command(q, "cont", NULL, NULL, in_ms(1000)), -EPROTO);
	qmp_close(q);
	close(server);
}

static void test_qmp_answer_without_return_or_error_is_protocol_error(void **state)
{
	int server;
	struct qmp *q = open_pair(&server);

	put(server, "{\"id\": 2, \"result\": {}}\n");
	assert_int_equal(qmp_command(q, "cont", NULL, NULL, in_ms(1000)), -EPROTO);
	assert_non_null(strstr(qmp_error(q), "neither return nor error"));
	qmp_close(q);
	close(server);
}

static void test_qmp_truncated_message_then_close_is_epipe(void **state)
{
	int server;
	struct qmp *q = open_pair(&server);

	put(server, "{\"return\": {\"status\": \"runn");
	shutdown(server, SHUT_WR); /* what the client reads ends here */
	assert_int_equal(qmp_command(q, "query-status", NULL, NULL, in_ms(1000)), -EPIPE);
	assert_non_null(strstr(qmp_error(q), "in the middle of a message"));
	/* Dead: every later call says the same at once. */
	assert_int_equal(qmp_command(q, "cont", NULL, NULL, in_ms(1000)), -EPIPE);
	qmp_close(q);
	close(server);
}

static void test_qmp_truncated_message_without_close_times_out(void **state)
{
	int server;
	struct qmp *q = open_pair(&server);

	put(server, "{\"return\": {\"status\": \"runn");
	assert_int_equal(qmp_command(q, "query-status", NULL, NULL, in_ms(100)), -ETIMEDOUT);
	/* The rest arrives: the message completes and is the late answer. */
	put(server, "ing\"}, \"id\": 2}\n{\"return\": {}, \"id\": 3}\n");
	assert_int_equal(qmp_command(q, "cont", NULL, NULL, in_ms(1000)), 0);
	qmp_close(q);
	close(server);
}

static void test_qmp_server_close_is_epipe_with_clear_message(void **state)
{
	int server;
	struct qmp *q = open_pair(&server);

	close(server);
	assert_int_equal(qmp_command(q, "query-status", NULL, NULL, in_ms(1000)), -EPIPE);
	assert_string_equal(qmp_error(q), "QEMU closed the QMP connection");
	assert_int_equal(qmp_pump(q), -EPIPE);
	qmp_close(q);
}

static void test_qmp_quit_answer_after_shutdown_event(void **state)
{
	int server;
	struct qmp *q = open_pair(&server);
	json_t *ev;

	/* What QEMU 7.2 sends on quit: the event first, then the answer, then EOF. */
	put(server,
	    "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 0}, \"event\": \"SHUTDOWN\", "
	    "\"data\": {\"guest\": false, \"reason\": \"host-qmp-quit\"}}\r\n"
	    "{\"return\": {}, \"id\": 2}\r\n");
	shutdown(server, SHUT_WR);
	assert_int_equal(qmp_command(q, "quit", NULL, NULL, in_ms(1000)), 0);
	assert_int_equal(qmp_event_wait(q, "SHUTDOWN", &ev, in_ms(100)), 0);
	json_decref(ev);
	assert_int_equal(qmp_event_wait(q, "SHUTDOWN", &ev, in_ms(100)), -EPIPE);
	qmp_close(q);
	close(server);
}

static void test_qmp_open_without_greeting_honours_deadline(void **state)
{
	int sv[2];
	struct qmp *q;
	char why[200];
	int64_t start = clock_now_ns(), took;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(qmp_open_fd(&q, sv[0], in_ms(200), why, sizeof(why)), -ETIMEDOUT);
	took = clock_now_ns() - start;
	assert_null(q);
	assert_true(took >= 200 * NS_PER_MS && took < 2 * NS_PER_S);
	assert_non_null(strstr(why, "no QMP greeting"));
	close(sv[1]);
}

static void test_qmp_open_when_server_closes_before_greeting(void **state)
{
	int sv[2];
	struct qmp *q;
	char why[200];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	close(sv[1]);
	assert_int_equal(qmp_open_fd(&q, sv[0], in_ms(1000), why, sizeof(why)), -EPIPE);
	assert_string_equal(why, "QEMU closed the QMP connection");
}

static void test_qmp_open_refuses_a_first_message_that_is_no_greeting(void **state)
{
	int sv[2];
	struct qmp *q;
	char why[200];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	put(sv[1], "{\"return\": {}}\n");
	assert_int_equal(qmp_open_fd(&q, sv[0], in_ms(1000), why, sizeof(why)), -EPROTO);
	assert_non_null(strstr(why, "not a QMP greeting"));
	close(sv[1]);
}

static void test_qmp_open_reports_refused_capabilities(void **state)
{
	int sv[2];
	struct qmp *q;
	char why[200];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	put(sv[1], GREETING "{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"Expecting "
	                    "capabilities negotiation with 'qmp_capabilities'\"}, \"id\": 1}\n");
	assert_int_equal(qmp_open_fd(&q, sv[0], in_ms(1000), why, sizeof(why)), -EREMOTEIO);
	assert_non_null(strstr(why, "qmp_capabilities"));
	close(sv[1]);
}

static void test_qmp_open_path_errors(void **state)
{
	char dir[] = "/tmp/test_qmp.XXXXXX", path[200], why[300], longpath[200];
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	struct qmp *q;
	int fd;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/qmp.sock", dir);
	assert_int_equal(qmp_open(&q, path, in_ms(100), why, sizeof(why)), -ENOENT);
	assert_non_null(strstr(why, path));
	/* A socket file nobody listens on: what a killed QEMU leaves. */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	strcpy(addr.sun_path, path);
	assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	close(fd);
	assert_int_equal(qmp_open(&q, path, in_ms(100), why, sizeof(why)), -ECONNREFUSED);
	memset(longpath, 'x', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	assert_int_equal(qmp_open(&q, longpath, in_ms(100), NULL, 0), -ENAMETOOLONG);
	unlink(path);
	rmdir(dir);
}

/* A forked fake QEMU on a real unix socket that answers in pieces. */
static void serve_once(int listen_fd)
{
	int fd = accept(listen_fd, NULL, NULL);
	char buf[512];

	if (fd < 0)
		_exit(1);
	if (write(fd, GREETING, strlen(GREETING)) < 0 || read(fd, buf, sizeof(buf)) <= 0)
		_exit(2);
	if (write(fd, CAPS_OK, strlen(CAPS_OK)) < 0 || read(fd, buf, sizeof(buf)) <= 0)
		_exit(3);
	/* The answer split over two writes, an event in front. */
	if (write(fd, "{\"event\": \"RESUME\"}\n{\"return\": {\"sta", 36) < 0)
		_exit(4);
	poll(NULL, 0, 30);
	if (write(fd, "tus\": \"running\"}, \"id\": 2}\n", 27) < 0)
		_exit(5);
	close(fd);
	_exit(0);
}

static void test_qmp_open_by_path_and_split_answer(void **state)
{
	char dir[] = "/tmp/test_qmp.XXXXXX", path[200], status[32];
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	struct qmp *q;
	int fd, wstatus;
	pid_t pid;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/qmp.sock", dir);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	strcpy(addr.sun_path, path);
	assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	assert_int_equal(listen(fd, 1), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		serve_once(fd);
	close(fd);
	assert_int_equal(qmp_open(&q, path, in_ms(2000), NULL, 0), 0);
	assert_int_equal(qmp_query_status(q, status, sizeof(status), in_ms(2000)), 0);
	assert_string_equal(status, "running");
	assert_int_equal(qmp_events_queued(q), 1);
	qmp_close(q);
	assert_int_equal(waitpid(pid, &wstatus, 0), pid);
	assert_true(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0);
	unlink(path);
	rmdir(dir);
}

static void test_qmp_pump_reads_events_without_waiting(void **state)
{
	int server;
	struct qmp *q = open_pair(&server);
	int64_t start;

	start = clock_now_ns();
	assert_int_equal(qmp_pump(q), 0);
	assert_true(clock_now_ns() - start < 500 * NS_PER_MS);
	put(server, "{\"event\": \"STOP\"}\n\r\n{\"event\": \"RESUME\"}\n{\"event\": \"RES");
	assert_int_equal(qmp_pump(q), 2);
	put(server, "ET\"}\n");
	assert_int_equal(qmp_pump(q), 3);
	close(server);
	assert_int_equal(qmp_pump(q), -EPIPE);
	/* Events read before the close are still there. */
	assert_int_equal(qmp_events_queued(q), 3);
	qmp_close(q);
}

static void test_qmp_event_queue_is_bounded(void **state)
{
	int server;
	struct qmp *q = open_pair(&server);
	char line[64];
	json_t *ev;

	for (int i = 0; i < QMP_MAX_EVENTS + 5; i++) {
		snprintf(line, sizeof(line), "{\"event\": \"E\", \"data\": {\"n\": %d}}\n", i);
		put(server, line);
		if (i % 100 == 99)
			assert_true(qmp_pump(q) >= 0);
	}
	assert_int_equal(qmp_pump(q), QMP_MAX_EVENTS);
	assert_int_equal(qmp_events_dropped(q), 5);
	ev = qmp_event_next(q);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(ev, "data"), "n")), 5);
	json_decref(ev);
	qmp_close(q);
	close(server);
}

static void test_qmp_event_time_converts_the_wall_clock_stamp(void **state)
{
	struct timespec real;
	int64_t mono, now;
	json_t *ev;

	clock_gettime(CLOCK_REALTIME, &real);
	now = clock_now_ns();
	ev = json_pack("{s:s, s:{s:I, s:I}}", "event", "STOP", "timestamp", "seconds",
	               (json_int_t)real.tv_sec, "microseconds", (json_int_t)(real.tv_nsec / 1000));
	assert_int_equal(qmp_event_time_ns(ev, &mono), 0);
	assert_true(mono > now - 50 * NS_PER_MS && mono < now + 50 * NS_PER_MS);
	json_decref(ev);
	ev = json_pack("{s:s}", "event", "STOP");
	assert_int_equal(qmp_event_time_ns(ev, &mono), -ENOENT);
	json_decref(ev);
}

static int drained_bytes;

static int drain_into_count(void *arg)
{
	char buf[65536];
	ssize_t n = read(*(int *)arg, buf, sizeof(buf));

	if (n > 0)
		drained_bytes += (int)n;
	return n == 0 ? -1 : 0;
}

/* QEMU's serial write blocks its main loop until the console is read: an
 * answer that only comes after 4 MiB of console output still comes. */
static void test_qmp_command_drains_the_console_while_it_waits(void **state)
{
	int server, con[2];
	struct qmp *q = open_pair(&server);
	pid_t child;
	int status;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, con), 0);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		static char blob[4 << 20];
		size_t off = 0;
		close(con[0]); /* the writer dies with EPIPE if the test fails */
		while (off < sizeof(blob)) {
			ssize_t n = write(con[1], blob + off, sizeof(blob) - off);
			if (n <= 0)
				_exit(1);
			off += (size_t)n;
		}
		put(server, "{\"return\": {}, \"id\": 2}\r\n");
		_exit(0);
	}
	close(con[1]);
	drained_bytes = 0;
	qmp_set_drain(q, con[0], drain_into_count, &con[0]);
	assert_int_equal(qmp_command(q, "stop", NULL, NULL, in_ms(5000)), 0);
	/* The last bytes may still sit in the socket when the answer comes. */
	assert_true(drained_bytes > 0);
	while (drain_into_count(&con[0]) == 0)
		;
	assert_int_equal(drained_bytes, 4 << 20);
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_int_equal(status, 0);
	/* Nothing watched any more: a closed fd is not polled. */
	qmp_set_drain(q, -1, NULL, NULL);
	close(con[0]);
	put(server, "{\"return\": {}, \"id\": 3}\r\n");
	assert_int_equal(qmp_command(q, "cont", NULL, NULL, in_ms(1000)), 0);
	qmp_close(q);
	close(server);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_qmp_open_negotiates_capabilities_after_greeting),
	    cmocka_unit_test(test_qmp_command_sends_name_and_id_and_returns_value),
	    cmocka_unit_test(test_qmp_command_sends_arguments_object),
	    cmocka_unit_test(test_qmp_command_pack_builds_arguments),
	    cmocka_unit_test(test_qmp_error_answer_gives_class_and_description),
	    cmocka_unit_test(test_qmp_events_before_the_answer_are_queued_in_order),
	    cmocka_unit_test(test_qmp_event_wait_takes_named_event_and_keeps_others),
	    cmocka_unit_test(test_qmp_command_honours_deadline_and_drops_late_answer),
	    cmocka_unit_test(test_qmp_garbage_is_protocol_error_and_kills_client),
	    cmocka_unit_test(test_qmp_json_that_is_not_an_object_is_protocol_error),
	    cmocka_unit_test(test_qmp_answer_without_return_or_error_is_protocol_error),
	    cmocka_unit_test(test_qmp_truncated_message_then_close_is_epipe),
	    cmocka_unit_test(test_qmp_truncated_message_without_close_times_out),
	    cmocka_unit_test(test_qmp_server_close_is_epipe_with_clear_message),
	    cmocka_unit_test(test_qmp_quit_answer_after_shutdown_event),
	    cmocka_unit_test(test_qmp_open_without_greeting_honours_deadline),
	    cmocka_unit_test(test_qmp_open_when_server_closes_before_greeting),
	    cmocka_unit_test(test_qmp_open_refuses_a_first_message_that_is_no_greeting),
	    cmocka_unit_test(test_qmp_open_reports_refused_capabilities),
	    cmocka_unit_test(test_qmp_open_path_errors),
	    cmocka_unit_test(test_qmp_open_by_path_and_split_answer),
	    cmocka_unit_test(test_qmp_pump_reads_events_without_waiting),
	    cmocka_unit_test(test_qmp_event_queue_is_bounded),
	    cmocka_unit_test(test_qmp_event_time_converts_the_wall_clock_stamp),
	    cmocka_unit_test(test_qmp_command_drains_the_console_while_it_waits),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* tests/unit/test_console_qemu.c — the qemu console: settings, "not there
 * yet" errors, the byte stream and its end, and the wait until QEMU has
 * accepted the connection (a forked fake QEMU serves the console socket and
 * a QMP socket that reports con0 disconnected once, then connected). */
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

#include "lib/cfg.h"
#include "lib/clock.h"
#include "harness/console/console.h"
#include "lib/log.h"

struct fixture {
	char dir[64];
	struct cfg_node *settings;
	struct console c;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	strcpy(f->dir, "/tmp/tcq.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	if (f->c.ops)
		f->c.ops->close(&f->c);
	cfg_free(f->settings);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static int open_console(struct fixture *f, const char *yaml)
{
	char lab[128];

	snprintf(lab, sizeof(lab), "%s/lab.yaml", f->dir);
	cfg_free(f->settings);
	f->settings = cfg_load_buf(lab, yaml, strlen(yaml));
	assert_non_null(f->settings);
	memset(&f->c, 0, sizeof(f->c));
	f->c.fd = -1;
	f->c.board = "b1";
	f->c.run_dir = f->dir;
	f->c.ops = &console_qemu_ops;
	return console_qemu_ops.open(&f->c, f->settings);
}

static int listen_at(const char *dir, const char *name)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/%s", dir, name);
	assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	assert_int_equal(listen(fd, 4), 0);
	return fd;
}

static void test_console_qemu_refuses_unknown_keys(void **state)
{
	struct fixture *f = *state;
	char log[512];

	log_capture(log, sizeof(log));
	assert_int_equal(open_console(f, "type: qemu\nsockett: x\n"), -EINVAL);
	log_capture(NULL, 0);
	assert_non_null(strstr(log, "sockett is not a known key"));
	f->c.ops = NULL;
}

static void test_console_qemu_not_running_is_not_there_yet(void **state)
{
	struct fixture *f = *state;
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	int fd;

	assert_int_equal(open_console(f, "type: qemu\n"), 0);
	assert_int_equal(console_qemu_ops.connect(&f->c, clock_now_ns()), -ENOENT);
	/* A socket file that nobody serves: QEMU was killed. */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/console.sock", f->dir);
	assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	close(fd);
	assert_int_equal(console_qemu_ops.connect(&f->c, clock_now_ns()), -ECONNREFUSED);
	assert_int_equal(f->c.fd, -1);
}

static void test_console_qemu_streams_bytes_and_ends_with_epipe(void **state)
{
	struct fixture *f = *state;
	int lfd, peer;
	char buf[64];

	/* Another socket, relative to the lab file; no QMP beside it. */
	lfd = listen_at(f->dir, "other.sock");
	assert_int_equal(open_console(f, "type: qemu\nsocket: other.sock\n"), 0);
	assert_int_equal(console_qemu_ops.connect(&f->c, clock_now_ns() + NS_PER_S), 0);
	peer = accept(lfd, NULL, NULL);
	assert_true(peer >= 0);
	assert_int_equal(console_qemu_ops.read(&f->c, buf, sizeof(buf)), 0); /* nothing yet */
	assert_int_equal(write(peer, "\0U-Boot\xff\n", 9), 9);
	poll(&(struct pollfd){.fd = f->c.fd, .events = POLLIN}, 1, 1000);
	assert_int_equal(console_qemu_ops.read(&f->c, buf, sizeof(buf)), 9);
	assert_memory_equal(buf, "\0U-Boot\xff\n", 9);
	assert_int_equal(console_qemu_ops.write(&f->c, "ls\n", 3), 3);
	assert_int_equal(read(peer, buf, sizeof(buf)), 3);
	close(peer);
	poll(&(struct pollfd){.fd = f->c.fd, .events = POLLIN}, 1, 1000);
	assert_int_equal(console_qemu_ops.read(&f->c, buf, sizeof(buf)), -EPIPE);
	assert_int_equal(console_qemu_ops.write(&f->c, "x", 1), -EPIPE);
	console_qemu_ops.disconnect(&f->c);
	assert_int_equal(f->c.fd, -1);
	close(lfd);
}

/* The fake QEMU: accepts the console, then answers query-chardev with con0
 * disconnected once and connected after. Exits 0 if asked twice. */
static void fake_qemu(int con_fd, int qmp_fd)
{
	static const char *const answers[] = {
	    "{\"QMP\": {\"version\": {}, \"capabilities\": []}}\r\n",
	    "{\"return\": {}, \"id\": 1}\r\n",
	    "{\"return\": [{\"label\": \"con0\", \"filename\": \"disconnected:unix:x,server=on\"}],"
	    " \"id\": 2}\r\n",
	    "{\"return\": [{\"label\": \"con0\", \"filename\": \"unix:x,server=on\"}], \"id\": "
	    "3}\r\n",
	};
	char buf[512];
	int q, c;

	alarm(5); /* a client that never asks must not hang the test */
	q = accept(qmp_fd, NULL, NULL);
	if (q < 0 || write(q, answers[0], strlen(answers[0])) < 0)
		_exit(1);
	for (int i = 1; i < 4; i++) {
		if (read(q, buf, sizeof(buf)) <= 0)
			_exit(10 + i);
		if (i == 3 && (c = accept(con_fd, NULL, NULL)) < 0) /* accepted late */
			_exit(2);
		if (write(q, answers[i], strlen(answers[i])) < 0)
			_exit(3);
	}
	close(q);
	_exit(0);
}

static void test_console_qemu_waits_until_qemu_accepted(void **state)
{
	struct fixture *f = *state;
	int con_fd = listen_at(f->dir, "console.sock"), qmp_fd = listen_at(f->dir, "qmp.sock");
	int status;
	pid_t pid = fork();

	if (pid == 0)
		fake_qemu(con_fd, qmp_fd);
	close(con_fd);
	close(qmp_fd);
	assert_int_equal(open_console(f, "type: qemu\ntimeout: 5s\n"), 0);
	assert_int_equal(console_qemu_ops.connect(&f->c, clock_now_ns() + 5 * NS_PER_S), 0);
	assert_true(f->c.fd >= 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_console_qemu_without_qmp_connects_anyway(void **state)
{
	struct fixture *f = *state;
	int con_fd = listen_at(f->dir, "console.sock");
	int64_t start = clock_now_ns();

	assert_int_equal(open_console(f, "type: qemu\n"), 0);
	assert_int_equal(console_qemu_ops.connect(&f->c, clock_now_ns() + 5 * NS_PER_S), 0);
	assert_true(clock_now_ns() - start < NS_PER_S);
	close(con_fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_console_qemu_refuses_unknown_keys, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_console_qemu_not_running_is_not_there_yet, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_console_qemu_streams_bytes_and_ends_with_epipe,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_console_qemu_waits_until_qemu_accepted, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_console_qemu_without_qmp_connects_anyway, setup,
	                                    teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* tests/unit/test_lock.c — board locks name their holder by pid and start
 * time, so a pid that the kernel gave to another process after the holder
 * died does not keep the dead holder's lock. Real /proc, a private lock
 * directory. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness/lab/lock.h"
#include "lib/log.h"

static char logbuf[4096];
static char dir[] = "/tmp/hilctl-test-lock-XXXXXX";

/* Field 22 of /proc/PID/stat, read independently of lock.c. */
static unsigned long long start_time_of(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	p = strrchr(buf, ')');
	assert_non_null(p);
	/* state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
	 * utime stime cutime cstime priority nice threads itrealvalue starttime */
	assert_int_equal(sscanf(p + 2,
	                        "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d "
	                        "%*d %*d %*d %*d %*d %llu",
	                        &v),
	                 1);
	return v;
}

static pid_t children[4];
static size_t n_children;

/* A live process that is not the lock's holder. It keeps no test output
 * open, and teardown kills it if an assertion left it behind. */
static pid_t sleeper(void)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		for (int fd = 0; fd < 64; fd++)
			close(fd);
		pause();
		_exit(0);
	}
	if (n_children < sizeof(children) / sizeof(children[0]))
		children[n_children++] = pid;
	return pid;
}

static void reap(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static void write_lock(const char *board, pid_t pid, unsigned long long start)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.lock", dir, board);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "%d %llu dead holder\n", (int)pid, start);
	fclose(f);
}

static char proc_state(pid_t pid)
{
	char path[64], buf[1024], *p;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return '?';
	p = fgets(buf, sizeof(buf), f);
	fclose(f);
	p = p ? strrchr(buf, ')') : NULL;
	return p ? p[2] : '?';
}

/* A holder that exited but was not reaped yet (a zombie: under a
 * container's init that can last) holds nothing. */
static void test_zombie_holder_does_not_keep_the_lock(void **state)
{
	pid_t child = fork();
	struct lock_holder h;

	assert_true(child >= 0);
	if (child == 0)
		_exit(0);
	for (int i = 0; i < 500 && proc_state(child) != 'Z'; i++)
		usleep(10000);
	assert_int_equal(proc_state(child), 'Z');
	write_lock("b3", child, start_time_of(child));
	assert_int_equal(lock_query("b3", &h), 0);
	waitpid(child, NULL, 0);
	assert_int_equal(lock_release("b3", true), 0);
}

static void test_lock_records_the_holders_start_time(void **state)
{
	pid_t child = sleeper();
	struct lock_holder h;
	bool taken = false;

	assert_int_equal(lock_take("b1", child, &taken), 0);
	assert_true(taken);
	assert_int_equal(lock_query("b1", &h), 1);
	assert_int_equal(h.pid, child);
	assert_true(h.start_time != 0);
	assert_int_equal(h.start_time, start_time_of(child));
	reap(child);
	assert_int_equal(lock_query("b1", &h), 0); /* the holder is gone: stale */
	assert_int_equal(lock_release("b1", true), 0);
}

static void test_reused_pid_does_not_keep_a_dead_holders_lock(void **state)
{
	pid_t child = sleeper(); /* alive, but not the process that took the lock */
	unsigned long long real = start_time_of(child);
	struct lock_holder h;
	bool taken = false;

	/* The dead holder's start time differs from the new owner of its pid;
	 * 0 is what hilctl wrote before it read the right field. */
	write_lock("b2", child, 0);
	assert_int_equal(lock_query("b2", &h), 0);
	write_lock("b2", child, real + 1);
	assert_int_equal(lock_query("b2", &h), 0);
	assert_int_equal(lock_take("b2", 0, &taken), 0);
	assert_true(taken);
	assert_int_equal(lock_query("b2", &h), 1);
	assert_int_equal(h.pid, getpid());
	/* The same pid with its own start time is a live holder. */
	write_lock("b2", child, real);
	assert_int_equal(lock_query("b2", &h), 1);
	assert_int_equal(lock_try("b2", &taken), -EBUSY);
	reap(child);
	assert_int_equal(lock_release("b2", true), 0);
}

static int setup(void **state)
{
	if (!mkdtemp(dir))
		return -1;
	setenv("HILCTL_LOCK_DIR", dir, 1);
	log_capture(logbuf, sizeof(logbuf));
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	for (size_t i = 0; i < n_children; i++)
		reap(children[i]);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_lock_records_the_holders_start_time),
	    cmocka_unit_test(test_reused_pid_does_not_keep_a_dead_holders_lock),
	    cmocka_unit_test(test_zombie_holder_does_not_keep_the_lock),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}

/* tests/unit/test_waitset.c — the wait-set over real pipes: the ready fd is
 * reported by its index, the earliest deadline wins, a closed slot (fd -1)
 * is never ready, a signal ends the wait with -EINTR, and the set is full at
 * WAITSET_MAX. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/clock.h"
#include "lib/waitset.h"

static void test_ready_fd_is_reported_by_its_index(void **state)
{
	int a[2], b[2];
	struct waitset ws;

	assert_int_equal(pipe(a), 0);
	assert_int_equal(pipe(b), 0);
	waitset_init(&ws);
	int ia = waitset_add(&ws, a[0], POLLIN);
	int ib = waitset_add(&ws, b[0], POLLIN);
	waitset_until(&ws, clock_now_ns() + 5 * NS_PER_S);
	assert_int_equal(write(b[1], "x", 1), 1);
	assert_int_equal(waitset_wait(&ws), 1);
	assert_false(waitset_ready(&ws, ia) & POLLIN);
	assert_true(waitset_ready(&ws, ib) & POLLIN);
	for (int i = 0; i < 2; i++) {
		close(a[i]);
		close(b[i]);
	}
}

static void test_earliest_deadline_wins(void **state)
{
	int p[2];
	struct waitset ws;
	int64_t t0 = clock_now_ns();

	assert_int_equal(pipe(p), 0);
	waitset_init(&ws);
	waitset_add(&ws, p[0], POLLIN);
	waitset_until(&ws, t0 + 10 * NS_PER_S);
	waitset_until(&ws, t0 + 50 * NS_PER_MS);
	waitset_until(&ws, t0 + 20 * NS_PER_S); /* later: ignored */
	assert_int_equal(waitset_wait(&ws), 0);
	int64_t waited = clock_now_ns() - t0;
	assert_true(waited >= 50 * NS_PER_MS);
	assert_true(waited < 5 * NS_PER_S);
	close(p[0]);
	close(p[1]);
}

static void test_past_deadline_only_looks(void **state)
{
	int p[2];
	struct waitset ws;

	assert_int_equal(pipe(p), 0);
	waitset_init(&ws);
	int i = waitset_add(&ws, p[0], POLLIN);
	waitset_until(&ws, -1);
	assert_int_equal(waitset_wait(&ws), 0);
	assert_int_equal(write(p[1], "x", 1), 1);
	assert_int_equal(waitset_wait(&ws), 1);
	assert_true(waitset_ready(&ws, i) & POLLIN);
	close(p[0]);
	close(p[1]);
}

static void test_closed_slot_is_never_ready_and_keeps_indices(void **state)
{
	int p[2];
	struct waitset ws;

	assert_int_equal(pipe(p), 0);
	waitset_init(&ws);
	int gone = waitset_add(&ws, -1, POLLIN);
	int live = waitset_add(&ws, p[0], POLLIN);
	assert_int_equal(gone, 0);
	assert_int_equal(live, 1);
	assert_int_equal(write(p[1], "x", 1), 1);
	waitset_until(&ws, clock_now_ns() + NS_PER_S);
	assert_int_equal(waitset_wait(&ws), 1);
	assert_int_equal(waitset_ready(&ws, gone), 0);
	assert_true(waitset_ready(&ws, live) & POLLIN);
	assert_int_equal(waitset_ready(&ws, 7), 0);
	close(p[0]);
	close(p[1]);
}

static void on_alarm(int sig)
{
	(void)sig;
}

static void test_signal_ends_the_wait_with_eintr(void **state)
{
	struct sigaction sa = {.sa_handler = on_alarm};
	struct itimerval it = {.it_value = {.tv_usec = 50000}};
	struct waitset ws;
	int p[2];

	assert_int_equal(pipe(p), 0);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	waitset_init(&ws);
	waitset_add(&ws, p[0], POLLIN); /* no deadline: only the signal ends it */
	setitimer(ITIMER_REAL, &it, NULL);
	assert_int_equal(waitset_wait(&ws), -EINTR);
	close(p[0]);
	close(p[1]);
}

static void test_set_is_full_at_max(void **state)
{
	struct waitset ws;

	waitset_init(&ws);
	for (int i = 0; i < WAITSET_MAX; i++)
		assert_int_equal(waitset_add(&ws, -1, POLLIN), i);
	assert_int_equal(waitset_add(&ws, -1, POLLIN), -ENOSPC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ready_fd_is_reported_by_its_index),
	    cmocka_unit_test(test_earliest_deadline_wins),
	    cmocka_unit_test(test_past_deadline_only_looks),
	    cmocka_unit_test(test_closed_slot_is_never_ready_and_keeps_indices),
	    cmocka_unit_test(test_signal_ends_the_wait_with_eintr),
	    cmocka_unit_test(test_set_is_full_at_max),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* tests/unit/test_workers.c — the worker pool with real processes: every
 * job's record reaches the parent, a worker that dies mid-job is reported
 * lost, one that hangs past its job's deadline is reported overdue and
 * killed, and the loop ends when no job is left. */
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
#include <unistd.h>

#include <cmocka.h>

#include "lib/clock.h"
#include "harness/campaign/workers.h"
#include "lib/stop.h"

struct jobs {
	const char *const *todo; /* job lines, NULL-terminated */
	size_t next, records, lost, overdue;
	int64_t limit_ns; /* each job's deadline from its hand-out; 0: none */
	char seen[16][32];
};

/* The child: "echo X" answers "rec X", "die" exits, "hang" never answers. */
static int child(void *arg, int in_fd, int out_fd, const struct board_cfg *board)
{
	FILE *in = fdopen(in_fd, "r");
	char line[64], rec[80];

	while (in && fgets(line, sizeof(line), in)) {
		line[strcspn(line, "\n")] = '\0';
		if (!strcmp(line, "die"))
			return 3;
		if (!strcmp(line, "hang"))
			for (;;)
				pause();
		snprintf(rec, sizeof(rec), "rec %s\n", line + 5);
		if (write(out_fd, rec, strlen(rec)) < 0)
			return 1;
	}
	return 0;
}

static int assign(void *arg, struct worker *w)
{
	struct jobs *j = arg;
	char line[64];

	if (!j->todo[j->next])
		return 0;
	snprintf(line, sizeof(line), "%s\n", j->todo[j->next]);
	if (workers_send(w, line) < 0)
		return -1;
	w->running = (long)j->next++;
	w->started = clock_now_ns();
	w->deadline = j->limit_ns ? w->started + j->limit_ns : 0;
	return 1;
}

static void on_record(void *arg, struct worker *w, const char *line)
{
	struct jobs *j = arg;

	if (j->records < 16)
		snprintf(j->seen[j->records], sizeof(j->seen[0]), "%s", line);
	j->records++;
	w->running = -1;
}

static void on_lost(void *arg, struct worker *w)
{
	((struct jobs *)arg)->lost++;
}

static void on_overdue(void *arg, struct worker *w)
{
	((struct jobs *)arg)->overdue++;
}

static void pool_init(struct worker_pool *p, struct jobs *j, int n)
{
	memset(p, 0, sizeof(*p));
	p->n = n;
	p->arg = j;
	p->child = child;
	p->assign = assign;
	p->on_record = on_record;
	p->on_lost = on_lost;
	p->on_overdue = on_overdue;
}

static void test_every_job_record_reaches_the_parent(void **state)
{
	static const char *const todo[] = {"echo a", "echo b", "echo c", "echo d", "echo e", NULL};
	struct jobs j = {.todo = todo};
	struct worker_pool *p = malloc(sizeof(*p));
	bool found[5] = {false};

	pool_init(p, &j, 2);
	assert_int_equal(workers_start(p), 0);
	assert_int_equal(workers_run(p), 0);
	workers_stop(p, 5 * NS_PER_S);
	assert_int_equal(j.records, 5);
	assert_int_equal(j.lost + j.overdue, 0);
	for (size_t i = 0; i < 5; i++) {
		assert_int_equal(strlen(j.seen[i]), 6); /* "rec X\n" */
		found[j.seen[i][4] - 'a'] = true;
	}
	for (size_t i = 0; i < 5; i++)
		assert_true(found[i]);
	for (int i = 0; i < p->n; i++)
		assert_int_equal(kill(p->w[i].pid, 0), -1); /* reaped */
	free(p);
}

static void test_a_worker_that_dies_mid_job_is_reported_lost(void **state)
{
	static const char *const todo[] = {"die", "echo x", NULL};
	struct jobs j = {.todo = todo};
	struct worker_pool *p = malloc(sizeof(*p));

	pool_init(p, &j, 1);
	assert_int_equal(workers_start(p), 0);
	assert_int_equal(workers_run(p), 0);
	workers_stop(p, 5 * NS_PER_S);
	assert_int_equal(j.lost, 1);
	assert_int_equal(j.records, 0); /* no worker left for the second job */
	assert_true(p->w[0].dead);
	free(p);
}

static void test_a_worker_past_its_deadline_is_killed(void **state)
{
	static const char *const todo[] = {"echo a", "hang", NULL};
	struct jobs j = {.todo = todo, .limit_ns = 300 * NS_PER_MS};
	struct worker_pool *p = malloc(sizeof(*p));
	int64_t t0 = clock_now_ns();
	pid_t pid;

	pool_init(p, &j, 1);
	assert_int_equal(workers_start(p), 0);
	pid = p->w[0].pid;
	assert_int_equal(workers_run(p), 0);
	assert_int_equal(j.records, 1);
	assert_int_equal(j.overdue, 1);
	assert_int_equal(j.lost, 0); /* overdue, not also lost */
	assert_true(p->w[0].dead);
	/* the loop ended at the deadline, not at the stop's */
	assert_true(clock_now_ns() - t0 < 3 * NS_PER_S);
	workers_stop(p, 5 * NS_PER_S);
	assert_int_equal(kill(pid, 0), -1);
	assert_int_equal(errno, ESRCH);
	free(p);
}

int main(void)
{
	alarm(60); /* a pool that never ends its loop fails the test instead of hanging it */
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_every_job_record_reaches_the_parent),
	    cmocka_unit_test(test_a_worker_that_dies_mid_job_is_reported_lost),
	    cmocka_unit_test(test_a_worker_past_its_deadline_is_killed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

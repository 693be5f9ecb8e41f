/* tests/unit/test_shard_board.c — which board a shard runs on: the GRES
 * index in scontrol's record of the task's own JobId, mapped over this
 * host's boards in lab order; outside Slurm the first free board by lock;
 * refusals when it cannot tell. Locks and the lab's host test are faked at
 * the link seam. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness/lab/lab.h"
#include "harness/lab/lock.h"
#include "lib/log.h"
#include "harness/campaign/shard_board.h"

static char logbuf[4096];
static const char *busy[8]; /* boards whose lock is held by another run */
static const char *host = "host2";

int __wrap_lock_try(const char *board, bool *taken);
int __wrap_lock_try(const char *board, bool *taken)
{
	for (size_t i = 0; busy[i]; i++)
		if (!strcmp(busy[i], board))
			return -EBUSY;
	*taken = true;
	return 0;
}

/* A held board's holder: pid 4242, or this process (an ancestor's lock). */
static const char *ours;
int __wrap_lock_query(const char *board, struct lock_holder *out);
int __wrap_lock_query(const char *board, struct lock_holder *out)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; busy[i]; i++)
		if (!strcmp(busy[i], board)) {
			out->pid = ours && !strcmp(ours, board) ? 1 : 4242;
			snprintf(out->cmd, sizeof(out->cmd), "hilctl lock %s", board);
			return 1;
		}
	return 0;
}

bool __wrap_lock_holder_is_us(const struct lock_holder *h);
bool __wrap_lock_holder_is_us(const struct lock_holder *h)
{
	return h->pid == 1;
}

int __wrap_board_on_host(const struct board_cfg *b, const char *h);
int __wrap_board_on_host(const struct board_cfg *b, const char *h)
{
	return !b->host || !strcmp(b->host, h);
}

const char *__wrap_lab_this_host(void);
const char *__wrap_lab_this_host(void)
{
	return host;
}

/* An array of 4 tasks: scontrol -d on the array's own JobId lists every
 * task, the task itself last (its JobId is the array's). */
static const char array_out[] =
    "JobId=12 ArrayJobId=9 ArrayTaskId=3 JobState=RUNNING JOB_GRES=board:1   Nodes=host2 "
    "CPU_IDs=0 Mem=0 GRES=board:1(IDX:0) MinCPUsNode=1\n"
    "JobId=9 ArrayJobId=9 ArrayTaskId=4 JobState=RUNNING JOB_GRES=board:1   Nodes=host2 "
    "CPU_IDs=1 Mem=0 GRES=board:1(IDX:1) MinCPUsNode=1\n"
    "JobId=91 ArrayJobId=9 ArrayTaskId=5 JobState=RUNNING JOB_GRES=board:1   Nodes=host3 "
    "CPU_IDs=1 Mem=0 GRES=board:1(IDX:2) MinCPUsNode=1\n";

static void test_gres_index_is_the_record_of_this_job_id(void **state)
{
	int idx = -1;

	assert_int_equal(slurm_gres_index(array_out, "9", "board", &idx), 0);
	assert_int_equal(idx, 1); /* not 12's IDX:0, not 91's (a longer id) */
	assert_int_equal(slurm_gres_index(array_out, "91", "board", &idx), 0);
	assert_int_equal(idx, 2);
	assert_int_equal(slurm_gres_index(array_out, "1", "board", &idx), -ESRCH);
}

static void test_gres_index_reads_typed_and_listed_gres(void **state)
{
	int idx = -1;

	assert_int_equal(slurm_gres_index("JobId=5 Nodes=h GRES=gpu:2(IDX:0-1),board:rpi4:1(IDX:3) "
	                                  "X=1",
	                                  "5", "board", &idx),
	                 0);
	assert_int_equal(idx, 3);
	assert_int_equal(
	    slurm_gres_index("JobId=5 GRES=boards:1(IDX:4),board:1(IDX:6)", "5", "board", &idx), 0);
	assert_int_equal(idx, 6); /* "boards" is another GRES */
}

static void test_gres_index_without_a_board_gres_is_enoent(void **state)
{
	int idx = -1;

	/* JOB_GRES says what was asked, not which one: no index there. */
	assert_int_equal(
	    slurm_gres_index("JobId=7 JOB_GRES=board:1 Nodes=h GRES=", "7", "board", &idx),
	    -ENOENT);
	assert_int_equal(slurm_gres_index("JobId=7 Nodes=h GRES=board:1", "7", "board", &idx),
	                 -ENOENT);
	assert_int_equal(slurm_gres_index("", "7", "board", &idx), -ESRCH);
	assert_int_equal(idx, -1);
}

/* Four boards: b0 on host1, b1 and b3 on host2, b2 on every host. */
static struct board_cfg boards[] = {
    {.name = "b0", .host = "host1"},
    {.name = "b1", .host = "host2"},
    {.name = "b2"},
    {.name = "b3", .host = "host2"},
};
static struct lab lab = {.path = (char *)"lab.yaml", .boards = boards, .n_boards = 4};

static bool fits_all(const struct board_cfg *b, void *ctx)
{
	return !ctx || strcmp(b->name, ctx);
}

static int setup(void **state)
{
	memset(busy, 0, sizeof(busy));
	unsetenv("SLURM_JOB_ID");
	unsetenv("HILCTL_GRES_IDX");
	log_capture(logbuf, sizeof(logbuf));
	return 0;
}

static void test_slurm_index_counts_over_this_hosts_boards_in_lab_order(void **state)
{
	const struct board_cfg *b = NULL;
	bool locked;

	setenv("SLURM_JOB_ID", "9", 1);
	setenv("HILCTL_GRES_IDX", "2", 1);
	assert_int_equal(shard_board_pick(&lab, fits_all, NULL, &b, &locked), 0);
	assert_string_equal(b->name, "b3"); /* host2's boards: b1, b2, b3 */
	assert_false(locked);               /* Slurm decided; the worker's board lock follows */
	busy[0] = "b3"; /* Slurm's choice stands even if a stale lock says otherwise */
	assert_int_equal(shard_board_pick(&lab, fits_all, NULL, &b, &locked), 0);
	assert_string_equal(b->name, "b3");
}

static void test_slurm_refuses_an_index_the_lab_does_not_have(void **state)
{
	const struct board_cfg *b = NULL;
	bool locked;

	setenv("SLURM_JOB_ID", "9", 1);
	setenv("HILCTL_GRES_IDX", "3", 1);
	assert_int_equal(shard_board_pick(&lab, fits_all, NULL, &b, &locked), -EINVAL);
	assert_null(b);
	assert_non_null(strstr(logbuf, "lists only 3 boards on that host"));
	setenv("HILCTL_GRES_IDX", "x1", 1);
	assert_int_equal(shard_board_pick(&lab, fits_all, NULL, &b, &locked), -EINVAL);
	setenv("HILCTL_GRES_IDX", "0", 1);
	assert_int_equal(shard_board_pick(&lab, fits_all, (void *)"b1", &b, &locked), -EINVAL);
	assert_non_null(strstr(logbuf, "does not fit the campaign"));
	setenv("SLURM_JOB_ID", "9; rm -rf /", 1);
	assert_int_equal(shard_board_pick(&lab, fits_all, NULL, &b, &locked), -EINVAL);
}

static void test_outside_slurm_the_first_free_board_of_this_host(void **state)
{
	const struct board_cfg *b = NULL;
	bool locked = false;

	busy[0] = "b1";
	assert_int_equal(shard_board_pick(&lab, fits_all, NULL, &b, &locked), 0);
	assert_string_equal(b->name, "b2");
	assert_true(locked);
	busy[1] = "b2";
	busy[2] = "b3";
	assert_int_equal(shard_board_pick(&lab, fits_all, NULL, &b, &locked), -EBUSY);
	assert_non_null(strstr(logbuf, "all 3 boards of host host2 that fit are locked"));
	host = "host9";
	busy[0] = busy[1] = busy[2] = NULL;
	assert_int_equal(shard_board_pick(&lab, fits_all, (void *)"b2", &b, &locked), -EINVAL);
	assert_non_null(strstr(logbuf, "no board on host host9 fits"));
	host = "host2";
}

static size_t pick(size_t want, const struct board_cfg **out, void *ctx, char *held, size_t size)
{
	struct board_busy b[BOARDS_BUSY_MAX];
	size_t n_busy = 99, n = boards_pick_free(&lab, fits_all, ctx, want, out, b, &n_busy);

	assert_true(n_busy <= BOARDS_BUSY_MAX);
	boards_busy_text(b, n_busy, held, size);
	return n;
}

static void test_jobs_skip_boards_another_user_holds_and_name_them(void **state)
{
	const struct board_cfg *out[4];
	struct board_busy b[BOARDS_BUSY_MAX];
	size_t n_busy;
	char held[256];

	busy[0] = "b1";
	busy[1] = "b3";
	assert_int_equal(pick(2, out, NULL, held, sizeof(held)), 2);
	assert_string_equal(out[0]->name, "b0");
	assert_string_equal(out[1]->name, "b2");
	assert_string_equal(held, "b1 (locked by pid 4242: hilctl lock b1)");
	assert_int_equal(pick(4, out, NULL, held, sizeof(held)), 2);
	assert_string_equal(held, "b1 (locked by pid 4242: hilctl lock b1), "
	                          "b3 (locked by pid 4242: hilctl lock b3)");
	/* The same, one entry per board, for the journal's header. */
	assert_int_equal(boards_pick_free(&lab, fits_all, NULL, 4, out, b, &n_busy), 2);
	assert_int_equal(n_busy, 2);
	assert_string_equal(b[1].board, "b3");
	assert_int_equal(b[1].pid, 4242);
	assert_string_equal(b[1].cmd, "hilctl lock b3");
	ours = "b3"; /* hilctl lock b3 from the calling shell: still ours to use */
	assert_int_equal(pick(4, out, NULL, held, sizeof(held)), 3);
	assert_string_equal(out[2]->name, "b3");
	ours = NULL;
	busy[2] = "b0";
	busy[3] = "b2";
	assert_int_equal(pick(2, out, NULL, held, sizeof(held)), 0);
	assert_non_null(strstr(held, "b0 (locked"));
	busy[0] = busy[1] = busy[2] = busy[3] = NULL;
	assert_int_equal(pick(2, out, (void *)"b0", held, sizeof(held)), 2);
	assert_string_equal(out[0]->name, "b1");
	assert_string_equal(held, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_jobs_skip_boards_another_user_holds_and_name_them, setup),
	    cmocka_unit_test(test_gres_index_is_the_record_of_this_job_id),
	    cmocka_unit_test(test_gres_index_reads_typed_and_listed_gres),
	    cmocka_unit_test(test_gres_index_without_a_board_gres_is_enoent),
	    cmocka_unit_test_setup(test_slurm_index_counts_over_this_hosts_boards_in_lab_order,
	                           setup),
	    cmocka_unit_test_setup(test_slurm_refuses_an_index_the_lab_does_not_have, setup),
	    cmocka_unit_test_setup(test_outside_slurm_the_first_free_board_of_this_host, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

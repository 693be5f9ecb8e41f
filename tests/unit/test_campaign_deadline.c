/* tests/unit/test_campaign_deadline.c — a run's longest duration, from the
 * scenario: every timeout it names counts, ${point} is expanded, a duration
 * only the board can tell counts as 10 minutes, and the oracle's ladder and
 * boot loops multiply boot_timeout. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness/campaign/campaign_int.h"
#include "lib/clock.h"
#include "lib/log.h"

static char logbuf[4096];

/* A scenario with the given extra step (YAML, indented as a step) and
 * oracle settings; its budget at point. */
static int64_t budget(const char *step, const char *oracle, const char *point)
{
	char path[] = "/tmp/hilctl-test-deadline-XXXXXX";
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");
	struct scenario *sc;
	int64_t ns;

	assert_non_null(f);
	fprintf(f,
	        "scenario: t\nallowed: [upgraded]\nsweep: {values: [1, 2]}\nsteps:\n"
	        "  - power: on\n%s\noracle: %s\n",
	        step, oracle);
	fclose(f);
	log_capture(logbuf, sizeof(logbuf));
	sc = scenario_load(path);
	unlink(path);
	if (!sc)
		fail_msg("scenario refused: %s", logbuf);
	ns = run_budget_ns(sc, point);
	scenario_free(sc);
	return ns;
}

#define ORACLE "{boot_timeout: 10s, settle: 10s, ladder: 1, loop_limit: 4}"

static void test_an_expect_timeout_counts_whole(void **state)
{
	int64_t short_ns = budget("  - expect: 'x'\n    timeout: 10s", ORACLE, "1");
	int64_t long_ns = budget("  - expect: 'x'\n    timeout: 100s", ORACLE, "1");

	assert_int_equal(long_ns - short_ns, 90 * NS_PER_S);
	assert_true(short_ns > 10 * NS_PER_S + 2 * 5 * 10 * NS_PER_S); /* the step and the boots */
}

static void test_a_wait_on_the_point_is_expanded(void **state)
{
	int64_t at_7 = budget("  - wait: ${point}s", ORACLE, "7");
	int64_t at_107 = budget("  - wait: ${point}s", ORACLE, "107");

	assert_int_equal(at_107 - at_7, 100 * NS_PER_S);
}

static void test_a_duration_from_the_board_counts_ten_minutes(void **state)
{
	int64_t known = budget("  - wait: 0s", ORACLE, "1");
	int64_t board = budget("  - wait: ${settle_time}", ORACLE, "1");

	assert_int_equal(board - known, 600 * NS_PER_S);
}

static void test_a_power_cut_counts_its_trigger_timeout_and_off_time(void **state)
{
	int64_t cut = budget("  - fault: {kind: power_cut, marker: 'w', timeout: 50s, "
	                     "off_time: 20s}",
	                     ORACLE, "1");
	int64_t shorter = budget("  - fault: {kind: power_cut, marker: 'w', timeout: 10s, "
	                         "off_time: 10s}",
	                         ORACLE, "1");

	assert_int_equal(cut - shorter, 50 * NS_PER_S);
}

static void test_every_boot_of_the_ladder_may_loop(void **state)
{
	int64_t one = budget("  - wait: 0s",
	                     "{boot_timeout: 10s, ladder: 0, loop_limit: 4, max_boots: 1}", "1");
	int64_t three = budget("  - wait: 0s",
	                       "{boot_timeout: 10s, ladder: 2, loop_limit: 4, max_boots: 1}", "1");
	int64_t more_loops = budget(
	    "  - wait: 0s", "{boot_timeout: 10s, ladder: 0, loop_limit: 9, max_boots: 1}", "1");

	/* each boot: (loop_limit + 1) boot timeouts and a power cycle */
	assert_true(three - one >= 2 * 5 * 10 * NS_PER_S);
	assert_int_equal(more_loops - one, 5 * 10 * NS_PER_S);
}

static void test_boots_that_reach_the_probe_are_budgeted_up_to_max_boots(void **state)
{
	int64_t few = budget("  - wait: 0s",
	                     "{boot_timeout: 10s, ladder: 0, loop_limit: 2, max_boots: 2}", "1");
	int64_t many = budget("  - wait: 0s",
	                      "{boot_timeout: 10s, ladder: 0, loop_limit: 2, max_boots: 12}", "1");

	assert_int_equal(many - few, 10 * 10 * NS_PER_S);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_an_expect_timeout_counts_whole),
	    cmocka_unit_test(test_a_wait_on_the_point_is_expanded),
	    cmocka_unit_test(test_a_duration_from_the_board_counts_ten_minutes),
	    cmocka_unit_test(test_a_power_cut_counts_its_trigger_timeout_and_off_time),
	    cmocka_unit_test(test_every_boot_of_the_ladder_may_loop),
	    cmocka_unit_test(test_boots_that_reach_the_probe_are_budgeted_up_to_max_boots),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

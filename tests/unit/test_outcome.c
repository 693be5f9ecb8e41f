/* tests/unit/test_outcome.c — what a judged run counts as: a fault that
 * never came makes an allowed state not_injected (not a pass) unless the
 * scenario says optional: true; the sentence for a board that never asked
 * the update server names where it listens and what the board was told. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness/run/outcome.h"
#include "harness/run/scenario.h"
#include "lib/log.h"

/* A run the oracle judged rolled_back (allowed) with one power cut. */
static struct run_result judged(bool injected, bool optional)
{
	struct run_result res = {.verdict = VERDICT_ROLLED_BACK, .pass = true, .n_faults = 1};

	snprintf(res.reason, sizeof(res.reason), "old version 1 runs from slot A, committed");
	res.faults[0] = (struct fault_result){
	    .kind = FAULT_POWER_CUT, .injected = injected, .optional = optional};
	snprintf(res.faults[0].trigger, sizeof(res.faults[0].trigger),
	         "marker 'hilctl-agent: write offset=1048576\\b' + 0.000 s");
	return res;
}

static void test_outcome_fault_not_injected_is_not_a_pass(void **state)
{
	struct run_result res = judged(false, false);

	outcome_judge_injection(&res);
	assert_false(res.pass);
	assert_true(res.not_injected);
	assert_int_equal(res.verdict, VERDICT_ROLLED_BACK); /* the board's state is kept */
	assert_non_null(strstr(res.reason, "fault 1 (power_cut) was not injected"));
	assert_non_null(strstr(res.reason, "write offset=1048576"));
	assert_non_null(strstr(res.reason, "the board ended rolled_back: old version 1"));
	(void)state;
}

static void test_outcome_injected_fault_keeps_the_pass(void **state)
{
	struct run_result res = judged(true, false);

	outcome_judge_injection(&res);
	assert_true(res.pass);
	assert_false(res.not_injected);
	assert_string_equal(res.reason, "old version 1 runs from slot A, committed");
	(void)state;
}

static void test_outcome_optional_fault_not_injected_still_passes(void **state)
{
	struct run_result res = judged(false, true);

	outcome_judge_injection(&res);
	assert_true(res.pass);
	assert_false(res.not_injected);
	(void)state;
}

static void test_outcome_second_fault_not_injected_counts_too(void **state)
{
	struct run_result res = judged(true, false);

	res.n_faults = 2;
	res.faults[1] = (struct fault_result){.kind = FAULT_NETWORK, .injected = false};
	outcome_judge_injection(&res);
	assert_false(res.pass);
	assert_true(res.not_injected);
	assert_non_null(strstr(res.reason, "fault 2 (network) was not injected: its trigger (-)"));
	(void)state;
}

static void test_outcome_board_failure_stays_a_failure(void **state)
{
	struct run_result res = judged(false, false);

	res.verdict = VERDICT_BRICKED;
	res.pass = false;
	outcome_judge_injection(&res);
	assert_false(res.pass);
	assert_false(res.not_injected); /* bricked without a fault is still bricked */
	(void)state;
}

static void test_outcome_infra_error_is_left_alone(void **state)
{
	struct run_result res = judged(false, false);

	res.verdict = VERDICT_INFRA_ERROR;
	res.pass = false;
	outcome_judge_injection(&res);
	assert_false(res.not_injected);
	assert_false(outcome_any_injected(&res));
	(void)state;
}

static void test_outcome_no_request_names_server_url_and_host(void **state)
{
	char why[512];

	outcome_no_request_reason(why, sizeof(why), "127.0.0.1", 40123, "http://10.9.9.9:40123/v2",
	                          "10.9.9.9");
	assert_string_equal(why, "the update server on 127.0.0.1:40123 saw no request for bundle "
	                         "/v2; the board was told http://10.9.9.9:40123/v2: is "
	                         "server_host (10.9.9.9) reachable from the board?");
	(void)state;
}

static void test_outcome_no_request_without_a_path_names_the_url(void **state)
{
	char why[512];

	outcome_no_request_reason(why, sizeof(why), "127.0.0.1", 8080, "10.0.2.2:8080", "10.0.2.2");
	assert_non_null(strstr(why, "saw no request for bundle 10.0.2.2:8080;"));
	(void)state;
}

static struct scenario *load_text(const char *text)
{
	char path[] = "/tmp/hilctl-test-outcome-XXXXXX";
	int fd = mkstemp(path);
	struct scenario *sc;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	sc = scenario_load(path);
	unlink(path);
	return sc;
}

#define SCENARIO_HEAD                                                                              \
	"scenario: t\nfits: [refdut]\nallowed: [upgraded, rolled_back]\n"                          \
	"versions: {old: \"1\", new: \"2\"}\nsteps:\n  - power: on\n"

static void test_scenario_reads_optional_on_a_fault(void **state)
{
	static char logbuf[4096];
	struct scenario *sc;

	log_capture(logbuf, sizeof(logbuf));
	sc = load_text(SCENARIO_HEAD "  - fault: {kind: power_cut, marker: x, optional: true}\n"
	                             "  - fault: {kind: power_cut, marker: y}\n");
	assert_non_null(sc);
	assert_true(sc->steps[1].fault.optional);
	assert_false(sc->steps[2].fault.optional);
	assert_string_equal(scenario_fault_kind_name(sc->steps[1].fault.kind), "power_cut");
	scenario_free(sc);
	sc = load_text(SCENARIO_HEAD "  - fault: {kind: power_cut, marker: x, optional: maybe}\n");
	assert_null(sc);
	assert_non_null(strstr(logbuf, "optional"));
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_outcome_fault_not_injected_is_not_a_pass),
	    cmocka_unit_test(test_outcome_injected_fault_keeps_the_pass),
	    cmocka_unit_test(test_outcome_optional_fault_not_injected_still_passes),
	    cmocka_unit_test(test_outcome_second_fault_not_injected_counts_too),
	    cmocka_unit_test(test_outcome_board_failure_stays_a_failure),
	    cmocka_unit_test(test_outcome_infra_error_is_left_alone),
	    cmocka_unit_test(test_outcome_no_request_names_server_url_and_host),
	    cmocka_unit_test(test_outcome_no_request_without_a_path_names_the_url),
	    cmocka_unit_test(test_scenario_reads_optional_on_a_fault),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* tests/unit/test_report_gate.c — the gate decision and its 95 % bound, and
 * merging shards: latest complete attempt, partial shards, missing shards,
 * every run key counted once. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/log.h"
#include "reports/gate.h"
#include "reports/merge.h"
#include "lib/text.h"

static char logbuf[8192];

/* A shard journal: campaign cid, shard index/count, attempt, runs "key:verdict"
 * separated by spaces, and whether it has a complete end record. A run
 * "key:verdict:ni" has a power cut that was not injected, "key:verdict:opt"
 * one that was not injected and is optional, "key:verdict:old" one not
 * injected as journals wrote it before "optional" and "outcome" existed
 * ("pass": true). */
static struct jfile *shard_end(const char *cid, int index, int count, int attempt, const char *runs,
                               const char *end)
{
	struct sbuf b = {0};
	char name[64], *list = strdup(runs), *save = NULL;
	struct jfile *j;

	sbuf_addf(&b,
	          "{\"campaign\":{\"format\":1,\"id\":\"%s\",\"started\":\"2026-11-25T01:00:00Z\","
	          "\"shard\":{\"index\":%d,\"count\":%d,\"attempt\":%d}}}\n",
	          cid, index, count, attempt);
	for (char *tok = strtok_r(list, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		char *colon = strchr(tok, ':'), *fault = strchr(colon + 1, ':');
		const char *faults = "";

		*colon = '\0';
		if (fault) {
			*fault++ = '\0';
			faults = !strcmp(fault, "opt")
			             ? ",\"faults\":[{\"kind\":\"power_cut\",\"injected\":false,"
			               "\"optional\":true}],\"outcome\":\"pass\",\"pass\":true"
			         : !strcmp(fault, "old")
			             ? ",\"fault\":{\"kind\":\"power_cut\",\"injected\":false},"
			               "\"pass\":true"
			             : ",\"faults\":[{\"kind\":\"power_cut\",\"injected\":false}],"
			               "\"outcome\":\"not_injected\",\"pass\":false";
		}
		sbuf_addf(&b,
		          "{\"run\":{\"key\":\"%s\",\"scenario\":\"s\",\"board\":\"b\",\"verdict\":"
		          "\"%s\",\"allowed\":[\"upgraded\",\"rolled_back\"],\"duration_s\":10,"
		          "\"started\":\"2026-11-25T01:00:10Z\"%s}}\n",
		          tok, colon + 1, faults);
	}
	if (end)
		sbuf_addf(&b, "%s\n", end);
	snprintf(name, sizeof(name), "h/journal-%s-s%d-a%d.jsonl", cid, index, attempt);
	log_capture(logbuf, sizeof(logbuf));
	j = jfile_parse(name, b.s, b.len);
	assert_non_null(j);
	sbuf_free(&b);
	free(list);
	return j;
}

static struct jfile *shard(const char *cid, int index, int count, int attempt, const char *runs,
                           bool complete)
{
	return shard_end(cid, index, count, attempt, runs,
	                 complete ? "{\"end\":{\"complete\":true,\"finished\":"
	                            "\"2026-11-25T01:10:00Z\"}}"
	                          : NULL);
}

static void decide(struct report_set *rs, struct gate *g)
{
	log_capture(logbuf, sizeof(logbuf));
	assert_int_equal(report_set_finish(rs), 0);
	gate_compute(g, rs);
}

static void done(struct report_set *rs, struct gate *g)
{
	gate_free(g);
	report_set_free(rs);
}

static void test_gate_upper_bound_is_one_minus_005_root_n(void **state)
{
	assert_true(isnan(gate_upper_bound_95(0)));
	assert_true(fabs(gate_upper_bound_95(1) - 0.95) < 1e-12);
	assert_true(fabs(gate_upper_bound_95(59) - 0.0495076) < 1e-6);
	assert_true(fabs(gate_upper_bound_95(300) * 300 - 2.98) < 0.01); /* about 3/N */
}

static void test_gate_passes_when_every_run_is_allowed(void **state)
{
	struct report_set rs = {0};
	struct gate g;

	report_set_add(&rs, shard("c", 0, 1, 1, "a:upgraded b:rolled_back c:upgraded", true));
	decide(&rs, &g);
	assert_int_equal(g.decision, GATE_PASS);
	assert_int_equal(g.exit_code, 0);
	assert_int_equal(g.runs, 3);
	assert_int_equal(g.counts[VERDICT_UPGRADED], 2);
	assert_true(fabs(g.upper_bound_95 - gate_upper_bound_95(3)) < 1e-12);
	assert_true(fabs(g.wall_s - 600) < 1e-6);
	assert_true(fabs(g.run_time_s - 30) < 1e-6);
	assert_int_equal(g.n_reasons, 0);
	done(&rs, &g);
}

static void test_gate_board_failure_beats_infra(void **state)
{
	struct report_set rs = {0};
	struct gate g;

	report_set_add(&rs, shard("c", 0, 2, 1, "a:bricked b:infra_error c:upgraded", false));
	decide(&rs, &g);
	assert_int_equal(g.decision, GATE_FAIL);
	assert_int_equal(g.exit_code, 1);
	assert_int_equal(g.failures, 1);
	assert_int_equal(g.infra_errors, 1);
	assert_int_equal(g.judged, 2);
	assert_true(isnan(g.upper_bound_95));
	assert_true(fabs(g.failure_rate - 0.5) < 1e-12);
	assert_int_equal(g.shards_missing, 1);
	assert_int_equal(g.shards_partial, 1);
	assert_int_equal(g.n_reasons, 4);
	assert_string_equal(g.reasons[0],
	                    "1 of 3 runs ended in a state their scenario does not allow");
	assert_int_equal(g.n_scenarios, 1);
	assert_int_equal(g.scenarios[0].failures, 1);
	done(&rs, &g);
}

static void test_gate_infra_error_alone_is_exit_3(void **state)
{
	struct report_set rs = {0};
	struct gate g;

	report_set_add(&rs, shard("c", 0, 1, 1, "a:upgraded b:infra_error", true));
	decide(&rs, &g);
	assert_int_equal(g.decision, GATE_INFRA);
	assert_int_equal(g.exit_code, 3);
	assert_true(fabs(g.upper_bound_95 - 0.95) < 1e-12); /* 0 failures in 1 judged run */
	done(&rs, &g);
}

static void test_gate_without_runs_fails(void **state)
{
	struct report_set rs = {0};
	struct gate g;

	report_set_add(&rs, shard("c", 0, 1, 1, "", true));
	decide(&rs, &g);
	assert_int_equal(g.decision, GATE_FAIL);
	assert_string_equal(g.reasons[0], "no runs recorded: nothing was tested");
	done(&rs, &g);
}

static void test_gate_not_injected_fails_and_is_not_in_the_bound(void **state)
{
	struct report_set rs = {0};
	struct gate g;

	report_set_add(&rs, shard("c", 0, 1, 1, "a:upgraded b:rolled_back:ni c:upgraded", true));
	decide(&rs, &g);
	assert_int_equal(g.decision, GATE_FAIL);
	assert_int_equal(g.exit_code, 1);
	assert_int_equal(g.runs, 3);
	assert_int_equal(g.passed, 2);
	assert_int_equal(g.failures, 0);
	assert_int_equal(g.not_injected, 1);
	assert_int_equal(g.judged, 2); /* 0 failures in 2 runs, not in 3 */
	assert_true(fabs(g.upper_bound_95 - gate_upper_bound_95(2)) < 1e-12);
	assert_int_equal(g.scenarios[0].not_injected, 1);
	assert_int_equal(g.n_reasons, 1);
	assert_non_null(strstr(g.reasons[0], "1 run not_injected: the fault's trigger never came"));
	assert_int_equal(rs.runs[1]->outcome, OUTCOME_NOT_INJECTED);
	assert_false(rs.runs[1]->pass);
	done(&rs, &g);
}

static void test_gate_board_failure_without_injection_is_a_failure(void **state)
{
	struct report_set rs = {0};
	struct gate g;

	report_set_add(&rs, shard("c", 0, 1, 1, "a:upgraded b:bricked:ni", true));
	decide(&rs, &g);
	assert_int_equal(g.decision, GATE_FAIL);
	assert_int_equal(g.failures, 1);
	assert_int_equal(g.not_injected, 0);
	assert_int_equal(g.judged, 2);
	done(&rs, &g);
}

static void test_gate_optional_fault_not_injected_passes_outside_the_bound(void **state)
{
	struct report_set rs = {0};
	struct gate g;

	report_set_add(&rs, shard("c", 0, 1, 1, "a:upgraded b:rolled_back:opt c:upgraded", true));
	decide(&rs, &g);
	assert_int_equal(g.decision, GATE_PASS);
	assert_int_equal(g.exit_code, 0);
	assert_int_equal(g.passed, 3);
	assert_int_equal(g.untested, 1);
	assert_int_equal(g.judged, 2);
	assert_true(fabs(g.upper_bound_95 - gate_upper_bound_95(2)) < 1e-12);
	assert_true(rs.runs[1]->pass);
	assert_true(rs.runs[1]->untested);
	done(&rs, &g);
}

static void test_gate_only_optional_runs_not_injected_tested_nothing(void **state)
{
	struct report_set rs = {0};
	struct gate g;

	report_set_add(&rs, shard("c", 0, 1, 1, "a:upgraded:opt", true));
	decide(&rs, &g);
	assert_int_equal(g.decision, GATE_FAIL);
	assert_int_equal(g.judged, 0);
	assert_true(isnan(g.upper_bound_95));
	assert_string_equal(g.reasons[0], "no run injected its fault: nothing was tested");
	done(&rs, &g);
}

static void test_gate_reads_an_old_journal_pass_without_injection_as_not_injected(void **state)
{
	struct report_set rs = {0};
	struct gate g;

	report_set_add(&rs, shard("c", 0, 1, 1, "a:upgraded b:rolled_back:old", true));
	assert_non_null(strstr(logbuf, "recorded as a pass, but its fault was not injected"));
	decide(&rs, &g);
	assert_int_equal(g.decision, GATE_FAIL);
	assert_int_equal(g.not_injected, 1);
	assert_int_equal(g.judged, 1);
	done(&rs, &g);
}

static void test_merge_keeps_latest_complete_attempt(void **state)
{
	struct report_set rs = {0};
	struct gate g;

	/* attempt 3 was cut short; attempt 2 finished; attempt 1 finished too */
	report_set_add(&rs, shard("c", 0, 1, 3, "a:bricked", false));
	report_set_add(&rs, shard("c", 0, 1, 1, "a:hung b:hung", true));
	report_set_add(&rs, shard("c", 0, 1, 2, "a:upgraded b:rolled_back", true));
	decide(&rs, &g);
	assert_int_equal(rs.n_shards, 1);
	assert_int_equal(rs.shards[0].status, SHARD_COMPLETE);
	assert_int_equal(rs.shards[0].attempts, 3);
	assert_int_equal(rs.shards[0].journal->campaign.shard_attempt, 2);
	assert_int_equal(rs.n_runs, 2);
	assert_int_equal(g.decision, GATE_PASS);
	done(&rs, &g);
}

static void test_merge_partial_shard_counts_newest_run_of_each_key(void **state)
{
	struct report_set rs = {0};
	struct gate g;

	report_set_add(&rs, shard("c", 0, 1, 1, "a:bricked b:upgraded", false));
	report_set_add(&rs, shard("c", 0, 1, 2, "a:upgraded", false));
	decide(&rs, &g);
	assert_int_equal(rs.shards[0].status, SHARD_PARTIAL);
	assert_int_equal(rs.n_runs, 2);
	assert_int_equal(rs.shards[0].runs, 2);
	assert_int_equal(g.failures, 0); /* attempt 2's "a" replaced attempt 1's */
	assert_int_equal(g.decision, GATE_INFRA);
	assert_non_null(strstr(g.reasons[0], "campaign c: partial (attempt 2 has no end record; "
	                                     "2 runs)"));
	done(&rs, &g);
}

static void test_merge_names_missing_shards_and_counts_keys_once(void **state)
{
	struct report_set rs = {0};
	struct gate g;

	report_set_add(&rs, shard("c", 0, 3, 1, "a:upgraded b:upgraded", true));
	report_set_add(&rs, shard("c", 2, 3, 1, "b:upgraded c:upgraded", true));
	report_set_add(&rs, shard("other", 0, 1, 1, "a:upgraded", true));
	decide(&rs, &g);
	assert_int_equal(rs.n_campaigns, 2);
	assert_int_equal(rs.n_shards, 4);
	assert_int_equal(rs.shards[1].status, SHARD_MISSING);
	assert_int_equal(rs.n_runs, 4); /* a, b, c of "c" and a of "other" */
	assert_non_null(strstr(logbuf, "run \"b\" is also in shard"));
	assert_int_equal(g.shards_missing, 1);
	assert_string_equal(g.reasons[0], "shard 1/3 of campaign c: missing (no journal)");
	assert_int_equal(g.exit_code, 3);
	done(&rs, &g);
}

/* A shard stopped by SIGTERM (scancel, preemption) wrote an end record, but
 * not a complete one: it ran every run it got to, not the shard. */
static void test_merge_end_without_complete_is_a_partial_shard(void **state)
{
	struct report_set rs = {0};
	struct gate g;

	report_set_add(&rs,
	               shard_end("c", 0, 1, 1, "a:upgraded b:upgraded",
	                         "{\"end\":{\"complete\":false,\"interrupted\":\"SIGTERM\"}}"));
	decide(&rs, &g);
	assert_int_equal(rs.shards[0].status, SHARD_PARTIAL);
	assert_int_equal(g.shards_partial, 1);
	assert_int_equal(g.decision, GATE_INFRA);
	assert_int_equal(g.exit_code, 3);
	done(&rs, &g);
}

/* A requeued shard whose new attempt died (its host went down too) does not
 * undo the older attempt that finished: the complete one counts, alone. */
static void test_merge_complete_attempt_beats_a_newer_partial_one(void **state)
{
	struct report_set rs = {0};
	struct gate g;

	report_set_add(&rs, shard("c", 0, 2, 1, "a:upgraded b:upgraded", true));
	report_set_add(&rs, shard("c", 0, 2, 2, "a:bricked", false));
	report_set_add(&rs, shard("c", 1, 2, 1, "c:upgraded", true));
	decide(&rs, &g);
	assert_int_equal(rs.shards[0].status, SHARD_COMPLETE);
	assert_int_equal(rs.shards[0].journal->campaign.shard_attempt, 1);
	assert_int_equal(rs.shards[0].attempts, 2);
	assert_int_equal(rs.n_runs, 3);
	assert_int_equal(g.failures, 0); /* attempt 2's bricked is not counted */
	assert_int_equal(g.decision, GATE_PASS);
	done(&rs, &g);
}

/* A host cut off from the controller kept running its copy while the
 * requeued one ran elsewhere: two complete attempts of one shard. The newer
 * counts and every run counts once, not twice. */
static void test_merge_two_complete_attempts_count_each_run_once(void **state)
{
	struct report_set rs = {0};
	struct gate g;

	report_set_add(&rs, shard("c", 0, 1, 2, "a:upgraded b:rolled_back", true));
	report_set_add(&rs, shard("c", 0, 1, 1, "a:upgraded b:upgraded", true));
	decide(&rs, &g);
	assert_int_equal(rs.n_runs, 2);
	assert_int_equal(rs.shards[0].journal->campaign.shard_attempt, 2);
	assert_int_equal(rs.shards[0].runs, 2);
	assert_int_equal(g.runs, 2);
	assert_int_equal(g.decision, GATE_PASS);
	done(&rs, &g);
}

static void test_merge_refuses_two_shard_counts(void **state)
{
	struct report_set rs = {0};

	report_set_add(&rs, shard("c", 0, 2, 1, "a:upgraded", true));
	report_set_add(&rs, shard("c", 1, 3, 1, "b:upgraded", true));
	log_capture(logbuf, sizeof(logbuf));
	assert_int_equal(report_set_finish(&rs), -EINVAL);
	assert_non_null(strstr(logbuf, "campaign \"c\" is split in 3 shards here but in 2"));
	report_set_free(&rs);
}

static void test_merge_orders_runs_by_suite_then_point(void **state)
{
	static const char text[] =
	    "{\"campaign\":{\"format\":1,\"id\":\"c\",\"scenarios\":[\"zeta\",\"alpha\"]}}\n"
	    "{\"run\":{\"key\":\"1\",\"scenario\":\"alpha\",\"board\":\"b\",\"point\":\"250ms\","
	    "\"verdict\":\"upgraded\",\"pass\":true}}\n"
	    "{\"run\":{\"key\":\"2\",\"scenario\":\"zeta\",\"board\":\"b\",\"point\":\"1500ms\","
	    "\"verdict\":\"upgraded\",\"pass\":true}}\n"
	    "{\"run\":{\"key\":\"3\",\"scenario\":\"zeta\",\"board\":\"b\",\"point\":\"250ms\","
	    "\"verdict\":\"upgraded\",\"pass\":true}}\n";
	struct report_set rs = {0};

	log_capture(logbuf, sizeof(logbuf));
	report_set_add(&rs, jfile_parse("j.jsonl", text, sizeof(text) - 1));
	assert_int_equal(report_set_finish(&rs), 0);
	assert_string_equal(rs.runs[0]->key, "3");
	assert_string_equal(rs.runs[1]->key, "2");
	assert_string_equal(rs.runs[2]->key, "1");
	report_set_free(&rs);
}

static void test_merge_load_refuses_a_directory_without_journals(void **state)
{
	struct report_set rs = {0};
	char *paths[] = {(char *)"/"};

	log_capture(logbuf, sizeof(logbuf));
	assert_int_equal(report_set_load(&rs, paths, 1), -EINVAL);
	assert_non_null(strstr(logbuf, "/: no journal.jsonl"));
	report_set_free(&rs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_gate_upper_bound_is_one_minus_005_root_n),
	    cmocka_unit_test(test_gate_passes_when_every_run_is_allowed),
	    cmocka_unit_test(test_gate_board_failure_beats_infra),
	    cmocka_unit_test(test_gate_infra_error_alone_is_exit_3),
	    cmocka_unit_test(test_gate_without_runs_fails),
	    cmocka_unit_test(test_gate_not_injected_fails_and_is_not_in_the_bound),
	    cmocka_unit_test(test_gate_board_failure_without_injection_is_a_failure),
	    cmocka_unit_test(test_gate_optional_fault_not_injected_passes_outside_the_bound),
	    cmocka_unit_test(test_gate_only_optional_runs_not_injected_tested_nothing),
	    cmocka_unit_test(test_gate_reads_an_old_journal_pass_without_injection_as_not_injected),
	    cmocka_unit_test(test_merge_keeps_latest_complete_attempt),
	    cmocka_unit_test(test_merge_partial_shard_counts_newest_run_of_each_key),
	    cmocka_unit_test(test_merge_names_missing_shards_and_counts_keys_once),
	    cmocka_unit_test(test_merge_end_without_complete_is_a_partial_shard),
	    cmocka_unit_test(test_merge_complete_attempt_beats_a_newer_partial_one),
	    cmocka_unit_test(test_merge_two_complete_attempts_count_each_run_once),
	    cmocka_unit_test(test_merge_refuses_two_shard_counts),
	    cmocka_unit_test(test_merge_orders_runs_by_suite_then_point),
	    cmocka_unit_test(test_merge_load_refuses_a_directory_without_journals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* tests/unit/test_report_not_injected.c — a run whose fault never came, as
 * every report shows it: not a pass (a JUnit <error>, TAP "not ok", its
 * outcome in summary.json and the HTML), counted apart from the runs of the
 * 95 % bound; a pass whose optional fault never came is skipped, not
 * counted either. */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/log.h"
#include "reports/report.h"

#define RUN(key, verdict, faults)                                                                  \
	"{\"run\":{\"key\":\"" key "\",\"scenario\":\"cut-write\",\"board\":\"qemu-01\","          \
	"\"point\":\"" key "\",\"verdict\":\"" verdict "\",\"allowed\":[\"upgraded\","             \
	"\"rolled_back\"],\"reason\":\"fault 1 (power_cut) was not injected: its trigger never "   \
	"came\",\"duration_s\":2" faults "}}\n"
#define CUT(injected, extra)                                                                       \
	",\"faults\":[{\"kind\":\"power_cut\",\"trigger\":\"marker 'write offset=9'\","            \
	"\"injected\":" injected extra "}]"

static const char journal[] =
    "{\"campaign\":{\"format\":1,\"id\":\"c1\",\"seed\":1,\"scenarios\":[\"cut-write\"]}}\n" RUN(
        "1", "upgraded", CUT("true", "")) RUN("2", "rolled_back", CUT("false", ""))
        RUN("3", "rolled_back",
            CUT("false", ",\"optional\":true")) "{\"end\":{\"complete\":true}}\n";

struct fixture {
	struct report_set set;
	struct gate gate;
	struct report report;
	char log[4096];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	log_capture(f->log, sizeof(f->log));
	report_set_add(&f->set, jfile_parse("j.jsonl", journal, strlen(journal)));
	assert_non_null(f->set.journals[0]);
	assert_int_equal(report_set_finish(&f->set), 0);
	gate_compute(&f->gate, &f->set);
	f->report = (struct report){&f->set, &f->gate, {40, 100, "2026-11-25T00:00:00Z"}};
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	gate_free(&f->gate);
	report_set_free(&f->set);
	log_capture(NULL, 0);
	free(f);
	return 0;
}

static char *render(int (*writer)(FILE *, const struct report *), const struct fixture *f)
{
	char *out = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&out, &len);

	assert_int_equal(writer(m, &f->report), 0);
	fclose(m);
	return out;
}

static void test_not_injected_fails_the_gate_outside_the_bound(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(f->gate.decision, GATE_FAIL);
	assert_int_equal(f->gate.exit_code, 1);
	assert_int_equal(f->gate.not_injected, 1);
	assert_int_equal(f->gate.untested, 1);
	assert_int_equal(f->gate.judged, 1);
	assert_int_equal(f->gate.failures, 0);
}

static void test_junit_not_injected_is_an_error_optional_skipped(void **state)
{
	char *x = render(report_junit, *state);

	assert_non_null(strstr(x, "<testsuites name=\"hilctl c1\" tests=\"3\" failures=\"0\" "
	                          "errors=\"1\""));
	assert_non_null(strstr(x, "errors=\"1\" skipped=\"1\""));
	assert_non_null(
	    strstr(x, "<error type=\"not_injected\" message=\"not_injected on qemu-01: fault 1 "
	              "(power_cut) was not injected"));
	assert_non_null(strstr(x, "outcome: not_injected: a fault&#39;s trigger never came"));
	assert_non_null(strstr(x, "<skipped message=\"optional fault not injected"));
	assert_null(strstr(x, "<failure"));
	free(x);
}

static void test_tap_not_injected_is_not_ok(void **state)
{
	char *t = render(report_tap, *state);

	assert_non_null(strstr(t, "\nok 1 - cut-write qemu-01 @ 1: upgraded\n"));
	assert_non_null(
	    strstr(t, "\nnot ok 2 - cut-write qemu-01 @ 2: not_injected (board: rolled_back)\n"));
	assert_non_null(strstr(t, "  outcome: not_injected\n"));
	assert_non_null(strstr(t, "\nok 3 - cut-write qemu-01 @ 3: rolled_back # SKIP optional "
	                          "fault not injected\n"));
	assert_non_null(strstr(t, "# not_injected: 1 (fail the gate), 1 optional\n"));
	free(t);
}

static void test_summary_json_counts_not_injected_apart(void **state)
{
	char *s = render(report_summary_json, *state);
	json_t *doc = json_loads(s, 0, NULL), *gate = json_object_get(doc, "gate"), *runs;

	assert_non_null(doc);
	assert_string_equal(json_string_value(json_object_get(gate, "decision")), "fail");
	assert_int_equal(json_integer_value(json_object_get(gate, "not_injected")), 1);
	assert_int_equal(json_integer_value(json_object_get(gate, "untested")), 1);
	assert_int_equal(json_integer_value(json_object_get(gate, "judged")), 1);
	assert_int_equal(
	    json_integer_value(json_object_get(
	        json_object_get(json_object_get(doc, "scenarios"), "cut-write"), "not_injected")),
	    1);
	runs = json_object_get(doc, "runs");
	assert_string_equal(json_string_value(json_object_get(json_array_get(runs, 1), "outcome")),
	                    "not_injected");
	assert_true(json_is_false(json_object_get(json_array_get(runs, 1), "pass")));
	assert_string_equal(json_string_value(json_object_get(json_array_get(runs, 2), "outcome")),
	                    "pass");
	assert_true(json_is_false(json_object_get(json_array_get(runs, 2), "injected")));
	json_decref(doc);
	free(s);
}

static void test_html_without_an_injected_run_has_no_bound(void **state)
{
	static const char only[] = "{\"campaign\":{\"format\":1,\"id\":\"c2\"}}\n" RUN(
	    "2", "rolled_back", CUT("false", "")) "{\"end\":{\"complete\":true}}\n";
	struct fixture *f = *state;
	char *h;

	gate_free(&f->gate);
	report_set_free(&f->set);
	f->set = (struct report_set){0};
	report_set_add(&f->set, jfile_parse("j2.jsonl", only, strlen(only)));
	assert_int_equal(report_set_finish(&f->set), 0);
	gate_compute(&f->gate, &f->set);
	assert_int_equal(f->gate.exit_code, 1);
	h = render(report_html, f);
	assert_non_null(strstr(h, "no run injected its fault: no bound"));
	assert_null(strstr(h, "are not counted")); /* nothing was counted */
	free(h);
}

static void test_html_names_not_injected(void **state)
{
	char *h = render(report_html, *state);

	assert_non_null(strstr(h, "1 of 3 runs tested nothing: their fault was never injected"));
	assert_non_null(strstr(h, "<b>not_injected: tested nothing</b>"));
	assert_non_null(strstr(h, "<b>optional fault not injected</b>"));
	assert_non_null(strstr(h, "0 failures in 1 judged runs</span><span>2 runs whose fault was "
	                          "never injected are not counted"));
	assert_null(strstr(h, "observed failure rate")); /* one number: the bound */
	assert_non_null(strstr(h, "not_injected</span>"));
	free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_not_injected_fails_the_gate_outside_the_bound,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_junit_not_injected_is_an_error_optional_skipped,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tap_not_injected_is_not_ok, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_summary_json_counts_not_injected_apart, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_html_names_not_injected, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_html_without_an_injected_run_has_no_bound, setup,
	                                    teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

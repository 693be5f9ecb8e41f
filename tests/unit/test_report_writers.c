/* tests/unit/test_report_writers.c — each writer (JUnit, TAP, JSON, HTML) fed
 * a journal and a timeline full of hostile console text: the output is valid
 * UTF-8 without control characters, nothing the board sent becomes markup,
 * and a stream that fails is reported. */
#include <errno.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/log.h"
#include "reports/report.h"

/* Board bytes as the journal carries them: one code point per byte. */
#define HOSTILE_JSON                                                                               \
	"\\u0000\\u001b[31m]]><img src=x onerror=alert(1)></script>\\u00ff\\u00fe&\\\"'#\\n..."
#define HOSTILE_TIMELINE                                                                           \
	"{\"hilctl_timeline\":1}\n"                                                                \
	"{\"t\":0.5,\"k\":\"power\",\"d\":\"on\"}\n"                                               \
	"{\"t\":1.0,\"k\":\"con\",\"d\":\"" HOSTILE_JSON "\"}\n"                                   \
	"{\"t\":1.1,\"k\":\"marker\",\"d\":\"<svg onload=alert(1)>\"}\n"                           \
	"{\"t\":1.2,\"k\":\"con\",\"d\":\"gr\\u00c3\\u00b6\\u00c3\\u009fe\"}\n"                    \
	"not json at all\n"

struct fixture {
	char dir[64];
	struct report_set set;
	struct gate gate;
	struct report report;
	char log[8192];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char path[128], *journal = NULL;
	FILE *tl;

	strcpy(f->dir, "/tmp/test_report_writers.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(path, sizeof(path), "%s/t.jsonl", f->dir);
	tl = fopen(path, "w");
	fputs(HOSTILE_TIMELINE, tl);
	fclose(tl);
	snprintf(path, sizeof(path), "%s/journal.jsonl", f->dir);
	if (asprintf(&journal,
	             "{\"campaign\":{\"format\":1,\"id\":\"c<1>\",\"host\":\"h&\",\"seed\":1,"
	             "\"scenarios\":[\"s<b>\",\"other\"],\"boards\":[\"qemu-01\"],"
	             "\"boards_asked\":2,\"boards_unavailable\":[{\"board\":\"qemu-02\","
	             "\"pid\":4242,\"holder\":\"hilctl <b>lock</b> \\u001b]52;c;eA==\\u0007\"}],"
	             "\"descriptions\":{\"s<b>\":\"Cut <i>during</i> the write\"}}}\n"
	             "{\"run\":{\"key\":\"k1\",\"scenario\":\"s<b>\",\"board\":\"qemu-01\","
	             "\"point\":\"1ms\",\"verdict\":\"upgraded\",\"allowed\":[\"upgraded\"],"
	             "\"timeline\":\"t.jsonl\",\"duration_s\":2,\"restore\":{\"policy\":\"auto\","
	             "\"action\":\"reflash\",\"why\":\"the last <b>run</b>\",\"ok\":true,"
	             "\"seconds\":0.32,\"bytes_written\":63090688,\"bytes_verified\":63090688}}}\n"
	             "{\"run\":{\"key\":\"k2\",\"scenario\":\"s<b>\",\"board\":\"qemu-01\","
	             "\"point\":\"2ms\",\"verdict\":\"bricked\",\"allowed\":[\"upgraded\"],"
	             "\"reason\":\"%s\",\"evidence\":[{\"t\":1.0,\"k\":\"con\",\"d\":\"%s\"}],"
	             "\"fault\":{\"kind\":\"power_cut\",\"injected\":true,\"at_s\":1.05,"
	             "\"latency_us\":300},\"timeline\":\"t.jsonl\",\"duration_s\":3,"
	             "\"reproduce\":\"hilctl reproduce d 2\",\"rerun\":\"hilctl run "
	             "x\",\"restore\":\"junk\"}}\n"
	             "{\"run\":{\"key\":\"k3\",\"scenario\":\"other\",\"board\":\"qemu-01\","
	             "\"verdict\":\"infra_error\",\"allowed\":[\"upgraded\"],\"reason\":\"%s\","
	             "\"restore\":{\"action\":\"reflash\",\"ok\":false,"
	             "\"error\":\"board x: restore failed\"}}}\n"
	             "{\"end\":{\"complete\":true}}\n",
	             HOSTILE_JSON, HOSTILE_JSON, HOSTILE_JSON) < 0)
		return -1;
	log_capture(f->log, sizeof(f->log));
	report_set_add(&f->set, jfile_parse(path, journal, strlen(journal)));
	free(journal);
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
	char cmd[128];

	gate_free(&f->gate);
	report_set_free(&f->set);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
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
	assert_int_equal(strlen(out), len); /* no NUL inside */
	return out;
}

/* Valid UTF-8, no control character but \n and \t: cleaning changes nothing. */
static void assert_clean_utf8(const char *s)
{
	struct sbuf b = {0};

	text_clean(&b, s, strlen(s), TEXT_KEEP_NL | TEXT_KEEP_TAB);
	assert_int_equal(b.len, strlen(s));
	assert_memory_equal(b.s, s, b.len);
	sbuf_free(&b);
}

/* Every "onerror=" / "onload=" is inside escaped text, never an attribute. */
static void assert_only_escaped(const char *s, const char *needle, const char *escaped_prefix)
{
	size_t plen = strlen(escaped_prefix);

	for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle)) {
		assert_true(p - s >= (ptrdiff_t)plen);
		assert_memory_equal(p - plen, escaped_prefix, plen);
	}
}

static void test_junit_escapes_console_text_and_counts(void **state)
{
	char *x = render(report_junit, *state);

	assert_clean_utf8(x);
	assert_null(strstr(x, "<img"));
	assert_null(strstr(x, "<script"));
	assert_null(strstr(x, "]]>"));
	assert_null(strstr(x, "CDATA"));
	assert_non_null(strstr(x, "&lt;img src=x onerror=alert(1)&gt;&lt;/script&gt;"));
	assert_only_escaped(x, "onerror=", "&lt;img src=x ");
	assert_non_null(strstr(x, "<testsuites name=\"hilctl c&lt;1&gt;\" tests=\"3\" "
	                          "failures=\"1\" errors=\"1\""));
	assert_non_null(strstr(x, "<testcase classname=\"s&lt;b&gt;\" name=\"point=2ms\""));
	assert_non_null(strstr(x, "<failure type=\"bricked\" message=\"bricked on qemu-01: "));
	assert_non_null(strstr(x, "<error type=\"infra_error\""));
	assert_non_null(strstr(x, "&#10;...\">")); /* the reason's newline, in the attribute */
	assert_non_null(strstr(x, "console (last 2 of 2 lines, t.jsonl)"));
	assert_non_null(strstr(x, "gr\xc3\xb6\xc3\x9f"
	                          "e")); /* the board's UTF-8 */
	assert_non_null(strstr(x, "reproduce: hilctl reproduce d 2"));
	assert_non_null(strstr(x, "rerun: hilctl run x")); /* named apart from the replay */
	free(x);
}

/* A CI server keeps a test's history by classname + name: the board must not
 * be in it, and every name in a file must be unique (repeats, merges). */
static void test_junit_identity_is_scenario_and_point_not_board(void **state)
{
	static const char journal[] =
	    "{\"campaign\":{\"format\":1,\"id\":\"c\"}}\n"
	    "{\"run\":{\"key\":\"s/point=1ms\",\"scenario\":\"s\",\"board\":\"rpi-07\","
	    "\"point\":\"1ms\",\"verdict\":\"upgraded\",\"allowed\":[\"upgraded\"]}}\n"
	    "{\"run\":{\"key\":\"s/point=1ms#2\",\"scenario\":\"s\",\"board\":\"bbb-02\","
	    "\"point\":\"1ms\",\"verdict\":\"bricked\",\"allowed\":[\"upgraded\"]}}\n"
	    "{\"run\":{\"key\":\"s/point=1ms#3\",\"scenario\":\"s\",\"board\":\"rpi-07\","
	    "\"point\":\"1ms\",\"verdict\":\"upgraded\",\"allowed\":[\"upgraded\"]}}\n"
	    "{\"run\":{\"key\":\"other-writer\",\"scenario\":\"s\",\"board\":\"x\","
	    "\"point\":\"1ms\",\"verdict\":\"upgraded\",\"allowed\":[\"upgraded\"]}}\n"
	    "{\"run\":{\"key\":\"s/point=1ms#0\",\"scenario\":\"s\",\"board\":\"y\","
	    "\"point\":\"1ms\",\"verdict\":\"upgraded\",\"allowed\":[\"upgraded\"]}}\n"
	    "{\"end\":{\"complete\":true}}\n";
	struct fixture *f = *state;
	struct report_set set = {0};
	struct gate gate;
	struct report saved = f->report;
	char *x;

	report_set_add(&set, jfile_parse("j.jsonl", journal, strlen(journal)));
	assert_int_equal(report_set_finish(&set), 0);
	gate_compute(&gate, &set);
	f->report = (struct report){&set, &gate, {40, 100, "2026-11-25T00:00:00Z"}};
	x = render(report_junit, f);
	f->report = saved;
	assert_null(strstr(x, "name=\"rpi-07"));
	assert_null(strstr(x, " @ "));
	assert_non_null(strstr(x, "<testcase classname=\"s\" name=\"point=1ms\""));
	assert_non_null(strstr(x, "<testcase classname=\"s\" name=\"point=1ms #2\""));
	assert_non_null(strstr(x, "<testcase classname=\"s\" name=\"point=1ms #3\""));
	/* same point, no repeat in the key: made unique in report order */
	assert_non_null(strstr(x, "<testcase classname=\"s\" name=\"point=1ms (2)\""));
	assert_non_null(strstr(x, "<testcase classname=\"s\" name=\"point=1ms (3)\""));
	assert_non_null(strstr(x, "<property name=\"board\" value=\"bbb-02\"/>\n"
	                          "        <property name=\"point\" value=\"1ms\"/>\n"
	                          "        <property name=\"repeat\" value=\"2\"/>"));
	assert_non_null(strstr(x, "message=\"bricked on bbb-02: \">board: bbb-02, point: 1ms, "
	                          "repeat 2\n"));
	assert_non_null(strstr(x, "<system-out>board: bbb-02\npoint: 1ms\nrepeat: 2\n"));
	free(x);
	gate_free(&gate);
	report_set_free(&set);
}

static void test_tap_keeps_one_point_per_run_and_quotes_yaml(void **state)
{
	char *t = render(report_tap, *state);

	assert_clean_utf8(t);
	assert_memory_equal(t, "TAP version 13\n1..3\n", 20);
	assert_non_null(strstr(t, "\nok 1 - s<b> qemu-01 @ 1ms: upgraded\n"));
	assert_non_null(strstr(t, "\nnot ok 2 - s<b> qemu-01 @ 2ms: bricked\n  ---\n"));
	assert_non_null(strstr(t, "\nnot ok 3 - other qemu-01 @ k3: infra_error\n"));
	assert_non_null(strstr(t, "  severity: error\n"));
	/* one double-quoted line: '"' and '\' escaped, the newline a picture */
	assert_non_null(strstr(t, "  message: \"\xe2\x90\x80\xe2\x90\x9b[31m]]><img src=x "
	                          "onerror=alert(1)></script>\xef\xbf\xbd\xef\xbf\xbd&\\\"'#"
	                          "\xe2\x90\x8a...\"\n"));
	assert_non_null(strstr(t, "# gate: fail; 3 runs, 1 passed, 1 failed, 1 infra_error\n"));
	free(t);
}

static void test_tap_escapes_hash_in_descriptions(void **state)
{
	struct fixture *f = *state;
	char *t;

	/* A scenario name with '#' must not turn into a TODO directive. */
	((struct jrun *)f->set.runs[0])->scenario = "a # TODO b";
	t = render(report_tap, f);
	assert_non_null(strstr(t, "ok 1 - a \\# TODO b qemu-01 @ 1ms: upgraded\n"));
	free(t);
}

/* prove's YAMLish reader takes a list item whose first word ends in ": " for
 * a hash with a quoted key and gives up on the rest of the file. */
static void test_tap_console_items_never_look_like_keys(void **state)
{
	struct fixture *f = *state;
	char path[128];
	char *t;
	FILE *tl;

	snprintf(path, sizeof(path), "%s/t2.jsonl", f->dir);
	tl = fopen(path, "w");
	fputs("{\"hilctl_timeline\":1}\n"
	      "{\"t\":1,\"k\":\"con\",\"d\":\"DRAM:  256 MiB\"}\n"
	      "{\"t\":2,\"k\":\"con\",\"d\":\"  : x\"}\n"
	      "{\"t\":3,\"k\":\"con\",\"d\":\"a:b c: d\"}\n"
	      "{\"t\":4,\"k\":\"con\",\"d\":\"x:\"}\n",
	      tl);
	fclose(tl);
	((struct jrun *)f->set.runs[1])->timeline = "t2.jsonl";
	t = render(report_tap, f);
	assert_non_null(strstr(t, "  console:\n"
	                          "    - \"DRAM\\x3a  256 MiB\"\n"
	                          "    - \"  \\x3a x\"\n"
	                          "    - \"a:b c: d\"\n"
	                          "    - \"x:\"\n"));
	free(t);
}

static void test_summary_json_parses_and_holds_clean_text(void **state)
{
	char *s = render(report_summary_json, *state);
	json_error_t err;
	json_t *doc = json_loads(s, JSON_REJECT_DUPLICATES, &err), *run;
	const char *reason;

	assert_non_null(doc);
	assert_null(strstr(s, "</script")); /* "/" escaped */
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(doc, "gate"), "decision")), "fail");
	assert_int_equal(
	    json_integer_value(json_object_get(json_object_get(doc, "counts"), "bricked")), 1);
	run = json_array_get(json_object_get(doc, "runs"), 1);
	reason = json_string_value(json_object_get(run, "reason"));
	assert_non_null(strstr(reason, "]]><img src=x onerror=alert(1)></script>"));
	assert_memory_equal(reason, "\xe2\x90\x80", 3); /* NUL as a picture, not \u0000 */
	assert_true(json_is_null(json_object_get(json_object_get(doc, "gate"), "upper_bound_95")));
	assert_string_equal(
	    json_string_value(json_object_get(
	        json_object_get(json_object_get(doc, "scenarios"), "s<b>"), "description")),
	    "Cut <i>during</i> the write");
	assert_true(json_is_null(json_object_get(
	    json_object_get(json_object_get(doc, "scenarios"), "other"), "description")));
	/* -j2 got one board: the other is named, with its holder (cleaned) */
	json_t *held = json_array_get(json_object_get(doc, "boards_unavailable"), 0);
	assert_int_equal(json_array_size(json_object_get(doc, "boards_unavailable")), 1);
	assert_string_equal(json_string_value(json_object_get(held, "board")), "qemu-02");
	assert_int_equal(json_integer_value(json_object_get(held, "pid")), 4242);
	assert_int_equal(json_integer_value(json_object_get(held, "boards_asked")), 2);
	assert_non_null(
	    strstr(json_string_value(json_object_get(held, "holder")), "hilctl <b>lock"));
	assert_null(strchr(json_string_value(json_object_get(held, "holder")), '\x1b'));
	json_decref(doc);
	free(s);
}

static void test_html_never_turns_board_text_into_markup(void **state)
{
	char *h = render(report_html, *state);

	assert_clean_utf8(h);
	assert_null(strstr(h, "<script"));
	assert_null(strstr(h, "<img"));
	assert_null(strstr(h, "<svg onload"));
	assert_only_escaped(h, "onerror=", "&lt;img src=x ");
	assert_only_escaped(h, "onload=", "&lt;svg ");
	assert_non_null(strstr(h, "default-src 'none'"));
	assert_non_null(strstr(h, "<span class=\"ctl\">NUL</span>"));
	assert_non_null(strstr(h, "id=\"run-1\" style=\"--vc:#cf222e\" open>"));
	assert_non_null(strstr(h, "Console log \xe2\x80\x94 2 lines"));
	/* the scenario's description, over its runs and in each run's facts */
	assert_non_null(
	    strstr(h, "<p class=\"scdesc\">Cut &lt;i&gt;during&lt;/i&gt; the write</p>"));
	assert_non_null(strstr(h, "<dt>scenario</dt><dd>s&lt;b&gt; \xe2\x80\x94 Cut &lt;i&gt;"));
	assert_null(strstr(h, "<i>during"));
	assert_non_null(
	    strstr(h, "<title>FAIL \xe2\x80\x94 c&lt;1&gt; \xe2\x80\x94 hilctl report</title>"));
	/* the board -j2 asked for and another process held, its holder escaped */
	assert_non_null(strstr(h, "<dt>boards not available</dt><dd>-j2 asked for 2, ran on 1 "
	                          "(qemu-01); not available: qemu-02 (locked by pid 4242: hilctl "
	                          "&lt;b&gt;lock&lt;/b&gt; "));
	assert_null(strstr(h, "<b>lock"));
	free(h);
}

/* The journal's restore record, read leniently (a record whose restore is
 * not an object has none), in each run's facts. */
static void test_html_says_how_each_board_was_restored(void **state)
{
	char *h = render(report_html, *state);

	assert_non_null(strstr(h, "<dt>restore</dt><dd>reflash: 63.1 MB written, 63.1 MB verified "
	                          "in 0.32 s (the last &lt;b&gt;run&lt;/b&gt;)</dd>"));
	assert_non_null(strstr(h, "<dt>restore</dt><dd>FAILED (board x: restore failed)</dd>"));
	assert_null(strstr(h, "junk"));
	free(h);
}

/* Painted by pass or fail, the verdict in words: an upgraded that the
 * scenario does not allow is red, not upgraded's green. */
static void test_html_paints_a_failed_upgraded_run_red(void **state)
{
	struct fixture *f = *state;
	char *h;

	((struct jrun *)f->set.runs[0])->pass = false; /* upgraded, not allowed */
	h = render(report_html, f);
	assert_non_null(strstr(h, "id=\"run-0\" style=\"--vc:#cf222e\" open><summary>"
	                          "<span class=\"vtag\" style=\"--vc:#cf222e\">upgraded</span>"));
	assert_null(strstr(h, "id=\"run-0\" style=\"--vc:#1a7f37\""));
	assert_non_null(strstr(h, "<b>not allowed: failed</b>"));
	/* its outcome map cell and duration dot */
	assert_non_null(strstr(h, "fill=\"#cf222e\" stroke=\"#1f2328\" stroke-width=\"2\"><title>"
	                          "s&lt;b&gt; \xc2\xb7 qemu-01 @ 1ms: upgraded (not allowed)"));
	/* a passing infra-free run stays green: a passing upgraded */
	((struct jrun *)f->set.runs[0])->pass = true;
	free(h);
	h = render(report_html, f);
	assert_non_null(strstr(h, "id=\"run-0\" style=\"--vc:#1a7f37\"><summary>"
	                          "<span class=\"vtag\" style=\"--vc:#1a7f37\">upgraded</span>"));
	free(h);
}

static void test_writer_reports_a_failing_stream(void **state)
{
	char small[64];
	FILE *f = fmemopen(small, sizeof(small), "w");

	setvbuf(f, NULL, _IONBF, 0); /* every fwrite reaches the 64-byte buffer */
	assert_int_equal(report_junit(f, &((struct fixture *)*state)->report), -EIO);
	fclose(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_junit_escapes_console_text_and_counts, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_junit_identity_is_scenario_and_point_not_board,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tap_keeps_one_point_per_run_and_quotes_yaml, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_tap_escapes_hash_in_descriptions, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tap_console_items_never_look_like_keys, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_summary_json_parses_and_holds_clean_text, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_html_says_how_each_board_was_restored, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_html_never_turns_board_text_into_markup, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_html_paints_a_failed_upgraded_run_red, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_writer_reports_a_failing_stream, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* tests/unit/test_report_journal.c — the journal reader: every record kind,
 * a last line cut by a kill, garbage refused with FILE:LINE, resumes,
 * repeated keys, byte strings, and paths that leave the campaign. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/log.h"
#include "reports/journal_read.h"

#define CAMPAIGN                                                                                   \
	"{\"campaign\":{\"format\":1,\"id\":\"c1\",\"seed\":42,\"boards\":[\"qemu-01\"],"          \
	"\"scenarios\":[\"s\"],\"shard\":{\"index\":1,\"count\":3,\"attempt\":2}}}\n"
#define RUN(key, verdict)                                                                          \
	"{\"run\":{\"key\":\"" key "\",\"scenario\":\"s\",\"board\":\"b\",\"verdict\":\"" verdict  \
	"\",\"allowed\":[\"upgraded\",\"rolled_back\"]}}\n"
#define END "{\"end\":{\"complete\":true,\"runs_done\":2,\"finished\":\"2026-11-25T02:00:00Z\"}}\n"

static char logbuf[8192];

static struct jfile *parse_n(const char *text, size_t len)
{
	log_set_level(LOG_WARN);
	log_capture(logbuf, sizeof(logbuf));
	return jfile_parse("dir/journal.jsonl", text, len);
}

static struct jfile *parse(const char *text)
{
	return parse_n(text, strlen(text));
}

static void test_journal_reads_every_record_kind(void **state)
{
	struct jfile *j = parse(
	    CAMPAIGN
	    "{\"run\":{\"id\":7,\"key\":\"s/"
	    "p=1\",\"scenario\":\"s\",\"board\":\"b\",\"point\":\"1ms\","
	    "\"seed\":9,\"fault\":{\"kind\":\"power_cut\",\"injected\":true,\"at_s\":1.5,"
	    "\"latency_us\":312,\"phase\":\"-\"},\"verdict\":\"bricked\",\"allowed\":[\"upgraded\"]"
	    ","
	    "\"pass\":false,\"reason\":\"r\",\"evidence\":[{\"t\":2.5,\"k\":\"con\",\"d\":\"x\"}],"
	    "\"duration_s\":3.25,\"timeline\":\"runs/7/timeline.jsonl\",\"bisect\":true}}\n"
	    "{\"window\":{\"scenario\":\"s\",\"board\":\"b\",\"first_fail\":\"2ms\",\"verdict\":"
	    "\"hung\"}}\n" END);

	assert_non_null(j);
	assert_string_equal(j->campaign.id, "c1");
	assert_int_equal(j->campaign.shard_index, 1);
	assert_int_equal(j->campaign.shard_count, 3);
	assert_int_equal(j->campaign.shard_attempt, 2);
	assert_int_equal(j->campaign.n_boards, 1);
	assert_string_equal(j->dir, "dir");
	assert_int_equal(j->n_runs, 1);
	assert_int_equal(j->runs[0].id, 7);
	assert_int_equal(j->runs[0].verdict, VERDICT_BRICKED);
	assert_false(j->runs[0].pass);
	assert_int_equal(j->runs[0].n_faults, 1);
	assert_int_equal(j->runs[0].faults[0].latency_us, 312);
	assert_null(j->runs[0].faults[0].phase); /* "-" is none */
	assert_true(j->runs[0].evidence[0].t == 2.5);
	assert_int_equal(j->runs[0].line, 2);
	assert_int_equal(j->n_windows, 1);
	assert_int_equal(j->windows[0].verdict, VERDICT_HUNG);
	assert_true(j->ended && j->complete);
	assert_false(j->truncated);
	assert_string_equal(logbuf, "");
	jfile_free(j);
}

/* A run's start and end: "started" + "finished" as written now; "started" +
 * duration_s from other writers; and hilctl's records from before
 * "finished" (they have "host" and "shard"), whose "started" was the end. */
static void test_journal_reads_run_start_and_end(void **state)
{
	struct jfile *j = parse(
	    CAMPAIGN
	    "{\"run\":{\"key\":\"new\",\"scenario\":\"s\",\"board\":\"b\",\"verdict\":\"upgraded\","
	    "\"allowed\":[\"upgraded\"],\"started\":\"2026-11-25T01:00:00.100Z\","
	    "\"finished\":\"2026-11-25T01:00:01.600Z\",\"duration_s\":1.5,\"host\":\"h\","
	    "\"shard\":{\"index\":1,\"count\":3,\"attempt\":2}}}\n"
	    "{\"run\":{\"key\":\"other\",\"scenario\":\"s\",\"board\":\"b\",\"verdict\":"
	    "\"upgraded\","
	    "\"allowed\":[\"upgraded\"],\"started\":\"2026-11-25T01:00:02.000Z\","
	    "\"duration_s\":2}}\n"
	    "{\"run\":{\"key\":\"old\",\"scenario\":\"s\",\"board\":\"b\",\"verdict\":\"upgraded\","
	    "\"allowed\":[\"upgraded\"],\"started\":\"2026-11-25T01:00:06.000Z\","
	    "\"duration_s\":1.25,\"host\":\"h\",\"shard\":{\"index\":1,\"count\":3,"
	    "\"attempt\":2}}}\n"
	    "{\"run\":{\"key\":\"none\",\"scenario\":\"s\",\"board\":\"b\",\"verdict\":"
	    "\"upgraded\","
	    "\"allowed\":[\"upgraded\"],\"duration_s\":1}}\n" END);
	double t0 = journal_time("2026-11-25T01:00:00Z");

	(void)state;
	assert_non_null(j);
	assert_int_equal(j->n_runs, 4);
	assert_float_equal((j->runs[0].start_s - t0), 0.1, 1e-6);
	assert_float_equal((j->runs[0].end_s - t0), 1.6, 1e-6);
	assert_float_equal((j->runs[1].start_s - t0), 2.0, 1e-6);
	assert_float_equal((j->runs[1].end_s - t0), 4.0, 1e-6);
	assert_float_equal((j->runs[2].start_s - t0), 4.75, 1e-6);
	assert_float_equal((j->runs[2].end_s - t0), 6.0, 1e-6);
	assert_null(j->runs[2].started); /* not what the record's "started" says */
	assert_true(isnan(j->runs[3].start_s) && isnan(j->runs[3].end_s));
	jfile_free(j);
}

static void test_journal_reads_scenario_descriptions(void **state)
{
	struct jfile *j = parse("{\"campaign\":{\"format\":1,\"id\":\"c\",\"descriptions\":"
	                        "{\"a\":\"Cut: A\",\"b\":\"\"}}}\n" END);

	(void)state;
	assert_non_null(j);
	assert_int_equal(j->campaign.n_descriptions, 2);
	assert_string_equal(j->campaign.described[0], "a");
	assert_string_equal(j->campaign.descriptions[0], "Cut: A");
	jfile_free(j);
	/* an old journal has none */
	j = parse(CAMPAIGN END);
	assert_non_null(j);
	assert_int_equal(j->campaign.n_descriptions, 0);
	jfile_free(j);
	assert_null(parse("{\"campaign\":{\"format\":1,\"id\":\"c\",\"descriptions\":"
	                  "{\"a\":1}}}\n" END));
	assert_non_null(strstr(logbuf, "journal.jsonl:1: campaign: \"descriptions\".\"a\" must be "
	                               "a string"));
	assert_null(parse("{\"campaign\":{\"format\":1,\"id\":\"c\",\"descriptions\":[]}}\n" END));
}

static void test_journal_reads_boards_asked_and_unavailable(void **state)
{
	struct jfile *j =
	    parse("{\"campaign\":{\"format\":1,\"id\":\"c\",\"boards\":[\"q1\"],"
	          "\"boards_asked\":3,\"boards_unavailable\":[{\"board\":\"q2\","
	          "\"pid\":4242,\"holder\":\"hilctl lock q2\"},{\"board\":\"q3\"}]}}\n" END);

	(void)state;
	assert_non_null(j);
	assert_int_equal(j->campaign.boards_asked, 3);
	assert_int_equal(j->campaign.n_unavailable, 2);
	assert_string_equal(j->campaign.unavailable[0].board, "q2");
	assert_int_equal(j->campaign.unavailable[0].pid, 4242);
	assert_string_equal(j->campaign.unavailable[0].holder, "hilctl lock q2");
	assert_int_equal(j->campaign.unavailable[1].pid, -1);
	assert_null(j->campaign.unavailable[1].holder);
	jfile_free(j);
	/* an older journal says nothing: asked unknown, none missing */
	j = parse(CAMPAIGN END);
	assert_non_null(j);
	assert_int_equal(j->campaign.boards_asked, -1);
	assert_int_equal(j->campaign.n_unavailable, 0);
	jfile_free(j);
	assert_null(parse("{\"campaign\":{\"format\":1,\"id\":\"c\",\"boards_unavailable\":"
	                  "\"q2\"}}\n" END));
	assert_non_null(strstr(logbuf, "\"boards_unavailable\" must be a list of {board, pid, "
	                               "holder}"));
	assert_null(parse("{\"campaign\":{\"format\":1,\"id\":\"c\",\"boards_unavailable\":"
	                  "[{\"pid\":1}]}}\n" END));
	assert_non_null(strstr(logbuf, "\"board\" is missing"));
	assert_null(parse("{\"campaign\":{\"format\":1,\"id\":\"c\",\"boards_unavailable\":"
	                  "[{\"board\":\"q2\",\"pid\":\"x\"}]}}\n" END));
}

static void test_journal_drops_a_last_line_cut_by_a_kill(void **state)
{
	struct jfile *j = parse(CAMPAIGN RUN("a", "upgraded") "{\"run\":{\"key\":\"b\",\"sce");

	assert_non_null(j);
	assert_int_equal(j->n_runs, 1);
	assert_true(j->truncated);
	assert_false(j->ended);
	assert_non_null(strstr(logbuf, "dir/journal.jsonl:3: the last line has no newline"));
	jfile_free(j);
}

static void test_journal_drops_an_unparseable_last_line(void **state)
{
	static const char text[] = CAMPAIGN RUN("a", "upgraded") "\x00\x00\x00\n";
	struct jfile *j = parse_n(text, sizeof(text) - 1);

	assert_non_null(j);
	assert_true(j->truncated);
	assert_non_null(strstr(logbuf, ":3: the last line is not valid JSON"));
	jfile_free(j);
}

static void test_journal_refuses_garbage_in_the_middle_with_line(void **state)
{
	struct jfile *j = parse(CAMPAIGN "{oops\n" RUN("a", "upgraded") END);

	assert_null(j);
	assert_non_null(strstr(logbuf, "dir/journal.jsonl:2: not a JSON record"));
}

static void test_journal_names_each_bad_field(void **state)
{
	struct jfile *j =
	    parse(CAMPAIGN RUN("a", "exploded") "{\"run\":{\"key\":\"b\",\"scenario\":\"s\","
	                                        "\"board\":7,\"verdict\":\"hung\","
	                                        "\"pass\":true}}\n"
	                                        "{\"run\":{\"key\":\"c\",\"scenario\":\"s\","
	                                        "\"board\":\"b\",\"verdict\":\"hung\"}}\n"
	                                        "{\"run\":{\"key\":\"d\"},\"end\":{}}\n"
	                                        "[1]\n" END);

	assert_null(j);
	assert_non_null(
	    strstr(logbuf, ":2: run: \"verdict\": \"exploded\" is not one of upgraded,"));
	assert_non_null(strstr(logbuf, ":3: run: \"board\" must be a string"));
	assert_non_null(strstr(logbuf, ":4: run: needs \"allowed\""));
	assert_non_null(strstr(logbuf, ":5: a record is an object with exactly one key"));
	assert_non_null(strstr(logbuf, ":6: a record is an object with exactly one key"));
}

static void test_journal_must_start_with_campaign(void **state)
{
	assert_null(parse(RUN("a", "upgraded")));
	assert_non_null(strstr(logbuf, ":1: the first record must be \"campaign\", not \"run\""));
	assert_null(parse(""));
	assert_non_null(strstr(logbuf, "no campaign record"));
	assert_null(parse("{\"campaign\":{\"format\":2,\"id\":\"x\"}}\n"));
	assert_non_null(strstr(logbuf, "journal format 2; this hilctl reads format 1"));
	assert_null(parse(
	    "{\"campaign\":{\"format\":1,\"id\":\"x\",\"shard\":{\"index\":3,\"count\":3}}}\n"));
	assert_non_null(strstr(logbuf, "want 0 <= index < count"));
}

static void test_journal_refuses_more_shards_than_a_campaign_may_have(void **state)
{
	struct jfile *j = parse("{\"campaign\":{\"format\":1,\"id\":\"x\",\"shard\":{\"index\":0,"
	                        "\"count\":4096}}}\n" END);

	assert_non_null(j);
	assert_int_equal(j->campaign.shard_count, 4096);
	jfile_free(j);
	assert_null(parse("{\"campaign\":{\"format\":1,\"id\":\"x\",\"shard\":{\"index\":3,"
	                  "\"count\":20120}}}\n" END));
	assert_non_null(strstr(logbuf, "dir/journal.jsonl:1: campaign.shard: count 20120 is more "
	                               "shards than a campaign may have (at most 4096)"));
}

static void test_journal_resume_reopens_until_the_next_end(void **state)
{
	struct jfile *j = parse(CAMPAIGN RUN(
	    "a", "upgraded") "{\"end\":{\"complete\":false,\"interrupted\":\"SIGTERM\"}}\n"
	                     "{\"campaign\":{\"format\":1,\"id\":\"c1\",\"resumed\":true,"
	                     "\"shard\":{\"index\":1,\"count\":3,\"attempt\":2}}}\n" RUN(
	                         "b", "upgraded"));

	assert_non_null(j);
	assert_int_equal(j->resumes, 1);
	assert_false(j->ended);
	assert_int_equal(j->n_runs, 2);
	jfile_free(j);
	assert_null(parse(CAMPAIGN CAMPAIGN));
	assert_non_null(strstr(logbuf, ":2: campaign: a second campaign record must say"));
}

static void test_journal_repeated_key_keeps_the_later_record(void **state)
{
	struct jfile *j =
	    parse(CAMPAIGN RUN("a", "bricked") RUN("b", "upgraded") RUN("a", "rolled_back") END);

	assert_non_null(j);
	assert_int_equal(j->n_runs, 2);
	assert_string_equal(j->runs[0].key, "b"); /* file order kept */
	assert_string_equal(j->runs[1].key, "a");
	assert_int_equal(j->runs[1].verdict, VERDICT_ROLLED_BACK);
	assert_non_null(strstr(logbuf, "journal.jsonl:2: run \"a\" again at line 4"));
	jfile_free(j);
}

static void test_journal_gate_goes_by_verdict_not_pass(void **state)
{
	struct jfile *j =
	    parse(CAMPAIGN "{\"run\":{\"key\":\"a\",\"scenario\":\"s\",\"board\":\"b\",\"verdict\":"
	                   "\"bricked\",\"allowed\":[\"upgraded\"],\"pass\":true}}\n"
	                   "{\"run\":{\"key\":\"b\",\"scenario\":\"s\",\"board\":\"b\",\"verdict\":"
	                   "\"infra_error\",\"allowed\":[\"infra_error\"]}}\n"
	                   "{\"run\":{\"key\":\"c\",\"scenario\":\"s\",\"board\":\"b\",\"verdict\":"
	                   "\"hung\",\"pass\":true}}\n");

	assert_non_null(j);
	assert_false(j->runs[0].pass);
	assert_false(j->runs[1].pass); /* infra_error never passes */
	assert_true(j->runs[2].pass);  /* no allowed: pass decides */
	assert_non_null(strstr(logbuf, "run \"a\": \"pass\": true disagrees with verdict bricked"));
	jfile_free(j);
}

static void test_journal_recovers_console_bytes(void **state)
{
	/* reason and evidence are byte strings: NUL, 0xff, and the UTF-8 of é */
	struct jfile *j =
	    parse(CAMPAIGN "{\"run\":{\"key\":\"a\",\"scenario\":\"s\",\"board\":\"b\",\"verdict\":"
	                   "\"hung\",\"pass\":false,\"reason\":\"x\\u0000\\u00ff\\u00c3\\u00a9\","
	                   "\"evidence\":[{\"t\":1,\"k\":\"con\",\"d\":\"\\u0000<\"}]}}\n");

	assert_non_null(j);
	assert_int_equal(j->runs[0].reason.len, 5);
	assert_memory_equal(j->runs[0].reason.s, "x\0\xff\xc3\xa9", 5);
	assert_int_equal(j->runs[0].evidence[0].text.len, 2);
	assert_memory_equal(j->runs[0].evidence[0].text.s, "\0<", 2);
	jfile_free(j);
}

static void test_journal_ignores_timeline_outside_the_campaign(void **state)
{
	struct jfile *j =
	    parse(CAMPAIGN "{\"run\":{\"key\":\"a\",\"scenario\":\"s\",\"board\":\"b\",\"verdict\":"
	                   "\"hung\",\"pass\":false,\"timeline\":\"/etc/passwd\"}}\n"
	                   "{\"run\":{\"key\":\"b\",\"scenario\":\"s\",\"board\":\"b\",\"verdict\":"
	                   "\"hung\",\"pass\":false,\"timeline\":\"runs/../../x\"}}\n"
	                   "{\"run\":{\"key\":\"c\",\"scenario\":\"s\",\"board\":\"b\",\"verdict\":"
	                   "\"hung\",\"pass\":false,\"timeline\":\"runs/..x/t\"}}\n");

	assert_non_null(j);
	assert_null(j->runs[0].timeline);
	assert_null(j->runs[1].timeline);
	assert_string_equal(j->runs[2].timeline, "runs/..x/t");
	jfile_free(j);
}

static void test_journal_joins_argv_into_a_command(void **state)
{
	struct jfile *j = parse("{\"campaign\":{\"format\":1,\"id\":\"c\",\"argv\":[\"hilctl\","
	                        "\"run\",\"a b\",\"it's\"]}}\n");

	assert_non_null(j);
	assert_string_equal(j->campaign.command, "hilctl run 'a b' 'it'\\''s'");
	jfile_free(j);
}

static void test_journal_skips_unknown_record_kinds_once(void **state)
{
	struct jfile *j = parse(CAMPAIGN "{\"heartbeat\":{}}\n{\"heartbeat\":{}}\n" END);

	assert_non_null(j);
	assert_non_null(strstr(logbuf, ":2: record \"heartbeat\" is unknown"));
	assert_null(strstr(logbuf, ":3:"));
	jfile_free(j);
}

/* hilctl explore's journal: the header stands for the campaign, each state
 * for a run keyed by its number, the end record (booted, interrupted: bool)
 * for the end; a campaign record kind in it is refused. */
static void test_journal_reads_an_explore_journal(void **state)
{
	struct jfile *j = parse(
	    "{\"explore\":{\"format\":1,\"started\":\"2026-11-25T06:12:18Z\",\"scenario\":"
	    "\"explore-v2\",\"boards\":[\"qemu-01\"],\"argv\":[\"explore\",\"-j\",\"2\"],"
	    "\"seed\":1,\"states\":147,\"distinct\":107}}\n"
	    "{\"state\":{\"n\":1,\"sel\":\"0\",\"class\":\"phase\",\"board\":\"qemu-01\","
	    "\"verdict\":\"rolled_back\",\"allowed\":[\"upgraded\",\"rolled_back\"],\"pass\":true,"
	    "\"duration_s\":7.5,\"timeline\":\"states/0001-qemu-01/timeline.jsonl\"}}\n"
	    "{\"state\":{\"n\":12,\"sel\":\"99+100,102-105\",\"class\":\"subset\",\"board\":"
	    "\"qemu-01\",\"verdict\":\"bricked\",\"allowed\":[\"upgraded\",\"rolled_back\"],"
	    "\"pass\":false,\"reason\":\"no boot\",\"reproduce\":\"hilctl explore x --only "
	    "99+100,102-105\"}}\n"
	    "{\"end\":{\"finished\":\"2026-11-25T06:14:45Z\",\"booted\":2,\"complete\":true,"
	    "\"out_of_time\":false,\"interrupted\":false}}\n");

	assert_non_null(j);
	assert_string_equal(j->campaign.id, "explore-v2@2026-11-25T06:12:18Z");
	assert_int_equal(j->campaign.n_scenarios, 1);
	assert_string_equal(j->campaign.scenarios[0], "explore-v2");
	assert_string_equal(j->campaign.command, "explore -j 2");
	assert_int_equal(j->n_runs, 2);
	assert_string_equal(j->runs[1].key, "explore-v2/state=12");
	assert_string_equal(j->runs[1].point, "99+100,102-105");
	assert_string_equal(j->runs[1].scenario, "explore-v2");
	assert_int_equal(j->runs[1].id, 12);
	assert_int_equal(j->runs[1].verdict, VERDICT_BRICKED);
	assert_false(j->runs[1].pass);
	assert_true(j->runs[0].pass);
	assert_string_equal(j->runs[1].reproduce, "hilctl explore x --only 99+100,102-105");
	assert_true(j->ended && j->complete);
	assert_int_equal(j->runs_done, 2);
	assert_null(j->interrupted);
	jfile_free(j);
	/* interrupted */
	j = parse("{\"explore\":{\"format\":1,\"scenario\":\"e\"}}\n"
	          "{\"end\":{\"booted\":0,\"complete\":false,\"interrupted\":true}}\n");
	assert_non_null(j);
	assert_false(j->complete);
	assert_string_equal(j->interrupted, "interrupted");
	jfile_free(j);
	/* a run record has no place in an explore journal */
	assert_null(
	    parse("{\"explore\":{\"format\":1,\"scenario\":\"e\"}}\n" RUN("a", "upgraded")));
	assert_non_null(
	    strstr(logbuf, ":2: an explore journal has state and end records, not \"run\""));
}

static void test_journal_time_parses_iso_utc(void **state)
{
	assert_true(fabs(journal_time("1970-01-01T00:01:01.5Z") - 61.5) < 1e-9);
	assert_true(fabs(journal_time("2026-11-25T01:22:33+00:00") - 1795569753.0) < 1e-6);
	assert_true(isnan(journal_time("yesterday")));
	assert_true(isnan(journal_time(NULL)));
	assert_true(isnan(journal_time("2026-11-25T01:22:33")));
}

static void test_journal_load_names_a_missing_file(void **state)
{
	log_capture(logbuf, sizeof(logbuf));
	assert_null(jfile_load("/nonexistent/journal.jsonl"));
	assert_non_null(strstr(logbuf, "/nonexistent/journal.jsonl: No such file"));
	jfile_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_journal_reads_every_record_kind),
	    cmocka_unit_test(test_journal_reads_run_start_and_end),
	    cmocka_unit_test(test_journal_reads_scenario_descriptions),
	    cmocka_unit_test(test_journal_reads_boards_asked_and_unavailable),
	    cmocka_unit_test(test_journal_drops_a_last_line_cut_by_a_kill),
	    cmocka_unit_test(test_journal_drops_an_unparseable_last_line),
	    cmocka_unit_test(test_journal_refuses_garbage_in_the_middle_with_line),
	    cmocka_unit_test(test_journal_names_each_bad_field),
	    cmocka_unit_test(test_journal_must_start_with_campaign),
	    cmocka_unit_test(test_journal_refuses_more_shards_than_a_campaign_may_have),
	    cmocka_unit_test(test_journal_resume_reopens_until_the_next_end),
	    cmocka_unit_test(test_journal_repeated_key_keeps_the_later_record),
	    cmocka_unit_test(test_journal_gate_goes_by_verdict_not_pass),
	    cmocka_unit_test(test_journal_recovers_console_bytes),
	    cmocka_unit_test(test_journal_ignores_timeline_outside_the_campaign),
	    cmocka_unit_test(test_journal_joins_argv_into_a_command),
	    cmocka_unit_test(test_journal_skips_unknown_record_kinds_once),
	    cmocka_unit_test(test_journal_reads_an_explore_journal),
	    cmocka_unit_test(test_journal_time_parses_iso_utc),
	    cmocka_unit_test(test_journal_load_names_a_missing_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

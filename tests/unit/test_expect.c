/* tests/unit/test_expect.c — the expect engine on console byte streams:
 * matches split across reads, the first match wins, binary bytes, bounded
 * memory, line anchors that do not fire on half a line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness/run/expect.h"
#include "lib/log.h"

static struct expect *make(const char *const *pats, size_t n)
{
	struct expect *e = expect_new(pats, n);
	assert_non_null(e);
	return e;
}

static int feed_str(struct expect *e, const char *s, struct expect_match *m)
{
	return expect_feed(e, s, strlen(s), m);
}

static void test_expect_match_split_across_reads(void **state)
{
	const char *pats[] = {"Writing slot B"};
	struct expect *e = make(pats, 1);
	struct expect_match m;

	assert_int_equal(feed_str(e, "boot...\nWriting sl", &m), 0);
	assert_int_equal(feed_str(e, "ot", &m), 0);
	assert_int_equal(feed_str(e, " B\n", &m), 1);
	assert_int_equal(m.index, 0);
	assert_string_equal(m.text, "Writing slot B");
	assert_int_equal(m.end_offset, strlen("boot...\nWriting slot B"));
	expect_free(e);
}

static void test_expect_byte_by_byte(void **state)
{
	const char *pats[] = {"login: ?$", "Kernel panic"};
	static const char stream[] = "\x00\xff\xfe garbage \r\nrefdut login: \nmore";
	struct expect *e = make(pats, 2);
	struct expect_match m;
	int hit = 0;
	size_t len = sizeof(stream) - 1;

	for (size_t i = 0; i < len && !hit; i++)
		hit = expect_feed(e, stream + i, 1, &m);
	assert_int_equal(hit, 1);
	assert_int_equal(m.index, 0);
	assert_string_equal(m.text, "login: ");
	expect_free(e);
}

static void test_expect_first_in_stream_wins(void **state)
{
	const char *pats[] = {"slot=A", "U-Boot"};
	struct expect *e = make(pats, 2);
	struct expect_match m;

	/* Both present in one read: the earlier one wins even though it is the
	 * second pattern. */
	assert_int_equal(feed_str(e, "U-Boot 2023.01\nhilctl-boot: slot=A\n", &m), 1);
	assert_int_equal(m.index, 1);
	/* The rest stays buffered: a call with no new bytes finds the next. */
	assert_int_equal(expect_feed(e, NULL, 0, &m), 1);
	assert_int_equal(m.index, 0);
	assert_int_equal(expect_feed(e, NULL, 0, &m), 0);
	expect_free(e);
}

static void test_expect_nul_bytes_do_not_end_the_stream(void **state)
{
	const char *pats[] = {"A\\x00B"};
	struct expect *e = make(pats, 1);
	struct expect_match m;

	assert_int_equal(expect_feed(e, "xxA", 3, &m), 0);
	assert_int_equal(expect_feed(e, "\0B", 2, &m), 1);
	assert_int_equal(m.text_len, 3);
	expect_free(e);
}

static void test_expect_dollar_waits_for_line_end(void **state)
{
	const char *pats[] = {"version=(\\S+)$"};
	struct expect *e = make(pats, 1);
	struct expect_match m;

	/* "version=1" could still grow to "version=1.2": no match yet. */
	assert_int_equal(feed_str(e, "hilctl-probe: version=1", &m), 0);
	assert_int_equal(feed_str(e, ".2\n", &m), 1);
	assert_string_equal(m.groups[1], "1.2");
	expect_free(e);
}

/* Serial consoles end lines in CRLF: "$" is a line end there too, and "^"
 * follows one. */
static void test_expect_dollar_matches_before_crlf(void **state)
{
	const char *pats[] = {"Copying image done$", "^hilctl-probe: (\\S+)$"};
	struct expect *e = make(pats, 2);
	struct expect_match m;

	assert_int_equal(feed_str(e, "rauc: Copying image done", &m), 0);
	assert_int_equal(feed_str(e, "\r\n", &m), 1);
	assert_int_equal(m.index, 0);
	assert_int_equal(feed_str(e, "hilctl-probe: v2\r\n", &m), 1);
	assert_int_equal(m.index, 1);
	assert_string_equal(m.groups[1], "v2");
	expect_free(e);
}

static void test_expect_caret_only_at_line_start(void **state)
{
	const char *pats[] = {"^ready"};
	struct expect *e = make(pats, 1);
	struct expect_match m;
	char filler[EXPECT_WINDOW];

	/* Push the window so the buffer starts mid-line, then check that ^
	 * does not match there. */
	memset(filler, 'x', sizeof(filler));
	assert_int_equal(expect_feed(e, filler, sizeof(filler), &m), 0);
	assert_int_equal(feed_str(e, "ready", &m), 0);
	assert_int_equal(feed_str(e, "\nready", &m), 1);
	expect_free(e);
}

static void test_expect_window_stays_bounded(void **state)
{
	const char *pats[] = {"BEGIN.*END"};
	struct expect *e = make(pats, 1);
	struct expect_match m;
	char chunk[4096];

	memset(chunk, 'y', sizeof(chunk));
	assert_int_equal(feed_str(e, "BEGIN", &m), 0);
	/* 1 MiB of a partial match never grows memory past the window. */
	for (int i = 0; i < 256; i++)
		assert_int_equal(expect_feed(e, chunk, sizeof(chunk), &m), 0);
	assert_int_equal(expect_offset(e), 5 + 256 * 4096);
	expect_free(e);
}

static void test_expect_bad_pattern_is_reported(void **state)
{
	char buf[512];
	const char *pats[] = {"ok", "(unclosed"};

	log_capture(buf, sizeof(buf));
	assert_null(expect_new(pats, 2));
	log_capture(NULL, 0);
	assert_non_null(strstr(buf, "pattern 2"));
	assert_non_null(strstr(buf, "missing closing parenthesis"));
}

static void test_expect_named_group(void **state)
{
	const char *pats[] = {"slot=(?<slot>[AB])"};
	struct expect *e = make(pats, 1);
	struct expect_match m;
	int g = expect_group_index(e, 0, "slot");

	assert_int_equal(g, 1);
	assert_int_equal(feed_str(e, "slot=B", &m), 1);
	assert_string_equal(m.groups[g], "B");
	expect_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_expect_match_split_across_reads),
	    cmocka_unit_test(test_expect_byte_by_byte),
	    cmocka_unit_test(test_expect_first_in_stream_wins),
	    cmocka_unit_test(test_expect_nul_bytes_do_not_end_the_stream),
	    cmocka_unit_test(test_expect_dollar_waits_for_line_end),
	    cmocka_unit_test(test_expect_dollar_matches_before_crlf),
	    cmocka_unit_test(test_expect_caret_only_at_line_start),
	    cmocka_unit_test(test_expect_window_stays_bounded),
	    cmocka_unit_test(test_expect_bad_pattern_is_reported),
	    cmocka_unit_test(test_expect_named_group),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* tests/unit/test_report_text.c — hostile board text made valid UTF-8 and
 * escaped for XML, HTML and YAML; console bytes recovered from the journal's
 * one-code-point-per-byte strings; fault points sorted as people count. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/text.h"

static char *clean(const char *s, size_t len, unsigned flags)
{
	struct sbuf b = {0};

	text_clean(&b, s, len, flags);
	sbuf_add(&b, "", 0); /* never NULL, even when empty */
	return b.s;
}

static void test_text_clean_replaces_each_invalid_byte(void **state)
{
	char *s = clean("a\xff\xfe"
	                "b\xc3(",
	                6, 0);

	assert_string_equal(s, "a\xef\xbf\xbd\xef\xbf\xbd"
	                       "b\xef\xbf\xbd(");
	free(s);
}

static void test_text_clean_refuses_overlong_surrogate_and_past_max(void **state)
{
	/* overlong "/", a UTF-16 surrogate, U+110000: each byte becomes U+FFFD */
	char *s = clean("\xc0\xaf|\xed\xa0\x80|\xf4\x90\x80\x80", 11, 0);
	const char *r = "\xef\xbf\xbd";
	char want[128];

	snprintf(want, sizeof(want), "%s%s|%s%s%s|%s%s%s%s", r, r, r, r, r, r, r, r, r);
	assert_string_equal(s, want);
	free(s);
}

static void test_text_clean_shows_controls_as_pictures(void **state)
{
	char *s = clean("\0\x1b\x7f\n\t\r", 6, 0);

	/* U+2400 NUL, U+241B ESC, U+2421 DEL, U+240A LF, U+2409 HT, U+240D CR */
	assert_string_equal(s, "\xe2\x90\x80\xe2\x90\x9b\xe2\x90\xa1\xe2\x90\x8a\xe2\x90\x89"
	                       "\xe2\x90\x8d");
	free(s);
	s = clean("a\nb\tc", 5, TEXT_KEEP_NL | TEXT_KEEP_TAB);
	assert_string_equal(s, "a\nb\tc");
	free(s);
}

static void test_text_clean_drops_c1_and_noncharacters(void **state)
{
	char *s = clean("\xc2\x85|\xef\xbf\xbe|\xc3\xa9", 9, 0);

	assert_string_equal(s, "\xef\xbf\xbd|\xef\xbf\xbd|\xc3\xa9");
	free(s);
}

static void test_text_clean_strips_ansi_only_when_asked(void **state)
{
	const char *in = "\x1b[1;32mOK\x1b[0m \x1b[2K\x1b[";
	char *s = clean(in, strlen(in), TEXT_STRIP_ANSI);

	/* a cut sequence at the end stays visible */
	assert_string_equal(s, "OK \xe2\x90\x9b[");
	free(s);
	s = clean("\x1b[0m", 4, 0);
	assert_string_equal(s, "\xe2\x90\x9b[0m");
	free(s);
}

static void test_text_con_bytes_recovers_board_bytes(void **state)
{
	/* "é" sent by the board as C3 A9, journaled as U+00C3 U+00A9 */
	char s[] = "caf\xc3\x83\xc2\xa9 \xc3\xbf";
	size_t n = text_con_bytes(s, strlen(s));

	assert_int_equal(n, 7);
	assert_memory_equal(s, "caf\xc3\xa9 \xff", 7);
}

static void test_text_con_bytes_leaves_unicode_text_alone(void **state)
{
	char s[] = "\xe6\xb8\xa9 \xc3\xa9"; /* U+6E29 is above U+00FF: plain text */

	assert_int_equal(text_con_bytes(s, strlen(s)), strlen(s));
	assert_string_equal(s, "\xe6\xb8\xa9 \xc3\xa9");
}

static void test_xml_escape_never_leaves_markup_or_cdata_end(void **state)
{
	const char *in = "]]><img src=x onerror=alert(1)>&\"'\n</script>";
	struct sbuf b = {0};

	xml_escape(&b, in, strlen(in), TEXT_KEEP_NL);
	assert_string_equal(b.s, "]]&gt;&lt;img src=x onerror=alert(1)&gt;&amp;&quot;&#39;\n"
	                         "&lt;/script&gt;");
	sbuf_free(&b);
	xml_escape_attr(&b, "a\nb\tc<", 6);
	assert_string_equal(b.s, "a&#10;b&#9;c&lt;");
	sbuf_free(&b);
}

static void test_yaml_quote_stays_one_line(void **state)
{
	const char *in = "say \"hi\" \\ \t\n# x \xe2\x80\xa8";
	struct sbuf b = {0};

	yaml_quote(&b, in, strlen(in));
	assert_string_equal(b.s, "\"say \\\"hi\\\" \\\\ \\t\xe2\x90\x8a# x \\u2028\"");
	assert_null(strchr(b.s, '\n'));
	sbuf_free(&b);
}

static void test_natural_cmp_orders_fault_points(void **state)
{
	assert_true(natural_cmp("250ms", "1500ms") < 0);
	assert_true(natural_cmp("write=9", "write=10") < 0);
	assert_true(natural_cmp("007", "7") == 0);
	assert_true(natural_cmp("a", "b") < 0);
	assert_true(natural_cmp("1500ms", "1500ms") == 0);
	assert_true(natural_cmp(NULL, "x") < 0);
	assert_true(natural_cmp("x1", "x") > 0);
}

static void test_sbuf_grows_and_formats(void **state)
{
	struct sbuf b = {0};

	for (int i = 0; i < 1000; i++)
		sbuf_addf(&b, "%d,", i);
	assert_int_equal(b.len, strlen(b.s));
	assert_memory_equal(b.s + b.len - 4, "999,", 4);
	sbuf_reset(&b);
	assert_int_equal(b.len, 0);
	sbuf_free(&b);
	sbuf_free(&b); /* twice is fine */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_text_clean_replaces_each_invalid_byte),
	    cmocka_unit_test(test_text_clean_refuses_overlong_surrogate_and_past_max),
	    cmocka_unit_test(test_text_clean_shows_controls_as_pictures),
	    cmocka_unit_test(test_text_clean_drops_c1_and_noncharacters),
	    cmocka_unit_test(test_text_clean_strips_ansi_only_when_asked),
	    cmocka_unit_test(test_text_con_bytes_recovers_board_bytes),
	    cmocka_unit_test(test_text_con_bytes_leaves_unicode_text_alone),
	    cmocka_unit_test(test_xml_escape_never_leaves_markup_or_cdata_end),
	    cmocka_unit_test(test_yaml_quote_stays_one_line),
	    cmocka_unit_test(test_natural_cmp_orders_fault_points),
	    cmocka_unit_test(test_sbuf_grows_and_formats),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* tests/unit/test_log.c — what the log sink writes to a terminal: escape
 * sequences from a journal (OSC 52 clipboard, CSI clear screen), other C0
 * and C1 controls and bytes that are not UTF-8 are shown, never obeyed;
 * text and valid UTF-8 pass unchanged; truncation keeps whole characters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lib/log.h"

static char out[512];

static const char *safe(const char *in)
{
	log_term_safe(out, sizeof(out), in);
	return out;
}

static void assert_no_controls(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		assert_false(*p < 0x20 && *p != '\t');
		assert_false(*p == 0x7f);
		assert_false(p[0] == 0xc2 && p[1] >= 0x80 && p[1] < 0xa0);
	}
}

static void test_osc52_and_clear_screen_are_shown_not_obeyed(void **state)
{
	const char *s = safe("campaign \x1b]52;c;ZWNobyBwd25lZA==\x07 \x1b[2J\x1b[H done");

	assert_string_equal(s, "campaign \xe2\x90\x9b]52;c;ZWNobyBwd25lZA==\xe2\x90\x87 "
	                       "\xe2\x90\x9b[2J\xe2\x90\x9b[H done");
	assert_no_controls(s);
}

static void test_c0_del_newline_become_pictures_tab_stays(void **state)
{
	assert_string_equal(safe("a\nb\rc\td\x7f"), "a\xe2\x90\x8a"
	                                            "b\xe2\x90\x8d"
	                                            "c\td\xe2\x90\xa1");
}

static void test_c1_and_invalid_bytes_are_escaped(void **state)
{
	/* U+009B is CSI for terminals that take C1; 0x9b alone is not UTF-8. */
	assert_string_equal(safe("x\xc2\x9b"
	                         "2J y\x9b"
	                         "2J z\xff\xc0\xaf"),
	                    "x\\u009b2J y\\x9b2J z\\xff\\xc0\\xaf");
	assert_string_equal(safe("\xed\xa0\x80"), "\\xed\\xa0\\x80"); /* a surrogate */
}

static void test_text_and_utf8_pass_unchanged(void **state)
{
	const char *t = "board \"qemu-01\": Größe 温度 ✓ \xc2\xa0nbsp 🙂";

	assert_string_equal(safe(t), t);
}

static void test_truncation_keeps_whole_characters(void **state)
{
	char small[5];

	/* ESC's picture is 3 bytes: it does not fit after "ab" with the NUL. */
	assert_int_equal(log_term_safe(small, sizeof(small),
	                               "ab\x1b"
	                               "cd"),
	                 2);
	assert_string_equal(small, "ab");
	assert_int_equal(log_term_safe(small, sizeof(small), "abcdefgh"), 4);
	assert_string_equal(small, "abcd");
	assert_int_equal(log_term_safe(small, sizeof(small), "a\xe2\x9c\x93"), 4);
}

static void test_captured_messages_are_made_safe(void **state)
{
	char buf[256];

	log_capture(buf, sizeof(buf));
	hil_error("journal: campaign \"%s\"", "x\x1b[2Jy");
	log_capture(NULL, 0);
	assert_string_equal(buf, "journal: campaign \"x\xe2\x90\x9b[2Jy\"\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_osc52_and_clear_screen_are_shown_not_obeyed),
	    cmocka_unit_test(test_c0_del_newline_become_pictures_tab_stays),
	    cmocka_unit_test(test_c1_and_invalid_bytes_are_escaped),
	    cmocka_unit_test(test_text_and_utf8_pass_unchanged),
	    cmocka_unit_test(test_truncation_keeps_whole_characters),
	    cmocka_unit_test(test_captured_messages_are_made_safe),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

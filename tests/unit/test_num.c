/* tests/unit/test_num.c — the one strict number parser (lib/num.c) and the
 * strict durations of lib/cfg.c: whole text, decimal, inside the range. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lib/cfg.h"
#include "lib/log.h"
#include "lib/num.h"

static char logbuf[4096];

static void test_num_takes_whole_decimal_numbers_in_range(void **state)
{
	long long v = 0;
	unsigned long long u = 0;

	assert_int_equal(num_parse_ll("42", 1, 100, &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(num_parse_ll("-7", -10, 10, &v), 0);
	assert_int_equal(v, -7);
	assert_int_equal(num_parse_ll("-9223372036854775808", LLONG_MIN, 0, &v), 0);
	assert_true(v == LLONG_MIN);
	assert_int_equal(num_parse_ull("18446744073709551615", ULLONG_MAX, &u), 0);
	assert_true(u == ULLONG_MAX);
}

static void test_num_refuses_trailing_junk_and_non_numbers(void **state)
{
	static const char *const bad[] = {"",    "abc", "3x", "2x",  " 3", "3 ", "0x10",
	                                  "1e3", "+",   "-",  "1.5", "١",  NULL};
	long long v = 99;
	unsigned long long u = 99;

	for (int i = 0; bad[i]; i++) {
		assert_int_equal(num_parse_ll(bad[i], 0, 1000, &v), -EINVAL);
		assert_int_equal(num_parse_ull(bad[i], 1000, &u), -EINVAL);
	}
	assert_int_equal(v, 99); /* untouched on error */
}

static void test_num_refuses_out_of_range_and_overflow(void **state)
{
	long long v;
	unsigned long long u;

	assert_int_equal(num_parse_ll("-7", 0, 100, &v), -ERANGE);
	assert_int_equal(num_parse_ll("101", 0, 100, &v), -ERANGE);
	assert_int_equal(num_parse_ll("99999999999999999999999", 0, LLONG_MAX, &v), -ERANGE);
	assert_int_equal(num_parse_ll("9223372036854775808", 0, LLONG_MAX, &v), -ERANGE);
	assert_int_equal(num_parse_ull("-1", ULLONG_MAX, &u), -ERANGE);
	assert_int_equal(num_parse_ull("18446744073709551616", ULLONG_MAX, &u), -ERANGE);
}

static void test_num_opt_names_option_value_and_range(void **state)
{
	int v;

	log_capture(logbuf, sizeof(logbuf));
	assert_int_equal(num_opt_int("--runs", "3x", 1, 10000, &v), -EINVAL);
	assert_non_null(strstr(logbuf, "--runs 3x: is not a whole number (give 1 to 10000)"));
	log_capture(logbuf, sizeof(logbuf));
	assert_int_equal(num_opt_int("--bisect", "-7", 0, 1000, &v), -EINVAL);
	assert_non_null(strstr(logbuf, "--bisect -7: is out of range (give 0 to 1000)"));
	assert_int_equal(num_opt_int("-j", "2", 1, 64, &v), 0);
	assert_int_equal(v, 2);
}

static void test_durations_are_strict_and_bounded(void **state)
{
	static const char *const bad[] = {"banana", "",     "s",     "-1s", "+1s", " 1s",
	                                  "1s ",    "1e3s", "0x10s", "inf", "nan", "1.s",
	                                  ".5s",    "1 s",  "2d",    NULL};
	int64_t ns = 0;

	assert_int_equal(cfg_parse_duration("250ms", &ns), 0);
	assert_int_equal(ns, 250000000);
	assert_int_equal(cfg_parse_duration("1.5s", &ns), 0);
	assert_int_equal(ns, 1500000000);
	assert_int_equal(cfg_parse_duration("3", &ns), 0);
	assert_int_equal(ns, 3000000000);
	assert_int_equal(cfg_parse_duration("1000h", &ns), 0);
	for (int i = 0; bad[i]; i++)
		assert_int_equal(cfg_parse_duration(bad[i], &ns), -EINVAL);
	assert_int_equal(cfg_parse_duration("99999999999999999999999s", &ns), -ERANGE);
	assert_int_equal(cfg_parse_duration("1001h", &ns), -ERANGE);
	assert_non_null(strstr(cfg_duration_error("99999999999999999999999s"), "too long"));
	assert_non_null(strstr(cfg_duration_error("banana"), "is not a duration"));
}

static void test_cfg_duration_error_names_file_line_col(void **state)
{
	const char *text = "power:\n  timeout: banana\n";
	struct cfg_node *root;
	int64_t ns;

	log_capture(logbuf, sizeof(logbuf));
	root = cfg_load_buf("lab.yaml", text, strlen(text));
	assert_non_null(root);
	assert_int_equal(cfg_get_duration(cfg_get(root, "power"), "timeout", false, &ns), -EINVAL);
	assert_non_null(strstr(logbuf, "lab.yaml:2:12:"));
	assert_non_null(strstr(logbuf, "\"banana\" is not a duration"));
	cfg_free(root);
}

static void test_num_sizes_take_binary_suffixes(void **state)
{
	uint64_t v = 0;

	assert_int_equal(num_parse_size("512", &v), 0);
	assert_int_equal(v, 512);
	assert_int_equal(num_parse_size("64M", &v), 0);
	assert_int_equal(v, 64ULL << 20);
	assert_int_equal(num_parse_size("16G", &v), 0);
	assert_int_equal(v, 16ULL << 30);
	assert_int_equal(num_parse_size("2T", &v), 0);
	assert_int_equal(v, 2ULL << 40);
	assert_int_equal(num_parse_size("", &v), -EINVAL);
	assert_int_equal(num_parse_size("M", &v), -EINVAL);
	assert_int_equal(num_parse_size("-1M", &v), -EINVAL);
	assert_int_equal(num_parse_size("1.5G", &v), -EINVAL);
	assert_int_equal(num_parse_size("1m", &v), -EINVAL);
	assert_int_equal(num_parse_size("99999999999999999T", &v), -ERANGE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_num_takes_whole_decimal_numbers_in_range),
	    cmocka_unit_test(test_num_refuses_trailing_junk_and_non_numbers),
	    cmocka_unit_test(test_num_refuses_out_of_range_and_overflow),
	    cmocka_unit_test(test_num_opt_names_option_value_and_range),
	    cmocka_unit_test(test_durations_are_strict_and_bounded),
	    cmocka_unit_test(test_cfg_duration_error_names_file_line_col),
	    cmocka_unit_test(test_num_sizes_take_binary_suffixes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

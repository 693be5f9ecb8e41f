/* tests/unit/test_cfg.c — the YAML tree, its getters, and error messages
 * that name file:line:col and what would be valid. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/cfg.h"
#include "lib/log.h"

static char logbuf[4096];

static struct cfg_node *load(const char *text)
{
	log_capture(logbuf, sizeof(logbuf));
	return cfg_load_buf("lab.yaml", text, strlen(text));
}

static void test_cfg_tree_keeps_line_and_column(void **state)
{
	struct cfg_node *root = load("boards:\n  - name: a\n    power:\n      driver: gpio\n");
	const struct cfg_node *b, *drv;

	assert_non_null(root);
	b = cfg_get(root, "boards")->child;
	drv = cfg_get(cfg_get(b, "power"), "driver");
	assert_string_equal(drv->value, "gpio");
	assert_int_equal(drv->line, 4);
	assert_int_equal(drv->col, 15);
	cfg_free(root);
}

static void test_cfg_enum_error_names_board_key_and_choices(void **state)
{
	static const char *const drivers[] = {"gpio", "ftdi", "qemu", NULL};
	struct cfg_node *root =
	    load("boards:\n  - name: rpi4-03\n    power:\n      driver: gpoi\n");
	const struct cfg_node *power = cfg_get(cfg_get(root, "boards")->child, "power");
	int idx = -1;

	assert_int_equal(cfg_get_enum(power, "driver", true, drivers, &idx), -EINVAL);
	assert_string_equal(logbuf, "lab.yaml:4:15: board \"rpi4-03\": power.driver \"gpoi\" is "
	                            "not one of gpio, ftdi, qemu\n");
	cfg_free(root);
}

static void test_cfg_malformed_yaml_reports_position(void **state)
{
	struct cfg_node *root = load("boards:\n  - name: [unclosed\n");

	assert_null(root);
	assert_non_null(strstr(logbuf, "lab.yaml:"));
	assert_non_null(strstr(logbuf, "malformed YAML"));
}

static void test_cfg_duplicate_key_is_an_error(void **state)
{
	struct cfg_node *root = load("a: 1\na: 2\n");

	assert_null(root);
	assert_non_null(strstr(logbuf, "lab.yaml:2:1:"));
	assert_non_null(strstr(logbuf, "given twice"));
}

static void test_cfg_alias_and_merge_key_share_settings(void **state)
{
	struct cfg_node *root = load("d: &d {driver: qemu, memory: 512M}\n"
	                             "a: {<<: *d, memory: 1G}\n"
	                             "b: *d\n");
	const struct cfg_node *a, *b;

	assert_non_null(root);
	a = cfg_get(root, "a");
	b = cfg_get(root, "b");
	assert_string_equal(cfg_get(a, "driver")->value, "qemu");
	assert_string_equal(cfg_get(a, "memory")->value, "1G");
	assert_int_equal(cfg_count(a), 2);
	assert_string_equal(cfg_get(b, "memory")->value, "512M");
	/* A merged value still points where it was written. */
	assert_int_equal(cfg_get(a, "driver")->line, 1);
	cfg_free(root);
}

static void test_cfg_alias_bomb_is_refused(void **state)
{
	assert_null(load("a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	                 "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
	                 "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
	                 "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
	                 "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"));
	assert_non_null(strstr(logbuf, "too many"));
	assert_null(load("a: *nope\n"));
	assert_non_null(strstr(logbuf, "unknown anchor"));
}

static void test_cfg_int_range_and_garbage(void **state)
{
	struct cfg_node *root = load("channel: 9\nbad: 3x\nhex: 0x10\n");
	long long v = 0;

	assert_int_equal(cfg_get_int(root, "channel", true, 1, 8, &v), -EINVAL);
	assert_non_null(strstr(logbuf, "lab.yaml:1:10: channel 9 is out of range (1 to 8)"));
	assert_int_equal(cfg_get_int(root, "bad", true, 0, 100, &v), -EINVAL);
	assert_non_null(strstr(logbuf, "not a whole number"));
	assert_int_equal(cfg_get_int(root, "hex", true, 0, 100, &v), 0);
	assert_int_equal(v, 16);
	cfg_free(root);
}

static void test_cfg_missing_required_key(void **state)
{
	struct cfg_node *root = load("boards:\n  - name: x\n    power: {}\n");
	const struct cfg_node *power = cfg_get(cfg_get(root, "boards")->child, "power");
	const char *s = NULL;

	assert_int_equal(cfg_get_str(power, "driver", true, &s), -EINVAL);
	assert_non_null(strstr(logbuf, "board \"x\": power needs key \"driver\""));
	cfg_free(root);
}

static void test_cfg_durations(void **state)
{
	int64_t ns;

	assert_int_equal(cfg_parse_duration("250ms", &ns), 0);
	assert_int_equal(ns, 250000000);
	assert_int_equal(cfg_parse_duration("1.5s", &ns), 0);
	assert_int_equal(ns, 1500000000);
	assert_int_equal(cfg_parse_duration("2", &ns), 0);
	assert_int_equal(ns, 2000000000);
	assert_int_equal(cfg_parse_duration("3m", &ns), 0);
	assert_int_equal(ns, 180000000000LL);
	assert_int_equal(cfg_parse_duration("10 parsecs", &ns), -EINVAL);
	assert_int_equal(cfg_parse_duration("-1s", &ns), -EINVAL);
}

static void test_cfg_unknown_key_lists_known_ones(void **state)
{
	static const char *const keys[] = {"driver", "chip", "line", NULL};
	struct cfg_node *root = load("driver: gpio\ncihp: gpiochip0\n");

	assert_int_equal(cfg_check_keys(root, keys), -EINVAL);
	assert_non_null(strstr(logbuf, "lab.yaml:2:1: cihp is not a known key here (known: "
	                               "driver, chip, line)"));
	cfg_free(root);
}

static void test_cfg_strv_scalar_or_list(void **state)
{
	struct cfg_node *root = load("one: a\nmany: [a, b, c]\nbad: {x: 1}\n");
	const char **v = NULL;

	assert_int_equal(cfg_get_strv(root, "one", true, &v), 0);
	assert_string_equal(v[0], "a");
	assert_null(v[1]);
	free(v);
	assert_int_equal(cfg_get_strv(root, "many", true, &v), 0);
	assert_string_equal(v[2], "c");
	assert_null(v[3]);
	free(v);
	assert_int_equal(cfg_get_strv(root, "bad", true, &v), -EINVAL);
	cfg_free(root);
}

static void test_cfg_empty_file(void **state)
{
	assert_null(load(""));
	assert_non_null(strstr(logbuf, "empty"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cfg_tree_keeps_line_and_column),
	    cmocka_unit_test(test_cfg_enum_error_names_board_key_and_choices),
	    cmocka_unit_test(test_cfg_malformed_yaml_reports_position),
	    cmocka_unit_test(test_cfg_duplicate_key_is_an_error),
	    cmocka_unit_test(test_cfg_alias_and_merge_key_share_settings),
	    cmocka_unit_test(test_cfg_alias_bomb_is_refused),
	    cmocka_unit_test(test_cfg_int_range_and_garbage),
	    cmocka_unit_test(test_cfg_missing_required_key),
	    cmocka_unit_test(test_cfg_durations),
	    cmocka_unit_test(test_cfg_unknown_key_lists_known_ones),
	    cmocka_unit_test(test_cfg_strv_scalar_or_list),
	    cmocka_unit_test(test_cfg_empty_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

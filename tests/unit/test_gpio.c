/* tests/unit/test_gpio.c — the gpio power driver at the libgpiod 1.6 seam:
 * the exact calls and arguments for chips by name, label and path, lines by
 * offset and name, the "hilctl" consumer, active-low, status with and
 * without our own request, and every error path (chip missing, permission
 * denied, line busy, line name unknown, bad settings) with the message a
 * user reads. Settings come from YAML through cfg_load_buf, so messages
 * carry file:line:col. No GPIO chip is needed: tests/unit/fakes/gpiod_fake.c
 * stands in for libgpiod. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "lib/cfg.h"
#include "lib/log.h"
#include "power/power.h"
#include "fakes/gpiod_fake.h"

static char log_buf[4096];
static struct cfg_node *root;
static struct power pw;

static int setup(void **state)
{
	fake_gpiod_reset();
	log_capture(log_buf, sizeof(log_buf));
	memset(&pw, 0, sizeof(pw));
	pw.ops = &power_gpio_ops;
	pw.board = "rpi4-01";
	return 0;
}

static int teardown(void **state)
{
	if (pw.priv)
		power_gpio_ops.close(&pw);
	cfg_free(root);
	root = NULL;
	log_capture(NULL, 0);
	return 0;
}

/* Open board rpi4-01 of a lab file whose power: mapping has driver: gpio on
 * line 4 and these settings from line 5 on (indented six spaces). */
static int open_with(const char *settings)
{
	char yaml[1024];

	snprintf(yaml, sizeof(yaml),
	         "boards:\n"
	         "  - name: rpi4-01\n"
	         "    power:\n"
	         "      driver: gpio\n"
	         "%s",
	         settings);
	root = cfg_load_buf("lab.yaml", yaml, strlen(yaml));
	assert_non_null(root);
	return power_gpio_ops.open(&pw, cfg_get(cfg_get(root, "boards")->child, "power"));
}

/* ---- expectations, one call each, in the order the driver must make them */

static void expect_lookup(const char *descr, struct gpiod_chip *chip, int err)
{
	expect_function_call(__wrap_gpiod_chip_open_lookup);
	expect_string(__wrap_gpiod_chip_open_lookup, descr, descr);
	will_return(__wrap_gpiod_chip_open_lookup, chip);
	if (!chip)
		will_return(__wrap_gpiod_chip_open_lookup, err);
}

static void expect_get_line(unsigned int offset, struct gpiod_line *line, int err)
{
	expect_function_call(__wrap_gpiod_chip_get_line);
	expect_value(__wrap_gpiod_chip_get_line, offset, offset);
	will_return(__wrap_gpiod_chip_get_line, line);
	if (!line)
		will_return(__wrap_gpiod_chip_get_line, err);
}

static void expect_find_line(const char *name, struct gpiod_line *line, int err)
{
	expect_function_call(__wrap_gpiod_chip_find_line);
	expect_string(__wrap_gpiod_chip_find_line, name, name);
	will_return(__wrap_gpiod_chip_find_line, line);
	if (!line)
		will_return(__wrap_gpiod_chip_find_line, err);
}

static void expect_request(int level, int err)
{
	expect_function_call(__wrap_gpiod_line_request_output);
	expect_string(__wrap_gpiod_line_request_output, consumer, "hilctl");
	expect_value(__wrap_gpiod_line_request_output, default_val, level);
	will_return(__wrap_gpiod_line_request_output, err ? -1 : 0);
	if (err)
		will_return(__wrap_gpiod_line_request_output, err);
}

static void expect_set_value(int level)
{
	expect_function_call(__wrap_gpiod_line_set_value);
	expect_value(__wrap_gpiod_line_set_value, value, level);
	will_return(__wrap_gpiod_line_set_value, 0);
}

static void expect_get_value(int level_or_minus_errno)
{
	expect_function_call(__wrap_gpiod_line_get_value);
	will_return(__wrap_gpiod_line_get_value,
	            level_or_minus_errno < 0 ? -1 : level_or_minus_errno);
	if (level_or_minus_errno < 0)
		will_return(__wrap_gpiod_line_get_value, -level_or_minus_errno);
}

static void expect_release_and_close(void)
{
	expect_function_call(__wrap_gpiod_line_release);
	expect_function_call(__wrap_gpiod_chip_close);
}

static void expect_open_ok(const char *chip, unsigned int offset)
{
	expect_lookup(chip, FAKE_CHIP, 0);
	expect_get_line(offset, FAKE_LINE, 0);
}

static enum power_state status(void)
{
	enum power_state st = POWER_UNKNOWN;

	assert_int_equal(power_gpio_ops.get(&pw, &st), 0);
	return st;
}

static void close_now(void)
{
	power_gpio_ops.close(&pw);
	assert_null(pw.priv);
}

/* ---- chips, lines, consumer */

static void test_gpio_chip_by_name_line_by_offset(void **state)
{
	expect_open_ok("gpiochip0", 17);
	assert_int_equal(open_with("      chip: gpiochip0\n      line: 17\n"), 0);
	/* The first set requests the line as an output with the wanted level:
	 * no glitch through a default level. */
	expect_request(1, 0);
	assert_int_equal(power_gpio_ops.set(&pw, true), 0);
	expect_get_value(1);
	assert_int_equal(status(), POWER_ON);
	expect_set_value(0);
	assert_int_equal(power_gpio_ops.set(&pw, false), 0);
	expect_get_value(0);
	assert_int_equal(status(), POWER_OFF);
	expect_release_and_close();
	close_now();
	assert_string_equal(log_buf, "");
}

static void test_gpio_chip_by_label_line_by_name(void **state)
{
	fake_gpiod.line_offset = 23;
	expect_lookup("pinctrl-bcm2711", FAKE_CHIP, 0);
	expect_find_line("RELAY_3", FAKE_LINE, 0);
	assert_int_equal(open_with("      chip: pinctrl-bcm2711\n      line: RELAY_3\n"), 0);
	expect_request(0, 0);
	assert_int_equal(power_gpio_ops.set(&pw, false), 0);
	expect_release_and_close();
	close_now();
}

static void test_gpio_chip_by_path(void **state)
{
	expect_open_ok("/dev/gpiochip4", 5);
	assert_int_equal(open_with("      chip: /dev/gpiochip4\n      line: 5\n"), 0);
	expect_function_call(__wrap_gpiod_chip_close);
	close_now();
}

static void test_gpio_chip_by_number(void **state)
{
	expect_open_ok("0", 3);
	assert_int_equal(open_with("      chip: 0\n      line: \"3\"\n"), 0);
	expect_function_call(__wrap_gpiod_chip_close);
	close_now();
}

static void test_gpio_active_low_inverts(void **state)
{
	expect_open_ok("gpiochip0", 17);
	assert_int_equal(open_with("      chip: gpiochip0\n      line: 17\n"
	                           "      active_low: true\n"),
	                 0);
	expect_request(0, 0); /* on = low */
	assert_int_equal(power_gpio_ops.set(&pw, true), 0);
	expect_get_value(0);
	assert_int_equal(status(), POWER_ON);
	expect_set_value(1); /* off = high */
	assert_int_equal(power_gpio_ops.set(&pw, false), 0);
	expect_get_value(1);
	assert_int_equal(status(), POWER_OFF);
	expect_release_and_close();
	close_now();
}

/* Reading needs a request, and a request would reconfigure the relay line:
 * a process that has not switched it cannot tell, and says so. */
static void test_gpio_status_unknown_without_our_request(void **state)
{
	expect_open_ok("gpiochip0", 17);
	assert_int_equal(open_with("      chip: gpiochip0\n      line: 17\n"), 0);
	assert_int_equal(status(), POWER_UNKNOWN); /* and no libgpiod call at all */
	expect_function_call(__wrap_gpiod_chip_close);
	close_now();
}

static void test_gpio_status_read_error(void **state)
{
	expect_open_ok("gpiochip0", 17);
	assert_int_equal(open_with("      chip: gpiochip0\n      line: 17\n"), 0);
	expect_request(1, 0);
	assert_int_equal(power_gpio_ops.set(&pw, true), 0);
	expect_get_value(-EIO);
	enum power_state st = POWER_ON;
	assert_int_equal(power_gpio_ops.get(&pw, &st), -EIO);
	assert_int_equal(st, POWER_UNKNOWN);
	assert_string_equal(log_buf, "board \"rpi4-01\": gpio line 17 of gpiochip0: cannot read "
	                             "it back: Input/output error\n");
	expect_release_and_close();
	close_now();
}

/* ---- errors */

static void test_gpio_chip_missing(void **state)
{
	expect_lookup("gpiochip9", NULL, ENOENT);
	assert_int_equal(open_with("      chip: gpiochip9\n      line: 17\n"), -ENODEV);
	assert_string_equal(
	    log_buf, "lab.yaml:5:13: board \"rpi4-01\": power.chip \"gpiochip9\" is not a "
	             "gpio chip here (gpiodetect lists the chips: name [label] (lines); give "
	             "a name, label or /dev path)\n");
	assert_null(pw.priv);
}

static void test_gpio_chip_permission_denied(void **state)
{
	expect_lookup("/dev/gpiochip0", NULL, EACCES);
	assert_int_equal(open_with("      chip: /dev/gpiochip0\n      line: 17\n"), -EACCES);
	assert_string_equal(log_buf, "lab.yaml:5:13: board \"rpi4-01\": power.chip "
	                             "\"/dev/gpiochip0\": permission denied (add the user to the "
	                             "\"gpio\" group, or give /dev/gpiochip* to it with a udev "
	                             "rule)\n");
}

/* libgpiod 1.6 finds a label by opening every chip; a chip this user may not
 * open ends the lookup in ENOENT. The driver names the real cause. */
static void test_gpio_label_lookup_hidden_by_permissions(void **state)
{
	fake_gpiod.forbidden_dev = "/dev/gpiochip0";
	expect_lookup("pinctrl-bcm2711", NULL, ENOENT);
	assert_int_equal(open_with("      chip: pinctrl-bcm2711\n      line: 17\n"), -EACCES);
	assert_non_null(strstr(log_buf, "power.chip \"pinctrl-bcm2711\": permission denied on "
	                                "/dev/gpiochip0 (add the user to the \"gpio\" group"));
}

static void test_gpio_line_name_not_found(void **state)
{
	expect_lookup("gpiochip0", FAKE_CHIP, 0);
	expect_find_line("RELAY_9", NULL, ENOENT);
	expect_function_call(__wrap_gpiod_chip_close);
	assert_int_equal(open_with("      chip: gpiochip0\n      line: RELAY_9\n"), -EINVAL);
	assert_string_equal(log_buf, "lab.yaml:6:13: board \"rpi4-01\": power.line \"RELAY_9\" is "
	                             "not a line name on gpiochip0 (gpioinfo gpiochip0 lists the "
	                             "names)\n");
	assert_null(pw.priv);
}

static void test_gpio_line_offset_out_of_range(void **state)
{
	expect_lookup("gpiochip0", FAKE_CHIP, 0);
	expect_get_line(60, NULL, EINVAL);
	expect_function_call(__wrap_gpiod_chip_close);
	assert_int_equal(open_with("      chip: gpiochip0\n      line: 60\n"), -EINVAL);
	assert_string_equal(log_buf, "lab.yaml:6:13: board \"rpi4-01\": power.line 60 is out of "
	                             "range: gpiochip0 has 54 lines (0 to 53)\n");
}

static void test_gpio_busy_line_names_its_consumer(void **state)
{
	fake_gpiod.consumer = "gpio-fan";
	expect_open_ok("gpiochip0", 17);
	assert_int_equal(open_with("      chip: gpiochip0\n      line: 17\n"), 0);
	expect_request(1, EBUSY);
	expect_function_call(__wrap_gpiod_line_update); /* fresh consumer name */
	assert_int_equal(power_gpio_ops.set(&pw, true), -EBUSY);
	assert_string_equal(log_buf, "board \"rpi4-01\": gpio line 17 of gpiochip0 is busy, used "
	                             "by \"gpio-fan\" (stop that program, or look for a driver or "
	                             "gpio-hog holding it; gpioinfo gpiochip0 shows consumers)\n");
	/* Nothing held: status cannot tell, close releases nothing. */
	assert_int_equal(status(), POWER_UNKNOWN);
	expect_function_call(__wrap_gpiod_chip_close);
	close_now();
}

static void test_gpio_busy_line_without_consumer_name(void **state)
{
	expect_lookup("gpiochip0", FAKE_CHIP, 0);
	expect_find_line("RELAY_1", FAKE_LINE, 0);
	assert_int_equal(open_with("      chip: gpiochip0\n      line: RELAY_1\n"), 0);
	expect_request(1, EBUSY);
	expect_function_call(__wrap_gpiod_line_update);
	assert_int_equal(power_gpio_ops.set(&pw, true), -EBUSY);
	assert_non_null(strstr(log_buf, "gpio line 17 (\"RELAY_1\") of gpiochip0 is busy, used by "
	                                "another consumer ("));
	expect_function_call(__wrap_gpiod_chip_close);
	close_now();
}

static void test_gpio_request_permission_denied(void **state)
{
	expect_open_ok("gpiochip0", 17);
	assert_int_equal(open_with("      chip: gpiochip0\n      line: 17\n"), 0);
	expect_request(0, EPERM);
	assert_int_equal(power_gpio_ops.set(&pw, false), -EPERM);
	assert_string_equal(log_buf, "board \"rpi4-01\": gpio line 17 of gpiochip0: permission "
	                             "denied (add the user to the \"gpio\" group, or give "
	                             "/dev/gpiochip* to it with a udev rule)\n");
	expect_function_call(__wrap_gpiod_chip_close);
	close_now();
}

/* ---- settings */

static void test_gpio_settings_unknown_key(void **state)
{
	assert_int_equal(open_with("      chip: gpiochip0\n      line: 17\n      activelow: yes\n"),
	                 -EINVAL);
	assert_string_equal(log_buf, "lab.yaml:7:7: board \"rpi4-01\": power.activelow is not a "
	                             "known key here (known: driver, type, timeout, chip, line, "
	                             "active_low)\n");
}

static void test_gpio_settings_need_chip_and_line(void **state)
{
	assert_int_equal(open_with("      line: 17\n"), -EINVAL);
	assert_string_equal(log_buf, "lab.yaml:4:7: board \"rpi4-01\": power needs key \"chip\"\n");
	cfg_free(root);
	log_buf[0] = '\0';
	assert_int_equal(open_with("      chip: gpiochip0\n"), -EINVAL);
	assert_string_equal(log_buf, "lab.yaml:4:7: board \"rpi4-01\": power needs key \"line\"\n");
}

static void test_gpio_settings_bad_values(void **state)
{
	assert_int_equal(open_with("      chip: gpiochip0\n      line: 99999999\n"), -EINVAL);
	assert_string_equal(log_buf, "lab.yaml:6:13: board \"rpi4-01\": power.line 99999999 is not "
	                             "a line offset (0 to 65535)\n");
	cfg_free(root);
	log_buf[0] = '\0';
	assert_int_equal(open_with("      chip: gpiochip0\n      line: 17\n      active_low: "
	                           "maybe\n"),
	                 -EINVAL);
	assert_string_equal(log_buf, "lab.yaml:7:19: board \"rpi4-01\": power.active_low \"maybe\" "
	                             "is not true or false\n");
}

/* The shipped example lab file opens with this driver, line by line. */
static void test_gpio_example_lab_file_opens(void **state)
{
	static const unsigned int offsets[] = {17, 27, 22};
	const struct cfg_node *boards;
	int n = 0;

	root = cfg_load_file("fixtures/lab-rpi-gpio.yaml");
	assert_non_null(root);
	boards = cfg_get(root, "boards");
	for (const struct cfg_node *b = boards->child; b; b = b->next, n++) {
		const struct cfg_node *power = cfg_get(b, "power");

		pw.board = cfg_get(b, "name")->value;
		if (n < 3) {
			expect_open_ok("pinctrl-bcm2711", offsets[n]);
		} else {
			expect_lookup("pinctrl-bcm2711", FAKE_CHIP, 0);
			expect_find_line("RELAY_4", FAKE_LINE, 0);
		}
		assert_int_equal(power_gpio_ops.open(&pw, power), 0);
		expect_function_call(__wrap_gpiod_chip_close);
		close_now();
	}
	assert_int_equal(n, 4);
	assert_string_equal(log_buf, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_gpio_chip_by_name_line_by_offset, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_gpio_chip_by_label_line_by_name, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_gpio_chip_by_path, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_gpio_chip_by_number, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_gpio_active_low_inverts, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_gpio_status_unknown_without_our_request, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_gpio_status_read_error, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_gpio_chip_missing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_gpio_chip_permission_denied, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_gpio_label_lookup_hidden_by_permissions, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_gpio_line_name_not_found, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_gpio_line_offset_out_of_range, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_gpio_busy_line_names_its_consumer, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_gpio_busy_line_without_consumer_name, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_gpio_request_permission_denied, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_gpio_settings_unknown_key, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_gpio_settings_need_chip_and_line, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_gpio_settings_bad_values, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_gpio_example_lab_file_opens, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

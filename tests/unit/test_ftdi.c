/* tests/unit/test_ftdi.c — the ftdi power driver at the libftdi1 seam: the
 * exact USB session for set and status (open by serial, port path or bus
 * address; bitbang on with all eight pins as outputs; read the pins; write
 * one byte in which only our channel's bit changed; close), active-low,
 * the warning when enabling bitbang moved pins, and every error path (device
 * missing, permission denied, busy, USB errors, bad settings) with the
 * message a user reads. Settings come from YAML through cfg_load_buf, so
 * messages carry file:line:col. No relay board is needed:
 * tests/unit/fakes/ftdi_fake.c stands in for libftdi1. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "lib/cfg.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "power/power.h"
#include "fakes/ftdi_fake.h"

#define SERIAL_OPEN "s:0x0403:0x6001:A50285BI"

static char log_buf[4096];
static struct cfg_node *root;
static struct power pw;

static int setup(void **state)
{
	memset(&fake_ftdi_ctx, 0, sizeof(fake_ftdi_ctx));
	log_capture(log_buf, sizeof(log_buf));
	memset(&pw, 0, sizeof(pw));
	pw.ops = &power_ftdi_ops;
	pw.board = "bbb-01";
	return 0;
}

static int teardown(void **state)
{
	cfg_free(root);
	root = NULL;
	log_capture(NULL, 0);
	return 0;
}

/* Board bbb-01 with driver: ftdi on line 4 and these settings from line 5. */
static struct cfg_node *load(const char *settings)
{
	char yaml[1024];

	snprintf(yaml, sizeof(yaml),
	         "boards:\n"
	         "  - name: bbb-01\n"
	         "    power:\n"
	         "      driver: ftdi\n"
	         "%s",
	         settings);
	cfg_free(root);
	root = cfg_load_buf("lab.yaml", yaml, strlen(yaml));
	assert_non_null(root);
	return root;
}

static const struct cfg_node *power_node(void)
{
	return cfg_get(cfg_get(root, "boards")->child, "power");
}

/* Open: only a libftdi context, no USB traffic yet. */
static void open_ok(const char *settings)
{
	load(settings);
	expect_function_call(__wrap_ftdi_new);
	will_return(__wrap_ftdi_new, &fake_ftdi_ctx);
	assert_int_equal(power_ftdi_ops.open(&pw, power_node()), 0);
}

static int open_fails(const char *settings)
{
	load(settings);
	return power_ftdi_ops.open(&pw, power_node());
}

static void close_ok(void)
{
	expect_function_call(__wrap_ftdi_free);
	power_ftdi_ops.close(&pw);
	assert_null(pw.priv);
}

/* ---- expectations, one call each, in the order the driver must make them */

static void expect_open_string(const char *description, int code, const char *error)
{
	expect_function_call(__wrap_ftdi_usb_open_string);
	expect_string(__wrap_ftdi_usb_open_string, description, description);
	will_return(__wrap_ftdi_usb_open_string, code);
	if (code < 0)
		will_return(ftdi_error_str, error);
}

static void expect_read_pins(int pins)
{
	expect_function_call(__wrap_ftdi_read_pins);
	will_return(__wrap_ftdi_read_pins, pins);
}

static void expect_bitbang(void)
{
	expect_function_call(__wrap_ftdi_set_bitmode);
	expect_value(__wrap_ftdi_set_bitmode, bitmask, 0xFF);
	expect_value(__wrap_ftdi_set_bitmode, mode, BITMODE_BITBANG);
	will_return(__wrap_ftdi_set_bitmode, 0);
}

/* Pins read before and after enabling bitbang mode. */
static void expect_session_start(int before, int after)
{
	expect_read_pins(before);
	expect_bitbang();
	expect_read_pins(after);
}

static void expect_write(unsigned char byte, int result, const char *error)
{
	expect_function_call(__wrap_ftdi_write_data);
	expect_value(__wrap_ftdi_write_data, size, 1);
	expect_value(__wrap_ftdi_write_data, byte, byte);
	will_return(__wrap_ftdi_write_data, result);
	if (result < 0)
		will_return(ftdi_error_str, error);
}

static void expect_usb_close(void)
{
	expect_function_call(__wrap_ftdi_usb_close);
}

static enum power_state status(void)
{
	enum power_state st = POWER_UNKNOWN;

	assert_int_equal(power_ftdi_ops.get(&pw, &st), 0);
	return st;
}

/* ---- switching */

static void test_ftdi_set_keeps_other_channels(void **state)
{
	open_ok("      serial: A50285BI\n      channel: 2\n");
	expect_open_string(SERIAL_OPEN, 0, NULL);
	expect_session_start(0xA5, 0xA5); /* 0b1010_0101 */
	expect_write(0xA7, 1, NULL);      /* 0b1010_0111: bit 1 only */
	expect_usb_close();
	assert_int_equal(power_ftdi_ops.set(&pw, true), 0);
	assert_string_equal(log_buf, "");
	close_ok();
}

static void test_ftdi_set_off_clears_only_its_channel(void **state)
{
	open_ok("      serial: A50285BI\n      channel: 8\n");
	expect_open_string(SERIAL_OPEN, 0, NULL);
	expect_session_start(0xFF, 0xFF);
	expect_write(0x7F, 1, NULL);
	expect_usb_close();
	assert_int_equal(power_ftdi_ops.set(&pw, false), 0);
	/* Each operation is its own session: the next one opens again. */
	expect_open_string(SERIAL_OPEN, 0, NULL);
	expect_session_start(0x7F, 0x7F);
	expect_write(0xFF, 1, NULL);
	expect_usb_close();
	assert_int_equal(power_ftdi_ops.set(&pw, true), 0);
	close_ok();
}

static void test_ftdi_active_low_inverts(void **state)
{
	open_ok("      serial: A50285BI\n      channel: 1\n      active_low: true\n");
	expect_open_string(SERIAL_OPEN, 0, NULL);
	expect_session_start(0xFF, 0xFF);
	expect_write(0xFE, 1, NULL); /* on = pin low */
	expect_usb_close();
	assert_int_equal(power_ftdi_ops.set(&pw, true), 0);
	expect_open_string(SERIAL_OPEN, 0, NULL);
	expect_session_start(0xFE, 0xFE);
	expect_usb_close();
	assert_int_equal(status(), POWER_ON);
	expect_open_string(SERIAL_OPEN, 0, NULL);
	expect_session_start(0x01, 0x01);
	expect_usb_close();
	assert_int_equal(status(), POWER_OFF);
	close_ok();
}

/* Status reads the pins the chip drives and writes nothing. */
static void test_ftdi_status_reads_pins(void **state)
{
	open_ok("      serial: A50285BI\n      channel: 3\n");
	expect_open_string(SERIAL_OPEN, 0, NULL);
	expect_session_start(0x04, 0x04);
	expect_usb_close();
	assert_int_equal(status(), POWER_ON);
	expect_open_string(SERIAL_OPEN, 0, NULL);
	expect_session_start(0xFB, 0xFB);
	expect_usb_close();
	assert_int_equal(status(), POWER_OFF);
	close_ok();
}

static void test_ftdi_open_by_serial_uses_vid_pid_serial(void **state)
{
	open_ok("      vid: 0x0403\n      pid: 0x6015\n      serial: DN05ABCD\n"
	        "      channel: 4\n      timeout: 250ms\n");
	pw.timeout_ns = 250 * NS_PER_MS; /* power_open() parses timeout: */
	expect_open_string("s:0x0403:0x6015:DN05ABCD", 0, NULL);
	expect_session_start(0x00, 0x00);
	expect_write(0x08, 1, NULL);
	expect_usb_close();
	assert_int_equal(power_ftdi_ops.set(&pw, true), 0);
	/* libusb got what was left of the 250 ms, not its default 5 s. */
	assert_true(fake_ftdi_ctx.usb_write_timeout <= 250);
	close_ok();
}

/* Two relay boards on one hub: the port path picks the second. */
static void test_ftdi_open_by_port_path(void **state)
{
	struct fake_usb_dev a = {.bus = 1, .address = 9, .ports = {1, 3}, .n_ports = 2};
	struct fake_usb_dev b = {.bus = 1, .address = 5, .ports = {1, 4}, .n_ports = 2};
	struct ftdi_device_list lb = {.next = NULL, .dev = FAKE_USB_DEV(&b)};
	struct ftdi_device_list la = {.next = &lb, .dev = FAKE_USB_DEV(&a)};

	open_ok("      usb_path: 1-1.4\n      channel: 1\n");
	expect_function_call(__wrap_ftdi_usb_find_all);
	expect_value(__wrap_ftdi_usb_find_all, vendor, 0x0403);
	expect_value(__wrap_ftdi_usb_find_all, product, 0x6001);
	will_return(__wrap_ftdi_usb_find_all, &la);
	will_return(__wrap_ftdi_usb_find_all, 2);
	expect_function_call(__wrap_ftdi_usb_open_dev);
	expect_value(__wrap_ftdi_usb_open_dev, dev, FAKE_USB_DEV(&b));
	will_return(__wrap_ftdi_usb_open_dev, 0);
	expect_function_call(__wrap_ftdi_list_free);
	expect_session_start(0x10, 0x10);
	expect_usb_close();
	assert_int_equal(status(), POWER_OFF);
	close_ok();
}

static void test_ftdi_open_by_bus_address(void **state)
{
	struct fake_usb_dev a = {.bus = 3, .address = 7, .ports = {2}, .n_ports = 1};
	struct ftdi_device_list la = {.next = NULL, .dev = FAKE_USB_DEV(&a)};

	open_ok("      usb_path: \"3:7\"\n      channel: 1\n");
	expect_function_call(__wrap_ftdi_usb_find_all);
	expect_value(__wrap_ftdi_usb_find_all, vendor, 0x0403);
	expect_value(__wrap_ftdi_usb_find_all, product, 0x6001);
	will_return(__wrap_ftdi_usb_find_all, &la);
	will_return(__wrap_ftdi_usb_find_all, 1);
	expect_function_call(__wrap_ftdi_usb_open_dev);
	expect_value(__wrap_ftdi_usb_open_dev, dev, FAKE_USB_DEV(&a));
	will_return(__wrap_ftdi_usb_open_dev, 0);
	expect_function_call(__wrap_ftdi_list_free);
	expect_session_start(0x01, 0x01);
	expect_usb_close();
	assert_int_equal(status(), POWER_ON);
	close_ok();
}

/* The first use after the relay board got power moves pins: say so. */
static void test_ftdi_warns_when_bitbang_mode_moved_pins(void **state)
{
	open_ok("      serial: A50285BI\n      channel: 2\n");
	expect_open_string(SERIAL_OPEN, 0, NULL);
	expect_session_start(0xFF, 0x00);
	expect_write(0x02, 1, NULL);
	expect_usb_close();
	assert_int_equal(power_ftdi_ops.set(&pw, true), 0);
	assert_string_equal(log_buf,
	                    "warning: board \"bbb-01\": FTDI relay board 0403:6001 serial "
	                    "\"A50285BI\": pins were 0xff before bitbang mode and 0x00 "
	                    "after: the board was not in bitbang mode yet (first use since "
	                    "it got power?), its other channels may have switched\n");
	close_ok();
}

/* ---- errors */

static void test_ftdi_device_missing(void **state)
{
	enum power_state st = POWER_ON;

	open_ok("      serial: A50285BI\n      channel: 2\n");
	expect_open_string(SERIAL_OPEN, -3, "device not found");
	assert_int_equal(power_ftdi_ops.get(&pw, &st), -ENODEV);
	assert_int_equal(st, POWER_UNKNOWN);
	assert_string_equal(log_buf,
	                    "board \"bbb-01\": FTDI relay board 0403:6001 serial "
	                    "\"A50285BI\": not found (plugged in? lsusb -d 0403:6001 lists "
	                    "what is there)\n");
	close_ok();
}

static void test_ftdi_port_path_missing(void **state)
{
	struct fake_usb_dev a = {.bus = 1, .address = 9, .ports = {1, 3}, .n_ports = 2};
	struct ftdi_device_list la = {.next = NULL, .dev = FAKE_USB_DEV(&a)};

	open_ok("      usb_path: 1-1.4\n      channel: 1\n");
	expect_function_call(__wrap_ftdi_usb_find_all);
	expect_value(__wrap_ftdi_usb_find_all, vendor, 0x0403);
	expect_value(__wrap_ftdi_usb_find_all, product, 0x6001);
	will_return(__wrap_ftdi_usb_find_all, &la);
	will_return(__wrap_ftdi_usb_find_all, 1);
	expect_function_call(__wrap_ftdi_list_free);
	assert_int_equal(power_ftdi_ops.set(&pw, true), -ENODEV);
	assert_string_equal(log_buf, "board \"bbb-01\": FTDI relay board 0403:6001 at USB port "
	                             "1-1.4: not found (plugged in? lsusb -d 0403:6001 lists what "
	                             "is there)\n");
	close_ok();
}

static void test_ftdi_permission_denied(void **state)
{
	open_ok("      serial: A50285BI\n      channel: 2\n");
	expect_open_string(SERIAL_OPEN, -4, "usb_open() failed");
	assert_int_equal(power_ftdi_ops.set(&pw, true), -EACCES);
	assert_string_equal(log_buf, "board \"bbb-01\": FTDI relay board 0403:6001 serial "
	                             "\"A50285BI\": cannot open it: usb_open() failed (usually "
	                             "permission denied: give the user the device with a udev rule "
	                             "for 0403:6001, see docs/power-ftdi.md)\n");
	close_ok();
}

/* libftdi's other permission code: the kernel driver could not be detached. */
static void test_ftdi_permission_denied_detaching_kernel_driver(void **state)
{
	open_ok("      serial: A50285BI\n      channel: 2\n");
	expect_open_string(SERIAL_OPEN, -8, "inappropriate permissions on device!");
	assert_int_equal(power_ftdi_ops.set(&pw, true), -EACCES);
	assert_non_null(strstr(log_buf, "inappropriate permissions on device! (usually "
	                                "permission denied"));
	close_ok();
}

/* Another hilctl on the same relay board holds it for a moment. */
static void test_ftdi_busy_is_retried_until_free(void **state)
{
	open_ok("      serial: A50285BI\n      channel: 2\n");
	expect_open_string(SERIAL_OPEN, -5, "unable to claim usb device");
	expect_open_string(SERIAL_OPEN, -5, "unable to claim usb device");
	expect_open_string(SERIAL_OPEN, 0, NULL);
	expect_session_start(0x00, 0x00);
	expect_write(0x02, 1, NULL);
	expect_usb_close();
	assert_int_equal(power_ftdi_ops.set(&pw, true), 0);
	assert_string_equal(log_buf, "");
	close_ok();
}

static void test_ftdi_busy_gives_up_at_the_deadline(void **state)
{
	int64_t start;

	open_ok("      serial: A50285BI\n      channel: 2\n");
	pw.timeout_ns = 100 * NS_PER_MS;
	expect_function_call_any(__wrap_ftdi_usb_open_string);
	expect_string_count(__wrap_ftdi_usb_open_string, description, SERIAL_OPEN, -1);
	will_return_always(__wrap_ftdi_usb_open_string, -5);
	will_return_always(ftdi_error_str, "unable to claim usb device");
	start = clock_now_ns();
	assert_int_equal(power_ftdi_ops.set(&pw, true), -EBUSY);
	assert_true(clock_now_ns() - start < 2 * NS_PER_S);
	assert_string_equal(log_buf, "board \"bbb-01\": FTDI relay board 0403:6001 serial "
	                             "\"A50285BI\": busy: unable to claim usb device (another "
	                             "program holds it)\n");
	close_ok();
}

static void test_ftdi_write_error_closes_the_device(void **state)
{
	open_ok("      serial: A50285BI\n      channel: 2\n");
	expect_open_string(SERIAL_OPEN, 0, NULL);
	expect_session_start(0x00, 0x00);
	expect_write(0x02, -1, "usb bulk write failed");
	expect_usb_close();
	assert_int_equal(power_ftdi_ops.set(&pw, true), -EIO);
	assert_string_equal(log_buf, "board \"bbb-01\": FTDI relay board 0403:6001 serial "
	                             "\"A50285BI\": cannot write the pins: usb bulk write failed "
	                             "(unplugged? dmesg tells)\n");
	close_ok();
}

static void test_ftdi_unplugged_while_reading(void **state)
{
	enum power_state st;

	open_ok("      serial: A50285BI\n      channel: 2\n");
	expect_open_string(SERIAL_OPEN, 0, NULL);
	expect_function_call(__wrap_ftdi_read_pins);
	will_return(__wrap_ftdi_read_pins, -2);
	will_return(ftdi_error_str, "USB device unavailable");
	expect_usb_close();
	assert_int_equal(power_ftdi_ops.get(&pw, &st), -ENODEV);
	assert_int_equal(st, POWER_UNKNOWN);
	assert_non_null(strstr(log_buf, "cannot read the pins: USB device unavailable"));
	close_ok();
}

static void test_ftdi_bitbang_refused(void **state)
{
	open_ok("      serial: A50285BI\n      channel: 2\n");
	expect_open_string(SERIAL_OPEN, 0, NULL);
	expect_read_pins(0x00);
	expect_function_call(__wrap_ftdi_set_bitmode);
	expect_value(__wrap_ftdi_set_bitmode, bitmask, 0xFF);
	expect_value(__wrap_ftdi_set_bitmode, mode, BITMODE_BITBANG);
	will_return(__wrap_ftdi_set_bitmode, -1);
	will_return(ftdi_error_str, "unable to configure bitbang mode");
	expect_usb_close();
	assert_int_equal(power_ftdi_ops.set(&pw, false), -EIO);
	assert_non_null(strstr(log_buf, "cannot enable bitbang mode: unable to configure"));
	close_ok();
}

/* ---- settings: refused before any USB traffic */

static void test_ftdi_settings_channel_out_of_range(void **state)
{
	assert_int_equal(open_fails("      serial: A50285BI\n      channel: 9\n"), -EINVAL);
	assert_string_equal(log_buf, "lab.yaml:6:16: board \"bbb-01\": power.channel 9 is out of "
	                             "range (1 to 8)\n");
	assert_null(pw.priv);
}

static void test_ftdi_settings_unknown_key(void **state)
{
	assert_int_equal(open_fails("      serial: A50285BI\n      chanel: 2\n"), -EINVAL);
	assert_string_equal(log_buf, "lab.yaml:6:7: board \"bbb-01\": power.chanel is not a known "
	                             "key here (known: driver, type, timeout, vid, pid, serial, "
	                             "usb_path, channel, active_low)\n");
}

static void test_ftdi_settings_need_exactly_one_selector(void **state)
{
	assert_int_equal(open_fails("      channel: 2\n"), -EINVAL);
	assert_string_equal(log_buf, "lab.yaml:4:7: board \"bbb-01\": power needs serial or "
	                             "usb_path to pick the relay board (the serial number as lsusb "
	                             "-v shows it, or the USB port path like 1-1.4 under "
	                             "/sys/bus/usb/devices)\n");
	log_buf[0] = '\0';
	assert_int_equal(open_fails("      serial: A50285BI\n      usb_path: 1-1.4\n"
	                            "      channel: 2\n"),
	                 -EINVAL);
	assert_non_null(strstr(log_buf, "lab.yaml:6:17: board \"bbb-01\": power.usb_path takes "
	                                "serial or usb_path, not both"));
}

static void test_ftdi_settings_bad_usb_path_and_ids(void **state)
{
	static const char *const bad_paths[] = {
	    "1-1..4", "1-", "x-1", "1-1.4.", "1:0", "1-1.2.3.4.5.6.7.8", "1:2:3", "-1"};

	for (size_t i = 0; i < sizeof(bad_paths) / sizeof(bad_paths[0]); i++) {
		char settings[128];

		log_buf[0] = '\0';
		snprintf(settings, sizeof(settings), "      usb_path: \"%s\"\n      channel: 2\n",
		         bad_paths[i]);
		assert_int_equal(open_fails(settings), -EINVAL);
		assert_non_null(strstr(log_buf, "lab.yaml:5:17: board \"bbb-01\": power.usb_path"));
		assert_non_null(strstr(log_buf, "is not a USB path: give bus-port[.port...]"));
	}
	log_buf[0] = '\0';
	assert_int_equal(open_fails("      vid: 0x10000\n      serial: A\n      channel: 2\n"),
	                 -EINVAL);
	assert_string_equal(log_buf, "lab.yaml:5:12: board \"bbb-01\": power.vid 65536 is out of "
	                             "range (0 to 65535)\n");
}

/* The shipped example lab file opens with this driver, board by board. */
static void test_ftdi_example_lab_file_opens(void **state)
{
	int n = 0;

	root = cfg_load_file("fixtures/lab-bbb-ftdi.yaml");
	assert_non_null(root);
	for (const struct cfg_node *b = cfg_get(root, "boards")->child; b; b = b->next, n++) {
		pw.board = cfg_get(b, "name")->value;
		expect_function_call(__wrap_ftdi_new);
		will_return(__wrap_ftdi_new, &fake_ftdi_ctx);
		assert_int_equal(power_ftdi_ops.open(&pw, cfg_get(b, "power")), 0);
		close_ok();
	}
	assert_true(n >= 4);
	assert_string_equal(log_buf, "");
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_ftdi_set_keeps_other_channels),
	    T(test_ftdi_set_off_clears_only_its_channel),
	    T(test_ftdi_active_low_inverts),
	    T(test_ftdi_status_reads_pins),
	    T(test_ftdi_open_by_serial_uses_vid_pid_serial),
	    T(test_ftdi_open_by_port_path),
	    T(test_ftdi_open_by_bus_address),
	    T(test_ftdi_warns_when_bitbang_mode_moved_pins),
	    T(test_ftdi_device_missing),
	    T(test_ftdi_port_path_missing),
	    T(test_ftdi_permission_denied),
	    T(test_ftdi_permission_denied_detaching_kernel_driver),
	    T(test_ftdi_busy_is_retried_until_free),
	    T(test_ftdi_busy_gives_up_at_the_deadline),
	    T(test_ftdi_write_error_closes_the_device),
	    T(test_ftdi_unplugged_while_reading),
	    T(test_ftdi_bitbang_refused),
	    T(test_ftdi_settings_channel_out_of_range),
	    T(test_ftdi_settings_unknown_key),
	    T(test_ftdi_settings_need_exactly_one_selector),
	    T(test_ftdi_settings_bad_usb_path_and_ids),
	    T(test_ftdi_example_lab_file_opens),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* tests/unit/test_storage_sdwire.c — the sdwire storage driver at the
 * libftdi1 seam (tests/unit/fakes/ftdi_fake.c): each switch is exactly
 * ftdi_new, ftdi_usb_open_desc_index(04e8, 6001, no description, the serial,
 * index 0), ftdi_set_bitmode(0xF1 to the host / 0xF0 to the board, mode 0x20
 * CBUS bitbang), ftdi_usb_close, ftdi_free; a missing SDWire and a failing
 * bitmode give messages naming the serial and the fix, and free the context.
 * The card's block device is found in a fake sysfs tree (HILCTL_SYSFS) as
 * the mass-storage sibling under the SDWire's hub, not a disk elsewhere. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/cfg.h"
#include "lib/log.h"
#include "storage/storage.h"
#include "fakes/ftdi_fake.h"

static char log_buf[4096];
static struct cfg_node *root;
static struct storage st;
static char sysroot[PATH_MAX];

static const struct cfg_node *load(const char *settings)
{
	char yaml[1024];

	cfg_free(root);
	snprintf(yaml, sizeof(yaml),
	         "boards:\n"
	         "  - name: rpi4-01\n"
	         "    storage:\n"
	         "      driver: sdwire\n"
	         "%s",
	         settings);
	root = cfg_load_buf("lab.yaml", yaml, strlen(yaml));
	assert_non_null(root);
	return cfg_get(cfg_get(root, "boards")->child, "storage");
}

static int setup(void **state)
{
	memset(&fake_ftdi_ctx, 0, sizeof(fake_ftdi_ctx));
	log_buf[0] = 0;
	log_capture(log_buf, sizeof(log_buf));
	return 0;
}

static int teardown(void **state)
{
	storage_close(&st);
	cfg_free(root);
	root = NULL;
	log_capture(NULL, 0);
	return 0;
}

static void open_sdwire(void)
{
	assert_int_equal(storage_open(&st, "rpi4-01", load("      serial: sdw-07\n")), 0);
}

static void expect_open(int code)
{
	expect_function_call(__wrap_ftdi_new);
	will_return(__wrap_ftdi_new, &fake_ftdi_ctx);
	expect_function_call(__wrap_ftdi_usb_open_desc_index);
	expect_value(__wrap_ftdi_usb_open_desc_index, vendor, 0x04e8);
	expect_value(__wrap_ftdi_usb_open_desc_index, product, 0x6001);
	expect_value(__wrap_ftdi_usb_open_desc_index, description, NULL);
	expect_string(__wrap_ftdi_usb_open_desc_index, serial, "sdw-07");
	expect_value(__wrap_ftdi_usb_open_desc_index, index, 0);
	will_return(__wrap_ftdi_usb_open_desc_index, code);
}

static void expect_bitmode(unsigned char mask, int code)
{
	expect_function_call(__wrap_ftdi_set_bitmode);
	expect_value(__wrap_ftdi_set_bitmode, bitmask, mask);
	expect_value(__wrap_ftdi_set_bitmode, mode, 0x20);
	will_return(__wrap_ftdi_set_bitmode, code);
}

static void expect_close_free(void)
{
	expect_function_call(__wrap_ftdi_usb_close);
	expect_function_call(__wrap_ftdi_free);
}

static void test_sdwire_to_host_sets_cbus0_high(void **state)
{
	open_sdwire();
	expect_open(0);
	expect_bitmode(0xF1, 0);
	expect_close_free();
	assert_int_equal(storage_to_host(&st), 0);
}

static void test_sdwire_to_board_sets_cbus0_low(void **state)
{
	open_sdwire();
	expect_open(0);
	expect_bitmode(0xF0, 0);
	expect_close_free();
	assert_int_equal(storage_to_board(&st), 0);
}

static void test_sdwire_missing_device_names_serial_and_factory_ids(void **state)
{
	open_sdwire();
	expect_open(-3);
	will_return(ftdi_error_str, "device not found");
	expect_function_call(__wrap_ftdi_free);
	assert_int_equal(storage_to_host(&st), -ENODEV);
	assert_non_null(strstr(log_buf, "board \"rpi4-01\": SDWire 04e8:6001 serial \"sdw-07\": "
	                                "not found"));
	assert_non_null(strstr(log_buf, "0403:6015 until sd-mux-ctrl --init"));
}

static void test_sdwire_permission_denied(void **state)
{
	open_sdwire();
	expect_open(-8);
	will_return(ftdi_error_str, "usb_open() failed");
	expect_function_call(__wrap_ftdi_free);
	assert_int_equal(storage_to_board(&st), -EACCES);
	assert_non_null(strstr(log_buf, "permission denied"));
}

static void test_sdwire_bitmode_failure_still_closes(void **state)
{
	open_sdwire();
	expect_open(0);
	expect_bitmode(0xF1, -1);
	will_return(ftdi_error_str, "USB device unavailable");
	expect_close_free();
	assert_int_equal(storage_to_host(&st), -EIO);
	assert_non_null(
	    strstr(log_buf, "setting CBUS bitbang 0xf1 failed: USB device unavailable"));
}

static void test_sdwire_needs_a_serial(void **state)
{
	assert_int_equal(storage_open(&st, "rpi4-01", load("      vid: 0x04e8\n")), -EINVAL);
	assert_non_null(strstr(log_buf, "lab.yaml:"));
	assert_non_null(strstr(log_buf, "serial"));
	assert_int_equal(storage_check(load("      serial: a\n      srial: b\n")), -EINVAL);
}

static void mkfile(const char *rel, const char *text)
{
	char path[PATH_MAX * 2], cmd[PATH_MAX * 3];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", sysroot, rel);
	snprintf(cmd, sizeof(cmd), "mkdir -p \"$(dirname '%s')\"", path);
	assert_int_equal(system(cmd), 0);
	if (!text) {
		assert_int_equal(mkdir(path, 0755), 0);
		return;
	}
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void usb_link(const char *name, const char *rel)
{
	char link[PATH_MAX * 2], target[PATH_MAX * 2];

	snprintf(link, sizeof(link), "%s/bus/usb/devices/%s", sysroot, name);
	snprintf(target, sizeof(target), "%s/%s", sysroot, rel);
	assert_int_equal(symlink(target, link), 0);
}

static void test_sdwire_device_is_the_mass_storage_sibling(void **state)
{
	char path[256], cmd[PATH_MAX * 2];

	snprintf(sysroot, sizeof(sysroot), "/tmp/hilctl-test-usb-XXXXXX");
	assert_non_null(mkdtemp(sysroot));
	setenv("HILCTL_SYSFS", sysroot, 1);
	/* Hub 1-1.4 holds the FT200X (1-1.4.2) and the card reader (1-1.4.1);
	 * another reader with a card sits on 1-1.3. */
	mkfile("devices/usb1/1-1/1-1.4/1-1.4.2/idVendor", "04e8\n");
	mkfile("devices/usb1/1-1/1-1.4/1-1.4.2/idProduct", "6001\n");
	mkfile("devices/usb1/1-1/1-1.4/1-1.4.2/serial", "sdw-07\n");
	mkfile("devices/usb1/1-1/1-1.4/1-1.4.1/idVendor", "0424\n");
	mkfile("devices/usb1/1-1/1-1.4/1-1.4.1/1-1.4.1:1.0/host3/target3:0:0/3:0:0:0/block/sdc",
	       NULL);
	mkfile("devices/usb1/1-1/1-1.3/idVendor", "0424\n");
	mkfile("devices/usb1/1-1/1-1.3/1-1.3:1.0/host2/target2:0:0/2:0:0:0/block/sdb", NULL);
	mkfile("bus/usb/devices/.keep", "");
	usb_link("1-1.4.2", "devices/usb1/1-1/1-1.4/1-1.4.2");
	usb_link("1-1.4.1", "devices/usb1/1-1/1-1.4/1-1.4.1");
	usb_link("1-1.3", "devices/usb1/1-1/1-1.3");
	open_sdwire();
	assert_int_equal(storage_device(&st, path, sizeof(path)), 0);
	assert_string_equal(path, "/dev/sdc");
	/* The card switched to the board: no block device beside the mux. */
	snprintf(cmd, sizeof(cmd), "rm -rf '%s/devices/usb1/1-1/1-1.4/1-1.4.1/1-1.4.1:1.0'",
	         sysroot);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(storage_device(&st, path, sizeof(path)), -ENODEV);
	assert_non_null(strstr(log_buf, "no mass-storage device beside it under hub"));
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", sysroot);
	assert_int_equal(system(cmd), 0);
	unsetenv("HILCTL_SYSFS");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_sdwire_to_host_sets_cbus0_high, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sdwire_to_board_sets_cbus0_low, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sdwire_missing_device_names_serial_and_factory_ids,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sdwire_permission_denied, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sdwire_bitmode_failure_still_closes, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_sdwire_needs_a_serial, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sdwire_device_is_the_mass_storage_sibling, setup,
	                                    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

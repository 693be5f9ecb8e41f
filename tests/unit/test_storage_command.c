/* tests/unit/test_storage_command.c — the command and usbsdmux storage
 * drivers with recording stand-in programs on PATH (written to a temporary
 * directory by the test): each records the argv it was given, one argument a
 * line, so the test sees exactly what ran — no shell (an argument with a
 * space stays one argument), {board} replaced, usbsdmux SG host|dut. A
 * failing program's exit code and output reach the message, a hanging one is
 * killed at the timeout, bad settings are refused with file:line:col, and
 * usbsdmux finds the card as the block device of its sg node's SCSI device
 * in a fake sysfs tree (HILCTL_SYSFS). */
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
#include "lib/clock.h"
#include "lib/log.h"
#include "storage/storage.h"

static char log_buf[4096];
static struct cfg_node *root;
static struct storage st;
static char bin[PATH_MAX], record[PATH_MAX + 16], old_path[8192];

static void write_program(const char *name, const char *body)
{
	char path[PATH_MAX + 64];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", bin, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "#!/bin/sh\n%s\n", body);
	fclose(f);
	assert_int_equal(chmod(path, 0755), 0);
}

#define RECORDER "printf '%s\\n' \"$(basename \"$0\")\" \"$@\" > \"$HILCTL_TEST_RECORD\""

static int setup_group(void **state)
{
	snprintf(bin, sizeof(bin), "/tmp/hilctl-test-bin-XXXXXX");
	assert_non_null(mkdtemp(bin));
	snprintf(record, sizeof(record), "%s/record", bin);
	write_program("mux-ctl", RECORDER);
	write_program("usbsdmux", RECORDER);
	write_program("mux-broken", "echo 'no mux with serial 42' >&2; exit 3");
	write_program("mux-hangs", "exec sleep 30");
	snprintf(old_path, sizeof(old_path), "%s", getenv("PATH"));
	{
		char path[sizeof(old_path) + PATH_MAX + 2];
		snprintf(path, sizeof(path), "%s:%s", bin, old_path);
		setenv("PATH", path, 1);
	}
	setenv("HILCTL_TEST_RECORD", record, 1);
	return 0;
}

static int teardown_group(void **state)
{
	char cmd[PATH_MAX + 16];

	setenv("PATH", old_path, 1);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", bin);
	return system(cmd);
}

static int setup(void **state)
{
	log_buf[0] = 0;
	log_capture(log_buf, sizeof(log_buf));
	unlink(record);
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

static const struct cfg_node *load(const char *settings)
{
	char yaml[2048];

	cfg_free(root);
	snprintf(yaml, sizeof(yaml),
	         "boards:\n"
	         "  - name: rpi4-01\n"
	         "    storage:\n"
	         "%s",
	         settings);
	root = cfg_load_buf("lab.yaml", yaml, strlen(yaml));
	assert_non_null(root);
	return cfg_get(cfg_get(root, "boards")->child, "storage");
}

static void assert_recorded(const char *want)
{
	char got[1024] = "";
	FILE *f = fopen(record, "r");
	size_t n;

	assert_non_null(f);
	n = fread(got, 1, sizeof(got) - 1, f);
	got[n] = 0;
	fclose(f);
	assert_string_equal(got, want);
}

static const char command_settings[] = "      driver: command\n"
                                       "      to_host: [mux-ctl, --board, '{board}', host side]\n"
                                       "      to_board: [mux-ctl, --board, '{board}', dut]\n"
                                       "      device: /dev/disk/by-id/usb-Generic_SD_0001-0:0\n";

static void test_command_runs_argv_without_a_shell(void **state)
{
	char path[256];

	assert_int_equal(storage_open(&st, "rpi4-01", load(command_settings)), 0);
	assert_int_equal(storage_to_host(&st), 0);
	assert_recorded("mux-ctl\n--board\nrpi4-01\nhost side\n");
	assert_int_equal(storage_to_board(&st), 0);
	assert_recorded("mux-ctl\n--board\nrpi4-01\ndut\n");
	assert_int_equal(storage_device(&st, path, sizeof(path)), 0);
	assert_string_equal(path, "/dev/disk/by-id/usb-Generic_SD_0001-0:0");
}

static void test_command_failure_reports_exit_code_and_output(void **state)
{
	assert_int_equal(storage_open(&st, "rpi4-01",
	                              load("      driver: command\n"
	                                   "      to_host: [mux-broken, x]\n"
	                                   "      to_board: [mux-ctl]\n"
	                                   "      device: /dev/sdz\n")),
	                 0);
	assert_int_equal(storage_to_host(&st), -EIO);
	assert_non_null(strstr(log_buf, "board \"rpi4-01\": storage to_host: mux-broken x exited "
	                                "with 3: no mux with serial 42"));
}

static void test_command_killed_at_its_timeout(void **state)
{
	int64_t start;

	assert_int_equal(storage_open(&st, "rpi4-01",
	                              load("      driver: command\n"
	                                   "      timeout: 200ms\n"
	                                   "      to_host: [mux-hangs]\n"
	                                   "      to_board: [mux-ctl]\n"
	                                   "      device: /dev/sdz\n")),
	                 0);
	start = clock_now_ns();
	assert_int_equal(storage_to_host(&st), -ETIMEDOUT);
	assert_true(clock_now_ns() - start < 3 * NS_PER_S);
	assert_non_null(strstr(log_buf, "did not finish within 0.2 s (killed)"));
}

static void test_command_missing_program(void **state)
{
	assert_int_equal(storage_open(&st, "rpi4-01",
	                              load("      driver: command\n"
	                                   "      to_host: [hilctl-no-such-program]\n"
	                                   "      to_board: [mux-ctl]\n"
	                                   "      device: /dev/sdz\n")),
	                 0);
	assert_int_equal(storage_to_host(&st), -ENOENT);
	assert_non_null(strstr(log_buf, "cannot run hilctl-no-such-program"));
}

static void test_command_bad_settings(void **state)
{
	assert_int_equal(storage_check(load("      driver: command\n"
	                                    "      to_host: [mux-ctl]\n"
	                                    "      to_board: [mux-ctl]\n"
	                                    "      device: sdb\n")),
	                 -EINVAL);
	assert_non_null(strstr(log_buf, "lab.yaml:7:15"));
	assert_non_null(strstr(log_buf, "not an absolute path"));
	assert_int_equal(storage_check(load("      driver: command\n"
	                                    "      to_host: [mux-ctl]\n"
	                                    "      device: /dev/sdb\n")),
	                 -EINVAL);
	assert_int_equal(storage_check(load("      driver: sdmux\n")), -EINVAL);
	assert_non_null(strstr(log_buf, "\"sdmux\" is not one of command, usbsdmux, sdwire"));
}

static void test_usbsdmux_runs_host_and_dut(void **state)
{
	assert_int_equal(storage_open(&st, "rpi4-01",
	                              load("      driver: usbsdmux\n"
	                                   "      sg: /dev/usb-sd-mux/id-000000000042\n")),
	                 0);
	assert_int_equal(storage_to_host(&st), 0);
	assert_recorded("usbsdmux\n/dev/usb-sd-mux/id-000000000042\nhost\n");
	assert_int_equal(storage_to_board(&st), 0);
	assert_recorded("usbsdmux\n/dev/usb-sd-mux/id-000000000042\ndut\n");
}

static void test_usbsdmux_device_is_the_sg_nodes_disk(void **state)
{
	char sys[PATH_MAX + 16], link[PATH_MAX + 16], settings[PATH_MAX + 128], path[256],
	    cmd[PATH_MAX * 2];
	FILE *f;

	/* A stable link to the mux's sg node (here a plain file named sg7),
	 * and sysfs's class/scsi_generic/sg7/device/block/sdd. */
	snprintf(sys, sizeof(sys), "%s/sys", bin);
	snprintf(cmd, sizeof(cmd), "mkdir -p %s/class/scsi_generic/sg7/device/block/sdd", sys);
	assert_int_equal(system(cmd), 0);
	snprintf(cmd, sizeof(cmd), "%s/sg7", bin);
	f = fopen(cmd, "w");
	assert_non_null(f);
	fclose(f);
	snprintf(link, sizeof(link), "%s/id-000000000042", bin);
	unlink(link);
	assert_int_equal(symlink(cmd, link), 0);
	setenv("HILCTL_SYSFS", sys, 1);
	snprintf(settings, sizeof(settings), "      driver: usbsdmux\n      sg: %s\n", link);
	assert_int_equal(storage_open(&st, "rpi4-01", load(settings)), 0);
	assert_int_equal(storage_device(&st, path, sizeof(path)), 0);
	assert_string_equal(path, "/dev/sdd");
	/* No card on the host side: no block entry. */
	snprintf(cmd, sizeof(cmd), "rmdir %s/class/scsi_generic/sg7/device/block/sdd", sys);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(storage_device(&st, path, sizeof(path)), -ENODEV);
	assert_non_null(strstr(log_buf, "has no block device"));
	unsetenv("HILCTL_SYSFS");
}

/* qemu: the card is the board's disk file, beside the lab file; the
 * switches do nothing (the board is off), a /dev path is not a disk file. */
static void test_qemu_device_is_the_disk_file_beside_the_lab(void **state)
{
	static const char yaml[] = "mux: {driver: qemu, file: disks/rst-01.img}\n"
	                           "abs: {driver: qemu, file: /srv/rst-02.img}\n"
	                           "dev: {driver: qemu, file: /dev/sdb}\n";
	struct cfg_node *lab = cfg_load_buf("/labs/desk/lab.yaml", yaml, strlen(yaml));
	struct storage s;
	char path[256];

	assert_non_null(lab);
	assert_int_equal(storage_open(&s, "rst-01", cfg_get(lab, "mux")), 0);
	assert_int_equal(storage_to_host(&s), 0);
	assert_int_equal(storage_device(&s, path, sizeof(path)), 0);
	assert_string_equal(path, "/labs/desk/disks/rst-01.img");
	assert_int_equal(storage_to_board(&s), 0);
	storage_close(&s);
	assert_int_equal(storage_open(&s, "rst-02", cfg_get(lab, "abs")), 0);
	assert_int_equal(storage_device(&s, path, sizeof(path)), 0);
	assert_string_equal(path, "/srv/rst-02.img");
	storage_close(&s);
	assert_int_equal(storage_check(cfg_get(lab, "dev")), -EINVAL);
	assert_non_null(strstr(log_buf, "/labs/desk/lab.yaml:3:"));
	assert_non_null(strstr(log_buf, "is not a disk image file"));
	cfg_free(lab);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_command_runs_argv_without_a_shell, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_command_failure_reports_exit_code_and_output,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_command_killed_at_its_timeout, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_command_missing_program, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_command_bad_settings, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_usbsdmux_runs_host_and_dut, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_usbsdmux_device_is_the_sg_nodes_disk, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_qemu_device_is_the_disk_file_beside_the_lab, setup,
	                                    teardown),
	};

	return cmocka_run_group_tests(tests, setup_group, teardown_group);
}

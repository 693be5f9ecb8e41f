/* tests/unit/test_postfault.c — the disk a fault's power on booted, frozen
 * before the board writes to it, kept as one qcow2 over the lab's image
 * (later writes never in it, two faults folded into one layer), never
 * overwritten, and installed under the board again, refused when the lab's
 * image changed. Disks are made and read with the real qemu-img/qemu-io. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/cfg.h"
#include "lib/clock.h"
#include "qemu/launch.h"
#include "qemu/overlay.h"
#include "qemu/postfault.h"

#define SS 512
#define DEADLINE (clock_now_ns() + 60 * NS_PER_S)

struct fixture {
	char dir[64], run_dir[96], lab_path[128], base[128];
	struct cfg_node *settings;
	struct qemu_config qc;
};

static int setup(void **state)
{
	static const char text[] =
	    "binary: q\ndrives: [{if: none, id: d0, format: raw, file: base.img, overlay: true}]\n";
	struct fixture *f = calloc(1, sizeof(*f));
	uint8_t fill[64 * SS];
	FILE *b;

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_postfault-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->run_dir, sizeof(f->run_dir), "%s/run", f->dir);
	snprintf(f->lab_path, sizeof(f->lab_path), "%s/lab.yaml", f->dir);
	snprintf(f->base, sizeof(f->base), "%s/base.img", f->dir);
	assert_int_equal(mkdir(f->run_dir, 0700), 0);
	b = fopen(f->base, "wb");
	assert_non_null(b);
	memset(fill, 0x11, sizeof(fill));
	assert_int_equal(fwrite(fill, 1, sizeof(fill), b), sizeof(fill));
	fclose(b);
	f->settings = cfg_load_buf(f->lab_path, text, strlen(text));
	assert_non_null(f->settings);
	assert_int_equal(qemu_config_parse(&f->qc, f->settings), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	qemu_config_free(&f->qc);
	cfg_free(f->settings);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* The board writes byte value to sector s of its disk (the overlay). */
static void board_writes(struct fixture *f, int s, int value)
{
	char cmd[400];

	snprintf(cmd, sizeof(cmd),
	         "qemu-io -f qcow2 -c 'write -P %d %d %d' %s/overlay-0.qcow2 >/dev/null", value,
	         s * SS, SS, f->run_dir);
	assert_int_equal(system(cmd), 0);
}

/* The first byte of sectors 0..3 of a qcow2 image. */
static void read_disk(const char *image, uint8_t first[4])
{
	char cmd[512], out[300];
	uint8_t sector[SS];
	FILE *p;

	snprintf(out, sizeof(out), "%s.raw", image);
	snprintf(cmd, sizeof(cmd), "qemu-img convert -f qcow2 -O raw %s %s", image, out);
	assert_int_equal(system(cmd), 0);
	p = fopen(out, "rb");
	assert_non_null(p);
	for (int s = 0; s < 4; s++) {
		assert_int_equal(fread(sector, 1, SS, p), SS);
		first[s] = sector[0];
	}
	fclose(p);
	unlink(out);
}

static void test_the_disk_of_the_last_fault_is_kept_and_boots_again(void **state)
{
	struct fixture *f = *state;
	char out[160], why[400] = "", overlay[160];
	uint8_t d[4];

	snprintf(out, sizeof(out), "%s/kept.qcow2", f->dir);
	snprintf(overlay, sizeof(overlay), "%s/overlay-0.qcow2", f->run_dir);
	assert_int_equal(qemu_overlays_make(&f->qc, "b", f->run_dir, true, DEADLINE), 0);
	/* No fault's power on yet: nothing to keep. */
	assert_int_equal(qemu_postfault_keep(&f->qc, f->run_dir, out, DEADLINE, why, sizeof(why)),
	                 0);
	board_writes(f, 1, 0x22);
	assert_int_equal(qemu_postfault_mark(&f->qc, "b", f->run_dir, DEADLINE), 0); /* fault 1 */
	board_writes(f, 1, 0x33);
	board_writes(f, 2, 0x44);
	assert_int_equal(qemu_postfault_mark(&f->qc, "b", f->run_dir, DEADLINE), 0); /* fault 2 */
	board_writes(f, 3, 0x55); /* the recovery boot's own write: not in the kept disk */
	assert_int_equal(qemu_postfault_keep(&f->qc, f->run_dir, out, DEADLINE, why, sizeof(why)),
	                 1);
	read_disk(out, d);
	assert_int_equal(d[0], 0x11);
	assert_int_equal(d[1], 0x33);
	assert_int_equal(d[2], 0x44);
	assert_int_equal(d[3], 0x11);
	/* Never overwritten. */
	assert_int_equal(qemu_postfault_keep(&f->qc, f->run_dir, out, DEADLINE, why, sizeof(why)),
	                 -EEXIST);
	/* The next run forgets the frozen layers... */
	qemu_postfault_reset(&f->qc, f->run_dir);
	assert_int_equal(qemu_overlays_make(&f->qc, "b", f->run_dir, true, DEADLINE), 0);
	snprintf(why, sizeof(why), "%s/postfault-0-1.qcow2", f->run_dir);
	assert_int_equal(access(why, F_OK), -1);
	/* ...and the kept disk boots again, read and never written. */
	assert_int_equal(
	    qemu_postfault_install(&f->qc, f->run_dir, out, DEADLINE, why, sizeof(why)), 0);
	read_disk(overlay, d);
	assert_int_equal(d[1], 0x33);
	assert_int_equal(d[2], 0x44);
	assert_int_equal(d[3], 0x11);
	board_writes(f, 1, 0x66);
	read_disk(out, d);
	assert_int_equal(d[1], 0x33);
}

static void test_a_kept_disk_over_a_changed_image_is_refused(void **state)
{
	struct fixture *f = *state;
	char out[160], why[400] = "";

	snprintf(out, sizeof(out), "%s/kept.qcow2", f->dir);
	assert_int_equal(qemu_overlays_make(&f->qc, "b", f->run_dir, true, DEADLINE), 0);
	assert_int_equal(qemu_postfault_mark(&f->qc, "b", f->run_dir, DEADLINE), 0);
	assert_int_equal(qemu_postfault_keep(&f->qc, f->run_dir, out, DEADLINE, why, sizeof(why)),
	                 1);
	/* The lab's image rebuilt since (a new mtime). */
	struct timespec times[2] = {{0, UTIME_OMIT}, {12345, 0}};
	assert_int_equal(utimensat(AT_FDCWD, f->base, times, 0), 0);
	assert_int_equal(
	    qemu_postfault_install(&f->qc, f->run_dir, out, DEADLINE, why, sizeof(why)), -ESTALE);
	assert_non_null(strstr(why, "changed since the disk was kept"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_the_disk_of_the_last_fault_is_kept_and_boots_again,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_a_kept_disk_over_a_changed_image_is_refused, setup,
	                                    teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

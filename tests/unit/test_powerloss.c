/* tests/unit/test_powerloss.c — the lab file's power_loss: setting, the
 * drive it puts under blklogwrites, and what a power on makes of the log a
 * power off left: a durable disk with the flushed writes and the model's
 * pick of the rest, a fresh overlay and log over it, reproducible by seed.
 * Disks are made and read with the real qemu-img/qemu-io. */
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
#include "lib/log.h"
#include "qemu/launch.h"
#include "qemu/overlay.h"
#include "qemu/powerloss.h"
#include "qemu/wlog.h"

#define SS 512

struct fixture {
	char dir[64], run_dir[96], lab_path[128];
	struct cfg_node *settings;
	struct qemu_config qc;
	char log[4096];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_powerloss-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->run_dir, sizeof(f->run_dir), "%s/run", f->dir);
	snprintf(f->lab_path, sizeof(f->lab_path), "%s/lab.yaml", f->dir);
	assert_int_equal(mkdir(f->run_dir, 0700), 0);
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

static int parse(struct fixture *f, const char *text)
{
	int rc;

	cfg_free(f->settings);
	f->settings = cfg_load_buf(f->lab_path, text, strlen(text));
	assert_non_null(f->settings);
	log_capture(f->log, sizeof(f->log));
	rc = qemu_config_parse(&f->qc, f->settings);
	log_capture(NULL, 0);
	return rc;
}

static void assert_refused(struct fixture *f, const char *text, const char *message)
{
	assert_int_equal(parse(f, text), -EINVAL);
	if (!strstr(f->log, message))
		fail_msg("error \"%s\" does not say \"%s\"", f->log, message);
	assert_non_null(strstr(f->log, "lab.yaml:"));
}

static void test_power_loss_settings(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(parse(f, "binary: q\n"), 0);
	assert_int_equal(f->qc.loss_model, WLOG_MODEL_QUIT);
	qemu_config_free(&f->qc);
	assert_int_equal(parse(f, "binary: q\npower_loss: {seed: 5}\n"
	                          "drives: [{if: none, id: d0, file: a.img, overlay: true}]\n"),
	                 0);
	assert_int_equal(f->qc.loss_model, WLOG_MODEL_STRICT); /* the default */
	assert_int_equal(f->qc.loss_seed, 5);
	qemu_config_free(&f->qc);
	assert_int_equal(parse(f, "binary: q\npower_loss: torn\n"
	                          "drives: [{if: none, id: d0, file: a.img, overlay: true}]\n"),
	                 0);
	assert_int_equal(f->qc.loss_model, WLOG_MODEL_TORN);
	qemu_config_free(&f->qc);
	assert_int_equal(parse(f, "binary: q\npower_loss: quit\n"), 0);
	qemu_config_free(&f->qc);
	assert_int_equal(parse(f, "binary: q\npower_loss: {model: torn, tear: 16, tear_fill: ff}\n"
	                          "drives: [{if: none, id: d0, file: a.img, overlay: true}]\n"),
	                 0);
	assert_int_equal(f->qc.loss_tear, 16);
	assert_int_equal(f->qc.loss_tear_fill, WLOG_FILL_FF);
	qemu_config_free(&f->qc);
	/* Said, not refused: strict tears nothing. */
	assert_int_equal(parse(f, "binary: q\npower_loss: {model: strict, tear: 16}\n"
	                          "drives: [{if: none, id: d0, file: a.img, overlay: true}]\n"),
	                 0);
	assert_non_null(strstr(f->log, "applies to model torn only"));
	qemu_config_free(&f->qc);
	assert_refused(f, "binary: q\npower_loss: {model: torn, tear: 24}\n",
	               "24 is not a power of two");
	assert_refused(f, "binary: q\npower_loss: {model: torn, tear: 8}\n", "tear");
	assert_refused(f, "binary: q\npower_loss: {model: torn, tear_fill: erased}\n",
	               "\"erased\" is not one of old, zero, ff");

	assert_refused(f, "binary: q\npower_loss: strict\n", "needs a drive with overlay: true");
	assert_refused(f, "binary: q\npower_loss: {model: maybe}\n",
	               "\"maybe\" is not one of quit, none, all, strict, torn");
	assert_refused(f, "binary: q\npower_loss: {model: all, sed: 1}\n",
	               "sed is not a known key");
	assert_refused(f,
	               "binary: q\npower_loss: all\n"
	               "drives: [{if: none, file: a.img, overlay: true, cache: unsafe}]\n",
	               "drops the guest's flushes");
	assert_refused(f,
	               "binary: q\npower_loss: all\n"
	               "drives: [{if: none, file: a.img, overlay: true, cache.no-flush: 'on'}]\n",
	               "drops the guest's flushes");
}

static void test_power_loss_drive_runs_under_blklogwrites(void **state)
{
	struct fixture *f = *state;
	char **argv;
	bool found = false;

	assert_int_equal(parse(f, "binary: q\nnetdev: none\npower_loss: strict\n"
	                          "drives: [{if: pflash, file: env.img},\n"
	                          "         {if: none, id: disk0, format: raw, file: d.img, "
	                          "overlay: true}]\n"),
	                 0);
	assert_int_equal(qemu_build_argv(&f->qc, "b1", "/r", false, &argv), 0);
	for (size_t i = 0; argv[i]; i++)
		if (strcmp(argv[i], "if=none,id=disk0,driver=blklogwrites,file.driver=qcow2,"
		                    "file.file.driver=file,file.file.filename=/r/overlay-1.qcow2,"
		                    "log.driver=file,log.filename=/r/wlog-1.log,"
		                    "log.cache.no-flush=on,log-sector-size=512,"
		                    "log-super-update-interval=1") == 0)
			found = true;
	if (!found)
		for (size_t i = 0; argv[i]; i++)
			print_message("argv[%zu] %s\n", i, argv[i]);
	assert_true(found);
	qemu_argv_free(argv);
}

static char *path_in(const struct fixture *f, const char *name)
{
	static char path[2][160];
	static int k;

	k ^= 1;
	snprintf(path[k], sizeof(path[k]), "%s/%s", f->run_dir, name);
	return path[k];
}

static bool exists(const struct fixture *f, const char *name)
{
	return access(path_in(f, name), F_OK) == 0;
}

/* The first byte of each of the 64 sectors of a disk image (converted to
 * raw by qemu-img). */
static void read_disk(const char *image, uint8_t first[64])
{
	char cmd[512], out[200];
	uint8_t sector[SS];
	FILE *p;

	snprintf(out, sizeof(out), "%s.raw", image);
	snprintf(cmd, sizeof(cmd), "qemu-img convert -f qcow2 -O raw %s %s", image, out);
	assert_int_equal(system(cmd), 0);
	p = fopen(out, "rb");
	assert_non_null(p);
	for (int s = 0; s < 64; s++) {
		assert_int_equal(fread(sector, 1, SS, p), SS);
		first[s] = sector[0];
	}
	fclose(p);
	unlink(out);
}

/* The board's base image (64 sectors of 0x11) and a lab with model. */
static void board(struct fixture *f, const char *model)
{
	char text[512], base[128];
	uint8_t fill[64 * SS];
	FILE *b;

	snprintf(base, sizeof(base), "%s/base.img", f->dir);
	b = fopen(base, "wb");
	assert_non_null(b);
	memset(fill, 0x11, sizeof(fill));
	assert_int_equal(fwrite(fill, 1, sizeof(fill), b), sizeof(fill));
	fclose(b);
	snprintf(text, sizeof(text),
	         "binary: q\npower_loss: {model: %s, seed: 3}\n"
	         "drives: [{if: none, id: d0, format: raw, file: base.img, overlay: true}]\n",
	         model);
	qemu_config_free(&f->qc);
	assert_int_equal(parse(f, text), 0);
}

/* What a guest that wrote sector 1 (0xa1), flushed, then wrote sectors
 * 2..5 (0xa2..0xa5) without a flush leaves in the log. */
static void guest_session(struct fixture *f)
{
	struct wlog_writer *ww;
	uint8_t data[SS];

	assert_int_equal(wlog_writer_open(path_in(f, "wlog-0.log"), SS, &ww), 0);
	memset(data, 0xa1, SS);
	assert_int_equal(wlog_writer_add(ww, 1, 1, 0, data), 0);
	assert_int_equal(wlog_writer_add(ww, 0, 0, WLOG_FLUSH, NULL), 0);
	for (int s = 2; s <= 5; s++) {
		memset(data, 0xa0 + s, SS);
		assert_int_equal(wlog_writer_add(ww, (uint64_t)s, 1, 0, data), 0);
	}
	assert_int_equal(wlog_writer_close(ww), 0);
}

static int power_on(struct fixture *f, uint64_t run_seed)
{
	int rc;

	log_capture(f->log, sizeof(f->log));
	rc = qemu_power_loss_power_on(&f->qc, "b1", f->run_dir, run_seed, 0, NULL,
	                              clock_now_ns() + 30 * NS_PER_S);
	if (rc == 0)
		rc = qemu_overlays_make(&f->qc, "b1", f->run_dir, false,
		                        clock_now_ns() + 30 * NS_PER_S);
	log_capture(NULL, 0);
	return rc;
}

static void test_power_on_after_a_cut_keeps_flushed_writes_only_under_none(void **state)
{
	struct fixture *f = *state;
	uint8_t disk[64];

	board(f, "none");
	assert_int_equal(power_on(f, 1), 0);
	assert_true(exists(f, "overlay-0.qcow2"));
	assert_true(exists(f, "wlog-0.log")); /* empty, for blklogwrites */
	assert_false(exists(f, "durable-0-1.qcow2"));
	guest_session(f);
	/* The power off left the log; the next power on applies the model. */
	assert_int_equal(power_on(f, 1), 0);
	assert_true(exists(f, "durable-0-1.qcow2"));
	assert_true(exists(f, "wlog-0-cut1.log")); /* kept for hilctl wlog build */
	read_disk(path_in(f, "durable-0-1.qcow2"), disk);
	assert_int_equal(disk[1], 0xa1);
	for (int s = 2; s <= 5; s++)
		assert_int_equal(disk[s], 0x11);
	/* The board now runs on a fresh overlay over that disk. */
	read_disk(path_in(f, "overlay-0.qcow2"), disk);
	assert_int_equal(disk[1], 0xa1);
	assert_int_equal(disk[2], 0x11);
	/* An empty log (no write since) makes no new disk. */
	assert_int_equal(power_on(f, 1), 0);
	assert_false(exists(f, "durable-0-2.qcow2"));
	/* prepare forgets them all. */
	qemu_power_loss_reset(&f->qc, f->run_dir);
	assert_false(exists(f, "durable-0-1.qcow2") || exists(f, "wlog-0-cut1.log") ||
	             exists(f, "wlog-0.log"));
}

/* Which of sectors 2..5 a strict cut with run_seed kept, as a bit mask. */
static unsigned strict_cut(struct fixture *f, uint64_t run_seed)
{
	uint8_t disk[64];
	unsigned kept = 0;

	qemu_power_loss_reset(&f->qc, f->run_dir);
	assert_int_equal(
	    qemu_overlays_make(&f->qc, "b1", f->run_dir, true, clock_now_ns() + 30 * NS_PER_S), 0);
	guest_session(f);
	assert_int_equal(power_on(f, run_seed), 0);
	read_disk(path_in(f, "durable-0-1.qcow2"), disk);
	assert_int_equal(disk[1], 0xa1); /* flushed: always there */
	for (int s = 2; s <= 5; s++) {
		assert_true(disk[s] == 0x11 || disk[s] == 0xa0 + s);
		kept |= (unsigned)(disk[s] != 0x11) << s;
	}
	return kept;
}

static void test_strict_cut_is_a_function_of_the_run_seed(void **state)
{
	struct fixture *f = *state;
	unsigned first, seen_any = 0, seen_all = ~0u;

	board(f, "strict");
	first = strict_cut(f, 42);
	assert_int_equal(strict_cut(f, 42), first);
	for (uint64_t seed = 1; seed <= 4; seed++) {
		unsigned kept = strict_cut(f, seed);
		seen_any |= kept;
		seen_all &= kept;
	}
	/* Across seeds every write was kept once and dropped once. */
	assert_int_equal(seen_any, 0x3c);
	assert_int_equal(seen_all & 0x3c, 0);
}

static void test_unreadable_log_stops_the_power_on(void **state)
{
	struct fixture *f = *state;
	FILE *g;

	board(f, "strict");
	assert_int_equal(power_on(f, 1), 0);
	g = fopen(path_in(f, "wlog-0.log"), "wb");
	assert_non_null(g);
	fputs("not a log, but long enough to hold a superblock", g);
	fclose(g);
	assert_int_equal(power_on(f, 1), -EINVAL);
	assert_non_null(strstr(f->log, "write log of drive 0 is unreadable"));
	assert_non_null(strstr(f->log, "bad magic"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_power_loss_settings, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_power_loss_drive_runs_under_blklogwrites, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(
	        test_power_on_after_a_cut_keeps_flushed_writes_only_under_none, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_strict_cut_is_a_function_of_the_run_seed, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_unreadable_log_stops_the_power_on, setup,
	                                    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

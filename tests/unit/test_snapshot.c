/* tests/unit/test_snapshot.c — starting runs from a saved machine: which
 * machines can be saved (and the words when not), the snapshot's name
 * changing with its key and its base images, and save/restore against a fake
 * QEMU on a socketpair: stop, savevm, the overlays copied aside and back. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/cfg.h"
#include "lib/clock.h"
#include "qemu/launch.h"
#include "qemu/qmp.h"
#include "qemu/snapshot.h"

struct fixture {
	char dir[64];
	char lab[96];
	struct cfg_node *root;
	struct qemu_config qc;
};

static void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static char *read_file(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return NULL;
	n = read(fd, buf, size - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	strcpy(f->dir, "/tmp/test_snapshot.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->lab, sizeof(f->lab), "%s/lab.yaml", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	if (f->root)
		qemu_config_free(&f->qc);
	cfg_free(f->root);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static void load(struct fixture *f, const char *settings)
{
	if (f->root)
		qemu_config_free(&f->qc);
	cfg_free(f->root);
	f->root = cfg_load_buf(f->lab, settings, strlen(settings));
	assert_non_null(f->root);
	assert_int_equal(qemu_config_parse(&f->qc, f->root), 0);
}

#define DISKS                                                                                      \
	"binary: q\ndrives:\n"                                                                     \
	"  - {if: pflash, unit: 1, format: raw, file: env.img, readonly: 'on'}\n"                  \
	"  - {if: none, id: disk0, format: raw, file: disk.img, overlay: true}\n"

static void assert_refused(struct fixture *f, const char *settings, const char *words)
{
	char why[400] = "";

	load(f, settings);
	assert_int_equal(qemu_snapshot_check(&f->qc, why, sizeof(why)), -EINVAL);
	if (!strstr(why, words))
		fail_msg("refusal \"%s\" does not say \"%s\"", why, words);
}

static void test_snapshot_needs_overlays_or_readonly_drives(void **state)
{
	struct fixture *f = *state;
	char why[400] = "";

	load(f, DISKS);
	assert_int_equal(qemu_snapshot_check(&f->qc, why, sizeof(why)), 0);
	assert_refused(f, "binary: q\ndrives: [{if: none, id: d, format: raw, file: disk.img}]\n",
	               "drive 1 (disk.img) is written in place");
	assert_refused(f,
	               "binary: q\ndrives: [{kind: blockdev, node-name: d, driver: file, "
	               "filename: disk.img}]\n",
	               "drive 1 is a -blockdev");
	assert_refused(f, "binary: q\npflash: [code.img]\n", "pflash: images are written in place");
}

static void test_snapshot_and_power_loss_model_refuse_each_other(void **state)
{
	struct fixture *f = *state;

	assert_refused(f, DISKS "power_loss: {model: strict}\n",
	               "power-loss model \"strict\" logs writes through blklogwrites");
}

static void test_snapshot_name_follows_key_and_base_image(void **state)
{
	struct fixture *f = *state;
	char disk[128], *a, *b, *c, *d;
	struct timeval later[2] = {{1000, 0}, {1000, 0}};

	snprintf(disk, sizeof(disk), "%s/disk.img", f->dir);
	write_file(disk, "base");
	snprintf(disk, sizeof(disk), "%s/env.img", f->dir);
	write_file(disk, "env");
	load(f, DISKS);
	a = qemu_snapshot_dir(&f->qc, f->dir, "cut-write\nsetup");
	b = qemu_snapshot_dir(&f->qc, f->dir, "cut-write\nsetup");
	c = qemu_snapshot_dir(&f->qc, f->dir, "cut-write\nother setup");
	assert_non_null(a);
	assert_string_equal(a, b);
	assert_string_not_equal(a, c);
	assert_int_equal(strncmp(a, f->dir, strlen(f->dir)), 0);
	/* A rebuilt base image is another machine. */
	snprintf(disk, sizeof(disk), "%s/disk.img", f->dir);
	assert_int_equal(utimes(disk, later), 0);
	d = qemu_snapshot_dir(&f->qc, f->dir, "cut-write\nsetup");
	assert_string_not_equal(a, d);
	/* No base image, no name. */
	unlink(disk);
	assert_null(qemu_snapshot_dir(&f->qc, f->dir, "cut-write\nsetup"));
	free(a);
	free(b);
	free(c);
	free(d);
}

static void put(int fd, const char *text)
{
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
}

/* The commands the client sent so far, one per line, as their names. */
static void sent_names(int fd, char *out, size_t size)
{
	char buf[4096];
	ssize_t n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	char *p;

	out[0] = '\0';
	buf[n > 0 ? n : 0] = '\0';
	for (p = buf; (p = strstr(p, "\"execute\":\""));) {
		char *name = p + strlen("\"execute\":\""), *end = strchr(name, '"');
		snprintf(out + strlen(out), size - strlen(out), "%.*s ", (int)(end - name), name);
		p = end;
	}
}

static struct qmp *fake_qemu(int *server, const char *answers)
{
	struct qmp *q;
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	put(sv[1],
	    "{\"QMP\": {\"version\": {}, \"capabilities\": []}}\n{\"return\": {}, \"id\": 1}\n");
	put(sv[1], answers);
	assert_int_equal(qmp_open_fd(&q, sv[0], clock_now_ns() + NS_PER_S, NULL, 0), 0);
	*server = sv[1];
	return q;
}

static void test_snapshot_save_copies_the_overlays_and_restore_puts_them_back(void **state)
{
	struct fixture *f = *state;
	char path[160], other[160], buf[64], why[400] = "", names[512], *dir;
	struct qmp *q;
	int server;

	snprintf(path, sizeof(path), "%s/disk.img", f->dir);
	write_file(path, "base");
	snprintf(path, sizeof(path), "%s/env.img", f->dir);
	write_file(path, "env");
	load(f, DISKS);
	dir = qemu_snapshot_dir(&f->qc, f->dir, "k");
	assert_non_null(dir);
	/* Nothing saved yet: the run boots. */
	assert_int_equal(qemu_snapshot_restore(&f->qc, f->dir, dir, why, sizeof(why)), 0);
	/* An older snapshot of this board goes when a new one is saved. */
	snprintf(other, sizeof(other), "%s/snapshot-0000000000000001", f->dir);
	assert_int_equal(mkdir(other, 0755), 0);
	snprintf(path, sizeof(path), "%s/overlay-1.qcow2", f->dir);
	write_file(path, "saved machine");
	snprintf(path, sizeof(path), "%s/overlay-1.qcow2.base", f->dir);
	write_file(path, "base id\n");
	q = fake_qemu(&server, "{\"return\": {}, \"id\": 2}\n{\"return\": \"\", \"id\": 3}\n"
	                       "{\"return\": {}, \"id\": 4}\n");
	assert_int_equal(
	    qemu_snapshot_save(&f->qc, q, f->dir, dir, clock_now_ns() + NS_PER_S, why, sizeof(why)),
	    0);
	sent_names(server, names, sizeof(names));
	assert_string_equal(names, "qmp_capabilities stop human-monitor-command cont ");
	assert_int_equal(access(other, F_OK), -1);
	/* The run writes its overlay; the next run gets the saved one back. */
	snprintf(path, sizeof(path), "%s/overlay-1.qcow2", f->dir);
	write_file(path, "after the update");
	assert_int_equal(qemu_snapshot_restore(&f->qc, f->dir, dir, why, sizeof(why)), 1);
	assert_string_equal(read_file(path, buf, sizeof(buf)), "saved machine");
	snprintf(path, sizeof(path), "%s/overlay-1.qcow2.base", f->dir);
	assert_string_equal(read_file(path, buf, sizeof(buf)), "base id\n");
	qmp_close(q);
	close(server);
	free(dir);
}

static void test_snapshot_savevm_error_is_reported_and_the_machine_resumes(void **state)
{
	struct fixture *f = *state;
	char path[160], why[400] = "", names[512], *dir;
	struct qmp *q;
	int server;

	snprintf(path, sizeof(path), "%s/disk.img", f->dir);
	write_file(path, "base");
	snprintf(path, sizeof(path), "%s/env.img", f->dir);
	write_file(path, "env");
	load(f, DISKS);
	dir = qemu_snapshot_dir(&f->qc, f->dir, "k");
	assert_non_null(dir);
	q = fake_qemu(&server,
	              "{\"return\": {}, \"id\": 2}\n"
	              "{\"return\": \"Error: Device 'pflash1' is writable but does not "
	              "support snapshots\\r\\n\", \"id\": 3}\n{\"return\": {}, \"id\": 4}\n");
	assert_int_equal(
	    qemu_snapshot_save(&f->qc, q, f->dir, dir, clock_now_ns() + NS_PER_S, why, sizeof(why)),
	    -EIO);
	assert_non_null(strstr(why, "savevm: Error: Device 'pflash1' is writable"));
	sent_names(server, names, sizeof(names));
	assert_string_equal(names, "qmp_capabilities stop human-monitor-command cont ");
	assert_int_equal(access(dir, F_OK), -1);
	qmp_close(q);
	close(server);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_snapshot_needs_overlays_or_readonly_drives, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_snapshot_and_power_loss_model_refuse_each_other,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_snapshot_name_follows_key_and_base_image, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(
	        test_snapshot_save_copies_the_overlays_and_restore_puts_them_back, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_snapshot_savevm_error_is_reported_and_the_machine_resumes, setup, teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

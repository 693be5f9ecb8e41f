/* tests/unit/test_storage_blockdev.c — storage/blockdev.c's safety checks
 * from fixtures: mountinfo lines (tests/unit/data/storage/mountinfo*) with
 * escaped mount points and optional fields, a mount of any partition found by
 * major:minor, the host's root and boot disks through partitions and through
 * LVM (device-mapper slaves) in a fake sysfs tree (HILCTL_SYSFS), and the
 * size and identity checks on an image file target. Loop devices are tested
 * for real in tests/integration/test_flash.py. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/clock.h"
#include "storage/blockdev.h"

#define DATA "tests/unit/data/storage/"

static char root[PATH_MAX];

static void put(const char *rel, const char *text)
{
	char path[PATH_MAX * 2], dir[PATH_MAX * 2], cmd[PATH_MAX * 3];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	snprintf(dir, sizeof(dir), "%s", path);
	*strrchr(dir, '/') = 0;
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", dir);
	assert_int_equal(system(cmd), 0);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void link_dev(const char *majmin, const char *target_rel)
{
	char link[PATH_MAX * 2], target[PATH_MAX * 2];

	snprintf(link, sizeof(link), "%s/dev/block/%s", root, majmin);
	snprintf(target, sizeof(target), "%s/%s", root, target_rel);
	assert_int_equal(symlink(target, link), 0);
}

/* sda (8:0) with sda1, sda2; sdb (8:16) with sdb1; nvme0n1 (259:0) with
 * p1 (boot) and p3 under LVM's dm-1 (253:1). */
static int make_sysfs(void **state)
{
	char cmd[PATH_MAX * 2];

	snprintf(root, sizeof(root), "/tmp/hilctl-test-sysfs-XXXXXX");
	assert_non_null(mkdtemp(root));
	snprintf(cmd, sizeof(cmd), "mkdir -p %s/dev/block", root);
	assert_int_equal(system(cmd), 0);
	put("devices/pci0/ata1/block/sda/dev", "8:0\n");
	put("devices/pci0/ata1/block/sda/sda1/dev", "8:1\n");
	put("devices/pci0/ata1/block/sda/sda1/partition", "1\n");
	put("devices/pci0/ata1/block/sda/sda2/dev", "8:2\n");
	put("devices/pci0/ata1/block/sda/sda2/partition", "2\n");
	put("devices/usb1/block/sdb/dev", "8:16\n");
	put("devices/usb1/block/sdb/sdb1/dev", "8:17\n");
	put("devices/usb1/block/sdb/sdb1/partition", "1\n");
	put("devices/pci0/nvme/block/nvme0n1/dev", "259:0\n");
	put("devices/pci0/nvme/block/nvme0n1/nvme0n1p1/dev", "259:1\n");
	put("devices/pci0/nvme/block/nvme0n1/nvme0n1p1/partition", "1\n");
	put("devices/pci0/nvme/block/nvme0n1/nvme0n1p3/dev", "259:3\n");
	put("devices/pci0/nvme/block/nvme0n1/nvme0n1p3/partition", "3\n");
	put("devices/virtual/block/dm-1/dev", "253:1\n");
	snprintf(cmd, sizeof(cmd), "%s/devices/virtual/block/dm-1/slaves", root);
	assert_int_equal(mkdir(cmd, 0755), 0);
	{
		char link[PATH_MAX * 2], target[PATH_MAX * 2];
		snprintf(link, sizeof(link), "%s/devices/virtual/block/dm-1/slaves/nvme0n1p3",
		         root);
		snprintf(target, sizeof(target), "%s/devices/pci0/nvme/block/nvme0n1/nvme0n1p3",
		         root);
		assert_int_equal(symlink(target, link), 0);
	}
	link_dev("8:0", "devices/pci0/ata1/block/sda");
	link_dev("8:1", "devices/pci0/ata1/block/sda/sda1");
	link_dev("8:2", "devices/pci0/ata1/block/sda/sda2");
	link_dev("8:16", "devices/usb1/block/sdb");
	link_dev("8:17", "devices/usb1/block/sdb/sdb1");
	link_dev("259:0", "devices/pci0/nvme/block/nvme0n1");
	link_dev("259:1", "devices/pci0/nvme/block/nvme0n1/nvme0n1p1");
	link_dev("259:3", "devices/pci0/nvme/block/nvme0n1/nvme0n1p3");
	link_dev("253:1", "devices/virtual/block/dm-1");
	setenv("HILCTL_SYSFS", root, 1);
	return 0;
}

static int remove_sysfs(void **state)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	assert_int_equal(system(cmd), 0);
	unsetenv("HILCTL_SYSFS");
	return 0;
}

static void test_blockdev_mount_of_a_partition_found_by_majmin(void **state)
{
	dev_t sdb[] = {makedev(8, 16), makedev(8, 17)};
	dev_t sdc[] = {makedev(8, 32), makedev(8, 33)};
	char where[PATH_MAX];

	assert_int_equal(blockdev_find_mount(DATA "mountinfo", sdb, 2, where, sizeof(where)), 1);
	assert_string_equal(where, "/media/card one"); /* \040 unescaped */
	assert_int_equal(blockdev_find_mount(DATA "mountinfo", sdc, 2, where, sizeof(where)), 0);
	assert_int_equal(blockdev_find_mount(DATA "no-such-file", sdc, 2, where, sizeof(where)),
	                 -ENOENT);
}

static void test_blockdev_host_disks_through_partitions(void **state)
{
	dev_t disks[8];
	size_t n;

	assert_int_equal(blockdev_host_disks(DATA "mountinfo", disks, 8, &n), 0);
	/* / on sda2 and /boot/efi on sda1: sda once; /srv (dm) and the card
	 * are not host mounts. */
	assert_int_equal(n, 1);
	assert_true(disks[0] == makedev(8, 0));
}

static void test_blockdev_host_disks_through_lvm(void **state)
{
	dev_t disks[8];
	size_t n;

	assert_int_equal(blockdev_host_disks(DATA "mountinfo-lvm", disks, 8, &n), 0);
	/* / on dm-1 over nvme0n1p3, /boot on nvme0n1p1: nvme0n1, once. */
	assert_int_equal(n, 1);
	assert_true(disks[0] == makedev(259, 0));
}

static void test_blockdev_file_target_size_and_identity(void **state)
{
	char path[] = "/tmp/hilctl-test-target-XXXXXX", why[1024];
	struct blockdev_expect expect = {.size = 4096};
	struct blockdev_info info;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 8192), 0);
	close(fd);
	assert_int_equal(blockdev_check_target(path, NULL, &info, why, sizeof(why)), 0);
	assert_false(info.is_block);
	assert_int_equal(blockdev_check_target(path, &expect, &info, why, sizeof(why)), -EPERM);
	assert_non_null(strstr(why, path));
	assert_non_null(strstr(why, "size mismatch: it has 8192 bytes, expected 4096"));
	expect.size = 8192;
	assert_int_equal(blockdev_check_target(path, &expect, &info, why, sizeof(why)), 0);
	expect.id = "usb-Generic_SD_0001-0:0";
	assert_int_equal(blockdev_check_target(path, &expect, &info, why, sizeof(why)), -EPERM);
	assert_non_null(strstr(why, "no identity to match --expect-id usb-Generic_SD_0001-0:0"));
	unlink(path);
	/* A missing file is one to create; a missing /dev path is not. */
	assert_int_equal(blockdev_check_target(path, NULL, &info, why, sizeof(why)), 0);
	assert_false(info.exists);
	assert_int_equal(
	    blockdev_check_target("/dev/hilctl-no-such-card", NULL, &info, why, sizeof(why)),
	    -ENOENT);
	assert_non_null(strstr(why, "/dev/hilctl-no-such-card"));
}

static void test_blockdev_wait_times_out_at_its_deadline(void **state)
{
	int64_t start = clock_now_ns(), took;

	assert_int_equal(blockdev_wait("/dev/hilctl-no-such-card", start + 300 * NS_PER_MS),
	                 -ETIMEDOUT);
	took = clock_now_ns() - start;
	assert_true(took >= 300 * NS_PER_MS && took < 2 * NS_PER_S);
}

/* The device appears 150 ms in (a child makes the node, as udev would
 * after a mux switch): the wait returns then, long before its deadline. */
static void test_blockdev_wait_returns_when_the_device_appears(void **state)
{
	char dir[] = "/tmp/hilctl-test-wait-XXXXXX", node[64];
	int64_t start, took;
	pid_t child;

	assert_non_null(mkdtemp(dir));
	snprintf(node, sizeof(node), "%s/card", dir);
	child = fork();
	if (child == 0) {
		struct timespec ts = {0, 150 * 1000 * 1000};
		nanosleep(&ts, NULL);
		_exit(mknod(node, S_IFBLK | 0600, makedev(7, 200)) == 0 ? 0 : 1);
	}
	start = clock_now_ns();
	assert_int_equal(blockdev_wait(node, start + 10 * NS_PER_S), 0);
	took = clock_now_ns() - start;
	assert_true(took < 3 * NS_PER_S);
	waitpid(child, NULL, 0);
	unlink(node);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_blockdev_mount_of_a_partition_found_by_majmin),
	    cmocka_unit_test(test_blockdev_host_disks_through_partitions),
	    cmocka_unit_test(test_blockdev_host_disks_through_lvm),
	    cmocka_unit_test(test_blockdev_file_target_size_and_identity),
	    cmocka_unit_test(test_blockdev_wait_times_out_at_its_deadline),
	    cmocka_unit_test(test_blockdev_wait_returns_when_the_device_appears),
	};

	return cmocka_run_group_tests(tests, make_sysfs, remove_sysfs);
}

/* storage/blockdev.h — what the image writer must know about a target before
 * it writes a byte: is it a block device or a plain file, which whole disk
 * and partitions it belongs to, is any of them mounted, used as swap, held
 * by device-mapper/md, or the lab host's own root or boot disk, and does its
 * size and identity match what the caller expects. And a wait, with a
 * deadline, for a block device to appear after a mux switched the card over.
 *
 * Paths of the kernel's tables are taken from the environment so tests can
 * use fixtures: HILCTL_SYSFS (default /sys), HILCTL_MOUNTINFO (default
 * /proc/self/mountinfo), HILCTL_SWAPS (default /proc/swaps). Every refusal
 * writes one line into why that names the device and the reason; nothing
 * here allocates beyond the call. */
#ifndef HILCTL_STORAGE_BLOCKDEV_H
#define HILCTL_STORAGE_BLOCKDEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define BLOCKDEV_MAX_FAMILY 128 /* a disk and its partitions */

/* What the caller expects the target to be; 0 / NULL: not checked. */
struct blockdev_expect {
	uint64_t size;  /* bytes */
	const char *id; /* a /dev/disk/by-id/ name (or a path to a link), or a serial number */
};

struct blockdev_info {
	bool is_block; /* else a regular file (or one to be created) */
	bool exists;
	dev_t rdev;                        /* the block device itself */
	dev_t disk;                        /* its whole disk */
	char disk_name[64];                /* "sdb", "loop3" */
	uint64_t size;                     /* bytes (a file: its current size) */
	dev_t family[BLOCKDEV_MAX_FAMILY]; /* the disk and every partition */
	size_t n_family;
};

const char *blockdev_sysfs_root(void);

/* Stat path and fill info. A missing path is a file to be created
 * (exists=false) unless it is under /dev. -errno and why on failure. */
int blockdev_inspect(const char *path, struct blockdev_info *info, char *why, size_t why_size);

/* 1 when a line of mountinfo (the file at mountinfo_path) mounts one of the
 * devices, with its mount point in mount_point; 0 none; -errno. */
int blockdev_find_mount(const char *mountinfo_path, const dev_t *devs, size_t n, char *mount_point,
                        size_t mp_size);
/* The whole disks under the host's /, /boot, /boot/efi, /efi and /usr
 * mounts (through device-mapper and md to the disks beneath). */
int blockdev_host_disks(const char *mountinfo_path, dev_t *out, size_t max, size_t *n);

/* Every safety check for writing to path: 0 when it may be written,
 * -EPERM with why naming the device and the reason when not. */
int blockdev_check_target(const char *path, const struct blockdev_expect *expect,
                          struct blockdev_info *info, char *why, size_t why_size);

/* Wait until path exists as a block device, at most until deadline_ns
 * (clock_now_ns() time): inotify on its directory plus a recheck every
 * 100 ms, never a fixed sleep. 0, -ETIMEDOUT, or -EINTR on a stop request. */
int blockdev_wait(const char *path, int64_t deadline_ns);

#endif

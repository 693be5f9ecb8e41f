/* storage/blockdev.c — the target checks and the device wait (blockdev.h).
 * Everything is read from the kernel's own tables: sysfs for a device's disk,
 * partitions, holders, size and serial; mountinfo for mounts (by major:minor,
 * which names a device whatever path it was mounted by); /proc/swaps. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/stop.h"
#include "storage/blockdev.h"

#define RECHECK_NS (100 * NS_PER_MS)

static const char *env_or(const char *name, const char *fallback)
{
	const char *v = getenv(name);

	return v && v[0] ? v : fallback;
}

const char *blockdev_sysfs_root(void)
{
	return env_or("HILCTL_SYSFS", "/sys");
}

static const char *mountinfo_path(void)
{
	return env_or("HILCTL_MOUNTINFO", "/proc/self/mountinfo");
}

/* First line of a small sysfs file, without its newline. */
static int read_line(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "re");
	int rc = 0;

	if (!f)
		return -errno;
	if (!fgets(buf, (int)size, f))
		rc = -EIO;
	else
		buf[strcspn(buf, "\n")] = 0;
	fclose(f);
	return rc;
}

static int read_dev(const char *dir, dev_t *out)
{
	char path[PATH_MAX], text[32];
	unsigned maj, min;

	if (snprintf(path, sizeof(path), "%s/dev", dir) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	if (read_line(path, text, sizeof(text)) < 0 || sscanf(text, "%u:%u", &maj, &min) != 2)
		return -ENOENT;
	*out = makedev(maj, min);
	return 0;
}

static bool file_exists(const char *dir, const char *name)
{
	char path[PATH_MAX];

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
		return false;
	return access(path, F_OK) == 0;
}

/* The sysfs directory of a block device, its links resolved. */
static int dev_dir(dev_t dev, char *out)
{
	char link[PATH_MAX];

	snprintf(link, sizeof(link), "%s/dev/block/%u:%u", blockdev_sysfs_root(), major(dev),
	         minor(dev));
	return realpath(link, out) ? 0 : -errno;
}

/* The whole disk's directory: a partition's parent, else itself. */
static int disk_dir(dev_t dev, char *out)
{
	int rc = dev_dir(dev, out);

	if (rc < 0)
		return rc;
	if (file_exists(out, "partition"))
		*strrchr(out, '/') = 0;
	return 0;
}

static void fill_family(const char *disk, struct blockdev_info *info)
{
	DIR *d = opendir(disk);
	struct dirent *e;
	char sub[PATH_MAX];

	info->n_family = 0;
	if (read_dev(disk, &info->disk) == 0)
		info->family[info->n_family++] = info->disk;
	snprintf(info->disk_name, sizeof(info->disk_name), "%s", strrchr(disk, '/') + 1);
	while (d && (e = readdir(d)) && info->n_family < BLOCKDEV_MAX_FAMILY) {
		if (e->d_name[0] == '.')
			continue;
		if (snprintf(sub, sizeof(sub), "%s/%s", disk, e->d_name) >= (int)sizeof(sub))
			continue;
		if (file_exists(sub, "partition") &&
		    read_dev(sub, &info->family[info->n_family]) == 0)
			info->n_family++;
	}
	if (d)
		closedir(d);
}

int blockdev_inspect(const char *path, struct blockdev_info *info, char *why, size_t why_size)
{
	struct stat st;
	char dir[PATH_MAX], text[32];

	memset(info, 0, sizeof(*info));
	if (stat(path, &st) < 0) {
		if (errno == ENOENT && strncmp(path, "/dev/", 5) != 0)
			return 0; /* an image file the writer creates */
		snprintf(why, why_size, "%s: %s%s", path, strerror(errno),
		         errno == ENOENT ? " (is the card on the host side of the mux?)" : "");
		return -errno;
	}
	info->exists = true;
	if (S_ISREG(st.st_mode)) {
		info->size = (uint64_t)st.st_size;
		return 0;
	}
	if (!S_ISBLK(st.st_mode)) {
		snprintf(why, why_size, "%s: neither a block device nor a regular file", path);
		return -EINVAL;
	}
	info->is_block = true;
	info->rdev = st.st_rdev;
	if (dev_dir(st.st_rdev, dir) < 0 ||
	    (snprintf(dir + strlen(dir), sizeof(dir) - strlen(dir), "/size"),
	     read_line(dir, text, sizeof(text)) < 0)) {
		snprintf(why, why_size, "%s: block device %u:%u has no entry in %s/dev/block", path,
		         major(st.st_rdev), minor(st.st_rdev), blockdev_sysfs_root());
		return -ENODEV;
	}
	info->size = strtoull(text, NULL, 10) * 512; /* sysfs counts 512-byte sectors */
	if (disk_dir(st.st_rdev, dir) < 0) {
		snprintf(why, why_size, "%s: cannot find its disk in sysfs", path);
		return -ENODEV;
	}
	fill_family(dir, info);
	return 0;
}

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape(char *s)
{
	char *o = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*o++ = *s;
		}
	}
	*o = 0;
}

struct mount_line {
	dev_t dev; /* field 3; for a 0:N (btrfs subvolume, …) the source's */
	char point[PATH_MAX];
};

static bool parse_mount_line(char *line, struct mount_line *m)
{
	unsigned maj, min;
	char *save = NULL, *tok, *source = NULL, *dash;
	int field = 0;

	dash = strstr(line, " - ");
	if (dash) {
		/* " - fstype source options" */
		char *s = dash + 3;
		strtok_r(s, " ", &save);
		source = strtok_r(NULL, " ", &save);
		*dash = 0;
	}
	save = NULL;
	m->point[0] = 0;
	for (tok = strtok_r(line, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		field++;
		if (field == 3) {
			if (sscanf(tok, "%u:%u", &maj, &min) != 2)
				return false;
			m->dev = makedev(maj, min);
		} else if (field == 5) {
			snprintf(m->point, sizeof(m->point), "%s", tok);
			unescape(m->point);
		}
	}
	if (field < 5)
		return false;
	if (major(m->dev) == 0 && source && strncmp(source, "/dev/", 5) == 0) {
		struct stat st;
		unescape(source);
		if (stat(source, &st) == 0 && S_ISBLK(st.st_mode))
			m->dev = st.st_rdev;
	}
	return true;
}

static bool in_set(dev_t d, const dev_t *devs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (devs[i] == d)
			return true;
	return false;
}

int blockdev_find_mount(const char *path, const dev_t *devs, size_t n, char *mount_point,
                        size_t mp_size)
{
	FILE *f = fopen(path ? path : mountinfo_path(), "re");
	char *line = NULL;
	size_t cap = 0;
	struct mount_line m;
	int found = 0;

	if (!f)
		return -errno;
	while (!found && getline(&line, &cap, f) > 0) {
		line[strcspn(line, "\n")] = 0;
		if (parse_mount_line(line, &m) && in_set(m.dev, devs, n)) {
			snprintf(mount_point, mp_size, "%s", m.point);
			found = 1;
		}
	}
	free(line);
	fclose(f);
	return found;
}

/* Add dev's whole disk to out, or for device-mapper and md the disks of its
 * slaves (an LVM root on sda2 makes sda a host disk). */
static void add_disks_under(dev_t dev, dev_t *out, size_t max, size_t *n, int depth)
{
	char dir[PATH_MAX], slaves[PATH_MAX + 8], sub[PATH_MAX * 2];
	DIR *d;
	struct dirent *e;
	bool any = false;
	dev_t disk;

	if (depth > 8 || disk_dir(dev, dir) < 0)
		return;
	snprintf(slaves, sizeof(slaves), "%s/slaves", dir);
	d = opendir(slaves);
	while (d && (e = readdir(d))) {
		dev_t s;
		if (e->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", slaves, e->d_name);
		if (read_dev(sub, &s) == 0) {
			any = true;
			add_disks_under(s, out, max, n, depth + 1);
		}
	}
	if (d)
		closedir(d);
	if (!any && read_dev(dir, &disk) == 0 && !in_set(disk, out, *n) && *n < max)
		out[(*n)++] = disk;
}

int blockdev_host_disks(const char *path, dev_t *out, size_t max, size_t *n)
{
	static const char *const host_points[] = {"/", "/boot", "/boot/efi", "/efi", "/usr"};
	FILE *f = fopen(path ? path : mountinfo_path(), "re");
	char *line = NULL;
	size_t cap = 0;
	struct mount_line m;

	*n = 0;
	if (!f)
		return -errno;
	while (getline(&line, &cap, f) > 0) {
		line[strcspn(line, "\n")] = 0;
		if (!parse_mount_line(line, &m) || major(m.dev) == 0)
			continue;
		for (size_t i = 0; i < sizeof(host_points) / sizeof(host_points[0]); i++)
			if (strcmp(m.point, host_points[i]) == 0)
				add_disks_under(m.dev, out, max, n, 0);
	}
	free(line);
	fclose(f);
	return 0;
}

/* A holder (dm, md, bcache) of the disk or a partition: its name. */
static bool find_holder(const struct blockdev_info *info, char *name, size_t size)
{
	for (size_t i = 0; i < info->n_family; i++) {
		char dir[PATH_MAX], holders[PATH_MAX + 8];
		DIR *d;
		struct dirent *e;
		bool found = false;

		if (dev_dir(info->family[i], dir) < 0)
			continue;
		snprintf(holders, sizeof(holders), "%s/holders", dir);
		d = opendir(holders);
		while (d && !found && (e = readdir(d)))
			if (e->d_name[0] != '.') {
				snprintf(name, size, "%s", e->d_name);
				found = true;
			}
		if (d)
			closedir(d);
		if (found)
			return true;
	}
	return false;
}

static bool used_as_swap(const struct blockdev_info *info, char *swap, size_t size)
{
	FILE *f = fopen(env_or("HILCTL_SWAPS", "/proc/swaps"), "re");
	char line[PATH_MAX + 64], name[PATH_MAX];
	bool found = false;
	struct stat st;

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		if (sscanf(line, "%4095s", name) == 1 && name[0] == '/' && stat(name, &st) == 0 &&
		    S_ISBLK(st.st_mode) && in_set(st.st_rdev, info->family, info->n_family)) {
			snprintf(swap, size, "%s", name);
			found = true;
		}
	fclose(f);
	return found;
}

/* A serial number sysfs knows for the disk: the USB device's (walking up
 * from the disk's device), or a SCSI/NVMe/MMC device's own. */
static bool disk_serial(const struct blockdev_info *info, char *serial, size_t size)
{
	char dir[PATH_MAX], path[PATH_MAX + 16];

	if (disk_dir(info->disk, dir) < 0)
		return false;
	snprintf(path, sizeof(path), "%s/device", dir);
	if (!realpath(path, dir))
		return false;
	for (int up = 0; up < 12 && strlen(dir) > 1; up++) {
		snprintf(path, sizeof(path), "%s/serial", dir);
		if (read_line(path, serial, size) == 0 && serial[0])
			return true;
		*strrchr(dir, '/') = 0;
	}
	return false;
}

static int check_identity(const char *path, const struct blockdev_info *info, const char *id,
                          char *why, size_t why_size)
{
	char link[PATH_MAX], serial[128] = "";
	struct stat st;

	if (!info->is_block) {
		snprintf(why, why_size,
		         "%s: is an image file, which has no identity to match "
		         "--expect-id %s",
		         path, id);
		return -EPERM;
	}
	if (id[0] == '/')
		snprintf(link, sizeof(link), "%s", id);
	else
		snprintf(link, sizeof(link), "/dev/disk/by-id/%s", id);
	if (stat(link, &st) == 0 && S_ISBLK(st.st_mode) &&
	    (st.st_rdev == info->rdev || st.st_rdev == info->disk))
		return 0;
	if (disk_serial(info, serial, sizeof(serial)) && strcmp(serial, id) == 0)
		return 0;
	if (stat(link, &st) == 0 && S_ISBLK(st.st_mode))
		snprintf(why, why_size,
		         "%s: identity mismatch: %s is device %u:%u, this is %u:%u (%s) — another "
		         "card or reader than the one expected",
		         path, link, major(st.st_rdev), minor(st.st_rdev), major(info->rdev),
		         minor(info->rdev), info->disk_name);
	else
		snprintf(why, why_size,
		         "%s: identity mismatch: expected \"%s\", but %s does not exist and the "
		         "disk's serial is %s%s%s",
		         path, id, link, serial[0] ? "\"" : "", serial[0] ? serial : "unknown",
		         serial[0] ? "\"" : "");
	return -EPERM;
}

int blockdev_check_target(const char *path, const struct blockdev_expect *expect,
                          struct blockdev_info *info, char *why, size_t why_size)
{
	dev_t host[32];
	size_t n_host = 0;
	char where[PATH_MAX], holder[256];
	int rc = blockdev_inspect(path, info, why, why_size);

	if (rc < 0)
		return rc;
	if (info->is_block) {
		blockdev_host_disks(NULL, host, 32, &n_host);
		if (in_set(info->disk, host, n_host)) {
			snprintf(
			    why, why_size,
			    "%s: refused: it is (or is on) %s, the lab host's own root or boot "
			    "disk",
			    path, info->disk_name);
			return -EPERM;
		}
		rc = blockdev_find_mount(NULL, info->family, info->n_family, where, sizeof(where));
		if (rc > 0) {
			snprintf(
			    why, why_size,
			    "%s: refused: %s or one of its partitions is mounted on %s (unmount "
			    "it first)",
			    path, info->disk_name, where);
			return -EPERM;
		}
		if (used_as_swap(info, where, sizeof(where))) {
			snprintf(why, why_size, "%s: refused: %s is in use as swap", path, where);
			return -EPERM;
		}
		if (find_holder(info, holder, sizeof(holder))) {
			snprintf(
			    why, why_size,
			    "%s: refused: %s is held by %s (device-mapper, LVM, RAID or crypt)",
			    path, info->disk_name, holder);
			return -EPERM;
		}
	}
	if (expect && expect->size && (!info->exists || info->size != expect->size)) {
		snprintf(why, why_size,
		         "%s: size mismatch: it has %llu bytes, expected %llu — another card or "
		         "device than the one expected",
		         path, (unsigned long long)info->size, (unsigned long long)expect->size);
		return -EPERM;
	}
	if (expect && expect->id && expect->id[0])
		return check_identity(path, info, expect->id, why, why_size);
	return 0;
}

static bool is_block_now(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISBLK(st.st_mode);
}

int blockdev_wait(const char *path, int64_t deadline_ns)
{
	char dir[PATH_MAX];
	int fd, rc = -ETIMEDOUT;

	if (is_block_now(path))
		return 0;
	snprintf(dir, sizeof(dir), "%s", path);
	if (strrchr(dir, '/'))
		strrchr(dir, '/')[strrchr(dir, '/') == dir ? 1 : 0] = 0;
	fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	/* The directory may not exist yet (/dev/disk/by-id before the first
	 * disk): then the periodic recheck alone finds the device. */
	if (fd >= 0)
		inotify_add_watch(fd, dir, IN_CREATE | IN_MOVED_TO | IN_ATTRIB);
	for (;;) {
		int64_t now = clock_now_ns(), next = now + RECHECK_NS;
		struct pollfd p = {.fd = fd, .events = POLLIN};
		char events[4096];

		if (is_block_now(path)) {
			rc = 0;
			break;
		}
		if (stop_requested()) {
			rc = -EINTR;
			break;
		}
		if (now >= deadline_ns)
			break;
		poll(&p, fd >= 0 ? 1 : 0, clock_poll_ms(next < deadline_ns ? next : deadline_ns));
		if (fd >= 0)
			while (read(fd, events, sizeof(events)) > 0)
				;
	}
	if (fd >= 0)
		close(fd);
	return rc;
}

/* qemu/snapshot.c — a board's pre-update machine state saved once (savevm
 * into its qcow2 overlays, kept as a golden copy) and restored before each
 * run (the golden overlays copied back, QEMU started with -loadvm). See
 * snapshot.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/cfg.h"
#include "qemu/launch.h"
#include "qemu/qmp.h"
#include "qemu/snapshot.h"

#define SNAPSHOT_PREFIX "snapshot-"
#define SNAPSHOT_DONE "complete" /* written last: a half-made copy is never used */

static bool drive_readonly(const struct cfg_node *drive)
{
	const char *ro = NULL;

	cfg_get_str(drive, "readonly", false, &ro);
	return ro && (!strcmp(ro, "on") || !strcmp(ro, "true") || !strcmp(ro, "yes"));
}

int qemu_snapshot_check(const struct qemu_config *qc, char *why, size_t why_size)
{
	int index = 0;

	if (qc->loss_model != WLOG_MODEL_QUIT) {
		snprintf(why, why_size,
		         "the power-loss model \"%s\" logs writes through blklogwrites, which "
		         "savevm cannot snapshot: use one or the other (power_loss: or snapshot:)",
		         wlog_model_name(qc->loss_model));
		return -EINVAL;
	}
	for (const struct cfg_node *d = qc->drives ? qc->drives->child : NULL; d;
	     d = d->next, index++) {
		const struct cfg_node *kind = cfg_get(d, "kind"), *file = cfg_get(d, "file");
		if (kind && strcmp(kind->value, "drive") != 0) {
			snprintf(
			    why, why_size,
			    "drive %d is a -blockdev, which hilctl cannot copy for savevm: use "
			    "kind: drive with overlay: true",
			    index + 1);
			return -EINVAL;
		}
		if (!qemu_drive_overlay(d) && !drive_readonly(d)) {
			snprintf(
			    why, why_size,
			    "drive %d (%s) is written in place: savevm needs every writable "
			    "drive to be a qcow2 overlay: give it overlay: true, or readonly: on",
			    index + 1, file && file->value ? file->value : "no file");
			return -EINVAL;
		}
	}
	if (qc->pflash && qc->pflash->child) {
		snprintf(why, why_size,
		         "pflash: images are written in place: list them under drives: with "
		         "readonly: on or overlay: true");
		return -EINVAL;
	}
	return 0;
}

/* FNV-1a, 64 bits: a name for a state, not a secret. */
static void digest_add(uint64_t *h, const char *s)
{
	for (; s && *s; s++) {
		*h ^= (unsigned char)*s;
		*h *= 1099511628211ULL;
	}
	*h ^= 0xff; /* a separator no string holds */
	*h *= 1099511628211ULL;
}

char *qemu_snapshot_dir(const struct qemu_config *qc, const char *run_dir, const char *key)
{
	uint64_t h = 14695981039346656037ULL;
	char **argv = NULL, *dir = NULL, ident[160];
	struct qemu_config plain = *qc;
	struct stat st;
	int index = 0;

	/* The update server's port changes with every hilctl; the machine
	 * it saved does not. */
	memset(&plain.fwd, 0, sizeof(plain.fwd));
	digest_add(&h, key);
	if (qemu_build_argv(&plain, "snapshot", run_dir, false, &argv) < 0)
		return NULL;
	for (char **a = argv; *a; a++)
		digest_add(&h, *a);
	qemu_argv_free(argv);
	for (const struct cfg_node *d = qc->drives ? qc->drives->child : NULL; d;
	     d = d->next, index++) {
		const struct cfg_node *file = cfg_get(d, "file");
		char *base = file ? qemu_resolve_path(qc->base_dir, file->value) : NULL;
		int rc = base ? stat(base, &st) : -1;
		free(base);
		if (rc < 0)
			return NULL;
		snprintf(ident, sizeof(ident), "%llu %llu %lld %lld.%09ld",
		         (unsigned long long)st.st_dev, (unsigned long long)st.st_ino,
		         (long long)st.st_size, (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
		digest_add(&h, ident);
	}
	if (asprintf(&dir, "%s/" SNAPSHOT_PREFIX "%016llx", run_dir, (unsigned long long)h) < 0)
		return NULL;
	return dir;
}

/* Copy a file: a reflink where the file system shares blocks, else the
 * kernel's copy_file_range, into a temporary name renamed into place. */
static int copy_file(const char *from, const char *to)
{
	char tmp[PATH_MAX];
	int in, out, rc = 0;
	struct stat st;

	snprintf(tmp, sizeof(tmp), "%s.tmp", to);
	in = open(from, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -errno;
	out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out < 0 || fstat(in, &st) < 0) {
		rc = -errno;
		goto out;
	}
	if (ioctl(out, FICLONE, in) < 0) {
		off_t left = st.st_size;
		while (left > 0) {
			ssize_t n = copy_file_range(in, NULL, out, NULL, (size_t)left, 0);
			if (n <= 0) {
				rc = n < 0 ? -errno : -EIO;
				break;
			}
			left -= n;
		}
	}
	if (rc == 0 && rename(tmp, to) < 0)
		rc = -errno;
out:
	if (out >= 0)
		close(out);
	close(in);
	if (rc < 0)
		unlink(tmp);
	return rc;
}

/* Copy every overlay (and its base record) from one directory to another. */
static int copy_overlays(const struct qemu_config *qc, const char *from_dir, const char *to_dir)
{
	int index = 0, rc = 0;

	for (const struct cfg_node *d = qc->drives ? qc->drives->child : NULL; d && rc == 0;
	     d = d->next, index++) {
		char *from, *to, from_base[PATH_MAX], to_base[PATH_MAX];
		if (!qemu_drive_overlay(d))
			continue;
		from = qemu_overlay_path(from_dir, index);
		to = qemu_overlay_path(to_dir, index);
		rc = from && to ? copy_file(from, to) : -ENOMEM;
		if (rc == 0) {
			snprintf(from_base, sizeof(from_base), "%s.base", from);
			snprintf(to_base, sizeof(to_base), "%s.base", to);
			rc = copy_file(from_base, to_base);
		}
		free(from);
		free(to);
	}
	return rc;
}

/* Remove a directory of plain files. */
static void remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.')
			unlinkat(dirfd(d), e->d_name, 0);
	if (d)
		closedir(d);
	rmdir(dir);
}

/* Other snapshots of this board: stale once a new one is saved. */
static void remove_others(const char *run_dir, const char *keep)
{
	const char *keep_name = strrchr(keep, '/') ? strrchr(keep, '/') + 1 : keep;
	DIR *d = opendir(run_dir);
	struct dirent *e;
	char path[PATH_MAX];

	while (d && (e = readdir(d))) {
		if (strncmp(e->d_name, SNAPSHOT_PREFIX, strlen(SNAPSHOT_PREFIX)) != 0 ||
		    !strcmp(e->d_name, keep_name))
			continue;
		snprintf(path, sizeof(path), "%s/%s", run_dir, e->d_name);
		remove_dir(path);
	}
	if (d)
		closedir(d);
}

int qemu_snapshot_save(const struct qemu_config *qc, struct qmp *q, const char *run_dir,
                       const char *dir, int64_t deadline_ns, char *why, size_t why_size)
{
	char tmp[PATH_MAX], done[PATH_MAX + 16];
	json_t *ret = NULL;
	int rc, rc_cont;
	FILE *f;

	rc = qemu_snapshot_check(qc, why, why_size);
	if (rc < 0)
		return rc;
	rc = qmp_command(q, "stop", NULL, NULL, deadline_ns);
	if (rc == 0)
		rc = qmp_command_pack(q, "human-monitor-command", &ret, deadline_ns, "{s:s}",
		                      "command-line", "savevm " QEMU_SNAPSHOT_TAG);
	if (rc < 0) {
		snprintf(why, why_size, "%s", qmp_error(q));
	} else if (json_string_length(ret) > 0) {
		/* HMP answers success with nothing, a failure with its words. */
		snprintf(why, why_size, "savevm: %.200s", json_string_value(ret));
		rc = -EIO;
	}
	json_decref(ret);
	if (rc == 0) {
		/* The VM is stopped and savevm flushed: the overlays are still. */
		snprintf(tmp, sizeof(tmp), "%s.tmp", dir);
		remove_dir(tmp);
		rc = mkdir(tmp, 0755) < 0 ? -errno : copy_overlays(qc, run_dir, tmp);
		snprintf(done, sizeof(done), "%s/" SNAPSHOT_DONE, tmp);
		if (rc == 0 && !(f = fopen(done, "w")))
			rc = -errno;
		else if (rc == 0)
			fclose(f);
		remove_dir(dir);
		if (rc == 0 && rename(tmp, dir) < 0)
			rc = -errno;
		if (rc < 0) {
			snprintf(why, why_size, "copying the overlays to %s: %s", dir,
			         strerror(-rc));
			remove_dir(tmp);
		} else {
			remove_others(run_dir, dir);
		}
	}
	rc_cont = qmp_command(q, "cont", NULL, NULL, deadline_ns);
	if (rc == 0 && rc_cont < 0) {
		snprintf(why, why_size, "%s", qmp_error(q));
		rc = rc_cont;
	}
	return rc;
}

int qemu_snapshot_restore(const struct qemu_config *qc, const char *run_dir, const char *dir,
                          char *why, size_t why_size)
{
	char done[PATH_MAX];
	int rc;

	snprintf(done, sizeof(done), "%s/" SNAPSHOT_DONE, dir);
	if (access(done, F_OK) < 0)
		return 0;
	rc = copy_overlays(qc, dir, run_dir);
	if (rc < 0) {
		snprintf(why, why_size, "copying the overlays from %s: %s", dir, strerror(-rc));
		return rc;
	}
	return 1;
}

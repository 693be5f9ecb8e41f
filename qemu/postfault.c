/* qemu/postfault.c — freeze, keep and put back the disk a board booted after
 * a fault's power cut (see postfault.h). Everything goes through qemu-img:
 * create (a layer), rebase (the chain folded into one layer over the lab's
 * image) and convert -c (compressed), so QEMU's own code writes every qcow2. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/cfg.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "qemu/launch.h"
#include "qemu/overlay.h"
#include "qemu/postfault.h"
#include "qemu/proc.h"

#define KILL_WAIT_NS (5 * NS_PER_S)

static int say(char *why, size_t len, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int say(char *why, size_t len, int rc, const char *fmt, ...)
{
	va_list ap;

	if (why && len) {
		va_start(ap, fmt);
		vsnprintf(why, len, fmt, ap);
		va_end(ap);
	}
	return rc;
}

/* The board's disk: its first overlay drive (as qemu/powerloss.c has it). */
static const struct cfg_node *disk_drive(const struct qemu_config *qc, int *index)
{
	*index = 0;
	for (const struct cfg_node *d = qc->drives ? qc->drives->child : NULL; d;
	     d = d->next, (*index)++)
		if (qemu_drive_overlay(d))
			return d;
	return NULL;
}

static char *frozen_path(const char *run_dir, int index, int k)
{
	char *path;

	return asprintf(&path, "%s/postfault-%d-%d.qcow2", run_dir, index, k) < 0 ? NULL : path;
}

static int frozen_count(const char *run_dir, int index)
{
	int k = 0;

	for (;; k++) {
		char *path = frozen_path(run_dir, index, k + 1);
		bool there = path && access(path, F_OK) == 0;
		free(path);
		if (!there)
			return k;
	}
}

/* Run qemu-img with args (NULL-terminated, after the program); its stderr
 * goes to err_path, and its last words into why on failure. */
static int img(const struct qemu_config *qc, const char *err_path, int64_t deadline_ns, char *why,
               size_t why_len, ...)
{
	char *argv[24], tail[300];
	struct qemu_proc proc;
	va_list ap;
	size_t n = 1;
	int rc;

	argv[0] = qemu_img_program(qc);
	if (!argv[0])
		return -ENOMEM;
	va_start(ap, why_len);
	while (n < sizeof(argv) / sizeof(argv[0]) - 1 && (argv[n] = va_arg(ap, char *)))
		n++;
	va_end(ap);
	argv[n] = NULL;
	rc = qemu_spawn(argv, err_path, false, &proc);
	if (rc < 0) {
		say(why, why_len, rc, "cannot run %s: %s (Debian: qemu-utils)", argv[0],
		    strerror(-rc));
		free(argv[0]);
		return rc;
	}
	if (qemu_proc_wait(&proc, deadline_ns) < 0) {
		qemu_proc_kill(&proc, SIGKILL);
		qemu_proc_wait(&proc, clock_now_ns() + KILL_WAIT_NS);
		rc =
		    say(why, why_len, -ETIMEDOUT, "%s %s did not finish in time", argv[0], argv[1]);
	} else if (!WIFEXITED(proc.status) || WEXITSTATUS(proc.status) != 0) {
		qemu_stderr_tail(err_path, tail, sizeof(tail));
		rc = say(why, why_len, -EIO, "%s %s failed: %s", argv[0], argv[1],
		         tail[0] ? tail : "no output");
	}
	free(argv[0]);
	return rc;
}

int qemu_postfault_mark(const struct qemu_config *qc, const char *board, const char *run_dir,
                        int64_t deadline_ns)
{
	int index, rc = 0;
	char err[PATH_MAX], tmp[PATH_MAX], why[400] = "", *overlay, *frozen, *slash;

	if (!disk_drive(qc, &index))
		return 0;
	overlay = qemu_overlay_path(run_dir, index);
	frozen = frozen_path(run_dir, index, frozen_count(run_dir, index) + 1);
	if (!overlay || !frozen) {
		rc = -ENOMEM;
		goto out;
	}
	snprintf(err, sizeof(err), "%s/qemu-img.stderr", run_dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", overlay);
	slash = strrchr(frozen, '/');
	if (rename(overlay, frozen) < 0) {
		rc =
		    say(why, sizeof(why), -errno, "cannot rename %s: %s", overlay, strerror(errno));
		goto out;
	}
	/* Backing named relative to the overlay's own directory. */
	rc = img(qc, err, deadline_ns, why, sizeof(why), "create", "-q", "-f", "qcow2", "-b",
	         slash ? slash + 1 : frozen, "-F", "qcow2", tmp, (char *)NULL);
	if (rc == 0 && rename(tmp, overlay) < 0)
		rc = say(why, sizeof(why), -errno, "cannot rename %s: %s", tmp, strerror(errno));
	if (rc < 0) {
		unlink(tmp);
		rename(frozen, overlay); /* the board runs on as if nothing was kept */
	}
out:
	if (rc < 0)
		hil_error("board \"%s\": cannot keep the disk its fault left: %s", board,
		          why[0] ? why : strerror(-rc));
	free(overlay);
	free(frozen);
	return rc;
}

void qemu_postfault_reset(const struct qemu_config *qc, const char *run_dir)
{
	int index;

	if (!disk_drive(qc, &index))
		return;
	for (int k = frozen_count(run_dir, index); k > 0; k--) {
		char *path = frozen_path(run_dir, index, k);
		if (path)
			unlink(path);
		free(path);
	}
}

/* "dev ino size mtime path" of the lab's image, as qemu/overlay.c records it. */
static int identity(const char *path, char *out, size_t size)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return -errno;
	snprintf(out, size, "%llu %llu %lld %lld.%09ld %s\n", (unsigned long long)st.st_dev,
	         (unsigned long long)st.st_ino, (long long)st.st_size, (long long)st.st_mtim.tv_sec,
	         st.st_mtim.tv_nsec, path);
	return 0;
}

/* The lab image of the board's disk, absolute, and its format. */
static int lab_base(const struct qemu_config *qc, char *base, size_t size, const char **format)
{
	int index;
	const struct cfg_node *d = disk_drive(qc, &index);
	char *path;

	if (!d)
		return -ENOENT;
	path = qemu_resolve_path(qc->base_dir, cfg_get(d, "file")->value);
	if (!path)
		return -ENOMEM;
	if (!realpath(path, base))
		snprintf(base, size, "%s", path);
	free(path);
	*format = "raw";
	cfg_get_str(d, "format", false, format);
	return index;
}

int qemu_postfault_keep(const struct qemu_config *qc, const char *run_dir, const char *out,
                        int64_t deadline_ns, char *why, size_t why_len)
{
	char base[PATH_MAX], top[PATH_MAX], flat[PATH_MAX + 16], tmp[PATH_MAX + 16], err[PATH_MAX],
	    id[PATH_MAX + 128], *frozen;
	const char *format;
	int index = lab_base(qc, base, sizeof(base), &format), k, rc;
	FILE *f;

	if (index < 0)
		return index == -ENOENT ? 0 : index;
	k = frozen_count(run_dir, index);
	if (k == 0)
		return 0;
	if (access(out, F_OK) == 0)
		return say(why, why_len, -EEXIST, "%s exists already: not overwritten", out);
	frozen = frozen_path(run_dir, index, k);
	if (!frozen || !realpath(frozen, top)) {
		free(frozen);
		return say(why, why_len, -ENOENT, "the frozen disk of the last fault is gone");
	}
	free(frozen);
	if (identity(base, id, sizeof(id)) < 0)
		return say(why, why_len, -errno, "%s: %s", base, strerror(errno));
	snprintf(err, sizeof(err), "%s/qemu-img.stderr", run_dir);
	snprintf(flat, sizeof(flat), "%s.flat.tmp", out);
	snprintf(tmp, sizeof(tmp), "%s.tmp", out);
	/* An empty layer over the whole chain, rebased onto the lab's image:
	 * qemu-img writes into it every cluster where the chain differs from
	 * that image. Then one compressed copy of that layer alone. */
	rc = img(qc, err, deadline_ns, why, why_len, "create", "-q", "-f", "qcow2", "-b", top, "-F",
	         "qcow2", flat, (char *)NULL);
	if (rc == 0)
		rc = img(qc, err, deadline_ns, why, why_len, "rebase", "-q", "-f", "qcow2", "-b",
		         base, "-F", format, flat, (char *)NULL);
	if (rc == 0)
		rc = img(qc, err, deadline_ns, why, why_len, "convert", "-q", "-c", "-f", "qcow2",
		         "-O", "qcow2", "-B", base, "-F", format, flat, tmp, (char *)NULL);
	unlink(flat);
	if (rc == 0 && rename(tmp, out) < 0)
		rc = say(why, why_len, -errno, "cannot rename %s: %s", tmp, strerror(errno));
	if (rc < 0) {
		unlink(tmp);
		return rc;
	}
	snprintf(tmp, sizeof(tmp), "%s.base", out);
	f = fopen(tmp, "w");
	if (!f || fputs(id, f) < 0 || fclose(f) != 0)
		return say(why, why_len, -EIO, "cannot write %s", tmp);
	return 1;
}

/* The kept disk's base must be the board's image, unchanged since. */
static int check_base(const char *kept, const char *base, char *why, size_t why_len)
{
	char then[PATH_MAX + 128] = "", now[PATH_MAX + 128], path[PATH_MAX + 16];
	const char *p = then;
	FILE *f;

	snprintf(path, sizeof(path), "%s.base", kept);
	f = fopen(path, "r");
	if (!f)
		return say(why, why_len, -ENOENT, "%s: %s", path, strerror(errno));
	if (!fgets(then, sizeof(then), f))
		then[0] = '\0';
	fclose(f);
	if (identity(base, now, sizeof(now)) < 0)
		return say(why, why_len, -errno, "%s: %s", base, strerror(errno));
	for (int field = 0; field < 4 && p; field++)
		if ((p = strchr(p, ' ')))
			p++;
	if (!p || strcmp(p, strchr(now, '/') ? strchr(now, '/') : now) != 0)
		return say(why, why_len, -EXDEV,
		           "the kept disk lies over %.*s, but the board's disk is %s (another "
		           "lab, or --set variant=...?)",
		           p ? (int)strcspn(p, "\n") : 0, p ? p : "", base);
	if (strcmp(then, now) != 0)
		return say(why, why_len, -ESTALE,
		           "the base image %s changed since the disk was kept (rebuilt?): the "
		           "replay would not boot the recorded disk",
		           base);
	return 0;
}

int qemu_postfault_install(const struct qemu_config *qc, const char *run_dir, const char *kept,
                           int64_t deadline_ns, char *why, size_t why_len)
{
	char base[PATH_MAX], abs_kept[PATH_MAX], durable[PATH_MAX], tmp[PATH_MAX + 8],
	    err[PATH_MAX], *overlay;
	const char *format;
	int index = lab_base(qc, base, sizeof(base), &format), rc;

	if (index < 0)
		return say(why, why_len, index,
		           "the board has no drive with overlay: true to boot the disk from");
	if (!realpath(kept, abs_kept))
		return say(why, why_len, -errno, "%s: %s", kept, strerror(errno));
	rc = check_base(abs_kept, base, why, why_len);
	if (rc < 0)
		return rc;
	overlay = qemu_overlay_path(run_dir, index);
	if (!overlay)
		return -ENOMEM;
	snprintf(err, sizeof(err), "%s/qemu-img.stderr", run_dir);
	snprintf(durable, sizeof(durable), "%s/durable-%d-1.qcow2", run_dir, index);
	snprintf(tmp, sizeof(tmp), "%s.tmp", durable);
	/* durable-<index>-1: an empty layer over the kept disk, which is only
	 * ever read; the overlay the board writes lies over that. */
	rc = img(qc, err, deadline_ns, why, why_len, "create", "-q", "-f", "qcow2", "-b", abs_kept,
	         "-F", "qcow2", tmp, (char *)NULL);
	if (rc == 0 && rename(tmp, durable) < 0)
		rc = say(why, why_len, -errno, "cannot rename %s: %s", tmp, strerror(errno));
	if (rc == 0 && realpath(durable, abs_kept)) {
		snprintf(tmp, sizeof(tmp), "%s.tmp", overlay);
		rc = img(qc, err, deadline_ns, why, why_len, "create", "-q", "-f", "qcow2", "-b",
		         abs_kept, "-F", "qcow2", tmp, (char *)NULL);
		if (rc == 0 && rename(tmp, overlay) < 0)
			rc =
			    say(why, why_len, -errno, "cannot rename %s: %s", tmp, strerror(errno));
	}
	if (rc < 0)
		unlink(tmp);
	free(overlay);
	return rc;
}

/* qemu/overlay.c — make the qcow2 overlays that keep a board's disk images
 * untouched (see overlay.h): qemu-img create, bounded by a deadline, into a
 * temporary name renamed into place so a half-made overlay is never used. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/cfg.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "qemu/launch.h"
#include "qemu/overlay.h"
#include "qemu/proc.h"

#define OVERLAY_KILL_WAIT_NS (5 * NS_PER_S)

char *qemu_img_program(const struct qemu_config *qc)
{
	char *bin, *slash, *img = NULL;

	if (!strchr(qc->binary, '/'))
		return strdup("qemu-img");
	bin = qemu_resolve_path(qc->base_dir, qc->binary);
	slash = bin ? strrchr(bin, '/') : NULL;
	if (slash && asprintf(&img, "%.*s/qemu-img", (int)(slash - bin), bin) > 0 &&
	    access(img, X_OK) < 0) {
		free(img);
		img = NULL;
	}
	free(bin);
	return img ? img : strdup("qemu-img");
}

static int run_qemu_img(char *argv[], const char *board, const char *err_path, int64_t deadline_ns)
{
	struct qemu_proc proc;
	int rc = qemu_spawn(argv, err_path, false, &proc);

	if (rc < 0) {
		hil_error("board \"%s\": cannot run %s: %s (Debian: qemu-utils)", board, argv[0],
		          strerror(-rc));
		return rc;
	}
	if (qemu_proc_wait(&proc, deadline_ns) < 0) {
		qemu_proc_kill(&proc, SIGKILL);
		qemu_proc_wait(&proc, clock_now_ns() + OVERLAY_KILL_WAIT_NS);
		return -ETIMEDOUT;
	}
	return WIFEXITED(proc.status) && WEXITSTATUS(proc.status) == 0 ? 0 : -EIO;
}

static int make_one(const struct qemu_config *qc, const struct cfg_node *drive, const char *board,
                    const char *run_dir, const char *path, int64_t deadline_ns)
{
	const char *format = "raw";
	char tmp[PATH_MAX], err_path[PATH_MAX], tail[400];
	char *img = qemu_img_program(qc);
	char *base = qemu_resolve_path(qc->base_dir, cfg_get(drive, "file")->value);
	int rc = -ENOMEM;

	cfg_get_str(drive, "format", false, &format);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	snprintf(err_path, sizeof(err_path), "%s/qemu-img.stderr", run_dir);
	if (img && base) {
		char *argv[] = {img,  "create", "-q",           "-f", "qcow2", "-b",
		                base, "-F",     (char *)format, tmp,  NULL};
		rc = run_qemu_img(argv, board, err_path, deadline_ns);
		if (rc == -ENOENT || rc == -EACCES)
			goto out; /* said already */
	}
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0) {
		qemu_stderr_tail(err_path, tail, sizeof(tail));
		hil_error("board \"%s\": cannot make the overlay %s of %s: %s", board, path,
		          base ? base : "?", tail[0] ? tail : strerror(-rc));
		unlink(tmp);
	}
out:
	free(img);
	free(base);
	return rc;
}

/* What the base image was when its overlay was made: an overlay is only
 * valid over exactly those bytes. A base rebuilt in place while a campaign
 * runs (a make refdut in another shell) would silently mix two disks. */
static int base_identity(const char *base, char *out, size_t size)
{
	struct stat st;

	if (stat(base, &st) < 0)
		return -errno;
	snprintf(out, size, "%llu %llu %lld %lld.%09ld %s\n", (unsigned long long)st.st_dev,
	         (unsigned long long)st.st_ino, (long long)st.st_size, (long long)st.st_mtim.tv_sec,
	         st.st_mtim.tv_nsec, base);
	return 0;
}

/* The base path an identity line names, or "" (lines older than the path). */
static const char *identity_path(const char *id)
{
	const char *p = id;

	for (int field = 0; field < 4 && p; field++) {
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	return p ? p : "";
}

static int base_check(const struct qemu_config *qc, const struct cfg_node *drive, const char *board,
                      const char *path, bool record)
{
	char *base = qemu_resolve_path(qc->base_dir, cfg_get(drive, "file")->value);
	char id_path[PATH_MAX], now[128 + PATH_MAX], then[128 + PATH_MAX] = "";
	FILE *f;
	int rc;

	if (!base)
		return -ENOMEM;
	snprintf(id_path, sizeof(id_path), "%s.base", path);
	rc = base_identity(base, now, sizeof(now));
	if (rc == 0 && record) {
		f = fopen(id_path, "w");
		if (f) {
			fputs(now, f);
			fclose(f);
		}
	} else if (rc == 0 && (f = fopen(id_path, "r"))) {
		if (!fgets(then, sizeof(then), f))
			then[0] = '\0';
		fclose(f);
		if (then[0] && strcmp(identity_path(then), identity_path(now)) != 0) {
			/* made over another image (the lab's ${variant} changed):
			 * that disk state belongs to the other image; start over */
			hil_info(
			    "board \"%s\": its overlay was made over another image; starting a "
			    "fresh overlay of %s",
			    board, base);
			rc = -EXDEV;
		} else if (then[0] && strcmp(then, now) != 0) {
			hil_error(
			    "board \"%s\": the base image %s changed after its overlay was made "
			    "(rebuilt while a campaign ran?); this run cannot be trusted",
			    board, base);
			rc = -ESTALE;
		}
	}
	free(base);
	return rc;
}

int qemu_overlays_make(const struct qemu_config *qc, const char *board, const char *run_dir,
                       bool fresh, int64_t deadline_ns)
{
	int index = 0, rc = 0;

	for (const struct cfg_node *d = qc->drives ? qc->drives->child : NULL; d && rc == 0;
	     d = d->next, index++) {
		char *path;
		if (!qemu_drive_overlay(d))
			continue;
		path = qemu_overlay_path(run_dir, index);
		if (!path)
			return -ENOMEM;
		if (fresh)
			unlink(path);
		if (access(path, F_OK) < 0) {
			rc = make_one(qc, d, board, run_dir, path, deadline_ns);
			if (rc == 0)
				base_check(qc, d, board, path, true);
		} else {
			rc = base_check(qc, d, board, path, false);
			if (rc == -EXDEV) {
				unlink(path);
				rc = make_one(qc, d, board, run_dir, path, deadline_ns);
				if (rc == 0)
					base_check(qc, d, board, path, true);
			}
		}
		free(path);
	}
	return rc;
}

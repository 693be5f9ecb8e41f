/* qemu/crashdisk.c — the disk a power cut leaves (see wlog.h): which logged
 * writes a power-loss model keeps, and that disk built as a qcow2 overlay.
 *
 * The overlay is filled by qemu-io (qemu-utils, beside qemu-img): one process
 * per batch of up to BATCH_COMMANDS writes, each "write -s FILE" of an
 * entry's data copied to a scratch file ("write -z" when it is all zeroes,
 * "discard" for a discard), so QEMU's own qcow2 code lays the data out and
 * nothing here writes qcow2 metadata. docs/power-loss.md has the costs. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/rand.h"
#include "qemu/proc.h"
#include "qemu/wlog.h"

#define BATCH_COMMANDS 2000
#define COPY_CHUNK (1024 * 1024)
#define KILL_WAIT_NS (5 * NS_PER_S)

static const char *const model_names[] = {
    [WLOG_MODEL_QUIT] = "quit",     [WLOG_MODEL_NONE] = "none", [WLOG_MODEL_ALL] = "all",
    [WLOG_MODEL_STRICT] = "strict", [WLOG_MODEL_TORN] = "torn",
};

const char *wlog_model_name(enum wlog_model model)
{
	return (unsigned)model < sizeof(model_names) / sizeof(model_names[0]) ? model_names[model]
	                                                                      : "?";
}

int wlog_model_parse(const char *name, enum wlog_model *out)
{
	for (size_t i = 0; i < sizeof(model_names) / sizeof(model_names[0]); i++)
		if (name && strcmp(name, model_names[i]) == 0) {
			*out = (enum wlog_model)i;
			return 0;
		}
	return -EINVAL;
}

void wlog_pick_free(struct wlog_pick *pick)
{
	free(pick->extra);
	memset(pick, 0, sizeof(*pick));
}

/* Entries [0, prefix) are on the medium after a cut at end: everything up
 * to the last flush or FUA write. A flush that carries data (a kernel
 * PREFLUSH write) makes only what came before it durable, not itself. */
static uint64_t durable_prefix(const struct wlog *w, uint64_t end)
{
	int64_t d = wlog_last_durable(w, end);
	const struct wlog_entry *e;

	if (d < 0)
		return 0;
	e = wlog_entry(w, (uint64_t)d);
	if (!(e->flags & WLOG_FUA) && wlog_entry_is_write(e))
		return (uint64_t)d;
	return (uint64_t)d + 1;
}

static const char *const fill_names[] = {
    [WLOG_FILL_OLD] = "old", [WLOG_FILL_ZERO] = "zero", [WLOG_FILL_FF] = "ff"};

const char *wlog_fill_name(enum wlog_fill fill)
{
	return (unsigned)fill < sizeof(fill_names) / sizeof(fill_names[0]) ? fill_names[fill] : "?";
}

int wlog_fill_parse(const char *name, enum wlog_fill *out)
{
	for (size_t i = 0; i < sizeof(fill_names) / sizeof(fill_names[0]); i++)
		if (name && strcmp(name, fill_names[i]) == 0) {
			*out = (enum wlog_fill)i;
			return 0;
		}
	return -EINVAL;
}

/* Tear the pick's last write. At whole sectors with the old data kept, the
 * draw is the one the torn model always made (a seed replays as before);
 * otherwise the tear falls at a multiple of unit bytes. */
static void tear(const struct wlog *w, struct wlog_pick *out, uint64_t *rng, uint32_t unit,
                 enum wlog_fill fill)
{
	const struct wlog_entry *last = wlog_entry(w, out->extra[out->n_extra - 1]);
	uint32_t ss = wlog_sector_size(w);
	uint64_t len = last->nr_sectors * ss, units, first;

	if (last->flags & WLOG_DISCARD)
		return;
	if (!unit)
		unit = ss;
	if (unit == ss && fill == WLOG_FILL_OLD) {
		if (last->nr_sectors > 1)
			out->torn_sectors = 1 + splitmix64(rng) % (last->nr_sectors - 1);
		return;
	}
	units = (len + unit - 1) / unit;
	first = fill == WLOG_FILL_OLD ? 1 : 0; /* erased, nothing programmed: a state too */
	if (units <= first)
		return;
	out->torn = true;
	out->torn_fill = fill;
	out->torn_bytes = unit * (first + splitmix64(rng) % (units - first));
}

int wlog_pick_model(const struct wlog *w, uint64_t end, enum wlog_model model, uint64_t seed,
                    struct wlog_pick *out)
{
	return wlog_pick_model_tear(w, end, model, seed, 0, WLOG_FILL_OLD, out);
}

int wlog_pick_model_tear(const struct wlog *w, uint64_t end, enum wlog_model model, uint64_t seed,
                         uint32_t tear_bytes, enum wlog_fill fill, struct wlog_pick *out)
{
	uint64_t rng = seed, n = 0;

	memset(out, 0, sizeof(*out));
	if (model == WLOG_MODEL_QUIT || (unsigned)model > WLOG_MODEL_TORN ||
	    (unsigned)fill > WLOG_FILL_FF ||
	    (tear_bytes && (tear_bytes < WLOG_TEAR_MIN || (tear_bytes & (tear_bytes - 1)))))
		return -EINVAL;
	if (end > wlog_count(w))
		end = wlog_count(w);
	out->prefix = durable_prefix(w, end);
	if (model == WLOG_MODEL_NONE || out->prefix >= end)
		return 0;
	out->extra = calloc(end - out->prefix, sizeof(*out->extra));
	if (!out->extra)
		return -ENOMEM;
	for (uint64_t i = out->prefix; i < end; i++) {
		/* One draw per pending write whatever the model, so that strict
		 * and torn with one seed keep the same subset. */
		bool keep = splitmix64(&rng) & 1;
		if (!wlog_entry_is_write(wlog_entry(w, i)))
			continue;
		if (model == WLOG_MODEL_ALL || keep)
			out->extra[n++] = i;
	}
	out->n_extra = n;
	if (model == WLOG_MODEL_TORN && n > 0)
		tear(w, out, &rng, tear_bytes, fill);
	return 0;
}

void wlog_pick_extent(const struct wlog *w, const struct wlog_pick *pick, size_t k,
                      uint64_t *new_len, uint64_t *len, enum wlog_fill *fill)
{
	const struct wlog_entry *e = wlog_entry(w, pick->extra[k]);
	uint64_t ss = wlog_sector_size(w);

	*len = e ? e->nr_sectors * ss : 0;
	*new_len = *len;
	*fill = WLOG_FILL_OLD;
	if (k + 1 != pick->n_extra)
		return;
	if (pick->torn) {
		*new_len = pick->torn_bytes < *len ? pick->torn_bytes : *len;
		*fill = pick->torn_fill;
	} else if (pick->torn_sectors && e && pick->torn_sectors < e->nr_sectors) {
		*new_len = pick->torn_sectors * ss;
	}
}

/* Bytes [0, new_len) of e's data, then [new_len, len) of fill, into the
 * part of buf (disk bytes [off, off + size)) they overlap. */
static int apply_bytes(const struct wlog *w, const struct wlog_entry *e, uint64_t new_len,
                       uint64_t len, enum wlog_fill fill, uint64_t off, uint8_t *buf, uint64_t size)
{
	uint64_t at = e->sector * wlog_sector_size(w);
	uint64_t from = at > off ? at : off, to = at + len < off + size ? at + len : off + size;

	for (uint64_t p = from; p < to; p++) {
		uint64_t i = p - at;
		if (e->flags & WLOG_DISCARD) {
			buf[p - off] = 0;
		} else if (i < new_len) {
			uint64_t n = (new_len < to - at ? new_len : to - at) - i;
			int rc = wlog_read(w, e, i, buf + (p - off), (size_t)n);
			if (rc < 0)
				return rc;
			p += n - 1;
		} else if (fill != WLOG_FILL_OLD) {
			buf[p - off] = fill == WLOG_FILL_FF ? 0xff : 0;
		}
	}
	return 0;
}

int wlog_pick_apply(const struct wlog *w, const struct wlog_pick *pick, uint64_t disk_off,
                    void *buf, size_t len)
{
	uint64_t n = wlog_count(w);
	int rc = 0;

	for (uint64_t i = 0; rc == 0 && i < pick->prefix && i < n; i++) {
		const struct wlog_entry *e = wlog_entry(w, i);
		uint64_t l = e->nr_sectors * wlog_sector_size(w);
		if (wlog_entry_is_write(e))
			rc = apply_bytes(w, e, l, l, WLOG_FILL_OLD, disk_off, buf, len);
	}
	for (size_t k = 0; rc == 0 && k < pick->n_extra; k++) {
		const struct wlog_entry *e = wlog_entry(w, pick->extra[k]);
		uint64_t new_len, l;
		enum wlog_fill fill;
		if (!e)
			return -EINVAL;
		wlog_pick_extent(w, pick, k, &new_len, &l, &fill);
		if (wlog_entry_is_write(e))
			rc = apply_bytes(w, e, new_len, l, fill, disk_off, buf, len);
	}
	return rc;
}

void wlog_pick_stats(const struct wlog *w, uint64_t end, const struct wlog_pick *pick,
                     struct wlog_pick_stats *out)
{
	uint64_t total = 0, before = 0;

	memset(out, 0, sizeof(*out));
	if (end > wlog_count(w))
		end = wlog_count(w);
	out->last_durable = wlog_last_durable(w, end);
	wlog_counts(w, pick->prefix, &before, NULL);
	wlog_counts(w, end, &total, NULL);
	out->durable_writes = before;
	out->pending = total - before;
	for (size_t i = 0; i < pick->n_extra; i++)
		out->kept +=
		    pick->extra[i] < end && wlog_entry_is_write(wlog_entry(w, pick->extra[i]));
	out->dropped = out->pending > out->kept ? out->pending - out->kept : 0;
	out->torn_index = -1;
	if ((pick->torn_sectors || pick->torn) && pick->n_extra) {
		out->torn_index = (int64_t)pick->extra[pick->n_extra - 1];
		out->torn_sectors = pick->torn ? 0 : pick->torn_sectors;
		wlog_pick_extent(w, pick, pick->n_extra - 1, &out->torn_bytes, &out->torn_len,
		                 &out->torn_fill);
	}
}

/* ---- building the disk ---- */

struct builder {
	const struct wlog *w;
	const char *qemu_io, *image, *scratch;
	int64_t deadline_ns;
	char **argv; /* qemu-io -f qcow2 [-c cmd]... image */
	size_t argc, cap;
	unsigned files; /* scratch files of this batch */
	uint8_t *chunk;
	char *why;
	size_t why_len;
};

static int say(struct builder *b, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int say(struct builder *b, int rc, const char *fmt, ...)
{
	va_list ap;

	if (b->why && b->why_len) {
		va_start(ap, fmt);
		vsnprintf(b->why, b->why_len, fmt, ap);
		va_end(ap);
	}
	return rc;
}

static int push_arg(struct builder *b, char *arg)
{
	if (!arg)
		return -ENOMEM;
	if (b->argc + 2 > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 64;
		char **v = realloc(b->argv, cap * sizeof(*v));
		if (!v) {
			free(arg);
			return -ENOMEM;
		}
		b->argv = v;
		b->cap = cap;
	}
	b->argv[b->argc++] = arg;
	b->argv[b->argc] = NULL;
	return 0;
}

static void clear_batch(struct builder *b)
{
	char path[PATH_MAX];

	for (size_t i = 0; i < b->argc; i++)
		free(b->argv[i]);
	b->argc = 0;
	for (unsigned i = 0; i < b->files; i++) {
		snprintf(path, sizeof(path), "%s/%u", b->scratch, i);
		unlink(path);
	}
	b->files = 0;
}

static int start_batch(struct builder *b)
{
	clear_batch(b);
	if (push_arg(b, strdup(b->qemu_io)) < 0 || push_arg(b, strdup("-f")) < 0 ||
	    push_arg(b, strdup("qcow2")) < 0)
		return -ENOMEM;
	return 0;
}

static int run_batch(struct builder *b)
{
	char out_path[PATH_MAX], tail[400];
	struct qemu_proc proc;
	struct stat st;
	int rc;

	if (b->argc <= 3)
		return 0;
	if (push_arg(b, strdup(b->image)) < 0)
		return -ENOMEM;
	snprintf(out_path, sizeof(out_path), "%s/qemu-io.out", b->scratch);
	rc = qemu_spawn(b->argv, out_path, false, &proc);
	if (rc < 0)
		return say(b, rc, "cannot run %s: %s (Debian: qemu-utils)", b->qemu_io,
		           strerror(-rc));
	if (qemu_proc_wait(&proc, b->deadline_ns) < 0) {
		qemu_proc_kill(&proc, SIGKILL);
		qemu_proc_wait(&proc, clock_now_ns() + KILL_WAIT_NS);
		return say(b, -ETIMEDOUT, "%s did not finish in time", b->qemu_io);
	}
	qemu_stderr_tail(out_path, tail, sizeof(tail));
	/* With -q a write that worked prints nothing: any word is an error. */
	if (!WIFEXITED(proc.status) || WEXITSTATUS(proc.status) != 0 ||
	    (stat(out_path, &st) == 0 && st.st_size > 0))
		return say(b, -EIO, "%s failed: %s", b->qemu_io, tail[0] ? tail : "no output");
	return start_batch(b);
}

/* Copy len bytes of e's data into scratch file *name; *zero: all zeroes. */
static int copy_data(struct builder *b, const struct wlog_entry *e, uint64_t len, char *name,
                     size_t name_len, bool *zero)
{
	int fd, rc = 0;

	*zero = true;
	snprintf(name, name_len, "%s/%u", b->scratch, b->files);
	fd = open(name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	b->files++;
	for (uint64_t done = 0; done < len && rc == 0;) {
		size_t n = len - done > COPY_CHUNK ? COPY_CHUNK : (size_t)(len - done);
		rc = wlog_read(b->w, e, done, b->chunk, n);
		for (size_t i = 0; rc == 0 && *zero && i < n; i++)
			*zero = b->chunk[i] == 0;
		if (rc == 0 && write(fd, b->chunk, n) != (ssize_t)n)
			rc = -EIO;
		done += n;
	}
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	return rc;
}

/* One qemu-io command (owned; NULL: out of memory) into the batch. */
static int push_command(struct builder *b, char *cmd)
{
	if (!cmd || push_arg(b, strdup("-c")) < 0) {
		free(cmd);
		return -ENOMEM;
	}
	if (push_arg(b, cmd) < 0)
		return -ENOMEM;
	return (b->argc - 3) / 2 >= BATCH_COMMANDS ? run_batch(b) : 0;
}

/* Bytes [0, len) of e as it was written (its data, or zeroes for a
 * discard). */
static int add_entry(struct builder *b, const struct wlog_entry *e, uint64_t len)
{
	uint64_t off = e->sector * wlog_sector_size(b->w);
	char name[PATH_MAX], *cmd = NULL;
	bool zero;
	int rc;

	if (!wlog_entry_is_write(e) || len == 0)
		return 0;
	if (e->flags & WLOG_DISCARD) {
		if (asprintf(&cmd, "discard -q %" PRIu64 " %" PRIu64, off, len) < 0)
			cmd = NULL;
	} else {
		rc = copy_data(b, e, len, name, sizeof(name), &zero);
		if (rc < 0)
			return say(b, rc, "entry %" PRIu64 ": cannot copy its data to %s: %s",
			           e->index, name, strerror(-rc));
		if (zero && asprintf(&cmd, "write -q -z %" PRIu64 " %" PRIu64, off, len) < 0)
			cmd = NULL;
		else if (!zero &&
		         asprintf(&cmd, "write -q -s %s %" PRIu64 " %" PRIu64, name, off, len) < 0)
			cmd = NULL;
	}
	return push_command(b, cmd);
}

/* Bytes [from, to) of e's range erased to fill (zero or 0xFF). */
static int add_fill(struct builder *b, const struct wlog_entry *e, uint64_t from, uint64_t to,
                    enum wlog_fill fill)
{
	uint64_t off = e->sector * wlog_sector_size(b->w) + from;
	char *cmd = NULL;

	if (fill == WLOG_FILL_OLD || to <= from)
		return 0;
	if (fill == WLOG_FILL_ZERO &&
	    asprintf(&cmd, "write -q -z %" PRIu64 " %" PRIu64, off, to - from) < 0)
		cmd = NULL;
	else if (fill == WLOG_FILL_FF &&
	         asprintf(&cmd, "write -q -P 0xff %" PRIu64 " %" PRIu64, off, to - from) < 0)
		cmd = NULL;
	return push_command(b, cmd);
}

static int apply_pick(struct builder *b, const struct wlog_pick *pick)
{
	int rc = start_batch(b);
	uint64_t n = wlog_count(b->w);

	for (uint64_t i = 0; rc == 0 && i < pick->prefix && i < n; i++)
		rc = add_entry(b, wlog_entry(b->w, i),
		               wlog_entry(b->w, i)->nr_sectors * wlog_sector_size(b->w));
	for (size_t k = 0; rc == 0 && k < pick->n_extra; k++) {
		const struct wlog_entry *e = wlog_entry(b->w, pick->extra[k]);
		uint64_t new_len, len;
		enum wlog_fill fill;
		if (!e)
			return say(b, -EINVAL, "the pick names entry %" PRIu64 " of %" PRIu64,
			           pick->extra[k], n);
		wlog_pick_extent(b->w, pick, k, &new_len, &len, &fill);
		rc = add_entry(b, e, new_len);
		if (rc == 0 && !(e->flags & WLOG_DISCARD) && wlog_entry_is_write(e))
			rc = add_fill(b, e, new_len, len, fill);
	}
	return rc == 0 ? run_batch(b) : rc;
}

static char *qemu_io_beside(const char *qemu_img)
{
	const char *slash = qemu_img ? strrchr(qemu_img, '/') : NULL;
	char *path;

	if (!slash)
		return strdup("qemu-io");
	return asprintf(&path, "%.*s/qemu-io", (int)(slash - qemu_img), qemu_img) < 0 ? NULL : path;
}

static int create_overlay(const char *qemu_img, const char *base, const char *format,
                          const char *tmp, const char *scratch, int64_t deadline_ns, char *why,
                          size_t why_len)
{
	char *argv[] = {(char *)(qemu_img ? qemu_img : "qemu-img"),
	                "create",
	                "-q",
	                "-f",
	                "qcow2",
	                "-b",
	                (char *)base,
	                "-F",
	                (char *)format,
	                (char *)tmp,
	                NULL};
	char err_path[PATH_MAX + 32], tail[400];
	struct qemu_proc proc;
	int rc;

	snprintf(err_path, sizeof(err_path), "%s/qemu-img.out", scratch);
	rc = qemu_spawn(argv, err_path, false, &proc);
	if (rc < 0) {
		snprintf(why, why_len, "cannot run %s: %s (Debian: qemu-utils)", argv[0],
		         strerror(-rc));
		return rc;
	}
	if (qemu_proc_wait(&proc, deadline_ns) < 0) {
		qemu_proc_kill(&proc, SIGKILL);
		qemu_proc_wait(&proc, clock_now_ns() + KILL_WAIT_NS);
		snprintf(why, why_len, "qemu-img create did not finish in time");
		return -ETIMEDOUT;
	}
	if (WIFEXITED(proc.status) && WEXITSTATUS(proc.status) == 0)
		return 0;
	qemu_stderr_tail(err_path, tail, sizeof(tail));
	snprintf(why, why_len, "qemu-img create over %s failed: %s", base, tail);
	return -EIO;
}

static void remove_scratch(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char path[PATH_MAX + 256];

	while (d && (de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			unlink(path);
		}
	if (d)
		closedir(d);
	rmdir(dir);
}

int wlog_build_disk(const struct wlog *w, const struct wlog_pick *pick, const char *base,
                    const char *base_format, const char *out_path, const char *qemu_img,
                    int64_t deadline_ns, char *why, size_t why_len)
{
	char scratch[PATH_MAX], tmp[PATH_MAX], dummy[2];
	char *abs_base = realpath(base, NULL), *qemu_io = qemu_io_beside(qemu_img);
	struct builder b = {.w = w, .deadline_ns = deadline_ns, .why = why, .why_len = why_len};
	int rc;

	if (!why) {
		why = dummy;
		why_len = sizeof(dummy);
	}
	if (!abs_base || !qemu_io) {
		rc = abs_base ? -ENOMEM : -errno;
		snprintf(why, why_len, "base image %s: %s", base, strerror(-rc));
		goto out;
	}
	snprintf(scratch, sizeof(scratch), "%s.build-XXXXXX", out_path);
	snprintf(tmp, sizeof(tmp), "%s.tmp", out_path);
	if (!mkdtemp(scratch)) {
		rc = -errno;
		snprintf(why, why_len, "cannot make a scratch directory %s: %s", scratch,
		         strerror(-rc));
		goto out;
	}
	unlink(tmp);
	b.qemu_io = qemu_io;
	b.image = tmp;
	b.scratch = scratch;
	b.chunk = malloc(COPY_CHUNK);
	rc = b.chunk ? create_overlay(qemu_img, abs_base, base_format ? base_format : "raw", tmp,
	                              scratch, deadline_ns, why, why_len)
	             : -ENOMEM;
	if (rc == 0)
		rc = apply_pick(&b, pick);
	if (rc == 0 && rename(tmp, out_path) < 0) {
		rc = -errno;
		snprintf(why, why_len, "cannot rename %s to %s: %s", tmp, out_path, strerror(-rc));
	}
	clear_batch(&b);
	free(b.argv);
	free(b.chunk);
	if (rc < 0)
		unlink(tmp);
	remove_scratch(scratch);
out:
	free(abs_base);
	free(qemu_io);
	return rc;
}

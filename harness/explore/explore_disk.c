/* harness/explore/explore_disk.c — the explorer's view of a QEMU board's disk: which
 * drive it is and its base image, the recorded write log with a content
 * hash for every written sector, the entry count of a log QEMU is still
 * writing, and building and installing the disk of one crash state. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qemu/launch.h"
#include "qemu/wlog.h"
#include "harness/lab/board.h"
#include "lib/cfg.h"
#include "lib/clock.h"
#include "harness/explore/explore_int.h"
#include "lib/log.h"

int explore_disk_identity(const char *path, char *out, size_t size)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return -errno;
	snprintf(out, size, "%llu %llu %lld %lld.%09ld", (unsigned long long)st.st_dev,
	         (unsigned long long)st.st_ino, (long long)st.st_size, (long long)st.st_mtim.tv_sec,
	         st.st_mtim.tv_nsec);
	return 0;
}

int explore_find_disk(const struct lab *lab, const struct board_cfg *b, struct explore_disk *d)
{
	const struct cfg_node *driver = cfg_get(b->power, "driver");
	const struct cfg_node *drives = cfg_get(b->power, "drives"), *bin;
	int index = 0;

	memset(d, 0, sizeof(*d));
	d->drive_index = -1;
	if (!driver || strcmp(driver->value, "qemu") != 0) {
		hil_error("%s: board \"%s\": explore needs a QEMU board (power.driver: qemu) whose "
		          "disk QEMU can log; this one is \"%s\"",
		          lab->path, b->name, driver ? driver->value : "?");
		return -EINVAL;
	}
	for (const struct cfg_node *dr = drives ? drives->child : NULL; dr;
	     dr = dr->next, index++) {
		char *dir, *path;
		const struct cfg_node *fmt;
		if (!qemu_drive_overlay(dr))
			continue;
		dir = qemu_lab_dir(b->power);
		path = dir ? qemu_resolve_path(dir, cfg_get(dr, "file")->value) : NULL;
		free(dir);
		if (!path)
			return -ENOMEM;
		/* One name for one file: the recording compares it later. */
		if (!realpath(path, d->base))
			snprintf(d->base, sizeof(d->base), "%s", path);
		free(path);
		fmt = cfg_get(dr, "format");
		snprintf(d->base_format, sizeof(d->base_format), "%s",
		         fmt && fmt->value[0] ? fmt->value : "raw");
		d->drive_index = index;
		break;
	}
	if (d->drive_index < 0) {
		hil_error("%s: board \"%s\": explore needs a drive with overlay: true (the disk "
		          "whose writes are logged, and under which crash disks are laid)",
		          lab->path, b->name);
		return -EINVAL;
	}
	if (explore_disk_identity(d->base, d->base_identity, sizeof(d->base_identity)) < 0) {
		hil_error("board \"%s\": base image %s: %s", b->name, d->base, strerror(errno));
		return -ENOENT;
	}
	bin = cfg_get(b->power, "binary");
	if (bin && strchr(bin->value, '/')) {
		char *dir = qemu_lab_dir(b->power),
		     *path = dir ? qemu_resolve_path(dir, bin->value) : NULL;
		char *slash = path ? strrchr(path, '/') : NULL;
		if (slash)
			snprintf(d->qemu_img, sizeof(d->qemu_img), "%.*s/qemu-img",
			         (int)(slash - path), path);
		if (d->qemu_img[0] && access(d->qemu_img, X_OK) < 0)
			d->qemu_img[0] = '\0';
		free(dir);
		free(path);
	}
	return 0;
}

/* ---- the recorded log, hashed ---- */

struct base_reader {
	int fd;
	uint32_t sector_size;
};

static uint64_t base_sector_hash(void *arg, uint64_t sector)
{
	struct base_reader *br = arg;
	unsigned char buf[WLOG_MAX_SECTOR_SIZE > 65536 ? 65536 : WLOG_MAX_SECTOR_SIZE];
	ssize_t got = -1;

	if (br->sector_size <= sizeof(buf))
		got = pread(br->fd, buf, br->sector_size, (off_t)(sector * br->sector_size));
	if (got < 0)
		got = 0;
	/* Past the end of the file a raw image reads as zeroes. */
	memset(buf + got, 0, br->sector_size - (size_t)got);
	return explore_sector_hash(buf, br->sector_size);
}

int explore_load_log(struct explore *x)
{
	char why[300];
	uint64_t total = 0, k = 0;
	uint32_t ss;
	unsigned char *buf = NULL;
	int rc = wlog_open(x->log_path, 0, &x->log, why, sizeof(why));

	if (rc < 0) {
		hil_error("%s: %s", x->log_path, why);
		return rc;
	}
	x->n = wlog_count(x->log);
	ss = wlog_sector_size(x->log);
	for (uint64_t i = 0; i < x->n; i++) {
		const struct wlog_entry *we = wlog_entry(x->log, i);
		if (wlog_entry_is_write(we) && !(we->flags & WLOG_DISCARD))
			total += we->nr_sectors;
	}
	x->e = calloc(x->n + 1, sizeof(*x->e));
	x->sector_hashes = malloc((total + 1) * sizeof(uint64_t));
	buf = malloc((size_t)ss * 256);
	if (!x->e || !x->sector_hashes || !buf) {
		free(buf);
		return -ENOMEM;
	}
	for (uint64_t i = 0; i < x->n; i++) {
		const struct wlog_entry *we = wlog_entry(x->log, i);
		struct xw_entry *e = &x->e[i];
		e->sector = we->sector;
		e->nr_sectors = we->flags & WLOG_MARK ? 0 : we->nr_sectors;
		e->flags = we->flags;
		if (!wlog_entry_is_write(we) || we->flags & WLOG_DISCARD)
			continue;
		e->hashes = x->sector_hashes + k;
		for (uint64_t s = 0; s < we->nr_sectors; s += 256) {
			uint64_t chunk = we->nr_sectors - s < 256 ? we->nr_sectors - s : 256;
			rc = wlog_read(x->log, we, s * ss, buf, (size_t)(chunk * ss));
			if (rc < 0) {
				hil_error("%s: entry %llu: cannot read its data: %s", x->log_path,
				          (unsigned long long)i, strerror(-rc));
				free(buf);
				return rc;
			}
			for (uint64_t j = 0; j < chunk; j++)
				x->sector_hashes[k++] = explore_sector_hash(buf + j * ss, ss);
		}
	}
	free(buf);
	return 0;
}

void explore_unload(struct explore *x)
{
	explore_list_free(&x->states);
	wlog_close(x->log);
	x->log = NULL;
	free(x->e);
	free(x->sector_hashes);
	free(x->ph);
	x->e = NULL;
	x->sector_hashes = NULL;
	x->ph = NULL;
}

/* Hashing reads the base only when it is a raw image. */
static int with_base(struct explore *x, struct xs_opts *o, struct base_reader *br)
{
	br->fd = -1;
	br->sector_size = wlog_sector_size(x->log);
	*o = (struct xs_opts){.seed = x->o->seed, .reorder = x->o->reorder, .phases = x->o->phases};
	if (!strcmp(x->disk.base_format, "raw"))
		br->fd = open(x->disk.base, O_RDONLY | O_CLOEXEC);
	if (br->fd >= 0) {
		o->base_hash = base_sector_hash;
		o->base_arg = br;
	}
	return 0;
}

int explore_enumerate_log(struct explore *x)
{
	struct base_reader br;
	struct xs_opts o;
	int rc;

	with_base(x, &o, &br);
	rc = explore_enumerate(x->e, x->n, x->ph, x->n_ph, &o, &x->states);
	if (br.fd >= 0)
		close(br.fd);
	return rc;
}

int explore_hash_one(struct explore *x, struct xs_state *st)
{
	struct base_reader br;
	struct xs_opts o;
	int rc;

	with_base(x, &o, &br);
	explore_state_place(x->e, x->n, x->ph, x->n_ph, st);
	rc = explore_state_hash(x->e, x->n, &o, st);
	if (br.fd >= 0)
		close(br.fd);
	return rc;
}

/* ---- crash disks ---- */

static bool ascending(const struct xs_state *st)
{
	for (uint32_t i = 1; i < st->n_extra; i++)
		if (st->extra[i] <= st->extra[i - 1])
			return false;
	return true;
}

/* A reordered state is not a pick (picks apply in log order): its entries
 * are copied, in the state's order, into a log of their own whose whole
 * length is the pick. */
static int reordered_log(const struct explore *x, const struct xs_state *st, const char *path,
                         struct wlog **out, char *why, size_t why_size)
{
	struct wlog_writer *ww;
	uint32_t ss = wlog_sector_size(x->log);
	int rc = wlog_writer_open(path, ss, &ww);
	void *buf = NULL;
	size_t cap = 0;

	for (uint64_t i = 0; rc == 0 && i < st->prefix + st->n_extra; i++) {
		uint64_t idx = i < st->prefix ? i : st->extra[i - st->prefix];
		const struct wlog_entry *we = wlog_entry(x->log, idx);
		size_t len = we->data_offset ? (size_t)(we->nr_sectors * ss) : 0;
		if (len > cap) {
			void *nb = realloc(buf, len);
			if (!nb) {
				rc = -ENOMEM;
				break;
			}
			buf = nb;
			cap = len;
		}
		if (len && (rc = wlog_read(x->log, we, 0, buf, len)) < 0)
			break;
		if (!(we->flags & WLOG_MARK))
			rc = wlog_writer_add(ww, we->sector, we->nr_sectors, we->flags,
			                     len ? buf : NULL);
	}
	free(buf);
	if (wlog_writer_close(ww) < 0 && rc == 0)
		rc = -EIO;
	if (rc == 0)
		rc = wlog_open(path, 0, out, why, why_size);
	else
		snprintf(why, why_size, "cannot write the reordered log %s: %s", path,
		         strerror(-rc));
	return rc;
}

int explore_build_disk(const struct explore *x, const struct xs_state *st, const char *out_path,
                       int64_t deadline_ns, char *why, size_t why_size)
{
	const char *img = x->disk.qemu_img[0] ? x->disk.qemu_img : NULL;
	struct wlog_pick pick = {.prefix = st->prefix, .n_extra = st->n_extra};
	int rc;

	unlink(out_path);
	if (ascending(st)) {
		uint64_t *extra = calloc(st->n_extra + 1, sizeof(*extra));
		if (!extra)
			return -ENOMEM;
		for (uint32_t i = 0; i < st->n_extra; i++)
			extra[i] = st->extra[i];
		pick.extra = extra;
		rc = wlog_build_disk(x->log, &pick, x->disk.base, x->disk.base_format, out_path,
		                     img, deadline_ns, why, why_size);
		free(extra);
	} else {
		char tmp[PATH_MAX + 16];
		struct wlog *w = NULL;
		snprintf(tmp, sizeof(tmp), "%s.log", out_path);
		rc = reordered_log(x, st, tmp, &w, why, why_size);
		if (rc == 0) {
			pick = (struct wlog_pick){.prefix = wlog_count(w)};
			rc = wlog_build_disk(w, &pick, x->disk.base, x->disk.base_format, out_path,
			                     img, deadline_ns, why, why_size);
		}
		wlog_close(w);
		unlink(tmp);
	}
	return rc;
}

int explore_install_disk(const struct explore *x, struct board *b, const char *disk_path)
{
	char durable[PATH_MAX + 64], why[400] = "";
	char *overlay = qemu_overlay_path(b->run_dir, x->disk.drive_index);
	struct wlog_pick empty = {0};
	int rc = 0;

	if (!overlay)
		return -ENOMEM;
	/* The crash disk takes the place qemu/powerloss.h gives the disk of a
	 * board's first power cut, RUN/durable-<index>-1.qcow2, and the board
	 * runs on a fresh overlay over it: a power cycle of the oracle's
	 * ladder under a power_loss: model then builds on this disk, and the
	 * next run's prepare removes it. */
	snprintf(durable, sizeof(durable), "%s/durable-%d-1.qcow2", b->run_dir,
	         x->disk.drive_index);
	if (rename(disk_path, durable) < 0) {
		rc = -errno;
		snprintf(why, sizeof(why), "cannot move the crash disk to %.300s: %s", durable,
		         strerror(errno));
	}
	if (rc == 0) {
		unlink(overlay);
		rc = wlog_build_disk(x->log, &empty, durable, "qcow2", overlay,
		                     x->disk.qemu_img[0] ? x->disk.qemu_img : NULL,
		                     clock_now_ns() + 60 * NS_PER_S, why, sizeof(why));
	}
	if (rc < 0)
		hil_error("board \"%s\": cannot put the crash disk under the board: %s",
		          b->cfg->name, why[0] ? why : strerror(-rc));
	free(overlay);
	return rc;
}

/* ---- a log QEMU is writing ---- */

static uint64_t le64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* Count whole entries from *pos on: one counts once its header and all its
 * data are in the file. */
static int scan(int fd, uint64_t *pos, uint64_t *count, uint32_t sector_size)
{
	unsigned char hdr[32];
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	while ((uint64_t)st.st_size >= *pos + sector_size &&
	       pread(fd, hdr, 32, (off_t)*pos) == 32) {
		uint64_t sector = le64(hdr), nr = le64(hdr + 8), flags = le64(hdr + 16);
		uint64_t size = sector_size * (1 + (flags & WLOG_DISCARD ? 0 : nr));
		if (flags & ~(uint64_t)WLOG_FLAG_MASK || (!sector && !nr && !flags) ||
		    (uint64_t)st.st_size < *pos + size)
			break;
		*pos += size;
		(*count)++;
	}
	return 0;
}

int explore_log_progress(const char *path, uint64_t *pos, uint64_t *count, uint32_t *sector_size)
{
	unsigned char sb[28];
	uint32_t ss;
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc;

	if (fd < 0)
		return -errno;
	if (!*sector_size && pread(fd, sb, sizeof(sb), 0) == (ssize_t)sizeof(sb)) {
		ss = (uint32_t)sb[24] | (uint32_t)sb[25] << 8 | (uint32_t)sb[26] << 16 |
		     (uint32_t)sb[27] << 24;
		if (le64(sb) == WLOG_MAGIC && ss >= 32 && ss <= WLOG_MAX_SECTOR_SIZE &&
		    !(ss & (ss - 1)))
			*sector_size = ss;
	}
	/* QEMU writes the superblock at a flush (or every
	 * log-super-update-interval entries); until then 512 is assumed. */
	ss = *sector_size ? *sector_size : 512;
	if (*pos < ss)
		*pos = ss;
	rc = scan(fd, pos, count, ss);
	close(fd);
	return rc;
}

/* The lab file's power_loss: for this board, set to "none" unless it
 * names a model already: QEMU then logs the disk's writes (qemu/powerloss.h);
 * which model does not matter, the recording has no cut. */
int explore_enable_log(struct explore *x, const struct board_cfg *bc)
{
	struct cfg_node *power = (struct cfg_node *)bc->power, *n, **tail;
	const struct cfg_node *have = cfg_get(power, "power_loss");

	/* power_loss: MODEL, or power_loss: {model: MODEL, seed: N} */
	if (have && have->type == CFG_MAP) {
		const struct cfg_node *model = cfg_get(have, "model");
		if (!model) /* the default model logs */
			return 0;
		have = model;
	}
	if (have && !(have->type == CFG_SCALAR && !strcmp(have->value, "quit")))
		return 0;
	if (have) {
		n = (struct cfg_node *)have;
		free(n->value);
		n->value = strdup("none");
		return n->value ? 0 : -ENOMEM;
	}
	n = calloc(1, sizeof(*n));
	if (!n || !(n->key = strdup("power_loss")) || !(n->value = strdup("none"))) {
		if (n)
			free(n->key);
		free(n);
		return -ENOMEM;
	}
	n->type = CFG_SCALAR;
	n->file = power->file;
	n->line = power->line;
	n->col = power->col;
	n->parent = power;
	for (tail = &power->child; *tail; tail = &(*tail)->next)
		;
	*tail = n;
	(void)x;
	return 0;
}

int explore_live_log(struct explore *x, struct board *b, char *out, size_t size)
{
	/* Where qemu/powerloss.h says QEMU logs the drive's writes. */
	snprintf(out, size, "%s/wlog-%d.log", b->run_dir, x->disk.drive_index);
	return 0;
}

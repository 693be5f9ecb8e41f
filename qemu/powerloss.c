/* qemu/powerloss.c — the lab file's power_loss: setting, and what a power on
 * makes of the log the last power off left (see powerloss.h). */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/cfg.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/timeline.h"
#include "qemu/launch.h"
#include "qemu/overlay.h"
#include "qemu/powerloss.h"
#include "qemu/proc.h"
#include "qemu/wlog.h"

static const char *const loss_keys[] = {"model", "seed", "tear", "tear_fill", NULL};
static const char *const fill_words[] = {"old", "zero", "ff", NULL};
static const char *const model_words[] = {"quit", "none", "all", "strict", "torn", NULL};

/* A drive option that stops flushes before they reach blklogwrites. */
static const struct cfg_node *flush_killer(const struct cfg_node *drive)
{
	const struct cfg_node *cache = cfg_get(drive, "cache"),
	                      *no_flush = cfg_get(drive, "cache.no-flush");

	if (cache && cache->type == CFG_SCALAR && strcmp(cache->value, "unsafe") == 0)
		return cache;
	if (no_flush && no_flush->type == CFG_SCALAR &&
	    (strcmp(no_flush->value, "on") == 0 || strcmp(no_flush->value, "true") == 0))
		return no_flush;
	return NULL;
}

static int check_drives(struct qemu_config *qc, const struct cfg_node *loss)
{
	int overlays = 0;

	for (const struct cfg_node *d = qc->drives ? qc->drives->child : NULL; d; d = d->next) {
		const struct cfg_node *bad;
		if (!qemu_drive_overlay(d))
			continue;
		overlays++;
		bad = flush_killer(d);
		if (bad) {
			cfg_error(bad,
			          "drops the guest's flushes, so power_loss: %s could never "
			          "keep a write; remove it (the overlay keeps the image safe)",
			          wlog_model_name(qc->loss_model));
			return -EINVAL;
		}
	}
	if (overlays == 0) {
		cfg_error(loss, "needs a drive with overlay: true (the disk the model acts on)");
		return -EINVAL;
	}
	return 0;
}

/* tear: BYTES (a power of two, WLOG_TEAR_MIN .. 1 MiB) and tear_fill:
 * old | zero | ff, for the torn model (wlog_pick_model_tear). */
static int parse_tear(struct qemu_config *qc, const struct cfg_node *loss)
{
	const struct cfg_node *tear = cfg_get(loss, "tear");
	long long bytes = 0;
	int fill = WLOG_FILL_OLD;

	if (cfg_get_int(loss, "tear", false, WLOG_TEAR_MIN, 1 << 20, &bytes) < 0 ||
	    cfg_get_enum(loss, "tear_fill", false, fill_words, &fill) < 0)
		return -EINVAL;
	if (tear && (bytes & (bytes - 1))) {
		cfg_error(tear,
		          "%lld is not a power of two (the granularity a write tears at, "
		          "e.g. 16, 512, 4096)",
		          bytes);
		return -EINVAL;
	}
	qc->loss_tear = (unsigned)bytes;
	qc->loss_tear_fill = (enum wlog_fill)fill;
	return 0;
}

/* tear settings under a model that tears nothing: said, not refused (a lab
 * that picks its model through a variable keeps them for --set
 * power_loss=torn, and the explorer records under "none"). */
static void warn_unused_tear(const struct qemu_config *qc, const struct cfg_node *loss,
                             enum wlog_model model)
{
	const struct cfg_node *n =
	    cfg_get(loss, "tear") ? cfg_get(loss, "tear") : cfg_get(loss, "tear_fill");
	bool plain = (qc->loss_tear == 0 || qc->loss_tear == 512) &&
	             qc->loss_tear_fill == WLOG_FILL_OLD; /* what torn does anyway */

	if (n && !plain && model != WLOG_MODEL_TORN && model != WLOG_MODEL_QUIT)
		hil_warn("%s:%d:%d: power_loss.%s applies to model torn only; model %s tears no "
		         "write",
		         n->file, n->line, n->col, n->key, wlog_model_name(model));
}

int qemu_power_loss_parse(struct qemu_config *qc, const struct cfg_node *settings)
{
	const struct cfg_node *loss = cfg_get(settings, "power_loss");
	int model = WLOG_MODEL_STRICT;
	long long seed = 0;

	qc->loss_model = qc->loss_model_lab = WLOG_MODEL_QUIT;
	qc->loss_seed = 0;
	qc->loss_tear = 0;
	qc->loss_tear_fill = WLOG_FILL_OLD;
	if (!loss)
		return 0;
	if (loss->type == CFG_SCALAR) {
		if (cfg_get_enum(settings, "power_loss", true, model_words, &model) < 0)
			return -EINVAL;
	} else {
		if (cfg_expect_type(loss, CFG_MAP) < 0 || cfg_check_keys(loss, loss_keys) < 0 ||
		    cfg_get_enum(loss, "model", false, model_words, &model) < 0 ||
		    cfg_get_int(loss, "seed", false, 0, LLONG_MAX, &seed) < 0 ||
		    parse_tear(qc, loss) < 0)
			return -EINVAL;
	}
	qc->loss_model = qc->loss_model_lab = (enum wlog_model)model;
	qc->loss_seed = (unsigned long long)seed;
	warn_unused_tear(qc, loss, (enum wlog_model)model);
	return qc->loss_model == WLOG_MODEL_QUIT ? 0 : check_drives(qc, loss);
}

/* Index of the board's disk: the first overlay drive, -1 none. */
static int disk_index(const struct qemu_config *qc)
{
	int index = 0;

	for (const struct cfg_node *d = qc->drives ? qc->drives->child : NULL; d;
	     d = d->next, index++)
		if (qemu_drive_overlay(d))
			return index;
	return -1;
}

int qemu_power_loss_for_run(struct qemu_config *qc, const char *board, bool want_log)
{
	qc->loss_model = qc->loss_model_lab;
	if (!want_log || qc->loss_model != WLOG_MODEL_QUIT)
		return 0;
	if (disk_index(qc) < 0) {
		hil_error("board \"%s\": a power cut at a disk write counts the writes of a drive "
		          "with overlay: true, and this board has none",
		          board);
		return -EINVAL;
	}
	qc->loss_model = WLOG_MODEL_ALL;
	return 0;
}

char *qemu_power_loss_disk_log(const struct qemu_config *qc, const char *run_dir)
{
	int index = disk_index(qc);

	return qc->loss_model == WLOG_MODEL_QUIT || index < 0 ? NULL
	                                                      : qemu_wlog_path(run_dir, index);
}

/* How long a cut waits for the kernel to report QEMU stopped before it
 * takes the moment of the kill instead. */
#define STOP_PATIENCE_NS (100 * NS_PER_MS)
#define STOP_POLL_NS (20 * 1000)

/* Our own child stopped (waitid reports the group stop, and leaves it
 * waitable): 0 with *t_ns set, or -1 when it cannot tell in time. The kernel
 * offers no fd for a stop (a pidfd reports the exit only), so this polls in
 * 20 µs steps, for at most STOP_PATIENCE_NS, at a cut only. */
static int wait_stopped(const struct qemu_proc *proc, int64_t *t_ns)
{
	int64_t deadline = clock_now_ns() + STOP_PATIENCE_NS;
	struct timespec step = {0, STOP_POLL_NS};

	if (!proc->ours)
		return -1;
	for (;;) {
		siginfo_t si = {0};
		if (waitid(P_PID, (id_t)proc->pid, &si, WSTOPPED | WNOHANG | WNOWAIT) < 0)
			return -1;
		if (si.si_pid == proc->pid) {
			*t_ns = clock_now_ns();
			return 0;
		}
		if (clock_now_ns() >= deadline)
			return -1;
		nanosleep(&step, NULL);
	}
}

int qemu_power_loss_cut(const struct qemu_config *qc, struct qemu_proc *proc, int64_t *t_cut_ns,
                        int64_t deadline_ns)
{
	int rc;

	if (qc->loss_model == WLOG_MODEL_QUIT)
		return 0;
	/* Freeze first: the kernel stops every thread of QEMU, and from then
	 * on nothing reaches the disk or its log; that is the moment the
	 * power went. The kill follows (SIGKILL ends a stopped process). */
	rc = qemu_proc_kill(proc, SIGSTOP);
	if (rc < 0 || wait_stopped(proc, t_cut_ns) < 0)
		*t_cut_ns = 0;
	rc = qemu_proc_kill(proc, SIGKILL);
	if (!*t_cut_ns)
		*t_cut_ns = clock_now_ns();
	if (rc < 0 && rc != -ESRCH)
		return rc;
	return qemu_proc_wait(proc, deadline_ns) < 0 ? -ETIMEDOUT : 1;
}

char *qemu_wlog_path(const char *run_dir, int index)
{
	char *path;

	return asprintf(&path, "%s/wlog-%d.log", run_dir, index) < 0 ? NULL : path;
}

static char *durable_path(const char *run_dir, int index, int n)
{
	char *path;

	return asprintf(&path, "%s/durable-%d-%d.qcow2", run_dir, index, n) < 0 ? NULL : path;
}

/* The log of the power on that cut n ended, kept for hilctl wlog build. */
static char *cut_log_path(const char *run_dir, int index, int n)
{
	char *path;

	return asprintf(&path, "%s/wlog-%d-cut%d.log", run_dir, index, n) < 0 ? NULL : path;
}

/* How many durable disks drive index has had since prepare. */
static int durable_count(const char *run_dir, int index)
{
	int n = 0;

	for (;; n++) {
		char *path = durable_path(run_dir, index, n + 1);
		bool there = path && access(path, F_OK) == 0;
		free(path);
		if (!there)
			return n;
	}
}

void qemu_power_loss_reset(const struct qemu_config *qc, const char *run_dir)
{
	int index = 0;

	for (const struct cfg_node *d = qc->drives ? qc->drives->child : NULL; d;
	     d = d->next, index++) {
		char *log = qemu_wlog_path(run_dir, index);
		int n = durable_count(run_dir, index);
		if (log)
			unlink(log);
		free(log);
		for (; n > 0; n--) {
			char *path = durable_path(run_dir, index, n);
			char *cut_log = cut_log_path(run_dir, index, n);
			if (path)
				unlink(path);
			if (cut_log)
				unlink(cut_log);
			free(path);
			free(cut_log);
		}
	}
}

static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* The seed of cut n of drive index: the same run, lab seed, drive and cut
 * give the same subset on every host. */
static uint64_t cut_seed(uint64_t run_seed, uint64_t lab_seed, int index, int n)
{
	return mix(mix(mix(run_seed) ^ lab_seed) ^ ((uint64_t)index << 32 | (uint32_t)n));
}

struct drive_ctx {
	const struct qemu_config *qc;
	const char *board, *run_dir;
	int index;
	uint64_t keep_writes; /* this drive's cut came at that write, 0: at the end */
	char *log, *overlay, *img;
	struct timeline *tl;
	int64_t deadline_ns;
};

static void note(const struct drive_ctx *c, const struct wlog *w, uint64_t end, uint64_t seed,
                 int n, const struct wlog_pick_stats *st)
{
	char torn[128] = "", at[96] = "";
	uint64_t flushes;

	wlog_counts(w, end, NULL, &flushes);
	if (c->keep_writes)
		snprintf(at, sizeof(at),
		         ", cut after write %" PRIu64 " (%" PRIu64 " entries of %" PRIu64 ")",
		         c->keep_writes, end, wlog_count(w));
	if (st->torn_index >= 0 && st->torn_sectors)
		snprintf(torn, sizeof(torn),
		         ", write #%" PRId64 " torn after %" PRIu64 " sector(s)", st->torn_index,
		         st->torn_sectors);
	else if (st->torn_index >= 0)
		snprintf(torn, sizeof(torn),
		         ", write #%" PRId64 " torn after %" PRIu64 " of %" PRIu64
		         " bytes, the rest %s",
		         st->torn_index, st->torn_bytes, st->torn_len,
		         st->torn_fill == WLOG_FILL_OLD    ? "old data"
		         : st->torn_fill == WLOG_FILL_ZERO ? "zeros"
		                                           : "0xff");
	timeline_event(c->tl, clock_now_ns(), "power_loss",
	               "drive %d, cut %d%s, model %s (seed %" PRIu64 "): %" PRIu64 " log entries, "
	               "%" PRIu64 " flushes, last flush #%" PRId64 "; %" PRIu64 " writes durable, "
	               "%" PRIu64 " after the last flush: kept %" PRIu64 ", dropped %" PRIu64 "%s",
	               c->index, n, at, wlog_model_name(c->qc->loss_model), seed, end, flushes,
	               st->last_durable, st->durable_writes, st->pending, st->kept, st->dropped,
	               torn);
	hil_info("board \"%s\": power loss on drive %d (model %s): kept %" PRIu64 " of %" PRIu64
	         " writes after the last flush%s",
	         c->board, c->index, wlog_model_name(c->qc->loss_model), st->kept, st->pending,
	         torn);
}

/* The disk the board had at the last power on: the newest durable disk,
 * else the lab file's image. */
static int current_base(const struct drive_ctx *c, const struct cfg_node *drive, int n, char **base,
                        const char **format)
{
	if (n > 0) {
		*base = durable_path(c->run_dir, c->index, n);
		*format = "qcow2";
	} else {
		*base = qemu_resolve_path(c->qc->base_dir, cfg_get(drive, "file")->value);
		*format = "raw";
		cfg_get_str(drive, "format", false, format);
	}
	return *base ? 0 : -ENOMEM;
}

/* Apply the model to the log of one drive: a new durable disk and a fresh
 * overlay over it. */
static int apply_cut(struct drive_ctx *c, const struct cfg_node *drive, struct wlog *w,
                     uint64_t run_seed)
{
	int n = durable_count(c->run_dir, c->index) + 1;
	uint64_t seed = cut_seed(run_seed, c->qc->loss_seed, c->index, n);
	struct wlog_pick pick = {0}, empty = {0};
	struct wlog_pick_stats st;
	char why[512] = "", *base = NULL, *out = durable_path(c->run_dir, c->index, n);
	const char *format;
	int rc = out ? current_base(c, drive, n - 1, &base, &format) : -ENOMEM;
	uint64_t end = c->keep_writes ? wlog_end_after_write(w, c->keep_writes) : wlog_count(w);

	if (rc == 0 && end == 0 && c->keep_writes) {
		snprintf(why, sizeof(why),
		         "the cut came at write %" PRIu64 " but the log holds fewer",
		         c->keep_writes);
		rc = -ERANGE;
	}
	if (rc == 0)
		rc = wlog_pick_model_tear(w, end, c->qc->loss_model, seed, c->qc->loss_tear,
		                          c->qc->loss_tear_fill, &pick);
	if (rc == 0) {
		wlog_pick_stats(w, end, &pick, &st);
		/* Always from the log: QEMU was killed without writing back its
		 * qcow2 caches, so its overlay is not a disk to trust. */
		rc = wlog_build_disk(w, &pick, base, format, out, c->img, c->deadline_ns, why,
		                     sizeof(why));
	}
	/* The next power on runs on a fresh overlay over that disk. */
	if (rc == 0)
		rc = wlog_build_disk(w, &empty, out, "qcow2", c->overlay, c->img, c->deadline_ns,
		                     why, sizeof(why));
	if (rc == 0)
		note(c, w, end, seed, n, &st);
	else
		hil_error("board \"%s\": cannot make the disk a power cut leaves (drive %d, model "
		          "%s): %s",
		          c->board, c->index, wlog_model_name(c->qc->loss_model),
		          why[0] ? why : strerror(-rc));
	wlog_pick_free(&pick);
	free(base);
	free(out);
	return rc;
}

static int power_on_drive(struct drive_ctx *c, const struct cfg_node *drive, uint64_t run_seed)
{
	struct wlog *w = NULL;
	char why[512];
	FILE *f;
	int rc = 0;

	if (access(c->overlay, F_OK) == 0 && access(c->log, F_OK) == 0) {
		rc = wlog_open(c->log, 0, &w, why, sizeof(why));
		if (rc < 0) {
			hil_error("board \"%s\": the write log of drive %d is unreadable: %s",
			          c->board, c->index, why);
			return rc;
		}
		uint64_t entries = wlog_count(w);
		if (entries > 0)
			rc = apply_cut(c, drive, w, run_seed);
		wlog_close(w);
		if (rc == 0 && entries > 0) {
			char *kept =
			    cut_log_path(c->run_dir, c->index, durable_count(c->run_dir, c->index));
			if (!kept || rename(c->log, kept) < 0)
				hil_warn("board \"%s\": cannot keep the write log %s", c->board,
				         c->log);
			free(kept);
		}
	}
	if (rc < 0)
		return rc;
	/* blklogwrites writes into an existing file: start it empty. */
	f = fopen(c->log, "w");
	if (!f || fclose(f) != 0) {
		rc = -errno;
		hil_error("board \"%s\": cannot make the write log %s: %s", c->board, c->log,
		          strerror(-rc));
	}
	return rc;
}

int qemu_power_loss_power_on(const struct qemu_config *qc, const char *board, const char *run_dir,
                             uint64_t run_seed, uint64_t keep_writes, struct timeline *tl,
                             int64_t deadline_ns)
{
	int disk = disk_index(qc);
	struct drive_ctx c = {
	    .qc = qc, .board = board, .run_dir = run_dir, .tl = tl, .deadline_ns = deadline_ns};
	int rc = 0;

	if (qc->loss_model == WLOG_MODEL_QUIT)
		return 0;
	c.img = qemu_img_program(qc);
	for (const struct cfg_node *d = qc->drives ? qc->drives->child : NULL; d && rc == 0;
	     d = d->next, c.index++) {
		if (!qemu_drive_overlay(d))
			continue;
		c.keep_writes = c.index == disk ? keep_writes : 0;
		c.log = qemu_wlog_path(run_dir, c.index);
		c.overlay = qemu_overlay_path(run_dir, c.index);
		rc = c.log && c.overlay && c.img ? power_on_drive(&c, d, run_seed) : -ENOMEM;
		free(c.log);
		free(c.overlay);
	}
	free(c.img);
	return rc;
}

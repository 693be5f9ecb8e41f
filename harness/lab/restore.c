/* harness/lab/restore.c — the storage: section of a board and the restore
 * before each run (restore.h): decide by the policy and what the last run
 * left, and reflash the baseline image through the board's storage mux and
 * the image writer. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness/lab/board.h"
#include "harness/lab/restore.h"
#include "lib/cfg.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/num.h"
#include "lib/timeline.h"
#include "storage/bmap.h"
#include "storage/storage.h"
#include "storage/writer.h"

#define RESTORE_WAIT_DEFAULT_NS (30 * NS_PER_S)

static const char *const keys[] = {"mux",         "image",     "bmap", "full_write", "verify",
                                   "expect_size", "expect_id", "wait", "restore",    NULL};
static const char *const policies[] = {"auto", "always", "never", NULL};

const char *restore_policy_name(enum restore_policy p)
{
	return policies[p];
}

/* A path from the lab file: absolute as it is, else beside the lab file. */
static char *resolve(const struct cfg_node *n)
{
	const char *from = n->file ? n->file : "", *slash = strrchr(from, '/');
	char *out;

	if (n->value[0] == '/' || !slash)
		return strdup(n->value);
	if (asprintf(&out, "%.*s/%s", (int)(slash - from), from, n->value) < 0)
		return NULL;
	return out;
}

static int get_path(const struct cfg_node *map, const char *key, bool required, char **out)
{
	const char *v = NULL;

	*out = NULL;
	if (cfg_get_str(map, key, required, &v) < 0)
		return -EINVAL;
	if (v && !v[0]) {
		cfg_error(cfg_get(map, key), "is empty: give a file");
		return -EINVAL;
	}
	if (v && !(*out = resolve(cfg_get(map, key))))
		return -ENOMEM;
	return 0;
}

static int check_image(const struct cfg_node *n, const char *path)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		cfg_error(n, "cannot use %s as the baseline image: %s", path,
		          fd < 0 ? strerror(errno) : "not a regular file");
		if (fd >= 0)
			close(fd);
		return -EINVAL;
	}
	close(fd);
	return 0;
}

static int check_bmap(const struct cfg_node *n, const char *path)
{
	struct bmap map;
	char err[300];

	if (bmap_load(path, &map, err, sizeof(err)) < 0) {
		cfg_error(n, "%s", err);
		return -EINVAL;
	}
	bmap_free(&map);
	return 0;
}

/* The qemu mux writes the board's own disk file: it must be one of the
 * board's QEMU drives, and one without an overlay (else the writes would
 * go to an image the board never boots). */
static int check_qemu_drive(const struct board_cfg *b, const struct cfg_node *mux)
{
	const struct cfg_node *pdrv = cfg_get(b->power, "driver");
	const struct cfg_node *drives = cfg_get(b->power, "drives"), *file = cfg_get(mux, "file");
	char *want = storage_qemu_file(mux);
	int rc = -EINVAL;

	if (!want)
		return -EINVAL;
	if (!pdrv || strcmp(pdrv->value, "qemu") != 0) {
		cfg_error(cfg_get(mux, "driver"), "qemu needs the board's power driver to be qemu");
		goto out;
	}
	for (const struct cfg_node *d = drives ? drives->child : NULL; d; d = d->next) {
		const struct cfg_node *f = cfg_get(d, "file");
		bool overlay = false;
		char *have;

		if (!f || f->type != CFG_SCALAR || !(have = resolve(f)))
			continue;
		if (strcmp(have, want) == 0) {
			cfg_get_bool(d, "overlay", false, &overlay);
			if (overlay)
				cfg_error(
				    cfg_get(d, "overlay"),
				    "board \"%s\": the storage: mux writes this drive's file: "
				    "its overlay must be off (runs would never see the image)",
				    b->name);
			rc = overlay ? -EINVAL : 0;
			free(have);
			goto out;
		}
		free(have);
	}
	cfg_error(file,
	          "board \"%s\": %s is not the file: of any of the board's power.drives (give the "
	          "same path as the drive the board boots from, overlay off)",
	          b->name, file->value);
out:
	free(want);
	return rc;
}

static int parse_more(const struct cfg_node *n, struct restore_cfg *out)
{
	const char *size = NULL;
	int policy = RESTORE_AUTO;

	if (cfg_get_bool(n, "full_write", false, &out->full_write) < 0 ||
	    cfg_get_bool(n, "verify", false, &out->verify) < 0 ||
	    cfg_get_str(n, "expect_id", false, &out->expect.id) < 0 ||
	    cfg_get_duration(n, "wait", false, &out->wait_ns) < 0 ||
	    cfg_get_enum(n, "restore", false, policies, &policy) < 0 ||
	    cfg_get_str(n, "expect_size", false, &size) < 0)
		return -EINVAL;
	out->policy = (enum restore_policy)policy;
	if (size && (num_parse_size(size, &out->expect.size) < 0 || out->expect.size == 0)) {
		cfg_error(cfg_get(n, "expect_size"),
		          "\"%s\" is not a size: give the card's bytes, or with K, M, G, T", size);
		return -EINVAL;
	}
	if (out->full_write && cfg_get(n, "bmap")) {
		cfg_error(cfg_get(n, "full_write"), "and bmap: exclude each other");
		return -EINVAL;
	}
	return 0;
}

int restore_cfg_parse(const struct board_cfg *b, struct restore_cfg *out, bool check_files)
{
	const struct cfg_node *n = b->storage, *drv;

	memset(out, 0, sizeof(*out));
	out->node = n;
	out->verify = true;
	out->wait_ns = RESTORE_WAIT_DEFAULT_NS;
	if (cfg_expect_type(n, CFG_MAP) < 0 || cfg_check_keys(n, keys) < 0)
		return -EINVAL;
	out->mux = cfg_get(n, "mux");
	if (!out->mux) {
		cfg_error(n, "needs mux: {driver: ...}, the storage mux (one of %s)",
		          storage_driver_list());
		return -EINVAL;
	}
	if (cfg_expect_type(out->mux, CFG_MAP) < 0 || storage_check(out->mux) < 0)
		goto fail;
	if (parse_more(n, out) < 0 || get_path(n, "image", true, &out->image) < 0 ||
	    get_path(n, "bmap", false, &out->bmap) < 0)
		goto fail;
	if (!check_files)
		return 0;
	if (check_image(cfg_get(n, "image"), out->image) < 0 ||
	    (out->bmap && check_bmap(cfg_get(n, "bmap"), out->bmap) < 0))
		goto fail;
	drv = cfg_get(out->mux, "driver");
	if (!strcmp(drv->value, "qemu") && check_qemu_drive(b, out->mux) < 0)
		goto fail;
	return 0;
fail:
	restore_cfg_free(out);
	return -EINVAL;
}

void restore_cfg_free(struct restore_cfg *rc)
{
	free(rc->image);
	free(rc->bmap);
	rc->image = rc->bmap = NULL;
}

/* ---- before a run ---- */

/* 1: reflash, 0: leave it; why says which and why. */
static int decide(const struct board *b, enum restore_policy policy, const char *old_version,
                  char *why, size_t size)
{
	const struct restore_last *last = &b->last_run;

	if (policy == RESTORE_NEVER) {
		snprintf(why, size, "restore: never (the board is used as the last run left it)");
		return 0;
	}
	if (policy == RESTORE_ALWAYS) {
		snprintf(why, size, "restore: always");
		return 1;
	}
	if (!last->known) {
		snprintf(why, size,
		         "state unknown: no run of this campaign has ended on the board");
		return 1;
	}
	if (last->verdict != VERDICT_ROLLED_BACK) {
		snprintf(why, size, "the last run left it %s, not on its baseline",
		         verdict_name(last->verdict));
		return 1;
	}
	if (strcmp(last->old_version, old_version ? old_version : "") != 0) {
		snprintf(why, size, "the last run's baseline was version %s, this run's is %s",
		         last->old_version, old_version ? old_version : "-");
		return 1;
	}
	snprintf(why, size, "the last run left it rolled_back: baseline version %s committed",
	         last->old_version);
	return 0;
}

/* Print what the storage drivers and the writer said (captured), and keep
 * the last line as the reason. */
static void replay_log(const char *captured, char *last, size_t size)
{
	const char *p = captured;

	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		fprintf(stderr, "hilctl: %.*s\n", (int)len, p);
		if (len)
			snprintf(last, size, "%.*s", (int)len, p);
		p += len + (nl ? 1 : 0);
	}
}

static int reflash(struct board *b, const struct restore_cfg *cfg, struct restore_result *res)
{
	struct storage s = {0};
	struct writer_opts w = {.image = cfg->image,
	                        .bmap = cfg->bmap,
	                        .no_bmap = cfg->full_write,
	                        .verify = cfg->verify,
	                        .expect = cfg->expect,
	                        .target = res->device};
	struct writer_result wr = {0};
	const char *step = "opening the storage mux";
	char captured[4096], said[300] = "";
	int rc;

	log_capture(captured, sizeof(captured));
	rc = storage_open(&s, b->cfg->name, cfg->mux);
	if (rc == 0) {
		step = "switching the card to the lab host";
		rc = storage_to_host(&s);
	}
	if (rc == 0) {
		step = "finding the card's block device";
		rc = storage_device(&s, res->device, sizeof(res->device));
	}
	if (rc == 0 && strncmp(res->device, "/dev/", 5) == 0) {
		step = "waiting for the card's block device";
		rc = blockdev_wait(res->device, clock_now_ns() + cfg->wait_ns);
		if (rc == -ETIMEDOUT)
			hil_error("%s did not appear within %.1f s", res->device,
			          (double)cfg->wait_ns / NS_PER_S);
	}
	if (rc == 0) {
		step = "writing the image";
		rc = writer_flash(&w, &wr);
	}
	if (rc == 0) {
		step = "switching the card back to the board";
		rc = storage_to_board(&s);
	}
	storage_close(&s);
	log_capture(NULL, 0);
	replay_log(captured, said, sizeof(said));
	res->bmap = wr.bmap_path[0] != '\0';
	res->image_size = wr.image_size;
	res->bytes_written = wr.bytes_written;
	res->bytes_verified = wr.bytes_verified;
	res->write_seconds = wr.write_seconds;
	res->verify_seconds = wr.verify_seconds;
	res->mb_per_s = writer_mb_per_s(&wr);
	if (rc < 0)
		snprintf(res->error, sizeof(res->error), "board \"%s\": restore failed %s: %s",
		         b->cfg->name, step, said[0] ? said : strerror(-rc));
	return rc;
}

int restore_before_run(struct board *b, const char *old_version, struct restore_result *res)
{
	struct restore_cfg cfg;
	enum power_state st = POWER_UNKNOWN;
	int64_t t0 = clock_now_ns();
	int rc;

	memset(res, 0, sizeof(*res));
	if (!b->cfg->storage)
		return 0;
	res->present = true;
	res->ok = true;
	if (restore_cfg_parse(b->cfg, &cfg, false) < 0) {
		res->ok = false;
		snprintf(res->error, sizeof(res->error),
		         "board \"%s\": restore failed: its storage: section does not parse",
		         b->cfg->name);
		return -EINVAL;
	}
	res->policy = cfg.policy;
	if (!decide(b, cfg.policy, old_version, res->why, sizeof(res->why))) {
		timeline_event(b->tl, t0, "note", "restore: none (%s)", res->why);
		restore_cfg_free(&cfg);
		return 0;
	}
	res->reflashed = true;
	timeline_event(b->tl, t0, "note", "restore: reflash %s (%s)", cfg.image, res->why);
	/* Never write a card under a running board. */
	if (power_get(&b->power, &st) == 0 && st == POWER_ON) {
		snprintf(res->error, sizeof(res->error),
		         "board \"%s\": restore failed: the board is still powered on",
		         b->cfg->name);
		rc = -EBUSY;
	} else {
		rc = reflash(b, &cfg, res);
	}
	res->seconds = (double)(clock_now_ns() - t0) / NS_PER_S;
	res->ok = rc == 0;
	if (rc == 0)
		timeline_event(
		    b->tl, clock_now_ns(), "note",
		    "restore: wrote %llu of %llu bytes (%s) to %s in %.2f s (%.1f MB/s), "
		    "verified %llu",
		    (unsigned long long)res->bytes_written, (unsigned long long)res->image_size,
		    res->bmap ? "bmap" : "full", res->device, res->seconds, res->mb_per_s,
		    (unsigned long long)res->bytes_verified);
	else
		timeline_event(b->tl, clock_now_ns(), "note", "%s", res->error);
	restore_cfg_free(&cfg);
	return rc;
}

void restore_after_run(struct board *b, enum verdict v, const char *old_version)
{
	b->last_run.known = true;
	b->last_run.verdict = v;
	snprintf(b->last_run.old_version, sizeof(b->last_run.old_version), "%s",
	         old_version ? old_version : "");
}

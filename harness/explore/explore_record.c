/* harness/explore/explore_record.c — the recording: the scenario's update run once
 * on one board with QEMU logging every disk write and no fault injected;
 * at every phase marker (the board's phase probe) and bootloader banner the
 * number of entries in the log so far is noted, which maps each write to
 * the phase it belongs to. The recording keeps the log, the phases, the
 * timeline and what the base image was, so --from can explore it again. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qemu/launch.h"
#include "harness/lab/board.h"
#include "lib/cfg.h"
#include "harness/cli/cli.h"
#include "lib/clock.h"
#include "harness/run/engine.h"
#include "harness/explore/explore_int.h"
#include "lib/log.h"
#include "lib/timeline.h"

/* The recording waits this long for the update to reach a version probe. */
#define RECORD_BOOT_TIMEOUT_NS (600 * NS_PER_S)

struct recorder {
	struct explore *x;
	char live_log[PATH_MAX];
	uint64_t pos, count;
	uint32_t sector_size;
	pcre2_code *phase_re, *banner_re;
	pcre2_match_data *md;
	int64_t t0;
	size_t cap;
};

static pcre2_code *compile(const struct board_cfg *b, const char *probe)
{
	const struct cfg_node *n = cfg_get(b->probes, probe);
	PCRE2_SIZE at;
	int err;

	if (!n || n->type != CFG_SCALAR)
		return NULL;
	return pcre2_compile((PCRE2_SPTR)n->value, PCRE2_ZERO_TERMINATED, 0, &err, &at, NULL);
}

static void note_phase(struct recorder *r, int64_t t, const char *name, size_t name_len,
                       const char *line, size_t len)
{
	struct explore *x = r->x;
	struct xw_phase *p;

	if (x->n_ph == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 64;
		struct xw_phase *np = realloc(x->ph, cap * sizeof(*np));
		if (!np)
			return;
		x->ph = np;
		r->cap = cap;
	}
	/* Whatever the guest wrote before it printed the marker is in the log
	 * by now (QEMU logs a write as it completes). */
	explore_log_progress(r->live_log, &r->pos, &r->count, &r->sector_size);
	p = &x->ph[x->n_ph++];
	memset(p, 0, sizeof(*p));
	p->at = r->count;
	p->t_s = (double)(t - r->t0) / NS_PER_S;
	snprintf(p->name, sizeof(p->name), "%.*s", (int)name_len, name);
	snprintf(p->line, sizeof(p->line), "%.*s", (int)(len < 159 ? len : 159), line);
}

static void on_line(void *arg, int64_t t, const char *line, size_t len)
{
	struct recorder *r = arg;

	if (r->phase_re && pcre2_match(r->phase_re, (PCRE2_SPTR)line, len, 0, 0, r->md, NULL) > 0) {
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(r->md);
		int g = pcre2_substring_number_from_name(r->phase_re, (PCRE2_SPTR) "phase");
		if (g > 0 && ov[2 * g] != PCRE2_UNSET)
			note_phase(r, t, line + ov[2 * g], ov[2 * g + 1] - ov[2 * g], line, len);
	} else if (r->banner_re &&
	           pcre2_match(r->banner_re, (PCRE2_SPTR)line, len, 0, 0, r->md, NULL) > 0) {
		note_phase(r, t, "boot", 4, line, len);
	}
}

/* The run starts the log afresh: whatever an earlier run left is gone. */
static int on_prepare(void *arg, struct board *b)
{
	struct recorder *r = arg;

	r->pos = r->count = 0;
	r->sector_size = 0;
	r->t0 = clock_now_ns();
	(void)b;
	return 0;
}

static int copy_file(const char *from, const char *to)
{
	int in = open(from, O_RDONLY | O_CLOEXEC), out;
	char buf[1 << 16];
	ssize_t n;
	int rc = 0;

	if (in < 0)
		return -errno;
	out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out < 0) {
		close(in);
		return -errno;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n) {
			rc = -EIO;
			break;
		}
	if (n < 0)
		rc = -errno;
	if (fsync(out) < 0 && rc == 0)
		rc = -errno;
	close(in);
	close(out);
	return rc;
}

static int write_phases(const struct explore *x)
{
	char path[PATH_MAX + 32];
	FILE *f;

	snprintf(path, sizeof(path), "%s/phases.jsonl", x->record_dir);
	f = fopen(path, "w");
	if (!f)
		return -errno;
	for (size_t i = 0; i < x->n_ph; i++) {
		json_t *j = json_pack("{s:I, s:f, s:s, s:s}", "at", (json_int_t)x->ph[i].at, "t",
		                      x->ph[i].t_s, "phase", x->ph[i].name, "line", "");
		char *text;
		/* Console text is bytes: keep it ASCII-safe. */
		char esc[600];
		json_escape_bytes(x->ph[i].line, strlen(x->ph[i].line), esc, sizeof(esc));
		json_object_set_new(j, "line", json_string(esc));
		text = json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII);
		if (text)
			fprintf(f, "%s\n", text);
		free(text);
		json_decref(j);
	}
	return fclose(f) == 0 ? 0 : -EIO;
}

static int write_meta(const struct explore *x, const char *board)
{
	char path[PATH_MAX + 32];
	json_t *j =
	    json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:f, s:s}", "scenario", x->sc->path,
	              "lab", x->lab->path, "board", board, "base", x->disk.base, "base_format",
	              x->disk.base_format, "base_identity", x->disk.base_identity, "drive",
	              x->disk.drive_index, "duration_s", x->record_s, "verdict", x->record_verdict);
	int rc;

	snprintf(path, sizeof(path), "%s/record.json", x->record_dir);
	rc = j ? json_dump_file(j, path, JSON_INDENT(1)) : -1;
	json_decref(j);
	return rc == 0 ? 0 : -EIO;
}

/* The scenario with its faults left out. */
static int faultless(const struct scenario *sc, struct scenario *out)
{
	*out = *sc;
	out->steps = calloc(sc->n_steps + 1, sizeof(*out->steps));
	if (!out->steps)
		return -ENOMEM;
	out->n_steps = 0;
	for (size_t i = 0; i < sc->n_steps; i++)
		if (sc->steps[i].kind != STEP_FAULT)
			out->steps[out->n_steps++] = sc->steps[i];
	if (out->boot_timeout_ns < RECORD_BOOT_TIMEOUT_NS)
		out->boot_timeout_ns = RECORD_BOOT_TIMEOUT_NS;
	out->ladder = 0; /* a recording that needs a power cycle failed */
	return 0;
}

static void recorder_free(struct recorder *r)
{
	pcre2_code_free(r->phase_re);
	pcre2_code_free(r->banner_re);
	pcre2_match_data_free(r->md);
}

int explore_record(struct explore *x)
{
	struct recorder r = {.x = x};
	struct scenario rec;
	struct board b;
	struct engine_ctx ctx = {0};
	struct run_result res;
	char tl_path[PATH_MAX + 32], log_copy[PATH_MAX + 32];
	int64_t t0 = clock_now_ns();
	int rc;

	if (mkdir(x->record_dir, 0755) < 0 && errno != EEXIST) {
		hil_error("%s: cannot create it: %s", x->record_dir, strerror(errno));
		return EXIT_USAGE;
	}
	if (faultless(x->sc, &rec) < 0)
		return EXIT_INFRA;
	snprintf(tl_path, sizeof(tl_path), "%s/timeline.jsonl", x->record_dir);
	if (explore_enable_log(x, x->record_board) < 0) {
		free(rec.steps);
		return EXIT_INFRA;
	}
	rc = board_open(&b, x->lab, x->record_board->name, tl_path, 0);
	if (rc < 0) {
		free(rec.steps);
		return cli_exit_for(rc);
	}
	rc = explore_live_log(x, &b, r.live_log, sizeof(r.live_log));
	if (rc < 0) {
		board_close(&b);
		free(rec.steps);
		return cli_exit_for(rc);
	}
	r.phase_re = compile(x->record_board, "phase");
	r.banner_re = compile(x->record_board, "banner");
	r.md = pcre2_match_data_create(8, NULL);
	if (!r.phase_re)
		hil_warn("board \"%s\" has no phase probe in the lab file: the states will carry "
		         "no phase names",
		         x->record_board->name);
	fprintf(stderr, "explore: recording %s on %s (no fault; every disk write logged)\n",
	        x->sc->name, x->record_board->name);
	ctx.board = &b;
	struct run_spec spec = {.sc = &rec,
	                        .point = "-",
	                        .seed = x->o->seed,
	                        .run_id = 0,
	                        .timeline_path = tl_path,
	                        .prepare = on_prepare,
	                        .on_line = on_line,
	                        .hook_arg = &r};
	engine_run(&ctx, &spec, &res);
	engine_ctx_close(&ctx);
	board_close(&b);
	free(rec.steps);
	recorder_free(&r);
	x->record_s = (double)(clock_now_ns() - t0) / NS_PER_S;
	snprintf(x->record_verdict, sizeof(x->record_verdict), "%s", verdict_name(res.verdict));
	if (res.interrupted)
		return EXIT_INFRA;
	if (res.verdict == VERDICT_INFRA_ERROR) {
		hil_error("the recording of %s failed: %s (timeline: %s)", x->sc->name, res.reason,
		          tl_path);
		return EXIT_INFRA;
	}
	if (!res.pass) {
		hil_error(
		    "the recording of %s, without any fault, ended %s (%s), which the scenario "
		    "does not allow: the update itself fails; fix that first (timeline: %s)",
		    x->sc->name, verdict_name(res.verdict), res.reason, tl_path);
		return EXIT_FAILED;
	}
	snprintf(log_copy, sizeof(log_copy), "%s/write.log", x->record_dir);
	rc = copy_file(r.live_log, log_copy);
	if (rc < 0) {
		hil_error("cannot keep the write log %s as %s: %s", r.live_log, log_copy,
		          strerror(-rc));
		return EXIT_INFRA;
	}
	if (write_phases(x) < 0 || write_meta(x, x->record_board->name) < 0) {
		hil_error("%s: cannot write the recording's phases and metadata", x->record_dir);
		return EXIT_INFRA;
	}
	fprintf(stderr, "explore: recorded in %.0f s: %s, %zu phase markers\n", x->record_s,
	        verdict_name(res.verdict), x->n_ph);
	return EXIT_OK;
}

int explore_load_record(struct explore *x)
{
	char path[PATH_MAX + 32], *line = NULL;
	size_t cap = 0, ph_cap = 0;
	json_t *meta;
	json_error_t err;
	FILE *f;

	snprintf(path, sizeof(path), "%s/record.json", x->record_dir);
	meta = json_load_file(path, 0, &err);
	if (!meta) {
		hil_error("%s: %s (is %s the --out of an earlier explore?)", path, err.text,
		          x->o->from_dir ? x->o->from_dir : x->record_dir);
		return -ENOENT;
	}
	x->record_s = json_real_value(json_object_get(meta, "duration_s"));
	snprintf(x->record_verdict, sizeof(x->record_verdict), "%s",
	         json_string_value(json_object_get(meta, "verdict")) ?: "?");
	/* The log is only valid over the exact base it was recorded on. */
	const char *base = json_string_value(json_object_get(meta, "base"));
	const char *id = json_string_value(json_object_get(meta, "base_identity"));
	if (base && strcmp(base, x->disk.base) != 0)
		hil_warn(
		    "%s was recorded over %s; the lab's disk is now %s: using the recorded one",
		    x->record_dir, base, x->disk.base);
	if (base) {
		snprintf(x->disk.base, sizeof(x->disk.base), "%s", base);
		snprintf(x->disk.base_format, sizeof(x->disk.base_format), "%s",
		         json_string_value(json_object_get(meta, "base_format")) ?: "raw");
		explore_disk_identity(x->disk.base, x->disk.base_identity,
		                      sizeof(x->disk.base_identity));
	}
	if (id && strcmp(id, x->disk.base_identity) != 0) {
		hil_error(
		    "%s: the base image %s changed since the recording (rebuilt?): its log no "
		    "longer describes that disk; record again",
		    x->record_dir, x->disk.base);
		json_decref(meta);
		return -ESTALE;
	}
	json_decref(meta);
	snprintf(path, sizeof(path), "%s/phases.jsonl", x->record_dir);
	f = fopen(path, "r");
	if (!f) {
		hil_error("%s: %s", path, strerror(errno));
		return -ENOENT;
	}
	while (getline(&line, &cap, f) > 0) {
		json_t *j = json_loads(line, 0, NULL);
		struct xw_phase *p;
		if (!j)
			continue;
		if (x->n_ph == ph_cap) {
			ph_cap = ph_cap ? ph_cap * 2 : 64;
			struct xw_phase *np = realloc(x->ph, ph_cap * sizeof(*np));
			if (!np) {
				json_decref(j);
				break;
			}
			x->ph = np;
		}
		p = &x->ph[x->n_ph++];
		memset(p, 0, sizeof(*p));
		p->at = (uint64_t)json_integer_value(json_object_get(j, "at"));
		p->t_s = json_real_value(json_object_get(j, "t"));
		snprintf(p->name, sizeof(p->name), "%s",
		         json_string_value(json_object_get(j, "phase")) ?: "?");
		snprintf(p->line, sizeof(p->line), "%s",
		         json_string_value(json_object_get(j, "line")) ?: "");
		json_decref(j);
	}
	free(line);
	fclose(f);
	snprintf(x->log_path, sizeof(x->log_path), "%s/write.log", x->record_dir);
	return 0;
}

/* harness/campaign/campaign_journal.c — write the journal (docs/journal.md): a
 * header, one synced line per finished run, an end record. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness/campaign/campaign_int.h"
#include "harness/campaign/shard_board.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "reports/journal_write.h"
#include "lib/wallclock.h"

struct journal {
	int fd;
	char path[600];
	char host[128];
	int index, count, attempt;
	char run_prefix[32]; /* "s2a1-" for a shard's run directories, "" unsharded */
};

/* A run's record is written when it ends: its start is that wall time less
 * its duration (measured on the monotonic clock, so a clock step in between
 * moves both ends together). */
static void run_wall_times(double duration_s, char *started, char *finished, size_t size)
{
	struct timespec end, start;
	int64_t ns;

	clock_gettime(CLOCK_REALTIME, &end);
	wall_iso(&end, finished, size);
	ns = (int64_t)end.tv_sec * NS_PER_S + end.tv_nsec;
	if (duration_s > 0 && duration_s < 1e9)
		ns -= (int64_t)(duration_s * NS_PER_S);
	start.tv_sec = (time_t)(ns / NS_PER_S);
	start.tv_nsec = (long)(ns % NS_PER_S);
	wall_iso(&start, started, size);
}

/* Console bytes are not UTF-8: map each byte to the code point of the same
 * value (Latin-1), so any byte string becomes valid JSON text. */
static json_t *bytes_string(const char *s)
{
	size_t len = strlen(s);
	char *out = malloc(len * 2 + 1);
	size_t o = 0;
	json_t *j;

	if (!out)
		return json_string("");
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x80) {
			out[o++] = (char)c;
		} else {
			out[o++] = (char)(0xc0 | (c >> 6));
			out[o++] = (char)(0x80 | (c & 0x3f));
		}
	}
	out[o] = '\0';
	j = json_string(out);
	free(out);
	return j ? j : json_string("");
}

int journal_append(struct journal *j, const char *line)
{
	return journal_write_line(j->fd, j->path, line, "resume with --resume");
}

/* A journal killed in the middle of a write ends in a cut line: remove it
 * before appending, or the next record would be glued to it. */
static void drop_cut_line(struct journal *j)
{
	off_t end = lseek(j->fd, 0, SEEK_END), at = end;
	char buf[4096];

	while (at > 0) {
		size_t n = at < (off_t)sizeof(buf) ? (size_t)at : sizeof(buf);
		ssize_t got = pread(j->fd, buf, n, at - (off_t)n);
		if (got != (ssize_t)n)
			return;
		for (size_t i = n; i > 0; i--)
			if (buf[i - 1] == '\n') {
				at -= (off_t)(n - i);
				goto found;
			}
		at -= (off_t)n;
	}
found:
	if (at < end) {
		hil_warn("journal %s: dropping a cut last line (%lld bytes) left by a kill",
		         j->path, (long long)(end - at));
		if (ftruncate(j->fd, at) < 0)
			hil_warn("journal %s: %s", j->path, strerror(errno));
	}
}

static int append_json(struct journal *j, json_t *obj)
{
	char *text = json_dumps(obj, JSON_COMPACT | JSON_ENSURE_ASCII);
	char *line;
	int rc;

	json_decref(obj);
	if (!text)
		return -ENOMEM;
	if (asprintf(&line, "%s\n", text) < 0) {
		free(text);
		return -ENOMEM;
	}
	free(text);
	rc = journal_append(j, line);
	free(line);
	return rc;
}

/* The campaign's id is a function of what the campaign is (lab, scenarios,
 * how points are chosen, seed), not of when or where it runs: every shard,
 * attempt and resume of one campaign carries the same id, so report --merge
 * can put them back together. */
static uint64_t mix(uint64_t h, const char *s)
{
	for (const char *c = s ? s : "-"; *c; c++)
		h = (h ^ (unsigned char)*c) * 1099511628211ULL;
	return (h ^ 0xff) * 1099511628211ULL;
}

static void campaign_id(const struct campaign_opts *o, const struct plan *p, const struct lab *lab,
                        char *out, size_t size)
{
	uint64_t h = mix(1469598103934665603ULL, lab->name);
	char buf[512];

	for (size_t i = 0; i < p->n_scenarios; i++)
		h = mix(h, p->scenarios[i]->name);
	snprintf(buf, sizeof(buf), "%s|%s|%d|%d|%llu", o->sweep ? o->sweep : "-",
	         o->point ? o->point : "-", o->runs, o->repeat, o->seed);
	h = mix(h, buf);
	snprintf(out, size, "%s-%s-%llu-%012llx", lab->name,
	         p->n_scenarios == 1 ? p->scenarios[0]->name : "suite", o->seed,
	         (unsigned long long)(h & 0xffffffffffffULL));
}

/* Host names come from the environment: keep file names plain. */
static void safe_name(const char *in, char *out, size_t size)
{
	size_t o = 0;

	for (; *in && o + 1 < size; in++)
		out[o++] = isalnum((unsigned char)*in) || strchr("-_.", *in) ? *in : '_';
	out[o] = '\0';
	if (!o)
		snprintf(out, size, "host");
}

static json_t *shard_json(const struct journal *j)
{
	return json_pack("{s:i, s:i, s:i}", "index", j->index, "count", j->count, "attempt",
	                 j->attempt);
}

/* The highest attempt of this shard already in dir (0: none). */
static int last_attempt(const char *dir, const struct journal *j)
{
	char prefix[64];
	struct dirent *e;
	DIR *d = opendir(dir);
	int last = 0;

	if (!d)
		return 0;
	snprintf(prefix, sizeof(prefix), "journal-s%dof%d-a", j->index, j->count);
	while ((e = readdir(d))) {
		if (!strncmp(e->d_name, prefix, strlen(prefix))) {
			int a = atoi(e->d_name + strlen(prefix));
			last = a > last ? a : last;
		}
	}
	closedir(d);
	return last;
}

/* An unsharded campaign writes DIR/journal.jsonl. A shard writes one file
 * per attempt, journal-sIofN-aA-HOST-BOARD.jsonl, created new (never
 * appended to): a requeued shard is a new attempt beside the old one, and
 * report --merge picks (docs/journal.md). The attempt is one more than any
 * in DIR, and at least Slurm's restart count + 1. */
static int open_file(struct journal *j, const char *dir, char **boards, size_t n_boards)
{
	const char *restarts = getenv("SLURM_RESTART_COUNT");
	char board[200] = "";
	size_t used = 0;
	int dfd;

	j->attempt = 1;
	if (j->count <= 1) {
		snprintf(j->path, sizeof(j->path), "%s/journal.jsonl", dir);
		j->fd = open(j->path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (j->fd < 0) {
			hil_error("journal %s: %s", j->path, strerror(errno));
			return -errno;
		}
		drop_cut_line(j);
		return 0;
	}
	for (size_t i = 0; i < n_boards && used < sizeof(board); i++)
		used += (size_t)snprintf(board + used, sizeof(board) - used, "%s%s", i ? "+" : "",
		                         boards[i]);
	j->attempt = last_attempt(dir, j) + 1;
	if (restarts && atoi(restarts) + 1 > j->attempt)
		j->attempt = atoi(restarts) + 1;
	for (int tries = 0; tries < 1000; tries++, j->attempt++) {
		snprintf(j->path, sizeof(j->path), "%s/journal-s%dof%d-a%d-%s-%s.jsonl", dir,
		         j->index, j->count, j->attempt, j->host, board);
		j->fd = open(j->path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
		if (j->fd >= 0 || errno != EEXIST)
			break;
	}
	if (j->fd < 0) {
		hil_error("journal %s: %s", j->path, strerror(errno));
		return -errno;
	}
	snprintf(j->run_prefix, sizeof(j->run_prefix), "s%da%d-", j->index, j->attempt);
	/* The new name survives a crash of the host (the records sync as they come). */
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}

const char *journal_path_of(const struct journal *j)
{
	return j->path;
}

const char *journal_run_prefix(const struct journal *j)
{
	return j->run_prefix;
}

bool journal_sharded(const struct journal *j)
{
	return j->count > 1;
}

struct journal *journal_open(const char *dir, const struct campaign_opts *o, const struct plan *p,
                             const struct lab *lab, char **board_names, size_t n_boards,
                             const struct board_busy *busy, size_t n_busy)
{
	struct journal *j = calloc(1, sizeof(*j));
	json_t *argv = json_array(), *scen = json_array(), *boards = json_array(), *c;
	json_t *sets = json_array(), *descriptions = json_object();
	const char *const *ov = lab_get_overrides();
	char when[64], host[256] = "", id[128];

	if (!j)
		return NULL;
	j->index = o->shard_index;
	j->count = o->shard_count > 0 ? o->shard_count : 1;
	safe_name(lab_this_host(), j->host, sizeof(j->host));
	if (open_file(j, dir, board_names, n_boards) < 0) {
		free(j);
		return NULL;
	}
	for (int i = 0; i < o->argc; i++)
		json_array_append_new(argv, bytes_string(o->argv[i]));
	for (size_t i = 0; ov && ov[i]; i++)
		json_array_append_new(sets, bytes_string(ov[i]));
	for (size_t i = 0; i < p->n_scenarios; i++) {
		json_array_append_new(scen, json_string(p->scenarios[i]->name));
		if (p->scenarios[i]->description && p->scenarios[i]->description[0])
			json_object_set_new(descriptions, p->scenarios[i]->name,
			                    json_string(p->scenarios[i]->description));
	}
	for (size_t i = 0; i < n_boards; i++)
		json_array_append_new(boards, json_string(board_names[i]));
	wall_iso_now(when, sizeof(when));
	snprintf(host, sizeof(host), "%s", lab_this_host());
	campaign_id(o, p, lab, id, sizeof(id));
	c = json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:I, s:I, s:o, s:o, s:b, "
	              "s:{s:i, s:i, s:i}}",
	              "format", 1, "id", id, "hilctl_version", HILCTL_VERSION, "started", when,
	              "host", host, "lab", lab->path, "boards", boards, "scenarios", scen,
	              "descriptions", descriptions, "seed", (json_int_t)o->seed, "runs_planned",
	              (json_int_t)p->n, "argv", argv, "sets", sets, "resumed", o->resume, "shard",
	              "index", j->index, "count", j->count, "attempt", j->attempt);
	if (c) {
		json_t *held = json_array();
		/* -jN: how many boards were asked for, and which of them other
		 * processes held (the campaign ran on fewer). */
		json_object_set_new(c, "boards_asked", json_integer(o->jobs > 0 ? o->jobs : 1));
		for (size_t i = 0; i < n_busy; i++)
			json_array_append_new(held, json_pack("{s:s, s:i, s:o}", "board",
			                                      busy[i].board, "pid", busy[i].pid,
			                                      "holder", bytes_string(busy[i].cmd)));
		if (n_busy)
			json_object_set_new(c, "boards_unavailable", held);
		else
			json_decref(held);
	}
	if (!c || append_json(j, json_pack("{s:o}", "campaign", c)) < 0) {
		close(j->fd);
		free(j);
		return NULL;
	}
	return j;
}

void journal_close(struct journal *j, size_t runs_done, bool complete, const char *interrupted)
{
	char when[64];

	if (!j)
		return;
	wall_iso_now(when, sizeof(when));
	append_json(j,
	            json_pack("{s:{s:s, s:I, s:b, s:s?, s:s, s:o}}", "end", "finished", when,
	                      "runs_done", (json_int_t)runs_done, "complete", complete,
	                      "interrupted", interrupted, "host", j->host, "shard", shard_json(j)));
	close(j->fd);
	free(j);
}

static json_t *fault_json(const struct fault_result *f)
{
	json_t *o =
	    json_pack("{s:s, s:s, s:b, s:f, s:I, s:s}", "kind", scenario_fault_kind_name(f->kind),
	              "trigger", f->trigger, "injected", f->injected, "at_s", f->at_s, "latency_us",
	              (json_int_t)(f->latency_ns < 0 ? -1 : f->latency_ns / 1000), "phase",
	              f->phase[0] ? f->phase : "-");

	if (f->optional)
		json_object_set_new(o, "optional", json_true());
	return o;
}

/* How the board got to the run's starting state (docs/journal.md). */
static json_t *restore_json(const struct restore_result *r)
{
	json_t *o =
	    json_pack("{s:s, s:s, s:o, s:b}", "policy", restore_policy_name(r->policy), "action",
	              r->reflashed ? "reflash" : "none", "why", bytes_string(r->why), "ok", r->ok);

	if (!o || !r->reflashed)
		return o;
	json_object_set_new(o, "seconds", json_real(r->seconds));
	json_object_set_new(o, "device", bytes_string(r->device));
	json_object_set_new(o, "bmap", json_boolean(r->bmap));
	json_object_set_new(o, "image_bytes", json_integer((json_int_t)r->image_size));
	json_object_set_new(o, "bytes_written", json_integer((json_int_t)r->bytes_written));
	json_object_set_new(o, "bytes_verified", json_integer((json_int_t)r->bytes_verified));
	json_object_set_new(o, "write_seconds", json_real(r->write_seconds));
	json_object_set_new(o, "verify_seconds", json_real(r->verify_seconds));
	json_object_set_new(o, "mb_per_s", json_real(r->mb_per_s));
	if (!r->ok)
		json_object_set_new(o, "error", bytes_string(r->error));
	return o;
}

/* What the run counts as at the gate (docs/journal.md; readers recompute it). */
static const char *outcome_name(const struct run_result *res)
{
	if (res->verdict == VERDICT_INFRA_ERROR)
		return "infra_error";
	if (res->not_injected)
		return "not_injected";
	return res->pass ? "pass" : "fail";
}

static json_t *evidence_json(const struct run_result *res)
{
	json_t *a = json_array();

	for (size_t i = 0; i < res->n_evidence; i++) {
		const struct oracle_evidence *e = &res->evidence[i];
		json_array_append_new(a, json_pack("{s:f, s:s, s:o}", "t",
		                                   (double)(e->t_ns - res->t0_ns) / NS_PER_S, "k",
		                                   e->kind, "d", bytes_string(e->text)));
	}
	return a;
}

/* Append text to buf as one shell word in single quotes. */
static void append_quoted(char *buf, size_t size, const char *text)
{
	size_t len = strlen(buf);

	if (len + 3 > size)
		return;
	buf[len++] = '\'';
	for (const char *c = text; *c && len + 6 < size; c++) {
		if (*c == '\'') {
			memcpy(buf + len, "'\\''", 4);
			len += 4;
		} else {
			buf[len++] = *c;
		}
	}
	buf[len++] = '\'';
	buf[len] = 0;
}

/* The command that runs this one point again, with the campaign's --set
 * values (they choose images, models, ports). */
static void repro_command(char *buf, size_t size, const struct campaign_opts *o,
                          const struct scenario *sc, const char *board, const struct plan_run *pr,
                          int run_id)
{
	const char *const *ov = lab_get_overrides();
	size_t len;

	snprintf(buf, size, "hilctl --lab %s", o->lab_path);
	for (size_t i = 0; ov && ov[i]; i++) {
		len = strlen(buf);
		snprintf(buf + len, size - len, " --set ");
		append_quoted(buf, size, ov[i]);
	}
	len = strlen(buf);
	snprintf(buf + len, size - len, " run %s --board %s --point ", sc->path, board);
	append_quoted(buf, size, pr->point);
	len = strlen(buf);
	snprintf(buf + len, size - len, " --seed %llu --out %s/repro-%d", o->seed, o->out_dir,
	         run_id);
}

/* What hilctl reproduce needs to boot a kept post-fault disk again
 * (docs/journal.md): the disk, beside the timeline, and the lab, its --set
 * values and the scenario, as absolute paths. */
static json_t *replay_json(const struct campaign_opts *o, const struct scenario *sc,
                           const char *timeline_rel)
{
	const char *const *ov = lab_get_overrides();
	const char *slash = strrchr(timeline_rel, '/');
	char disk[600], lab[PATH_MAX], scenario[PATH_MAX];
	json_t *sets = json_array();

	snprintf(disk, sizeof(disk), "%.*s/%s", slash ? (int)(slash - timeline_rel) : 0,
	         timeline_rel, CAMPAIGN_KEPT_DISK);
	if (!realpath(o->lab_path, lab))
		snprintf(lab, sizeof(lab), "%s", o->lab_path);
	if (!realpath(sc->path, scenario))
		snprintf(scenario, sizeof(scenario), "%s", sc->path);
	for (size_t i = 0; ov && ov[i]; i++)
		json_array_append_new(sets, json_string(ov[i]));
	return json_pack("{s:s, s:s, s:o, s:s}", "disk", disk, "lab", lab, "sets", sets, "scenario",
	                 scenario);
}

char *run_record(const struct journal *j, const struct plan_run *pr, int run_id,
                 const struct scenario *sc, const char *board, const struct run_result *res,
                 const char *timeline_rel, const struct campaign_opts *o)
{
	json_t *faults = json_array(), *allowed = json_array(), *rec, *wrap;
	char started[64], finished[64], repro[2048], *text, *line = NULL;

	for (int i = 0; i < res->n_faults; i++)
		json_array_append_new(faults, fault_json(&res->faults[i]));
	for (int v = 0; v < VERDICT_COUNT; v++)
		if (scenario_allows(sc, (enum verdict)v))
			json_array_append_new(allowed, json_string(verdict_name((enum verdict)v)));
	run_wall_times(res->duration_s, started, finished, sizeof(started));
	repro_command(repro, sizeof(repro), o, sc, board, pr, run_id);
	rec = json_pack("{s:i, s:s, s:s, s:s, s:I, s:s, s:o, s:o, s:s, s:o, s:b, s:o, s:o, s:s, "
	                "s:f, s:s, s:s, s:b}",
	                "id", run_id, "key", pr->key, "scenario", sc->name, "board", board, "seed",
	                (json_int_t)pr->seed, "point", pr->point, "fault",
	                res->n_faults ? fault_json(&res->faults[0]) : json_null(), "faults", faults,
	                "verdict", verdict_name(res->verdict), "allowed", allowed, "pass",
	                res->pass, "reason", bytes_string(res->reason), "evidence",
	                evidence_json(res), "started", started, "duration_s", res->duration_s,
	                "timeline", timeline_rel, "reproduce", repro, "bisect", pr->bisect);
	if (res->disk_kept) {
		/* The journal's reproduce boots the kept disk; a rerun from
		 * scratch is another thing, under its own name. */
		json_object_set_new(rec, "rerun", json_string(repro));
		snprintf(repro, sizeof(repro), "hilctl reproduce %s %d", o->out_dir, run_id);
		json_object_set_new(rec, "reproduce", json_string(repro));
		json_object_set_new(rec, "replay", replay_json(o, sc, timeline_rel));
	}
	json_object_set_new(rec, "finished", json_string(finished));
	json_object_set_new(rec, "outcome", json_string(outcome_name(res)));
	json_object_set_new(rec, "host", json_string(j->host));
	json_object_set_new(rec, "shard", shard_json(j));
	if (res->restore.present)
		json_object_set_new(rec, "restore", restore_json(&res->restore));
	if (res->board_lost || res->power_lost)
		json_object_set_new(rec, "board_lost", json_true());
	wrap = json_pack("{s:o}", "run", rec);
	text = wrap ? json_dumps(wrap, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
	json_decref(wrap);
	if (text && asprintf(&line, "%s\n", text) < 0)
		line = NULL;
	free(text);
	return line;
}

char **journal_done_keys(const char *dir, size_t *n)
{
	char path[600], *buf = NULL;
	size_t cap = 0;
	char **keys = calloc(1, sizeof(char *));
	FILE *f;

	*n = 0;
	snprintf(path, sizeof(path), "%s/journal.jsonl", dir);
	f = fopen(path, "r");
	if (!f || !keys) {
		if (f)
			fclose(f);
		return keys;
	}
	while (getline(&buf, &cap, f) > 0) {
		json_t *j = json_loads(buf, 0, NULL), *run, *key;
		char **nk;
		if (!j)
			continue; /* a line cut by a kill */
		run = json_object_get(j, "run");
		key = json_object_get(run, "key");
		if (json_is_string(key) && (nk = realloc(keys, (*n + 2) * sizeof(char *)))) {
			keys = nk;
			keys[(*n)++] = strdup(json_string_value(key));
			keys[*n] = NULL;
		}
		json_decref(j);
	}
	free(buf);
	fclose(f);
	return keys;
}

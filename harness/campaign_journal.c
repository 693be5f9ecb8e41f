/* harness/campaign_journal.c — write the journal (docs/journal.md): a
 * header, one synced line per finished run, an end record. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "campaign_int.h"
#include "clock.h"
#include "log.h"

struct journal {
	int fd;
	char path[600];
};

static void iso_now(char *buf, size_t size)
{
	struct timespec ts;
	struct tm tm;
	char base[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, size, "%s.%03ldZ", base, ts.tv_nsec / 1000000);
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
	size_t len = strlen(line), off = 0;

	/* One write() per record: a kill leaves whole lines or a cut last one. */
	while (off < len) {
		ssize_t n = write(j->fd, line + off, len - off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			hil_error("journal %s: %s (the record of this run is lost; free space and "
				  "resume with --resume)",
				  j->path, strerror(errno));
			return -errno;
		}
		off += (size_t)n;
	}
	if (fsync(j->fd) < 0) {
		hil_error("journal %s: fsync: %s", j->path, strerror(errno));
		return -errno;
	}
	return 0;
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

static void campaign_id(const struct campaign_opts *o, const struct plan *p,
			const struct lab *lab, char *out, size_t size)
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

struct journal *journal_open(const char *dir, const struct campaign_opts *o,
			     const struct plan *p, const struct lab *lab, char **board_names,
			     size_t n_boards)
{
	struct journal *j = calloc(1, sizeof(*j));
	json_t *argv = json_array(), *scen = json_array(), *boards = json_array(), *c;
	json_t *sets = json_array();
	const char *const *ov = lab_get_overrides();
	char when[64], host[256] = "", id[128];

	if (!j)
		return NULL;
	snprintf(j->path, sizeof(j->path), "%s/journal.jsonl", dir);
	j->fd = open(j->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (j->fd < 0) {
		hil_error("journal %s: %s", j->path, strerror(errno));
		free(j);
		return NULL;
	}
	for (int i = 0; i < o->argc; i++)
		json_array_append_new(argv, bytes_string(o->argv[i]));
	for (size_t i = 0; ov && ov[i]; i++)
		json_array_append_new(sets, bytes_string(ov[i]));
	for (size_t i = 0; i < p->n_scenarios; i++)
		json_array_append_new(scen, json_string(p->scenarios[i]->name));
	for (size_t i = 0; i < n_boards; i++)
		json_array_append_new(boards, json_string(board_names[i]));
	iso_now(when, sizeof(when));
	gethostname(host, sizeof(host) - 1);
	campaign_id(o, p, lab, id, sizeof(id));
	c = json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:I, s:I, s:o, s:o, s:b, "
		      "s:{s:i, s:i, s:i}}",
		      "format", 1, "id", id, "hilctl_version", HILCTL_VERSION, "started", when,
		      "host", host, "lab", lab->path, "boards", boards, "scenarios", scen, "seed",
		      (json_int_t)o->seed, "runs_planned", (json_int_t)p->n, "argv", argv, "sets", sets,
		      "resumed", o->resume, "shard", "index", o->shard_index, "count",
		      o->shard_count ? o->shard_count : 1, "attempt", 1);
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
	iso_now(when, sizeof(when));
	append_json(j, json_pack("{s:{s:s, s:I, s:b, s:s?}}", "end", "finished", when, "runs_done",
				 (json_int_t)runs_done, "complete", complete, "interrupted",
				 interrupted));
	close(j->fd);
	free(j);
}

static const char *const fault_names[] = {"power_cut", "network", "server", "hang"};

static json_t *fault_json(const struct fault_result *f)
{
	return json_pack("{s:s, s:s, s:b, s:f, s:I, s:s}", "kind", fault_names[f->kind], "trigger",
			 f->trigger, "injected", f->injected, "at_s", f->at_s, "latency_us",
			 (json_int_t)(f->latency_ns < 0 ? -1 : f->latency_ns / 1000), "phase",
			 f->phase[0] ? f->phase : "-");
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

char *run_record(const struct plan_run *pr, int run_id, const struct scenario *sc,
		 const char *board, const struct run_result *res, const char *timeline_rel,
		 const struct campaign_opts *o)
{
	json_t *faults = json_array(), *allowed = json_array(), *rec;
	char when[64], repro[2048], *text, *line = NULL;

	for (int i = 0; i < res->n_faults; i++)
		json_array_append_new(faults, fault_json(&res->faults[i]));
	for (int v = 0; v < VERDICT_COUNT; v++)
		if (scenario_allows(sc, (enum verdict)v))
			json_array_append_new(allowed, json_string(verdict_name((enum verdict)v)));
	iso_now(when, sizeof(when));
	snprintf(repro, sizeof(repro),
		 "hilctl --lab %s run %s --board %s --point '%s' --seed %llu --out %s/repro-%d",
		 o->lab_path, sc->path, board, pr->point, o->seed, o->out_dir, run_id);
	rec = json_pack("{s:i, s:s, s:s, s:s, s:I, s:s, s:o, s:o, s:s, s:o, s:b, s:o, s:o, s:s, "
			"s:f, s:s, s:s, s:b}",
			"id", run_id, "key", pr->key, "scenario", sc->name, "board", board, "seed",
			(json_int_t)pr->seed, "point", pr->point, "fault",
			res->n_faults ? fault_json(&res->faults[0]) : json_null(), "faults", faults,
			"verdict", verdict_name(res->verdict), "allowed", allowed, "pass", res->pass,
			"reason", bytes_string(res->reason), "evidence", evidence_json(res),
			"started", when, "duration_s", res->duration_s, "timeline", timeline_rel,
			"reproduce", repro, "bisect", pr->bisect);
	text = json_dumps(json_pack("{s:o}", "run", rec), JSON_COMPACT | JSON_ENSURE_ASCII);
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

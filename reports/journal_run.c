/* reports/journal_run.c — the journal's run and window records: faults,
 * verdict and allowed states, evidence; one run per key. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "reports/journal_parse.h"
#include "lib/text.h"

static int parse_fault(struct parser *p, json_t *o, struct jfault *f)
{
	int bad = 0;

	f->kind = "";
	f->at_s = NAN;
	f->latency_us = -1;
	if (!json_is_object(o)) {
		jp_err(p, "run: a fault must be an object {kind, trigger, injected, at_s, ...}");
		return -1;
	}
	p->rec = "run.fault";
	bad |= jp_str(p, o, "kind", false, &f->kind) < 0;
	bad |= jp_str(p, o, "trigger", false, &f->trigger) < 0;
	bad |= jp_str(p, o, "phase", false, &f->phase) < 0;
	if (f->phase && (!f->phase[0] || !strcmp(f->phase, "-")))
		f->phase = NULL;
	bad |= jp_bool(p, o, "injected", false, &f->injected) < 0;
	bad |= jp_bool(p, o, "optional", false, &f->optional) < 0;
	bad |= jp_num(p, o, "at_s", false, &f->at_s) < 0;
	{
		double lat = -1;

		bad |= jp_num(p, o, "latency_us", false, &lat) < 0;
		f->latency_us = lat < 0 ? -1 : (long long)llround(lat);
	}
	p->rec = "run";
	return bad ? -1 : 0;
}

/* "faults" (a list) wins over "fault" (one); both are optional. */
static int parse_faults(struct parser *p, json_t *o, struct jrun *r)
{
	json_t *list = json_object_get(o, "faults"), *one = json_object_get(o, "fault"), *item;
	size_t i;

	if (list && !json_is_null(list)) {
		if (!json_is_array(list)) {
			jp_err(p, "run: \"faults\" must be a list of fault objects");
			return -1;
		}
		r->faults = calloc(json_array_size(list) + 1, sizeof(*r->faults));
		json_array_foreach(list, i, item)
		{
			if (parse_fault(p, item, &r->faults[r->n_faults++]) < 0)
				return -1;
		}
	} else if (one && !json_is_null(one)) {
		r->faults = calloc(1, sizeof(*r->faults));
		r->n_faults = 1;
		return parse_fault(p, one, r->faults);
	}
	return 0;
}

/* Console text was written one code point per byte (docs/journal.md): get
 * the bytes back, so a UTF-8 board message reads as the board meant it. */
static void byte_string(json_t *str, struct jtext *out)
{
	size_t len = json_string_length(str);
	char *bytes = malloc(len + 1);

	memcpy(bytes, json_string_value(str), len);
	json_string_setn_nocheck(str, bytes, text_con_bytes(bytes, len));
	free(bytes);
	out->s = json_string_value(str);
	out->len = json_string_length(str);
}

static int parse_event(struct parser *p, json_t *o, struct jevent *e)
{
	json_t *d;

	if (!json_is_object(o)) {
		jp_err(p, "run: evidence items are objects {t, k, d}");
		return -1;
	}
	p->rec = "run.evidence";
	e->kind = "";
	if (jp_num(p, o, "t", false, &e->t) < 0 || jp_str(p, o, "k", false, &e->kind) < 0 ||
	    jp_text(p, o, "d", &e->text) < 0)
		return -1;
	p->rec = "run";
	d = json_object_get(o, "d");
	if (d)
		byte_string(d, &e->text);
	return 0;
}

static int parse_evidence(struct parser *p, json_t *o, struct jrun *r)
{
	json_t *list, *item;
	size_t i;

	if (jp_field(p, o, "evidence", false, &list))
		return 0;
	if (!json_is_array(list)) {
		jp_err(p, "run: \"evidence\" must be a list of {t, k, d}");
		return -1;
	}
	r->evidence = calloc(json_array_size(list) + 1, sizeof(*r->evidence));
	json_array_foreach(list, i, item)
	{
		r->evidence[r->n_evidence] = (struct jevent){.t = NAN};
		if (parse_event(p, item, &r->evidence[r->n_evidence++]) < 0)
			return -1;
	}
	return 0;
}

static int parse_allowed(struct parser *p, json_t *o, struct jrun *r, bool *has)
{
	const char **names;
	size_t n;
	int v = 0;

	*has = json_object_get(o, "allowed") && !json_is_null(json_object_get(o, "allowed"));
	if (jp_str_list(p, o, "allowed", &names, &n) < 0) {
		free(names);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		v = jp_verdict(p, "run: \"allowed\"", names[i]);
		if (v < 0)
			break;
		r->allowed |= 1u << v;
	}
	free(names);
	return v < 0 && n ? -1 : 0;
}

const char *run_outcome_name(enum run_outcome o)
{
	static const char *const names[] = {"pass", "fail", "not_injected", "infra_error"};

	return (unsigned)o < sizeof(names) / sizeof(names[0]) ? names[o] : "?";
}

/* Journals written before "optional" and "outcome" existed read the same
 * way: their faults are not optional, so a run whose fault never came is
 * not_injected there too. */
static void decide_outcome(struct jrun *r)
{
	bool missing = false;

	for (size_t i = 0; i < r->n_faults; i++) {
		if (r->faults[i].injected)
			continue;
		r->untested = true;
		missing |= !r->faults[i].optional;
	}
	if (r->verdict == VERDICT_INFRA_ERROR)
		r->outcome = OUTCOME_INFRA_ERROR;
	else if (!(r->allowed & (1u << r->verdict)))
		r->outcome = OUTCOME_FAIL;
	else if (missing)
		r->outcome = OUTCOME_NOT_INJECTED;
	else
		r->outcome = OUTCOME_PASS;
	r->pass = r->outcome == OUTCOME_PASS;
}

/* The gate goes by verdict, allowed and faults; "pass" is the writer's opinion. */
static int decide_pass(struct parser *p, json_t *o, struct jrun *r)
{
	bool has_allowed, has_pass, pass = false;
	int rc;

	if (parse_allowed(p, o, r, &has_allowed) < 0)
		return -1;
	rc = jp_bool(p, o, "pass", false, &pass);
	if (rc < 0)
		return -1;
	has_pass = rc == 0;
	if (!has_allowed && !has_pass) {
		jp_err(p,
		       "run: needs \"allowed\" (the end states the scenario allows) or \"pass\"");
		return -1;
	}
	if (!has_allowed)
		r->allowed = pass ? 1u << r->verdict : 0;
	decide_outcome(r);
	if (has_pass && pass && r->outcome == OUTCOME_NOT_INJECTED)
		hil_warn("%s:%u: run \"%s\": recorded as a pass, but its fault was not injected "
		         "(its trigger never came): counted as not_injected",
		         p->name, p->line, r->key);
	else if (has_pass && pass != r->pass)
		hil_warn("%s:%u: run \"%s\": \"pass\": %s disagrees with verdict %s and its "
		         "allowed list; the report goes by the verdict",
		         p->name, p->line, r->key, pass ? "true" : "false",
		         verdict_name(r->verdict));
	return 0;
}

/* Timeline paths are relative to the journal's directory; anything else
 * would let a journal pull arbitrary files into a report. */
static void check_timeline(struct parser *p, struct jrun *r)
{
	const char *t = r->timeline;

	if (!t)
		return;
	if (!t[0] || t[0] == '/' || strcmp(t, "..") == 0 || strncmp(t, "../", 3) == 0 ||
	    strstr(t, "/../") || (strlen(t) >= 3 && strcmp(t + strlen(t) - 3, "/..") == 0)) {
		hil_warn("%s:%u: run \"%s\": timeline \"%s\" is not a path inside the campaign "
		         "directory; ignored",
		         p->name, p->line, r->key, t);
		r->timeline = NULL;
	}
}

static const char *opt_str(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

static double opt_num(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_number(v) ? json_number_value(v) : NAN;
}

/* How the board was restored before the run (newer writers; an older or
 * odd record simply has none). */
static void parse_restore(json_t *o, struct jrun *r)
{
	r->restore_s = r->restore_written = r->restore_verified = NAN;
	if (!json_is_object(o))
		return;
	r->restore_action = opt_str(o, "action");
	r->restore_why = opt_str(o, "why");
	r->restore_error = opt_str(o, "error");
	r->restore_ok = !json_is_false(json_object_get(o, "ok"));
	r->restore_s = opt_num(o, "seconds");
	r->restore_written = opt_num(o, "bytes_written");
	r->restore_verified = opt_num(o, "bytes_verified");
}

static int parse_run_fields(struct parser *p, json_t *o, struct jrun *r)
{
	const char *verdict = NULL;
	int bad = 0, v, rc;

	bad |= jp_int(p, o, "id", false, &r->id) < 0;
	bad |= jp_str(p, o, "key", true, &r->key) < 0;
	bad |= jp_str(p, o, "scenario", true, &r->scenario) < 0;
	bad |= jp_str(p, o, "board", true, &r->board) < 0;
	bad |= jp_str(p, o, "point", false, &r->point) < 0;
	bad |= jp_int(p, o, "seed", false, &r->seed) < 0;
	rc = jp_text(p, o, "reason", &r->reason);
	if (rc == 0)
		byte_string(json_object_get(o, "reason"), &r->reason);
	bad |= rc < 0;
	bad |= jp_str(p, o, "started", false, &r->started) < 0;
	bad |= jp_str(p, o, "finished", false, &r->finished) < 0;
	bad |= jp_num(p, o, "duration_s", false, &r->duration_s) < 0;
	bad |= jp_str(p, o, "timeline", false, &r->timeline) < 0;
	bad |= jp_str(p, o, "reproduce", false, &r->reproduce) < 0;
	parse_restore(json_object_get(o, "restore"), r);
	bad |= jp_str(p, o, "rerun", false, &r->rerun) < 0;
	bad |= jp_str(p, o, "verdict", true, &verdict) < 0;
	if (bad)
		return -1;
	v = jp_verdict(p, "run: \"verdict\"", verdict);
	if (v < 0)
		return -1;
	r->verdict = (enum verdict)v;
	return 0;
}

/* Before runs had "finished", hilctl wrote the time a run's record was
 * written, its end, as "started" (docs/journal.md). Its records are the ones
 * with "host" and "shard"; other writers' "started" is taken as documented. */
static void run_times(json_t *o, struct jrun *r)
{
	double dur = r->duration_s >= 0 ? r->duration_s : NAN;

	r->start_s = journal_time(r->started);
	r->end_s = journal_time(r->finished);
	if (!r->finished && json_object_get(o, "host") && json_object_get(o, "shard")) {
		r->end_s = r->start_s;
		r->start_s = r->end_s - dur;
		r->started = NULL;
	}
	if (!isfinite(r->end_s))
		r->end_s = r->start_s + dur;
	if (!isfinite(r->start_s))
		r->start_s = r->end_s - dur;
}

int parse_run(struct parser *p, json_t *o)
{
	struct jfile *j = p->j;
	struct jrun *r;

	if (j->n_runs == p->cap_runs) {
		p->cap_runs = p->cap_runs ? p->cap_runs * 2 : 64;
		j->runs = realloc(j->runs, p->cap_runs * sizeof(*j->runs));
	}
	r = &j->runs[j->n_runs++];
	*r = (struct jrun){.id = (long long)j->n_runs,
	                   .seed = -1,
	                   .duration_s = NAN,
	                   .journal = j,
	                   .line = p->line};
	if (parse_run_fields(p, o, r) < 0 || parse_faults(p, o, r) < 0 ||
	    parse_evidence(p, o, r) < 0 || decide_pass(p, o, r) < 0)
		return -1;
	run_times(o, r);
	check_timeline(p, r);
	return 0;
}

int parse_window(struct parser *p, json_t *o)
{
	struct jfile *j = p->j;
	struct jwindow *w;
	const char *verdict = NULL;
	int bad = 0;

	if (j->n_windows == p->cap_windows) {
		p->cap_windows = p->cap_windows ? p->cap_windows * 2 : 16;
		j->windows = realloc(j->windows, p->cap_windows * sizeof(*j->windows));
	}
	w = &j->windows[j->n_windows++];
	*w = (struct jwindow){.board = "", .verdict = -1, .runs = -1, .journal = j};
	bad |= jp_str(p, o, "scenario", true, &w->scenario) < 0;
	bad |= jp_str(p, o, "board", false, &w->board) < 0;
	bad |= jp_str(p, o, "last_pass", false, &w->last_pass) < 0;
	bad |= jp_str(p, o, "first_fail", true, &w->first_fail) < 0;
	bad |= jp_int(p, o, "runs", false, &w->runs) < 0;
	bad |= jp_str(p, o, "verdict", false, &verdict) < 0;
	if (bad)
		return -1;
	if (verdict && (w->verdict = jp_verdict(p, "window: \"verdict\"", verdict)) < 0)
		return -1;
	return 0;
}

static int by_key_then_line(const void *a, const void *b)
{
	const struct jrun *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	return c ? c : (x->line > y->line) - (x->line < y->line);
}

static int by_line(const void *a, const void *b)
{
	const struct jrun *x = a, *y = b;

	return (x->line > y->line) - (x->line < y->line);
}

void finish_runs(struct parser *p)
{
	struct jfile *j = p->j;
	size_t o = 0;

	if (j->n_runs < 2)
		return;
	/* Sort by key, keep the last record of each key, restore file order. */
	qsort(j->runs, j->n_runs, sizeof(*j->runs), by_key_then_line);
	for (size_t i = 0; i < j->n_runs; i++) {
		if (i + 1 < j->n_runs && strcmp(j->runs[i].key, j->runs[i + 1].key) == 0) {
			hil_warn("%s:%u: run \"%s\" again at line %u; the later record counts",
			         p->name, j->runs[i].line, j->runs[i].key, j->runs[i + 1].line);
			free(j->runs[i].faults);
			free(j->runs[i].evidence);
			continue;
		}
		j->runs[o++] = j->runs[i];
	}
	j->n_runs = o;
	qsort(j->runs, j->n_runs, sizeof(*j->runs), by_line);
}

/* reports/summary_json.c — summary.json: the gate, counts per verdict and
 * per scenario, failing windows, shards, and one line per run, for scripts
 * and dashboards. Written with jansson; board text is cleaned to valid UTF-8
 * first (lib/text.c), and "/" is escaped so "</script>" stays inert if
 * someone pastes the file into a page. */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <string.h>

#include "reports/report.h"

static json_t *jtext(const char *s, size_t len)
{
	struct sbuf clean = {0};
	json_t *v;

	if (!s)
		return json_null();
	text_clean(&clean, s, len, TEXT_KEEP_NL | TEXT_KEEP_TAB);
	v = json_stringn(clean.s ? clean.s : "", clean.len);
	sbuf_free(&clean);
	return v ? v : json_null();
}

static json_t *jstr(const char *s)
{
	return jtext(s, s ? strlen(s) : 0);
}

static json_t *jnum(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

/* A time as ISO 8601 UTC, or null. */
static json_t *jtime(double t)
{
	struct sbuf s = {0};
	json_t *v;

	if (!isfinite(t))
		return json_null();
	format_time(&s, t);
	v = json_string(s.s);
	sbuf_free(&s);
	return v;
}

static json_t *counts_obj(const size_t counts[VERDICT_COUNT])
{
	json_t *o = json_object();

	for (int v = 0; v < VERDICT_COUNT; v++)
		json_object_set_new(o, verdict_name((enum verdict)v),
		                    json_integer((json_int_t)counts[v]));
	return o;
}

static json_t *gate_obj(const struct gate *g)
{
	json_t *o = json_object(), *reasons = json_array();

	for (size_t i = 0; i < g->n_reasons; i++)
		json_array_append_new(reasons, jstr(g->reasons[i]));
	json_object_set_new(o, "decision", json_string(gate_decision_name(g->decision)));
	json_object_set_new(o, "exit_code", json_integer(g->exit_code));
	json_object_set_new(o, "reasons", reasons);
	json_object_set_new(o, "runs", json_integer((json_int_t)g->runs));
	json_object_set_new(o, "passed", json_integer((json_int_t)g->passed));
	json_object_set_new(o, "failures", json_integer((json_int_t)g->failures));
	json_object_set_new(o, "infra_errors", json_integer((json_int_t)g->infra_errors));
	json_object_set_new(o, "not_injected", json_integer((json_int_t)g->not_injected));
	json_object_set_new(o, "untested", json_integer((json_int_t)g->untested));
	json_object_set_new(o, "judged", json_integer((json_int_t)g->judged));
	json_object_set_new(o, "failure_rate", jnum(g->failure_rate));
	json_object_set_new(o, "upper_bound_95", jnum(g->upper_bound_95));
	json_object_set_new(o, "shards_missing", json_integer((json_int_t)g->shards_missing));
	json_object_set_new(o, "shards_partial", json_integer((json_int_t)g->shards_partial));
	return o;
}

static json_t *scenarios_obj(const struct gate *g, const struct report_set *rs)
{
	json_t *o = json_object();

	for (size_t i = 0; i < g->n_scenarios; i++) {
		const struct scenario_stats *s = &g->scenarios[i];
		json_t *e = json_object();
		struct sbuf name = {0};

		json_object_set_new(e, "description", jstr(scenario_description(rs, s->name)));
		json_object_set_new(e, "runs", json_integer((json_int_t)s->runs));
		json_object_set_new(e, "failures", json_integer((json_int_t)s->failures));
		json_object_set_new(e, "infra_errors", json_integer((json_int_t)s->infra_errors));
		json_object_set_new(e, "not_injected", json_integer((json_int_t)s->not_injected));
		json_object_set_new(e, "untested", json_integer((json_int_t)s->untested));
		json_object_set_new(e, "counts", counts_obj(s->counts));
		text_clean(&name, s->name, strlen(s->name), 0);
		json_object_set_new(o, name.s ? name.s : "", e);
		sbuf_free(&name);
	}
	return o;
}

static json_t *windows_arr(const struct report_set *rs)
{
	json_t *a = json_array();

	for (size_t i = 0; i < rs->n_windows; i++) {
		const struct jwindow *w = rs->windows[i];
		json_t *o = json_object();

		json_object_set_new(o, "scenario", jstr(w->scenario));
		json_object_set_new(o, "board", jstr(w->board));
		json_object_set_new(o, "last_pass", jstr(w->last_pass));
		json_object_set_new(o, "first_fail", jstr(w->first_fail));
		json_object_set_new(o, "verdict",
		                    w->verdict >= 0
		                        ? json_string(verdict_name((enum verdict)w->verdict))
		                        : json_null());
		json_object_set_new(o, "runs", w->runs >= 0 ? json_integer(w->runs) : json_null());
		json_array_append_new(a, o);
	}
	return a;
}

static json_t *shards_arr(const struct report_set *rs)
{
	json_t *a = json_array();

	for (size_t i = 0; i < rs->n_shards; i++) {
		const struct shard *sh = &rs->shards[i];
		json_t *o = json_object();

		json_object_set_new(o, "campaign", jstr(sh->campaign_id));
		json_object_set_new(o, "index", json_integer(sh->index));
		json_object_set_new(o, "count", json_integer(sh->count));
		json_object_set_new(o, "status", json_string(shard_status_name(sh->status)));
		json_object_set_new(o, "attempts", json_integer(sh->attempts));
		json_object_set_new(o, "attempt",
		                    sh->journal ? json_integer(sh->journal->campaign.shard_attempt)
		                                : json_null());
		json_object_set_new(o, "journal",
		                    sh->journal ? jstr(sh->journal->path) : json_null());
		json_object_set_new(o, "runs", json_integer((json_int_t)sh->runs));
		json_array_append_new(a, o);
	}
	return a;
}

/* The boards -jN asked for that other processes held, per journal. */
static json_t *unavailable_arr(const struct report_set *rs)
{
	json_t *a = json_array();

	for (size_t i = 0; i < rs->n_journals; i++) {
		const struct jcampaign *c = &rs->journals[i]->campaign;
		for (size_t b = 0; b < c->n_unavailable; b++) {
			const struct jbusy *u = &c->unavailable[b];
			json_t *o = json_object();
			json_object_set_new(o, "board", jstr(u->board));
			json_object_set_new(o, "pid",
			                    u->pid >= 0 ? json_integer(u->pid) : json_null());
			json_object_set_new(o, "holder", jstr(u->holder));
			json_object_set_new(o, "campaign", jstr(c->id));
			json_object_set_new(o, "shard", json_integer(c->shard_index));
			json_object_set_new(o, "boards_asked",
			                    c->boards_asked >= 0 ? json_integer(c->boards_asked)
			                                         : json_null());
			json_array_append_new(a, o);
		}
	}
	return a;
}

static json_t *run_obj(const struct jrun *r)
{
	json_t *o = json_object(), *allowed = json_array();
	long long latency = -1;

	for (int v = 0; v < VERDICT_COUNT; v++)
		if (r->allowed & (1u << v))
			json_array_append_new(allowed, json_string(verdict_name((enum verdict)v)));
	for (size_t i = 0; i < r->n_faults && latency < 0; i++)
		latency = r->faults[i].latency_us;
	json_object_set_new(o, "id", json_integer(r->id));
	json_object_set_new(o, "campaign", jstr(r->journal->campaign.id));
	json_object_set_new(o, "shard", json_integer(r->journal->campaign.shard_index));
	json_object_set_new(o, "key", jstr(r->key));
	json_object_set_new(o, "scenario", jstr(r->scenario));
	json_object_set_new(o, "board", jstr(r->board));
	json_object_set_new(o, "point", jstr(r->point));
	json_object_set_new(o, "verdict", json_string(verdict_name(r->verdict)));
	json_object_set_new(o, "allowed", allowed);
	json_object_set_new(o, "pass", json_boolean(r->pass));
	json_object_set_new(o, "outcome", json_string(run_outcome_name(r->outcome)));
	json_object_set_new(o, "injected", json_boolean(!r->untested));
	json_object_set_new(o, "reason", jtext(r->reason.s, r->reason.len));
	json_object_set_new(o, "started", jtime(r->start_s));
	json_object_set_new(o, "finished", jtime(r->end_s));
	json_object_set_new(o, "duration_s", jnum(r->duration_s));
	json_object_set_new(o, "latency_us", latency >= 0 ? json_integer(latency) : json_null());
	json_object_set_new(o, "timeline", jstr(r->timeline));
	json_object_set_new(o, "reproduce", jstr(r->reproduce));
	return o;
}

int report_summary_json(FILE *f, const struct report *r)
{
	json_t *doc = json_object(), *runs = json_array();
	struct sbuf title = {0};
	int rc;

	report_title(&title, r->set);
	for (size_t i = 0; i < r->set->n_runs; i++)
		json_array_append_new(runs, run_obj(r->set->runs[i]));
	json_object_set_new(doc, "format", json_integer(1));
	json_object_set_new(doc, "title", jstr(title.s));
	json_object_set_new(doc, "generated", jstr(r->opts.generated));
	json_object_set_new(doc, "hilctl_version", json_string(HILCTL_VERSION));
	json_object_set_new(doc, "gate", gate_obj(r->gate));
	json_object_set_new(doc, "counts", counts_obj(r->gate->counts));
	json_object_set_new(doc, "scenarios", scenarios_obj(r->gate, r->set));
	json_object_set_new(doc, "windows", windows_arr(r->set));
	json_object_set_new(doc, "boards_unavailable", unavailable_arr(r->set));
	json_object_set_new(doc, "shards", shards_arr(r->set));
	json_object_set_new(doc, "duration_s", jnum(r->gate->wall_s));
	json_object_set_new(doc, "run_time_s", jnum(r->gate->run_time_s));
	json_object_set_new(doc, "runs", runs);
	rc = json_dumpf(doc, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ESCAPE_SLASH);
	fputc('\n', f);
	json_decref(doc);
	sbuf_free(&title);
	return rc || ferror(f) ? -EIO : 0;
}

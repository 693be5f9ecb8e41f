/* reports/junit.c — JUnit XML as GitLab and Jenkins read it: a testsuite per
 * scenario, a testcase per run (classname = scenario, name = board @ fault
 * point); a run in a state not allowed is a <failure>, an infra_error or
 * not_injected run or a missing shard an <error>, a pass whose optional
 * fault never came <skipped>. No CDATA: every character is escaped, and
 * characters XML 1.0 cannot carry are replaced (lib/text.c). */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "reports/report.h"

static void attr(struct sbuf *b, const char *name, const char *value)
{
	sbuf_addf(b, " %s=\"", name);
	xml_escape_attr(b, value, strlen(value));
	sbuf_adds(b, "\"");
}

static void properties(struct sbuf *b, const struct report *r)
{
	const struct jcampaign *c = &r->set->journals[0]->campaign;
	struct sbuf v = {0};

	sbuf_adds(b, "    <properties>\n");
#define PROP(name, value)                                                                          \
	do {                                                                                       \
		sbuf_adds(b, "      <property");                                                   \
		attr(b, "name", name);                                                             \
		attr(b, "value", value);                                                           \
		sbuf_adds(b, "/>\n");                                                              \
	} while (0)
	PROP("campaign", c->id);
	if (c->seed >= 0) {
		sbuf_addf(&v, "%lld", c->seed);
		PROP("seed", v.s);
	}
	if (c->lab)
		PROP("lab", c->lab);
	if (c->hilctl_version)
		PROP("hilctl_version", c->hilctl_version);
	PROP("gate", gate_decision_name(r->gate->decision));
	if (isfinite(r->gate->upper_bound_95)) {
		sbuf_reset(&v);
		sbuf_addf(&v, "%.6f", r->gate->upper_bound_95);
		PROP("failure_rate_upper_bound_95", v.s);
	}
#undef PROP
	sbuf_adds(b, "    </properties>\n");
	sbuf_free(&v);
}

static void testcase(struct sbuf *b, const struct jrun *run, const struct report *r)
{
	struct sbuf t = {0};

	sbuf_adds(b, "    <testcase");
	attr(b, "classname", run->scenario);
	run_title(&t, run);
	attr(b, "name", t.s);
	sbuf_addf(b, " time=\"%.3f\">\n", isfinite(run->duration_s) ? run->duration_s : 0.0);
	if (run->pass && run->untested)
		sbuf_adds(b,
		          "      <skipped message=\"optional fault not injected: its trigger never "
		          "came\"/>\n");
	if (!run->pass) {
		const char *tag = run->outcome == OUTCOME_FAIL ? "failure" : "error";
		const char *type = run->outcome == OUTCOME_NOT_INJECTED
		                       ? "not_injected"
		                       : verdict_name(run->verdict);

		sbuf_reset(&t);
		sbuf_addf(&t, "%s: ", type);
		sbuf_add(&t, run->reason.s ? run->reason.s : "", run->reason.len);
		sbuf_addf(b, "      <%s", tag);
		attr(b, "type", type);
		sbuf_adds(b, " message=\"");
		xml_escape_attr(b, t.s, t.len);
		sbuf_adds(b, "\">");
		sbuf_reset(&t);
		run_failure_text(&t, run, r->opts.excerpt_lines);
		xml_escape(b, t.s, t.len, TEXT_KEEP_NL | TEXT_KEEP_TAB | TEXT_STRIP_ANSI);
		sbuf_addf(b, "</%s>\n", tag);
	}
	sbuf_reset(&t);
	sbuf_addf(&t, "verdict: %s\n", verdict_name(run->verdict));
	if (run->outcome == OUTCOME_NOT_INJECTED)
		sbuf_adds(&t, "outcome: not_injected\n");
	if (run->timeline)
		sbuf_addf(&t, "timeline: %s\n", run->timeline);
	if (run->reproduce)
		sbuf_addf(&t, "reproduce: %s\n", run->reproduce);
	sbuf_adds(b, "      <system-out>");
	xml_escape(b, t.s, t.len, TEXT_KEEP_NL | TEXT_KEEP_TAB);
	sbuf_adds(b, "</system-out>\n    </testcase>\n");
	sbuf_free(&t);
}

static void suite(struct sbuf *b, const struct report *r, const struct scenario_stats *s)
{
	double time = 0;

	for (size_t i = 0; i < r->set->n_runs; i++)
		if (!strcmp(r->set->runs[i]->scenario, s->name) &&
		    isfinite(r->set->runs[i]->duration_s))
			time += r->set->runs[i]->duration_s;
	sbuf_adds(b, "  <testsuite");
	attr(b, "name", s->name);
	sbuf_addf(b, " tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" skipped=\"%zu\" time=\"%.3f\"",
	          s->runs, s->failures, s->infra_errors + s->not_injected, s->untested, time);
	if (r->set->journals[0]->campaign.host)
		attr(b, "hostname", r->set->journals[0]->campaign.host);
	sbuf_adds(b, ">\n");
	properties(b, r);
	for (size_t i = 0; i < r->set->n_runs; i++)
		if (!strcmp(r->set->runs[i]->scenario, s->name))
			testcase(b, r->set->runs[i], r);
	sbuf_adds(b, "  </testsuite>\n");
}

/* Missing and partial shards are errors CI must show, not silence. */
static void shard_suite(struct sbuf *b, const struct report *r)
{
	const struct gate *g = r->gate;
	size_t bad = g->shards_missing + g->shards_partial;
	struct sbuf t = {0};

	if (!bad)
		return;
	sbuf_addf(b,
	          "  <testsuite name=\"hilctl.shards\" tests=\"%zu\" failures=\"0\" "
	          "errors=\"%zu\" skipped=\"0\" time=\"0\">\n",
	          bad, bad);
	for (size_t i = 0; i < r->set->n_shards; i++) {
		const struct shard *sh = &r->set->shards[i];

		if (sh->status == SHARD_COMPLETE)
			continue;
		sbuf_reset(&t);
		sbuf_addf(&t, "campaign %s shard %d/%d", sh->campaign_id, sh->index, sh->count);
		sbuf_adds(b, "    <testcase classname=\"hilctl.shards\"");
		attr(b, "name", t.s);
		sbuf_adds(b, " time=\"0\">\n      <error type=\"infra_error\"");
		sbuf_reset(&t);
		if (sh->status == SHARD_MISSING)
			sbuf_addf(&t, "shard %d/%d: missing: no journal of it was given", sh->index,
			          sh->count);
		else
			sbuf_addf(&t,
			          "shard %d/%d: partial: attempt %d did not finish (%zu runs); "
			          "its runs count, the rest were never run",
			          sh->index, sh->count, sh->journal->campaign.shard_attempt,
			          sh->runs);
		attr(b, "message", t.s);
		sbuf_adds(b, "/>\n    </testcase>\n");
	}
	sbuf_adds(b, "  </testsuite>\n");
	sbuf_free(&t);
}

int report_junit(FILE *f, const struct report *r)
{
	const struct gate *g = r->gate;
	size_t extra = g->shards_missing + g->shards_partial;
	struct sbuf b = {0}, title = {0};
	int rc;

	report_title(&title, r->set);
	sbuf_adds(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites");
	sbuf_adds(&b, " name=\"hilctl ");
	xml_escape_attr(&b, title.s, title.len);
	sbuf_addf(&b, "\" tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" time=\"%.3f\">\n",
	          g->runs + extra, g->failures, g->infra_errors + g->not_injected + extra,
	          g->run_time_s);
	for (size_t i = 0; i < g->n_scenarios; i++)
		suite(&b, r, &g->scenarios[i]);
	shard_suite(&b, r);
	sbuf_adds(&b, "</testsuites>\n");
	rc = sbuf_write(&b, f);
	sbuf_free(&b);
	sbuf_free(&title);
	return rc ? rc : (ferror(f) ? -EIO : 0);
}

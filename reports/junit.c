/* reports/junit.c — JUnit XML as GitLab and Jenkins read it: a testsuite per
 * scenario, a testcase per run; a run in a state not allowed is a <failure>,
 * an infra_error or not_injected run or a missing shard an <error>, a pass
 * whose optional fault never came <skipped>. CI servers keep a test's
 * history by classname + name, so that identity is what stays the same from
 * one campaign to the next: classname = scenario, name = the fault point
 * (and the repeat), never the board, which is a property and in the text.
 * No CDATA: every character is escaped, and characters XML 1.0 cannot carry
 * are replaced (lib/text.c). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
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

/* Which repeat of its point a run is: hilctl keys the Nth repeat
 * "SCENARIO/point=POINT#N" (N >= 2); any other key is the first. */
static int run_repeat(const struct jrun *run)
{
	size_t slen = strlen(run->scenario), plen;
	const char *rest;
	char *end;
	long n;

	if (!run->point || !run->point[0])
		return 1;
	plen = strlen(run->point);
	if (strncmp(run->key, run->scenario, slen) || strncmp(run->key + slen, "/point=", 7) ||
	    strncmp(run->key + slen + 7, run->point, plen))
		return 1;
	rest = run->key + slen + 7 + plen;
	if (rest[0] != '#' || rest[1] < '1' || rest[1] > '9')
		return 1;
	n = strtol(rest + 1, &end, 10);
	return *end || n < 2 || n > 1000000 ? 1 : (int)n;
}

/* The testcase name, without the board: "point=POINT", "point=POINT #N" for
 * a repeat, or the run key when the run has no point. Raw; the caller
 * escapes. */
static void case_name(struct sbuf *out, const struct jrun *run)
{
	int repeat = run_repeat(run);

	if (!run->point || !run->point[0])
		sbuf_adds(out, run->key);
	else if (repeat > 1)
		sbuf_addf(out, "point=%s #%d", run->point, repeat);
	else
		sbuf_addf(out, "point=%s", run->point);
}

struct named_run {
	const struct jrun *run;
	struct sbuf name;
	size_t order;
};

static int by_name_then_order(const void *a, const void *b)
{
	const struct named_run *x = a, *y = b;
	int c = strcmp(x->name.s, y->name.s);

	return c ? c : (x->order > y->order) - (x->order < y->order);
}

static int by_order(const void *a, const void *b)
{
	const struct named_run *x = a, *y = b;

	return (x->order > y->order) - (x->order < y->order);
}

/* Names unique within the suite: when journals merged from several campaigns
 * hold one point (and repeat) twice, the later ones in report order are
 * "NAME (2)", "NAME (3)". */
static void name_runs(struct named_run *runs, size_t n)
{
	size_t dup = 1, first = 0;

	for (size_t i = 0; i < n; i++)
		case_name(&runs[i].name, runs[i].run);
	qsort(runs, n, sizeof(*runs), by_name_then_order);
	for (size_t i = 1; i < n; i++) {
		/* runs[first] keeps its name: the group's others compare with it */
		if (strcmp(runs[i].name.s, runs[first].name.s)) {
			first = i;
			dup = 1;
			continue;
		}
		sbuf_addf(&runs[i].name, " (%zu)", ++dup);
	}
	qsort(runs, n, sizeof(*runs), by_order);
}

static void case_properties(struct sbuf *b, const struct jrun *run)
{
	char repeat[16];

	snprintf(repeat, sizeof(repeat), "%d", run_repeat(run));
	sbuf_adds(b, "      <properties>\n        <property name=\"board\"");
	attr(b, "value", run->board);
	sbuf_adds(b, "/>\n        <property name=\"point\"");
	attr(b, "value", run_point(run));
	sbuf_adds(b, "/>\n        <property name=\"repeat\"");
	attr(b, "value", repeat);
	sbuf_adds(b, "/>\n        <property name=\"key\"");
	attr(b, "value", run->key);
	sbuf_adds(b, "/>\n      </properties>\n");
}

static void failure(struct sbuf *b, const struct jrun *run, const struct report *r)
{
	const char *tag = run->outcome == OUTCOME_FAIL ? "failure" : "error";
	const char *type =
	    run->outcome == OUTCOME_NOT_INJECTED ? "not_injected" : verdict_name(run->verdict);
	struct sbuf t = {0};

	sbuf_addf(&t, "%s on %s: ", type, run->board);
	sbuf_add(&t, run->reason.s ? run->reason.s : "", run->reason.len);
	sbuf_addf(b, "      <%s", tag);
	attr(b, "type", type);
	sbuf_adds(b, " message=\"");
	xml_escape_attr(b, t.s, t.len);
	sbuf_adds(b, "\">");
	sbuf_reset(&t);
	sbuf_addf(&t, "board: %s, point: %s, repeat %d\n", run->board, run_point(run),
	          run_repeat(run));
	run_failure_text(&t, run, r->opts.excerpt_lines);
	xml_escape(b, t.s, t.len, TEXT_KEEP_NL | TEXT_KEEP_TAB | TEXT_STRIP_ANSI);
	sbuf_addf(b, "</%s>\n", tag);
	sbuf_free(&t);
}

static void testcase(struct sbuf *b, const struct named_run *nr, const struct report *r)
{
	const struct jrun *run = nr->run;
	struct sbuf t = {0};

	sbuf_adds(b, "    <testcase");
	attr(b, "classname", run->scenario);
	attr(b, "name", nr->name.s);
	sbuf_addf(b, " time=\"%.3f\">\n", isfinite(run->duration_s) ? run->duration_s : 0.0);
	case_properties(b, run);
	if (run->pass && run->untested)
		sbuf_adds(b,
		          "      <skipped message=\"optional fault not injected: its trigger never "
		          "came\"/>\n");
	if (!run->pass)
		failure(b, run, r);
	sbuf_addf(&t, "board: %s\npoint: %s\nrepeat: %d\nverdict: %s\n", run->board, run_point(run),
	          run_repeat(run), verdict_name(run->verdict));
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
	struct named_run *runs = calloc(r->set->n_runs + 1, sizeof(*runs));
	size_t n = 0;
	double time = 0;

	if (!runs)
		abort(); /* as lib/text.c's buffers: no report without memory */
	for (size_t i = 0; i < r->set->n_runs; i++)
		if (!strcmp(r->set->runs[i]->scenario, s->name)) {
			runs[n].run = r->set->runs[i];
			runs[n].order = n;
			n++;
			if (isfinite(r->set->runs[i]->duration_s))
				time += r->set->runs[i]->duration_s;
		}
	sbuf_adds(b, "  <testsuite");
	attr(b, "name", s->name);
	sbuf_addf(b, " tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" skipped=\"%zu\" time=\"%.3f\"",
	          s->runs, s->failures, s->infra_errors + s->not_injected, s->untested, time);
	if (r->set->journals[0]->campaign.host)
		attr(b, "hostname", r->set->journals[0]->campaign.host);
	sbuf_adds(b, ">\n");
	properties(b, r);
	name_runs(runs, n);
	for (size_t i = 0; i < n; i++) {
		testcase(b, &runs[i], r);
		sbuf_free(&runs[i].name);
	}
	sbuf_adds(b, "  </testsuite>\n");
	free(runs);
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

/* reports/html.c — report.html: one self-contained page (inline CSS and SVG,
 * no script, a Content-Security-Policy that forbids fetching anything). The
 * gate and the counts sit at the top and fit one laptop screen; then the
 * charts, the failing windows, the outcome map, and every run with its
 * timeline and console log. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "reports/html_int.h"
#include "reports/html_style.h"

static void head(struct sbuf *b, const struct report *r)
{
	struct sbuf title = {0};

	report_title(&title, r->set);
	sbuf_adds(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	             "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
	             "style-src 'unsafe-inline'; img-src data:\">\n"
	             "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	             "<title>");
	sbuf_addf(b, "%s \xe2\x80\x94 ",
	          r->gate->decision == GATE_PASS   ? "PASS"
	          : r->gate->decision == GATE_FAIL ? "FAIL"
	                                           : "INFRA ERROR");
	h_text(b, title.s);
	sbuf_adds(b, " \xe2\x80\x94 hilctl report</title>\n<style>\n");
	sbuf_adds(b, html_style);
	sbuf_adds(b, "</style>\n</head>\n<body>\n<header class=\"top\"><div class=\"wrap\">"
	             "<span class=\"brand\">hilctl <span>campaign report</span></span>"
	             "<span class=\"id\">");
	h_text(b, title.s);
	sbuf_adds(b, "</span><span class=\"gen\">generated ");
	h_text(b, r->opts.generated);
	sbuf_adds(b, "</span></div></header>\n<main class=\"wrap\">\n");
	sbuf_free(&title);
}

static void verdict_counts(struct sbuf *b, bool failing_only, const struct report_set *rs)
{
	size_t per[VERDICT_COUNT] = {0};
	const char *sep = "";

	for (size_t i = 0; i < rs->n_runs; i++)
		if (!failing_only ||
		    (!rs->runs[i]->pass && rs->runs[i]->verdict != VERDICT_INFRA_ERROR))
			per[rs->runs[i]->verdict]++;
	for (int v = 0; v < VERDICT_COUNT; v++)
		if (per[v]) {
			sbuf_addf(b, "%s%zu %s", sep, per[v], verdict_name((enum verdict)v));
			sep = " \xc2\xb7 ";
		}
}

static void headline(struct sbuf *b, const struct report *r)
{
	const struct gate *g = r->gate;
	/* the headline already says the first reason */
	size_t first = g->failures || g->not_injected ? 1 : 0;

	sbuf_adds(b, "<div class=\"headline\"><h1>");
	if (g->decision == GATE_PASS)
		sbuf_addf(b, "All %zu runs ended in an allowed state", g->runs);
	else if (g->failures)
		sbuf_addf(b, "%zu of %zu runs ended in a state their scenario does not allow",
		          g->failures, g->runs);
	else if (g->not_injected)
		sbuf_addf(b, "%zu of %zu runs tested nothing: their fault was never injected",
		          g->not_injected, g->runs);
	else if (g->runs)
		sbuf_addf(b, "No board failed in %zu runs, but the campaign is incomplete",
		          g->judged);
	else
		sbuf_adds(b, "No runs recorded");
	sbuf_adds(b, "</h1><p>");
	verdict_counts(b, g->failures > 0, r->set);
	if (g->failures)
		sbuf_adds(b, " not allowed");
	sbuf_addf(b, " \xe2\x80\x94 exit code %d%s</p>", g->exit_code,
	          g->decision == GATE_INFRA ? ": requeue the lab's part, the boards did not fail"
	                                    : "");
	if (g->n_reasons > first) {
		sbuf_adds(b, "<ul class=\"reasons\">");
		for (size_t i = first; i < g->n_reasons && i < first + 4; i++) {
			sbuf_adds(b, "<li>");
			h_text(b, g->reasons[i]);
			sbuf_adds(b, "</li>");
		}
		if (g->n_reasons > first + 4)
			sbuf_addf(b, "<li>and %zu more (summary.json lists them all)</li>",
			          g->n_reasons - first - 4);
		sbuf_adds(b, "</ul>");
	}
	sbuf_adds(b, "</div>\n");
}

static void bound(struct sbuf *b, const struct gate *g)
{
	sbuf_adds(b, "<div class=\"bound\">");
	if (isfinite(g->upper_bound_95))
		sbuf_addf(b,
		          "<b>\xe2\x89\xa4 %.2f %%</b><span>failure rate, 95 %% upper bound"
		          "</span><span>0 failures in %zu judged runs</span>",
		          100 * g->upper_bound_95, g->judged);
	else if (isfinite(g->failure_rate))
		sbuf_addf(b,
		          "<b>%.2f %%</b><span>observed failure rate</span><span>%zu failures "
		          "in %zu judged runs</span>",
		          100 * g->failure_rate, g->failures, g->judged);
	else if (g->not_injected + g->untested)
		sbuf_adds(b, "<b>\xe2\x80\x94</b><span>no run injected its fault: no bound</span>");
	else
		sbuf_adds(b, "<b>\xe2\x80\x94</b><span>no run reached a board verdict</span>");
	if (g->not_injected + g->untested && g->judged)
		sbuf_addf(b, "<span>%zu runs whose fault was never injected are not counted</span>",
		          g->not_injected + g->untested);
	sbuf_adds(b, "</div>\n");
}

/* Distinct values of one string per run or journal, comma separated. */
static void distinct(struct sbuf *b, const char **vals, size_t n)
{
	size_t shown = 0;

	for (size_t i = 0; i < n; i++) {
		bool dup = !vals[i];

		for (size_t k = 0; k < i && !dup; k++)
			dup = vals[k] && !strcmp(vals[k], vals[i]);
		if (dup)
			continue;
		if (shown++)
			sbuf_adds(b, ", ");
		h_text(b, vals[i]);
	}
	if (!shown)
		sbuf_adds(b, "\xe2\x80\x94");
}

static void fact(struct sbuf *b, const char *name, const char *value_html)
{
	sbuf_addf(b, "<dt>%s</dt><dd>%s</dd>", name, value_html);
}

static void facts(struct sbuf *b, const struct report *r)
{
	const struct report_set *rs = r->set;
	const struct jcampaign *c = &rs->journals[0]->campaign;
	size_t n = rs->n_runs > rs->n_journals ? rs->n_runs : rs->n_journals, complete = 0;
	const char **vals = calloc(n + 1, sizeof(*vals));
	struct sbuf v = {0};

	sbuf_adds(b, "<dl class=\"facts\">");
#define FACT_FROM(name, expr, count)                                                               \
	do {                                                                                       \
		for (size_t i = 0; i < (count); i++)                                               \
			vals[i] = (expr);                                                          \
		sbuf_reset(&v);                                                                    \
		distinct(&v, vals, (count));                                                       \
		fact(b, name, v.s);                                                                \
	} while (0)
	FACT_FROM("lab", rs->journals[i]->campaign.lab, rs->n_journals);
	FACT_FROM("boards", rs->runs[i]->board, rs->n_runs);
	FACT_FROM("hosts", rs->journals[i]->campaign.host, rs->n_journals);
#undef FACT_FROM
	{
		struct sbuf held = {0};
		report_unavailable(&held, rs);
		if (held.len) {
			sbuf_reset(&v);
			h_text(&v, held.s);
			fact(b, "boards not available", v.s);
		}
		sbuf_free(&held);
	}
	sbuf_reset(&v);
	sbuf_addf(&v, "%zu scenarios", r->gate->n_scenarios);
	if (c->seed >= 0)
		sbuf_addf(&v, ", seed %lld", c->seed);
	fact(b, "sweep", v.s);
	for (size_t i = 0; i < rs->n_shards; i++)
		complete += rs->shards[i].status == SHARD_COMPLETE;
	sbuf_reset(&v);
	if (rs->n_shards > 1)
		sbuf_addf(&v, "%zu of %zu complete", complete, rs->n_shards);
	else if (complete)
		sbuf_adds(&v, "complete");
	else if (rs->shards[0].journal && rs->shards[0].journal->ended)
		sbuf_adds(&v, "stopped early");
	else
		sbuf_adds(&v, "partial: no end record");
	fact(b, rs->n_shards > 1 ? "shards" : "journal", v.s);
	sbuf_reset(&v);
	h_text(&v, c->started ? c->started : "\xe2\x80\x94");
	fact(b, "started", v.s);
	sbuf_reset(&v);
	format_duration(&v, r->gate->wall_s);
	sbuf_adds(&v, " wall, ");
	format_duration(&v, r->gate->run_time_s);
	sbuf_adds(&v, " in runs");
	fact(b, "duration", v.s);
	sbuf_adds(b, "</dl>\n");
	sbuf_free(&v);
	free(vals);
}

static void gate_section(struct sbuf *b, const struct report *r)
{
	const struct gate *g = r->gate;
	static const char *const cls[] = {"pass", "fail", "infra"};

	sbuf_addf(b, "<section class=\"card gate %s\" id=\"gate\">\n", cls[g->decision]);
	if (g->decision == GATE_INFRA)
		sbuf_adds(b, "<div class=\"badge long\"><b>INFRA<br>ERROR</b>");
	else
		sbuf_addf(b, "<div class=\"badge\"><b>%s</b>", g->decision ? "FAIL" : "PASS");
	sbuf_addf(b, "<span>gate \xc2\xb7 %zu runs</span></div>\n", g->runs);
	headline(b, r);
	bound(b, g);
	facts(b, r);
	sbuf_adds(b, "</section>\n");
}

static void chips(struct sbuf *b, const struct report *r)
{
	bool failing[VERDICT_COUNT] = {false};

	for (size_t i = 0; i < r->set->n_runs; i++)
		if (!r->set->runs[i]->pass)
			failing[r->set->runs[i]->verdict] = true;
	sbuf_adds(b, "<div class=\"chips\">");
	for (int v = 0; v < VERDICT_COUNT; v++)
		sbuf_addf(b, "<span class=\"chip%s%s\" style=\"--vc:%s\"><b>%zu</b>%s</span>",
		          r->gate->counts[v] ? "" : " zero", failing[v] ? " notallowed" : "",
		          verdict_color((enum verdict)v), r->gate->counts[v],
		          verdict_name((enum verdict)v));
	if (r->gate->not_injected || r->gate->untested)
		sbuf_addf(b,
		          "<span class=\"chip notallowed\" style=\"--vc:%s\"><b>%zu</b>"
		          "not_injected</span>",
		          verdict_color(VERDICT_INFRA_ERROR),
		          r->gate->not_injected + r->gate->untested);
	sbuf_adds(b, "</div>\n");
}

static void windows(struct sbuf *b, const struct report *r)
{
	const struct report_set *rs = r->set;

	if (!rs->n_windows && !r->gate->failures)
		return;
	sbuf_adds(b, "<section class=\"card\" id=\"windows\"><h2>Failing windows <small>the "
	             "smallest fault-point interval that bisection found, per scenario and "
	             "board</small></h2>\n");
	if (!rs->n_windows)
		sbuf_adds(b, "<p class=\"empty\">No window in the journal: no bisection ran, or "
		             "no failing point had a passing neighbour.</p>");
	else
		sbuf_adds(
		    b, "<table><tr><th>scenario</th><th>board</th><th>last pass</th>"
		       "<th>first failure</th><th>verdict</th><th class=\"num\">runs</th></tr>\n");
	for (size_t i = 0; i < rs->n_windows; i++) {
		const struct jwindow *w = rs->windows[i];

		sbuf_adds(b, "<tr><td>");
		h_text(b, w->scenario);
		sbuf_adds(b, "</td><td>");
		h_text(b, w->board);
		sbuf_adds(b, "</td><td class=\"mono\">");
		h_text(b, w->last_pass ? w->last_pass : "\xe2\x80\x94");
		sbuf_adds(b, "</td><td class=\"mono\">");
		h_text(b, w->first_fail);
		sbuf_adds(b, "</td><td>");
		if (w->verdict >= 0)
			h_verdict_tag(b, (enum verdict)w->verdict);
		sbuf_adds(b, "</td><td class=\"num\">");
		if (w->runs >= 0)
			sbuf_addf(b, "%lld", w->runs);
		sbuf_adds(b, "</td></tr>\n");
	}
	if (rs->n_windows)
		sbuf_adds(b, "</table>");
	sbuf_adds(b, "</section>\n");
}

/* The runs that did not pass first, open; then every other run, closed. */
static void runs(struct sbuf *b, const struct report *r, bool failed)
{
	const struct report_set *rs = r->set;
	const char *last = NULL;
	size_t n = 0;

	for (size_t i = 0; i < rs->n_runs; i++)
		n += rs->runs[i]->pass != failed;
	if (failed && !n)
		return;
	if (failed)
		sbuf_addf(
		    b,
		    "<section class=\"card\" id=\"failed\"><h2>Runs that did not pass "
		    "<small>%zu: each with its timeline, evidence and console log</small></h2>\n",
		    n);
	else
		sbuf_addf(b,
		          "<section class=\"card\" id=\"runs\"><h2>%s <small>%zu, by scenario "
		          "and fault point; open one for its timeline and console</small></h2>\n",
		          n == rs->n_runs ? "Runs" : "Runs that passed", n);
	for (size_t i = 0; i < rs->n_runs; i++) {
		if (rs->runs[i]->pass == failed)
			continue;
		if (!last || strcmp(rs->runs[i]->scenario, last)) {
			const char *about = scenario_description(rs, rs->runs[i]->scenario);

			sbuf_adds(b, "<h3 class=\"scn\">");
			h_text(b, rs->runs[i]->scenario);
			sbuf_adds(b, "</h3>\n");
			if (about) {
				sbuf_adds(b, "<p class=\"scdesc\">");
				h_text(b, about);
				sbuf_adds(b, "</p>\n");
			}
			last = rs->runs[i]->scenario;
		}
		html_run(b, r, i);
	}
	if (!n)
		sbuf_adds(b, "<p class=\"empty\">No runs.</p>");
	sbuf_adds(b, "</section>\n");
}

int report_html(FILE *f, const struct report *r)
{
	struct sbuf b = {0};
	int rc;

	head(&b, r);
	gate_section(&b, r);
	chips(&b, r);
	sbuf_adds(&b, "<div class=\"grid2\">\n<section class=\"card\"><h2>Verdicts per scenario"
	              "</h2>\n");
	html_chart_scenarios(&b, r);
	sbuf_adds(&b, "</section>\n<section class=\"card\"><h2>Fault timing</h2>\n");
	html_chart_latency(&b, r);
	html_chart_durations(&b, r);
	sbuf_adds(&b, "</section>\n</div>\n");
	windows(&b, r);
	html_outcome_map(&b, r);
	runs(&b, r, true);
	runs(&b, r, false);
	sbuf_adds(&b, "</main>\n<footer>hilctl ");
	h_text(&b, HILCTL_VERSION);
	sbuf_adds(&b, " \xc2\xb7 made from the campaign journal only \xc2\xb7 summary.json, "
	              "report.xml and report.tap hold the same data</footer>\n</body>\n</html>\n");
	rc = sbuf_write(&b, f);
	sbuf_free(&b);
	return rc ? rc : (ferror(f) ? -EIO : 0);
}

/* reports/html_charts.c — the HTML report's charts, drawn as inline SVG by
 * hilctl itself: verdicts per scenario, trigger-to-fault latency, run
 * durations, and the outcome map (fault point x scenario, each cell a link
 * to its run). A run is painted by whether it passed (run_color), and its
 * verdict is in its tooltip. */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "reports/html_int.h"

static size_t max_size(size_t a, size_t b)
{
	return a > b ? a : b;
}

/* A tooltip for one run: "scenario · board @ point: verdict". */
static void run_tip(struct sbuf *b, const struct jrun *run)
{
	struct sbuf t = {0};

	sbuf_addf(&t, "%s \xc2\xb7 ", run->scenario);
	run_title(&t, run);
	sbuf_addf(&t, ": %s%s", verdict_name(run->verdict),
	          run->pass                              ? ""
	          : run->outcome == OUTCOME_NOT_INJECTED ? " (not_injected: its fault never came)"
	                                                 : " (not allowed)");
	sbuf_adds(b, "<title>");
	h_textn(b, t.s, t.len, 0);
	sbuf_adds(b, "</title>");
	sbuf_free(&t);
}

void html_chart_scenarios(struct sbuf *b, const struct report *r)
{
	const struct gate *g = r->gate;
	const double label_w = 190, bar_w = 330, w = 620, row = 24;
	size_t most = 1;

	if (!g->n_scenarios) {
		sbuf_adds(b, "<p class=\"empty\">No runs.</p>\n");
		return;
	}
	for (size_t i = 0; i < g->n_scenarios; i++)
		most = max_size(most, g->scenarios[i].runs);
	sbuf_addf(b,
	          "<svg viewBox=\"0 0 %.0f %.0f\" width=\"%.0f\" role=\"img\" "
	          "aria-label=\"verdicts per scenario\">\n",
	          w, row * (double)g->n_scenarios + 4, w);
	for (size_t i = 0; i < g->n_scenarios; i++) {
		const struct scenario_stats *s = &g->scenarios[i];
		double y = (double)i * row + 2, x = label_w;

		sbuf_addf(b, "<text class=\"lbl\" x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\">",
		          label_w - 8, y + 14);
		h_short(b, s->name, 28);
		sbuf_adds(b, "<title>");
		h_text(b, s->name);
		if (scenario_description(r->set, s->name)) {
			sbuf_adds(b, ": ");
			h_text(b, scenario_description(r->set, s->name));
		}
		sbuf_adds(b, "</title></text>\n");
		for (int v = 0; v < VERDICT_COUNT; v++) {
			double len = bar_w * (double)s->counts[v] / (double)most;

			if (!s->counts[v])
				continue;
			sbuf_addf(b,
			          "<rect x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" height=\"18\" "
			          "fill=\"%s\"><title>%zu %s</title></rect>\n",
			          x, y, len, verdict_color((enum verdict)v), s->counts[v],
			          verdict_name((enum verdict)v));
			x += len;
		}
		sbuf_addf(b, "<text x=\"%.1f\" y=\"%.1f\">%zu run%s", x + 8, y + 14, s->runs,
		          s->runs == 1 ? "" : "s");
		if (s->failures)
			sbuf_addf(b,
			          " \xc2\xb7 <tspan fill=\"#cf222e\" font-weight=\"600\">%zu "
			          "failed</tspan>",
			          s->failures);
		if (s->infra_errors)
			sbuf_addf(b, " \xc2\xb7 %zu infra", s->infra_errors);
		sbuf_adds(b, "</text>\n");
	}
	sbuf_adds(b, "</svg>\n");
}

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return (x > y) - (x < y);
}

static void fmt_us(struct sbuf *b, double us)
{
	if (us < 1000)
		sbuf_addf(b, "%.0f \xc2\xb5s", us);
	else if (us < 1e6)
		sbuf_addf(b, "%.3g ms", us / 1000);
	else
		sbuf_addf(b, "%.3g s", us / 1e6);
}

struct latencies {
	const char *kind;
	long long *us;
	size_t n;
};

/* Every fault's trigger-to-fault latency, grouped by fault kind. */
static size_t collect_latencies(const struct report_set *rs, struct latencies *groups, size_t max)
{
	size_t n_groups = 0, g;

	for (size_t i = 0; i < rs->n_runs; i++)
		for (size_t k = 0; k < rs->runs[i]->n_faults; k++) {
			const struct jfault *f = &rs->runs[i]->faults[k];

			if (f->latency_us < 0)
				continue;
			for (g = 0; g < n_groups && strcmp(groups[g].kind, f->kind); g++)
				;
			if (g == n_groups) {
				if (n_groups == max)
					continue;
				groups[n_groups++] = (struct latencies){.kind = f->kind};
			}
			groups[g].us = realloc(groups[g].us, (groups[g].n + 1) * sizeof(long long));
			groups[g].us[groups[g].n++] = f->latency_us;
		}
	return n_groups;
}

/* One row: a histogram of one fault kind's latencies over its own range. */
static void latency_row(struct sbuf *b, struct latencies *l, double y)
{
	enum { BINS = 30 };
	const double label_w = 100, plot_w = 300, h = 26;
	size_t counts[BINS] = {0}, top = 1;
	double lo, hi, step;

	qsort(l->us, l->n, sizeof(*l->us), cmp_ll);
	lo = (double)l->us[0];
	hi = (double)l->us[l->n - 1];
	step = hi > lo ? (hi - lo) / BINS : 1;
	for (size_t i = 0; i < l->n; i++) {
		int k = (int)(((double)l->us[i] - lo) / step);

		k = k >= BINS ? BINS - 1 : k;
		top = max_size(top, ++counts[k]);
	}
	sbuf_addf(b, "<text class=\"lbl\" x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\">", label_w - 8,
	          y + h - 4);
	h_short(b, l->kind[0] ? l->kind : "fault", 14);
	sbuf_adds(b, "</text>");
	for (int k = 0; k < BINS; k++) {
		double bh = (h - 2) * (double)counts[k] / (double)top;

		if (counts[k])
			sbuf_addf(b,
			          "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
			          "fill=\"#54aeff\"><title>%zu</title></rect>",
			          label_w + k * plot_w / BINS, y + h - bh, plot_w / BINS - 1, bh,
			          counts[k]);
	}
	sbuf_addf(b, "<line x1=\"%.0f\" x2=\"%.0f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#d1d9e0\"/>",
	          label_w, label_w + plot_w, y + h + 0.5, y + h + 0.5);
	sbuf_addf(b, "<text x=\"%.0f\" y=\"%.1f\">", label_w + plot_w + 12, y + 11);
	sbuf_adds(b, "median ");
	fmt_us(b, (double)l->us[l->n / 2]);
	sbuf_adds(b, " \xc2\xb7 p99 ");
	fmt_us(b, (double)l->us[(l->n * 99) / 100]);
	sbuf_addf(b, "</text><text x=\"%.0f\" y=\"%.1f\" class=\"dim\">", label_w + plot_w + 12,
	          y + h - 1);
	fmt_us(b, lo);
	sbuf_adds(b, " \xe2\x80\x93 ");
	fmt_us(b, hi);
	sbuf_addf(b, ", %zu fault%s</text>\n", l->n, l->n == 1 ? "" : "s");
}

/* Trigger-to-fault latency per fault kind: how sharp the fault point is. */
void html_chart_latency(struct sbuf *b, const struct report *r)
{
	struct latencies groups[8] = {{0}};
	size_t n = collect_latencies(r->set, groups, 8);
	const double row = 38;

	if (!n) {
		sbuf_adds(b, "<p class=\"empty\">No trigger-to-fault latency recorded.</p>\n");
		return;
	}
	sbuf_adds(b, "<h4>Trigger to fault latency, per fault kind</h4>\n");
	sbuf_addf(b,
	          "<svg viewBox=\"0 0 620 %.0f\" width=\"620\" role=\"img\" "
	          "aria-label=\"latency per fault kind\">\n",
	          row * (double)n);
	for (size_t g = 0; g < n; g++) {
		latency_row(b, &groups[g], row * (double)g + 4);
		free(groups[g].us);
	}
	sbuf_adds(b, "</svg>\n");
}

static void duration_axis(struct sbuf *b, double x0, double w, double y, double most)
{
	double step = nice_step(most, 8);

	sbuf_addf(b, "<line x1=\"%.0f\" x2=\"%.0f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#d1d9e0\"/>",
	          x0, x0 + w, y, y);
	for (double t = 0; t <= most + step / 1000; t += step)
		sbuf_addf(b,
		          "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" class=\"dim\">%g%s"
		          "</text>",
		          x0 + w * t / most, y + 14, t, t == 0 ? " s" : "");
	sbuf_adds(b, "\n");
}

/* Run durations, one dot per run, a row per verdict: a bricked run that
 * took the whole recovery ladder stands out. */
void html_chart_durations(struct sbuf *b, const struct report *r)
{
	const struct report_set *rs = r->set;
	const double w = 620, label_w = 100, plot_w = 490, row = 18;
	double most = 0;
	int rows[VERDICT_COUNT], n_rows = 0;

	for (int v = 0; v < VERDICT_COUNT; v++)
		rows[v] = r->gate->counts[v] ? n_rows++ : -1;
	for (size_t i = 0; i < rs->n_runs; i++)
		if (isfinite(rs->runs[i]->duration_s) && rs->runs[i]->duration_s > most)
			most = rs->runs[i]->duration_s;
	if (!n_rows || most <= 0)
		return;
	sbuf_adds(b, "<h4>Run duration by verdict</h4>\n");
	sbuf_addf(b,
	          "<svg viewBox=\"0 0 %.0f %.0f\" width=\"%.0f\" role=\"img\" "
	          "aria-label=\"run durations\">\n",
	          w, row * n_rows + 22, w);
	for (int v = 0; v < VERDICT_COUNT; v++)
		if (rows[v] >= 0)
			sbuf_addf(b,
			          "<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\">%s</text>"
			          "<line x1=\"%.0f\" x2=\"%.0f\" y1=\"%.1f\" y2=\"%.1f\" "
			          "stroke=\"#eaeef2\"/>\n",
			          label_w - 8, rows[v] * row + 13, verdict_name((enum verdict)v),
			          label_w, label_w + plot_w, rows[v] * row + 9.5,
			          rows[v] * row + 9.5);
	for (size_t i = 0; i < rs->n_runs; i++) {
		const struct jrun *run = rs->runs[i];

		if (!isfinite(run->duration_s))
			continue;
		sbuf_addf(b,
		          "<a href=\"#run-%zu\"><circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" "
		          "fill=\"%s\" fill-opacity=\".7\">",
		          i, label_w + plot_w * run->duration_s / most,
		          rows[run->verdict] * row + 9.5, run_color(run));
		run_tip(b, run);
		sbuf_adds(b, "</circle></a>\n");
	}
	duration_axis(b, label_w, plot_w, row * n_rows + 2, most);
	sbuf_adds(b, "</svg>\n");
}

static void map_legend(struct sbuf *b, const struct report *r)
{
	bool passed_other = false, failed = r->gate->failures > 0;

	for (size_t i = 0; i < r->set->n_runs; i++) {
		const struct jrun *run = r->set->runs[i];

		passed_other |= run->pass && run->verdict != VERDICT_UPGRADED &&
		                run->verdict != VERDICT_ROLLED_BACK;
	}
	sbuf_adds(b, "<div class=\"legend\">");
	if (r->gate->counts[VERDICT_UPGRADED] || passed_other)
		sbuf_addf(b, "<span><i style=\"--vc:%s\"></i>passed: upgraded%s</span>",
		          verdict_color(VERDICT_UPGRADED),
		          passed_other ? " (or another allowed state)" : "");
	if (r->gate->counts[VERDICT_ROLLED_BACK])
		sbuf_addf(b, "<span><i style=\"--vc:%s\"></i>passed: rolled_back</span>",
		          verdict_color(VERDICT_ROLLED_BACK));
	if (failed)
		sbuf_addf(b,
		          "<span><i class=\"out\" style=\"--vc:%s\"></i>failed: a state the "
		          "scenario does not allow (any verdict; the tooltip names it)</span>",
		          verdict_color(VERDICT_BRICKED));
	if (r->gate->infra_errors)
		sbuf_addf(b, "<span><i style=\"--vc:%s\"></i>infra_error</span>",
		          verdict_color(VERDICT_INFRA_ERROR));
	sbuf_adds(b, "<span>each cell a fault point, in sweep order; click one for its run</span>"
	             "</div>\n");
}

/* Runs [from, to) of one scenario, grouped into columns of equal point. */
static size_t count_columns(const struct report_set *rs, size_t from, size_t to)
{
	size_t cols = 0;

	for (size_t i = from; i < to; i++)
		if (i == from || natural_cmp(run_point(rs->runs[i]), run_point(rs->runs[i - 1])))
			cols++;
	return cols;
}

static size_t scenario_end(const struct report_set *rs, size_t from)
{
	size_t to = from + 1;

	while (to < rs->n_runs && !strcmp(rs->runs[to]->scenario, rs->runs[from]->scenario))
		to++;
	return to;
}

static void map_cell(struct sbuf *b, const struct report_set *rs, size_t i, double x, double y,
                     double cw, double ch)
{
	const struct jrun *run = rs->runs[i];
	bool failed = !run->pass && run->verdict != VERDICT_INFRA_ERROR; /* the board's fault */
	bool outline = failed && cw >= 7 && ch >= 7;

	sbuf_addf(b,
	          "<a href=\"#run-%zu\"><rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" "
	          "height=\"%.2f\" rx=\"%.1f\" fill=\"%s\"",
	          i, x + (outline ? 1 : 0), y + (outline ? 1 : 0), cw - (outline ? 2 : 0),
	          ch - (outline ? 2 : 0), cw >= 10 ? 2.0 : 0.0, run_color(run));
	if (outline)
		sbuf_adds(b, " stroke=\"#1f2328\" stroke-width=\"2\"");
	sbuf_adds(b, ">");
	run_tip(b, run);
	sbuf_adds(b, "</rect></a>");
	if (failed && !outline) /* too small to outline: a mark under it */
		sbuf_addf(b,
		          "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"3\" "
		          "fill=\"#1f2328\"/>",
		          x, y + ch + 1, cw > 2 ? cw : 2);
	sbuf_adds(b, "\n");
}

void html_outcome_map(struct sbuf *b, const struct report *r)
{
	const struct report_set *rs = r->set;
	const double w = 1290, label_w = 220, note_w = 170, row = 22, gap = 10;
	double area = w - label_w - note_w, cw, y = 4;
	size_t most = 1;

	if (!rs->n_runs)
		return;
	for (size_t from = 0; from < rs->n_runs; from = scenario_end(rs, from))
		most = max_size(most, count_columns(rs, from, scenario_end(rs, from)));
	cw = floor(area / (double)most);
	cw = cw > 26 ? 26 : cw < 2 ? 2 : cw;
	sbuf_addf(b, "<section class=\"card\" id=\"map\"><h2>Outcome map <small>fault point "
	             "\xc3\x97 scenario, coloured by pass or fail</small></h2>\n");
	map_legend(b, r);
	sbuf_addf(b,
	          "<svg viewBox=\"0 0 %.0f %.0f\" width=\"%.0f\" role=\"img\" "
	          "aria-label=\"outcome map\">\n",
	          w, (row + gap) * (double)r->gate->n_scenarios + 4, w);
	for (size_t from = 0, to; from < rs->n_runs; from = to, y += row + gap) {
		size_t col = 0, cols;
		double x;

		to = scenario_end(rs, from);
		cols = count_columns(rs, from, to);
		sbuf_addf(b, "<text class=\"lbl\" x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\">",
		          label_w - 10, y + 15);
		h_short(b, rs->runs[from]->scenario, 30);
		sbuf_adds(b, "</text>\n");
		for (size_t i = from; i < to; col++) {
			size_t k = i + 1, stack;

			while (k < to &&
			       !natural_cmp(run_point(rs->runs[k]), run_point(rs->runs[i])))
				k++;
			stack = k - i; /* several boards at one point share the cell */
			x = label_w + (double)col * cw;
			for (size_t s = 0; s < stack; s++)
				map_cell(b, rs, i + s, x + (cw >= 6 ? 0.5 : 0),
				         y + row * (double)s / (double)stack,
				         cw - (cw >= 6 ? 1 : 0), row / (double)stack - (stack > 1));
			i = k;
		}
		sbuf_addf(b, "<text x=\"%.1f\" y=\"%.1f\" class=\"dim\">",
		          label_w + (double)cols * cw + 10, y + 15);
		h_short(b, run_point(rs->runs[from]), 12);
		if (cols > 1) {
			sbuf_adds(b, " \xe2\x86\x92 ");
			h_short(b, run_point(rs->runs[to - 1]), 12);
		}
		sbuf_addf(b, " \xc2\xb7 %zu</text>\n", cols);
	}
	sbuf_adds(b, "</svg>\n</section>\n");
}

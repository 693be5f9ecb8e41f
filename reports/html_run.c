/* reports/html_run.c — one run in the HTML report: a collapsible block with
 * its timeline drawn as SVG (power, network, markers, console activity,
 * faults, verdict), its facts and evidence, and its console log. */
#include <math.h>
#include <string.h>

#include "reports/html_int.h"

/* Geometry of the timeline drawing, in SVG units. */
#define TL_W 1260.0
#define TL_LEFT 78.0
#define TL_PLOT 1080.0
#define TL_H 116.0
#define LANE_POWER 20.0
#define LANE_NET 38.0
#define LANE_MARK 56.0
#define LANE_CON 74.0
#define LANE_H 12.0
#define AXIS_Y 96.0

struct scale {
	double t_max;
};

static double sx(const struct scale *s, double t)
{
	if (!isfinite(t) || t < 0)
		t = 0;
	return TL_LEFT + TL_PLOT * (t > s->t_max ? s->t_max : t) / s->t_max;
}

/* Does the event text start with this word? "link " before it is skipped:
 * harness/lab/network.c writes "link up" / "link down". */
static bool word_is(const char *text, const char *word)
{
	size_t n = strlen(word);

	while (*text == ' ')
		text++;
	if (!strncmp(text, "link ", 5))
		text += 5;
	return !strncmp(text, word, n) && (!text[n] || text[n] == ' ' || text[n] == ':');
}

static double run_span(const struct jrun *run, const struct run_timeline *tl)
{
	double t = tl->t_end;

	if (isfinite(run->duration_s) && run->duration_s > t)
		t = run->duration_s;
	for (size_t i = 0; i < run->n_faults; i++)
		if (isfinite(run->faults[i].at_s) && run->faults[i].at_s > t)
			t = run->faults[i].at_s;
	for (size_t i = 0; i < run->n_evidence; i++)
		if (isfinite(run->evidence[i].t) && run->evidence[i].t > t)
			t = run->evidence[i].t;
	return t > 0 ? t * 1.02 : 1;
}

/* "net" is the short name docs/journal.md allowed for "network" events. */
static bool kind_is(const char *kind, const char *want)
{
	return !strcmp(kind, want) || (!strcmp(want, "network") && !strcmp(kind, "net"));
}

/* Requests to hilctl's update server and its faults, as ticks under the
 * network lane: a stall or a cut download shows where it happened. */
static void server_ticks(struct sbuf *b, const struct scale *s, const struct run_timeline *tl)
{
	for (size_t i = 0; i < tl->n_events; i++) {
		const struct tl_record *e = &tl->events[i];

		if (strcmp(e->kind, "server"))
			continue;
		sbuf_addf(b,
		          "<rect x=\"%.1f\" y=\"%.0f\" width=\"2\" height=\"5\" fill=\"#8250df\">"
		          "<title>%.3f s: server ",
		          sx(s, e->t) - 1, LANE_NET + LANE_H - 5, e->t);
		h_textn(b, e->text, e->len, 0);
		sbuf_adds(b, "</title></rect>");
	}
	sbuf_adds(b, "\n");
}

/* A lane that is in one of two states, switched by events of one kind:
 * power (on/off) or network (up/down). */
static void state_lane(struct sbuf *b, const struct scale *s, const struct run_timeline *tl,
                       const char *kind, const char *on_word, const char *off_word, double y,
                       const char *on_color, const char *off_color, int initial)
{
	double from = 0;
	int state = initial; /* 1 on, 0 off, -1 unknown */

	for (size_t i = 0; i <= tl->n_events; i++) {
		const struct tl_record *e = i < tl->n_events ? &tl->events[i] : NULL;
		int next = state;
		double t = e ? e->t : s->t_max;

		if (e && !kind_is(e->kind, kind))
			continue;
		if (e && word_is(e->text, on_word))
			next = 1;
		else if (e && word_is(e->text, off_word))
			next = 0;
		else if (e && word_is(e->text, "cycle"))
			next = 1;
		if (e && next == state && !word_is(e->text, "cycle"))
			continue;
		if (sx(s, t) > sx(s, from))
			sbuf_addf(b,
			          "<rect x=\"%.1f\" y=\"%.0f\" width=\"%.1f\" height=\"%.0f\" "
			          "fill=\"%s\"/>",
			          sx(s, from), y, sx(s, t) - sx(s, from), LANE_H,
			          state == 1   ? on_color
			          : state == 0 ? off_color
			                       : "#f6f8fa");
		if (e && word_is(e->text, "cycle")) /* off and on again at once */
			sbuf_addf(b,
			          "<rect x=\"%.1f\" y=\"%.0f\" width=\"3\" height=\"%.0f\" "
			          "fill=\"#57606a\"><title>power cycle at %.3f s</title></rect>",
			          sx(s, t) - 1.5, y - 2, LANE_H + 4, t);
		state = next;
		from = t;
	}
	sbuf_adds(b, "\n");
}

/* Marker diamonds; a label goes right of its diamond when the next marker
 * leaves room for a few characters. */
static void markers(struct sbuf *b, const struct scale *s, const struct run_timeline *tl)
{
	const struct tl_record *m[2] = {NULL, NULL};

	for (size_t i = 0; i <= tl->n_events; i++) {
		const struct tl_record *e = i < tl->n_events ? &tl->events[i] : NULL;
		double x, room;

		if (e && strcmp(e->kind, "marker"))
			continue;
		m[0] = m[1];
		m[1] = e;
		if (!m[0])
			continue;
		x = sx(s, m[0]->t);
		room = (e ? sx(s, e->t) : TL_LEFT + TL_PLOT) - x - 14;
		sbuf_addf(b, "<path d=\"M%.1f %.1f l5 6 l-5 6 l-5 -6z\" fill=\"#0969da\"><title>",
		          x, LANE_MARK);
		sbuf_addf(b, "%.3f s: ", m[0]->t);
		h_textn(b, m[0]->text, m[0]->len, 0);
		sbuf_adds(b, "</title></path>");
		if (room >= 40) {
			sbuf_addf(b, "<text x=\"%.1f\" y=\"%.1f\">", x + 7, LANE_MARK + 10);
			h_short(b, m[0]->text,
			        (size_t)(room / 6.2) > 28 ? 28 : (size_t)(room / 6.2));
			sbuf_adds(b, "</text>");
		}
	}
	sbuf_adds(b, "\n");
}

static void console_density(struct sbuf *b, const struct scale *s, const struct run_timeline *tl,
                            const struct jrun *run)
{
	enum { BINS = 216 };
	size_t counts[BINS] = {0}, top = 1;
	double bw = TL_PLOT / BINS;

	for (size_t i = 0; i < tl->n_con; i++) {
		int k = (int)((sx(s, tl->con_t[i]) - TL_LEFT) / bw);

		k = k < 0 ? 0 : k >= BINS ? BINS - 1 : k;
		if (++counts[k] > top)
			top = counts[k];
	}
	for (int k = 0; k < BINS; k++)
		if (counts[k]) {
			double h =
			    2 + (LANE_H + 4 - 2) * log1p((double)counts[k]) / log1p((double)top);

			sbuf_addf(b,
			          "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
			          "fill=\"#8c959f\"/>",
			          TL_LEFT + k * bw, LANE_CON + LANE_H + 4 - h, bw - 0.5, h);
		}
	for (size_t i = 0; i < run->n_evidence; i++) /* what decided the verdict */
		sbuf_addf(b,
		          "<rect x=\"%.1f\" y=\"%.0f\" width=\"3\" height=\"%.0f\" "
		          "fill=\"#bf8700\"><title>evidence at %.3f s</title></rect>",
		          sx(s, run->evidence[i].t) - 1.5, LANE_CON - 3, LANE_H + 7,
		          run->evidence[i].t);
	sbuf_adds(b, "\n");
}

static void fault_line(struct sbuf *b, const struct scale *s, double t, const char *label,
                       const char *tip, size_t tip_len)
{
	double x = sx(s, t);

	sbuf_addf(b,
	          "<g><line x1=\"%.1f\" x2=\"%.1f\" y1=\"12\" y2=\"%.0f\" stroke=\"#cf222e\" "
	          "stroke-width=\"2\" stroke-dasharray=\"4 2\"/><text x=\"%.1f\" y=\"10\" "
	          "fill=\"#cf222e\" font-weight=\"600\"%s>\xe2\x9a\xa1 ",
	          x, x, AXIS_Y, x, x > TL_LEFT + TL_PLOT - 100 ? " text-anchor=\"end\"" : "");
	h_short(b, label, 24);
	sbuf_adds(b, "</text><title>");
	h_textn(b, tip, tip_len, 0);
	sbuf_adds(b, "</title></g>\n");
}

static void faults(struct sbuf *b, const struct scale *s, const struct run_timeline *tl,
                   const struct jrun *run)
{
	size_t drawn = 0;

	for (size_t i = 0; i < run->n_faults; i++) {
		const struct jfault *f = &run->faults[i];
		struct sbuf tip = {0};

		if (!f->injected || !isfinite(f->at_s))
			continue;
		sbuf_addf(&tip, "%s at %.3f s", f->kind, f->at_s);
		if (f->trigger)
			sbuf_addf(&tip, "; trigger: %s", f->trigger);
		if (f->latency_us >= 0)
			sbuf_addf(&tip, "; latency %lld us", f->latency_us);
		fault_line(b, s, f->at_s, f->kind[0] ? f->kind : "fault", tip.s, tip.len);
		sbuf_free(&tip);
		drawn++;
	}
	for (size_t i = 0; !drawn && i < tl->n_events; i++) /* journal without fault times */
		if (!strcmp(tl->events[i].kind, "fault"))
			fault_line(b, s, tl->events[i].t, tl->events[i].text, tl->events[i].text,
			           tl->events[i].len);
}

static void axis(struct sbuf *b, const struct scale *s)
{
	double step = nice_step(s->t_max, 10);

	sbuf_addf(b, "<line x1=\"%.0f\" x2=\"%.0f\" y1=\"%.0f\" y2=\"%.0f\" stroke=\"#d1d9e0\"/>",
	          TL_LEFT, TL_LEFT + TL_PLOT, AXIS_Y, AXIS_Y);
	for (double t = 0; t <= s->t_max; t += step)
		sbuf_addf(b,
		          "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.0f\" y2=\"%.0f\" "
		          "stroke=\"#d1d9e0\"/><text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\" "
		          "class=\"dim\">%g s</text>",
		          sx(s, t), sx(s, t), AXIS_Y, AXIS_Y + 4, sx(s, t), AXIS_Y + 16, t);
	sbuf_adds(b, "\n");
}

static void timeline_svg(struct sbuf *b, const struct jrun *run, const struct run_timeline *tl)
{
	struct scale s = {run_span(run, tl)};
	static const char *const lanes[] = {"power", "network", "markers", "console"};
	static const double lane_y[] = {LANE_POWER, LANE_NET, LANE_MARK, LANE_CON};
	double end = isfinite(run->duration_s) ? run->duration_s : tl->t_end;

	sbuf_addf(b, "<svg viewBox=\"0 0 %.0f %.0f\" role=\"img\" aria-label=\"run timeline\">\n",
	          TL_W, TL_H);
	for (int i = 0; i < 4; i++)
		sbuf_addf(b,
		          "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\" class=\"dim\">%s"
		          "</text>",
		          TL_LEFT - 8, lane_y[i] + 10, lanes[i]);
	state_lane(b, &s, tl, "power", "on", "off", LANE_POWER, "#4ac26b", "#afb8c1", -1);
	state_lane(b, &s, tl, "network", "up", "down", LANE_NET, "#b6e3ff", "#ff8182", 1);
	server_ticks(b, &s, tl);
	markers(b, &s, tl);
	console_density(b, &s, tl, run);
	axis(b, &s);
	faults(b, &s, tl, run);
	sbuf_addf(b,
	          "<g><rect x=\"%.1f\" y=\"%.0f\" width=\"%.0f\" height=\"18\" rx=\"3\" "
	          "fill=\"%s\"/><text x=\"%.1f\" y=\"%.0f\" fill=\"#fff\" font-weight=\"600\" "
	          "text-anchor=\"middle\">%s</text></g>\n",
	          TL_LEFT + TL_PLOT + 10, LANE_MARK - 2, TL_W - TL_LEFT - TL_PLOT - 12,
	          run_color(run), TL_LEFT + TL_PLOT + 10 + (TL_W - TL_LEFT - TL_PLOT - 12) / 2,
	          LANE_MARK + 11, verdict_name(run->verdict));
	if (isfinite(end) && end > 0)
		sbuf_addf(b,
		          "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.0f\" y2=\"%.0f\" stroke=\"%s\" "
		          "stroke-width=\"2\"/>\n",
		          sx(&s, end), sx(&s, end), LANE_POWER - 4, AXIS_Y, run_color(run));
	sbuf_adds(b, "</svg>\n");
}

static void kv(struct sbuf *b, const char *name)
{
	sbuf_addf(b, "<dt>%s</dt><dd>", name);
}

static void run_facts(struct sbuf *b, const struct report_set *rs, const struct jrun *run)
{
	const char *about = scenario_description(rs, run->scenario);
	struct sbuf t = {0};

	sbuf_adds(b, "<dl class=\"kv\">");
	kv(b, "verdict");
	h_run_tag(b, run);
	run_allowed(&t, run);
	sbuf_addf(b, " %s &nbsp;allowed: %s</dd>",
	          run->verdict == VERDICT_INFRA_ERROR ? "<b>lab or harness failed</b>"
	          : run->pass                         ? "passed"
	                                              : "<b>not allowed: failed</b>",
	          t.s);
	if (run->reason.s) {
		kv(b, "reason");
		h_board_text(b, run->reason.s, run->reason.len, 0);
		sbuf_adds(b, "</dd>");
	}
	for (size_t i = 0; i < run->n_faults; i++) {
		const struct jfault *f = &run->faults[i];

		kv(b, "fault");
		h_text(b, f->kind[0] ? f->kind : "(unnamed)");
		if (!f->injected)
			sbuf_adds(b, " \xe2\x80\x94 not injected: its trigger never came");
		if (isfinite(f->at_s))
			sbuf_addf(b, " at %.3f s", f->at_s);
		if (f->latency_us >= 0)
			sbuf_addf(b, ", %lld \xc2\xb5s after its trigger", f->latency_us);
		if (f->phase) {
			sbuf_adds(b, ", phase ");
			h_text(b, f->phase);
		}
		if (f->trigger) {
			sbuf_adds(b, "<br><span class=\"mono\">");
			h_text(b, f->trigger);
			sbuf_adds(b, "</span>");
		}
		sbuf_adds(b, "</dd>");
	}
	kv(b, "scenario");
	h_text(b, run->scenario);
	if (about) {
		sbuf_adds(b, " \xe2\x80\x94 ");
		h_text(b, about);
	}
	sbuf_adds(b, "</dd>");
	kv(b, "run");
	sbuf_addf(b, "#%lld, key <span class=\"mono\">", run->id);
	h_text(b, run->key);
	sbuf_adds(b, "</span>");
	if (run->seed >= 0)
		sbuf_addf(b, ", seed %lld", run->seed);
	if (isfinite(run->start_s)) {
		struct sbuf when = {0};

		format_time(&when, run->start_s);
		sbuf_addf(b, ", started %s", when.s);
		sbuf_free(&when);
	}
	sbuf_adds(b, "</dd>");
	kv(b, "journal");
	h_text(b, run->journal->path);
	sbuf_addf(b, ":%u", run->line);
	if (run->journal->campaign.shard_count > 1)
		sbuf_addf(b, " (shard %d/%d, attempt %d)", run->journal->campaign.shard_index,
		          run->journal->campaign.shard_count, run->journal->campaign.shard_attempt);
	sbuf_adds(b, "</dd>");
	if (run->reproduce) {
		kv(b, "reproduce");
		sbuf_adds(b, "<code>");
		h_text(b, run->reproduce);
		sbuf_adds(b, "</code></dd>");
	}
	if (run->restore_action) {
		kv(b, "restore");
		h_text(b, run->restore_ok ? run->restore_action : "FAILED");
		if (isfinite(run->restore_written))
			sbuf_addf(b, ": %.1f MB written", run->restore_written / 1e6);
		if (isfinite(run->restore_verified))
			sbuf_addf(b, ", %.1f MB verified", run->restore_verified / 1e6);
		if (isfinite(run->restore_s))
			sbuf_addf(b, " in %.2f s", run->restore_s);
		if (run->restore_why || run->restore_error) {
			sbuf_adds(b, " (");
			h_text(b, run->restore_error ? run->restore_error : run->restore_why);
			sbuf_adds(b, ")");
		}
		sbuf_adds(b, "</dd>");
	}
	if (run->rerun) {
		kv(b, "rerun");
		sbuf_adds(b, "<code>");
		h_text(b, run->rerun);
		sbuf_adds(b, "</code></dd>");
	}
	sbuf_adds(b, "</dl>\n");
	sbuf_free(&t);
}

static void evidence(struct sbuf *b, const struct jrun *run)
{
	if (!run->n_evidence)
		return;
	sbuf_adds(b, "<table class=\"evidence\"><tr><th>t</th><th>kind</th><th>evidence: what "
	             "decided the verdict</th></tr>\n");
	for (size_t i = 0; i < run->n_evidence; i++) {
		const struct jevent *e = &run->evidence[i];

		sbuf_addf(b, "<tr><td>%.3f s</td><td>", e->t);
		h_text(b, e->kind);
		sbuf_adds(b, "</td><td class=\"txt\">");
		h_board_text(b, e->text.s, e->text.len, TEXT_STRIP_ANSI | TEXT_KEEP_TAB);
		sbuf_adds(b, "</td></tr>\n");
	}
	sbuf_adds(b, "</table>\n");
}

static bool is_evidence(const struct jrun *run, const struct tl_record *line)
{
	for (size_t i = 0; i < run->n_evidence; i++) {
		const struct jevent *e = &run->evidence[i];

		if (fabs(e->t - line->t) < 1e-6 && e->text.len == line->len &&
		    (!line->len || !memcmp(e->text.s, line->text, line->len)))
			return true;
	}
	return false;
}

static void console_log(struct sbuf *b, const struct jrun *run, const struct run_timeline *tl)
{
	if (!tl->found) {
		sbuf_adds(b, "<p class=\"empty\">Console log unavailable: ");
		if (run->timeline) {
			sbuf_adds(b, "the timeline file <span class=\"mono\">");
			h_text(b, run->timeline);
			sbuf_adds(b, "</span> could not be read.</p>\n");
		} else {
			sbuf_adds(b, "the journal names no timeline file.</p>\n");
		}
		return;
	}
	sbuf_addf(b, "<details class=\"log\"><summary>Console log \xe2\x80\x94 %zu lines",
	          tl->n_con);
	if (tl->lines_dropped)
		sbuf_addf(b, ", the last %zu shown", tl->n_lines);
	sbuf_adds(b, " (<span class=\"mono\">");
	h_text(b, run->timeline);
	sbuf_adds(b, "</span>)</summary><pre class=\"console\">");
	for (size_t i = 0; i < tl->n_lines; i++) {
		bool ev = is_evidence(run, &tl->lines[i]);

		sbuf_addf(b, "%s<span class=\"ts\">%9.3f </span>", ev ? "<span class=\"ev\">" : "",
		          tl->lines[i].t);
		h_board_text(b, tl->lines[i].text, tl->lines[i].len,
		             TEXT_STRIP_ANSI | TEXT_KEEP_TAB);
		sbuf_adds(b, ev ? "</span>\n" : "\n");
	}
	sbuf_adds(b, "</pre></details>\n");
}

void html_run(struct sbuf *b, const struct report *r, size_t index)
{
	const struct jrun *run = r->set->runs[index];
	struct run_timeline tl;
	struct sbuf t = {0};

	/* A passing run keeps a quarter of the lines: the page stays small, and
	 * the whole log is in the run's timeline file. */
	run_timeline_load(&tl, run, run->pass ? r->opts.html_lines / 4 : r->opts.html_lines);
	sbuf_addf(b, "<details class=\"run%s\" id=\"run-%zu\" style=\"--vc:%s\"%s><summary>",
	          run->pass ? "" : " failed", index, run_color(run), run->pass ? "" : " open");
	h_run_tag(b, run);
	sbuf_adds(b, "<span>");
	h_short(b, run->scenario, 34);
	sbuf_adds(b, "</span><span class=\"mono\">");
	run_title(&t, run);
	h_short(b, t.s, 30);
	sbuf_adds(b, "</span><span class=\"reason\">");
	if (run->verdict == VERDICT_INFRA_ERROR)
		sbuf_adds(b, "<b>lab or harness failed</b> \xc2\xb7 ");
	else if (run->outcome == OUTCOME_NOT_INJECTED)
		sbuf_adds(b, "<b>not_injected: tested nothing</b> \xc2\xb7 ");
	else if (run->pass && run->untested)
		sbuf_adds(b, "<b>optional fault not injected</b> \xc2\xb7 ");
	else if (!run->pass)
		sbuf_adds(b, "<b>not allowed</b> \xc2\xb7 ");
	h_board_text(b, run->reason.s, run->reason.len, TEXT_STRIP_ANSI);
	sbuf_adds(b, "</span><span class=\"dur\">");
	sbuf_reset(&t);
	format_duration(&t, run->duration_s);
	h_text(b, t.s);
	sbuf_adds(b, "</span></summary>\n<div class=\"runbody\">\n");
	timeline_svg(b, run, &tl);
	run_facts(b, r->set, run);
	evidence(b, run);
	console_log(b, run, &tl);
	sbuf_adds(b, "</div></details>\n");
	run_timeline_free(&tl);
	sbuf_free(&t);
}

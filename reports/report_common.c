/* reports/report_common.c — what several writers say the same way: a run's
 * name, its allowed states, the plain-text account of a failure. */
#include <math.h>
#include <string.h>
#include <time.h>

#include "reports/report.h"
#include "reports/run_timeline.h"

const char *run_point(const struct jrun *run)
{
	return run->point && run->point[0] ? run->point : run->key;
}

void run_title(struct sbuf *out, const struct jrun *run)
{
	sbuf_addf(out, "%s @ %s", run->board, run_point(run));
}

const char *scenario_description(const struct report_set *set, const char *scenario)
{
	for (size_t i = 0; i < set->n_journals; i++) {
		const struct jcampaign *c = &set->journals[i]->campaign;

		for (size_t k = 0; k < c->n_descriptions; k++)
			if (!strcmp(c->described[k], scenario) && c->descriptions[k][0])
				return c->descriptions[k];
	}
	return NULL;
}

void report_unavailable(struct sbuf *out, const struct report_set *set)
{
	for (size_t i = 0; i < set->n_journals; i++) {
		const struct jcampaign *c = &set->journals[i]->campaign;
		if (!c->n_unavailable)
			continue;
		if (out->len)
			sbuf_adds(out, "; ");
		if (c->boards_asked > 0)
			sbuf_addf(out, "-j%lld asked for %lld, ", c->boards_asked, c->boards_asked);
		sbuf_addf(out, "ran on %zu (", c->n_boards);
		for (size_t b = 0; b < c->n_boards; b++)
			sbuf_addf(out, "%s%s", b ? ", " : "", c->boards[b]);
		sbuf_adds(out, "); not available: ");
		for (size_t b = 0; b < c->n_unavailable; b++) {
			const struct jbusy *u = &c->unavailable[b];
			sbuf_addf(out, "%s%s", b ? ", " : "", u->board);
			if (u->pid >= 0)
				sbuf_addf(out, " (locked by pid %lld: %s)", u->pid,
				          u->holder ? u->holder : "?");
		}
	}
}

void report_title(struct sbuf *out, const struct report_set *set)
{
	size_t n = set->n_campaigns;

	if (n == 1 && set->n_journals)
		sbuf_adds(out, set->journals[0]->campaign.id);
	else
		sbuf_addf(out, "%zu campaigns", n);
}

void run_verdict_label(struct sbuf *out, const struct jrun *run)
{
	if (run->outcome == OUTCOME_NOT_INJECTED)
		sbuf_addf(out, "not_injected (board: %s)", verdict_name(run->verdict));
	else
		sbuf_adds(out, verdict_name(run->verdict));
}

void run_allowed(struct sbuf *out, const struct jrun *run)
{
	const char *sep = "";

	for (int v = 0; v < VERDICT_COUNT; v++)
		if (run->allowed & (1u << v)) {
			sbuf_addf(out, "%s%s", sep, verdict_name((enum verdict)v));
			sep = ", ";
		}
	if (!*sep)
		sbuf_adds(out, "(none)");
}

void format_duration(struct sbuf *out, double s)
{
	if (!isfinite(s))
		sbuf_adds(out, "?");
	else if (s < 60)
		sbuf_addf(out, "%.1f s", s);
	else if (s < 3600)
		sbuf_addf(out, "%d min %02d s", (int)(s / 60), (int)fmod(s, 60));
	else
		sbuf_addf(out, "%d h %02d min", (int)(s / 3600), (int)fmod(s / 60, 60));
}

void format_time(struct sbuf *out, double t)
{
	time_t sec;
	struct tm tm;
	char base[32];
	long ms;

	if (!isfinite(t) || t < 0 || t > 253402300799.0) { /* past 9999-12-31 */
		sbuf_adds(out, "?");
		return;
	}
	sec = (time_t)t;
	ms = lround((t - (double)sec) * 1000);
	if (ms >= 1000) {
		sec++;
		ms -= 1000;
	}
	gmtime_r(&sec, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	sbuf_addf(out, "%s.%03ldZ", base, ms);
}

/* One record's text on one line: its own line ends become visible. */
static void add_one_line(struct sbuf *out, const char *s, size_t len)
{
	text_clean(out, s, len, TEXT_KEEP_TAB | TEXT_STRIP_ANSI);
}

static void fault_text(struct sbuf *out, const struct jfault *f)
{
	sbuf_addf(out, "fault: %s", f->kind[0] ? f->kind : "(unnamed)");
	if (!f->injected)
		sbuf_adds(out, " (not injected: its trigger never came)");
	if (isfinite(f->at_s))
		sbuf_addf(out, " at %.3f s", f->at_s);
	if (f->latency_us >= 0)
		sbuf_addf(out, ", %lld us after its trigger", f->latency_us);
	if (f->phase)
		sbuf_addf(out, ", phase %s", f->phase);
	if (f->trigger)
		sbuf_addf(out, "\n  trigger: %s", f->trigger);
	sbuf_adds(out, "\n");
}

static void console_excerpt(struct sbuf *out, const struct jrun *run, size_t lines)
{
	struct run_timeline tl;

	if (!lines)
		return;
	if (run_timeline_load(&tl, run, lines) < 0 || !tl.found) {
		if (run->timeline)
			sbuf_addf(out, "console: %s could not be read\n", run->timeline);
		run_timeline_free(&tl);
		return;
	}
	sbuf_addf(out, "console (last %zu of %zu lines, %s):\n", tl.n_lines, tl.n_con,
	          run->timeline);
	for (size_t i = 0; i < tl.n_lines; i++) {
		sbuf_addf(out, "  %9.3f  ", tl.lines[i].t);
		add_one_line(out, tl.lines[i].text, tl.lines[i].len);
		sbuf_adds(out, "\n");
	}
	run_timeline_free(&tl);
}

void run_failure_text(struct sbuf *out, const struct jrun *run, size_t console_lines)
{
	if (run->outcome == OUTCOME_NOT_INJECTED)
		sbuf_adds(out, "outcome: not_injected: a fault's trigger never came, so the run "
		               "tested nothing (optional: true on a fault that may not come)\n");
	sbuf_addf(out, "verdict: %s (allowed: ", verdict_name(run->verdict));
	run_allowed(out, run);
	sbuf_adds(out, ")\n");
	if (run->reason.s) {
		sbuf_adds(out, "reason: ");
		add_one_line(out, run->reason.s, run->reason.len);
		sbuf_adds(out, "\n");
	}
	for (size_t i = 0; i < run->n_faults; i++)
		fault_text(out, &run->faults[i]);
	if (run->n_evidence)
		sbuf_adds(out, "evidence:\n");
	for (size_t i = 0; i < run->n_evidence; i++) {
		const struct jevent *e = &run->evidence[i];

		sbuf_addf(out, "  %9.3f  %-6s ", e->t, e->kind);
		add_one_line(out, e->text.s, e->text.len);
		sbuf_adds(out, "\n");
	}
	console_excerpt(out, run, console_lines);
	if (run->reproduce)
		sbuf_addf(out, "reproduce: %s\n", run->reproduce);
	if (run->rerun)
		sbuf_addf(out, "rerun: %s\n", run->rerun);
}

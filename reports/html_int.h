/* reports/html_int.h — internal to the HTML writer: colours, escaping
 * helpers, and the SVG pieces drawn by html_charts.c and html_run.c.
 *
 * Everything appends to an sbuf. Runs are named by their index in
 * report_set.runs: the anchor of run i is "run-i". */
#ifndef HILCTL_REPORTS_HTML_INT_H
#define HILCTL_REPORTS_HTML_INT_H

#include "reports/report.h"
#include "reports/run_timeline.h"

/* One colour per verdict, readable as white-on-colour and on white. */
const char *verdict_color(enum verdict v);

/* Escaped text for element content or attribute values (both safe). */
void h_text(struct sbuf *b, const char *s);
void h_textn(struct sbuf *b, const char *s, size_t len, unsigned flags);
/* Board text in HTML content (never inside SVG: the spans it may add
 * would break out of it): control characters shown by name in a box. */
void h_board_text(struct sbuf *b, const char *s, size_t len, unsigned flags);
/* At most max characters of s (UTF-8 aware), "…" when cut; escaped. */
void h_short(struct sbuf *b, const char *s, size_t max);
/* A round axis step (1, 2 or 5 times a power of ten) for about ticks ticks. */
double nice_step(double span, int ticks);
/* <span class="vtag" style="--vc:...">verdict</span> */
void h_verdict_tag(struct sbuf *b, enum verdict v);
/* What a run is painted in: whether it passed, not which verdict it had (an
 * `upgraded` a scenario does not allow is a failure, not green). Passed:
 * the verdict's colour for upgraded and rolled_back, green for any other
 * allowed verdict; not allowed: red; infra_error: grey. */
const char *run_color(const struct jrun *run);
/* The run's verdict as text on its run_color(): <span class="vtag">. */
void h_run_tag(struct sbuf *b, const struct jrun *run);

/* Charts (html_charts.c). */
void html_chart_scenarios(struct sbuf *b, const struct report *r);
void html_chart_latency(struct sbuf *b, const struct report *r);
void html_chart_durations(struct sbuf *b, const struct report *r);
void html_outcome_map(struct sbuf *b, const struct report *r);

/* One run (html_run.c): its timeline drawing, evidence, console log. */
void html_run(struct sbuf *b, const struct report *r, size_t index);

#endif

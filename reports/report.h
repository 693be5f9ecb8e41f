/* reports/report.h — the report writers: JUnit XML, TAP 13, JSON summary,
 * HTML. Each writes one whole document for a merged set of journals and its
 * gate to a stream, and returns 0 or -EIO when the stream failed.
 *
 * Board text (console lines, evidence, reasons) is hostile input; every
 * writer escapes it for its format (lib/text.h). */
#ifndef HILCTL_REPORTS_REPORT_H
#define HILCTL_REPORTS_REPORT_H

#include <stdio.h>

#include "reports/gate.h"
#include "reports/merge.h"
#include "lib/text.h"

struct report_opts {
	size_t excerpt_lines;  /* console lines in a JUnit failure (TAP takes a quarter) */
	size_t html_lines;     /* console lines per run in the HTML */
	const char *generated; /* when the report was made, ISO 8601 UTC */
};

struct report {
	const struct report_set *set;
	const struct gate *gate;
	struct report_opts opts;
};

/* Everything `hilctl report` does after its options: read the journals at
 * paths (files, or campaign directories standing for their journal*.jsonl),
 * decide the gate, write report.xml, report.tap, summary.json and
 * report.html into out_dir (made if missing; each through a temporary file
 * and a rename), and print the gate to out (NULL: quiet). opts.generated may
 * be NULL: now, or $SOURCE_DATE_EPOCH. Returns an exit code of lib/exitcode.h:
 * the gate's 0, 1 or 3; 2 when a journal cannot be read (nothing written);
 * 3 when a report cannot be written. The campaign runner may call it. */
int report_make(char *const *paths, size_t n_paths, const char *out_dir, struct report_opts opts,
                FILE *out);

int report_junit(FILE *f, const struct report *r);
int report_tap(FILE *f, const struct report *r);
int report_summary_json(FILE *f, const struct report *r);
int report_html(FILE *f, const struct report *r);

/* Shared by the writers (reports/report_common.c). */

/* The fault point, or the run key when the run has none. */
const char *run_point(const struct jrun *run);
/* "BOARD @ POINT": the testcase name. Raw; the caller escapes. */
void run_title(struct sbuf *out, const struct jrun *run);
/* The scenario's description from the first journal that has one; NULL
 * when none has. Raw; the caller escapes. */
const char *scenario_description(const struct report_set *set, const char *scenario);
/* The boards -jN asked for that other processes held, for every journal
 * that names some, "; "-separated: "-j2 asked for 2, ran on 1 (qemu-01);
 * not available: qemu-02 (locked by pid 4242: hilctl lock qemu-02)". ""
 * when none. Raw (holders are other people's command lines); the caller
 * escapes. */
void report_unavailable(struct sbuf *out, const struct report_set *set);
/* What the report is about: the campaign id, or "N campaigns". Raw. */
void report_title(struct sbuf *out, const struct report_set *set);
/* The plain-text story of a failed run (board text cleaned, one line per
 * record; the caller escapes for its format):
 * verdict, allowed, reason, faults, evidence, the last console lines, the
 * command that reproduces it. */
void run_failure_text(struct sbuf *out, const struct jrun *run, size_t console_lines);
/* What a run ended as, for people: the verdict, or "not_injected (board:
 * rolled_back)" when its fault never came. */
void run_verdict_label(struct sbuf *out, const struct jrun *run);
/* The allowed verdicts, comma separated. */
void run_allowed(struct sbuf *out, const struct jrun *run);
/* Seconds since the epoch as ISO 8601 UTC with milliseconds
 * ("2026-11-25T01:22:40.001Z"); "?" when not finite. */
void format_time(struct sbuf *out, double t);
/* "12.3 s", "4 min 05 s", "2 h 03 min": for people. */
void format_duration(struct sbuf *out, double seconds);

#endif

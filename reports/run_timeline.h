/* reports/run_timeline.h — read one run's timeline file (lib/timeline.h
 * format) for the reports: its events, when each console line came, and the
 * last lines of the console for an excerpt.
 *
 * run_timeline_load() fills a struct the caller frees with
 * run_timeline_free(). A missing or unreadable file is not an error for a
 * report (found stays false, and the report says so); lines that do not
 * parse are skipped and counted. */
#ifndef HILCTL_REPORTS_RUN_TIMELINE_H
#define HILCTL_REPORTS_RUN_TIMELINE_H

#include <stdbool.h>
#include <stddef.h>

#include "reports/journal_read.h"

struct tl_record {
	double t;
	char *kind; /* "power", "marker", "fault", "net", "verdict", "note", ... */
	char *text; /* bytes as the board or harness wrote them (may hold NUL) */
	size_t len;
};

struct run_timeline {
	bool found;
	char *path;
	struct tl_record *events; /* every record but console lines, in file order */
	size_t n_events;
	double *con_t; /* the time of every console line */
	size_t n_con;
	struct tl_record *lines; /* the last console lines, oldest first */
	size_t n_lines;
	size_t lines_dropped; /* console lines before those */
	double t_end;         /* time of the last record; 0 when none */
	size_t bad_lines;
	size_t cap_events, cap_con; /* private */
};

/* max_lines: how many console lines to keep (the last ones). */
int run_timeline_load(struct run_timeline *tl, const struct jrun *run, size_t max_lines);
void run_timeline_free(struct run_timeline *tl);

#endif

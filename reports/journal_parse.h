/* reports/jfile_parse.h — internal to the journal reader: the parser's
 * state and the typed field getters shared by journal_read.c and
 * journal_run.c. Not for the writers: they use journal_read.h. */
#ifndef HILCTL_REPORTS_JOURNAL_PARSE_H
#define HILCTL_REPORTS_JOURNAL_PARSE_H

#include <jansson.h>
#include <stdbool.h>

#include "reports/journal_read.h"

#define MAX_ERRORS 20 /* then stop: one bad journal should not flood the terminal */

struct parser {
	struct jfile *j;
	const char *name;
	unsigned line;
	int errors;
	const char *rec; /* record kind, for messages */
	size_t cap_runs, cap_windows;
	bool warned_unknown;
	bool explore; /* the journal of `hilctl explore`: states read as runs */
};

void jp_err(struct parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Field getters: 0 when present and well typed, 1 when absent (or null) and
 * optional, -1 after an error was printed. */
int jp_field(struct parser *p, json_t *o, const char *key, bool required, json_t **out);
int jp_str(struct parser *p, json_t *o, const char *key, bool required, const char **out);
int jp_text(struct parser *p, json_t *o, const char *key, struct jtext *out);
int jp_num(struct parser *p, json_t *o, const char *key, bool required, double *out);
int jp_int(struct parser *p, json_t *o, const char *key, bool required, long long *out);
int jp_bool(struct parser *p, json_t *o, const char *key, bool required, bool *out);
/* The verdict named s, or -1 after an error naming what. */
int jp_verdict(struct parser *p, const char *what, const char *s);
/* A list of strings: *out is a malloc'ed array of pointers into o. */
int jp_str_list(struct parser *p, json_t *o, const char *key, const char ***out, size_t *n);

int parse_run(struct parser *p, json_t *o);
int parse_window(struct parser *p, json_t *o);
/* After the last line: one run per key, the last one wins. */
void finish_runs(struct parser *p);

#endif

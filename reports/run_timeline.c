/* reports/run_timeline.c — read a run's timeline JSON lines: events kept
 * whole, console lines kept as times plus a ring of the last lines, so a
 * long boot log costs bounded memory. */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "reports/run_timeline.h"
#include "lib/text.h"

#define MAX_LINE_BYTES 8192 /* the writer splits at 4096; anything longer is cut */

static void record_set(struct tl_record *rec, double t, const char *kind, json_t *d)
{
	size_t len = json_string_length(d);

	if (len > MAX_LINE_BYTES)
		len = MAX_LINE_BYTES;
	rec->t = t;
	rec->kind = strdup(kind);
	rec->text = malloc(len + 1);
	memcpy(rec->text, json_string_value(d), len);
	rec->len = text_con_bytes(rec->text, len);
	rec->text[rec->len] = '\0';
}

static void record_free(struct tl_record *rec)
{
	free(rec->kind);
	free(rec->text);
	*rec = (struct tl_record){0};
}

static void add_console(struct run_timeline *tl, size_t max_lines, double t, json_t *d)
{
	struct tl_record *slot;

	if (tl->n_con == tl->cap_con) {
		tl->cap_con = tl->cap_con ? tl->cap_con * 2 : 256;
		tl->con_t = realloc(tl->con_t, tl->cap_con * sizeof(*tl->con_t));
	}
	tl->con_t[tl->n_con++] = t;
	if (!max_lines)
		return;
	if (tl->n_lines < max_lines) {
		slot = &tl->lines[tl->n_lines++];
	} else {
		/* Ring: the oldest line sits at (dropped % max_lines). */
		slot = &tl->lines[tl->lines_dropped % max_lines];
		record_free(slot);
		tl->lines_dropped++;
	}
	record_set(slot, t, "con", d);
}

static void add_line(struct run_timeline *tl, size_t max_lines, const char *s, size_t len)
{
	json_t *rec = json_loadb(s, len, JSON_ALLOW_NUL, NULL), *t, *k, *d;

	if (!rec || !json_is_object(rec)) {
		tl->bad_lines++;
		json_decref(rec);
		return;
	}
	t = json_object_get(rec, "t");
	k = json_object_get(rec, "k");
	d = json_object_get(rec, "d");
	if (json_object_get(rec, "hilctl_timeline")) {
		/* header */
	} else if (!json_is_number(t) || !isfinite(json_number_value(t)) || !json_is_string(k) ||
	           !json_is_string(d)) {
		tl->bad_lines++;
	} else if (!strcmp(json_string_value(k), "con")) {
		add_console(tl, max_lines, json_number_value(t), d);
	} else {
		if (tl->n_events == tl->cap_events) {
			tl->cap_events = tl->cap_events ? tl->cap_events * 2 : 32;
			tl->events = realloc(tl->events, tl->cap_events * sizeof(*tl->events));
		}
		record_set(&tl->events[tl->n_events++], json_number_value(t), json_string_value(k),
		           d);
	}
	if (json_is_number(t) && json_number_value(t) > tl->t_end)
		tl->t_end = json_number_value(t);
	json_decref(rec);
}

/* Put the ring in time order: oldest first. */
static void unroll(struct run_timeline *tl, size_t max_lines)
{
	size_t start, n = tl->n_lines;
	struct tl_record *ordered;

	if (!tl->lines_dropped || !n)
		return;
	start = tl->lines_dropped % max_lines;
	ordered = malloc(n * sizeof(*ordered));
	for (size_t i = 0; i < n; i++)
		ordered[i] = tl->lines[(start + i) % n];
	free(tl->lines);
	tl->lines = ordered;
}

int run_timeline_load(struct run_timeline *tl, const struct jrun *run, size_t max_lines)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	FILE *f;

	*tl = (struct run_timeline){0};
	if (!run->timeline)
		return -ENOENT;
	if (asprintf(&tl->path, "%s/%s", run->journal->dir, run->timeline) < 0)
		abort();
	f = fopen(tl->path, "r");
	if (!f)
		return -errno;
	tl->found = true;
	tl->lines = calloc(max_lines + 1, sizeof(*tl->lines));
	while ((n = getline(&line, &cap, f)) > 0) {
		if (line[n - 1] == '\n')
			n--;
		if (n > 0)
			add_line(tl, max_lines, line, (size_t)n);
	}
	free(line);
	fclose(f);
	unroll(tl, max_lines);
	if (tl->bad_lines)
		hil_warn("%s: %zu lines are not timeline records; skipped", tl->path,
		         tl->bad_lines);
	return 0;
}

void run_timeline_free(struct run_timeline *tl)
{
	for (size_t i = 0; i < tl->n_events; i++)
		record_free(&tl->events[i]);
	for (size_t i = 0; i < tl->n_lines; i++)
		record_free(&tl->lines[i]);
	free(tl->events);
	free(tl->lines);
	free(tl->con_t);
	free(tl->path);
	*tl = (struct run_timeline){0};
}

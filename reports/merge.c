/* reports/merge.c — gather journals from campaign directories, pick the
 * attempt of each shard that counts, count every run key once, and name the
 * shards that are missing or were cut short. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/log.h"
#include "reports/merge.h"
#include "lib/text.h"

const char *shard_status_name(enum shard_status s)
{
	switch (s) {
	case SHARD_COMPLETE:
		return "complete";
	case SHARD_PARTIAL:
		return "partial";
	case SHARD_MISSING:
		return "missing";
	}
	return "?";
}

void report_set_add(struct report_set *rs, struct jfile *j)
{
	rs->journals = realloc(rs->journals, (rs->n_journals + 1) * sizeof(*rs->journals));
	rs->journals[rs->n_journals++] = j;
}

static bool is_journal_name(const char *name)
{
	size_t n = strlen(name);

	return strncmp(name, "journal", 7) == 0 && n >= 13 && strcmp(name + n - 6, ".jsonl") == 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A directory stands for its journal*.jsonl files (a campaign's shard and
 * attempt journals may sit side by side), in name order. */
static int list_dir(const char *dir, char ***names, size_t *n)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d) {
		hil_error("%s: %s", dir, strerror(errno));
		return -EINVAL;
	}
	while ((e = readdir(d))) {
		if (!is_journal_name(e->d_name))
			continue;
		*names = realloc(*names, (*n + 1) * sizeof(**names));
		if (asprintf(&(*names)[*n], "%s/%s", dir, e->d_name) < 0)
			abort();
		(*n)++;
	}
	closedir(d);
	if (*n == 0) {
		hil_error("%s: no journal.jsonl (or journal*.jsonl) in this directory; is it a "
		          "campaign directory (hilctl run --out DIR)?",
		          dir);
		return -EINVAL;
	}
	qsort(*names, *n, sizeof(**names), cmp_str);
	return 0;
}

static bool seen_before(struct report_set *rs, const char *path)
{
	char real[PATH_MAX], other[PATH_MAX];

	if (!realpath(path, real))
		return false;
	for (size_t i = 0; i < rs->n_journals; i++)
		if (realpath(rs->journals[i]->path, other) && strcmp(real, other) == 0)
			return true;
	return false;
}

static int load_path(struct report_set *rs, const char *path)
{
	struct stat st;
	char **names = NULL;
	size_t n = 0;
	int rc = 0;

	if (stat(path, &st) < 0) {
		hil_error("%s: %s", path, strerror(errno));
		return -EINVAL;
	}
	if (S_ISDIR(st.st_mode)) {
		rc = list_dir(path, &names, &n);
	} else {
		names = malloc(sizeof(*names));
		names[0] = strdup(path);
		n = 1;
	}
	for (size_t i = 0; i < n; i++) {
		struct jfile *j = NULL;

		if (rc == 0 && !seen_before(rs, names[i])) {
			j = jfile_load(names[i]);
			if (j)
				report_set_add(rs, j);
			else
				rc = -EINVAL;
		}
		free(names[i]);
	}
	free(names);
	return rc;
}

int report_set_load(struct report_set *rs, char *const *paths, size_t n_paths)
{
	int rc = 0;

	for (size_t i = 0; i < n_paths; i++)
		if (load_path(rs, paths[i]) < 0)
			rc = -EINVAL; /* go on: show every bad journal at once */
	if (rc == 0)
		rc = report_set_finish(rs);
	return rc;
}

/* Is a a better attempt of the same shard than b? Complete beats partial,
 * then the higher attempt, then more runs. */
static bool better_attempt(const struct jfile *a, const struct jfile *b)
{
	if (a->complete != b->complete)
		return a->complete;
	if (a->campaign.shard_attempt != b->campaign.shard_attempt)
		return a->campaign.shard_attempt > b->campaign.shard_attempt;
	return a->n_runs > b->n_runs;
}

struct counted {
	const struct jrun *run;
	const char *campaign_id;
	int attempt;
	size_t order;
};

static void add_runs(struct counted **list, size_t *n, const struct jfile *j)
{
	*list = realloc(*list, (*n + j->n_runs + 1) * sizeof(**list));
	for (size_t i = 0; i < j->n_runs; i++, (*n)++)
		(*list)[*n] =
		    (struct counted){&j->runs[i], j->campaign.id, j->campaign.shard_attempt, *n};
}

/* Choose the attempt(s) of one shard whose runs count. */
static void pick_shard(struct report_set *rs, struct shard *sh, struct counted **list, size_t *n)
{
	const struct jfile *best = NULL;

	for (size_t i = 0; i < rs->n_journals; i++) {
		const struct jfile *j = rs->journals[i];

		if (strcmp(j->campaign.id, sh->campaign_id) || j->campaign.shard_index != sh->index)
			continue;
		sh->attempts++;
		if (!best || better_attempt(j, best))
			best = j;
	}
	sh->journal = best;
	if (!best) {
		sh->status = SHARD_MISSING;
		return;
	}
	sh->status = best->complete ? SHARD_COMPLETE : SHARD_PARTIAL;
	if (best->complete) {
		add_runs(list, n, best);
		return;
	}
	/* No complete attempt: every finished run of every attempt counts. */
	for (size_t i = 0; i < rs->n_journals; i++) {
		const struct jfile *j = rs->journals[i];

		if (!strcmp(j->campaign.id, sh->campaign_id) &&
		    j->campaign.shard_index == sh->index)
			add_runs(list, n, j);
	}
}

/* Same campaign and key: the newest attempt first, so the dedup keeps it. */
static int cmp_counted_key(const void *a, const void *b)
{
	const struct counted *x = a, *y = b;
	int c = strcmp(x->campaign_id, y->campaign_id);

	if (!c)
		c = strcmp(x->run->key, y->run->key);
	if (!c)
		c = y->attempt - x->attempt;
	if (!c)
		c = (x->order > y->order) - (x->order < y->order);
	return c;
}

static bool numeric(const char *s)
{
	return s && (isdigit((unsigned char)s[0]) || (s[0] == '-' && isdigit((unsigned char)s[1])));
}

/* Numeric fault points (times, offsets, write counts) in numeric order; named
 * ones (phases, markers) in the order the campaign planned them (run ids of
 * one journal). */
static int cmp_points(const struct jrun *x, const struct jrun *y)
{
	const char *px = x->point ? x->point : x->key, *py = y->point ? y->point : y->key;

	if (!(numeric(px) && numeric(py)) && x->id != y->id &&
	    x->journal->campaign.id == y->journal->campaign.id)
		return x->id < y->id ? -1 : 1;
	return natural_cmp(px, py);
}

/* Where a scenario stands in its campaign's list (the suite's order: the
 * update path from download to commit), or after all listed ones. */
static size_t scenario_rank(const struct report_set *rs, const char *name)
{
	size_t base = 0;

	for (size_t i = 0; i < rs->n_journals; i++) {
		const struct jcampaign *c = &rs->journals[i]->campaign;

		for (size_t k = 0; k < c->n_scenarios; k++)
			if (!strcmp(c->scenarios[k], name))
				return base + k;
		base += c->n_scenarios;
	}
	return base;
}

static int cmp_report_order(const void *a, const void *b, void *ctx)
{
	const struct jrun *x = *(const struct jrun *const *)a, *y = *(const struct jrun *const *)b;
	size_t rx = scenario_rank(ctx, x->scenario), ry = scenario_rank(ctx, y->scenario);
	int c = rx != ry ? (rx < ry ? -1 : 1) : natural_cmp(x->scenario, y->scenario);

	if (!c)
		c = cmp_points(x, y);
	if (!c)
		c = natural_cmp(x->board, y->board);
	if (!c)
		c = strcmp(x->key, y->key);
	if (!c)
		c = strcmp(x->journal->campaign.id, y->journal->campaign.id);
	return c;
}

static void count_runs(struct report_set *rs, struct counted *list, size_t n)
{
	if (n)
		qsort(list, n, sizeof(*list), cmp_counted_key);
	rs->runs = calloc(n + 1, sizeof(*rs->runs));
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && !strcmp(list[i].campaign_id, list[i - 1].campaign_id) &&
		    !strcmp(list[i].run->key, list[i - 1].run->key)) {
			if (list[i].run->journal->campaign.shard_index !=
			    list[i - 1].run->journal->campaign.shard_index)
				hil_warn("%s:%u: run \"%s\" is also in shard %d (%s); counted once",
				         list[i].run->journal->path, list[i].run->line,
				         list[i].run->key,
				         list[i - 1].run->journal->campaign.shard_index,
				         list[i - 1].run->journal->path);
			continue;
		}
		rs->runs[rs->n_runs++] = list[i].run;
	}
	qsort_r(rs->runs, rs->n_runs, sizeof(*rs->runs), cmp_report_order, rs);
}

static bool same_window(const struct jwindow *a, const struct jwindow *b)
{
	return !strcmp(a->scenario, b->scenario) && !strcmp(a->board, b->board) &&
	       !natural_cmp(a->last_pass, b->last_pass) && !strcmp(a->first_fail, b->first_fail);
}

static void collect_windows(struct report_set *rs)
{
	for (size_t s = 0; s < rs->n_shards; s++) {
		const struct jfile *j = rs->shards[s].journal;

		for (size_t w = 0; j && w < j->n_windows; w++) {
			bool dup = false;

			for (size_t k = 0; k < rs->n_windows && !dup; k++)
				dup = same_window(rs->windows[k], &j->windows[w]);
			if (dup)
				continue;
			rs->windows =
			    realloc(rs->windows, (rs->n_windows + 1) * sizeof(*rs->windows));
			rs->windows[rs->n_windows++] = &j->windows[w];
		}
	}
}

/* Every campaign id, in the order first seen, with its shard count. */
static int find_campaigns(struct report_set *rs)
{
	for (size_t i = 0; i < rs->n_journals; i++) {
		const struct jcampaign *c = &rs->journals[i]->campaign;
		size_t k;

		for (k = 0; k < i; k++)
			if (!strcmp(rs->journals[k]->campaign.id, c->id))
				break;
		if (k < i) {
			if (rs->journals[k]->campaign.shard_count != c->shard_count) {
				hil_error("%s: campaign \"%s\" is split in %d shards here but in "
				          "%d in %s",
				          rs->journals[i]->path, c->id, c->shard_count,
				          rs->journals[k]->campaign.shard_count,
				          rs->journals[k]->path);
				return -EINVAL;
			}
			continue;
		}
		rs->n_campaigns++;
		rs->shards = realloc(rs->shards,
		                     (rs->n_shards + (size_t)c->shard_count) * sizeof(*rs->shards));
		for (int s = 0; s < c->shard_count; s++)
			rs->shards[rs->n_shards++] = (struct shard){
			    .campaign_id = c->id, .index = s, .count = c->shard_count};
	}
	return 0;
}

int report_set_finish(struct report_set *rs)
{
	struct counted *list = NULL;
	size_t n = 0;

	if (find_campaigns(rs) < 0)
		return -EINVAL;
	for (size_t s = 0; s < rs->n_shards; s++)
		pick_shard(rs, &rs->shards[s], &list, &n);
	count_runs(rs, list, n);
	free(list);
	for (size_t r = 0; r < rs->n_runs; r++) {
		const struct jcampaign *c = &rs->runs[r]->journal->campaign;

		for (size_t s = 0; s < rs->n_shards; s++)
			if (rs->shards[s].index == c->shard_index &&
			    !strcmp(rs->shards[s].campaign_id, c->id))
				rs->shards[s].runs++;
	}
	collect_windows(rs);
	return 0;
}

void report_set_free(struct report_set *rs)
{
	for (size_t i = 0; i < rs->n_journals; i++)
		jfile_free(rs->journals[i]);
	free(rs->journals);
	free(rs->runs);
	free(rs->windows);
	free(rs->shards);
	*rs = (struct report_set){0};
}

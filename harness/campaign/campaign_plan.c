/* harness/campaign/campaign_plan.c — which runs a campaign has: scenarios × points,
 * from the sweep, --sweep, --runs (seeded random) or --point; then the
 * shard's slice. A pure function of its inputs. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/campaign/campaign_int.h"
#include "lib/cfg.h"
#include "lib/log.h"
#include "lib/stop.h"
#include "lib/rand.h"

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

void plan_free_index(struct plan *p)
{
	free(p->index);
	p->index = NULL;
	p->index_cap = 0;
}

/* The slot of key in the index: where it is, or the free slot it would take. */
static size_t *index_slot(const struct plan *p, const char *key)
{
	size_t mask = p->index_cap - 1, i = (size_t)hash_str(key) & mask;

	while (p->index[i] && strcmp(p->runs[p->index[i] - 1].key, key) != 0)
		i = (i + 1) & mask;
	return &p->index[i];
}

/* Index every run again (after a resize, or after the shard's slice). */
static int index_rebuild(struct plan *p, size_t want)
{
	size_t cap = 64;

	while (cap < 2 * want)
		cap *= 2;
	free(p->index);
	p->index = calloc(cap, sizeof(*p->index));
	p->index_cap = p->index ? cap : 0;
	if (!p->index)
		return -ENOMEM;
	for (size_t i = 0; i < p->n; i++)
		*index_slot(p, p->runs[i].key) = i + 1;
	return 0;
}

static int add_run(struct plan *p, int sc, const char *point, unsigned long long seed, int rep)
{
	struct plan_run *r;
	size_t *slot;

	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 64;
		struct plan_run *nr = realloc(p->runs, cap * sizeof(*nr));
		if (!nr)
			return -ENOMEM;
		p->runs = nr;
		p->cap = cap;
	}
	if (2 * (p->n + 1) > p->index_cap && index_rebuild(p, p->n + 1) < 0)
		return -ENOMEM;
	r = &p->runs[p->n];
	memset(r, 0, sizeof(*r));
	r->sc = sc;
	snprintf(r->point, sizeof(r->point), "%s", point);
	snprintf(r->key, sizeof(r->key), "%s/point=%s", p->scenarios[sc]->name, point);
	if (rep > 1)
		snprintf(r->key + strlen(r->key), sizeof(r->key) - strlen(r->key), "#%d", rep);
	slot = index_slot(p, r->key);
	if (*slot)
		return 0; /* a random draw that repeats a point runs once */
	{
		uint64_t st = seed ^ hash_str(r->key);
		r->seed = splitmix64(&st) & 0xffffffffULL;
	}
	*slot = ++p->n;
	return 0;
}

/* "0:2000:250" or "1,5,9". */
static int parse_sweep_arg(const char *arg, char ***out, size_t *n)
{
	double from, to, step;
	char extra;

	if (sscanf(arg, "%lf:%lf:%lf%c", &from, &to, &step, &extra) == 3) {
		size_t count;
		if (!isfinite(from) || !isfinite(to) || !(step > 0) || !(to >= from)) {
			hil_error("--sweep %s: give FROM:TO:STEP with STEP > 0 and TO >= FROM",
			          arg);
			return -EINVAL;
		}
		if ((to - from) / step + 1 > PLAN_MAX_RUNS) {
			hil_error(
			    "--sweep %s: %.0f fault points, more than %d in one campaign: give "
			    "a larger step, or --runs N to draw N random points",
			    arg, floor((to - from) / step + 1e-9) + 1, PLAN_MAX_RUNS);
			return -EINVAL;
		}
		count = (size_t)floor((to - from) / step + 1e-9) + 1;
		*out = calloc(count + 1, sizeof(char *));
		for (size_t i = 0; *out && i < count; i++) {
			char buf[64];
			snprintf(buf, sizeof(buf), "%.15g", from + (double)i * step);
			(*out)[i] = strdup(buf);
		}
		*n = count;
		return *out ? 0 : -ENOMEM;
	}
	{
		char *copy = strdup(arg), *save = NULL;
		size_t count = 1;
		for (const char *c = arg; *c; c++)
			count += *c == ',';
		*out = calloc(count + 1, sizeof(char *));
		*n = 0;
		for (char *tok = strtok_r(copy, ",", &save); tok && *out;
		     tok = strtok_r(NULL, ",", &save))
			(*out)[(*n)++] = strdup(tok);
		free(copy);
		if (*n == 0) {
			hil_error("--sweep %s: give FROM:TO:STEP or a list V1,V2,...", arg);
			return -EINVAL;
		}
	}
	return 0;
}

static int random_points(const struct scenario *s, int runs, unsigned long long seed, char ***out,
                         size_t *n)
{
	uint64_t st = seed ^ hash_str(s->name);

	*out = calloc((size_t)runs + 1, sizeof(char *));
	if (!*out)
		return -ENOMEM;
	for (int i = 0; i < runs; i++) {
		char buf[64];
		uint64_t r = splitmix64(&st);
		if (stop_requested()) {
			*n = (size_t)i;
			return -EINTR;
		}
		if (s->sweep.values) {
			size_t count = 0;
			while (s->sweep.values[count])
				count++;
			snprintf(buf, sizeof(buf), "%s", s->sweep.values[r % count]);
		} else if (s->sweep.present) {
			uint64_t steps =
			    (uint64_t)((s->sweep.to - s->sweep.from) / s->sweep.step) + 1;
			snprintf(buf, sizeof(buf), "%.0f",
			         s->sweep.from + (double)(r % steps) * s->sweep.step);
		} else {
			snprintf(buf, sizeof(buf), "-");
		}
		(*out)[i] = strdup(buf);
	}
	*n = (size_t)runs;
	return 0;
}

/* Would n points × repeat more runs pass PLAN_MAX_RUNS? Says so. */
static bool too_many(const struct plan *p, const struct scenario *s, size_t n, int repeat)
{
	if (n <= PLAN_MAX_RUNS && p->n + n * (size_t)repeat <= PLAN_MAX_RUNS)
		return false;
	hil_error("%s: the campaign would have %zu runs, more than %d in one campaign: fewer "
	          "points (--runs, --sweep, a larger sweep step), a smaller --repeat, or fewer "
	          "scenarios at once",
	          s->path, p->n + n * (size_t)repeat, PLAN_MAX_RUNS);
	return true;
}

int plan_build(struct plan *p, const struct campaign_opts *o)
{
	for (size_t sc = 0; sc < p->n_scenarios; sc++) {
		const struct scenario *s = p->scenarios[sc];
		char **points = NULL;
		size_t n = 0;
		int rc;

		if (o->point) {
			points = calloc(2, sizeof(char *));
			if (points)
				points[0] = strdup(o->point);
			n = 1;
			rc = points ? 0 : -ENOMEM;
		} else if (o->sweep) {
			rc = parse_sweep_arg(o->sweep, &points, &n);
		} else if (o->runs > 0) {
			rc = random_points(s, o->runs, o->seed, &points, &n);
		} else {
			points = scenario_points(s, &n);
			rc = points ? 0 : -EINVAL;
		}
		if (rc == 0 && too_many(p, s, n, o->repeat > 1 ? o->repeat : 1))
			rc = -EINVAL;
		for (int k = 1; k <= (o->repeat > 1 ? o->repeat : 1); k++)
			for (size_t i = 0; rc == 0 && i < n; i++)
				rc = stop_requested() ? -EINTR
				                      : add_run(p, (int)sc, points[i], o->seed, k);
		points_free(points, n);
		if (rc < 0)
			return rc;
	}
	/* The shard's slice: every N-th run by plan order, which depends only
	 * on the campaign's inputs. */
	if (o->shard_count > 1) {
		size_t kept = 0;
		for (size_t i = 0; i < p->n; i++)
			if ((int)(i % (size_t)o->shard_count) == o->shard_index)
				p->runs[kept++] = p->runs[i];
		p->n = kept;
		return index_rebuild(p, p->n);
	}
	return 0;
}

int plan_add_bisect(struct plan *p, int sc, const char *point, unsigned long long seed)
{
	size_t before = p->n;
	int rc = add_run(p, sc, point, seed, 1);

	if (rc == 0 && p->n > before)
		p->runs[p->n - 1].bisect = true;
	return rc;
}

bool board_fits(const struct board_cfg *b, const struct scenario *s)
{
	for (size_t i = 0; s->fits && s->fits[i]; i++)
		if (!board_has_tag(b, s->fits[i]))
			return false;
	return true;
}

int campaign_check_fits(const struct lab *lab, const struct scenario *s, const char *const *boards)
{
	const struct cfg_node *fits = cfg_get(s->root, "fits");
	char tags[256] = "";
	size_t used = 0;

	for (size_t i = 0; i < lab->n_boards; i++) {
		const struct board_cfg *b = &lab->boards[i];
		bool named = !boards;
		for (size_t k = 0; boards && boards[k]; k++)
			named |= !strcmp(boards[k], b->name);
		if (named && board_fits(b, s))
			return 0;
	}
	for (size_t i = 0; s->fits && s->fits[i] && used < sizeof(tags); i++)
		used += (size_t)snprintf(tags + used, sizeof(tags) - used, "%s%s", i ? ", " : "",
		                         s->fits[i]);
	if (fits)
		cfg_error(fits,
		          "[%s]: no board in %s%s has all these tags (hilctl --lab %s boards "
		          "lists each board's tags)",
		          tags, lab->path, boards ? " named by --board" : "", lab->path);
	else
		hil_error("%s: no board in %s fits scenario %s%s", s->path, lab->path, s->name,
		          boards ? " among those named by --board" : "");
	return -ENOENT;
}

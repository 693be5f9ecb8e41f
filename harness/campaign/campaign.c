/* harness/campaign/campaign.c — run a campaign's plan over the lab's boards: one
 * worker process per board, the parent hands out runs, writes the journal,
 * shows progress, narrows failing windows and decides the gate. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <getopt.h>
#include <jansson.h>

#include "harness/lab/board.h"
#include "harness/campaign/campaign_int.h"
#include "harness/cli/cli.h"
#include "lib/clock.h"
#include "harness/lab/lock.h"
#include "lib/cfg.h"
#include "lib/log.h"
#include "harness/campaign/shard_board.h"
#include "harness/campaign/workers.h"
#include "reports/gate.h"
#include "reports/report.h"
#include "lib/stop.h"
#include "lib/fsutil.h"

/* A worker that has neither reported its run nor died this long after the
 * run's longest possible duration (run_budget_ns) is killed. */
#define RUN_DEADLINE_MARGIN_NS (60 * NS_PER_S)

struct campaign {
	const struct campaign_opts *o;
	struct lab *lab;
	struct plan plan;
	struct journal *journal;
	struct worker_pool pool; /* runs down, records up; a worker's running: plan index */
	size_t done, failed, infra, counts[VERDICT_COUNT];
	size_t not_injected; /* runs whose fault never came (not optional): gate FAIL */
	size_t untested;     /* runs with a fault that never came: outside the bound */
	int next_id;
	int64_t t_start;
	bool tty;
	int *bisect_budget;
	const char *own_lock;      /* a board this process locked for --board auto */
	bool overdue[WORKERS_MAX]; /* a worker killed at its run's deadline */
	char unavailable[1024];    /* boards -j asked for that others hold, with holders */
	struct board_busy busy[BOARDS_BUSY_MAX]; /* the same, for the journal */
	size_t n_busy;
	char lost[2048]; /* boards taken out of the campaign, with why */
};

/* A board leaves the campaign: the gate says which and why. */
static void note_lost(struct campaign *c, const char *board, const char *why)
{
	size_t used = strlen(c->lost);

	snprintf(c->lost + used, sizeof(c->lost) - used, "%s%s (%.300s)", used ? "; " : "", board,
	         why);
}

/* Where run id's timeline goes on board, relative to the --out directory. */
static void timeline_rel(const struct campaign *c, int id, const char *board, char *out,
                         size_t size)
{
	snprintf(out, size, "runs/%s%04d-%s/timeline.jsonl", journal_run_prefix(c->journal), id,
	         board);
}

/* ---- the worker: owns one board, runs what it is told ---- */

static int worker_main(void *arg, int in_fd, int out_fd, const struct board_cfg *bc)
{
	struct campaign *c = arg;
	struct board b;
	struct engine_ctx ctx = {0};
	FILE *in = fdopen(in_fd, "r");
	char line[512];
	int rc;

	rc = board_open(&b, c->lab, bc->name, NULL, 0);
	if (rc < 0)
		return EXIT_INFRA;
	ctx.board = &b;
	while (!stop_requested() && in && fgets(line, sizeof(line), in)) {
		/* The run comes whole over the pipe: runs added after the fork
		 * (bisection) are not in this process's copy of the plan. */
		struct plan_run run = {0}, *pr = &run;
		int id = 0;
		char *point, *key;
		const struct scenario *sc;

		line[strcspn(line, "\n")] = '\0';
		point = strchr(line, '\t');
		key = point ? strchr(point + 1, '\t') : NULL;
		if (!key || sscanf(line, "%d %d %llu", &id, &pr->sc, &pr->seed) != 3 ||
		    pr->sc < 0 || (size_t)pr->sc >= c->plan.n_scenarios)
			break;
		*key++ = '\0';
		sc = c->plan.scenarios[pr->sc];
		snprintf(pr->point, sizeof(pr->point), "%s", point + 1);
		snprintf(pr->key, sizeof(pr->key), "%s", key);
		struct run_spec spec = {.sc = sc, .point = pr->point, .seed = pr->seed};
		struct run_result res;
		char tl_rel[300], tl_path[900], *rec;

		timeline_rel(c, id, bc->name, tl_rel, sizeof(tl_rel));
		snprintf(tl_path, sizeof(tl_path), "%s/%s", c->o->out_dir, tl_rel);
		*strrchr(tl_path, '/') = '\0';
		mkdir(tl_path, 0755);
		snprintf(tl_path, sizeof(tl_path), "%s/%s", c->o->out_dir, tl_rel);
		spec.run_id = id;
		spec.timeline_path = tl_path;
		/* A run that fails keeps its post-fault disk beside its timeline. */
		char keep[1000];
		snprintf(keep, sizeof(keep), "%.*s/" CAMPAIGN_KEPT_DISK,
		         (int)(strrchr(tl_path, '/') - tl_path), tl_path);
		spec.keep_disk = keep;
		engine_run(&ctx, &spec, &res);
		if (res.interrupted)
			break;
		rec = run_record(c->journal, pr, id, sc, bc->name, &res, tl_rel, c->o);
		if (!rec || write(out_fd, rec, strlen(rec)) < 0) {
			free(rec);
			break;
		}
		free(rec);
		if (res.power_lost) {
			/* Its power is not under control: another run could
			 * judge a board that never lost power. Other boards
			 * take the rest. */
			hil_error("board \"%s\": no more runs on it in this campaign (its power "
			          "could not be switched off)",
			          bc->name);
			break;
		}
		if (res.board_lost) {
			/* Not on its baseline, and no way to put it there:
			 * every later run would judge the wrong starting state.
			 * Other boards take the rest. */
			hil_error("board \"%s\": no more runs on it in this campaign (%s)",
			          bc->name, res.restore.error);
			break;
		}
	}
	engine_ctx_close(&ctx);
	board_close(&b);
	return 0;
}

/* ---- the parent ---- */

static bool fits(const struct campaign *c, const struct worker *w, const struct plan_run *pr)
{
	return board_fits(w->board, c->plan.scenarios[pr->sc]);
}

static bool stopping(const struct campaign *c)
{
	return c->o->max_failures > 0 && c->failed + c->not_injected >= (size_t)c->o->max_failures;
}

static int assign(void *arg, struct worker *w)
{
	struct campaign *c = arg;

	if (stop_requested() || stopping(c))
		return 0;
	for (size_t i = 0; i < c->plan.n; i++) {
		struct plan_run *pr = &c->plan.runs[i];
		char line[512];
		int rc;

		if (pr->state != RUN_TODO || !fits(c, w, pr))
			continue;
		pr->state = RUN_RUNNING;
		w->running = (long)i;
		w->job_id = ++c->next_id;
		snprintf(line, sizeof(line), "%d %d %llu\t%s\t%s\n", w->job_id, pr->sc, pr->seed,
		         pr->point, pr->key);
		rc = workers_send(w, line);
		if (rc < 0) {
			pr->state = RUN_TODO;
			w->running = -1;
			return rc;
		}
		w->started = clock_now_ns();
		w->deadline = w->started + run_budget_ns(c->plan.scenarios[pr->sc], pr->point) +
		              RUN_DEADLINE_MARGIN_NS;
		return 1;
	}
	return 0;
}

/* How a finished run counts, on its progress line. */
static const char *outcome_word(const struct plan_run *pr)
{
	if (pr->pass)
		return pr->untested ? "pass, optional fault not injected" : "pass";
	if (pr->verdict == VERDICT_INFRA_ERROR)
		return "infra";
	return pr->not_injected ? "NOT INJECTED: not_injected, nothing was tested" : "FAIL";
}

static void progress(struct campaign *c, const struct plan_run *pr, const char *board,
                     double duration)
{
	double elapsed = (double)(clock_now_ns() - c->t_start) / NS_PER_S;
	size_t total = c->plan.n, left = total - c->done;
	double eta = c->done ? elapsed / (double)c->done * (double)left : 0;

	if (c->tty) {
		fprintf(stderr,
		        "\r\033[K[%zu/%zu] upgraded %zu  rolled_back %zu  failed %zu  "
		        "not_injected %zu  infra %zu  ETA %.0f min",
		        c->done, total, c->counts[VERDICT_UPGRADED], c->counts[VERDICT_ROLLED_BACK],
		        c->failed, c->not_injected, c->infra, eta / 60);
		if (!pr->pass)
			fprintf(stderr, "\n%s on %s, point %s: %s%s\n",
			        c->plan.scenarios[pr->sc]->name, board, pr->point,
			        verdict_name(pr->verdict),
			        pr->not_injected ? " (not_injected: the fault was never injected)"
			                         : "");
	} else {
		fprintf(stderr, "run %zu/%zu %s %s point=%s: %s (%s) %.1fs\n", c->done, total,
		        board, c->plan.scenarios[pr->sc]->name, pr->point,
		        verdict_name(pr->verdict), outcome_word(pr), duration);
	}
}

static bool all_injected(const json_t *faults)
{
	size_t i;
	json_t *f;

	json_array_foreach(faults, i, f)
	{
		if (!json_is_true(json_object_get(f, "injected")))
			return false;
	}
	return true;
}

static void on_record(void *arg, struct worker *w, const char *line)
{
	struct campaign *c = arg;
	json_t *j = json_loads(line, 0, NULL), *run = json_object_get(j, "run");
	struct plan_run *pr;
	int v;

	if (w->running < 0 || !run) {
		json_decref(j);
		return;
	}
	pr = &c->plan.runs[w->running];
	v = verdict_from_name(json_string_value(json_object_get(run, "verdict")));
	pr->verdict = v < 0 ? VERDICT_INFRA_ERROR : (enum verdict)v;
	pr->pass = json_is_true(json_object_get(run, "pass"));
	pr->not_injected =
	    json_is_string(json_object_get(run, "outcome")) &&
	    !strcmp(json_string_value(json_object_get(run, "outcome")), "not_injected");
	pr->untested =
	    pr->not_injected || (pr->pass && !all_injected(json_object_get(run, "faults")));
	pr->state = RUN_DONE;
	w->running = -1;
	if (journal_append(c->journal, line) < 0)
		stop_request(SIGTERM); /* nothing more can be recorded: stop */
	c->done++;
	c->counts[pr->verdict]++;
	if (pr->verdict == VERDICT_INFRA_ERROR)
		c->infra++;
	else if (pr->not_injected)
		c->not_injected++;
	else if (!pr->pass)
		c->failed++;
	if (pr->untested && pr->verdict != VERDICT_INFRA_ERROR)
		c->untested++;
	if (json_is_true(json_object_get(run, "board_lost")))
		note_lost(c, w->board->name,
		          json_is_string(json_object_get(run, "reason"))
		              ? json_string_value(json_object_get(run, "reason"))
		              : "-");
	progress(c, pr, w->board->name, json_real_value(json_object_get(run, "duration_s")));
	json_decref(j);
}

/* The worker died mid-run: the run is not lost, it goes back to the queue
 * for another board. */
static void on_lost(void *arg, struct worker *w)
{
	struct campaign *c = arg;

	c->plan.runs[w->running].state = RUN_TODO;
}

/* The worker neither reported its run nor died by the run's deadline: it is
 * stuck where nothing has a deadline. The run is the lab's failure, and the
 * board leaves the campaign with the worker (killed after this). */
static void on_overdue(void *arg, struct worker *w)
{
	struct campaign *c = arg;
	struct plan_run *pr = &c->plan.runs[w->running];
	struct run_result res = {.verdict = VERDICT_INFRA_ERROR};
	double limit_s = (double)(w->deadline - w->started) / NS_PER_S;
	char tl_rel[300], *rec;

	res.duration_s = (double)(clock_now_ns() - w->started) / NS_PER_S;
	snprintf(res.reason, sizeof(res.reason),
	         "board \"%s\": the run did not end within its deadline of %.0f s (the "
	         "scenario's timeouts plus %.0f s); its worker (pid %d) was killed and the board "
	         "takes no more runs in this campaign",
	         w->board->name, limit_s, (double)RUN_DEADLINE_MARGIN_NS / NS_PER_S, (int)w->pid);
	hil_error("%s", res.reason);
	c->overdue[w - c->pool.w] = true;
	note_lost(c, w->board->name, "its run did not end within its deadline");
	timeline_rel(c, w->job_id, w->board->name, tl_rel, sizeof(tl_rel));
	rec = run_record(c->journal, pr, w->job_id, c->plan.scenarios[pr->sc], w->board->name, &res,
	                 tl_rel, c->o);
	if (rec)
		on_record(c, w, rec);
	else
		pr->state = RUN_TODO;
	free(rec);
}

/* A killed worker switched nothing off: QEMU dies with it, a relay or a
 * PDU outlet does not. Once it is reaped (its lock is stale), the parent
 * takes the board and powers it off. */
static void power_off_overdue(struct campaign *c)
{
	for (int i = 0; i < c->pool.n; i++) {
		struct board b;
		int rc;
		if (!c->overdue[i])
			continue;
		rc = board_open(&b, c->lab, c->pool.w[i].board->name, NULL, 0);
		if (rc == 0) {
			rc = board_power_off(&b);
			board_close(&b);
		}
		if (rc < 0)
			hil_error(
			    "board \"%s\": could not power it off after its worker was killed "
			    "(%s): it may still be on; hilctl power %s off",
			    c->pool.w[i].board->name, strerror(-rc), c->pool.w[i].board->name);
	}
}

/* ---- narrowing a failing window ---- */

struct point_result {
	double x;
	bool pass;
	enum verdict verdict;
};

static int cmp_point(const void *a, const void *b)
{
	const struct point_result *pa = a, *pb = b;

	return (pa->x > pb->x) - (pa->x < pb->x);
}

static bool numeric(const char *s, double *x)
{
	char *end;

	*x = strtod(s, &end);
	return end != s && *end == '\0';
}

/* Done runs of one scenario with numeric points, sorted. Caller frees. */
static size_t scenario_results(const struct campaign *c, int sc, struct point_result **out)
{
	struct point_result *r = calloc(c->plan.n + 1, sizeof(*r));
	size_t n = 0;

	for (size_t i = 0; r && i < c->plan.n; i++) {
		const struct plan_run *pr = &c->plan.runs[i];
		if (pr->sc == sc && pr->state == RUN_DONE && pr->verdict != VERDICT_INFRA_ERROR &&
		    !pr->not_injected && numeric(pr->point, &r[n].x)) {
			r[n].pass = pr->pass;
			r[n].verdict = pr->verdict;
			n++;
		}
	}
	if (r)
		qsort(r, n, sizeof(*r), cmp_point);
	*out = r;
	return n;
}

static bool planned(const struct campaign *c, int sc, double x)
{
	double y;

	for (size_t i = 0; i < c->plan.n; i++)
		if (c->plan.runs[i].sc == sc && numeric(c->plan.runs[i].point, &y) && y == x)
			return true;
	return false;
}

/* Add one run between a pass and a failure next to it. 1 when added. */
static int bisect_next(void *arg)
{
	struct campaign *c = arg;

	if (stop_requested() || stopping(c))
		return 0;
	for (size_t sc = 0; c->o->bisect > 0 && sc < c->plan.n_scenarios; sc++) {
		struct point_result *r;
		size_t n;

		if (c->bisect_budget[sc] <= 0)
			continue;
		n = scenario_results(c, (int)sc, &r);
		for (size_t i = 0; i + 1 < n; i++) {
			double mid = (double)(long long)((r[i].x + r[i + 1].x) / 2);
			char point[64];

			if (r[i].pass == r[i + 1].pass || mid <= r[i].x || mid >= r[i + 1].x ||
			    planned(c, (int)sc, mid))
				continue;
			free(r);
			snprintf(point, sizeof(point), "%.15g", mid);
			if (plan_add_bisect(&c->plan, (int)sc, point, c->o->seed) < 0)
				return 0;
			c->bisect_budget[sc]--;
			return 1;
		}
		free(r);
	}
	return 0;
}

static void write_windows(struct campaign *c)
{
	for (size_t sc = 0; sc < c->plan.n_scenarios; sc++) {
		struct point_result *r;
		size_t n = scenario_results(c, (int)sc, &r);

		for (size_t i = 0; i + 1 < n; i++) {
			const struct point_result *pass, *fail;
			char *line = NULL;
			if (r[i].pass == r[i + 1].pass)
				continue;
			pass = r[i].pass ? &r[i] : &r[i + 1];
			fail = r[i].pass ? &r[i + 1] : &r[i];
			if (asprintf(&line,
			             "{\"window\":{\"scenario\":\"%s\",\"last_pass\":\"%.15g\","
			             "\"first_fail\":\"%.15g\",\"verdict\":\"%s\",\"runs\":%zu}}\n",
			             c->plan.scenarios[sc]->name, pass->x, fail->x,
			             verdict_name(fail->verdict), n) >= 0)
				journal_append(c->journal, line);
			fprintf(stderr,
			        "%s: failing window between point %.15g (pass) and %.15g (%s)\n",
			        c->plan.scenarios[sc]->name, pass->x, fail->x,
			        verdict_name(fail->verdict));
			free(line);
		}
		free(r);
	}
}

/* ---- setting up and tearing down ---- */

static int load_scenarios(struct campaign *c)
{
	size_t n = 0;

	while (c->o->scenario_paths[n])
		n++;
	c->plan.scenarios = calloc(n + 1, sizeof(*c->plan.scenarios));
	c->bisect_budget = calloc(n + 1, sizeof(int));
	if (!c->plan.scenarios || !c->bisect_budget)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (stop_requested())
			return -EINTR;
		c->plan.scenarios[i] = scenario_load(c->o->scenario_paths[i]);
		if (!c->plan.scenarios[i])
			return -EINVAL;
		c->plan.n_scenarios++;
		c->bisect_budget[i] = c->o->bisect;
	}
	return 0;
}

static bool wanted(const struct campaign *c, const struct board_cfg *b)
{
	bool any = false;

	if (c->o->boards) {
		bool named = false;
		for (size_t i = 0; c->o->boards[i]; i++)
			named |= !strcmp(c->o->boards[i], b->name);
		if (!named)
			return false;
	}
	for (size_t i = 0; i < c->plan.n_scenarios; i++)
		any |= board_fits(b, c->plan.scenarios[i]);
	return any;
}

/* What the real run would refuse about boards, checked before anything
 * (and by --dry-run): a --board the lab does not have, a scenario no usable
 * board fits. */
static int check_boards(const struct campaign *c)
{
	for (size_t i = 0; c->o->boards && c->o->boards[i]; i++)
		if (!lab_board(c->lab, c->o->boards[i])) {
			hil_error("%s: no board \"%s\" (hilctl --lab %s boards lists them)",
			          c->lab->path, c->o->boards[i], c->lab->path);
			return -ENOENT;
		}
	for (size_t sc = 0; sc < c->plan.n_scenarios; sc++)
		if (campaign_check_fits(c->lab, c->plan.scenarios[sc], c->o->boards) < 0)
			return -ENOENT;
	return 0;
}

static bool wanted_cb(const struct board_cfg *b, void *ctx)
{
	return wanted(ctx, b);
}

/* --board auto: one board, the one Slurm allocated or a free one here. */
static int pick_auto(struct campaign *c, char **names)
{
	const struct board_cfg *b;
	bool locked;
	int rc = shard_board_pick(c->lab, wanted_cb, c, &b, &locked);

	if (rc < 0)
		return rc;
	if (locked)
		c->own_lock = b->name;
	c->pool.w[0].board = b;
	names[0] = (char *)b->name;
	c->pool.n = 1;
	fprintf(stderr, "board: %s on host %s%s\n", b->name, lab_this_host(),
	        getenv("SLURM_JOB_ID") ? " (Slurm's GRES)" : " (free, locked)");
	return 0;
}

/* Say which boards -j asked for and could not have, at the start and
 * again under the gate: a campaign on fewer boards than asked is slower,
 * and the user should know whose lock is in the way. */
static void say_boards(const struct campaign *c, FILE *f)
{
	int jobs = c->o->jobs > 0 ? c->o->jobs : 1;

	if (c->pool.n >= jobs && !c->unavailable[0])
		return;
	fprintf(f, "boards: -j%d asked for %d, running on %d (", jobs, jobs, c->pool.n);
	for (int i = 0; i < c->pool.n; i++)
		fprintf(f, "%s%s", i ? ", " : "", c->pool.w[i].board->name);
	if (c->unavailable[0])
		fprintf(f, "); not available: %s\n", c->unavailable);
	else
		fprintf(f, "); no other board of the lab fits\n");
}

static int pick_boards(struct campaign *c, char **names)
{
	int jobs = c->o->jobs > 0 ? c->o->jobs : 1;
	const struct board_cfg *picked[WORKERS_MAX];
	size_t n;

	if (c->o->board_auto)
		return pick_auto(c, names);
	n = boards_pick_free(c->lab, wanted_cb, c,
	                     (size_t)(jobs < WORKERS_MAX ? jobs : WORKERS_MAX), picked, c->busy,
	                     &c->n_busy);
	boards_busy_text(c->busy, c->n_busy, c->unavailable, sizeof(c->unavailable));
	for (size_t i = 0; i < n; i++) {
		c->pool.w[c->pool.n].board = picked[i];
		names[c->pool.n] = (char *)picked[i]->name;
		c->pool.n++;
	}
	if (c->pool.n == 0 && c->unavailable[0]) {
		hil_error("%s: every board that fits is held by another process: %s (hilctl boards "
		          "shows the holders)",
		          c->lab->path, c->unavailable);
		return -EBUSY;
	}
	if (c->pool.n == 0) {
		char tags[256] = "";
		size_t used = 0;
		const char *const *fits = c->plan.scenarios[0]->fits;
		for (size_t i = 0; fits && fits[i] && used < sizeof(tags); i++)
			used += (size_t)snprintf(tags + used, sizeof(tags) - used, "%s%s",
			                         i ? ", " : "", fits[i]);
		hil_error("%s: no board fits (scenario %s needs the tags %s)%s", c->lab->path,
		          c->plan.scenarios[0]->name, tags[0] ? tags : "-",
		          c->o->boards ? "; --board limits the choice" : "");
		return -ENOENT;
	}
	say_boards(c, stderr);
	return 0;
}

static void mark_resumed(struct campaign *c)
{
	size_t n;
	char **keys = journal_done_keys(c->o->out_dir, &n);

	for (size_t k = 0; k < n; k++)
		for (size_t i = 0; i < c->plan.n; i++)
			if (c->plan.runs[i].state == RUN_TODO &&
			    !strcmp(c->plan.runs[i].key, keys[k])) {
				c->plan.runs[i].state = RUN_DONE;
				c->plan.runs[i].pass = true;
				c->done++;
			}
	for (size_t k = 0; k < n; k++)
		free(keys[k]);
	free(keys);
	if (c->done)
		fprintf(stderr, "resuming: %zu of %zu runs already in the journal\n", c->done,
		        c->plan.n);
}

static int gate(const struct campaign *c, bool complete)
{
	size_t total = c->done;

	fprintf(stderr, "%s%zu runs: ", c->tty ? "\n" : "", total);
	for (int v = 0; v < VERDICT_COUNT; v++)
		if (c->counts[v])
			fprintf(stderr, "%s %zu  ", verdict_name((enum verdict)v), c->counts[v]);
	if (c->not_injected || c->untested)
		fprintf(stderr, "(of which not_injected %zu, optional fault not injected %zu)",
		        c->not_injected, c->untested - c->not_injected);
	fprintf(stderr, "\n");
	say_boards(c, stderr);
	if (c->lost[0])
		fprintf(stderr, "boards lost: %s\n", c->lost);
	if (c->failed || c->not_injected) {
		fprintf(stderr, "gate: FAIL (");
		if (c->failed)
			fprintf(stderr, "%zu runs ended in a state their scenario does not allow%s",
			        c->failed, c->not_injected ? "; " : "");
		if (c->not_injected)
			fprintf(stderr,
			        "%zu runs not_injected: their fault's trigger never came, "
			        "so they tested nothing",
			        c->not_injected);
		fprintf(stderr, ")\n");
		return EXIT_FAILED;
	}
	if (c->infra || !complete) {
		size_t left = 0;
		char why[96] = "";
		for (size_t i = 0; i < c->plan.n; i++)
			left += c->plan.runs[i].state != RUN_DONE;
		if (!complete)
			snprintf(why, sizeof(why), ", %s",
			         stop_requested() || stopping(c) ? "campaign interrupted"
			                                         : "no board left to run on");
		if (left)
			snprintf(why + strlen(why), sizeof(why) - strlen(why),
			         ", %zu runs not done", left);
		fprintf(stderr,
		        "gate: INCOMPLETE (%zu infrastructure errors%s); hilctl run "
		        "--resume %s finishes it\n",
		        c->infra, why, c->o->out_dir);
		return EXIT_INFRA;
	}
	/* A run whose (optional) fault never came tested nothing: it is not
	 * one of the "0 failures in N runs". */
	total -= c->untested;
	if (!total && c->untested) {
		fprintf(stderr, "gate: FAIL (no run injected its fault: nothing was tested)\n");
		return EXIT_FAILED;
	}
	fprintf(stderr,
	        "gate: PASS (0 failures in %zu runs: failure rate below %.2g %% at 95 %% "
	        "confidence",
	        total, total ? 100.0 * gate_upper_bound_95(total) : 100.0);
	if (c->untested)
		fprintf(stderr, "; %zu more runs whose optional fault never came are not counted",
		        c->untested);
	fprintf(stderr, ")\n");
	return EXIT_OK;
}

/* The reports are made from the journal alone (the same code as hilctl
 * report DIR); the campaign's own gate line stays the one the user reads. */
static void write_reports(const char *dir)
{
	char *paths[] = {(char *)dir};
	struct report_opts opts = {.excerpt_lines = 40, .html_lines = 2000};

	if (report_make(paths, 1, dir, opts, NULL) == EXIT_USAGE)
		hil_warn("reports: could not read %s/journal.jsonl back", dir);
	else
		fprintf(stderr, "reports: %s/report.html, report.xml, report.tap, summary.json\n",
		        dir);
}

static void free_campaign(struct campaign *c)
{
	for (size_t i = 0; i < c->plan.n_scenarios; i++)
		scenario_free(c->plan.scenarios[i]);
	free(c->plan.scenarios);
	free(c->plan.runs);
	plan_free_index(&c->plan);
	free(c->bisect_budget);
	lab_free(c->lab);
}

int campaign_run(const struct campaign_opts *o)
{
	struct campaign c = {.o = o,
	                     .tty = isatty(STDERR_FILENO),
	                     .pool = {.arg = &c,
	                              .child = worker_main,
	                              .assign = assign,
	                              .on_record = on_record,
	                              .on_lost = on_lost,
	                              .on_overdue = on_overdue,
	                              .more = bisect_next}};
	char *names[WORKERS_MAX];
	char journal_path[1100];
	struct stat st;
	int rc = EXIT_USAGE;
	bool complete, sharded;

	c.lab = lab_load(o->lab_path);
	if (!c.lab || load_scenarios(&c) < 0 || plan_build(&c.plan, o) < 0) {
		if (stop_requested()) {
			hil_error("interrupted (%s) while planning: nothing was run",
			          stop_requested() == SIGINT ? "SIGINT" : "SIGTERM");
			rc = EXIT_INFRA;
		}
		goto out;
	}
	if (check_boards(&c) < 0)
		goto out;
	if (o->dry_run) {
		for (size_t i = 0; i < c.plan.n; i++)
			printf("%s\n", c.plan.runs[i].key);
		printf("%zu runs\n", c.plan.n);
		rc = EXIT_OK;
		goto out;
	}
	snprintf(journal_path, sizeof(journal_path), "%s/journal.jsonl", o->out_dir);
	if (!o->resume && o->shard_count <= 1 && stat(journal_path, &st) == 0 && st.st_size > 0) {
		hil_error("%s already holds a campaign: --resume %s finishes it, or choose another "
		          "--out",
		          o->out_dir, o->out_dir);
		goto out;
	}
	if (fs_mkdir_p(o->out_dir, 0755) < 0 || access(o->out_dir, W_OK) < 0) {
		hil_error("--out %s: cannot create it: %s", o->out_dir, strerror(errno));
		goto out;
	}
	if (o->resume)
		mark_resumed(&c);
	{
		char runs_dir[1100];
		snprintf(runs_dir, sizeof(runs_dir), "%s/runs", o->out_dir);
		fs_mkdir_p(runs_dir, 0755);
	}
	rc = pick_boards(&c, names);
	if (rc < 0) {
		rc = rc == -EBUSY || rc == -EIO ? EXIT_INFRA : EXIT_USAGE;
		goto out;
	}
	rc = EXIT_USAGE;
	c.journal =
	    journal_open(o->out_dir, o, &c.plan, c.lab, names, (size_t)c.pool.n, c.busy, c.n_busy);
	if (!c.journal) {
		rc = EXIT_INFRA;
		goto out;
	}
	c.t_start = clock_now_ns();
	workers_start(&c.pool);
	workers_run(&c.pool);
	/* Closing the run pipes ends each worker: it finishes its run, powers
	 * its board off and exits; a record still on its way is journaled. */
	workers_stop(&c.pool, 60 * NS_PER_S);
	power_off_overdue(&c);
	if (c.o->bisect)
		write_windows(&c);
	complete = !stop_requested() && !stopping(&c);
	for (size_t i = 0; i < c.plan.n; i++)
		complete &= c.plan.runs[i].state == RUN_DONE;
	sharded = journal_sharded(c.journal);
	snprintf(journal_path, sizeof(journal_path), "%s", journal_path_of(c.journal));
	journal_close(c.journal, c.done, complete,
	              stop_requested() == SIGINT    ? "SIGINT"
	              : stop_requested() == SIGTERM ? "SIGTERM"
	              : stop_requested()            ? "signal"
	                                            : NULL);
	if (sharded) {
		/* Other shards write beside this one: the reports are the merge's. */
		fprintf(stderr,
		        "journal: %s (shard %d of %d)\nmerge the shards: hilctl report "
		        "--merge --out %s/merged %s\n",
		        journal_path, o->shard_index, o->shard_count, o->out_dir, o->out_dir);
	} else {
		fprintf(stderr, "journal: %s\n", journal_path);
		write_reports(o->out_dir);
	}
	rc = gate(&c, complete);
out:
	if (c.own_lock)
		lock_release(c.own_lock, true);
	free_campaign(&c);
	return rc;
}

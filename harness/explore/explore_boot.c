/* harness/explore/explore_boot.c — boot the crash states through the oracle: one
 * worker process per board (as campaigns do) builds a state's disk, puts it
 * under the board and powers it on; the oracle's recovery ladder gives the
 * verdict. The parent hands out states in order within the budget
 * (--max-states, --max-time), appends one synced journal line per state, and
 * prints the summary and a reproduce command for every failure. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness/lab/board.h"
#include "harness/cli/cli.h"
#include "lib/clock.h"
#include "harness/run/engine.h"
#include "harness/explore/explore_int.h"
#include "lib/log.h"
#include "lib/timeline.h"
#include "harness/campaign/workers.h"
#include "lib/stop.h"
#include "lib/wallclock.h"
#include "reports/journal_write.h"

#define BUILD_TIMEOUT_NS (300 * NS_PER_S)

struct booter {
	struct explore *x;
	const struct xs_state **list; /* what to boot, in order */
	size_t *num;                  /* each one's number in states.jsonl (from 1) */
	size_t n_list, next, done, failed, infra;
	size_t counts[VERDICT_COUNT];
	struct worker_pool pool; /* a worker's running: index into the boot list */
	int journal_fd;
	json_t **records; /* by list index, for the summary */
	bool out_of_time;
	int64_t t_boot; /* when the first state was handed out */
};

/* ---- one state on one board (in the worker) ---- */

struct boot_hook {
	const struct explore *x;
	const char *disk;
};

static int install(void *arg, struct board *b)
{
	struct boot_hook *h = arg;

	return explore_install_disk(h->x, b, h->disk);
}

static const char *phase_name(const struct explore *x, const struct xs_state *st)
{
	return st->phase >= 0 && (size_t)st->phase < x->n_ph ? x->ph[st->phase].name : "-";
}

static json_t *evidence_json(const struct run_result *res)
{
	json_t *a = json_array();
	char esc[600];

	for (size_t i = 0; i < res->n_evidence; i++) {
		const struct oracle_evidence *e = &res->evidence[i];
		json_escape_bytes(e->text, strlen(e->text), esc, sizeof(esc));
		json_array_append_new(a, json_pack("{s:f, s:s, s:s}", "t",
		                                   (double)(e->t_ns - res->t0_ns) / NS_PER_S, "k",
		                                   e->kind, "d", esc));
	}
	return a;
}

static void reproduce(const struct explore *x, const char *sel, const char *board, size_t n,
                      char *out, size_t size)
{
	const char *const *ov = lab_get_overrides();
	size_t used = (size_t)snprintf(out, size, "hilctl --lab %s", x->o->lab_path);

	for (size_t i = 0; ov && ov[i] && used < size; i++)
		used += (size_t)snprintf(out + used, size - used, " --set %s", ov[i]);
	if (used < size)
		snprintf(out + used, size - used,
		         " explore %s --from %s --only %s --board %s --out %s/repro-%zu",
		         x->o->scenario_path, x->o->from_dir ? x->o->from_dir : x->o->out_dir, sel,
		         board, x->o->out_dir, n);
}

static char *state_record(const struct explore *x, const struct xs_state *st, size_t n,
                          const char *board, const struct run_result *res, double build_s,
                          const char *tl_rel, const char *build_error)
{
	char sel[4096], hash[40], repro[5000], *text, *line = NULL;
	json_t *allowed = json_array(), *rec;

	if (explore_sel_format(st, sel, sizeof(sel)) < 0)
		snprintf(sel, sizeof(sel), "%u+...", st->prefix);
	snprintf(hash, sizeof(hash), "%016llx%016llx", (unsigned long long)st->hash[0],
	         (unsigned long long)st->hash[1]);
	for (int v = 0; v < VERDICT_COUNT; v++)
		if (scenario_allows(x->sc, (enum verdict)v))
			json_array_append_new(allowed, json_string(verdict_name((enum verdict)v)));
	reproduce(x, sel, board, n, repro, sizeof(repro));
	rec = json_pack(
	    "{s:I, s:s, s:s, s:I, s:I, s:s, s:s, s:s, s:s, s:s, s:o, s:b, s:s, s:o, "
	    "s:f, s:f, s:s, s:s}",
	    "n", (json_int_t)n, "sel", sel, "class", explore_class_name(st->cls), "at",
	    (json_int_t)st->at, "epoch", (json_int_t)st->epoch, "phase", phase_name(x, st),
	    "marker", st->phase >= 0 && (size_t)st->phase < x->n_ph ? x->ph[st->phase].line : "",
	    "hash", hash, "board", board, "verdict", verdict_name(res->verdict), "allowed", allowed,
	    "pass", res->pass, "reason", build_error ? build_error : res->reason, "evidence",
	    evidence_json(res), "build_s", build_s, "duration_s", res->duration_s, "timeline",
	    tl_rel, "reproduce", repro);
	text = rec ? json_dumps(json_pack("{s:o}", "state", rec), JSON_COMPACT | JSON_ENSURE_ASCII)
	           : NULL;
	if (text && asprintf(&line, "%s\n", text) < 0)
		line = NULL;
	free(text);
	return line;
}

static char *boot_one(struct explore *x, struct engine_ctx *ctx, struct board *b,
                      const struct scenario *boot_sc, const struct xs_state *st, size_t n)
{
	char disk[PATH_MAX], tl_rel[300], tl_path[PATH_MAX + 310], why[400] = "";
	struct boot_hook hook = {.x = x, .disk = disk};
	struct run_result res;
	int64_t t0 = clock_now_ns();
	double build_s;
	int rc;

	snprintf(disk, sizeof(disk), "%s/crash.qcow2", b->run_dir);
	snprintf(tl_rel, sizeof(tl_rel), "states/%04zu-%s", n, b->cfg->name);
	snprintf(tl_path, sizeof(tl_path), "%s/%s", x->o->out_dir, tl_rel);
	mkdir(tl_path, 0755);
	strncat(tl_rel, "/timeline.jsonl", sizeof(tl_rel) - strlen(tl_rel) - 1);
	snprintf(tl_path, sizeof(tl_path), "%s/%s", x->o->out_dir, tl_rel);
	rc = explore_build_disk(x, st, disk, t0 + BUILD_TIMEOUT_NS, why, sizeof(why));
	build_s = (double)(clock_now_ns() - t0) / NS_PER_S;
	if (rc < 0) {
		memset(&res, 0, sizeof(res));
		res.verdict = VERDICT_INFRA_ERROR;
		snprintf(res.reason, sizeof(res.reason), "building the crash disk failed: %s", why);
		return state_record(x, st, n, b->cfg->name, &res, build_s, tl_rel, res.reason);
	}
	struct run_spec spec = {.sc = boot_sc,
	                        .point = "-",
	                        .seed = x->o->seed,
	                        .run_id = (int)n,
	                        .timeline_path = tl_path,
	                        .prepare = install,
	                        .hook_arg = &hook};
	engine_run(ctx, &spec, &res);
	unlink(disk);
	if (res.interrupted)
		return NULL;
	return state_record(x, st, n, b->cfg->name, &res, build_s, tl_rel, NULL);
}

/* The scenario as a crash state boots it: power on from that disk, judge. */
static int boot_scenario(const struct scenario *sc, struct scenario *out, struct step *step)
{
	*out = *sc;
	memset(step, 0, sizeof(*step));
	step->kind = STEP_RECOVER;
	step->off_time = "0ms";
	out->steps = step;
	out->n_steps = 1;
	return 0;
}

static int worker_main(void *arg, int in_fd, int out_fd, const struct board_cfg *bc)
{
	struct booter *bt = arg;
	struct explore *x = bt->x;
	struct board b;
	struct engine_ctx ctx = {0};
	struct scenario boot_sc;
	struct step step;
	FILE *in = fdopen(in_fd, "r");
	char line[64];

	close(bt->journal_fd); /* the parent's */
	if (board_open(&b, x->lab, bc->name, NULL, 0) < 0)
		return EXIT_INFRA;
	boot_scenario(x->sc, &boot_sc, &step);
	ctx.board = &b;
	while (!stop_requested() && in && fgets(line, sizeof(line), in)) {
		size_t i = strtoul(line, NULL, 10);
		char *rec;
		if (i >= bt->n_list)
			break;
		rec = boot_one(x, &ctx, &b, &boot_sc, bt->list[i], bt->num[i]);
		if (!rec || write(out_fd, rec, strlen(rec)) < 0) {
			free(rec);
			break;
		}
		free(rec);
	}
	engine_ctx_close(&ctx);
	board_close(&b);
	return 0;
}

/* ---- the parent ---- */

static int journal_line(struct booter *bt, const char *line)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/journal.jsonl", bt->x->o->out_dir);
	return journal_write_line(bt->journal_fd, path, line, "explore again");
}

static bool budget_left(struct booter *bt)
{
	const struct explore_opts *o = bt->x->o;

	if (stop_requested() || bt->next >= bt->n_list)
		return false;
	if (o->max_time_ns && clock_now_ns() - bt->x->t_start >= o->max_time_ns) {
		bt->out_of_time = true;
		return false;
	}
	return true;
}

static int assign(void *arg, struct worker *w)
{
	struct booter *bt = arg;
	char line[32];
	int rc;

	if (!budget_left(bt))
		return 0;
	snprintf(line, sizeof(line), "%zu\n", bt->next);
	rc = workers_send(w, line);
	if (rc < 0)
		return rc;
	w->running = (long)bt->next++;
	return 1;
}

static void on_record(void *arg, struct worker *w, const char *line)
{
	struct booter *bt = arg;
	json_t *j = json_loads(line, 0, NULL), *st = json_object_get(j, "state");
	int v;

	if (w->running < 0 || !st) {
		json_decref(j);
		return;
	}
	v = verdict_from_name(json_string_value(json_object_get(st, "verdict")));
	if (v < 0)
		v = VERDICT_INFRA_ERROR;
	bt->counts[v]++;
	if (v == VERDICT_INFRA_ERROR)
		bt->infra++;
	else if (!json_is_true(json_object_get(st, "pass")))
		bt->failed++;
	bt->done++;
	if (journal_line(bt, line) < 0)
		stop_request(SIGTERM);
	fprintf(stderr, "state %zu/%zu #%lld sel=%s %s phase=%s: %s (%s) %.1fs\n", bt->done,
	        bt->n_list, json_integer_value(json_object_get(st, "n")),
	        json_string_value(json_object_get(st, "sel")), w->board->name,
	        json_string_value(json_object_get(st, "phase")), verdict_name((enum verdict)v),
	        v == VERDICT_INFRA_ERROR                    ? "infra"
	        : json_is_true(json_object_get(st, "pass")) ? "pass"
	                                                    : "FAIL",
	        json_real_value(json_object_get(st, "duration_s")));
	bt->records[w->running] = json_incref(st);
	w->running = -1;
	json_decref(j);
}

/* --max-time: the loop wakes when it runs out. */
static int64_t wake(void *arg)
{
	const struct booter *bt = arg;

	if (bt->x->o->max_time_ns && !bt->out_of_time)
		return bt->x->t_start + bt->x->o->max_time_ns;
	return -1;
}

static bool fits(const struct board_cfg *b, const struct scenario *sc, const char **named)
{
	if (named) {
		bool found = false;
		for (size_t i = 0; named[i]; i++)
			found |= !strcmp(named[i], b->name);
		if (!found)
			return false;
	}
	for (size_t i = 0; sc->fits && sc->fits[i]; i++)
		if (!board_has_tag(b, sc->fits[i]))
			return false;
	return true;
}

static int journal_header(struct booter *bt)
{
	const struct explore *x = bt->x;
	json_t *argv = json_array(), *boards = json_array(), *sets = json_array(), *h;
	const char *const *ov = lab_get_overrides();
	char when[40], esc[1200], *text, *line = NULL;
	int rc = -ENOMEM;

	for (int i = 0; i < x->o->argc; i++) {
		json_escape_bytes(x->o->argv[i], strlen(x->o->argv[i]), esc, sizeof(esc));
		json_array_append_new(argv, json_string(esc));
	}
	for (size_t i = 0; ov && ov[i]; i++)
		json_array_append_new(sets, json_string(ov[i]));
	for (int i = 0; i < bt->pool.n; i++)
		json_array_append_new(boards, json_string(bt->pool.w[i].board->name));
	wall_iso_now(when, sizeof(when));
	h = json_pack("{s:i, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:I, s:i, s:s, s:f, s:s, s:{s:I, "
	              "s:I, s:I, s:I, s:I}, s:I, s:I, s:I, s:I}",
	              "format", 1, "hilctl_version", HILCTL_VERSION, "started", when, "lab",
	              x->lab->path, "scenario", x->sc->name, "boards", boards, "argv", argv, "sets",
	              sets, "seed", (json_int_t)x->o->seed, "reorder", (int)x->o->reorder, "record",
	              x->record_dir, "record_s", x->record_s, "record_verdict", x->record_verdict,
	              "log", "entries", (json_int_t)x->n, "writes", (json_int_t)x->states.n_writes,
	              "flushes", (json_int_t)x->states.n_flushes, "epochs",
	              (json_int_t)x->states.n_epochs, "phase_markers", (json_int_t)x->n_ph,
	              "states", (json_int_t)x->states.n, "distinct", (json_int_t)x->states.distinct,
	              "to_boot", (json_int_t)bt->n_list, "max_states",
	              (json_int_t)x->o->max_states);
	text = h ? json_dumps(json_pack("{s:o}", "explore", h), JSON_COMPACT | JSON_ENSURE_ASCII)
	         : NULL;
	if (text && asprintf(&line, "%s\n", text) >= 0)
		rc = journal_line(bt, line);
	free(text);
	free(line);
	return rc;
}

static void journal_end(struct booter *bt, double elapsed, bool complete)
{
	char when[40], *text, *line = NULL;
	json_t *counts = json_object();

	for (int v = 0; v < VERDICT_COUNT; v++)
		if (bt->counts[v])
			json_object_set_new(counts, verdict_name((enum verdict)v),
			                    json_integer((json_int_t)bt->counts[v]));
	wall_iso_now(when, sizeof(when));
	text = json_dumps(json_pack("{s:{s:s, s:I, s:f, s:f, s:f, s:o, s:b, s:b, s:b}}", "end",
	                            "finished", when, "booted", (json_int_t)bt->done, "total_s",
	                            (double)(clock_now_ns() - bt->x->t_start) / NS_PER_S, "boot_s",
	                            elapsed, "states_per_min",
	                            elapsed > 0 ? (double)bt->done * 60.0 / elapsed : 0.0,
	                            "verdicts", counts, "complete", complete, "out_of_time",
	                            bt->out_of_time, "interrupted", stop_requested() != 0),
	                  JSON_COMPACT);
	if (text && asprintf(&line, "%s\n", text) >= 0)
		journal_line(bt, line);
	free(text);
	free(line);
}

/* The booted states, in boot-list order: one table row each, or (failures)
 * a paragraph with the reason and the reproduce command for each failure. */
static void print_states(const struct booter *bt, bool failures)
{
	for (size_t i = 0; i < bt->n_list; i++) {
		json_t *r = bt->records[i];
		long long n, at, epoch;
		const char *phase, *verdict;
		bool pass;

		if (!r)
			continue;
		n = json_integer_value(json_object_get(r, "n"));
		at = json_integer_value(json_object_get(r, "at"));
		epoch = json_integer_value(json_object_get(r, "epoch"));
		phase = json_string_value(json_object_get(r, "phase"));
		verdict = json_string_value(json_object_get(r, "verdict"));
		pass = json_is_true(json_object_get(r, "pass"));
		if (!failures)
			printf("%6lld  %-24.24s %-7s %7lld %6lld  %-10.10s %-13s %s\n", n,
			       json_string_value(json_object_get(r, "sel")),
			       json_string_value(json_object_get(r, "class")), at, epoch, phase,
			       verdict, pass ? "" : "FAIL");
		else if (!pass)
			printf("\nstate %lld, write %lld, epoch %lld, phase %s (%s): %s: %s\n  "
			       "reproduce: "
			       "%s\n",
			       n, at, epoch, phase, json_string_value(json_object_get(r, "marker")),
			       verdict, json_string_value(json_object_get(r, "reason")),
			       json_string_value(json_object_get(r, "reproduce")));
	}
}

static void summary(struct booter *bt, double elapsed)
{
	const struct explore *x = bt->x;

	printf("explore %s: recording %zu log entries (%zu writes, %zu flushes, %zu epochs), "
	       "%zu phase markers\n",
	       x->sc->name, x->n, x->states.n_writes, x->states.n_flushes, x->states.n_epochs,
	       x->n_ph);
	printf("states: %zu enumerated, %zu distinct, %zu booted in %.0f s (%.2f states/min, "
	       "-j %d); recording %.0f s, all %.0f s\n\n",
	       x->states.n, x->states.distinct, bt->done, elapsed,
	       elapsed > 0 ? (double)bt->done * 60.0 / elapsed : 0.0, bt->pool.n, x->record_s,
	       (double)(clock_now_ns() - x->t_start) / NS_PER_S);
	printf("%6s  %-24s %-7s %7s %6s  %-10s %-13s %s\n", "state", "selection", "class", "write",
	       "epoch", "phase", "verdict", "");
	print_states(bt, false);
	printf("\nverdicts:");
	for (int v = 0; v < VERDICT_COUNT; v++)
		if (bt->counts[v])
			printf(" %s %zu", verdict_name((enum verdict)v), bt->counts[v]);
	printf("\n");
	print_states(bt, true);
	if (bt->done < bt->n_list)
		printf("\n%zu of %zu distinct states not booted (%s): --max-states, --max-time, or "
		       "-j N with more boards\n",
		       bt->n_list - bt->done, bt->n_list,
		       stop_requested()  ? "interrupted"
		       : bt->out_of_time ? "--max-time"
		                         : "--max-states");
	printf("journal: %s/journal.jsonl, every state: %s/states.jsonl\n", x->o->out_dir,
	       x->o->out_dir);
}

/* --only: the states named on the command line, numbered as in states.jsonl
 * when the enumeration has them (0 when it does not). */
static int only_list(struct booter *bt, struct xs_state **owned)
{
	struct explore *x = bt->x;
	size_t n = 0;
	char why[200];

	while (x->o->only[n])
		n++;
	*owned = calloc(n + 1, sizeof(**owned));
	bt->list = calloc(n + 1, sizeof(*bt->list));
	bt->num = calloc(n + 1, sizeof(*bt->num));
	if (!*owned || !bt->list || !bt->num)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct xs_state *st = &(*owned)[i];
		if (explore_sel_parse(x->o->only[i], x->n, st, why, sizeof(why)) < 0) {
			hil_error("--only %s: %s", x->o->only[i], why);
			return -EINVAL;
		}
		st->cls = XS_ONLY;
		if (explore_hash_one(x, st) < 0)
			return -ENOMEM;
		bt->list[i] = st;
		for (size_t k = 0; k < x->states.n && !bt->num[i]; k++)
			if (x->states.s[k].hash[0] == st->hash[0] &&
			    x->states.s[k].hash[1] == st->hash[1])
				bt->num[i] = k + 1;
		/* identical to an enumerated state: boot it under the enumeration's class */
		if (bt->num[i])
			st->cls = x->states.s[bt->num[i] - 1].cls;
	}
	bt->n_list = n;
	return 0;
}

static int boot_list(struct booter *bt)
{
	struct explore *x = bt->x;

	bt->list = calloc(x->states.n + 1, sizeof(*bt->list));
	bt->num = calloc(x->states.n + 1, sizeof(*bt->num));
	if (!bt->list || !bt->num)
		return -ENOMEM;
	for (size_t i = 0; i < x->states.n; i++) {
		if (x->states.s[i].dup_of >= 0)
			continue;
		if (x->o->max_states && bt->n_list >= (size_t)x->o->max_states)
			break;
		bt->num[bt->n_list] = i + 1;
		bt->list[bt->n_list++] = &x->states.s[i];
	}
	return 0;
}

static int pick_boards(struct booter *bt)
{
	const struct explore *x = bt->x;
	int jobs = x->o->jobs > 0 ? x->o->jobs : 1;

	for (size_t i = 0; i < x->lab->n_boards && bt->pool.n < jobs; i++) {
		const struct board_cfg *b = &x->lab->boards[i];
		struct explore_disk d;
		if (!fits(b, x->sc, x->o->boards) || explore_find_disk(x->lab, b, &d) < 0)
			continue;
		if (strcmp(d.base, x->disk.base) != 0) {
			hil_warn("board \"%s\" runs on %s, not on the recorded %s: not used",
			         b->name, d.base, x->disk.base);
			continue;
		}
		bt->pool.w[bt->pool.n++].board = b;
	}
	if (!bt->pool.n) {
		hil_error("%s: no board fits scenario %s with the recorded disk%s", x->lab->path,
		          x->sc->name, x->o->boards ? " (--board limits the choice)" : "");
		return -ENOENT;
	}
	return 0;
}

static int exit_code(const struct booter *bt)
{
	if (bt->failed) {
		fprintf(stderr,
		        "gate: FAIL (%zu crash states ended in a state the scenario does not "
		        "allow)\n",
		        bt->failed);
		return EXIT_FAILED;
	}
	if (bt->infra || stop_requested()) {
		fprintf(stderr, "gate: INCOMPLETE (%zu infrastructure errors%s)\n", bt->infra,
		        stop_requested() ? ", interrupted" : "");
		return EXIT_INFRA;
	}
	fprintf(stderr, "gate: PASS (%zu crash states booted, every one allowed)\n", bt->done);
	return EXIT_OK;
}

int explore_boot_all(struct explore *x)
{
	struct booter bt = {.x = x,
	                    .journal_fd = -1,
	                    .pool = {.arg = &bt,
	                             .child = worker_main,
	                             .assign = assign,
	                             .on_record = on_record,
	                             .wake = wake}};
	struct xs_state *owned = NULL;
	char path[PATH_MAX + 32];
	double elapsed;
	int rc = x->o->only ? only_list(&bt, &owned) : boot_list(&bt);

	if (rc == 0)
		rc = pick_boards(&bt);
	if (rc < 0) {
		rc = cli_exit_for(rc);
		goto out;
	}
	snprintf(path, sizeof(path), "%s/states", x->o->out_dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/journal.jsonl", x->o->out_dir);
	bt.journal_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	bt.records = calloc(bt.n_list + 1, sizeof(*bt.records));
	if (bt.journal_fd < 0 || !bt.records || journal_header(&bt) < 0) {
		hil_error("%s: cannot write the journal: %s", path, strerror(errno));
		rc = EXIT_INFRA;
		goto out;
	}
	fprintf(stderr, "explore: booting %zu of %zu distinct states on %d board(s)\n", bt.n_list,
	        x->states.distinct, bt.pool.n);
	workers_start(&bt.pool);
	bt.t_boot = clock_now_ns();
	workers_run(&bt.pool);
	workers_stop(&bt.pool, 60 * NS_PER_S);
	elapsed = (double)(clock_now_ns() - bt.t_boot) / NS_PER_S;
	journal_end(&bt, elapsed, bt.done == bt.n_list);
	summary(&bt, elapsed);
	rc = exit_code(&bt);
out:
	if (bt.journal_fd >= 0)
		close(bt.journal_fd);
	for (size_t i = 0; bt.records && i < bt.n_list; i++)
		json_decref(bt.records[i]);
	free(bt.records);
	if (owned)
		for (size_t i = 0; i < bt.n_list; i++)
			free(owned[i].extra);
	free(owned);
	free(bt.list);
	free(bt.num);
	return rc;
}

int explore_write_states(const struct explore *x)
{
	char path[PATH_MAX + 32], sel[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/states.jsonl", x->o->out_dir);
	f = fopen(path, "w");
	if (!f) {
		hil_error("%s: %s", path, strerror(errno));
		return -errno;
	}
	for (size_t i = 0; i < x->states.n; i++) {
		const struct xs_state *st = &x->states.s[i];
		if (explore_sel_format(st, sel, sizeof(sel)) < 0)
			snprintf(sel, sizeof(sel), "%u+...", st->prefix);
		fprintf(f,
		        "{\"n\":%zu,\"sel\":\"%s\",\"class\":\"%s\",\"at\":%u,\"epoch\":%u,"
		        "\"phase\":\"%s\",\"hash\":\"%016llx%016llx\",\"dup_of\":%ld}\n",
		        i + 1, sel, explore_class_name(st->cls), st->at, st->epoch,
		        phase_name(x, st), (unsigned long long)st->hash[0],
		        (unsigned long long)st->hash[1], st->dup_of >= 0 ? st->dup_of + 1 : 0);
	}
	return fclose(f) == 0 ? 0 : -EIO;
}

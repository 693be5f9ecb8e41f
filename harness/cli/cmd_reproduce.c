/* harness/cli/cmd_reproduce.c — "hilctl reproduce DIR RUN": boot the disk a
 * failing campaign run kept (its board's disk right after the run's last
 * fault, qemu/postfault.h) through the oracle again, as the explorer boots a
 * crash state: one recover step, the disk installed by engine_run's prepare
 * hook. The scenario's steps are not run again (that is the run's "rerun"). */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness/cli/cli.h"
#include "harness/lab/board.h"
#include "harness/lab/lab.h"
#include "harness/run/engine.h"
#include "lib/log.h"
#include "lib/num.h"
#include "lib/text.h"

static const char help[] =
    "usage: hilctl reproduce DIR RUN [--board B] [--out D]\n\n"
    "Replay the recorded crash state of failing run RUN (its journal id) of the\n"
    "campaign in DIR: boot the very disk the board booted after the run's last power\n"
    "cut, kept in DIR when the run failed, and judge it with the scenario's oracle.\n"
    "The scenario's steps are not executed again: the journal's \"rerun\" command\n"
    "does that (a new recording, which may not fail the same way).\n\n"
    "  --board B   boot it on board B (default: the run's board; same disk image)\n"
    "  --out D     the replay's timeline goes to D/timeline.jsonl\n"
    "              (default: DIR/reproduce/RUN-N, N the first unused)\n\n"
    "exit: 0 the replay ends in a state the scenario allows, 1 it does not,\n"
    "      2 usage (no such run, or it kept no disk), 3 infrastructure error\n";

struct replay {
	long id;
	const char *board, *scenario_name, *point, *verdict, *rerun;
	const char *disk, *lab, *scenario;
	unsigned long long seed;
	const char **sets; /* NULL-terminated, borrowed from rec */
	json_t *rec;       /* owned */
};

/* The run record with this id in DIR's journals (journal*.jsonl); when
 * several shards have one, board picks (or it is an error). */
static int find_run(const char *dir, long id, const char *board, json_t **out)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int found = 0;

	*out = NULL;
	if (!d) {
		hil_error("%s: %s", dir, strerror(errno));
		return -ENOENT;
	}
	while ((de = readdir(d))) {
		char path[PATH_MAX + 300], *line = NULL;
		size_t cap = 0;
		FILE *f;
		size_t n = strlen(de->d_name);
		if (strncmp(de->d_name, "journal", 7) != 0 || n < 6 ||
		    strcmp(de->d_name + n - 6, ".jsonl") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (!(f = fopen(path, "r")))
			continue;
		while (getline(&line, &cap, f) > 0) {
			json_t *j = json_loads(line, 0, NULL), *run = json_object_get(j, "run");
			const char *b = json_string_value(json_object_get(run, "board"));
			if (run && json_integer_value(json_object_get(run, "id")) == id &&
			    (!board || (b && !strcmp(b, board)))) {
				/* the later record of one key counts (docs/journal.md) */
				json_decref(*out);
				*out = json_incref(run);
				found++;
			}
			json_decref(j);
		}
		free(line);
		fclose(f);
	}
	closedir(d);
	if (!*out) {
		hil_error("%s: no run %ld in its journals%s%s", dir, id, board ? " on board " : "",
		          board ? board : "");
		return -ENOENT;
	}
	return found;
}

static int load_replay(const char *dir, long id, const char *board, struct replay *r)
{
	json_t *rp, *sets;
	size_t n;

	memset(r, 0, sizeof(*r));
	if (find_run(dir, id, board, &r->rec) < 0)
		return -ENOENT;
	r->id = id;
	r->board = json_string_value(json_object_get(r->rec, "board"));
	r->scenario_name = json_string_value(json_object_get(r->rec, "scenario"));
	r->point = json_string_value(json_object_get(r->rec, "point"));
	r->verdict = json_string_value(json_object_get(r->rec, "verdict"));
	r->rerun = json_string_value(json_object_get(r->rec, "rerun"));
	r->seed = (unsigned long long)json_integer_value(json_object_get(r->rec, "seed"));
	rp = json_object_get(r->rec, "replay");
	r->disk = json_string_value(json_object_get(rp, "disk"));
	r->lab = json_string_value(json_object_get(rp, "lab"));
	r->scenario = json_string_value(json_object_get(rp, "scenario"));
	sets = json_object_get(rp, "sets");
	if (!r->disk || !r->lab || !r->scenario || !r->board) {
		json_t *why = json_object_get(r->rec, "reproduce");
		hil_error("%s: run %ld (%s) kept no disk to replay: only a run that did not pass "
		          "and had a power cut keeps one; run it again from scratch with: %s",
		          dir, id, json_string_value(json_object_get(r->rec, "outcome")),
		          json_string_value(why) ? json_string_value(why) : "hilctl run ...");
		return -EINVAL;
	}
	n = json_array_size(sets);
	r->sets = calloc(n + 1, sizeof(*r->sets));
	if (!r->sets)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		r->sets[i] = json_string_value(json_array_get(sets, i));
	return 0;
}

struct install_hook {
	const char *disk;
};

static int install(void *arg, struct board *b)
{
	struct install_hook *h = arg;
	char why[500] = "";
	int rc = power_install_disk(&b->power, h->disk, why, sizeof(why));

	if (rc == -EOPNOTSUPP)
		hil_error("board \"%s\": its power driver cannot boot a kept disk (QEMU boards "
		          "can)",
		          b->cfg->name);
	else if (rc < 0)
		hil_error("board \"%s\": cannot boot the kept disk %s: %s", b->cfg->name, h->disk,
		          why[0] ? why : strerror(-rc));
	return rc;
}

static void print_clean(const char *label, const char *text)
{
	struct sbuf b = {0};

	text_clean(&b, text, strlen(text), TEXT_STRIP_ANSI);
	printf("%s%s\n", label, b.s ? b.s : "");
	sbuf_free(&b);
}

static void print_result(const struct replay *r, const struct run_result *res, const char *tl_path)
{
	bool same = r->verdict && !strcmp(r->verdict, verdict_name(res->verdict));

	printf("verdict: %s (%s by the scenario); the recorded run: %s -> %s\n",
	       verdict_name(res->verdict), res->pass ? "allowed" : "NOT allowed",
	       r->verdict ? r->verdict : "?", same ? "same verdict" : "DIFFERENT verdict");
	print_clean("reason: ", res->reason);
	printf("evidence:\n");
	for (size_t i = 0; i < res->n_evidence; i++) {
		const struct oracle_evidence *e = &res->evidence[i];
		char label[64];
		snprintf(label, sizeof(label), "  %8.3f %-4s ",
		         (double)(e->t_ns - res->t0_ns) / 1e9, e->kind);
		print_clean(label, e->text);
	}
	printf("timeline: %s\n", tl_path);
}

/* DIR/reproduce/RUN-N for the first N not there yet. */
static void default_out(const char *dir, long id, char *out, size_t size)
{
	char parent[PATH_MAX - 64];

	snprintf(parent, sizeof(parent), "%s/reproduce", dir);
	mkdir(parent, 0755);
	for (int n = 1;; n++) {
		if (snprintf(out, size, "%s/%ld-%d", parent, id, n) >= (int)size)
			return;
		if (mkdir(out, 0755) == 0 || errno != EEXIST)
			return;
	}
}

/* The scenario as a kept disk boots it: power on from that disk, judge
 * (as harness/explore/explore_boot.c boots a crash state). */
static void boot_scenario(const struct scenario *sc, struct scenario *out, struct step *step)
{
	*out = *sc;
	memset(step, 0, sizeof(*step));
	step->kind = STEP_RECOVER;
	step->off_time = "0ms";
	out->steps = step;
	out->n_steps = 1;
	out->snapshot = false; /* the kept disk is the state, not a saved machine */
}

static int replay_run(const struct replay *r, const char *dir, const char *board,
                      const char *out_dir)
{
	char disk[PATH_MAX + 700], tl_path[PATH_MAX + 32];
	struct install_hook hook = {.disk = disk};
	struct scenario *sc = NULL, boot_sc;
	struct step step;
	struct engine_ctx ctx = {0};
	struct run_result res;
	struct board b;
	struct lab *lab;
	int rc;

	snprintf(disk, sizeof(disk), "%s/%s", dir, r->disk);
	if (access(disk, R_OK) < 0) {
		hil_error("%s: %s (run %ld's kept disk)", disk, strerror(errno), r->id);
		return EXIT_USAGE;
	}
	lab_set_overrides(r->sets);
	lab = lab_load(r->lab);
	if (lab)
		sc = scenario_load(r->scenario);
	if (!lab || !sc) {
		lab_free(lab);
		return EXIT_USAGE;
	}
	snprintf(tl_path, sizeof(tl_path), "%s/timeline.jsonl", out_dir);
	boot_scenario(sc, &boot_sc, &step);
	printf("reproduce: run %ld of %s (scenario %s, point %s, seed %llu, board %s)\n", r->id,
	       dir, r->scenario_name ? r->scenario_name : sc->name, r->point ? r->point : "-",
	       r->seed, board);
	printf("  replays the recorded crash state: boots the disk the board booted after the "
	       "run's last\n  power cut (%s) and judges it with the oracle; the scenario's "
	       "steps are not run again\n",
	       disk);
	rc = board_open(&b, lab, board, NULL, 0);
	if (rc < 0) {
		scenario_free(sc);
		lab_free(lab);
		return cli_exit_for(rc);
	}
	ctx.board = &b;
	struct run_spec spec = {.sc = &boot_sc,
	                        .point = r->point ? r->point : "-",
	                        .seed = r->seed,
	                        .run_id = (int)r->id,
	                        .timeline_path = tl_path,
	                        .prepare = install,
	                        .hook_arg = &hook};
	engine_run(&ctx, &spec, &res);
	engine_ctx_close(&ctx);
	board_close(&b);
	scenario_free(sc);
	lab_free(lab);
	if (res.interrupted)
		return EXIT_INFRA;
	print_result(r, &res, tl_path);
	if (r->rerun)
		printf("rerun from scratch (a new recording, another thing): %s\n", r->rerun);
	if (res.verdict == VERDICT_INFRA_ERROR)
		return EXIT_INFRA;
	return res.pass ? EXIT_OK : EXIT_FAILED;
}

int cmd_reproduce(struct cli *cli)
{
	static const struct option opts[] = {
	    CLI_COMMON_LONGOPTS,
	    {"board", required_argument, NULL, 'b'},
	    {"out", required_argument, NULL, 'o'},
	    {NULL, 0, NULL, 0},
	};
	const char *board = NULL, *out = NULL;
	char out_buf[PATH_MAX];
	long long id;
	struct replay r;
	int c, rc;

	while ((c = getopt_long(cli->argc, cli->argv, "h", opts, NULL)) != -1) {
		int h = cli_common_opt(cli, c, help);
		if (h == -1)
			return EXIT_OK;
		if (h < 0)
			return EXIT_USAGE;
		if (h == 1)
			continue;
		if (c == 'b')
			board = optarg;
		else if (c == 'o')
			out = optarg;
	}
	if (cli->argc - optind != 2) {
		fputs(help, stderr);
		return EXIT_USAGE;
	}
	if (num_opt("RUN", cli->argv[optind + 1], 0, 1000000000, &id) < 0)
		return EXIT_USAGE;
	rc = load_replay(cli->argv[optind], (long)id, NULL, &r);
	if (rc < 0) {
		json_decref(r.rec);
		free(r.sets);
		return EXIT_USAGE;
	}
	if (out) {
		snprintf(out_buf, sizeof(out_buf), "%s", out);
		mkdir(out_buf, 0755);
	} else {
		default_out(cli->argv[optind], (long)id, out_buf, sizeof(out_buf));
	}
	rc = replay_run(&r, cli->argv[optind], board ? board : r.board, out_buf);
	json_decref(r.rec);
	free(r.sets);
	return rc;
}

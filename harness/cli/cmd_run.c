/* harness/cli/cmd_run.c — "hilctl run" and "hilctl qualify": parse the
 * campaign's options and hand them to the campaign runner. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness/campaign/campaign.h"
#include "harness/campaign/workers.h"
#include "harness/lab/lab.h"
#include "harness/cli/cli.h"
#include "lib/log.h"
#include "lib/num.h"
#include "reports/journal_read.h"

/* Where make install puts the scenarios and example labs (PREFIX/share/hilctl). */
#ifndef HILCTL_DATADIR
#define HILCTL_DATADIR "/usr/local/share/hilctl"
#endif

static const char run_help[] =
    "usage: hilctl [--lab FILE] run SCENARIO... [--out DIR] [options]\n"
    "       hilctl run --resume DIR\n\n"
    "Run each scenario over its fault points on the lab's boards that fit it, judge\n"
    "every run, and append it to DIR/journal.jsonl as it ends.\n\n"
    "  --board B        use this board (repeat for several); default: any that fits\n"
    "  --board auto     one board: the one Slurm allocated to this task (its GRES\n"
    "                   board, see hilctl gres), else a free board of this host\n"
    "                   (by lock); implied by --shard auto inside a Slurm job\n"
    "  --sweep A:B:S    fault points from A to B in steps of S (or a list: 1,5,9)\n"
    "  --runs N         N points drawn at random from the scenario's sweep range\n"
    "  --repeat K       run every point K times (flaky bugs, confidence bounds)\n"
    "  --point P        only this point (what a run's reproduce command uses)\n"
    "  --seed S         seed for random points and the runs' own seeds (default 1)\n"
    "  -j N             boards in parallel (default 1)\n"
    "  --bisect N       after the sweep, up to N extra runs per scenario to narrow\n"
    "                   the window between a pass and a failure (default 4)\n"
    "  --shard I/N      run only slice I (from 0) of N of the campaign; --shard auto\n"
    "                   takes I and N from Slurm arrays, GitLab parallel: or a\n"
    "                   Kubernetes Indexed Job (with --shards N)\n"
    "  --out DIR        where the journal, timelines and reports go (default\n"
    "                   ./hilctl-out; a directory that holds a campaign is refused)\n"
    "  --max-failures N stop after N runs failed the gate (finding a bug fast)\n"
    "  --dry-run        check the scenarios and list the runs; run nothing\n"
    "  --resume DIR     finish an interrupted campaign: runs in its journal are not\n"
    "                   done again\n\n"
    "exit: 0 every run ended in an allowed state, 1 a run failed the gate,\n"
    "      2 usage or configuration error, 3 infrastructure error or interrupted\n";

static const char qualify_help[] =
    "usage: hilctl [--lab FILE] qualify [--out DIR] [--scenarios DIR] [run options]\n\n"
    "Run the qualification suite: the scenarios listed in DIR/qualify.suite\n"
    "(or every DIR/*.yaml when DIR has no suite file), each on the lab's boards\n"
    "that fit it. DIR is --scenarios, else ./scenarios, else the installed suite\n"
    "(" HILCTL_DATADIR "/scenarios). Takes the options of hilctl run; --out\n"
    "defaults to ./qualify-out.\n";

enum {
	OPT_BOARD = 256,
	OPT_SWEEP,
	OPT_RUNS,
	OPT_POINT,
	OPT_SEED,
	OPT_OUT,
	OPT_RESUME,
	OPT_BISECT,
	OPT_SHARD,
	OPT_SCENARIOS,
	OPT_DRY_RUN,
	OPT_MAX_FAIL,
	OPT_REPEAT,
	OPT_SHARDS
};

static int env_int(const char *name, int *out)
{
	const char *v = getenv(name);
	long long n;

	if (!v || !v[0])
		return 0;
	if (num_parse_ll(v, 0, 1000000, &n) < 0) {
		hil_error("--shard auto: %s=\"%s\" is not a number (0 to 1000000)", name, v);
		return -EINVAL;
	}
	*out = (int)n;
	return 1;
}

/* --shard auto: I and N from the scheduler that started this process. */
static int shard_auto(struct campaign_opts *o, int shards)
{
	int id, min = 0, count, index, total;

	if (env_int("SLURM_ARRAY_TASK_ID", &id) == 1 &&
	    env_int("SLURM_ARRAY_TASK_COUNT", &count) == 1) {
		env_int("SLURM_ARRAY_TASK_MIN", &min);
		o->shard_index = id - min;
		o->shard_count = count;
	} else if (env_int("CI_NODE_INDEX", &index) == 1 && env_int("CI_NODE_TOTAL", &total) == 1) {
		o->shard_index = index - 1; /* GitLab counts from 1 */
		o->shard_count = total;
	} else if (env_int("JOB_COMPLETION_INDEX", &index) == 1) {
		if (shards < 1) {
			hil_error("--shard auto under a Kubernetes Indexed Job needs --shards N "
			          "(Kubernetes gives no total)");
			return -EINVAL;
		}
		o->shard_index = index;
		o->shard_count = shards;
	} else {
		hil_error(
		    "--shard auto: no scheduler told this process its shard (SLURM_ARRAY_TASK_ID, "
		    "CI_NODE_INDEX or JOB_COMPLETION_INDEX); give --shard I/N");
		return -EINVAL;
	}
	if (o->shard_index < 0 || o->shard_index >= o->shard_count ||
	    o->shard_count > JOURNAL_MAX_SHARDS) {
		hil_error("--shard auto: shard %d of %d is out of range (at most %d shards)",
		          o->shard_index, o->shard_count, JOURNAL_MAX_SHARDS);
		return -EINVAL;
	}
	return 0;
}

static int parse_shard(const char *arg, struct campaign_opts *o)
{
	if (!strcmp(arg, "auto")) {
		o->shard_count = -1; /* resolved after all options (--shards) */
		return 0;
	}
	const char *slash = strchr(arg, '/');
	char index[16];
	long long i = -1, n = 0;

	if (slash && (size_t)(slash - arg) < sizeof(index)) {
		snprintf(index, sizeof(index), "%.*s", (int)(slash - arg), arg);
		if (num_parse_ll(index, 0, JOURNAL_MAX_SHARDS, &i) < 0 ||
		    num_parse_ll(slash + 1, 1, JOURNAL_MAX_SHARDS, &n) < 0)
			i = -1;
	}
	o->shard_index = (int)i;
	o->shard_count = (int)n;
	if (i < 0 || i >= n) {
		hil_error("--shard %s: give I/N with 0 <= I < N <= %d", arg, JOURNAL_MAX_SHARDS);
		return -EINVAL;
	}
	return 0;
}

static int add_str(const char ***list, const char *s)
{
	size_t n = 0;
	const char **nl;

	while (*list && (*list)[n])
		n++;
	nl = realloc(*list, (n + 2) * sizeof(char *));
	if (!nl)
		return -ENOMEM;
	nl[n] = s;
	nl[n + 1] = NULL;
	*list = nl;
	return 0;
}

static int parse(struct cli *cli, struct campaign_opts *o, const char **scen_dir, const char *help)
{
	static const struct option opts[] = {
	    CLI_COMMON_LONGOPTS,
	    {"board", required_argument, NULL, OPT_BOARD},
	    {"sweep", required_argument, NULL, OPT_SWEEP},
	    {"runs", required_argument, NULL, OPT_RUNS},
	    {"point", required_argument, NULL, OPT_POINT},
	    {"seed", required_argument, NULL, OPT_SEED},
	    {"out", required_argument, NULL, OPT_OUT},
	    {"resume", required_argument, NULL, OPT_RESUME},
	    {"bisect", required_argument, NULL, OPT_BISECT},
	    {"shard", required_argument, NULL, OPT_SHARD},
	    {"scenarios", required_argument, NULL, OPT_SCENARIOS},
	    {"dry-run", no_argument, NULL, OPT_DRY_RUN},
	    {"max-failures", required_argument, NULL, OPT_MAX_FAIL},
	    {"repeat", required_argument, NULL, OPT_REPEAT},
	    {"shards", required_argument, NULL, OPT_SHARDS},
	    {NULL, 0, NULL, 0},
	};
	int c;

	while ((c = getopt_long(cli->argc, cli->argv, "hj:", opts, NULL)) != -1) {
		int r = cli_common_opt(cli, c, help);
		if (r == -1)
			return 100;
		if (r < 0)
			return EXIT_USAGE;
		if (r == 1)
			continue;
		switch (c) {
		case 'j':
			if (num_opt_int("-j", optarg, 1, WORKERS_MAX, &o->jobs) < 0)
				return EXIT_USAGE;
			break;
		case OPT_BOARD:
			if (!strcmp(optarg, "auto"))
				o->board_auto = true;
			else
				add_str(&o->boards, optarg);
			break;
		case OPT_SWEEP:
			o->sweep = optarg;
			break;
		case OPT_RUNS:
			if (num_opt_int("--runs", optarg, 1, PLAN_MAX_RUNS, &o->runs) < 0)
				return EXIT_USAGE;
			break;
		case OPT_POINT:
			o->point = optarg;
			break;
		case OPT_SEED:
			if (num_opt_ull("--seed", optarg, ULLONG_MAX, &o->seed) < 0)
				return EXIT_USAGE;
			break;
		case OPT_OUT:
			o->out_dir = optarg;
			break;
		case OPT_RESUME:
			o->out_dir = optarg;
			o->resume = true;
			break;
		case OPT_BISECT:
			if (num_opt_int("--bisect", optarg, 0, 1000, &o->bisect) < 0)
				return EXIT_USAGE;
			break;
		case OPT_SHARD:
			if (parse_shard(optarg, o) < 0)
				return EXIT_USAGE;
			break;
		case OPT_SCENARIOS:
			*scen_dir = optarg;
			break;
		case OPT_DRY_RUN:
			o->dry_run = true;
			break;
		case OPT_MAX_FAIL:
			if (num_opt_int("--max-failures", optarg, 0, PLAN_MAX_RUNS,
			                &o->max_failures) < 0)
				return EXIT_USAGE;
			break;
		case OPT_SHARDS:
			if (num_opt_int("--shards", optarg, 1, JOURNAL_MAX_SHARDS,
			                &o->shards_hint) < 0)
				return EXIT_USAGE;
			break;
		case OPT_REPEAT:
			if (num_opt_int("--repeat", optarg, 1, 1000, &o->repeat) < 0)
				return EXIT_USAGE;
			break;
		}
	}
	return -1;
}

/* --resume DIR alone: the campaign's own command line is in its journal. */
static int resume_args(const char *dir, struct cli *cli, char ***argv_out)
{
	char path[1024];
	json_t *j, *argv;
	FILE *f;
	char *line = NULL;
	size_t cap = 0;
	size_t n;

	snprintf(path, sizeof(path), "%s/journal.jsonl", dir);
	f = fopen(path, "r");
	if (!f || getline(&line, &cap, f) <= 0) {
		hil_error("--resume %s: no journal there (%s): a campaign stopped before it wrote "
		          "its journal never started; run it again without --resume",
		          dir, strerror(errno ? errno : ENOENT));
		if (f)
			fclose(f);
		free(line);
		return -ENOENT;
	}
	fclose(f);
	j = json_loads(line, 0, NULL);
	free(line);
	argv = json_object_get(json_object_get(j, "campaign"), "argv");
	if (!json_is_array(argv) || json_array_size(argv) < 1) {
		hil_error("%s: line 1 is not a campaign header", path);
		json_decref(j);
		return -EINVAL;
	}
	/* The lab and the --set values the campaign ran with. */
	{
		json_t *c = json_object_get(j, "campaign"), *sets = json_object_get(c, "sets");
		static const char *saved_sets[64];
		size_t k = 0;
		if (json_is_string(json_object_get(c, "lab")))
			cli->lab_path = strdup(json_string_value(json_object_get(c, "lab")));
		for (size_t i = 0; json_is_array(sets) && i < json_array_size(sets) && k < 63; i++)
			if (json_is_string(json_array_get(sets, i)))
				saved_sets[k++] =
				    strdup(json_string_value(json_array_get(sets, i)));
		if (k)
			lab_set_overrides(saved_sets);
	}
	n = json_array_size(argv);
	*argv_out = calloc(n + 3, sizeof(char *));
	for (size_t i = 0; i < n; i++)
		(*argv_out)[i] = strdup(json_string_value(json_array_get(argv, i)) ?: "");
	(*argv_out)[n] = strdup("--resume");
	(*argv_out)[n + 1] = strdup(dir);
	json_decref(j);
	return (int)n + 2;
}

/* DIR/qualify.suite: one scenario name a line, in the order to run them. */
static int suite_in(const char *dir, const char ***out)
{
	char path[1024], line[256];
	FILE *f;
	int lineno = 0;

	snprintf(path, sizeof(path), "%s/qualify.suite", dir);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		char *p, *name = line + strspn(line, " \t");
		lineno++;
		name[strcspn(name, " \t\r\n#")] = '\0';
		if (!name[0])
			continue;
		if (asprintf(&p, "%s/%s.yaml", dir, name) < 0)
			break;
		if (access(p, R_OK) < 0) {
			hil_error("%s:%d: no scenario %s", path, lineno, p);
			free(p);
			fclose(f);
			return -ENOENT;
		}
		add_str(out, p);
	}
	fclose(f);
	return 1;
}

static int scenarios_in(const char *dir, const char ***out)
{
	struct dirent **ents;
	int n = scandir(dir, &ents, NULL, alphasort);

	if (n < 0) {
		hil_error("--scenarios %s: %s", dir, strerror(errno));
		return -errno;
	}
	for (int i = 0; i < n; i++) {
		size_t len = strlen(ents[i]->d_name);
		if (len > 5 && !strcmp(ents[i]->d_name + len - 5, ".yaml")) {
			char *p;
			if (asprintf(&p, "%s/%s", dir, ents[i]->d_name) >= 0)
				add_str(out, p);
		}
		free(ents[i]);
	}
	free(ents);
	return 0;
}

/* qualify without --scenarios: ./scenarios in a checkout, else the suite
 * that make install put under $(PREFIX)/share/hilctl. */
static const char *default_scenarios_dir(void)
{
	struct stat st;

	if (stat("scenarios", &st) == 0 && S_ISDIR(st.st_mode))
		return "scenarios";
	return HILCTL_DATADIR "/scenarios";
}

static int run_common(struct cli *cli, bool qualify)
{
	struct campaign_opts o = {.seed = 1, .jobs = 1, .bisect = 4, .shard_count = 1};
	const char *scen_dir = default_scenarios_dir();
	int rc = parse(cli, &o, &scen_dir, qualify ? qualify_help : run_help);

	if (rc >= 0)
		return rc == 100 ? EXIT_OK : rc;
	if (o.resume && optind == cli->argc && !qualify) {
		/* Re-read the campaign's options from its journal. */
		char **argv = NULL;
		int argc = resume_args(o.out_dir, cli, &argv);
		if (argc < 0)
			return EXIT_USAGE;
		cli->argc = argc;
		cli->argv = argv;
		optind = 0;
		if (!strcmp(argv[0], "qualify"))
			return run_common(cli, true);
		o = (struct campaign_opts){.seed = 1, .jobs = 1, .bisect = 4, .shard_count = 1};
		rc = parse(cli, &o, &scen_dir, run_help);
		if (rc >= 0)
			return rc;
	}
	if (o.shard_count == -1) {
		if (shard_auto(&o, o.shards_hint) < 0)
			return EXIT_USAGE;
		/* A Slurm task runs on the board Slurm gave it, never on one it
		 * picks by itself (another task may hold that one). */
		if (getenv("SLURM_JOB_ID") && !o.boards)
			o.board_auto = true;
	}
	if (o.board_auto && o.boards) {
		hil_error("--board auto and --board NAME: give one or the other");
		return EXIT_USAGE;
	}
	o.lab_path = cli->lab_path;
	o.argc = cli->argc;
	o.argv = cli->argv;
	for (int i = optind; i < cli->argc; i++)
		add_str(&o.scenario_paths, cli->argv[i]);
	if (qualify && !o.scenario_paths) {
		int found = suite_in(scen_dir, &o.scenario_paths);
		if (found < 0 || (found == 0 && scenarios_in(scen_dir, &o.scenario_paths) < 0))
			return EXIT_USAGE;
	}
	if (!o.scenario_paths) {
		fputs(qualify ? qualify_help : run_help, stderr);
		return EXIT_USAGE;
	}
	if (!o.out_dir)
		o.out_dir = qualify ? "qualify-out" : "hilctl-out";
	rc = campaign_run(&o);
	free(o.boards);
	free(o.scenario_paths);
	return rc;
}

int cmd_run(struct cli *cli)
{
	return run_common(cli, false);
}

int cmd_qualify(struct cli *cli)
{
	return run_common(cli, true);
}

/* harness/cli/cmd_explore.c — "hilctl explore": record one update with every
 * disk write logged, enumerate the crash states it can leave, boot them
 * through the oracle (docs/explore.md). */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/cfg.h"
#include "harness/cli/cli.h"
#include "lib/clock.h"
#include "harness/explore/explore_int.h"
#include "lib/log.h"
#include "lib/num.h"

static const char help[] =
    "usage: hilctl [--lab FILE] explore SCENARIO --out DIR [options]\n\n"
    "Run the scenario's update once with every disk write logged and no fault, then\n"
    "boot the disks a power cut could have left at every flush boundary, phase change\n"
    "and write (plus seeded subsets and reorderings of the writes between two flushes),\n"
    "most informative first, and judge each with the oracle. Needs a QEMU board whose\n"
    "disk is a drive with overlay: true.\n\n"
    "  --board B        use this board (repeat for several); default: any that fits\n"
    "  -j N             boards in parallel (default 1)\n"
    "  --max-states N   boot at most N states (default: every distinct one)\n"
    "  --max-time D     hand out no new state after D (e.g. 20m)\n"
    "  --seed S         seed of the subsets and reorderings (default 1)\n"
    "  --reorder K      subsets/reorderings per flush epoch (default 2; 0: none)\n"
    "  --phase P        only the crash states of the flush epochs in flight at a\n"
    "                   marker of phase P (e.g. reboot; repeat for several)\n"
    "  --out DIR        journal.jsonl, states.jsonl, record/, states/NNNN-BOARD/\n"
    "  --from DIR       explore the recording of an earlier explore --out DIR again\n"
    "                   instead of recording (the log numbers its writes)\n"
    "  --only SEL       boot only this state: PREFIX[+I,J-K,...] (log entries from 0;\n"
    "                   repeat for several); what a failure's reproduce command uses\n"
    "  --list           record (or --from) and enumerate; write states.jsonl, boot nothing\n\n"
    "exit: 0 every booted state allowed, 1 a state failed (or the recording itself\n"
    "      did), 2 usage or configuration error, 3 infrastructure error or interrupted\n";

enum {
	OPT_BOARD = 256,
	OPT_MAX_STATES,
	OPT_MAX_TIME,
	OPT_SEED,
	OPT_REORDER,
	OPT_OUT,
	OPT_FROM,
	OPT_ONLY,
	OPT_LIST,
	OPT_PHASE
};

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

static int number(const char *opt, const char *arg, long max, long *out)
{
	long long v;

	if (num_opt(opt, arg, 0, max, &v) < 0)
		return -EINVAL;
	*out = (long)v;
	return 0;
}

static int parse(struct cli *cli, struct explore_opts *o)
{
	static const struct option opts[] = {
	    CLI_COMMON_LONGOPTS,
	    {"board", required_argument, NULL, OPT_BOARD},
	    {"max-states", required_argument, NULL, OPT_MAX_STATES},
	    {"max-time", required_argument, NULL, OPT_MAX_TIME},
	    {"seed", required_argument, NULL, OPT_SEED},
	    {"reorder", required_argument, NULL, OPT_REORDER},
	    {"out", required_argument, NULL, OPT_OUT},
	    {"from", required_argument, NULL, OPT_FROM},
	    {"only", required_argument, NULL, OPT_ONLY},
	    {"list", no_argument, NULL, OPT_LIST},
	    {"phase", required_argument, NULL, OPT_PHASE},
	    {NULL, 0, NULL, 0},
	};
	long v;
	unsigned long long seed;
	int c;

	while ((c = getopt_long(cli->argc, cli->argv, "hj:", opts, NULL)) != -1) {
		int r = cli_common_opt(cli, c, help);
		if (r == -1)
			return 100;
		if (r < 0)
			return -EINVAL;
		if (r == 1)
			continue;
		switch (c) {
		case 'j':
			if (number("-j", optarg, 64, &v) < 0 || v < 1)
				return -EINVAL;
			o->jobs = (int)v;
			break;
		case OPT_BOARD:
			add_str(&o->boards, optarg);
			break;
		case OPT_MAX_STATES:
			if (number("--max-states", optarg, 100000000, &v) < 0)
				return -EINVAL;
			o->max_states = v;
			break;
		case OPT_MAX_TIME:
			if (cfg_parse_duration(optarg, &o->max_time_ns) < 0) {
				hil_error("--max-time %s: give a duration (like 90s, 20m, 2h)",
				          optarg);
				return -EINVAL;
			}
			break;
		case OPT_SEED:
			if (num_opt_ull("--seed", optarg, ULLONG_MAX, &seed) < 0)
				return -EINVAL;
			o->seed = seed;
			break;
		case OPT_REORDER:
			if (number("--reorder", optarg, 1000, &v) < 0)
				return -EINVAL;
			o->reorder = (unsigned)v;
			break;
		case OPT_OUT:
			o->out_dir = optarg;
			break;
		case OPT_FROM:
			o->from_dir = optarg;
			break;
		case OPT_ONLY:
			add_str(&o->only, optarg);
			break;
		case OPT_LIST:
			o->list_only = true;
			break;
		case OPT_PHASE:
			add_str(&o->phases, optarg);
			break;
		default:
			return -EINVAL;
		}
	}
	if (optind + 1 != cli->argc) {
		hil_error("explore takes one scenario (hilctl explore --help)");
		return -EINVAL;
	}
	o->scenario_path = cli->argv[optind];
	if (!o->out_dir) {
		hil_error(
		    "explore: --out DIR is required (the journal and the recording go there)");
		return -EINVAL;
	}
	return 0;
}

static int prepare_out(const struct explore_opts *o)
{
	char path[PATH_MAX + 32];
	struct stat st;

	snprintf(path, sizeof(path), "%s/journal.jsonl", o->out_dir);
	if (stat(path, &st) == 0 && st.st_size > 0) {
		hil_error(
		    "%s already holds an exploration: choose another --out (--from %s explores "
		    "its recording again)",
		    o->out_dir, o->out_dir);
		return -EEXIST;
	}
	if (mkdir(o->out_dir, 0755) < 0 && errno != EEXIST) {
		hil_error("--out %s: cannot create it: %s", o->out_dir, strerror(errno));
		return -errno;
	}
	return 0;
}

static const struct board_cfg *record_board(const struct explore *x)
{
	for (size_t i = 0; i < x->lab->n_boards; i++) {
		const struct board_cfg *b = &x->lab->boards[i];
		bool named = !x->o->boards;
		for (size_t k = 0; x->o->boards && x->o->boards[k]; k++)
			named |= !strcmp(x->o->boards[k], b->name);
		bool ok = named;
		for (size_t k = 0; ok && x->sc->fits && x->sc->fits[k]; k++)
			ok = board_has_tag(b, x->sc->fits[k]);
		if (ok)
			return b;
	}
	return NULL;
}

/* Every --phase names a phase the recording has a marker of. */
static int check_phases(const struct explore *x)
{
	for (size_t i = 0; x->o->phases && x->o->phases[i]; i++) {
		char seen[1024] = "";
		size_t used = 0;
		bool found = false;
		for (size_t k = 0; k < x->n_ph && !found; k++) {
			found = !strcmp(x->ph[k].name, x->o->phases[i]);
			if (!strstr(seen, x->ph[k].name) &&
			    used + strlen(x->ph[k].name) + 3 < sizeof(seen))
				used += (size_t)snprintf(seen + used, sizeof(seen) - used, "%s%s",
				                         used ? ", " : "", x->ph[k].name);
		}
		if (!found) {
			hil_error(
			    "--phase %s: the recording has no marker of that phase (its phases: "
			    "%s)",
			    x->o->phases[i], used ? seen : "none");
			return -EINVAL;
		}
	}
	return 0;
}

static int run(struct explore *x)
{
	int rc;

	x->record_board = record_board(x);
	if (!x->record_board) {
		hil_error("%s: no board fits scenario %s%s", x->lab->path, x->sc->name,
		          x->o->boards ? " (--board limits the choice)" : "");
		return EXIT_USAGE;
	}
	if (explore_find_disk(x->lab, x->record_board, &x->disk) < 0)
		return EXIT_USAGE;
	if (x->o->from_dir) {
		snprintf(x->record_dir, sizeof(x->record_dir), "%s/record", x->o->from_dir);
	} else {
		snprintf(x->record_dir, sizeof(x->record_dir), "%s/record", x->o->out_dir);
		rc = explore_record(x);
		if (rc != EXIT_OK)
			return rc;
		free(x->ph); /* read back as --from would: one path for both */
		x->ph = NULL;
		x->n_ph = 0;
	}
	if ((rc = explore_load_record(x)) < 0)
		return cli_exit_for(rc);
	if (check_phases(x) < 0)
		return EXIT_USAGE;
	if ((rc = explore_load_log(x)) < 0 || (rc = explore_enumerate_log(x)) < 0)
		return rc == -ENOMEM ? EXIT_INFRA : EXIT_USAGE;
	if (explore_write_states(x) < 0)
		return EXIT_INFRA;
	fprintf(stderr,
	        "explore: %zu log entries (%zu writes, %zu flushes), %zu states, %zu "
	        "distinct\n",
	        x->n, x->states.n_writes, x->states.n_flushes, x->states.n, x->states.distinct);
	if (x->o->list_only) {
		printf("%s/states.jsonl: %zu states, %zu distinct\n", x->o->out_dir, x->states.n,
		       x->states.distinct);
		return EXIT_OK;
	}
	return explore_boot_all(x);
}

int cmd_explore(struct cli *cli)
{
	struct explore_opts o = {.seed = 1, .reorder = 2, .jobs = 1};
	struct explore x = {.o = &o, .t_start = clock_now_ns()};
	int rc = parse(cli, &o);

	if (rc == 100)
		return EXIT_OK;
	if (rc < 0) {
		rc = EXIT_USAGE;
		goto out;
	}
	o.lab_path = cli->lab_path;
	o.argc = cli->argc;
	o.argv = cli->argv;
	if (prepare_out(&o) < 0) {
		rc = EXIT_USAGE;
		goto out;
	}
	x.lab = cli_load_lab(cli);
	x.sc = x.lab ? scenario_load(o.scenario_path) : NULL;
	if (!x.lab || !x.sc) {
		rc = EXIT_USAGE;
		goto out;
	}
	rc = run(&x);
out:
	explore_unload(&x);
	scenario_free(x.sc);
	lab_free(x.lab);
	free(o.boards);
	free(o.only);
	free(o.phases);
	return rc;
}

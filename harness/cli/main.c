/* harness/cli/main.c — hilctl's entry point: global options, subcommand
 * dispatch, signal handling shared by every subcommand. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness/cli/cli.h"
#include "harness/lab/lab.h"
#include "lib/filemode.h"
#include "lib/log.h"

int cli_exit_for(int rc)
{
	if (rc >= 0)
		return EXIT_OK;
	if (rc == -EINVAL || rc == -ENOENT || rc == -ENOSYS)
		return EXIT_USAGE;
	if (rc == -ETIMEDOUT)
		return EXIT_FAILED;
	return EXIT_INFRA;
}

struct lab *cli_load_lab(const struct cli *cli)
{
	return lab_load(cli->lab_path);
}

static const struct {
	const char *name;
	int (*run)(struct cli *cli);
	const char *summary;
} commands[] = {
    {"boards", cmd_boards, "list the lab's boards, their wiring and locks"},
    {"check", cmd_check, "check the lab file and scenarios; touches no hardware"},
    {"power", cmd_power, "switch a board on, off, cycle it, or ask its state"},
    {"console", cmd_console, "attach to a board's console interactively"},
    {"expect", cmd_expect, "wait until the console shows one of several patterns"},
    {"run", cmd_run, "run a scenario over many fault points and judge every run"},
    {"qualify", cmd_qualify, "run the shipped qualification suite on a lab"},
    {"explore", cmd_explore, "boot every crash state of one recorded update"},
    {"reproduce", cmd_reproduce, "boot the disk a failing run kept, judge it again"},
    {"report", cmd_report, "write JUnit, TAP, JSON and HTML reports from journals"},
    {"submit", cmd_submit, "start a campaign on Slurm as a job array, one shard per board"},
    {"gres", cmd_gres, "print a lab host's Slurm gres.conf lines from the lab file"},
    {"lock", cmd_lock, "reserve a board for this shell"},
    {"unlock", cmd_unlock, "release a board"},
    {"wlog", cmd_wlog, "read a QEMU write log, rebuild the disk a power cut left"},
    {"flash", cmd_flash, "write an image (bmap, .gz/.xz/.zst) to a card or file, verified"},
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *out)
{
	fprintf(out, "usage: hilctl [--lab FILE] [-v|-q] COMMAND [ARGS]\n\n"
	             "Hardware-in-the-loop test harness and fault injector.\n\ncommands:\n");
	for (size_t i = 0; i < N_COMMANDS; i++)
		fprintf(out, "  %-9s %s\n", commands[i].name, commands[i].summary);
	fprintf(out,
	        "\noptions:\n"
	        "  --lab FILE   lab file (default: $HILCTL_LAB, else ./lab.yaml)\n"
	        "  --set N=V    value for ${N} in the lab file (e.g. --set variant=no-fsync)\n"
	        "  -v, -q       more or less output\n"
	        "  --version    print the version\n"
	        "  -h, --help   this text; \"hilctl COMMAND --help\" for a command\n\n"
	        "exit codes: 0 ok, 1 failed (gate or timeout), 2 usage or configuration error,\n"
	        "            3 infrastructure error (device, driver, lab)\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"lab", required_argument, NULL, 'l'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"set", required_argument, NULL, 's'},
	    {NULL, 0, NULL, 0},
	};
	static const char *sets[64];
	struct cli cli = {0};
	int c, level = LOG_WARN, n_sets = 0;

	cli.lab_path = getenv("HILCTL_LAB");
	if (!cli.lab_path || !cli.lab_path[0])
		cli.lab_path = "lab.yaml";
	/* "+": stop at the subcommand; its own options follow it. */
	while ((c = getopt_long(argc, argv, "+hvq", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			cli.lab_path = optarg;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		case 'V':
			printf("hilctl %s\n", HILCTL_VERSION);
			return EXIT_OK;
		case 'v':
			level++;
			break;
		case 'q':
			level = LOG_ERROR;
			break;
		case 's':
			if (!strchr(optarg, '=') || n_sets == 63) {
				hil_error("--set %s: give NAME=VALUE (at most 63 of them)", optarg);
				return EXIT_USAGE;
			}
			sets[n_sets++] = optarg;
			break;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	lab_set_overrides(sets);
	log_set_level(level > LOG_DEBUG ? LOG_DEBUG : (enum log_level)level);
	{
		/* Reports, journals and console logs may hold a board's secrets:
		 * 0640/0750 unless the user's umask is stricter or HILCTL_UMASK
		 * says otherwise. QEMU's console.log inherits it too. */
		mode_t inherited = umask(0);
		int mask = hil_umask_for(inherited, getenv("HILCTL_UMASK"));

		if (mask < 0) {
			umask(inherited);
			hil_error("HILCTL_UMASK=%s: give an octal mask, 0 to 0777 (e.g. 027)",
			          getenv("HILCTL_UMASK"));
			return EXIT_USAGE;
		}
		umask((mode_t)mask);
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	cli.argc = argc - optind;
	cli.argv = argv + optind;
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (strcmp(cli.argv[0], commands[i].name) == 0) {
			optind = 0; /* GNU getopt: re-initialise for the new argv */
			stop_install_signals();
			return commands[i].run(&cli);
		}
	if (strcmp(cli.argv[0], "help") == 0) {
		usage(stdout);
		return EXIT_OK;
	}
	hil_error("\"%s\" is not a command; hilctl --help lists them", cli.argv[0]);
	return EXIT_USAGE;
}

int cli_common_opt(struct cli *cli, int c, const char *help)
{
	switch (c) {
	case 'l':
		cli->lab_path = optarg;
		return 1;
	case 'h':
		fputs(help, stdout);
		return -1;
	case '?':
	case ':':
		fputs(help, stderr);
		return -2;
	default:
		return 0;
	}
}

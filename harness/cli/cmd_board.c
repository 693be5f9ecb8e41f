/* harness/cli/cmd_board.c — the board subcommands: boards, power, lock, unlock. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness/lab/board.h"
#include "lib/cfg.h"
#include "harness/cli/cli.h"
#include "lib/clock.h"
#include "harness/lab/lab.h"
#include "harness/lab/lock.h"
#include "lib/log.h"
#include "lib/num.h"

/* Parse only the common options; leaves positional arguments at optind. */
static int parse_common(struct cli *cli, const char *help)
{
	static const struct option opts[] = {CLI_COMMON_LONGOPTS, {NULL, 0, NULL, 0}};
	int c;

	while ((c = getopt_long(cli->argc, cli->argv, "h", opts, NULL)) != -1) {
		int r = cli_common_opt(cli, c, help);
		if (r == -1)
			return EXIT_OK + 100;
		if (r <= 0)
			return EXIT_USAGE;
	}
	return -1;
}

static const char boards_help[] =
    "usage: hilctl [--lab FILE] boards\n\n"
    "List the boards of the lab file: name, power driver, console type, tags and\n"
    "who holds each board's lock.\n";

int cmd_boards(struct cli *cli)
{
	struct lab *lab;
	int rc = parse_common(cli, boards_help);

	if (rc >= 0)
		return rc == 100 ? EXIT_OK : rc;
	lab = cli_load_lab(cli);
	if (!lab)
		return EXIT_USAGE;
	printf("%-16s %-10s %-8s %-24s %s\n", "BOARD", "POWER", "CONSOLE", "TAGS", "LOCK");
	for (size_t i = 0; i < lab->n_boards; i++) {
		const struct board_cfg *b = &lab->boards[i];
		const struct cfg_node *con = cfg_get(b->console, "type");
		struct lock_holder h;
		char tags[256] = "", lock[300] = "free";
		size_t used = 0;

		for (size_t t = 0; b->tags[t] && used < sizeof(tags); t++)
			used += (size_t)snprintf(tags + used, sizeof(tags) - used, "%s%s",
			                         t ? "," : "", b->tags[t]);
		if (lock_query(b->name, &h) == 1)
			snprintf(lock, sizeof(lock), "pid %d (%.200s)", (int)h.pid, h.cmd);
		printf("%-16s %-10s %-8s %-24s %s\n", b->name, cfg_get(b->power, "driver")->value,
		       con ? con->value : "-", tags[0] ? tags : "-", lock);
	}
	lab_free(lab);
	return EXIT_OK;
}

static const char power_help[] =
    "usage: hilctl [--lab FILE] power BOARD on|off|cycle|status [--off-time MS]\n\n"
    "  on       switch on (a QEMU board keeps running after hilctl exits; its\n"
    "           console output is kept in its state directory's console.log)\n"
    "  off      switch off\n"
    "  cycle    off, wait --off-time (default 1000 ms), on\n"
    "  status   print on, off or unknown (unknown where the hardware cannot tell)\n";

static int parse_power(struct cli *cli, long *off_ms)
{
	static const struct option opts[] = {
	    CLI_COMMON_LONGOPTS, {"off-time", required_argument, NULL, 'o'}, {NULL, 0, NULL, 0}};
	int c;

	while ((c = getopt_long(cli->argc, cli->argv, "h", opts, NULL)) != -1) {
		int r = cli_common_opt(cli, c, power_help);
		long long v;

		if (r == -1)
			return 100;
		if (r < 0)
			return EXIT_USAGE;
		if (r == 1)
			continue;
		if (num_opt("--off-time", optarg, 0, 3600000, &v) < 0)
			return EXIT_USAGE;
		*off_ms = (long)v;
	}
	return -1;
}

int cmd_power(struct cli *cli)
{
	static const char *const actions[] = {"on", "off", "cycle", "status", NULL};
	long off_ms = 1000;
	int rc = parse_power(cli, &off_ms), action = -1;
	struct board b;
	struct lab *lab;
	enum power_state st;

	if (rc >= 0)
		return rc == 100 ? EXIT_OK : rc;
	if (cli->argc - optind != 2) {
		fputs(power_help, stderr);
		return EXIT_USAGE;
	}
	for (int i = 0; actions[i]; i++)
		if (strcmp(cli->argv[optind + 1], actions[i]) == 0)
			action = i;
	if (action < 0) {
		hil_error("power: \"%s\" is not one of on, off, cycle, status",
		          cli->argv[optind + 1]);
		return EXIT_USAGE;
	}
	lab = cli_load_lab(cli);
	if (!lab)
		return EXIT_USAGE;
	rc = board_open(&b, lab, cli->argv[optind], NULL, BOARD_F_PERSIST | BOARD_F_NO_CONSOLE);
	if (rc < 0) {
		lab_free(lab);
		return cli_exit_for(rc);
	}
	switch (action) {
	case 0:
		rc = power_set(&b.power, true);
		if (rc == 0)
			rc = power_started(&b.power);
		break;
	case 1:
		rc = power_set(&b.power, false);
		break;
	case 2:
		rc = board_power_cycle(&b, off_ms * NS_PER_MS, clock_now_ns() + 60 * NS_PER_S);
		break;
	default:
		rc = power_get(&b.power, &st);
		if (rc == 0)
			printf("%s\n", power_state_name(st));
	}
	board_close(&b);
	lab_free(lab);
	return cli_exit_for(rc);
}

static const char lock_help[] =
    "usage: hilctl [--lab FILE] lock BOARD [--pid PID]\n\n"
    "Reserve BOARD for the calling shell (or PID) until \"hilctl unlock BOARD\" or\n"
    "until that process ends. Other hilctl processes refuse the board meanwhile and\n"
    "name the holder. Locks live in $HILCTL_LOCK_DIR (default /run/lock/hilctl).\n";

int cmd_lock(struct cli *cli)
{
	static const struct option opts[] = {
	    CLI_COMMON_LONGOPTS, {"pid", required_argument, NULL, 'p'}, {NULL, 0, NULL, 0}};
	pid_t holder = getppid();
	int pid;
	struct lab *lab;
	bool taken;
	int c, rc;

	while ((c = getopt_long(cli->argc, cli->argv, "h", opts, NULL)) != -1) {
		int r = cli_common_opt(cli, c, lock_help);
		if (r == -1)
			return EXIT_OK;
		if (r < 0)
			return EXIT_USAGE;
		if (r == 0 && num_opt_int("--pid", optarg, 1, INT_MAX, &pid) < 0)
			return EXIT_USAGE;
		if (r == 0)
			holder = (pid_t)pid;
	}
	if (cli->argc - optind != 1 || holder <= 0) {
		fputs(lock_help, stderr);
		return EXIT_USAGE;
	}
	lab = cli_load_lab(cli);
	if (!lab)
		return EXIT_USAGE;
	if (!lab_board(lab, cli->argv[optind])) {
		hil_error("%s: no board \"%s\"", lab->path, cli->argv[optind]);
		lab_free(lab);
		return EXIT_USAGE;
	}
	rc = lock_take(cli->argv[optind], holder, &taken);
	lab_free(lab);
	return rc == -EBUSY ? EXIT_FAILED : cli_exit_for(rc);
}

static const char unlock_help[] = "usage: hilctl [--lab FILE] unlock BOARD [--force]\n\n"
                                  "Release a board locked by \"hilctl lock\". --force releases a\n"
                                  "lock that another live process holds.\n";

int cmd_unlock(struct cli *cli)
{
	static const struct option opts[] = {
	    CLI_COMMON_LONGOPTS, {"force", no_argument, NULL, 'f'}, {NULL, 0, NULL, 0}};
	bool force = false;
	int c, rc;

	while ((c = getopt_long(cli->argc, cli->argv, "h", opts, NULL)) != -1) {
		int r = cli_common_opt(cli, c, unlock_help);
		if (r == -1)
			return EXIT_OK;
		if (r < 0)
			return EXIT_USAGE;
		if (r == 0)
			force = true;
	}
	if (cli->argc - optind != 1) {
		fputs(unlock_help, stderr);
		return EXIT_USAGE;
	}
	rc = lock_release(cli->argv[optind], force);
	return rc == -EPERM ? EXIT_FAILED : cli_exit_for(rc);
}

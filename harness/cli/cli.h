/* harness/cli/cli.h — what the subcommands share: options common to all, exit
 * codes, signal state. Each cmd_*.c implements one group of subcommands. */
#ifndef HILCTL_CLI_H
#define HILCTL_CLI_H

#include <signal.h>
#include <stdbool.h>

#include "lib/exitcode.h"
#include "lib/stop.h"

struct cli {
	const char *lab_path; /* --lab, $HILCTL_LAB, or ./lab.yaml */
	int argc;
	char **argv; /* argv[0] is the subcommand */
};

/* Map a driver's -errno to an exit code: config errors 2, others 3. */
int cli_exit_for(int rc);
/* Parse the common --lab/-h options in a subcommand's argv; returns the
 * getopt_long result for anything else. */
struct lab;
struct lab *cli_load_lab(const struct cli *cli);

int cmd_boards(struct cli *cli);
int cmd_check(struct cli *cli);
int cmd_power(struct cli *cli);
int cmd_lock(struct cli *cli);
int cmd_unlock(struct cli *cli);
int cmd_expect(struct cli *cli);
int cmd_console(struct cli *cli);
int cmd_run(struct cli *cli);
int cmd_qualify(struct cli *cli);
int cmd_report(struct cli *cli);
int cmd_gres(struct cli *cli);
int cmd_submit(struct cli *cli);
int cmd_wlog(struct cli *cli);
int cmd_explore(struct cli *cli);
int cmd_flash(struct cli *cli);
int cmd_reproduce(struct cli *cli);

/* Handle --lab (case 'l') and --help (case 'h') inside a subcommand's
 * getopt loop. Returns 1 when handled, 0 if not, -1 on --help (caller
 * returns EXIT_OK after help was printed) and -2 on an unknown option. */
int cli_common_opt(struct cli *cli, int c, const char *help);
#define CLI_COMMON_LONGOPTS                                                                        \
	{"lab", required_argument, NULL, 'l'},                                                     \
	{                                                                                          \
		"help", no_argument, NULL, 'h'                                                     \
	}
#endif

/* harness/cli/cmd_check.c — "hilctl check": load and check a lab file and
 * scenarios as a run would, touching no hardware. For CI and editors: every
 * error names file:line:col; exit 0 or 2. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "harness/campaign/campaign.h"
#include "harness/cli/cli.h"
#include "harness/lab/lab.h"
#include "harness/run/scenario.h"
#include "lib/log.h"

static const char check_help[] =
    "usage: hilctl [--lab FILE] check [SCENARIO...]\n\n"
    "Check the lab file and each scenario as hilctl run would before it powers\n"
    "anything: keys and values, every board's power, console, network and probe\n"
    "settings, every regex (compiled), durations and numbers with their ranges,\n"
    "sweep sizes, and that some board of the lab fits each scenario. Opens no\n"
    "device, socket or process and takes no lock. Every scenario is checked even\n"
    "after one fails; each error names file:line:col.\n\n"
    "exit: 0 all good, 2 an error was printed, 3 interrupted\n";

/* One scenario: loads, its sweep is not too large, a board fits it. */
static int check_scenario(const struct lab *lab, const char *path)
{
	struct scenario *s = scenario_load(path);
	char **points;
	size_t n = 0;
	int rc = 0;

	if (!s)
		return -1;
	points = scenario_points(s, &n);
	if (!points)
		rc = -1;
	points_free(points, n);
	if (rc == 0 && campaign_check_fits(lab, s, NULL) < 0)
		rc = -1;
	if (rc == 0)
		printf("%s: ok (scenario %s, %zu fault point%s)\n", path, s->name, n,
		       n == 1 ? "" : "s");
	scenario_free(s);
	return rc;
}

int cmd_check(struct cli *cli)
{
	static const struct option opts[] = {CLI_COMMON_LONGOPTS, {NULL, 0, NULL, 0}};
	struct lab *lab;
	int c, failed = 0;

	while ((c = getopt_long(cli->argc, cli->argv, "h", opts, NULL)) != -1) {
		int r = cli_common_opt(cli, c, check_help);
		if (r == -1)
			return EXIT_OK;
		if (r <= 0)
			return EXIT_USAGE;
	}
	lab = cli_load_lab(cli);
	if (!lab)
		return EXIT_USAGE;
	printf("%s: ok (%zu board%s)\n", lab->path, lab->n_boards, lab->n_boards == 1 ? "" : "s");
	for (int i = optind; i < cli->argc; i++) {
		if (stop_requested()) {
			lab_free(lab);
			return EXIT_INFRA;
		}
		failed += check_scenario(lab, cli->argv[i]) < 0;
	}
	lab_free(lab);
	return failed ? EXIT_USAGE : EXIT_OK;
}

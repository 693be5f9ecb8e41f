/* harness/cli/cmd_gres.c — "hilctl gres": the gres.conf lines of a lab host,
 * written from the lab file so that the boards are listed once. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "lib/cfg.h"
#include "harness/cli/cli.h"
#include "harness/lab/lab.h"
#include "lib/log.h"

static const char gres_help[] =
    "usage: hilctl [--lab FILE] gres [--host H]\n\n"
    "Print the Slurm gres.conf lines for the boards of lab host H (every host named\n"
    "by a board's host: key when --host is not given). Each board is one GRES\n"
    "\"board\" line, in lab-file order: a Slurm task's board index counts over these\n"
    "lines, so keep them in this order. A board without host: is on every host.\n"
    "File= is the board's UART (console type serial) or /dev/null.\n";

static const char *gres_file(const struct board_cfg *b)
{
	const struct cfg_node *type = cfg_get(b->console, "type"),
	                      *path = cfg_get(b->console, "path");

	if (type && type->value && !strcmp(type->value, "serial") && path && path->value &&
	    path->value[0] == '/')
		return path->value;
	return "/dev/null";
}

static int print_host(const struct lab *lab, const char *host)
{
	int n = 0;

	for (size_t i = 0; i < lab->n_boards; i++)
		n += board_on_host(&lab->boards[i], host);
	if (!n)
		return 0;
	printf("# host %s: %d board%s from %s (hilctl gres); slurm.conf: NodeName=%s ... "
	       "Gres=board:%d\n",
	       host, n, n == 1 ? "" : "s", lab->path, host, n);
	for (size_t i = 0, k = 0; i < lab->n_boards; i++) {
		const struct board_cfg *b = &lab->boards[i];

		if (!board_on_host(b, host))
			continue;
		printf("# board %zu: %s\n", k++, b->name);
		printf("NodeName=%s Name=board File=%s\n", host, gres_file(b));
	}
	return n;
}

int cmd_gres(struct cli *cli)
{
	static const struct option opts[] = {
	    CLI_COMMON_LONGOPTS, {"host", required_argument, NULL, 'H'}, {NULL, 0, NULL, 0}};
	const char *host = NULL;
	struct lab *lab;
	int c, printed = 0;

	while ((c = getopt_long(cli->argc, cli->argv, "h", opts, NULL)) != -1) {
		int r = cli_common_opt(cli, c, gres_help);
		if (r == -1)
			return EXIT_OK;
		if (r == 1)
			continue;
		if (c != 'H')
			return EXIT_USAGE;
		host = optarg;
	}
	lab = cli_load_lab(cli);
	if (!lab)
		return EXIT_USAGE;
	if (host) {
		if (print_host(lab, host) == 0) {
			hil_error("%s: no board is on host %s (boards name their host with host:)",
			          lab->path, host);
			lab_free(lab);
			return EXIT_USAGE;
		}
		lab_free(lab);
		return EXIT_OK;
	}
	for (size_t i = 0; i < lab->n_boards; i++) {
		const char *h = lab->boards[i].host;
		bool seen = false;

		for (size_t k = 0; h && k < i; k++)
			seen |= lab->boards[k].host && !strcmp(lab->boards[k].host, h);
		if (!h || seen)
			continue;
		printed += print_host(lab, h) > 0;
	}
	if (!printed)
		print_host(lab, lab_this_host());
	lab_free(lab);
	return EXIT_OK;
}

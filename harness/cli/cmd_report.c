/* harness/cli/cmd_report.c — `hilctl report`: read a campaign's journal(s),
 * decide the gate, write report.xml, report.tap, summary.json and
 * report.html, and exit with the gate's code. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness/cli/cli.h"
#include "lib/log.h"
#include "lib/num.h"
#include "reports/report.h"

static const char help[] =
    "usage: hilctl report [--out OUTDIR] DIR|JOURNAL\n"
    "       hilctl report --merge --out OUTDIR DIR|JOURNAL...\n\n"
    "Write report.xml (JUnit), report.tap (TAP 13), summary.json and report.html\n"
    "from a campaign's journal, into DIR or OUTDIR. A DIR stands for every\n"
    "journal*.jsonl in it. --merge takes the journals of several shards or hosts:\n"
    "shards 0..N-1 must all be there; the latest complete attempt of each counts,\n"
    "every run key once; missing or unfinished shards are infrastructure errors.\n\n"
    "options:\n"
    "  --out OUTDIR         where the reports go (made if missing)\n"
    "  --merge              several journals or campaign directories, one gate\n"
    "  --console-lines N    console lines per failed run in report.html (default 2000;\n"
    "                       a run that passed: N/4)\n"
    "  --excerpt-lines N    console lines in a JUnit failure (default 40; TAP: N/4)\n\n"
    "exit codes: 0 the gate passed, 1 a run ended in a state its scenario does not\n"
    "allow (or no runs), 2 usage error or a journal that cannot be read, 3 the gate\n"
    "cannot pass for infrastructure reasons only (infra_error runs, missing or\n"
    "partial shards: requeue those) or a report could not be written.\n";

struct report_args {
	const char *out;
	bool merge;
	long console_lines, excerpt_lines;
	char **paths;
	int n_paths;
};

static int parse_count(const char *s, long *out)
{
	long long v;

	if (num_parse_ll(s, 0, 1000000, &v) < 0) {
		hil_error("report: \"%s\" is not a line count (0 to 1000000)", s);
		return -1;
	}
	*out = (long)v;
	return 0;
}

static int parse_args(struct cli *cli, struct report_args *a)
{
	static const struct option opts[] = {
	    CLI_COMMON_LONGOPTS,
	    {"out", required_argument, NULL, 'o'},
	    {"merge", no_argument, NULL, 'm'},
	    {"console-lines", required_argument, NULL, 'c'},
	    {"excerpt-lines", required_argument, NULL, 'e'},
	    {NULL, 0, NULL, 0},
	};
	int c, rc;

	*a = (struct report_args){.console_lines = 2000, .excerpt_lines = 40};
	while ((c = getopt_long(cli->argc, cli->argv, "ho:", opts, NULL)) != -1) {
		if ((rc = cli_common_opt(cli, c, help)) != 0) {
			if (rc == 1)
				continue;
			return rc == -1 ? EXIT_OK : EXIT_USAGE;
		}
		if (c == 'o')
			a->out = optarg;
		else if (c == 'm')
			a->merge = true;
		else if ((c == 'c' && parse_count(optarg, &a->console_lines) < 0) ||
		         (c == 'e' && parse_count(optarg, &a->excerpt_lines) < 0))
			return EXIT_USAGE;
	}
	a->paths = cli->argv + optind;
	a->n_paths = cli->argc - optind;
	if (a->n_paths < 1 || (a->n_paths > 1 && !a->merge)) {
		hil_error("report: %s", a->n_paths < 1 ? "which campaign directory or journal?"
		                                       : "several journals: use --merge to make "
		                                         "one gate of them");
		fputs(help, stderr);
		return EXIT_USAGE;
	}
	if (a->merge && a->n_paths > 1 && !a->out) {
		hil_error("report: --merge of several journals needs --out OUTDIR for the merged "
		          "reports");
		return EXIT_USAGE;
	}
	return -1; /* go on */
}

/* Reports go next to the journal unless --out says otherwise. */
static char *out_dir(const struct report_args *a)
{
	struct stat st;
	const char *slash;

	if (a->out)
		return strdup(a->out);
	if (stat(a->paths[0], &st) == 0 && S_ISDIR(st.st_mode))
		return strdup(a->paths[0]);
	slash = strrchr(a->paths[0], '/');
	return slash ? strndup(a->paths[0], (size_t)(slash - a->paths[0]) + (slash == a->paths[0]))
	             : strdup(".");
}

int cmd_report(struct cli *cli)
{
	struct report_args a;
	struct report_opts opts;
	char *dir;
	int rc = parse_args(cli, &a);

	if (rc >= 0)
		return rc;
	opts = (struct report_opts){.excerpt_lines = (size_t)a.excerpt_lines,
	                            .html_lines = (size_t)a.console_lines};
	dir = out_dir(&a);
	rc = report_make(a.paths, (size_t)a.n_paths, dir, opts, stdout);
	free(dir);
	return rc;
}

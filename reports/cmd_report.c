/* reports/cmd_report.c — `hilctl report`: read a campaign's journal(s),
 * decide the gate, write report.xml, report.tap, summary.json and
 * report.html, and exit with the gate's code. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../harness/cli.h"
#include "../harness/log.h"
#include "report.h"

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
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || end == s || v < 0 || v > 1000000) {
		hil_error("report: \"%s\" is not a line count (0..1000000)", s);
		return -1;
	}
	*out = v;
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

/* Write one report to DIR/NAME through a temporary file and a rename, so a
 * reader never sees half a report. */
static int write_one(const char *dir, const char *name,
                     int (*writer)(FILE *, const struct report *), const struct report *r)
{
	char *tmp = NULL, *path = NULL;
	FILE *f;
	int rc;

	if (asprintf(&tmp, "%s/.%s.%ld.tmp", dir, name, (long)getpid()) < 0 ||
	    asprintf(&path, "%s/%s", dir, name) < 0)
		abort();
	f = fopen(tmp, "w");
	if (!f) {
		rc = -errno;
		hil_error("report: %s: %s", tmp, strerror(errno));
		goto out;
	}
	rc = writer(f, r);
	if (fflush(f) != 0 || fsync(fileno(f)) != 0)
		rc = rc ? rc : -errno;
	if (fclose(f) != 0)
		rc = rc ? rc : -errno;
	if (!rc && rename(tmp, path) < 0)
		rc = -errno;
	if (rc) {
		hil_error("report: %s: %s", path, strerror(rc == -EIO ? EIO : -rc));
		unlink(tmp);
	}
out:
	free(tmp);
	free(path);
	return rc;
}

static void now_iso(char *buf, size_t size)
{
	const char *epoch = getenv("SOURCE_DATE_EPOCH"); /* reproducible reports */
	time_t t = epoch && *epoch ? (time_t)strtoll(epoch, NULL, 10) : time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int write_all(const char *dir, const struct report *r)
{
	static const struct {
		const char *name;
		int (*writer)(FILE *, const struct report *);
	} outputs[] = {
	    {"report.xml", report_junit},
	    {"report.tap", report_tap},
	    {"summary.json", report_summary_json},
	    {"report.html", report_html},
	};
	int rc = 0;

	if (mkdir(dir, 0777) < 0 && errno != EEXIST) {
		hil_error("report: %s: %s", dir, strerror(errno));
		return -errno;
	}
	for (size_t i = 0; i < sizeof(outputs) / sizeof(outputs[0]); i++)
		if (write_one(dir, outputs[i].name, outputs[i].writer, r) < 0)
			rc = -EIO;
	return rc;
}

static void print_gate(const struct gate *g, const char *dir)
{
	static const char *const words[] = {"PASS", "FAIL", "INFRA ERROR"};

	printf("gate: %s: %zu run%s, %zu passed, %zu failed, %zu infra_error", words[g->decision],
	       g->runs, g->runs == 1 ? "" : "s", g->passed, g->failures, g->infra_errors);
	if (g->shards_missing || g->shards_partial)
		printf(", %zu shards missing, %zu partial", g->shards_missing, g->shards_partial);
	if (g->upper_bound_95 == g->upper_bound_95)
		printf("; 95%% upper bound on the failure rate %.2f%%", 100 * g->upper_bound_95);
	printf("\n");
	for (size_t i = 0; i < g->n_reasons; i++)
		printf("  %s\n", g->reasons[i]);
	printf("reports: %s/report.html report.xml report.tap summary.json\n", dir);
}

int cmd_report(struct cli *cli)
{
	struct report_args a;
	struct report_set set = {0};
	struct gate gate;
	struct report r;
	char generated[32], *dir;
	int rc = parse_args(cli, &a);

	if (rc >= 0)
		return rc;
	if (report_set_load(&set, a.paths, (size_t)a.n_paths) < 0) {
		report_set_free(&set);
		return EXIT_USAGE;
	}
	gate_compute(&gate, &set);
	now_iso(generated, sizeof(generated));
	r = (struct report){&set,
	                    &gate,
	                    {.excerpt_lines = (size_t)a.excerpt_lines,
	                     .html_lines = (size_t)a.console_lines,
	                     .generated = generated}};
	dir = out_dir(&a);
	if (write_all(dir, &r) < 0) {
		rc = EXIT_INFRA;
	} else {
		rc = gate.exit_code;
		print_gate(&gate, dir);
	}
	free(dir);
	gate_free(&gate);
	report_set_free(&set);
	return rc;
}

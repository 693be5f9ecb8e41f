/* reports/report_files.c — what `hilctl report` does once its options are
 * parsed, callable by the campaign runner too: load the journals, decide the
 * gate, write the four reports atomically, say the gate in one line. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/exitcode.h"
#include "lib/log.h"
#include "reports/report.h"

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

static void print_gate(FILE *out, const struct gate *g, const struct report_set *set,
                       const char *dir)
{
	static const char *const words[] = {"PASS", "FAIL", "INFRA ERROR"};
	struct sbuf boards = {0};
	char safe[4096];

	fprintf(out,
	        "gate: %s: %zu run%s, %zu passed, %zu failed, %zu not_injected, %zu infra_error",
	        words[g->decision], g->runs, g->runs == 1 ? "" : "s", g->passed, g->failures,
	        g->not_injected, g->infra_errors);
	if (g->untested)
		fprintf(out, " (%zu passed with an optional fault not injected: not in the bound)",
		        g->untested);
	if (g->shards_missing || g->shards_partial)
		fprintf(out, ", %zu shards missing, %zu partial", g->shards_missing,
		        g->shards_partial);
	if (g->upper_bound_95 == g->upper_bound_95)
		fprintf(out, "; 95%% upper bound on the failure rate %.2f%%",
		        100 * g->upper_bound_95);
	fprintf(out, "\n");
	/* Reasons quote the journal (campaign ids, shard names): a journal
	 * merged from another host must not drive the user's terminal. */
	for (size_t i = 0; i < g->n_reasons; i++) {
		log_term_safe(safe, sizeof(safe), g->reasons[i]);
		fprintf(out, "  %s\n", safe);
	}
	report_unavailable(&boards, set);
	if (boards.len) {
		log_term_safe(safe, sizeof(safe), boards.s);
		fprintf(out, "boards: %s\n", safe);
	}
	sbuf_free(&boards);
	log_term_safe(safe, sizeof(safe), dir);
	fprintf(out, "reports: %s/report.html report.xml report.tap summary.json\n", safe);
}

int report_make(char *const *paths, size_t n_paths, const char *out_dir, struct report_opts opts,
                FILE *out)
{
	struct report_set set = {0};
	struct gate gate;
	struct report r;
	char generated[32];
	int rc;

	if (report_set_load(&set, paths, n_paths) < 0) {
		report_set_free(&set);
		return EXIT_USAGE;
	}
	gate_compute(&gate, &set);
	if (!opts.generated) {
		now_iso(generated, sizeof(generated));
		opts.generated = generated;
	}
	r = (struct report){&set, &gate, opts};
	if (write_all(out_dir, &r) < 0) {
		rc = EXIT_INFRA;
	} else {
		rc = gate.exit_code;
		if (out)
			print_gate(out, &gate, &set, out_dir);
	}
	gate_free(&gate);
	report_set_free(&set);
	return rc;
}

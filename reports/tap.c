/* reports/tap.c — TAP version 13: one test point per run, a YAML block with
 * the verdict, reason, evidence and console tail for each run that did not
 * pass, then missing shards as failed points. Every board string in YAML is
 * a one-line double-quoted scalar written in the subset both YAML and Perl's
 * TAP::Parser::YAMLish::Reader (what prove uses) read the same; descriptions
 * have '#' escaped so no board text turns into a TODO/SKIP directive. */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "reports/report.h"
#include "reports/run_timeline.h"

/* A description: one line, "#" escaped as TAP 13 asks. */
static void description(struct sbuf *b, const char *s, size_t len)
{
	struct sbuf clean = {0};

	text_clean(&clean, s, len, TEXT_STRIP_ANSI);
	for (size_t i = 0; i < clean.len; i++) {
		if (clean.s[i] == '#' || clean.s[i] == '\\')
			sbuf_adds(b, "\\");
		sbuf_add(b, &clean.s[i], 1);
	}
	sbuf_free(&clean);
}

static void yaml_kv(struct sbuf *b, const char *key, const char *s, size_t len)
{
	sbuf_addf(b, "  %s: ", key);
	yaml_quote(b, s, len);
	sbuf_adds(b, "\n");
}

/* A list item, "    - \"TEXT\"". Perl's reader takes an item whose first
 * word (then optional blanks) ends in ": " for a hash inside the list
 * ("- \"DRAM:  256 MiB\"" is the key "\"DRAM") and then gives up on the
 * quoted key ("does not support multi-line quoted scalars"), which loses
 * the rest of the file ("Bad plan"). That one colon is written as \x3a, an
 * escape YAML and Perl's reader both decode to ':'. */
static void yaml_item(struct sbuf *b, const char *s, size_t len)
{
	struct sbuf q = {0};
	size_t word = 0, colon = 0, after;

	yaml_quote(&q, s, len);
	while (word < q.len && q.s[word] != ' ')
		word++;
	if (word < q.len && q.s[word - 1] == ':') {
		colon = word - 1;
	} else {
		for (after = word; after < q.len && q.s[after] == ' '; after++)
			;
		if (after > word && after + 1 < q.len && q.s[after] == ':' && q.s[after + 1] == ' ')
			colon = after;
	}
	sbuf_adds(b, "    - ");
	if (colon) {
		sbuf_add(b, q.s, colon);
		sbuf_adds(b, "\\x3a");
		sbuf_add(b, q.s + colon + 1, q.len - colon - 1);
	} else {
		sbuf_add(b, q.s, q.len);
	}
	sbuf_adds(b, "\n");
	sbuf_free(&q);
}

static void yaml_console(struct sbuf *b, const struct jrun *run, size_t lines)
{
	struct run_timeline tl;

	if (!lines || run_timeline_load(&tl, run, lines) < 0 || !tl.found || !tl.n_lines) {
		run_timeline_free(&tl);
		return;
	}
	sbuf_adds(b, "  console:\n");
	for (size_t i = 0; i < tl.n_lines; i++)
		yaml_item(b, tl.lines[i].text, tl.lines[i].len);
	run_timeline_free(&tl);
}

static void yaml_block(struct sbuf *b, const struct jrun *run, size_t console_lines)
{
	struct sbuf t = {0};

	sbuf_adds(b, "  ---\n");
	sbuf_addf(b, "  severity: %s\n", run->verdict == VERDICT_INFRA_ERROR ? "error" : "fail");
	sbuf_addf(b, "  verdict: %s\n", verdict_name(run->verdict));
	sbuf_addf(b, "  outcome: %s\n", run_outcome_name(run->outcome));
	run_allowed(&t, run);
	sbuf_addf(b, "  allowed: [%s]\n", run->allowed ? t.s : "");
	if (run->reason.s)
		yaml_kv(b, "message", run->reason.s, run->reason.len);
	yaml_kv(b, "scenario", run->scenario, strlen(run->scenario));
	yaml_kv(b, "board", run->board, strlen(run->board));
	yaml_kv(b, "point", run_point(run), strlen(run_point(run)));
	if (isfinite(run->duration_s))
		sbuf_addf(b, "  duration_s: %.3f\n", run->duration_s);
	if (run->n_evidence)
		sbuf_adds(b, "  evidence:\n");
	for (size_t i = 0; i < run->n_evidence; i++) {
		const struct jevent *e = &run->evidence[i];

		sbuf_reset(&t);
		sbuf_addf(&t, "%.3f %s ", e->t, e->kind);
		sbuf_add(&t, e->text.s, e->text.len);
		yaml_item(b, t.s, t.len);
	}
	yaml_console(b, run, console_lines);
	if (run->reproduce)
		yaml_kv(b, "reproduce", run->reproduce, strlen(run->reproduce));
	sbuf_adds(b, "  ...\n");
	sbuf_free(&t);
}

static void test_point(struct sbuf *b, size_t n, const struct jrun *run, size_t console_lines)
{
	struct sbuf t = {0};

	sbuf_addf(&t, "%s ", run->scenario);
	run_title(&t, run);
	sbuf_adds(&t, ": ");
	run_verdict_label(&t, run);
	sbuf_addf(b, "%s %zu - ", run->pass ? "ok" : "not ok", n);
	description(b, t.s, t.len);
	if (run->pass && run->untested)
		sbuf_adds(b, " # SKIP optional fault not injected");
	sbuf_adds(b, "\n");
	if (!run->pass)
		yaml_block(b, run, console_lines);
	sbuf_free(&t);
}

static void shard_points(struct sbuf *b, const struct report *r, size_t *n)
{
	struct sbuf t = {0};

	for (size_t i = 0; i < r->set->n_shards; i++) {
		const struct shard *sh = &r->set->shards[i];

		if (sh->status == SHARD_COMPLETE)
			continue;
		sbuf_reset(&t);
		sbuf_addf(&t, "campaign %s shard %d/%d: %s", sh->campaign_id, sh->index, sh->count,
		          shard_status_name(sh->status));
		sbuf_addf(b, "not ok %zu - ", ++*n);
		description(b, t.s, t.len);
		sbuf_adds(b, "\n  ---\n  severity: error\n  verdict: infra_error\n");
		sbuf_addf(b, "  message: \"shard %s\"\n  ...\n",
		          sh->status == SHARD_MISSING ? "missing: no journal of it was given"
		                                      : "partial: its campaign did not finish");
	}
	sbuf_free(&t);
}

int report_tap(FILE *f, const struct report *r)
{
	const struct gate *g = r->gate;
	struct sbuf b = {0};
	size_t n = 0, lines = r->opts.excerpt_lines / 4;
	int rc;

	sbuf_addf(&b, "TAP version 13\n1..%zu\n", g->runs + g->shards_missing + g->shards_partial);
	for (size_t i = 0; i < r->set->n_runs; i++)
		test_point(&b, ++n, r->set->runs[i], lines);
	shard_points(&b, r, &n);
	sbuf_addf(&b, "# gate: %s; %zu runs, %zu passed, %zu failed, %zu infra_error\n",
	          gate_decision_name(g->decision), g->runs, g->passed, g->failures,
	          g->infra_errors);
	if (g->not_injected + g->untested)
		sbuf_addf(&b, "# not_injected: %zu (fail the gate), %zu optional\n",
		          g->not_injected, g->untested);
	if (isfinite(g->upper_bound_95))
		sbuf_addf(&b, "# 95%% upper bound on the failure rate: %.4f\n", g->upper_bound_95);
	for (size_t i = 0; i < g->n_reasons; i++) {
		sbuf_adds(&b, "# ");
		description(&b, g->reasons[i], strlen(g->reasons[i]));
		sbuf_adds(&b, "\n");
	}
	rc = sbuf_write(&b, f);
	sbuf_free(&b);
	return rc ? rc : (ferror(f) ? -EIO : 0);
}

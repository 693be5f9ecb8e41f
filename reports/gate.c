/* reports/gate.c — count runs per verdict and per scenario, find the
 * campaign's duration, and decide the gate. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/exitcode.h"
#include "reports/gate.h"

double gate_upper_bound_95(size_t n)
{
	return n ? 1.0 - pow(0.05, 1.0 / (double)n) : NAN;
}

const char *gate_decision_name(enum gate_decision d)
{
	switch (d) {
	case GATE_PASS:
		return "pass";
	case GATE_FAIL:
		return "fail";
	case GATE_INFRA:
		return "infra_error";
	}
	return "?";
}

static void add_reason(struct gate *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_reason(struct gate *g, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		abort();
	va_end(ap);
	g->reasons = realloc(g->reasons, (g->n_reasons + 1) * sizeof(*g->reasons));
	g->reasons[g->n_reasons++] = s;
}

static struct scenario_stats *scenario_of(struct gate *g, const char *name)
{
	for (size_t i = 0; i < g->n_scenarios; i++)
		if (!strcmp(g->scenarios[i].name, name))
			return &g->scenarios[i];
	g->scenarios = realloc(g->scenarios, (g->n_scenarios + 1) * sizeof(*g->scenarios));
	g->scenarios[g->n_scenarios] = (struct scenario_stats){.name = name};
	return &g->scenarios[g->n_scenarios++];
}

static void count(struct gate *g, const struct report_set *rs)
{
	for (size_t i = 0; i < rs->n_runs; i++) {
		const struct jrun *r = rs->runs[i];
		struct scenario_stats *s = scenario_of(g, r->scenario);

		g->runs++;
		g->counts[r->verdict]++;
		s->runs++;
		s->counts[r->verdict]++;
		switch (r->outcome) {
		case OUTCOME_INFRA_ERROR:
			g->infra_errors++;
			s->infra_errors++;
			break;
		case OUTCOME_NOT_INJECTED:
			g->not_injected++;
			s->not_injected++;
			break;
		case OUTCOME_PASS:
			g->passed++;
			g->untested += r->untested;
			s->untested += r->untested;
			break;
		case OUTCOME_FAIL:
		default:
			g->failures++;
			s->failures++;
			break;
		}
		if (isfinite(r->duration_s))
			g->run_time_s += r->duration_s;
	}
	g->judged = g->runs - g->infra_errors - g->not_injected - g->untested;
}

/* From the earliest campaign or run start to the latest end or run end. */
static void wall_time(struct gate *g, const struct report_set *rs)
{
	double first = INFINITY, last = -INFINITY, t;

	for (size_t s = 0; s < rs->n_shards; s++) {
		const struct jfile *j = rs->shards[s].journal;

		if (!j)
			continue;
		t = journal_time(j->campaign.started);
		if (isfinite(t) && t < first)
			first = t;
		t = journal_time(j->finished);
		if (isfinite(t) && t > last)
			last = t;
	}
	for (size_t i = 0; i < rs->n_runs; i++) {
		if (isfinite(rs->runs[i]->start_s) && rs->runs[i]->start_s < first)
			first = rs->runs[i]->start_s;
		if (isfinite(rs->runs[i]->end_s) && rs->runs[i]->end_s > last)
			last = rs->runs[i]->end_s;
	}
	g->wall_s = isfinite(first) && isfinite(last) && last >= first ? last - first : NAN;
}

static void shard_reasons(struct gate *g, const struct report_set *rs)
{
	for (size_t s = 0; s < rs->n_shards; s++) {
		const struct shard *sh = &rs->shards[s];
		const struct jfile *j = sh->journal;
		char name[160];

		if (sh->status == SHARD_COMPLETE)
			continue;
		if (sh->count > 1)
			snprintf(name, sizeof(name), "shard %d/%d of campaign %s", sh->index,
			         sh->count, sh->campaign_id);
		else
			snprintf(name, sizeof(name), "campaign %s", sh->campaign_id);
		if (sh->status == SHARD_MISSING) {
			g->shards_missing++;
			add_reason(g, "%s: missing (no journal)", name);
		} else {
			g->shards_partial++;
			add_reason(g, "%s: partial (attempt %d %s; %zu runs)", name,
			           j->campaign.shard_attempt,
			           j->ended ? (j->interrupted ? "was interrupted" : "stopped early")
			                    : "has no end record",
			           sh->runs);
		}
	}
}

void gate_compute(struct gate *g, const struct report_set *rs)
{
	*g = (struct gate){.upper_bound_95 = NAN, .failure_rate = NAN};
	count(g, rs);
	wall_time(g, rs);
	if (g->judged) {
		g->failure_rate = (double)g->failures / (double)g->judged;
		if (!g->failures)
			g->upper_bound_95 = gate_upper_bound_95(g->judged);
	}
	if (g->failures)
		add_reason(g, "%zu of %zu runs ended in a state their scenario does not allow",
		           g->failures, g->runs);
	if (g->not_injected)
		add_reason(g,
		           "%zu run%s not_injected: the fault's trigger never came, so nothing was "
		           "tested (optional: true on a fault that may not come)",
		           g->not_injected, g->not_injected == 1 ? "" : "s");
	if (g->infra_errors)
		add_reason(g,
		           "%zu run%s ended in infra_error (the lab or harness failed, not the "
		           "board)",
		           g->infra_errors, g->infra_errors == 1 ? "" : "s");
	shard_reasons(g, rs);
	if (!g->runs && !g->shards_missing && !g->shards_partial)
		add_reason(g, "no runs recorded: nothing was tested");
	else if (g->runs && g->passed == g->runs && !g->judged)
		add_reason(g, "no run injected its fault: nothing was tested");
	if (g->failures || g->not_injected) {
		g->decision = GATE_FAIL;
	} else if (g->infra_errors || g->shards_missing || g->shards_partial) {
		g->decision = GATE_INFRA;
	} else if (!g->runs || !g->judged) {
		g->decision = GATE_FAIL;
	} else {
		g->decision = GATE_PASS;
	}
	g->exit_code = g->decision == GATE_PASS   ? EXIT_OK
	               : g->decision == GATE_FAIL ? EXIT_FAILED
	                                          : EXIT_INFRA;
}

void gate_free(struct gate *g)
{
	for (size_t i = 0; i < g->n_reasons; i++)
		free(g->reasons[i]);
	free(g->reasons);
	free(g->scenarios);
	*g = (struct gate){0};
}

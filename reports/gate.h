/* reports/gate.h — the numbers every report shows and the gate decision.
 *
 * The gate passes when every counted run ended in a state its scenario
 * allows with its fault injected (or the fault optional), no run is
 * infra_error, and every shard of every campaign finished. A not_injected
 * run (its fault's trigger never came) decides FAIL like a board failure:
 * it tested nothing, and rerunning it as it is tests nothing again.
 * A board failure decides FAIL even when infrastructure also failed (rerunning
 * the lab cannot undo it); otherwise any infrastructure problem (infra_error
 * runs, missing or partial shards) gives INFRA, so a wrapper requeues only
 * those. No runs at all is FAIL: nothing was tested.
 *
 * gate_compute() fills a struct gate that gate_free() releases. */
#ifndef HILCTL_REPORTS_GATE_H
#define HILCTL_REPORTS_GATE_H

#include <stddef.h>

#include "reports/journal_read.h"
#include "reports/merge.h"

enum gate_decision { GATE_PASS, GATE_FAIL, GATE_INFRA };

struct scenario_stats {
	const char *name;
	size_t runs, failures, infra_errors, not_injected, untested;
	size_t counts[VERDICT_COUNT];
};

struct gate {
	enum gate_decision decision;
	int exit_code;       /* 0 pass, 1 fail, 3 infra: lib/exitcode.h */
	size_t runs;         /* counted runs */
	size_t passed;       /* outcome pass (untested ones included) */
	size_t failures;     /* ended in a board state not allowed */
	size_t infra_errors; /* verdict infra_error */
	size_t not_injected; /* allowed state, but a fault not optional never came */
	size_t untested;     /* passed, but an optional fault never came */
	/* The N of "0 failures in N runs": runs with a board verdict whose
	 * faults all came, and failures: runs - infra_errors - not_injected -
	 * untested. */
	size_t judged;
	size_t counts[VERDICT_COUNT];
	struct scenario_stats *scenarios; /* in report order */
	size_t n_scenarios;
	size_t shards_missing, shards_partial;
	double upper_bound_95; /* with 0 failures in judged > 0 runs; else NAN */
	double failure_rate;   /* failures / judged; NAN when judged == 0 */
	double wall_s;         /* first start to last finish; NAN if unknown */
	double run_time_s;     /* sum of run durations */
	char **reasons;        /* why it did not pass, one sentence each */
	size_t n_reasons;
};

void gate_compute(struct gate *g, const struct report_set *rs);
void gate_free(struct gate *g);

/* 95 % upper bound on the failure rate after 0 failures in n runs:
 * 1 - 0.05^(1/n), about 3/n ("rule of three"). NAN for n == 0. */
double gate_upper_bound_95(size_t n);
const char *gate_decision_name(enum gate_decision d); /* "pass", "fail", "infra_error" */

#endif

/* harness/run/outcome.c — not_injected (see outcome.h). */
#include <stdio.h>
#include <string.h>

#include "harness/run/outcome.h"

void outcome_judge_injection(struct run_result *res)
{
	char why[sizeof(res->reason)];

	if (!res->pass || res->verdict == VERDICT_INFRA_ERROR)
		return;
	for (int i = 0; i < res->n_faults; i++) {
		const struct fault_result *f = &res->faults[i];

		if (f->injected || f->optional)
			continue;
		res->pass = false;
		res->not_injected = true;
		snprintf(why, sizeof(why),
			 "fault %d (%s) was not injected: its trigger (%.120s) never came, so nothing "
			 "was tested; the board ended %s: %.240s",
			 i + 1, scenario_fault_kind_name(f->kind), f->trigger[0] ? f->trigger : "-",
			 verdict_name(res->verdict), res->reason);
		memcpy(res->reason, why, sizeof(why));
		return;
	}
}

/* harness/run/outcome.c — not_injected and the update server nobody asked
 * (see outcome.h). */
#include <stdio.h>
#include <string.h>

#include "harness/run/outcome.h"

bool outcome_any_injected(const struct run_result *res)
{
	for (int i = 0; i < res->n_faults; i++)
		if (res->faults[i].injected)
			return true;
	return false;
}

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
		snprintf(
		    why, sizeof(why),
		    "fault %d (%s) was not injected: its trigger (%.120s) never came, so nothing "
		    "was tested; the board ended %s: %.240s",
		    i + 1, scenario_fault_kind_name(f->kind), f->trigger[0] ? f->trigger : "-",
		    verdict_name(res->verdict), res->reason);
		memcpy(res->reason, why, sizeof(why));
		return;
	}
}

void outcome_no_request_reason(char *out, size_t size, const char *bind, unsigned port,
                               const char *told_url, const char *host)
{
	char addr[128];
	const char *bundle;

	snprintf(addr, sizeof(addr), "%s:%u", host, port);
	bundle = strstr(told_url, addr);
	bundle = bundle && bundle[strlen(addr)] ? bundle + strlen(addr) : told_url;
	snprintf(out, size,
	         "the update server on %s:%u saw no request for bundle %.60s; the board was told "
	         "%.150s: is server_host (%.60s) reachable from the board?",
	         bind, port, bundle, told_url, host);
}

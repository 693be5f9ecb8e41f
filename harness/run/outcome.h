/* harness/run/outcome.h — what a run counts as once the oracle has judged
 * the board, beyond the board's state: a run whose fault never came tested
 * nothing (not_injected), and a board that never asked the update server it
 * was told about could not reach it (infra_error). No I/O: the engine calls
 * these, the unit tests call them alone. */
#ifndef HILCTL_OUTCOME_H
#define HILCTL_OUTCOME_H

#include <stddef.h>

#include "harness/run/engine.h"

/* After res->verdict, res->reason and res->pass are set: a run that passed
 * but has a fault that was not injected and is not optional no longer
 * passes; it is not_injected, and its reason says which fault and what the
 * board ended as. Anything else is left as it is (a board state not allowed
 * stays a failure, whether or not the fault came). */
void outcome_judge_injection(struct run_result *res);

/* True when a fault of the run was injected. */
bool outcome_any_injected(const struct run_result *res);

/* The infra_error sentence for a board that never asked the update server:
 * where the server listens (bind:port), the bundle (the told URL's path
 * after host:port, or the whole URL), the URL the board was told and the
 * server_host it names. */
void outcome_no_request_reason(char *out, size_t size, const char *bind, unsigned port,
                               const char *told_url, const char *host);

#endif

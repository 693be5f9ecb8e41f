/* harness/run/engine.h — execute one run: the scenario's steps on one board,
 * its faults at their trigger points, then the oracle until a verdict.
 *
 * An engine_ctx lives as long as a worker holds its board (many runs); it
 * owns the update server it starts. engine_run() leaves the board powered
 * off, whatever happened. */
#ifndef HILCTL_ENGINE_H
#define HILCTL_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include "harness/lab/restore.h"
#include "harness/run/oracle.h"
#include "harness/run/scenario.h"
#include "lib/verdict.h"

struct board;
struct update_server;

struct engine_ctx {
	struct board *board;
	struct update_server *server; /* started by the first serve step */
	const char *server_bind;      /* default 127.0.0.1 */
};

struct run_spec {
	const struct scenario *sc;
	const char *point; /* "-" when the scenario has no sweep */
	unsigned long long seed;
	int run_id;
	const char *timeline_path; /* where this run's timeline goes */
	/* Optional hooks (the crash-state explorer): prepare runs after the
	 * board is off with fresh disks and before the first step (a nonzero
	 * return is an infrastructure error); on_line sees every complete
	 * console line as it is read. */
	int (*prepare)(void *hook_arg, struct board *b);
	/* Optional: where a run that does not pass keeps the disk its board
	 * booted after the last fault's power cut (power_keep_disk), a file
	 * never overwritten; run_result.disk_kept says whether it did. */
	const char *keep_disk;
	void (*on_line)(void *hook_arg, int64_t t_ns, const char *line, size_t len);
	void *hook_arg;
};

#define RUN_MAX_FAULTS 4

struct fault_result {
	enum fault_kind kind;
	bool injected;
	bool optional;      /* the scenario's optional: true: not injected may still pass */
	double at_s;        /* since the run's timeline start */
	int64_t latency_ns; /* trigger point (marker + delay) to fault done; -1 unknown */
	char trigger[200];
	char phase[48]; /* update phase (last phase marker) when it fired */
};

struct run_result {
	enum verdict verdict;
	bool pass;
	/* The board ended in an allowed state, but a fault that is not
	 * optional was never injected: nothing was tested, so not a pass. */
	bool not_injected;
	char reason[512];
	struct oracle_evidence evidence[ORACLE_EVIDENCE_MAX];
	size_t n_evidence;
	int64_t t0_ns; /* the run timeline's origin: evidence times are relative to it */
	struct fault_result faults[RUN_MAX_FAULTS];
	int n_faults;
	double duration_s;
	bool interrupted; /* SIGINT/SIGTERM: not a finished run, not journaled */
	/* The board could not be switched off after the run: it may still be
	 * on, and no further run may use it until someone looks. */
	bool power_lost;
	/* How the board was brought to the run's starting state (boards with
	 * a storage: section); board_lost: that failed, and the board takes
	 * no more runs (reason names it and what failed). */
	struct restore_result restore;
	bool board_lost;
	bool disk_kept; /* spec->keep_disk was written */
};

int engine_run(struct engine_ctx *ctx, const struct run_spec *spec, struct run_result *res);
void engine_ctx_close(struct engine_ctx *ctx);

#endif

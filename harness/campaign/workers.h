/* harness/campaign/workers.h — a pool of worker processes, one per board, for the
 * commands that spread jobs over boards (campaigns, crash-state boots).
 *
 * Each worker is a fork of the caller with two pipes: job lines go down,
 * record lines come up. The parent's loop hands a job to every idle worker
 * (the caller's assign), passes every complete record line to on_record,
 * forwards SIGINT/SIGTERM (stop_requested()) to the workers as SIGTERM, and
 * ends when no worker is busy. A worker that sets a deadline for its job and
 * neither reports nor dies by then is killed (on_overdue first says what is
 * lost). Parallel boards are processes, never threads (DESIGN.md).
 *
 * The pool is a plain struct the caller owns (no allocation); the caller
 * fills board, n and the callbacks, then workers_start(), workers_run(),
 * workers_stop(). */
#ifndef HILCTL_WORKERS_H
#define HILCTL_WORKERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "lib/stop.h"

#define WORKERS_MAX 64

struct board_cfg;

struct worker {
	const struct board_cfg *board;
	pid_t pid;
	int to_fd, from_fd; /* jobs down, records up */
	long running;       /* the caller's index of the job it runs, -1 idle */
	int job_id;         /* the caller's number for that job */
	int64_t started;    /* when it was handed out (monotonic ns) */
	int64_t deadline;   /* the job must report or the worker die by then; 0: no limit */
	char buf[65536];
	size_t len;
	bool dead;
};

struct worker_pool {
	struct worker w[WORKERS_MAX];
	int n;
	void *arg; /* passed to every callback */
	/* In the child: serve the jobs read from in_fd, write records to
	 * out_fd; returns the child's exit code. */
	int (*child)(void *arg, int in_fd, int out_fd, const struct board_cfg *board);
	/* Give idle w a job (workers_send, then set w->running): 1 given, 0
	 * nothing to give now, <0 the worker cannot take jobs. */
	int (*assign)(void *arg, struct worker *w);
	/* One complete line from w, newline included. */
	void (*on_record)(void *arg, struct worker *w, const char *line);
	/* Optional. w died (its pipe ended) while it ran a job; w->running is
	 * still set and is cleared after. */
	void (*on_lost)(void *arg, struct worker *w);
	/* Optional (needed when assign sets deadlines). w's job is past its
	 * deadline; w is killed with SIGKILL after this returns. */
	void (*on_overdue)(void *arg, struct worker *w);
	/* Optional. No worker is busy: return 1 when new jobs were added (the
	 * loop goes on), 0 to end. */
	int (*more)(void *arg);
	/* Optional. A monotonic time the loop must wake at (a budget), or -1. */
	int64_t (*wake)(void *arg);
};

/* Fork one worker per p->w[i].board. On a failure, p->n is cut to the
 * workers started and -errno returned. Each child calls prctl(PDEATHSIG) and
 * exits at once if the parent is already gone. */
int workers_start(struct worker_pool *p);
/* Write one job line to w (newline included). 0 or -errno. */
int workers_send(struct worker *w, const char *line);
/* Hand out jobs and collect records until no worker is busy (or none is
 * alive). 0, or -errno when poll fails. */
int workers_run(struct worker_pool *p);
/* Close the job pipes (a worker finishes its job, powers its board off and
 * exits), journal what is still on its way, and past timeout_ns kill what is
 * left; every worker is reaped. */
void workers_stop(struct worker_pool *p, int64_t timeout_ns);

#endif

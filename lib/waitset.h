/* lib/waitset.h — the one way hilctl waits: a set of file descriptors and one
 * deadline, no threads (after Redis's ae.c, without callbacks: the caller
 * looks at what is ready and acts).
 *
 *	struct waitset ws;
 *	waitset_init(&ws);
 *	int con = waitset_add(&ws, console_fd, POLLIN);
 *	waitset_until(&ws, run_deadline);      // the earliest deadline wins
 *	waitset_until(&ws, fault_at);
 *	int rc = waitset_wait(&ws);            // >0 ready, 0 deadline, -EINTR, -errno
 *	if (rc > 0 && waitset_ready(&ws, con) & POLLIN) ...
 *
 * A struct waitset lives on the caller's stack and owns nothing: it never
 * closes a descriptor. An fd < 0 is kept in the set and never ready, so that
 * indices stay stable while a stream is gone. Without a deadline (none given,
 * or WAITSET_NEVER) waitset_wait() waits for an fd or a signal. */
#ifndef HILCTL_LIB_WAITSET_H
#define HILCTL_LIB_WAITSET_H

#include <poll.h>
#include <stdint.h>

#define WAITSET_MAX 64
#define WAITSET_NEVER INT64_MAX

struct waitset {
	struct pollfd fds[WAITSET_MAX];
	int n;
	int64_t deadline_ns; /* CLOCK_MONOTONIC (lib/clock.h); WAITSET_NEVER */
};

/* Empty: no fds, no deadline. */
void waitset_init(struct waitset *ws);
/* Add fd for events; its index, or -ENOSPC when WAITSET_MAX are in. */
int waitset_add(struct waitset *ws, int fd, short events);
/* Lower the deadline to deadline_ns if it is earlier (a negative value is
 * "now": the wait only looks at what is ready). */
void waitset_until(struct waitset *ws, int64_t deadline_ns);
/* Wait until an fd is ready or the deadline passes: the number of ready fds,
 * 0 at the deadline, -EINTR when a signal came (callers check
 * stop_requested()), another -errno on failure. */
int waitset_wait(struct waitset *ws);
/* What fd number idx reported in the last wait (0 if nothing or fd < 0). */
short waitset_ready(const struct waitset *ws, int idx);

#endif

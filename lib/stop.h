/* lib/stop.h — the process-wide "stop" flag that SIGINT, SIGTERM and SIGHUP
 * raise. Long loops (the run loop, campaigns, planning, the worker pool) ask
 * stop_requested() between steps and wind down, undoing what they did; no
 * handler does more than record the signal. */
#ifndef HILCTL_LIB_STOP_H
#define HILCTL_LIB_STOP_H

/* The signal that asked to stop (SIGINT, SIGTERM, SIGHUP), or 0. */
int stop_requested(void);
/* Ask to stop as if signal sig had come (a fatal error that must end the
 * campaign cleanly uses SIGTERM). */
void stop_request(int sig);
/* Install the handlers (no SA_RESTART: a blocked poll() returns EINTR) and
 * ignore SIGPIPE. */
void stop_install_signals(void);

#endif

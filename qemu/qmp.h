/* qemu/qmp.h — a small synchronous QMP client (QEMU Machine Protocol) over a
 * unix socket, on jansson.
 *
 * One client talks to one QEMU monitor socket (-qmp unix:PATH,server=on,
 * wait=off). qmp_open() connects, reads the greeting and negotiates
 * capabilities; qmp_command() sends one command and waits for its answer.
 * Every call takes an absolute deadline on the monotonic clock
 * (clock_now_ns() + budget) and never blocks past it. No threads, no sleeps.
 *
 * Events (SHUTDOWN, STOP, RESET...) that arrive while a call waits are kept
 * in a queue, oldest first, for qmp_event_next() / qmp_event_wait(). The
 * queue holds at most QMP_MAX_EVENTS; beyond that the oldest are dropped and
 * counted (qmp_events_dropped()).
 *
 * Errors: functions return 0 or a negative errno, and qmp_error(q) gives a
 * one-line reason for the last failure (the caller prints it with the board
 * name). What each errno means:
 *   -ENOENT, -ECONNREFUSED  nothing listens at path (QEMU not started, or gone)
 *   -ENAMETOOLONG           path does not fit a unix socket address
 *   -ETIMEDOUT              no answer before the deadline. The client stays
 *                           usable: a late answer is recognised by its id and
 *                           dropped. (Also: QEMU serves one QMP client at a
 *                           time, so a greeting never comes while another
 *                           client holds the socket.)
 *   -EREMOTEIO              QEMU answered with an error; qmp_error_class()
 *                           gives its class ("GenericError", "CommandNotFound",
 *                           "DeviceNotFound"...), qmp_error() its description.
 *                           The client stays usable.
 *   -EPIPE                  QEMU closed the connection (it quit or died).
 *   -EPROTO                 QEMU sent something that is not QMP (not JSON, not
 *                           an object, no greeting, a line over QMP_MAX_LINE).
 * After -EPIPE, -EPROTO or another transport error the client is dead: every
 * later call returns the same error; qmp_close() it.
 *
 * Ownership: qmp_open() returns a client freed by qmp_close() (NULL is
 * accepted). JSON handed out through an out-parameter (a reply, an event) is
 * a new reference the caller json_decref()s. Arguments passed in are only
 * borrowed. Strings from qmp_error()/qmp_error_class() live until the next
 * call on the client.
 *
 * Example (stop the guest's network link, then resume the CPUs):
 *
 *	struct qmp *q;
 *	int64_t deadline = clock_now_ns() + 5 * NS_PER_S;
 *	int rc = qmp_open(&q, "/tmp/hilctl-0/qemu-01/qmp.sock", deadline);
 *	if (rc == 0)
 *		rc = qmp_command_pack(q, "set_link", NULL, deadline, "{s:s, s:b}",
 *				      "name", "net0", "up", 0);
 *	if (rc == 0)
 *		rc = qmp_command(q, "cont", NULL, NULL, deadline);
 *	if (rc < 0)
 *		hil_error("board \"%s\": QMP: %s", board, q ? qmp_error(q) : strerror(-rc));
 *	qmp_close(q);
 */
#ifndef HILCTL_QMP_H
#define HILCTL_QMP_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define QMP_MAX_EVENTS 1024
#define QMP_MAX_LINE (16u << 20) /* query-qmp-schema is a few hundred KiB */

struct qmp;

/* Connect to the QMP socket at path, read the greeting and send
 * qmp_capabilities. On success *out is the client; on failure *out is NULL,
 * the return is -errno and, if why is not NULL, a one-line reason is written
 * there (why_size bytes, NUL-terminated). */
int qmp_open(struct qmp **out, const char *path, int64_t deadline_ns, char *why, size_t why_size);
/* The same over a connected stream socket the client takes over (closed by
 * qmp_close(), or here on failure). For tests and inherited fds. */
int qmp_open_fd(struct qmp **out, int fd, int64_t deadline_ns, char *why, size_t why_size);
void qmp_close(struct qmp *q);

/* Run one command. args is an object of arguments or NULL. On success, if
 * ret is not NULL, *ret is the "return" value (often an empty object). */
int qmp_command(struct qmp *q, const char *name, json_t *args, json_t **ret, int64_t deadline_ns);
/* The same with the arguments built by json_pack(fmt, ...), e.g.
 * qmp_command_pack(q, "set_link", NULL, dl, "{s:s, s:b}", "name", "net0", "up", 1). */
int qmp_command_pack(struct qmp *q, const char *name, json_t **ret, int64_t deadline_ns,
                     const char *fmt, ...);

/* The oldest queued event ({"event": NAME, "data": {...}, "timestamp": {...}})
 * or NULL when none is queued. Never waits. */
json_t *qmp_event_next(struct qmp *q);
/* Wait for an event named name (any event if name is NULL): a queued one
 * first, else read until one arrives or the deadline passes (-ETIMEDOUT).
 * Events of other names that arrive meanwhile stay queued. */
int qmp_event_wait(struct qmp *q, const char *name, json_t **event, int64_t deadline_ns);
/* Read whatever has arrived without waiting and queue its events; for a
 * poll() loop that watches qmp_fd(). Returns the number of events now queued
 * or -errno (-EPIPE once QEMU closed the socket). */
int qmp_pump(struct qmp *q);
size_t qmp_events_queued(const struct qmp *q);
/* When QEMU emitted event (its "timestamp", the host's wall clock in
 * microseconds), converted to clock_now_ns()'s monotonic clock. 0, or
 * -ENOENT when the event has no timestamp. */
int qmp_event_time_ns(const json_t *event, int64_t *mono_ns);

/* While a call on q waits for QEMU, keep another fd drained: when fd is
 * readable, drain(arg) is called (it reads what is there without waiting;
 * <0 stops watching fd). For a console whose unread output would block
 * QEMU's serial device, and with it QEMU's main loop and our answer. fd -1
 * or drain NULL: nothing watched (the default). */
void qmp_set_drain(struct qmp *q, int fd, int (*drain)(void *arg), void *arg);
unsigned long qmp_events_dropped(const struct qmp *q);

/* The socket, for poll(): readable means qmp_pump() has something to read. */
int qmp_fd(const struct qmp *q);
/* The greeting's "version" object ({"qemu": {"major": 7, ...}, "package": ...}),
 * borrowed from the client. */
const json_t *qmp_version(const struct qmp *q);
/* One line on why the last call failed ("" if it did not). */
const char *qmp_error(const struct qmp *q);
/* The class of the last QEMU error answer ("" if the last failure was not one). */
const char *qmp_error_class(const struct qmp *q);

/* Convenience: query-status's "status" ("running", "paused", "prelaunch",
 * "shutdown", "guest-panicked"...) copied into buf. */
int qmp_query_status(struct qmp *q, char *buf, size_t size, int64_t deadline_ns);

#endif

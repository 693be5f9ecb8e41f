/* qemu/qmp.c — a small synchronous QMP client over a unix socket: greeting,
 * capabilities, one command at a time matched by id, events queued. QEMU
 * sends one JSON object per line; so does this client. See qmp.h. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/waitset.h"
#include "lib/log.h"
#include "lib/timeline.h"
#include "qemu/qmp.h"

struct qmp {
	int fd;
	char *buf; /* bytes received and not yet parsed */
	size_t len, cap;
	json_t *greeting; /* the greeting's "QMP" object */
	json_t *events;   /* array, oldest first */
	unsigned long dropped;
	unsigned long next_id;
	int dead_rc; /* set once the connection is unusable */
	char error[320];
	char error_class[64];
	/* Another fd kept drained while a call waits (qmp_set_drain). */
	int drain_fd;
	int (*drain)(void *arg);
	void *drain_arg;
};

static int fail(struct qmp *q, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Record why a call failed; returns rc so that callers can `return fail(...)`. */
static int fail(struct qmp *q, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(q->error, sizeof(q->error), fmt, ap);
	va_end(ap);
	return rc;
}

/* A transport or protocol failure: the connection cannot be trusted again. */
static int die(struct qmp *q, int rc)
{
	q->dead_rc = rc;
	return rc;
}

static void queue_event(struct qmp *q, json_t *event)
{
	if (json_array_size(q->events) >= QMP_MAX_EVENTS) {
		json_array_remove(q->events, 0);
		q->dropped++;
	}
	json_array_append_new(q->events, event);
}

/* Wait for events on q->fd until the deadline, keeping the drain fd
 * drained meanwhile. >0 ready, 0 deadline, -errno. */
static int wait_fd(struct qmp *q, short events, int64_t deadline_ns)
{
	struct waitset ws;
	int rc, sock, drain;

	waitset_init(&ws);
	sock = waitset_add(&ws, q->fd, events);
	drain = waitset_add(&ws, q->drain ? q->drain_fd : -1, POLLIN);
	waitset_until(&ws, deadline_ns);
	for (;;) {
		rc = waitset_wait(&ws);
		if (rc <= 0)
			return rc == -EINTR ? 1 : rc;
		if (waitset_ready(&ws, drain)) {
			/* The other side's bytes first: QEMU may be blocked
			 * writing them, and our answer waits behind that. */
			if (q->drain(q->drain_arg) < 0)
				ws.fds[drain].fd = q->drain_fd = -1;
			if (!waitset_ready(&ws, sock))
				continue;
		}
		return 1;
	}
}

void qmp_set_drain(struct qmp *q, int fd, int (*drain)(void *arg), void *arg)
{
	q->drain_fd = drain ? fd : -1;
	q->drain = fd >= 0 ? drain : NULL;
	q->drain_arg = arg;
}

/* Read more bytes, waiting until the deadline. 0 on data, -errno otherwise. */
static int fill(struct qmp *q, int64_t deadline_ns)
{
	ssize_t n;
	int rc;

	if (q->len >= QMP_MAX_LINE)
		return die(q, fail(q, -EPROTO, "QMP message longer than %u bytes", QMP_MAX_LINE));
	if (q->cap - q->len < 4096) {
		size_t cap = q->cap ? q->cap * 2 : 8192;
		char *buf = realloc(q->buf, cap);
		if (!buf)
			return fail(q, -ENOMEM, "out of memory");
		q->buf = buf;
		q->cap = cap;
	}
	for (;;) {
		n = recv(q->fd, q->buf + q->len, q->cap - q->len, MSG_DONTWAIT);
		if (n > 0) {
			q->len += (size_t)n;
			return 0;
		}
		if (n == 0)
			return die(q, fail(q, -EPIPE,
			                   q->len ? "QEMU closed the QMP connection in "
			                            "the middle of a message"
			                          : "QEMU closed the QMP connection"));
		if (errno == EINTR)
			continue;
		if (errno == ECONNRESET)
			return die(q, fail(q, -EPIPE, "QEMU reset the QMP connection"));
		if (errno != EAGAIN)
			return die(q, fail(q, -errno, "reading QMP: %s", strerror(errno)));
		rc = wait_fd(q, POLLIN, deadline_ns);
		if (rc == 0)
			return -ETIMEDOUT;
		if (rc < 0)
			return die(q, fail(q, rc, "poll: %s", strerror(-rc)));
	}
}

static bool blank(const char *line, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r')
			return false;
	return true;
}

/* The next JSON object from QEMU (new reference), waiting until the deadline.
 * Blank lines are skipped. -ETIMEDOUT leaves the client usable (a partial
 * line stays buffered); the caller words that message. */
static int read_message(struct qmp *q, json_t **msg, int64_t deadline_ns)
{
	json_error_t jerr;
	size_t line_len;
	char *nl;
	int rc;

	for (;;) {
		nl = q->len ? memchr(q->buf, '\n', q->len) : NULL;
		if (!nl) {
			rc = fill(q, deadline_ns);
			if (rc < 0)
				return rc;
			continue;
		}
		line_len = (size_t)(nl - q->buf);
		if (!blank(q->buf, line_len))
			break;
		q->len -= line_len + 1;
		memmove(q->buf, nl + 1, q->len);
	}
	*msg = json_loadb(q->buf, line_len, JSON_REJECT_DUPLICATES, &jerr);
	if (!*msg || !json_is_object(*msg)) {
		char shown[96];
		json_escape_bytes(q->buf, line_len < 60 ? line_len : 60, shown, sizeof(shown));
		json_decref(*msg);
		*msg = NULL;
		return die(q, fail(q, -EPROTO,
		                   "QEMU sent something that is not a QMP message: "
		                   "\"%s%s\"",
		                   shown, line_len > 60 ? "..." : ""));
	}
	q->len -= line_len + 1;
	memmove(q->buf, nl + 1, q->len);
	return 0;
}

static int write_all(struct qmp *q, const char *data, size_t len, int64_t deadline_ns)
{
	while (len) {
		ssize_t n = send(q->fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0) {
			data += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EPIPE || errno == ECONNRESET))
			return die(q, fail(q, -EPIPE, "QEMU closed the QMP connection"));
		if (n < 0 && errno != EAGAIN)
			return die(q, fail(q, -errno, "writing QMP: %s", strerror(errno)));
		n = wait_fd(q, POLLOUT, deadline_ns);
		if (n == 0)
			return fail(q, -ETIMEDOUT, "QEMU does not read its QMP socket");
		if (n < 0)
			return die(q, fail(q, (int)n, "poll: %s", strerror((int)-n)));
	}
	return 0;
}

/* Fill error text and class from an {"error": {...}} answer. */
static int remote_error(struct qmp *q, const char *name, json_t *err)
{
	const char *cls = json_string_value(json_object_get(err, "class"));
	const char *desc = json_string_value(json_object_get(err, "desc"));

	snprintf(q->error_class, sizeof(q->error_class), "%s", cls ? cls : "");
	return fail(q, -EREMOTEIO, "QEMU refused %s: %s", name, desc ? desc : "(no description)");
}

static bool id_matches(json_t *msg, unsigned long id)
{
	json_t *got = json_object_get(msg, "id");

	/* QEMU echoes the id; a reply without one (a parse error report) can
	 * only be about the command in flight. */
	return !got || (json_is_integer(got) && (unsigned long)json_integer_value(got) == id);
}

/* Wait for the answer to command id, queueing events. */
static int await_reply(struct qmp *q, const char *name, unsigned long id, json_t **ret,
                       int64_t deadline_ns)
{
	json_t *msg, *val;
	int rc;

	for (;;) {
		rc = read_message(q, &msg, deadline_ns);
		if (rc == -ETIMEDOUT)
			return fail(q, rc, "QEMU did not answer %s in time", name);
		if (rc < 0)
			return rc;
		if (json_object_get(msg, "event")) {
			queue_event(q, msg);
			continue;
		}
		if (!json_object_get(msg, "return") && !json_object_get(msg, "error")) {
			json_decref(msg);
			return die(q, fail(q, -EPROTO,
			                   "QEMU answered %s with neither return nor "
			                   "error",
			                   name));
		}
		if (!id_matches(msg, id)) {
			/* The late answer to a command that timed out. */
			hil_debug("QMP: dropping a late answer (id %lld)",
			          (long long)json_integer_value(json_object_get(msg, "id")));
			json_decref(msg);
			continue;
		}
		val = json_object_get(msg, "return");
		if (val) {
			if (ret)
				*ret = json_incref(val);
			rc = 0;
		} else {
			rc = remote_error(q, name, json_object_get(msg, "error"));
		}
		json_decref(msg);
		return rc;
	}
}

int qmp_command(struct qmp *q, const char *name, json_t *args, json_t **ret, int64_t deadline_ns)
{
	unsigned long id;
	json_t *cmd;
	char *text, *line;
	size_t len;
	int rc;

	if (ret)
		*ret = NULL;
	q->error[0] = q->error_class[0] = '\0';
	if (q->dead_rc)
		return q->dead_rc;
	if (args && !json_is_object(args))
		return fail(q, -EINVAL, "arguments of %s must be a JSON object", name);
	id = ++q->next_id;
	cmd = json_pack("{s:s, s:I}", "execute", name, "id", (json_int_t)id);
	if (cmd && args)
		json_object_set(cmd, "arguments", args);
	text = cmd ? json_dumps(cmd, JSON_COMPACT) : NULL;
	json_decref(cmd);
	if (!text)
		return fail(q, -ENOMEM, "out of memory");
	hil_debug("QMP > %s", text);
	/* QEMU reads JSON as a stream; the newline just keeps logs readable.
	 * One send: a command is one write on the socket. */
	len = strlen(text);
	line = realloc(text, len + 2);
	if (!line) {
		free(text);
		return fail(q, -ENOMEM, "out of memory");
	}
	memcpy(line + len, "\n", 2);
	rc = write_all(q, line, len + 1, deadline_ns);
	free(line);
	if (rc < 0)
		return rc;
	return await_reply(q, name, id, ret, deadline_ns);
}

int qmp_command_pack(struct qmp *q, const char *name, json_t **ret, int64_t deadline_ns,
                     const char *fmt, ...)
{
	json_error_t jerr;
	json_t *args;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	args = json_vpack_ex(&jerr, 0, fmt, ap);
	va_end(ap);
	if (ret)
		*ret = NULL;
	if (!args)
		return fail(q, -EINVAL, "arguments of %s: %s", name, jerr.text);
	rc = qmp_command(q, name, args, ret, deadline_ns);
	json_decref(args);
	return rc;
}

static int greet(struct qmp *q, int64_t deadline_ns)
{
	json_t *msg, *greeting;
	int rc;

	rc = read_message(q, &msg, deadline_ns);
	if (rc == -ETIMEDOUT)
		return fail(q, rc,
		            "no QMP greeting in time (is another client connected? QEMU "
		            "serves one at a time)");
	if (rc < 0)
		return rc;
	greeting = json_object_get(msg, "QMP");
	if (!json_is_object(greeting)) {
		json_decref(msg);
		return die(q, fail(q, -EPROTO, "the first message is not a QMP greeting"));
	}
	q->greeting = json_incref(greeting);
	json_decref(msg);
	rc = qmp_command(q, "qmp_capabilities", NULL, NULL, deadline_ns);
	return rc;
}

int qmp_open_fd(struct qmp **out, int fd, int64_t deadline_ns, char *why, size_t why_size)
{
	struct qmp *q = calloc(1, sizeof(*q));
	int rc;

	*out = NULL;
	if (!q || !(q->events = json_array())) {
		free(q);
		close(fd);
		if (why && why_size)
			snprintf(why, why_size, "out of memory");
		return -ENOMEM;
	}
	q->fd = fd;
	q->drain_fd = -1;
	rc = greet(q, deadline_ns);
	if (rc < 0) {
		if (why && why_size)
			snprintf(why, why_size, "%s", q->error);
		qmp_close(q);
		return rc;
	}
	*out = q;
	return 0;
}

int qmp_open(struct qmp **out, const char *path, int64_t deadline_ns, char *why, size_t why_size)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	int fd, rc;

	*out = NULL;
	if (why && why_size)
		why[0] = '\0';
	if (strlen(path) >= sizeof(addr.sun_path)) {
		if (why && why_size)
			snprintf(why, why_size, "%s: path too long for a unix socket", path);
		return -ENAMETOOLONG;
	}
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* A unix stream connect completes at once or fails; it never waits. */
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		rc = -errno;
		if (why && why_size)
			snprintf(why, why_size, "%s: %s", path, strerror(-rc));
		close(fd);
		return rc;
	}
	return qmp_open_fd(out, fd, deadline_ns, why, why_size);
}

void qmp_close(struct qmp *q)
{
	if (!q)
		return;
	if (q->fd >= 0)
		close(q->fd);
	json_decref(q->greeting);
	json_decref(q->events);
	free(q->buf);
	free(q);
}

json_t *qmp_event_next(struct qmp *q)
{
	json_t *ev = json_array_get(q->events, 0);

	if (!ev)
		return NULL;
	json_incref(ev);
	json_array_remove(q->events, 0);
	return ev;
}

static bool event_is(json_t *ev, const char *name)
{
	const char *got = json_string_value(json_object_get(ev, "event"));

	return !name || (got && strcmp(got, name) == 0);
}

int qmp_event_wait(struct qmp *q, const char *name, json_t **event, int64_t deadline_ns)
{
	json_t *msg;
	size_t i;
	int rc;

	*event = NULL;
	q->error[0] = q->error_class[0] = '\0';
	json_array_foreach(q->events, i, msg) if (event_is(msg, name))
	{
		*event = json_incref(msg);
		json_array_remove(q->events, i);
		return 0;
	}
	if (q->dead_rc)
		return q->dead_rc;
	for (;;) {
		rc = read_message(q, &msg, deadline_ns);
		if (rc == -ETIMEDOUT)
			return fail(q, rc, "no %s event from QEMU in time", name ? name : "QMP");
		if (rc < 0)
			return rc;
		if (!json_object_get(msg, "event")) {
			json_decref(msg); /* a late answer to a timed-out command */
			continue;
		}
		if (event_is(msg, name)) {
			*event = msg;
			return 0;
		}
		queue_event(q, msg);
	}
}

int qmp_pump(struct qmp *q)
{
	json_t *msg;
	int rc;

	q->error[0] = q->error_class[0] = '\0';
	if (q->dead_rc)
		return q->dead_rc;
	for (;;) {
		/* A deadline in the past: read what is there, never wait. */
		rc = read_message(q, &msg, 0);
		if (rc == -ETIMEDOUT)
			break;
		if (rc < 0)
			return rc;
		if (json_object_get(msg, "event"))
			queue_event(q, msg);
		else
			json_decref(msg);
	}
	return (int)json_array_size(q->events);
}

int qmp_event_time_ns(const json_t *event, int64_t *mono_ns)
{
	json_t *ts = json_object_get(event, "timestamp");
	json_t *sec = json_object_get(ts, "seconds"), *usec = json_object_get(ts, "microseconds");
	struct timespec real, mono;
	int64_t real_ns;

	if (!json_is_integer(sec) || !json_is_integer(usec) || json_integer_value(sec) <= 0)
		return -ENOENT;
	/* QEMU stamps events with the host's wall clock (g_get_real_time);
	 * both clocks read back to back give the offset to ours. */
	clock_gettime(CLOCK_REALTIME, &real);
	clock_gettime(CLOCK_MONOTONIC, &mono);
	real_ns =
	    (int64_t)json_integer_value(sec) * NS_PER_S + (int64_t)json_integer_value(usec) * 1000;
	*mono_ns = real_ns - ((int64_t)real.tv_sec * NS_PER_S + real.tv_nsec) +
	           ((int64_t)mono.tv_sec * NS_PER_S + mono.tv_nsec);
	return 0;
}

size_t qmp_events_queued(const struct qmp *q)
{
	return json_array_size(q->events);
}

unsigned long qmp_events_dropped(const struct qmp *q)
{
	return q->dropped;
}

int qmp_fd(const struct qmp *q)
{
	return q->fd;
}

const json_t *qmp_version(const struct qmp *q)
{
	return json_object_get(q->greeting, "version");
}

const char *qmp_error(const struct qmp *q)
{
	return q->error;
}

const char *qmp_error_class(const struct qmp *q)
{
	return q->error_class;
}

int qmp_query_status(struct qmp *q, char *buf, size_t size, int64_t deadline_ns)
{
	json_t *ret;
	const char *status;
	int rc;

	rc = qmp_command(q, "query-status", NULL, &ret, deadline_ns);
	if (rc < 0)
		return rc;
	status = json_string_value(json_object_get(ret, "status"));
	if (!status) {
		json_decref(ret);
		return fail(q, -EPROTO, "query-status answer has no status");
	}
	snprintf(buf, size, "%s", status);
	json_decref(ret);
	return 0;
}

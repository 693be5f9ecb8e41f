/* harness/console/console_qemu.c — QEMU's first serial port, served by QEMU on a
 * unix socket in the board's run directory (the qemu power driver starts it
 * with -chardev socket,id=con0,path=RUN/console.sock,server=on,wait=off).
 *
 * Settings: type: qemu; socket: PATH (optional: another socket, relative to
 * the lab file's directory); timeout (unused, accepted like everywhere).
 *
 * Connecting before the guest runs is what keeps boot output: QEMU starts
 * paused and power_started() resumes it. QEMU accepts the connection in its
 * main loop, not at connect() time, so resuming right after connect() could
 * let the first bytes go to an unconnected chardev (logged to console.log,
 * never sent). connect() therefore waits, over QMP, until QEMU reports the
 * chardev connected. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "qemu/launch.h"
#include "qemu/qmp.h"
#include "lib/cfg.h"
#include "lib/clock.h"
#include "harness/console/console.h"
#include "lib/log.h"

/* How long connect() waits for QEMU to accept before it gives up checking
 * (the stream works either way; only the first bytes are at stake). */
#define QEMU_ACCEPT_WAIT_NS (2 * NS_PER_S)
#define QEMU_ACCEPT_TICK_MS 5

struct qemu_console {
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char qmp_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	bool check_accept; /* the socket is QEMU's con0 beside its QMP socket */
};

static int qc_open(struct console *c, const struct cfg_node *settings)
{
	static const char *const keys[] = {"type", "socket", "timeout", NULL};
	const char *socket_path = NULL;
	struct qemu_console *qc;
	int64_t unused;
	char *path;
	int n;

	if (cfg_check_keys(settings, keys) < 0 ||
	    cfg_get_str(settings, "socket", false, &socket_path) < 0 ||
	    cfg_get_duration(settings, "timeout", false, &unused) < 0)
		return -EINVAL;
	qc = calloc(1, sizeof(*qc));
	if (!qc)
		return -ENOMEM;
	if (socket_path) {
		char *dir = qemu_lab_dir(settings);
		path = dir ? qemu_resolve_path(dir, socket_path) : NULL;
		free(dir);
	} else {
		qc->check_accept = true;
		path = NULL;
		if (asprintf(&path, "%s/" QEMU_CONSOLE_SOCK, c->run_dir) < 0)
			path = NULL;
	}
	if (!path) {
		free(qc);
		return -ENOMEM;
	}
	n = snprintf(qc->path, sizeof(qc->path), "%s", path);
	free(path);
	if (n < 0 || (size_t)n >= sizeof(qc->path)) {
		cfg_error(socket_path ? cfg_get(settings, "socket") : settings,
		          "the console socket path is too long for a unix socket (%zu bytes at "
		          "most)%s",
		          sizeof(qc->path) - 1,
		          socket_path ? "" : ": set HILCTL_RUN_DIR to a shorter directory");
		free(qc);
		return -ENAMETOOLONG;
	}
	snprintf(qc->qmp_path, sizeof(qc->qmp_path), "%s/" QEMU_QMP_SOCK, c->run_dir);
	c->priv = qc;
	return 0;
}

/* Is con0 connected as QEMU sees it? query-chardev names an unconnected
 * server socket "disconnected:unix:...". 1 yes, 0 no, <0 cannot tell. */
static int chardev_connected(struct qmp *q, int64_t deadline_ns)
{
	json_t *list, *dev;
	size_t i;
	int rc = qmp_command(q, "query-chardev", NULL, &list, deadline_ns);

	if (rc < 0)
		return rc;
	rc = -ENOENT;
	json_array_foreach(list, i, dev)
	{
		const char *label = json_string_value(json_object_get(dev, "label"));
		const char *file = json_string_value(json_object_get(dev, "filename"));
		if (label && file && strcmp(label, QEMU_CONSOLE_ID) == 0)
			rc = strncmp(file, "disconnected:", 13) != 0;
	}
	json_decref(list);
	return rc;
}

static void wait_accepted(struct console *c, int64_t deadline_ns)
{
	struct qemu_console *qc = c->priv;
	int64_t until = clock_now_ns() + QEMU_ACCEPT_WAIT_NS;
	long backoff_us = 250;
	struct qmp *q;
	int rc;

	if (until > deadline_ns)
		until = deadline_ns;
	if (qmp_open(&q, qc->qmp_path, until, NULL, 0) < 0) {
		hil_debug("board \"%s\": no QMP to confirm the console connection", c->board);
		return;
	}
	/* QEMU accepts in its main loop, usually before the first query
	 * returns: a backoff from 0.25 ms, doubling to QEMU_ACCEPT_TICK_MS. */
	while ((rc = chardev_connected(q, until)) == 0 && clock_now_ns() < until) {
		struct timespec ts = {0, backoff_us * 1000L};
		ppoll(NULL, 0, &ts, NULL); /* bounded by until above */
		backoff_us = backoff_us * 2 < QEMU_ACCEPT_TICK_MS * 1000
		                 ? backoff_us * 2
		                 : QEMU_ACCEPT_TICK_MS * 1000;
	}
	if (rc != 1)
		hil_debug("board \"%s\": QEMU did not confirm the console connection (%d)",
		          c->board, rc);
	qmp_close(q);
}

static int qc_connect(struct console *c, int64_t deadline_ns)
{
	struct qemu_console *qc = c->priv;
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	int fd, rc;

	memcpy(addr.sun_path, qc->path, sizeof(addr.sun_path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* A unix stream connect completes at once; EAGAIN means QEMU's listen
	 * backlog is full (another client holds the console). */
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	c->fd = fd;
	if (qc->check_accept)
		wait_accepted(c, deadline_ns);
	return 0;
}

static ssize_t qc_read(struct console *c, void *buf, size_t len)
{
	ssize_t n = recv(c->fd, buf, len, MSG_DONTWAIT);

	if (n > 0)
		return n;
	if (n == 0)
		return -EPIPE; /* QEMU quit (power off) or closed the chardev */
	if (errno == EAGAIN || errno == EINTR)
		return 0;
	if (errno == ECONNRESET)
		return -EPIPE;
	return -errno;
}

static ssize_t qc_write(struct console *c, const void *buf, size_t len)
{
	ssize_t n = send(c->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);

	if (n >= 0)
		return n;
	if (errno == EAGAIN || errno == EINTR)
		return 0;
	if (errno == EPIPE || errno == ECONNRESET)
		return -EPIPE;
	return -errno;
}

static void qc_disconnect(struct console *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

static void qc_close(struct console *c)
{
	free(c->priv);
	c->priv = NULL;
}

const struct console_ops console_qemu_ops = {
    .name = "qemu",
    .follows_power = true,
    .open = qc_open,
    .connect = qc_connect,
    .read = qc_read,
    .write = qc_write,
    .disconnect = qc_disconnect,
    .close = qc_close,
};

/* harness/console/console.c — the only list of console types, and the calls shared
 * by all of them: connect with retries, timeline logging, gap marking. */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <time.h>

#include "lib/cfg.h"
#include "lib/clock.h"
#include "harness/console/console.h"
#include "lib/log.h"
#include "lib/timeline.h"

static const struct console_ops *const types[] = {
    &console_serial_ops,
    &console_tcp_ops,
    &console_qemu_ops,
};

#define N_TYPES (sizeof(types) / sizeof(types[0]))

const struct console_ops *console_find(const char *type)
{
	for (size_t i = 0; i < N_TYPES; i++)
		if (strcmp(types[i]->name, type) == 0)
			return types[i];
	return NULL;
}

const char *console_type_list(void)
{
	return "serial, tcp, qemu";
}

int console_open(struct console *c, const char *board, const char *run_dir,
                 const struct cfg_node *console_node)
{
	const struct cfg_node *type = cfg_get(console_node, "type");
	int rc;

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->board = board;
	c->run_dir = run_dir;
	if (!type || type->type != CFG_SCALAR) {
		cfg_error(type ? type : console_node, "needs \"type:\", one of %s",
		          console_type_list());
		return -EINVAL;
	}
	c->ops = console_find(type->value);
	if (!c->ops) {
		cfg_error(type, "\"%s\" is not one of %s", type->value, console_type_list());
		return -EINVAL;
	}
	rc = c->ops->open(c, console_node);
	if (rc < 0)
		c->ops = NULL;
	return rc;
}

int console_check_settings(const struct cfg_node *console_node, const char *board)
{
	struct console c;
	/* open() only parses (connect() reaches the device); the run
	 * directory is not made here, so paths under it are not checked. */
	int rc = console_open(&c, board, "", console_node);

	if (rc == 0)
		console_close(&c);
	return rc;
}

static bool not_there_yet(int rc)
{
	return rc == -ENOENT || rc == -ECONNREFUSED || rc == -ENODEV || rc == -EAGAIN ||
	       rc == -ENXIO;
}

int console_connect(struct console *c, int64_t deadline_ns)
{
	int rc, backoff_ms = 1;

	if (c->fd >= 0)
		return 0;
	for (;;) {
		rc = c->ops->connect(c, deadline_ns);
		if (rc == 0)
			break;
		if (!not_there_yet(rc) || clock_now_ns() >= deadline_ns)
			return rc;
		/* The device or socket appears later: retry with a backoff
		 * that doubles from 1 ms to 50 ms, bounded by the deadline. */
		poll(NULL, 0,
		     clock_poll_ms(deadline_ns) < backoff_ms ? clock_poll_ms(deadline_ns)
		                                             : backoff_ms);
		backoff_ms = backoff_ms < 25 ? backoff_ms * 2 : 50;
	}
	if (c->gap) {
		timeline_event(c->tl, clock_now_ns(), "gap", "console back after %s vanished",
		               c->ops->name);
		c->gap = false;
	}
	return 0;
}

ssize_t console_read(struct console *c, void *buf, size_t len, int64_t *t_ns)
{
	ssize_t n;

	if (c->fd < 0)
		return -EPIPE;
	n = c->ops->read(c, buf, len);
	*t_ns = clock_now_ns();
	if (n > 0) {
		c->bytes_read += (uint64_t)n;
		timeline_console(c->tl, *t_ns, buf, (size_t)n);
	} else if (n == -EPIPE) {
		timeline_event(c->tl, *t_ns, "gap", "console %s vanished", c->ops->name);
		c->gap = true;
		console_disconnect(c);
	}
	return n;
}

int console_write_all(struct console *c, const void *buf, size_t len, int64_t deadline_ns)
{
	const char *p = buf;

	while (len) {
		ssize_t n;

		if (c->fd < 0)
			return -EPIPE;
		n = c->ops->write(c, p, len);
		if (n < 0)
			return (int)n;
		if (n == 0) {
			struct pollfd pfd = {.fd = c->fd, .events = POLLOUT};
			int ms = clock_poll_ms(deadline_ns);
			if (ms == 0)
				return -ETIMEDOUT;
			if (poll(&pfd, 1, ms) < 0 && errno != EINTR)
				return -errno;
			continue;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

void console_disconnect(struct console *c)
{
	if (c->ops && c->fd >= 0)
		c->ops->disconnect(c);
	c->fd = -1;
}

void console_close(struct console *c)
{
	if (!c || !c->ops)
		return;
	console_disconnect(c);
	if (c->ops->close)
		c->ops->close(c);
	c->ops = NULL;
}

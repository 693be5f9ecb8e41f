/* harness/lab/board.c — open a board's lock, power, console and timeline, and
 * sequence power with the console so no boot output is lost. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "harness/lab/board.h"
#include "lib/clock.h"
#include "harness/run/expect.h"
#include "harness/lab/lock.h"
#include "lib/log.h"
#include "lib/timeline.h"

int board_open(struct board *b, const struct lab *lab, const char *name, const char *timeline_path,
               unsigned flags)
{
	char tl_path[600];
	int rc;

	memset(b, 0, sizeof(*b));
	b->console.fd = -1;
	b->lab = lab;
	b->cfg = lab_board(lab, name);
	if (!b->cfg) {
		hil_error("%s: no board \"%s\" (hilctl --lab %s boards lists them)", lab->path,
		          name, lab->path);
		return -ENOENT;
	}
	rc = board_run_dir(b->cfg->name, b->run_dir, sizeof(b->run_dir));
	if (rc < 0)
		return rc;
	if (!(flags & BOARD_F_NO_LOCK)) {
		rc = lock_take(b->cfg->name, 0, &b->locked_here);
		if (rc < 0)
			return rc;
	}
	if (!timeline_path) {
		snprintf(tl_path, sizeof(tl_path), "%s/timeline.jsonl", b->run_dir);
		timeline_path = tl_path;
	}
	b->tl = timeline_open(timeline_path, b->cfg->name);
	rc = power_open(&b->power, b->cfg->name, b->run_dir, b->cfg->power,
	                (flags & BOARD_F_PERSIST) ? POWER_F_PERSIST : 0);
	if (rc < 0)
		goto fail;
	b->power.tl = b->tl;
	if (b->cfg->console && !(flags & BOARD_F_NO_CONSOLE)) {
		rc = console_open(&b->console, b->cfg->name, b->run_dir, b->cfg->console);
		if (rc < 0)
			goto fail;
		b->console.tl = b->tl;
		b->has_console = true;
	}
	return 0;
fail:
	board_close(b);
	return rc;
}

void board_close(struct board *b)
{
	if (b->has_console)
		console_close(&b->console);
	b->has_console = false;
	power_close(&b->power);
	timeline_close(b->tl);
	b->tl = NULL;
	if (b->locked_here && b->cfg)
		lock_release(b->cfg->name, true);
	b->locked_here = false;
}

void board_set_timeline(struct board *b, struct timeline *tl)
{
	timeline_close(b->tl);
	b->tl = tl;
	b->power.tl = tl;
	b->console.tl = tl;
}

int board_power_on(struct board *b, int64_t deadline_ns)
{
	int rc = power_set(&b->power, true);

	if (rc < 0)
		return rc;
	b->powered = true;
	if (b->has_console) {
		rc = console_connect(&b->console, deadline_ns);
		if (rc < 0) {
			hil_error("board \"%s\": console did not come up after power on: %s",
			          b->cfg->name, strerror(-rc));
			return rc;
		}
	}
	rc = power_started(&b->power);
	if (rc == 0)
		timeline_event(b->tl, clock_now_ns(), "power", "running");
	return rc;
}

/* Read what the console has now (power.drain while a cut waits on QEMU):
 * logged on the timeline like every byte. */
static int drain_console(void *arg)
{
	struct board *b = arg;
	char buf[4096];
	int64_t t;

	return console_read(&b->console, buf, sizeof(buf), &t) < 0 ? -1 : 0;
}

int board_power_off(struct board *b)
{
	int rc;

	if (b->has_console && b->console.fd >= 0) {
		b->power.drain_fd = b->console.fd;
		b->power.drain = drain_console;
		b->power.drain_arg = b;
	}
	rc = power_set(&b->power, false);
	b->power.drain = NULL;

	b->powered = false;
	/* Read what the board said before it went dark, then let the next
	 * power on connect afresh. */
	if (b->has_console && b->console.ops->follows_power && b->console.fd >= 0) {
		char buf[4096];
		int64_t t;
		while (console_read(&b->console, buf, sizeof(buf), &t) > 0)
			;
		console_disconnect(&b->console);
	}
	return rc;
}

int board_power_cycle(struct board *b, int64_t off_ns, int64_t deadline_ns)
{
	int64_t until;
	int rc = board_power_off(b);

	if (rc < 0)
		return rc;
	/* The off-time is a deadline of its own; poll() with no fds waits it
	 * out and returns early only on a signal, which the caller handles. */
	until = clock_now_ns() + off_ns;
	while (clock_now_ns() < until)
		if (poll(NULL, 0, clock_poll_ms(until)) < 0 && errno == EINTR)
			return -EINTR;
	return board_power_on(b, deadline_ns);
}

int board_expect(struct board *b, struct expect *e, int64_t deadline_ns, struct expect_match *m,
                 int64_t *t_ns)
{
	char buf[4096];
	int rc;

	if (!b->has_console) {
		hil_error("board \"%s\" has no console: in the lab file", b->cfg->name);
		return -EINVAL;
	}
	/* Bytes already buffered may hold a second match. */
	rc = expect_feed(e, NULL, 0, m);
	if (rc != 0)
		return rc;
	for (;;) {
		struct pollfd pfd;
		ssize_t n;

		if (clock_now_ns() >= deadline_ns)
			return 0;
		if (b->console.fd < 0) {
			rc = console_connect(&b->console, deadline_ns);
			if (rc < 0)
				return clock_now_ns() >= deadline_ns ? 0 : rc;
		}
		pfd.fd = b->console.fd;
		pfd.events = POLLIN;
		rc = poll(&pfd, 1, clock_poll_ms(deadline_ns));
		if (rc < 0) {
			if (errno == EINTR)
				return -EINTR;
			return -errno;
		}
		if (rc == 0)
			continue;
		n = console_read(&b->console, buf, sizeof(buf), t_ns);
		if (n == -EPIPE || n == 0)
			continue;
		if (n < 0)
			return (int)n;
		rc = expect_feed(e, buf, (size_t)n, m);
		if (rc != 0)
			return rc;
	}
}

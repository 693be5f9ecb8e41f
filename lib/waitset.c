/* lib/waitset.c — fds and one deadline over poll(): see lib/waitset.h. */
#include "lib/waitset.h"

#include <errno.h>

#include "lib/clock.h"

void waitset_init(struct waitset *ws)
{
	ws->n = 0;
	ws->deadline_ns = WAITSET_NEVER;
}

int waitset_add(struct waitset *ws, int fd, short events)
{
	if (ws->n >= WAITSET_MAX)
		return -ENOSPC;
	ws->fds[ws->n] = (struct pollfd){.fd = fd, .events = events};
	return ws->n++;
}

void waitset_until(struct waitset *ws, int64_t deadline_ns)
{
	if (deadline_ns < ws->deadline_ns)
		ws->deadline_ns = deadline_ns;
}

int waitset_wait(struct waitset *ws)
{
	int timeout_ms = ws->deadline_ns == WAITSET_NEVER ? -1 : clock_poll_ms(ws->deadline_ns);
	int rc;

	for (int i = 0; i < ws->n; i++)
		ws->fds[i].revents = 0;
	rc = poll(ws->fds, (nfds_t)ws->n, timeout_ms);
	return rc < 0 ? -errno : rc;
}

short waitset_ready(const struct waitset *ws, int idx)
{
	if (idx < 0 || idx >= ws->n || ws->fds[idx].fd < 0)
		return 0;
	return ws->fds[idx].revents;
}

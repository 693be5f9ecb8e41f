/* harness/campaign/workers.c — the worker pool of campaigns and crash-state boots:
 * fork one process per board, hand out job lines, collect record lines,
 * kill what overruns its deadline or outlives the stop. See workers.h. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness/cli/cli.h"
#include "lib/clock.h"
#include "lib/waitset.h"
#include "harness/campaign/workers.h"
#include "lib/stop.h"

static int start_one(struct worker_pool *p, struct worker *w, pid_t parent)
{
	int down[2], up[2], err;

	if (pipe2(down, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(up, O_CLOEXEC) < 0) {
		err = -errno;
		goto close_down;
	}
	fflush(NULL);
	w->pid = fork();
	if (w->pid < 0) {
		err = -errno;
		close(up[0]);
		close(up[1]);
		goto close_down;
	}
	if (w->pid == 0) {
		close(down[1]);
		close(up[0]);
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent) /* the parent died before prctl took hold */
			_exit(EXIT_INFRA);
		_exit(p->child(p->arg, down[0], up[1], w->board));
	}
	close(down[0]);
	close(up[1]);
	w->to_fd = down[1];
	w->from_fd = up[0];
	w->running = -1;
	w->deadline = 0;
	return 0;
close_down:
	close(down[0]);
	close(down[1]);
	return err;
}

int workers_start(struct worker_pool *p)
{
	pid_t parent = getpid();

	for (int i = 0; i < p->n; i++) {
		int rc = start_one(p, &p->w[i], parent);
		if (rc < 0) {
			p->n = i;
			return rc;
		}
	}
	return 0;
}

int workers_send(struct worker *w, const char *line)
{
	return write(w->to_fd, line, strlen(line)) < 0 ? -errno : 0;
}

static void read_worker(struct worker_pool *p, struct worker *w)
{
	ssize_t n = read(w->from_fd, w->buf + w->len, sizeof(w->buf) - 1 - w->len);
	char *nl;

	if (n <= 0) {
		if (n < 0 && errno == EINTR)
			return;
		w->dead = true;
		close(w->from_fd);
		if (w->running >= 0) {
			if (p->on_lost)
				p->on_lost(p->arg, w);
			w->running = -1;
		}
		return;
	}
	w->len += (size_t)n;
	w->buf[w->len] = '\0';
	while ((nl = strchr(w->buf, '\n'))) {
		char *line = NULL;
		*nl = '\0';
		if (asprintf(&line, "%s\n", w->buf) >= 0)
			p->on_record(p->arg, w, line);
		free(line);
		memmove(w->buf, nl + 1, w->len - (size_t)(nl + 1 - w->buf) + 1);
		w->len -= (size_t)(nl + 1 - w->buf);
	}
}

/* Poll the live workers' record pipes until deadline (-1: none); read what
 * came. The poll's result (0 at the deadline, <0 on an error). */
static int poll_records(struct worker_pool *p, int64_t deadline)
{
	struct waitset ws;
	int rc;

	waitset_init(&ws);
	for (int i = 0; i < p->n; i++)
		waitset_add(&ws, p->w[i].dead ? -1 : p->w[i].from_fd, POLLIN);
	if (deadline >= 0)
		waitset_until(&ws, deadline);
	rc = waitset_wait(&ws);
	if (rc < 0)
		return rc;
	for (int i = 0; i < p->n; i++)
		if (waitset_ready(&ws, i))
			read_worker(p, &p->w[i]);
	return rc;
}

static void kill_worker(struct worker *w, int sig)
{
	kill(w->pid, sig);
	if (sig == SIGKILL && !w->dead) {
		close(w->from_fd);
		w->dead = true;
	}
}

/* The earliest of the caller's wake time and the busy workers' deadlines. */
static int64_t next_wake(struct worker_pool *p)
{
	int64_t wake = p->wake ? p->wake(p->arg) : -1;

	for (int i = 0; i < p->n; i++) {
		const struct worker *w = &p->w[i];
		if (!w->dead && w->running >= 0 && w->deadline > 0 &&
		    (wake < 0 || w->deadline < wake))
			wake = w->deadline;
	}
	return wake;
}

static void kill_overdue(struct worker_pool *p)
{
	int64_t now = clock_now_ns();

	for (int i = 0; i < p->n; i++) {
		struct worker *w = &p->w[i];
		if (w->dead || w->running < 0 || w->deadline <= 0 || now < w->deadline)
			continue;
		if (p->on_overdue)
			p->on_overdue(p->arg, w);
		w->running = -1;
		kill_worker(w, SIGKILL);
	}
}

int workers_run(struct worker_pool *p)
{
	for (;;) {
		int busy = 0, live = 0, rc;

		for (int i = 0; i < p->n; i++) {
			struct worker *w = &p->w[i];
			if (w->dead)
				continue;
			live++;
			if (w->running < 0 && p->assign(p->arg, w) < 0)
				w->dead = true;
			busy += w->running >= 0;
		}
		if (!busy && p->more && p->more(p->arg) > 0)
			continue;
		if (!busy || !live)
			return 0;
		rc = poll_records(p, next_wake(p));
		if (rc < 0 && rc != -EINTR)
			return rc;
		if (stop_requested())
			for (int i = 0; i < p->n; i++)
				if (!p->w[i].dead)
					kill_worker(&p->w[i], SIGTERM);
		kill_overdue(p);
	}
}

void workers_stop(struct worker_pool *p, int64_t timeout_ns)
{
	int64_t deadline = clock_now_ns() + timeout_ns;

	for (int i = 0; i < p->n; i++)
		close(p->w[i].to_fd);
	for (;;) {
		int live = 0, rc;

		for (int i = 0; i < p->n; i++)
			live += !p->w[i].dead;
		if (!live)
			break;
		rc = poll_records(p, deadline);
		if (rc == 0 || (rc < 0 && rc != -EINTR))
			break; /* the deadline, or poll failed */
	}
	for (int i = 0; i < p->n; i++) {
		int status;
		if (!p->w[i].dead)
			kill_worker(&p->w[i], SIGKILL);
		waitpid(p->w[i].pid, &status, 0);
	}
}

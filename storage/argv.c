/* storage/argv.c — run a mux program from an argv list (argv.h). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "storage/argv.h"

#define OUTPUT_MAX 1024
#define WAIT_STEP_NS (20 * NS_PER_MS)
#define DEFAULT_TIMEOUT_NS (30 * NS_PER_S)

extern char **environ;

static void describe(char *const argv[], char *buf, size_t size)
{
	size_t used = 0;

	buf[0] = 0;
	for (size_t i = 0; argv[i] && used + 1 < size; i++) {
		int n = snprintf(buf + used, size - used, "%s%s", i ? " " : "", argv[i]);
		if (n < 0)
			break;
		used += (size_t)n;
	}
}

static int spawn(char *const argv[], pid_t *pid, int *out_fd)
{
	posix_spawn_file_actions_t actions;
	posix_spawnattr_t attr;
	sigset_t none, all;
	int pipe_fds[2], rc;

	if (pipe2(pipe_fds, O_CLOEXEC) < 0)
		return -errno;
	posix_spawn_file_actions_init(&actions);
	posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
	posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDERR_FILENO);
	posix_spawnattr_init(&attr);
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
	                                    POSIX_SPAWN_SETSIGDEF);
	rc = posix_spawnp(pid, argv[0], &actions, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&actions);
	posix_spawnattr_destroy(&attr);
	close(pipe_fds[1]);
	if (rc != 0) {
		close(pipe_fds[0]);
		return -rc;
	}
	*out_fd = pipe_fds[0];
	return 0;
}

struct child {
	pid_t pid;
	int fd; /* its stdout and stderr; -1 once closed */
	int status;
	char output[OUTPUT_MAX + 1];
	size_t len;
};

static void keep_output(struct child *c, const char *data, size_t n)
{
	size_t take = n < OUTPUT_MAX - c->len ? n : OUTPUT_MAX - c->len;

	memcpy(c->output + c->len, data, take);
	c->len += take;
	c->output[c->len] = 0;
}

/* Read its output until it exits; at the deadline kill the whole group (a
 * wrapper script's children too). 0 or -ETIMEDOUT. */
static int wait_child(struct child *c, int64_t deadline)
{
	char scratch[512];

	for (;;) {
		struct pollfd p = {.fd = c->fd, .events = POLLIN};
		int64_t now = clock_now_ns(), step = now + WAIT_STEP_NS;
		int ms = clock_poll_ms(step < deadline ? step : deadline);

		if (waitpid(c->pid, &c->status, WNOHANG) == c->pid)
			break;
		if (now >= deadline) {
			kill(-c->pid, SIGKILL);
			waitpid(c->pid, NULL, 0);
			return -ETIMEDOUT;
		}
		if (c->fd >= 0 && poll(&p, 1, ms) > 0) {
			ssize_t n = read(c->fd, scratch, sizeof(scratch));
			if (n > 0) {
				keep_output(c, scratch, (size_t)n);
			} else {
				close(c->fd);
				c->fd = -1;
			}
		} else if (c->fd < 0) {
			poll(NULL, 0, ms);
		}
	}
	if (c->fd >= 0) {
		/* What it wrote just before it exited; a child that kept the
		 * pipe open must not hold us here. */
		ssize_t n;
		fcntl(c->fd, F_SETFL, O_NONBLOCK);
		while ((n = read(c->fd, scratch, sizeof(scratch))) > 0)
			keep_output(c, scratch, (size_t)n);
	}
	return 0;
}

int storage_run_argv(const char *board, const char *what, char *const argv[], int64_t timeout_ns)
{
	int64_t timeout = timeout_ns > 0 ? timeout_ns : DEFAULT_TIMEOUT_NS;
	struct child c = {.fd = -1};
	char cmd[512];
	int rc;

	describe(argv, cmd, sizeof(cmd));
	rc = spawn(argv, &c.pid, &c.fd);
	if (rc < 0) {
		hil_error("board \"%s\": storage %s: cannot run %s: %s", board, what, argv[0],
		          strerror(-rc));
		return rc == -ENOENT ? -ENOENT : -EIO;
	}
	rc = wait_child(&c, clock_now_ns() + timeout);
	if (c.fd >= 0)
		close(c.fd);
	if (rc == -ETIMEDOUT) {
		hil_error("board \"%s\": storage %s: %s did not finish within %.1f s (killed)",
		          board, what, cmd, (double)timeout / NS_PER_S);
		return rc;
	}
	if (WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0)
		return 0;
	while (c.len && (c.output[c.len - 1] == '\n' || c.output[c.len - 1] == ' '))
		c.output[--c.len] = 0;
	hil_error("board \"%s\": storage %s: %s %s %d%s%s", board, what, cmd,
	          WIFEXITED(c.status) ? "exited with" : "was killed by signal",
	          WIFEXITED(c.status) ? WEXITSTATUS(c.status) : WTERMSIG(c.status),
	          c.len ? ": " : "", c.output);
	return -EIO;
}

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

int storage_run_argv(const char *board, const char *what, char *const argv[], int64_t timeout_ns)
{
	char cmd[512], output[OUTPUT_MAX + 1] = "";
	size_t len = 0;
	int64_t deadline = clock_now_ns() + (timeout_ns > 0 ? timeout_ns : 30 * NS_PER_S);
	pid_t pid;
	int fd = -1, status = 0, rc;
	bool exited = false;

	describe(argv, cmd, sizeof(cmd));
	rc = spawn(argv, &pid, &fd);
	if (rc < 0) {
		hil_error("board \"%s\": storage %s: cannot run %s: %s", board, what, argv[0],
		          strerror(-rc));
		return rc == -ENOENT ? -ENOENT : -EIO;
	}
	/* Read its output until it closes, then reap; at the deadline kill
	 * the whole group (a wrapper script's children too). */
	while (!exited) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int64_t now = clock_now_ns(), step = now + WAIT_STEP_NS;

		if (now >= deadline) {
			kill(-pid, SIGKILL);
			waitpid(pid, NULL, 0);
			if (fd >= 0)
				close(fd);
			hil_error(
			    "board \"%s\": storage %s: %s did not finish within %.1f s (killed)",
			    board, what, cmd,
			    (double)(timeout_ns > 0 ? timeout_ns : 30 * NS_PER_S) / NS_PER_S);
			return -ETIMEDOUT;
		}
		if (fd >= 0 && poll(&p, 1, clock_poll_ms(step < deadline ? step : deadline)) > 0) {
			char scratch[512];
			ssize_t n = read(fd, scratch, sizeof(scratch));
			if (n <= 0) {
				close(fd);
				fd = -1;
			} else if (len < OUTPUT_MAX) {
				size_t take =
				    (size_t)n < OUTPUT_MAX - len ? (size_t)n : OUTPUT_MAX - len;
				memcpy(output + len, scratch, take);
				len += take;
				output[len] = 0;
			}
		} else if (fd < 0) {
			poll(NULL, 0, clock_poll_ms(step < deadline ? step : deadline));
		}
		exited = waitpid(pid, &status, WNOHANG) == pid;
	}
	if (fd >= 0) {
		/* What it wrote just before it exited; a child that kept the
		 * pipe open must not hold us here. */
		fcntl(fd, F_SETFL, O_NONBLOCK);
		for (ssize_t n;
		     len < OUTPUT_MAX && (n = read(fd, output + len, OUTPUT_MAX - len)) > 0;)
			len += (size_t)n;
		output[len] = 0;
		close(fd);
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	while (len && (output[len - 1] == '\n' || output[len - 1] == ' '))
		output[--len] = 0;
	hil_error("board \"%s\": storage %s: %s %s %d%s%s", board, what, cmd,
	          WIFEXITED(status) ? "exited with" : "was killed by signal",
	          WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), len ? ": " : "",
	          output);
	return -EIO;
}

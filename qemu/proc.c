/* qemu/proc.c — QEMU as a process: spawn (tied to hilctl or detached), find
 * again through its pid file, wait for its exit on a pidfd with a deadline,
 * kill, and read its stderr tail for error messages. See proc.h. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/clock.h"
#include "qemu/proc.h"

/* Without pidfd (Linux < 5.3) a wait looks again this often. */
#define PROC_TICK_MS 20

static int pidfd_open_compat(pid_t pid)
{
#ifdef SYS_pidfd_open
	return (int)syscall(SYS_pidfd_open, pid, 0);
#else
	errno = ENOSYS;
	return -1;
#endif
}

static void close_other_fds(int from)
{
#ifdef SYS_close_range
	if (syscall(SYS_close_range, from, ~0U, 0) == 0)
		return;
#endif
	for (long fd = from, max = sysconf(_SC_OPEN_MAX); fd < max && fd < 65536; fd++)
		close((int)fd);
}

/* In the child, between fork and exec: only async-signal-safe calls. */
static void child_exec(char *const argv[], int err_fd, int null_fd, int report_fd, pid_t parent,
                       bool persist)
{
	static const int reset[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGQUIT, SIGCHLD};
	sigset_t none;
	int e;

	if (persist) {
		setsid();
	} else {
		/* Own group: a Ctrl-C reaches hilctl, which then powers off. */
		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent) /* hilctl died before prctl took hold */
			_exit(127);
	}
	/* Ignored signals stay ignored across exec; QEMU expects defaults. */
	for (size_t i = 0; i < sizeof(reset) / sizeof(reset[0]); i++)
		signal(reset[i], SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (dup2(null_fd, 0) < 0 || dup2(err_fd, 1) < 0 || dup2(err_fd, 2) < 0 ||
	    dup2(report_fd, 3) < 0 || fcntl(3, F_SETFD, FD_CLOEXEC) < 0)
		goto fail;
	report_fd = 3;
	/* Nothing else of hilctl's may live on in QEMU: a board lock or a
	 * timeline held open by a detached QEMU would outlast hilctl. */
	close_other_fds(4);
	execvp(argv[0], argv);
fail:
	e = errno;
	if (write(report_fd, &e, sizeof(e)) < 0)
		_exit(127);
	_exit(127);
}

int qemu_spawn(char *const argv[], const char *err_path, bool persist, struct qemu_proc *proc)
{
	int err_fd, null_fd, report[2], child_errno = 0, rc = 0;
	pid_t parent = getpid(), child;

	*proc = (struct qemu_proc){0, -1, true, 0};
	err_fd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0666);
	if (err_fd < 0)
		return -errno;
	null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (null_fd < 0 || pipe2(report, O_CLOEXEC) < 0) {
		rc = -errno;
		close(err_fd);
		if (null_fd >= 0)
			close(null_fd);
		return rc;
	}
	child = fork();
	if (child == 0)
		child_exec(argv, err_fd, null_fd, report[1], parent, persist);
	if (child < 0)
		rc = -errno;
	close(report[1]);
	close(err_fd);
	close(null_fd);
	/* The report pipe closes at exec (CLOEXEC) or carries exec's errno;
	 * either happens right after fork, so this read cannot hang. */
	while (child > 0 && read(report[0], &child_errno, sizeof(child_errno)) < 0 &&
	       errno == EINTR)
		;
	close(report[0]);
	if (child > 0 && child_errno) {
		waitpid(child, NULL, 0);
		return -child_errno;
	}
	if (child > 0) {
		proc->pid = child;
		proc->pidfd = pidfd_open_compat(child);
	}
	return rc;
}

/* Does /proc/PID/cmdline carry the argument ident? */
static bool has_argument(pid_t pid, const char *ident)
{
	char path[64], buf[16384];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	for (char *arg = buf; arg < buf + n; arg += strlen(arg) + 1)
		if (strcmp(arg, ident) == 0)
			return true;
	return false;
}

static pid_t read_pid_file(const char *path)
{
	char buf[32] = "";
	long pid;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	pid = strtol(buf, NULL, 10);
	return pid > 0 && pid < INT_MAX ? (pid_t)pid : 0;
}

static bool pidfd_exited(int pidfd)
{
	struct pollfd pfd = {.fd = pidfd, .events = POLLIN};

	return poll(&pfd, 1, 0) == 1;
}

int qemu_proc_find(const char *pid_path, const char *ident, struct qemu_proc *proc,
                   pid_t *stale_pid)
{
	pid_t pid = read_pid_file(pid_path);
	int pidfd;

	*proc = (struct qemu_proc){0, -1, false, 0};
	*stale_pid = 0;
	if (!pid)
		return 0;
	/* Open the pidfd first: the identity check then holds for the process
	 * the pidfd refers to, not for a later holder of the number. A zombie
	 * has an empty command line and a readable pidfd: gone too. */
	pidfd = pidfd_open_compat(pid);
	if ((pidfd < 0 && errno == ESRCH) || !has_argument(pid, ident) ||
	    (pidfd >= 0 && pidfd_exited(pidfd))) {
		if (pidfd >= 0)
			close(pidfd);
		*stale_pid = pid;
		return 0;
	}
	*proc = (struct qemu_proc){pid, pidfd, false, 0};
	return 1;
}

bool qemu_proc_exited(struct qemu_proc *proc)
{
	if (!proc->pid)
		return true;
	if (proc->ours) {
		if (waitpid(proc->pid, &proc->status, WNOHANG) == 0)
			return false;
		qemu_proc_release(proc);
		proc->pid = 0;
		return true;
	}
	if (proc->pidfd >= 0)
		return pidfd_exited(proc->pidfd);
	return kill(proc->pid, 0) < 0 && errno == ESRCH;
}

int qemu_proc_wait(struct qemu_proc *proc, int64_t deadline_ns)
{
	for (;;) {
		int ms;

		if (qemu_proc_exited(proc))
			return 0;
		if (clock_now_ns() >= deadline_ns)
			return -ETIMEDOUT;
		ms = clock_poll_ms(deadline_ns);
		if (proc->pidfd >= 0) {
			struct pollfd pfd = {.fd = proc->pidfd, .events = POLLIN};
			poll(&pfd, 1, ms);
		} else {
			poll(NULL, 0, ms < PROC_TICK_MS ? ms : PROC_TICK_MS);
		}
	}
}

int qemu_proc_kill(struct qemu_proc *proc, int sig)
{
#ifdef SYS_pidfd_send_signal
	if (proc->pidfd >= 0)
		return syscall(SYS_pidfd_send_signal, proc->pidfd, sig, NULL, 0) < 0 ? -errno : 0;
#endif
	return kill(proc->pid, sig) < 0 ? -errno : 0;
}

void qemu_proc_release(struct qemu_proc *proc)
{
	if (proc->pidfd >= 0)
		close(proc->pidfd);
	proc->pidfd = -1;
}

void qemu_stderr_tail(const char *path, char *out, size_t size)
{
	char buf[2048], joined[sizeof(buf) * 2], *start;
	ssize_t n;
	size_t len;
	off_t end;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	out[0] = '\0';
	if (fd < 0)
		return;
	end = lseek(fd, 0, SEEK_END);
	lseek(fd, end > (off_t)sizeof(buf) - 1 ? end - (off_t)sizeof(buf) + 1 : 0, SEEK_SET);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	while (n > 0 && strchr("\n\r ", buf[n - 1]))
		buf[--n] = '\0';
	/* The last three lines: QEMU's error is the last one, with context. */
	start = buf + n;
	for (int lines = 0; start > buf && lines < 3; lines += *--start == '\n')
		;
	if (*start == '\n')
		start++;
	/* One line: newlines become "; ", other control characters spaces. */
	len = 0;
	for (char *c = start; *c; c++) {
		if (*c == '\n') {
			joined[len++] = ';';
			joined[len++] = ' ';
		} else if (*c != '\r') {
			joined[len++] = (unsigned char)*c < ' ' ? ' ' : *c;
		}
	}
	joined[len] = '\0';
	/* Too long: keep the end, where the error is. */
	start = joined;
	if (len >= size) {
		start += len - (size - 1);
		len = size - 1;
	}
	memcpy(out, start, len + 1);
}

/* power/qemu.c — the board is a QEMU machine: power on starts QEMU paused
 * with QMP and the serial console on unix sockets in the board's run
 * directory, started() resumes it once the console listens, power off stops
 * it at once (QMP quit, SIGKILL when QMP does not answer), status asks the
 * process and QMP.
 *
 * State lives in the run directory (qmp.sock, console.sock, console.log,
 * qemu.pid, qemu.stderr), so a later hilctl finds a QEMU that `hilctl power
 * on` left running (POWER_F_PERSIST: own session, survives hilctl). Without
 * POWER_F_PERSIST the QEMU dies with hilctl (PR_SET_PDEATHSIG) and close()
 * powers it off. A qemu.pid is trusted only if that process's command line
 * names this board's QMP socket: a pid reused after a crash is not QEMU.
 * Every wait is a poll() on a pidfd or the QMP socket with a deadline. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../harness/clock.h"
#include "../harness/log.h"
#include "../harness/timeline.h"
#include "../qemu/launch.h"
#include "../qemu/qmp.h"
#include "power.h"

#define QEMU_DEFAULT_TIMEOUT_NS (10 * NS_PER_S)
/* A QEMU that does not answer QMP within this is hung: off kills it. */
#define QEMU_QMP_PATIENCE_NS (3 * NS_PER_S)
/* After SIGKILL the kernel needs a moment to tear a large guest down. */
#define QEMU_KILL_WAIT_NS (5 * NS_PER_S)
/* How often a start looks for the QMP socket while QEMU sets up. */
#define QEMU_START_TICK_MS 20

#define SUN_PATH_MAX (sizeof(((struct sockaddr_un *)0)->sun_path))

struct qemu_power {
	struct qemu_config cfg;
	char qmp_path[SUN_PATH_MAX], con_path[SUN_PATH_MAX];
	char pid_path[PATH_MAX], err_path[PATH_MAX], log_path[PATH_MAX];
	char *qmp_arg; /* the -qmp argument that identifies this board's QEMU */
	pid_t child;   /* started by this process and not reaped yet, else 0 */
	int child_pidfd;
	int last_status; /* waitpid() status of the last child reaped */
};

/* One QEMU process of this board, found alive. */
struct qemu_proc {
	pid_t pid;
	int pidfd; /* -1 without pidfd support */
	bool ours; /* our child: reap it */
};

static int64_t op_timeout(const struct power *p)
{
	return p->timeout_ns > 0 ? p->timeout_ns : QEMU_DEFAULT_TIMEOUT_NS;
}

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

static int pidfd_open_compat(pid_t pid)
{
#ifdef SYS_pidfd_open
	return (int)syscall(SYS_pidfd_open, pid, 0);
#else
	errno = ENOSYS;
	return -1;
#endif
}

static int qemu_open(struct power *p, const struct cfg_node *settings)
{
	struct qemu_power *qp = calloc(1, sizeof(*qp));
	size_t dir_len = strlen(p->run_dir);
	int rc;

	if (!qp)
		return -ENOMEM;
	qp->child_pidfd = -1;
	rc = qemu_config_parse(&qp->cfg, settings);
	if (rc < 0) {
		free(qp);
		return rc;
	}
	if (dir_len + sizeof("/" QEMU_CONSOLE_SOCK) > SUN_PATH_MAX) {
		hil_error("board \"%s\": run directory %s is too long for QEMU's unix sockets "
			  "(%zu bytes at most): set HILCTL_RUN_DIR to a shorter directory",
			  p->board, p->run_dir, SUN_PATH_MAX - sizeof("/" QEMU_CONSOLE_SOCK));
		qemu_config_free(&qp->cfg);
		free(qp);
		return -ENAMETOOLONG;
	}
	snprintf(qp->qmp_path, sizeof(qp->qmp_path), "%s/" QEMU_QMP_SOCK, p->run_dir);
	snprintf(qp->con_path, sizeof(qp->con_path), "%s/" QEMU_CONSOLE_SOCK, p->run_dir);
	snprintf(qp->pid_path, sizeof(qp->pid_path), "%s/" QEMU_PID_FILE, p->run_dir);
	snprintf(qp->err_path, sizeof(qp->err_path), "%s/" QEMU_STDERR_FILE, p->run_dir);
	snprintf(qp->log_path, sizeof(qp->log_path), "%s/" QEMU_CONSOLE_LOG, p->run_dir);
	qp->qmp_arg = qemu_qmp_arg(p->run_dir);
	if (!qp->qmp_arg) {
		qemu_config_free(&qp->cfg);
		free(qp);
		return -ENOMEM;
	}
	p->priv = qp;
	return 0;
}

/* ---- finding the process ---- */

static bool pidfd_exited(int pidfd)
{
	struct pollfd pfd = {.fd = pidfd, .events = POLLIN};

	return poll(&pfd, 1, 0) == 1;
}

/* Does /proc/PID/cmdline carry this board's -qmp argument? */
static bool is_our_qemu(struct qemu_power *qp, pid_t pid)
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
		if (strcmp(arg, qp->qmp_arg) == 0)
			return true;
	return false;
}

/* Reap our child if it has exited; returns true when it is gone. */
static bool child_gone(struct qemu_power *qp)
{
	pid_t r;

	if (!qp->child)
		return true;
	r = waitpid(qp->child, &qp->last_status, WNOHANG);
	if (r == 0)
		return false;
	if (qp->child_pidfd >= 0)
		close(qp->child_pidfd);
	qp->child = 0;
	qp->child_pidfd = -1;
	return true;
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

/* Find this board's QEMU: our child, else the pid file's process if it is
 * QEMU with our QMP socket. 1 found (proc filled), 0 none. *stale_pid is
 * the pid a leftover pid file names when that process is gone. */
static int find_qemu(struct qemu_power *qp, struct qemu_proc *proc, pid_t *stale_pid)
{
	pid_t pid;
	int pidfd;

	*stale_pid = 0;
	if (qp->child && !child_gone(qp)) {
		*proc = (struct qemu_proc){qp->child, qp->child_pidfd, true};
		return 1;
	}
	pid = read_pid_file(qp->pid_path);
	if (!pid)
		return 0;
	/* Open the pidfd first: the identity check then holds for the process
	 * the pidfd refers to, not for a later holder of the number. */
	pidfd = pidfd_open_compat(pid);
	if ((pidfd < 0 && errno == ESRCH) || !is_our_qemu(qp, pid) ||
	    (pidfd >= 0 && pidfd_exited(pidfd))) {
		if (pidfd >= 0)
			close(pidfd);
		*stale_pid = pid;
		return 0;
	}
	*proc = (struct qemu_proc){pid, pidfd, false};
	return 1;
}

static void proc_release(struct qemu_proc *proc)
{
	if (!proc->ours && proc->pidfd >= 0)
		close(proc->pidfd);
	proc->pidfd = -1;
}

/* Wait until the process has exited (and reap it if ours). 0 or -ETIMEDOUT. */
static int wait_exit(struct qemu_power *qp, struct qemu_proc *proc, int64_t deadline_ns)
{
	for (;;) {
		if (proc->ours ? child_gone(qp)
			       : (proc->pidfd >= 0 ? pidfd_exited(proc->pidfd)
						   : kill(proc->pid, 0) < 0 && errno == ESRCH))
			return 0;
		if (clock_now_ns() >= deadline_ns)
			return -ETIMEDOUT;
		if (proc->pidfd >= 0) {
			struct pollfd pfd = {.fd = proc->pidfd, .events = POLLIN};
			poll(&pfd, 1, clock_poll_ms(deadline_ns));
		} else {
			/* No pidfd: look again shortly, still bounded by the deadline. */
			poll(NULL, 0, min64(clock_poll_ms(deadline_ns), QEMU_START_TICK_MS));
		}
	}
}

static void remove_state_files(struct qemu_power *qp)
{
	unlink(qp->qmp_path);
	unlink(qp->con_path);
	unlink(qp->pid_path);
}

/* The last lines QEMU printed, joined into one line for an error message. */
static void stderr_tail(struct qemu_power *qp, char *out, size_t size)
{
	char buf[2048];
	ssize_t n = 0;
	off_t end;
	int fd = open(qp->err_path, O_RDONLY | O_CLOEXEC);

	out[0] = '\0';
	if (fd < 0)
		return;
	end = lseek(fd, 0, SEEK_END);
	if (end > (off_t)sizeof(buf) - 1)
		lseek(fd, end - (off_t)sizeof(buf) + 1, SEEK_SET);
	else
		lseek(fd, 0, SEEK_SET);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	/* Keep the last three lines: QEMU's error is the last one, with context. */
	char *start = buf + n;
	for (int lines = 0; start > buf && lines < 3; lines += *--start == '\n')
		;
	if (*start == '\n')
		start++;
	for (char *c = start; *c; c++)
		if (*c == '\n' || *c == '\r' || *c == '\t')
			*c = *c == '\n' ? ';' : ' ';
	/* Too long: keep the end, where QEMU's error is. */
	size_t len = strlen(start);
	if (len >= size)
		start += len - (size - 1), len = size - 1;
	memcpy(out, start, len + 1);
}

/* ---- status ---- */

static void warn_gone(struct power *p, pid_t pid)
{
	struct qemu_power *qp = p->priv;
	char tail[400];

	stderr_tail(qp, tail, sizeof(tail));
	hil_warn("board \"%s\": QEMU (pid %d) is gone without a power off (killed or crashed "
		 "outside hilctl?): power is off%s%s",
		 p->board, (int)pid, tail[0] ? "; QEMU's last words: " : "", tail);
}

/* Ask QMP; 0 with *status filled, or -errno with why filled. */
static int ask_status(struct qemu_power *qp, char *status, size_t size, char *why,
		      size_t why_size, int64_t deadline_ns)
{
	struct qmp *q;
	int rc = qmp_open(&q, qp->qmp_path, deadline_ns, why, why_size);

	if (rc < 0)
		return rc;
	rc = qmp_query_status(q, status, size, deadline_ns);
	if (rc < 0)
		snprintf(why, why_size, "%s", qmp_error(q));
	qmp_close(q);
	return rc;
}

static int qemu_get(struct power *p, enum power_state *out)
{
	struct qemu_power *qp = p->priv;
	int64_t deadline = clock_now_ns() + min64(op_timeout(p), QEMU_QMP_PATIENCE_NS);
	char why[320] = "", status[64];
	struct qemu_proc proc;
	pid_t stale;
	int rc;

	*out = POWER_UNKNOWN;
	if (!find_qemu(qp, &proc, &stale)) {
		if (stale) {
			warn_gone(p, stale);
			remove_state_files(qp);
		}
		*out = POWER_OFF;
		return 0;
	}
	rc = ask_status(qp, status, sizeof(status), why, sizeof(why), deadline);
	if (rc < 0 && wait_exit(qp, &proc, clock_now_ns()) == 0) {
		/* It died while we asked. */
		*out = POWER_OFF;
	} else if (rc < 0) {
		hil_warn("board \"%s\": QEMU (pid %d) runs but does not answer on %s (%s): power "
			 "state unknown; \"hilctl power %s off\" kills it",
			 p->board, (int)proc.pid, qp->qmp_path, why, p->board);
	} else {
		/* QEMU exits right after "shutdown" (no -no-shutdown): the
		 * machine is off already. Every other state is a powered one,
		 * paused, panicked or running. */
		*out = strcmp(status, "shutdown") == 0 ? POWER_OFF : POWER_ON;
		hil_debug("board \"%s\": QEMU pid %d is %s", p->board, (int)proc.pid, status);
	}
	proc_release(&proc);
	return 0;
}

/* ---- off ---- */

static int signal_proc(struct qemu_proc *proc, int sig)
{
#ifdef SYS_pidfd_send_signal
	if (proc->pidfd >= 0)
		return (int)syscall(SYS_pidfd_send_signal, proc->pidfd, sig, NULL, 0);
#endif
	return kill(proc->pid, sig);
}

/* Stop at once: QMP quit (QEMU exits without running the guest further),
 * SIGKILL when QMP does not answer or QEMU does not exit in time. */
static int stop_qemu(struct power *p, struct qemu_proc *proc)
{
	struct qemu_power *qp = p->priv;
	int64_t now = clock_now_ns();
	int64_t qmp_deadline = now + min64(op_timeout(p), QEMU_QMP_PATIENCE_NS);
	char why[320] = "";
	struct qmp *q;
	int rc;

	rc = qmp_open(&q, qp->qmp_path, qmp_deadline, why, sizeof(why));
	if (rc == 0) {
		rc = qmp_command(q, "quit", NULL, NULL, qmp_deadline);
		/* QEMU may close the socket before its answer arrives. */
		if (rc == -EPIPE)
			rc = 0;
		if (rc < 0)
			snprintf(why, sizeof(why), "%s", qmp_error(q));
		qmp_close(q);
	}
	if (rc == 0 && wait_exit(qp, proc, now + op_timeout(p)) == 0)
		return 0;
	if (rc == 0)
		snprintf(why, sizeof(why), "it did not exit after quit");
	if (signal_proc(proc, SIGKILL) < 0 && errno != ESRCH) {
		hil_error("board \"%s\": cannot kill QEMU (pid %d): %s", p->board, (int)proc->pid,
			  strerror(errno));
		return -errno;
	}
	if (wait_exit(qp, proc, clock_now_ns() + QEMU_KILL_WAIT_NS) < 0) {
		hil_error("board \"%s\": QEMU (pid %d) is still there after SIGKILL", p->board,
			  (int)proc->pid);
		return -EIO;
	}
	hil_warn("board \"%s\": QEMU (pid %d) did not quit over QMP (%s); killed it", p->board,
		 (int)proc->pid, why);
	return 0;
}

static int qemu_off(struct power *p)
{
	struct qemu_power *qp = p->priv;
	struct qemu_proc proc;
	pid_t stale;
	int rc = 0;

	if (find_qemu(qp, &proc, &stale)) {
		rc = stop_qemu(p, &proc);
		proc_release(&proc);
	} else if (stale) {
		hil_info("board \"%s\": QEMU (pid %d) was already gone", p->board, (int)stale);
	}
	if (rc == 0)
		remove_state_files(qp);
	return rc;
}

/* ---- on ---- */

static int fail_start(struct power *p, struct qemu_proc *proc, int rc, const char *what)
{
	struct qemu_power *qp = p->priv;
	char tail[600];

	if (proc->pid && wait_exit(qp, proc, clock_now_ns()) < 0) {
		signal_proc(proc, SIGKILL);
		wait_exit(qp, proc, clock_now_ns() + QEMU_KILL_WAIT_NS);
	}
	stderr_tail(qp, tail, sizeof(tail));
	hil_error("board \"%s\": %s%s%s (all of it in %s)", p->board, what, tail[0] ? ": " : "",
		  tail, qp->err_path);
	remove_state_files(qp);
	return rc;
}

/* Wait for QEMU's QMP greeting; QEMU exiting meanwhile is an error that
 * carries its stderr. */
static int wait_started(struct power *p, struct qemu_proc *proc, int64_t deadline_ns)
{
	struct qemu_power *qp = p->priv;
	char why[320] = "", what[400], status[64];
	struct qmp *q = NULL;
	int rc;

	for (;;) {
		rc = qmp_open(&q, qp->qmp_path, deadline_ns, why, sizeof(why));
		if (rc != -ENOENT && rc != -ECONNREFUSED)
			break;
		if (wait_exit(qp, proc, min64(deadline_ns, clock_now_ns() +
								 QEMU_START_TICK_MS * NS_PER_MS)) == 0) {
			int st = qp->last_status;
			snprintf(what, sizeof(what), "QEMU exited at start (%s %d)",
				 WIFEXITED(st) ? "exit status" : "signal",
				 WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
			return fail_start(p, proc, -EIO, what);
		}
		if (clock_now_ns() >= deadline_ns) {
			rc = -ETIMEDOUT;
			snprintf(why, sizeof(why), "no QMP socket at %s", qp->qmp_path);
			break;
		}
	}
	if (rc == 0)
		rc = qmp_query_status(q, status, sizeof(status), deadline_ns);
	if (rc < 0 && q)
		snprintf(why, sizeof(why), "%s", qmp_error(q));
	qmp_close(q);
	if (rc < 0) {
		snprintf(what, sizeof(what), "QEMU (pid %d) did not come up within %.1f s: %s",
			 (int)proc->pid, (double)op_timeout(p) / NS_PER_S, why);
		return fail_start(p, proc, rc == -ETIMEDOUT ? -ETIMEDOUT : -EIO, what);
	}
	timeline_event(p->tl, clock_now_ns(), "note", "qemu pid %d up, %s", (int)proc->pid, status);
	return 0;
}

static int start_qemu(struct power *p)
{
	struct qemu_power *qp = p->priv;
	int64_t deadline = clock_now_ns() + op_timeout(p);
	bool kvm = qp->cfg.accel == QEMU_ACCEL_AUTO && qemu_kvm_usable();
	bool persist = p->flags & POWER_F_PERSIST;
	struct qemu_proc proc = {0, -1, true};
	char **argv;
	int rc;

	remove_state_files(qp);
	rc = qemu_build_argv(&qp->cfg, p->board, p->run_dir, kvm, &argv);
	if (rc < 0)
		return rc;
	rc = qemu_spawn(argv, qp->err_path, persist, &proc.pid, &proc.pidfd);
	if (rc < 0) {
		hil_error("board \"%s\": cannot run QEMU \"%s\": %s (is it installed? power.binary "
			  "names it)",
			  p->board, argv[0], strerror(-rc));
		qemu_argv_free(argv);
		return rc;
	}
	qemu_argv_free(argv);
	qp->child = proc.pid;
	qp->child_pidfd = proc.pidfd;
	return wait_started(p, &proc, deadline);
}

static int qemu_on(struct power *p)
{
	struct qemu_power *qp = p->priv;
	enum power_state st;
	struct qemu_proc proc;
	pid_t stale;
	int rc;

	qemu_get(p, &st);
	if (st == POWER_ON) {
		hil_info("board \"%s\": QEMU is running already", p->board);
		return 0;
	}
	if (st == POWER_UNKNOWN) {
		hil_error("board \"%s\": a QEMU that does not answer holds this board; \"hilctl "
			  "power %s off\" kills it",
			  p->board, p->board);
		return -EBUSY;
	}
	/* A QEMU on its way out after a guest shutdown: let it finish. */
	if (find_qemu(qp, &proc, &stale)) {
		rc = stop_qemu(p, &proc);
		proc_release(&proc);
		if (rc < 0)
			return rc;
	}
	return start_qemu(p);
}

static int qemu_set(struct power *p, bool on)
{
	return on ? qemu_on(p) : qemu_off(p);
}

/* Resume the CPUs: QEMU started paused so the console could connect first. */
static int qemu_started(struct power *p)
{
	struct qemu_power *qp = p->priv;
	int64_t deadline = clock_now_ns() + op_timeout(p);
	char why[320] = "";
	struct qmp *q;
	int rc;

	rc = qmp_open(&q, qp->qmp_path, deadline, why, sizeof(why));
	if (rc == 0) {
		rc = qmp_command(q, "cont", NULL, NULL, deadline);
		if (rc < 0)
			snprintf(why, sizeof(why), "%s", qmp_error(q));
		qmp_close(q);
	}
	if (rc < 0) {
		hil_error("board \"%s\": cannot start QEMU's CPUs: %s (is it powered on?)", p->board,
			  why);
		return rc == -ENOENT || rc == -ECONNREFUSED ? -ENODEV : rc;
	}
	return 0;
}

static void qemu_close(struct power *p)
{
	struct qemu_power *qp = p->priv;
	struct qemu_proc proc;
	pid_t stale;

	if (!qp)
		return;
	/* A QEMU this process started dies with it unless it was to persist. */
	if (qp->child && !(p->flags & POWER_F_PERSIST) && find_qemu(qp, &proc, &stale)) {
		if (stop_qemu(p, &proc) == 0)
			remove_state_files(qp);
		proc_release(&proc);
	}
	if (qp->child_pidfd >= 0)
		close(qp->child_pidfd);
	free(qp->qmp_arg);
	qemu_config_free(&qp->cfg);
	free(qp);
	p->priv = NULL;
}

const struct power_ops power_qemu_ops = {
	.name = "qemu",
	.open = qemu_open,
	.set = qemu_set,
	.get = qemu_get,
	.started = qemu_started,
	.close = qemu_close,
};

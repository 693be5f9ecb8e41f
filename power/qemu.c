/* power/qemu.c — the board is a QEMU machine: power on starts QEMU paused
 * with QMP and the serial console on unix sockets in the board's run
 * directory, started() resumes it once the console listens, power off stops
 * it at once (QMP quit, SIGKILL when QMP does not answer), status asks the
 * process and QMP, link() pulls the network cable (QMP set_link).
 *
 * State lives in the run directory (qmp.sock, console.sock, console.log,
 * qemu.pid, qemu.stderr), so a later hilctl finds a QEMU that `hilctl power
 * on` left running (POWER_F_PERSIST: own session, survives hilctl). Without
 * POWER_F_PERSIST the QEMU dies with hilctl (PR_SET_PDEATHSIG) and close()
 * powers it off. A qemu.pid is trusted only if that process's command line
 * names this board's QMP socket: a pid reused after a crash is not QEMU.
 * Every wait is a poll() on a pidfd or the QMP socket with a deadline. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "lib/timeline.h"
#include "qemu/launch.h"
#include "qemu/netdev.h"
#include "qemu/overlay.h"
#include "qemu/postfault.h"
#include "qemu/powerloss.h"
#include "qemu/wlog.h"
#include "qemu/proc.h"
#include "qemu/qmp.h"
#include "qemu/snapshot.h"
#include "power/power.h"

#define QEMU_DEFAULT_TIMEOUT_NS (10 * NS_PER_S)
/* A QEMU that does not answer QMP within this is hung: off kills it. */
#define QEMU_QMP_PATIENCE_NS (3 * NS_PER_S)
/* After SIGKILL the kernel needs a moment to tear a large guest down. */
#define QEMU_KILL_WAIT_NS (5 * NS_PER_S)
/* Building the disk a power cut left (qemu/powerloss.h) before a start. */
#define QEMU_POWER_LOSS_NS (120 * NS_PER_S)
/* Keeping or installing a post-fault disk (a few qemu-img runs). */
#define QEMU_KEEP_NS (120 * NS_PER_S)
/* The longest wait between two looks for the QMP socket while QEMU sets up. */
#define QEMU_START_TICK_NS (20 * NS_PER_MS)

#define SUN_PATH_MAX (sizeof(((struct sockaddr_un *)0)->sun_path))

struct qemu_power {
	struct qemu_config cfg;
	char qmp_path[SUN_PATH_MAX], con_path[SUN_PATH_MAX];
	char pid_path[PATH_MAX], err_path[PATH_MAX];
	char *qmp_arg;          /* the -qmp argument that identifies this board's QEMU */
	struct qemu_proc child; /* started by this process; pid 0 once reaped */
	/* QMP connection kept from power on to power off when this process
	 * runs QEMU for itself (not POWER_F_PERSIST): a power cut is then one
	 * "stop" on an open socket instead of connect + greeting + quit.
	 * QEMU serves one QMP client at a time, so everything here uses it. */
	struct qmp *held;
	bool loadvm; /* the next start resumes the restored snapshot */
	/* The board disk's log followed since power on (disk_writes), and the
	 * write the last cut came at (0: at the kill). */
	struct wlog_tail tail;
	bool tail_open;
	uint64_t cut_writes;
};

/* The held connection, or a new one (*fresh: close it after use). */
static int qmp_for(struct qemu_power *qp, struct qmp **q, bool *fresh, int64_t deadline, char *why,
                   size_t why_size)
{
	if (qp->held) {
		*q = qp->held;
		*fresh = false;
		return 0;
	}
	*fresh = true;
	return qmp_open(q, qp->qmp_path, deadline, why, why_size);
}

static void qmp_done(struct qemu_power *qp, struct qmp *q, bool fresh, int rc)
{
	if (fresh) {
		qmp_close(q);
	} else if (rc == -EPIPE || rc == -EPROTO) {
		qmp_close(qp->held);
		qp->held = NULL;
	}
}

static int64_t op_timeout(const struct power *p)
{
	return p->timeout_ns > 0 ? p->timeout_ns : QEMU_DEFAULT_TIMEOUT_NS;
}

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

/* The machine's settings only; nothing is started or connected. */
static int qemu_check(const struct cfg_node *settings, const char *board)
{
	struct qemu_config cfg;
	int rc = qemu_config_parse(&cfg, settings);

	if (rc == 0)
		qemu_config_free(&cfg);
	return rc;
}

static int qemu_open(struct power *p, const struct cfg_node *settings)
{
	struct qemu_power *qp = calloc(1, sizeof(*qp));
	size_t dir_len = strlen(p->run_dir);
	int rc;

	if (!qp)
		return -ENOMEM;
	qp->child.pidfd = -1;
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
	qp->qmp_arg = qemu_qmp_arg(p->run_dir);
	if (!qp->qmp_arg) {
		qemu_config_free(&qp->cfg);
		free(qp);
		return -ENOMEM;
	}
	p->priv = qp;
	return 0;
}

/* This board's QEMU: our own child while it runs, else the process the pid
 * file names if it is this board's QEMU (filled into *found). NULL: none;
 * then *stale_pid names the process of a leftover pid file, if any. */
static struct qemu_proc *find_qemu(struct qemu_power *qp, struct qemu_proc *found, pid_t *stale_pid)
{
	*stale_pid = 0;
	*found = (struct qemu_proc){0, -1, false, 0};
	if (qp->child.pid && !qemu_proc_exited(&qp->child))
		return &qp->child;
	return qemu_proc_find(qp->pid_path, qp->qmp_arg, found, stale_pid) ? found : NULL;
}

static void close_tail(struct qemu_power *qp)
{
	if (qp->tail_open)
		wlog_tail_close(&qp->tail);
	qp->tail_open = false;
}

static void remove_state_files(struct qemu_power *qp)
{
	unlink(qp->qmp_path);
	unlink(qp->con_path);
	unlink(qp->pid_path);
}

/* ---- status ---- */

static void warn_gone(struct power *p, pid_t pid)
{
	struct qemu_power *qp = p->priv;
	char tail[400];

	qemu_stderr_tail(qp->err_path, tail, sizeof(tail));
	hil_warn("board \"%s\": QEMU (pid %d) is gone without a power off (killed or crashed "
	         "outside hilctl?): power is off%s%s",
	         p->board, (int)pid, tail[0] ? "; QEMU's last words: " : "", tail);
}

/* Ask QMP; 0 with *status filled, or -errno with why filled. */
static int ask_status(struct qemu_power *qp, char *status, size_t size, char *why, size_t why_size,
                      int64_t deadline_ns)
{
	struct qmp *q;
	bool fresh;
	int rc = qmp_for(qp, &q, &fresh, deadline_ns, why, why_size);

	if (rc < 0)
		return rc;
	rc = qmp_query_status(q, status, size, deadline_ns);
	if (rc < 0)
		snprintf(why, why_size, "%s", qmp_error(q));
	qmp_done(qp, q, fresh, rc);
	return rc;
}

static int qemu_get(struct power *p, enum power_state *out)
{
	struct qemu_power *qp = p->priv;
	int64_t deadline = clock_now_ns() + min64(op_timeout(p), QEMU_QMP_PATIENCE_NS);
	char why[320] = "", status[64];
	struct qemu_proc found, *proc;
	pid_t stale, pid;
	int rc;

	*out = POWER_UNKNOWN;
	proc = find_qemu(qp, &found, &stale);
	if (!proc) {
		if (stale) {
			warn_gone(p, stale);
			remove_state_files(qp);
		}
		*out = POWER_OFF;
		return 0;
	}
	pid = proc->pid; /* qemu_proc_exited() forgets it once reaped */
	rc = ask_status(qp, status, sizeof(status), why, sizeof(why), deadline);
	if (rc < 0 && qemu_proc_exited(proc)) {
		/* It died while we asked: the same news as a stale pid file. */
		warn_gone(p, pid);
		remove_state_files(qp);
		*out = POWER_OFF;
	} else if (rc < 0) {
		hil_warn("board \"%s\": QEMU (pid %d) runs but does not answer on %s (%s): power "
		         "state unknown; \"hilctl power %s off\" kills it",
		         p->board, (int)proc->pid, qp->qmp_path, why, p->board);
	} else {
		/* QEMU exits right after "shutdown" (no -no-shutdown): the
		 * machine is off already. Every other state is a powered one,
		 * paused, panicked or running. */
		*out = strcmp(status, "shutdown") == 0 ? POWER_OFF : POWER_ON;
		hil_debug("board \"%s\": QEMU pid %d is %s", p->board, (int)proc->pid, status);
	}
	qemu_proc_release(&found);
	return 0;
}

/* ---- off ---- */

/* When the vCPUs stopped: the STOP event's own timestamp (QEMU sends it
 * once the vCPUs are paused, before it drains and flushes the disks, which
 * the answer waits for), if it lies between the command and its answer;
 * else the answer's arrival. */
static int64_t stopped_at(struct qmp *q, int64_t t_sent, int64_t t_answer)
{
	json_t *ev = NULL;
	int64_t t_event;
	bool usable;

	/* QEMU sends the event before the answer: it is queued already. */
	if (qmp_event_wait(q, "STOP", &ev, 0) < 0)
		return t_answer;
	/* The wall clock counts microseconds: allow one either side. */
	usable = qmp_event_time_ns(ev, &t_event) == 0 && t_event >= t_sent - 1000 &&
	         t_event <= t_answer + 1000;
	json_decref(ev);
	return usable ? t_event : t_answer;
}

/* Stop at once: QMP quit (QEMU exits without running the guest further),
 * SIGKILL when QMP does not answer or QEMU does not exit in time; with a
 * power-loss model SIGKILL at once (qemu/powerloss.h). */
static int stop_qemu(struct power *p, struct qemu_proc *proc)
{
	struct qemu_power *qp = p->priv;
	int64_t now = clock_now_ns();
	int64_t qmp_deadline = now + min64(op_timeout(p), QEMU_QMP_PATIENCE_NS);
	char why[320] = "";
	struct qmp *q = NULL;
	pid_t pid;
	int rc;

	/* A power-loss model: a kill, so that QEMU flushes nothing. */
	qp->cut_writes = p->cut_after_write;
	p->cut_after_write = 0;
	rc = qemu_power_loss_cut(&qp->cfg, proc, &p->t_stopped_ns, now + QEMU_KILL_WAIT_NS);
	if (rc != 0) {
		qmp_close(qp->held);
		qp->held = NULL;
		if (rc < 0)
			hil_error("board \"%s\": cannot cut QEMU (pid %d): %s", p->board,
			          (int)proc->pid, strerror(-rc));
		return rc < 0 ? rc : 0;
	}
	if (qp->held && proc->pid == qp->child.pid) {
		/* The fast cut: "stop" pauses the vCPUs; that is the moment
		 * the board lost power. quit then exits QEMU. */
		q = qp->held;
		qp->held = NULL;
		qmp_set_drain(q, p->drain ? p->drain_fd : -1, p->drain, p->drain_arg);
		rc = qmp_command(q, "stop", NULL, NULL, qmp_deadline);
		if (rc == 0)
			p->t_stopped_ns = stopped_at(q, now, clock_now_ns());
	} else {
		rc = qmp_open(&q, qp->qmp_path, qmp_deadline, why, sizeof(why));
		if (q)
			qmp_set_drain(q, p->drain ? p->drain_fd : -1, p->drain, p->drain_arg);
	}
	if (rc == 0) {
		rc = qmp_command(q, "quit", NULL, NULL, qmp_deadline);
		/* QEMU may close the socket before its answer arrives. */
		if (rc == -EPIPE)
			rc = 0;
		if (rc < 0)
			snprintf(why, sizeof(why), "%s", qmp_error(q));
	} else if (q) {
		snprintf(why, sizeof(why), "%s", qmp_error(q));
	}
	qmp_close(q);
	if (rc == 0 && qemu_proc_wait(proc, now + op_timeout(p)) == 0)
		return 0;
	if (rc == 0)
		snprintf(why, sizeof(why), "it did not exit after quit");
	pid = proc->pid;
	rc = qemu_proc_kill(proc, SIGKILL);
	if (rc < 0 && rc != -ESRCH) {
		hil_error("board \"%s\": cannot kill QEMU (pid %d): %s", p->board, (int)pid,
		          strerror(-rc));
		return rc;
	}
	if (qemu_proc_wait(proc, clock_now_ns() + QEMU_KILL_WAIT_NS) < 0) {
		hil_error("board \"%s\": QEMU (pid %d) is still there after SIGKILL", p->board,
		          (int)pid);
		return -EIO;
	}
	hil_warn("board \"%s\": QEMU (pid %d) did not quit over QMP (%s); killed it", p->board,
	         (int)pid, why);
	return 0;
}

static int qemu_off(struct power *p)
{
	struct qemu_power *qp = p->priv;
	struct qemu_proc found, *proc;
	pid_t stale;
	int rc = 0;

	proc = find_qemu(qp, &found, &stale);
	if (proc)
		rc = stop_qemu(p, proc);
	else if (stale)
		hil_info("board \"%s\": QEMU (pid %d) was already gone", p->board, (int)stale);
	qemu_proc_release(&found);
	if (qp->held) { /* QEMU went away on its own: the socket is dead */
		qmp_close(qp->held);
		qp->held = NULL;
	}
	if (rc == 0)
		remove_state_files(qp);
	return rc;
}

/* ---- disk overlays ---- */

/* Before a run, power off: fresh overlays. */
static int qemu_prepare(struct power *p)
{
	struct qemu_power *qp = p->priv;
	struct qemu_proc found;
	pid_t stale;

	if (find_qemu(qp, &found, &stale)) {
		qemu_proc_release(&found);
		hil_error("board \"%s\": its QEMU still runs; power it off before a new run",
		          p->board);
		return -EBUSY;
	}
	qemu_power_loss_reset(&qp->cfg, p->run_dir);
	qemu_postfault_reset(&qp->cfg, p->run_dir);
	p->fault_disk = false;
	qp->cut_writes = 0;
	if (qemu_power_loss_for_run(&qp->cfg, p->board, p->want_write_log) < 0)
		return -EINVAL;
	return qemu_overlays_make(&qp->cfg, p->board, p->run_dir, true,
	                          clock_now_ns() + op_timeout(p));
}

/* ---- on ---- */

static int fail_start(struct power *p, int rc, const char *what)
{
	struct qemu_power *qp = p->priv;
	char tail[600];

	if (!qemu_proc_exited(&qp->child)) {
		qemu_proc_kill(&qp->child, SIGKILL);
		qemu_proc_wait(&qp->child, clock_now_ns() + QEMU_KILL_WAIT_NS);
	}
	qemu_stderr_tail(qp->err_path, tail, sizeof(tail));
	hil_error("board \"%s\": %s%s%s (all of it in %s)", p->board, what, tail[0] ? ": " : "",
	          tail, qp->err_path);
	remove_state_files(qp);
	return rc;
}

/* Wait for QEMU's QMP greeting; QEMU exiting meanwhile is an error that
 * carries its stderr. */
static int wait_started(struct power *p, int64_t deadline_ns)
{
	struct qemu_power *qp = p->priv;
	char why[320] = "", what[400], status[64];
	pid_t pid = qp->child.pid;
	int64_t tick = NS_PER_MS;
	struct qmp *q = NULL;
	int rc;

	for (;;) {
		rc = qmp_open(&q, qp->qmp_path, deadline_ns, why, sizeof(why));
		if (rc != -ENOENT && rc != -ECONNREFUSED)
			break;
		/* Not there yet: wait on the pidfd, which wakes at exit, with
		 * a backoff from 1 ms doubling to QEMU_START_TICK_NS. */
		if (qemu_proc_wait(&qp->child, min64(deadline_ns, clock_now_ns() + tick)) == 0) {
			int st = qp->child.status;
			snprintf(what, sizeof(what), "QEMU exited at start (%s %d)",
			         WIFEXITED(st) ? "exit status" : "signal",
			         WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
			return fail_start(p, -EIO, what);
		}
		tick = min64(tick * 2, QEMU_START_TICK_NS);
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
		         (int)pid, (double)op_timeout(p) / NS_PER_S, why);
		return fail_start(p, rc == -ETIMEDOUT ? -ETIMEDOUT : -EIO, what);
	}
	timeline_event(p->tl, clock_now_ns(), "note", "qemu pid %d up, %s", (int)pid, status);
	return 0;
}

/* -loadvm TAG at the end of argv: QEMU starts (paused) in the saved state. */
static int add_loadvm(char ***argv)
{
	size_t n = 0;
	char **grown;

	while ((*argv)[n])
		n++;
	grown = realloc(*argv, (n + 3) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	*argv = grown;
	grown[n] = strdup("-loadvm");
	grown[n + 1] = grown[n] ? strdup(QEMU_SNAPSHOT_TAG) : NULL;
	grown[n + 2] = NULL;
	return grown[n + 1] ? 0 : -ENOMEM;
}

static int start_qemu(struct power *p)
{
	struct qemu_power *qp = p->priv;
	int64_t deadline;
	bool kvm = qp->cfg.accel == QEMU_ACCEL_AUTO && qemu_kvm_usable();
	char **argv;
	int rc;

	remove_state_files(qp);
	/* The disk the last power off left, under the lab's power-loss model. */
	rc = qemu_power_loss_power_on(&qp->cfg, p->board, p->run_dir, p->seed, qp->cut_writes,
	                              p->tl, clock_now_ns() + QEMU_POWER_LOSS_NS);
	qp->cut_writes = 0;
	close_tail(qp);
	if (rc < 0)
		return rc;
	deadline = clock_now_ns() + op_timeout(p);
	rc = qemu_overlays_make(&qp->cfg, p->board, p->run_dir, false, deadline);
	/* The disk a fault's cut left, frozen before the board writes to it. */
	if (rc == 0 && p->fault_disk)
		rc = qemu_postfault_mark(&qp->cfg, p->board, p->run_dir, deadline);
	p->fault_disk = false;
	if (rc < 0)
		return rc;
	/* The board's user network reaches the update server, nothing else. */
	memset(&qp->cfg.fwd, 0, sizeof(qp->cfg.fwd));
	if (p->server.guest_port) {
		snprintf(qp->cfg.fwd.guest_host, sizeof(qp->cfg.fwd.guest_host), "%s",
		         p->server.guest_host);
		snprintf(qp->cfg.fwd.host, sizeof(qp->cfg.fwd.host), "%s", p->server.host);
		qp->cfg.fwd.guest_port = p->server.guest_port;
		qp->cfg.fwd.host_port = p->server.host_port;
	}
	rc = qemu_build_argv(&qp->cfg, p->board, p->run_dir, kvm, &argv);
	if (rc == 0 && qp->loadvm)
		rc = add_loadvm(&argv);
	qp->loadvm = false;
	if (rc < 0)
		return rc;
	qemu_proc_release(&qp->child); /* a persisted child from an earlier on */
	rc = qemu_spawn(argv, qp->err_path, p->flags & POWER_F_PERSIST, &qp->child);
	if (rc < 0)
		hil_error("board \"%s\": cannot run QEMU \"%s\": %s (is it installed? power.binary "
		          "names it)",
		          p->board, argv[0], strerror(-rc));
	qemu_argv_free(argv);
	return rc < 0 ? rc : wait_started(p, deadline);
}

static int qemu_on(struct power *p)
{
	struct qemu_power *qp = p->priv;
	struct qemu_proc found, *proc;
	enum power_state st;
	pid_t stale;
	int rc = 0;

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
	proc = find_qemu(qp, &found, &stale);
	if (proc)
		rc = stop_qemu(p, proc);
	qemu_proc_release(&found);
	return rc < 0 ? rc : start_qemu(p);
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

	bool fresh;

	rc = qmp_for(qp, &q, &fresh, deadline, why, sizeof(why));
	if (rc == 0) {
		rc = qmp_command(q, "cont", NULL, NULL, deadline);
		if (rc < 0)
			snprintf(why, sizeof(why), "%s", qmp_error(q));
		if (rc == 0 && fresh && !(p->flags & POWER_F_PERSIST) && qp->child.pid)
			qp->held = q; /* kept for a fast power cut */
		else
			qmp_done(qp, q, fresh, rc);
	}
	if (rc < 0) {
		hil_error("board \"%s\": cannot start QEMU's CPUs: %s (is it powered on?)",
		          p->board, why);
		return rc == -ENOENT || rc == -ECONNREFUSED ? -ENODEV : rc;
	}
	return 0;
}

/* The board's network cable: QMP set_link on the network backend (the
 * guest sees its NIC lose carrier; nothing is removed). */
static int qemu_link(struct power *p, bool up)
{
	struct qemu_power *qp = p->priv;
	int64_t deadline = clock_now_ns() + op_timeout(p);
	const char *id = qemu_netdev_id(&qp->cfg);
	char why[320] = "";
	struct qmp *q;
	int rc;

	if (!id) {
		hil_error("board \"%s\" has no network card (power.netdev: none): nothing to cut",
		          p->board);
		return -EINVAL;
	}
	bool fresh;

	rc = qmp_for(qp, &q, &fresh, deadline, why, sizeof(why));
	if (rc == 0) {
		rc = qmp_command_pack(q, "set_link", NULL, deadline, "{s:s, s:b}", "name", id, "up",
		                      up);
		if (rc < 0)
			snprintf(why, sizeof(why), "%s", qmp_error(q));
		qmp_done(qp, q, fresh, rc);
	}
	if (rc < 0) {
		hil_error("board \"%s\": cannot set the network link of %s %s: %s", p->board, id,
		          up ? "up" : "down", why);
		return rc == -ENOENT || rc == -ECONNREFUSED ? -ENODEV : rc;
	}
	return 0;
}

/* ---- snapshots (qemu/snapshot.h) ---- */

#define QEMU_SNAPSHOT_SAVE_NS (120 * NS_PER_S)

static int qemu_snapshot(struct power *p, enum power_snapshot_op op, const char *key)
{
	struct qemu_power *qp = p->priv;
	char why[400] = "", *dir;
	int rc = qemu_snapshot_check(&qp->cfg, why, sizeof(why));

	if (rc < 0) {
		hil_error("board \"%s\": cannot start runs from a snapshot: %s", p->board, why);
		return rc;
	}
	dir = qemu_snapshot_dir(&qp->cfg, p->run_dir, key);
	if (!dir) {
		hil_error("board \"%s\": cannot name a snapshot: a drive's base image cannot be "
		          "read",
		          p->board);
		return -ENOENT;
	}
	if (op == POWER_SNAPSHOT_SAVE && !qp->held) {
		hil_error("board \"%s\": no running QEMU of this process to save", p->board);
		rc = -ENODEV;
	} else if (op == POWER_SNAPSHOT_SAVE) {
		int64_t t0 = clock_now_ns();
		rc = qemu_snapshot_save(&qp->cfg, qp->held, p->run_dir, dir,
		                        t0 + QEMU_SNAPSHOT_SAVE_NS, why, sizeof(why));
		if (rc < 0)
			hil_error("board \"%s\": cannot save a snapshot: %s", p->board, why);
		else
			timeline_event(p->tl, clock_now_ns(), "note",
			               "snapshot saved in %.2f s: %s",
			               (double)(clock_now_ns() - t0) / NS_PER_S, dir);
	} else {
		rc = qemu_snapshot_restore(&qp->cfg, p->run_dir, dir, why, sizeof(why));
		if (rc < 0)
			hil_error("board \"%s\": cannot restore a snapshot: %s", p->board, why);
		qp->loadvm = rc == 1;
		if (rc == 1)
			timeline_event(p->tl, clock_now_ns(), "note", "snapshot restored: %s", dir);
	}
	free(dir);
	return rc;
}

/* ---- disk writes ---- */

static int qemu_disk_writes(struct power *p, uint64_t *writes)
{
	struct qemu_power *qp = p->priv;
	char why[320] = "", *log;
	int rc;

	if (!qp->tail_open) {
		log = qemu_power_loss_disk_log(&qp->cfg, p->run_dir);
		if (!log)
			return -EOPNOTSUPP;
		rc = wlog_tail_open(&qp->tail, log, why, sizeof(why));
		free(log);
		if (rc < 0) {
			hil_error("board \"%s\": cannot follow its disk's write log: %s", p->board,
			          why);
			return rc;
		}
		qp->tail_open = true;
	}
	rc = wlog_tail_poll(&qp->tail, writes, why, sizeof(why));
	if (rc < 0)
		hil_error("board \"%s\": its disk's write log: %s", p->board, why);
	return rc;
}

/* ---- the post-fault disk (qemu/postfault.h) ---- */

static int qemu_keep_disk(struct power *p, const char *out, char *why, size_t why_len)
{
	struct qemu_power *qp = p->priv;

	return qemu_postfault_keep(&qp->cfg, p->run_dir, out, clock_now_ns() + QEMU_KEEP_NS, why,
	                           why_len);
}

static int qemu_install_disk(struct power *p, const char *path, char *why, size_t why_len)
{
	struct qemu_power *qp = p->priv;

	return qemu_postfault_install(&qp->cfg, p->run_dir, path, clock_now_ns() + QEMU_KEEP_NS,
	                              why, why_len);
}

static void qemu_close(struct power *p)
{
	struct qemu_power *qp = p->priv;

	if (!qp)
		return;
	close_tail(qp);
	if (qp->held &&
	    !(qp->child.pid && !(p->flags & POWER_F_PERSIST) && !qemu_proc_exited(&qp->child))) {
		qmp_close(qp->held);
		qp->held = NULL;
	}
	/* A QEMU this process started dies with it unless it was to persist. */
	if (qp->child.pid && !(p->flags & POWER_F_PERSIST) && !qemu_proc_exited(&qp->child) &&
	    stop_qemu(p, &qp->child) == 0)
		remove_state_files(qp);
	qemu_proc_release(&qp->child);
	free(qp->qmp_arg);
	qemu_config_free(&qp->cfg);
	free(qp);
	p->priv = NULL;
}

const struct power_ops power_qemu_ops = {
    .name = "qemu",
    .check = qemu_check,
    .open = qemu_open,
    .set = qemu_set,
    .get = qemu_get,
    .started = qemu_started,
    .close = qemu_close,
    .prepare = qemu_prepare,
    .link = qemu_link,
    .snapshot = qemu_snapshot,
    .disk_writes = qemu_disk_writes,
    .keep_disk = qemu_keep_disk,
    .install_disk = qemu_install_disk,
};

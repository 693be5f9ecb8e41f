/* qemu/proc.h — QEMU as a process: start it detached or tied to hilctl,
 * find it again from its pid file, wait for its exit with a deadline, kill
 * it, and read the last words it printed.
 *
 * A struct qemu_proc is owned by the caller. qemu_spawn() and
 * qemu_proc_find() fill it; qemu_proc_release() closes its pidfd without
 * touching the process. A process this one started ("ours") is reaped by
 * qemu_proc_exited()/qemu_proc_wait(), which then record its wait status. */
#ifndef HILCTL_QEMU_PROC_H
#define HILCTL_QEMU_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct qemu_proc {
	pid_t pid;  /* 0: none */
	int pidfd;  /* -1 where the kernel has no pidfd */
	bool ours;  /* our child: reap it */
	int status; /* waitpid() status once an own child was reaped */
};

/* Start argv[0] (PATH lookup when it has no '/') with stdin from /dev/null
 * and stdout+stderr into err_path (truncated), in a process group of its
 * own, with no other fd of hilctl's. persist: a new session, so it outlives
 * hilctl and its terminal; otherwise it gets SIGKILL when hilctl dies
 * (PR_SET_PDEATHSIG). 0, or -errno when the program could not be run at all
 * (-ENOENT: no such binary, -EACCES...). */
int qemu_spawn(char *const argv[], const char *err_path, bool persist, struct qemu_proc *proc);

/* The process a pid file names, if it is alive and its command line has
 * the argument ident (a QEMU's -qmp socket names its board): 1 found, 0 not.
 * When the pid file names a process that is gone or is not that QEMU (a pid
 * reused after a crash), *stale_pid is that pid, else 0. */
int qemu_proc_find(const char *pid_path, const char *ident, struct qemu_proc *proc,
                   pid_t *stale_pid);

/* Has it exited? Reaps an own child (and then sets pid to 0). */
bool qemu_proc_exited(struct qemu_proc *proc);
/* Wait until it has exited: 0, or -ETIMEDOUT at the deadline. */
int qemu_proc_wait(struct qemu_proc *proc, int64_t deadline_ns);
/* Signal it (through the pidfd when there is one: no pid reuse race). */
int qemu_proc_kill(struct qemu_proc *proc, int sig);
void qemu_proc_release(struct qemu_proc *proc);

/* The last three lines of a file (QEMU's stderr), joined with "; " into
 * out; "" if there is nothing. */
void qemu_stderr_tail(const char *path, char *out, size_t size);

#endif

/* harness/lab/lock.h — board locks: two hilctl processes never drive one board.
 *
 * A lock is a file <lock dir>/<board>.lock naming its holder (pid, the
 * holder's start time so a recycled pid is not mistaken for it, and its
 * command line). A holder that died leaves a stale file, which the next
 * taker reclaims. Check-and-take is atomic under flock() on <dir>/.mutex.
 * The lock dir is $HILCTL_LOCK_DIR, else /run/lock/hilctl when writable,
 * else /tmp/hilctl-locks. Users of one host share it through group hilctl:
 * made here setgid and group writable when that group exists (make install
 * also installs a tmpfiles.d entry for it), lock files readable by all, so
 * one member sees another's lock and reclaims it when its holder died. A
 * process may use a board that its own ancestor
 * holds (hilctl lock from a shell, then hilctl power from that shell). */
#ifndef HILCTL_LOCK_H
#define HILCTL_LOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct lock_holder {
	pid_t pid;
	unsigned long long start_time; /* /proc/<pid>/stat field 22, starttime */
	char cmd[256];
};

/* Take the board for holder_pid (0: this process). Returns 0, or -EBUSY
 * after printing who holds it, or another -errno. *taken says whether a new
 * lock file was written (false when an ancestor already holds it). */
int lock_take(const char *board, pid_t holder_pid, bool *taken);
/* lock_take() for this process, silent when the board is held: -EBUSY. */
int lock_try(const char *board, bool *taken);
/* Release; only the holder (or an ancestor's child, or force) may. */
int lock_release(const char *board, bool force);
/* Who holds it now: 1 and *out filled, 0 free (stale counts as free). */
int lock_query(const char *board, struct lock_holder *out);
/* Is h this process or one of its ancestors (a board it may use)? */
bool lock_holder_is_us(const struct lock_holder *h);
const char *lock_dir(void);

#endif

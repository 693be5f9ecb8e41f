/* harness/lab/lock.c — board lock files with stale-holder reclaim. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness/lab/lock.h"
#include "lib/log.h"

#define LOCK_GROUP "hilctl" /* users of one lab host share boards through it */
#define LOCK_DIR_MODE 02775 /* setgid: files inside get the group */
#define LOCK_FILE_MODE 0644 /* anyone may read who holds a board */
#define LOCK_MUTEX_MODE 0664

const char *lock_dir(void)
{
	static char dir[512];
	const char *env = getenv("HILCTL_LOCK_DIR");

	if (env && env[0])
		snprintf(dir, sizeof(dir), "%s", env);
	else if (access("/run/lock", W_OK) == 0)
		snprintf(dir, sizeof(dir), "/run/lock/hilctl");
	else
		snprintf(dir, sizeof(dir), "/tmp/hilctl-locks");
	return dir;
}

static unsigned long long proc_start_time(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long start = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (!fgets(buf, sizeof(buf), f)) {
		fclose(f);
		return 0;
	}
	fclose(f);
	/* The command name may hold spaces and parentheses: skip to the last ')'. */
	p = strrchr(buf, ')');
	if (!p)
		return 0;
	/* p is at the ')' that ends field 2; each space after it starts the
	 * next field. Start time is field 22 (field 21, itrealvalue, is 0). */
	for (int field = 3; field <= 22 && p; field++)
		p = strchr(p + 1, ' ');
	if (p)
		start = strtoull(p + 1, NULL, 10);
	return start;
}

static pid_t proc_parent(pid_t pid)
{
	char path[64], buf[1024], *p;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	p = fgets(buf, sizeof(buf), f);
	fclose(f);
	if (!p || !(p = strrchr(buf, ')')))
		return 0;
	return (pid_t)strtol(p + 4, NULL, 10); /* ") S <ppid>" */
}

static void proc_cmdline(pid_t pid, char *out, size_t size)
{
	char path[64];
	ssize_t n;
	int fd;

	out[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, out, size - 1);
	close(fd);
	if (n <= 0)
		return;
	out[n] = '\0';
	for (ssize_t i = 0; i < n; i++)
		if (out[i] == '\0' || out[i] == '\n')
			out[i] = ' ';
	while (n > 0 && out[n - 1] == ' ')
		out[--n] = '\0';
}

/* A zombie (state Z, or X) has ended: only its parent has not reaped it
 * yet, which under a container's init or a killed runuser can take long. */
static bool proc_ended(pid_t pid)
{
	char path[64], buf[1024], *p;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return true;
	p = fgets(buf, sizeof(buf), f);
	fclose(f);
	if (!p || !(p = strrchr(buf, ')')))
		return true;
	return p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X');
}

static bool holder_alive(const struct lock_holder *h)
{
	if (h->pid <= 0)
		return false;
	if (kill(h->pid, 0) < 0 && errno != EPERM)
		return false;
	return proc_start_time(h->pid) == h->start_time && !proc_ended(h->pid);
}

static bool is_self_or_ancestor(pid_t pid)
{
	for (pid_t p = getpid(); p > 1; p = proc_parent(p))
		if (p == pid)
			return true;
	return false;
}

/* A lock directory that the "hilctl" group shares: made setgid and group
 * writable, whatever the umask, so every member can take, release and
 * reclaim boards. Without that group it is the first user's alone. */
static int lock_dir_make(const char *dir)
{
	struct group *g;

	if (mkdir(dir, 0755) < 0)
		return errno == EEXIST ? 0 : -errno;
	g = getgrnam(LOCK_GROUP);
	if (!g)
		return 0;
	if (chown(dir, (uid_t)-1, g->gr_gid) < 0 || chmod(dir, LOCK_DIR_MODE) < 0)
		hil_warn("lock directory %s: cannot give it to group %s: %s (are you in it?)", dir,
		         LOCK_GROUP, strerror(errno));
	return 0;
}

/* Say why another user cannot lock here, and what fixes it. */
static int lock_dir_refused(const char *dir, int err)
{
	struct stat st;
	struct group *g;

	if (stat(dir, &st) < 0) {
		hil_error("lock directory %s: %s (set HILCTL_LOCK_DIR)", dir, strerror(err));
		return -err;
	}
	g = getgrgid(st.st_gid);
	hil_error("lock directory %s: %s (owner uid %u, group %s, mode %04o): boards are "
	          "shared through group %s and a directory that is setgid and group writable "
	          "(make install's tmpfiles.d entry; see docs/shared-lab.md), or set "
	          "HILCTL_LOCK_DIR",
	          dir, strerror(err), (unsigned)st.st_uid, g ? g->gr_name : "?",
	          (unsigned)(st.st_mode & 07777), LOCK_GROUP);
	return -err;
}

bool lock_holder_is_us(const struct lock_holder *h)
{
	return is_self_or_ancestor(h->pid);
}

static int lock_path(const char *board, char *buf, size_t size)
{
	const char *dir = lock_dir();
	int rc = lock_dir_make(dir);

	if (rc < 0) {
		hil_error("lock directory %s: %s (set HILCTL_LOCK_DIR)", dir, strerror(-rc));
		return rc;
	}
	if (snprintf(buf, size, "%s/%s.lock", dir, board) >= (int)size)
		return -ENAMETOOLONG;
	return 0;
}

static int mutex_take(void)
{
	char path[600];
	struct stat st;
	int fd;

	/* flock() needs only a descriptor: read-only, so a mutex another user
	 * made without group write (an older hilctl) still serves. */
	snprintf(path, sizeof(path), "%s/.mutex", lock_dir());
	fd = open(path, O_RDONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, LOCK_MUTEX_MODE);
	if (fd < 0)
		return lock_dir_refused(lock_dir(), errno);
	if (fstat(fd, &st) == 0 && st.st_uid == geteuid() &&
	    (st.st_mode & 07777) != LOCK_MUTEX_MODE)
		fchmod(fd, LOCK_MUTEX_MODE); /* the umask took group write away */
	if (flock(fd, LOCK_EX) < 0) {
		int err = errno;
		close(fd);
		return -err;
	}
	return fd;
}

static int read_holder(const char *path, struct lock_holder *h)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	FILE *f = fd < 0 ? NULL : fdopen(fd, "r");
	int n;

	memset(h, 0, sizeof(*h));
	if (!f) {
		int err = errno;
		if (fd >= 0)
			close(fd);
		return err == ENOENT ? 0 : -err;
	}
	n = fscanf(f, "%d %llu %255[^\n]", &h->pid, &h->start_time, h->cmd);
	fclose(f);
	return n >= 2 ? 1 : 0; /* a garbled file counts as stale */
}

int lock_query(const char *board, struct lock_holder *out)
{
	char path[600];
	int rc = lock_path(board, path, sizeof(path));

	if (rc < 0)
		return rc;
	rc = read_holder(path, out);
	if (rc <= 0)
		return rc;
	return holder_alive(out) ? 1 : 0;
}

static int write_holder(const char *path, pid_t pid)
{
	char tmp[700], cmd[256];
	FILE *f;
	int fd;

	snprintf(tmp, sizeof(tmp), "%s.%d.tmp", path, (int)getpid());
	unlink(tmp); /* left by a process that had this pid */
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, LOCK_FILE_MODE);
	if (fd < 0)
		return -errno;
	fchmod(fd, LOCK_FILE_MODE); /* readable by the other users whatever the umask */
	f = fdopen(fd, "w");
	if (!f) {
		int err = errno;
		close(fd);
		unlink(tmp);
		return -err;
	}
	proc_cmdline(pid, cmd, sizeof(cmd));
	fprintf(f, "%d %llu %s\n", (int)pid, proc_start_time(pid), cmd);
	if (fclose(f) != 0 || rename(tmp, path) < 0) {
		int err = errno;
		unlink(tmp);
		return -err;
	}
	return 0;
}

static int take(const char *board, pid_t holder_pid, bool *taken, bool quiet)
{
	struct lock_holder h;
	char path[600];
	int mutex, rc;

	*taken = false;
	if (holder_pid == 0)
		holder_pid = getpid();
	rc = lock_path(board, path, sizeof(path));
	if (rc < 0)
		return rc;
	mutex = mutex_take();
	if (mutex < 0)
		return mutex;
	rc = read_holder(path, &h);
	if (rc < 0) {
		if (rc == -EACCES || rc == -EPERM)
			lock_dir_refused(lock_dir(), -rc);
		else
			hil_error("board \"%s\": lock %s: %s", board, path, strerror(-rc));
		goto out;
	}
	if (rc > 0 && holder_alive(&h)) {
		if (is_self_or_ancestor(h.pid) || h.pid == holder_pid) {
			rc = 0;
			goto out;
		}
		if (!quiet)
			hil_error("board \"%s\" is locked by pid %d (%s); wait, or run \"hilctl "
			          "unlock %s\" if that is yours",
			          board, (int)h.pid, h.cmd[0] ? h.cmd : "?", board);
		rc = -EBUSY;
		goto out;
	}
	if (rc > 0)
		hil_info("board \"%s\": reclaiming the lock of pid %d, which is gone", board,
		         (int)h.pid);
	rc = write_holder(path, holder_pid);
	if (rc == -EACCES || rc == -EPERM)
		lock_dir_refused(lock_dir(), -rc);
	else if (rc < 0)
		hil_error("board \"%s\": cannot write lock %s: %s", board, path, strerror(-rc));
	else
		*taken = true;
out:
	close(mutex);
	return rc;
}

int lock_take(const char *board, pid_t holder_pid, bool *taken)
{
	return take(board, holder_pid, taken, false);
}

int lock_try(const char *board, bool *taken)
{
	return take(board, 0, taken, true);
}

int lock_release(const char *board, bool force)
{
	struct lock_holder h;
	char path[600];
	int mutex, rc;

	rc = lock_path(board, path, sizeof(path));
	if (rc < 0)
		return rc;
	mutex = mutex_take();
	if (mutex < 0)
		return mutex;
	rc = read_holder(path, &h);
	if (rc > 0 && holder_alive(&h) && !force && !is_self_or_ancestor(h.pid)) {
		hil_error(
		    "board \"%s\" is locked by pid %d (%s), not by you; --force takes it away",
		    board, (int)h.pid, h.cmd);
		rc = -EPERM;
	} else {
		rc = 0;
		if (unlink(path) < 0 && errno != ENOENT) {
			rc = -errno;
			if (rc == -EACCES || rc == -EPERM)
				lock_dir_refused(lock_dir(), -rc);
		}
	}
	close(mutex);
	return rc;
}

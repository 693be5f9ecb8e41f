/* harness/lab/rundir.c — the run directory: each board's state, timeline,
 * QEMU's QMP and console sockets. Whoever controls it can read a board's
 * console, forge it, or redirect a timeline through a symlink onto another
 * file, so it must be this user's alone.
 *
 * Where: $HILCTL_RUN_DIR when set (the user's choice: it must be owned by
 * the user and writable by nobody else); else $XDG_RUNTIME_DIR/hilctl (the
 * login's private directory); else /tmp/hilctl-<uid>, made 0700 here and
 * refused when it already exists as a symlink, owned by someone else, or with
 * another mode. <board> under it is made 0700 and must be a real directory
 * of this user's. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness/lab/lab.h"
#include "lib/log.h"
#include "lib/fsutil.h"

enum dir_rule {
	DIR_OWNED = 1 << 0,   /* owned by this user, writable by no one else */
	DIR_PRIVATE = 1 << 1, /* and exactly 0700 */
	DIR_NO_LINK = 1 << 2, /* and not a symlink */
};

/* Refuse a directory that someone else could have prepared. */
static int dir_check(const char *what, const char *path, unsigned rules)
{
	struct stat st;
	char why[160] = "";

	if (((rules & DIR_NO_LINK) ? lstat(path, &st) : stat(path, &st)) < 0) {
		hil_error("%s %s: %s", what, path, strerror(errno));
		return -errno;
	}
	if (S_ISLNK(st.st_mode))
		snprintf(why, sizeof(why), "is a symlink");
	else if (!S_ISDIR(st.st_mode))
		snprintf(why, sizeof(why), "is not a directory");
	else if (st.st_uid != geteuid())
		snprintf(why, sizeof(why), "is owned by uid %u, not by you (uid %u)",
		         (unsigned)st.st_uid, (unsigned)geteuid());
	else if ((rules & DIR_PRIVATE) && (st.st_mode & 07777) != 0700)
		snprintf(why, sizeof(why), "has mode %04o, not 0700",
		         (unsigned)(st.st_mode & 07777));
	else if (st.st_mode & 022)
		snprintf(why, sizeof(why), "is writable by others (mode %04o)",
		         (unsigned)(st.st_mode & 07777));
	if (!why[0])
		return 0;
	hil_error("%s %s %s: refused (it holds boards' console and QMP sockets and timelines; "
	          "another user could read or forge them). Remove it if it is not yours, or set "
	          "XDG_RUNTIME_DIR or HILCTL_RUN_DIR to a directory of your own",
	          what, path, why);
	return -EPERM;
}

static int make_private(const char *what, const char *path, unsigned rules)
{
	if (mkdir(path, 0700) < 0 && errno != EEXIST) {
		int err = errno;
		hil_error("%s %s: cannot create it: %s", what, path, strerror(err));
		return -err;
	}
	return dir_check(what, path, rules);
}

/* The directory above every board's: see the file's first comment. */
static int run_dir_base(char *buf, size_t size)
{
	const char *env = getenv("HILCTL_RUN_DIR"), *xdg = getenv("XDG_RUNTIME_DIR");
	int rc;

	if (env && env[0]) {
		if (snprintf(buf, size, "%s", env) >= (int)size)
			return -ENAMETOOLONG;
		rc = fs_mkdir_parents(buf, 0700);
		return rc < 0 ? rc : make_private("HILCTL_RUN_DIR", buf, DIR_OWNED);
	}
	if (xdg && xdg[0] == '/') {
		if (snprintf(buf, size, "%s/hilctl", xdg) >= (int)size)
			return -ENAMETOOLONG;
		rc = dir_check("XDG_RUNTIME_DIR", xdg, DIR_OWNED);
		return rc < 0 ? rc
		              : make_private("run directory", buf,
		                             DIR_OWNED | DIR_PRIVATE | DIR_NO_LINK);
	}
	snprintf(buf, size, "/tmp/hilctl-%u", (unsigned)getuid());
	return make_private("run directory", buf, DIR_OWNED | DIR_PRIVATE | DIR_NO_LINK);
}

int board_run_dir(const char *board, char *buf, size_t size)
{
	char base[512];
	int rc = run_dir_base(base, sizeof(base));

	if (rc < 0)
		return rc;
	if (!board[0] || strchr(board, '/') || !strcmp(board, ".") || !strcmp(board, "..")) {
		hil_error("board \"%s\": not a name for its state directory", board);
		return -EINVAL;
	}
	if (snprintf(buf, size, "%s/%s", base, board) >= (int)size)
		return -ENAMETOOLONG;
	return make_private("board state directory", buf, DIR_OWNED | DIR_NO_LINK);
}

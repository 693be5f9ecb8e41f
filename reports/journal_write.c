/* reports/journal_write.c — append one synced record to a journal. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"
#include "reports/journal_write.h"

int journal_write_line(int fd, const char *path, const char *line, const char *hint)
{
	size_t len = strlen(line), off = 0;
	off_t start = lseek(fd, 0, SEEK_END);

	while (off < len) {
		ssize_t n = write(fd, line + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int err = errno;
			/* A full disk takes part of a record: cut it off again,
			 * so the journal stays whole lines. */
			if (off && start >= 0 && ftruncate(fd, start) < 0)
				hil_warn("journal %s: cannot remove a part-written record: %s",
				         path, strerror(errno));
			hil_error("journal %s: %s (the record is lost; free space, then %s)", path,
			          strerror(err), hint);
			return -err;
		}
		off += (size_t)n;
	}
	if (fsync(fd) < 0) {
		int err = errno;
		hil_error("journal %s: fsync: %s (the record may not survive a power cut)", path,
		          strerror(err));
		return -err;
	}
	return 0;
}

/* reports/journal_write.h — the one way a journal record reaches the disk
 * (docs/journal.md), for campaigns and the explorer alike.
 *
 * journal_write_line() appends LINE (one JSON record ending in '\n') to FD
 * with as few write() calls as the kernel allows, so a kill leaves whole
 * lines or one cut last line, which the reader drops; a write that fails
 * part-way (a full disk) is cut off again with ftruncate, so the file stays
 * whole lines. It then fsyncs: a record returned 0 for survives a power cut
 * of the lab host. PATH and HINT (what the user does next, e.g. "resume
 * with --resume") are only for the error message. Returns 0 or a negative
 * errno, after one hil_error() naming PATH and HINT. */
#ifndef HILCTL_REPORTS_JOURNAL_WRITE_H
#define HILCTL_REPORTS_JOURNAL_WRITE_H

int journal_write_line(int fd, const char *path, const char *line, const char *hint);

#endif

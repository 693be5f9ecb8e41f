/* lib/fsutil.h — small file-system helpers that several parts need. */
#ifndef HILCTL_LIB_FSUTIL_H
#define HILCTL_LIB_FSUTIL_H

#include <sys/types.h>

/* mkdir -p: path and every missing parent, with mode (under the umask).
 * 0, or -errno (-ENAMETOOLONG past 4095 bytes). An existing directory is
 * fine; who owns it is the caller's question. */
int fs_mkdir_p(const char *path, mode_t mode);
/* The same for path's parents only (path itself is left to the caller). */
int fs_mkdir_parents(const char *path, mode_t mode);

#endif

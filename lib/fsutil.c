/* lib/fsutil.c — see lib/fsutil.h. */
#include "lib/fsutil.h"

#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>

int fs_mkdir_parents(const char *path, mode_t mode)
{
	char tmp[4096];

	if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	for (char *p = tmp + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			if (mkdir(tmp, mode) < 0 && errno != EEXIST)
				return -errno;
			*p = '/';
		}
	return 0;
}

int fs_mkdir_p(const char *path, mode_t mode)
{
	int rc = fs_mkdir_parents(path, mode);

	if (rc < 0)
		return rc;
	if (mkdir(path, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

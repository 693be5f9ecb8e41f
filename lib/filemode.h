/* lib/filemode.h — the modes hilctl's files get: boards print tokens and
 * passwords, so reports, journals, timelines and console logs are not for
 * every user of the host.
 *
 * hilctl adds 027 to the umask it was started with (files 0640, directories
 * 0750 under the usual 022; a stricter umask stays stricter). $HILCTL_UMASK,
 * an octal mask 0..0777, replaces that: HILCTL_UMASK=022 for reports that a
 * web server of the host publishes. */
#ifndef HILCTL_FILEMODE_H
#define HILCTL_FILEMODE_H

#include <sys/types.h>

#define HIL_UMASK_ADD 027

/* The umask to run with, from the inherited one and $HILCTL_UMASK (NULL or
 * empty: not set). A value that is not an octal mask is -1 (the caller says
 * so and exits 2). */
int hil_umask_for(mode_t inherited, const char *env);

#endif

/* lib/filemode.c — the umask hilctl runs with (see lib/filemode.h). */
#include <stdlib.h>

#include "lib/filemode.h"

int hil_umask_for(mode_t inherited, const char *env)
{
	char *end;
	long v;

	if (!env || !env[0])
		return (int)((inherited | HIL_UMASK_ADD) & 0777);
	v = strtol(env, &end, 8);
	if (*end || end == env || env[0] == '-' || env[0] == '+' || v < 0 || v > 0777)
		return -1;
	return (int)v;
}

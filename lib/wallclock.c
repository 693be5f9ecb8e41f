/* lib/wallclock.c — see lib/wallclock.h. */
#include "lib/wallclock.h"

#include <stdio.h>

void wall_iso(const struct timespec *ts, char *buf, size_t size)
{
	struct tm tm;
	char base[32];

	gmtime_r(&ts->tv_sec, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, size, "%s.%03ldZ", base, ts->tv_nsec / 1000000);
}

void wall_iso_now(char *buf, size_t size)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	wall_iso(&ts, buf, size);
}

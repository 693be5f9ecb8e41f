/* lib/wallclock.h — wall-clock times as the journal writes them: ISO 8601 in
 * UTC with milliseconds, "2026-12-07T13:00:25.123Z" (reports/journal_read.c
 * reads these, with or without the fraction). Durations never come from
 * here: they are measured on lib/clock.h's monotonic clock. */
#ifndef HILCTL_LIB_WALLCLOCK_H
#define HILCTL_LIB_WALLCLOCK_H

#include <stddef.h>
#include <time.h>

#define WALL_ISO_SIZE 32 /* enough for any wall_iso() answer */

void wall_iso(const struct timespec *ts, char *buf, size_t size);
void wall_iso_now(char *buf, size_t size);

#endif

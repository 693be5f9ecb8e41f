/* lib/clock.h — the one monotonic clock that console bytes, power actions
 * and markers share. Nanoseconds since an arbitrary origin (CLOCK_MONOTONIC). */
#ifndef HILCTL_CLOCK_H
#define HILCTL_CLOCK_H

#include <stdint.h>
#include <time.h>

#define NS_PER_MS 1000000LL
#define NS_PER_S 1000000000LL

static inline int64_t clock_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

/* Milliseconds from now until deadline for poll(): 0 when past, rounded up so
 * that a poll never returns just before its deadline and spins. */
static inline int clock_poll_ms(int64_t deadline_ns)
{
	int64_t left = deadline_ns - clock_now_ns();

	if (left <= 0)
		return 0;
	if (left > 3600 * NS_PER_S)
		return 3600 * 1000;
	return (int)((left + NS_PER_MS - 1) / NS_PER_MS);
}

#endif

/* lib/rand.h — splitmix64: the one seeded generator of plans, run seeds and
 * power-loss models. Deterministic for a seed, so a journal's seed replays
 * the same choices; never for anything secret. */
#ifndef HILCTL_LIB_RAND_H
#define HILCTL_LIB_RAND_H

#include <stdint.h>

static inline uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

#endif

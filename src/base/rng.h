/* The one random generator herd uses where runs must repeat: splitmix64
 * (Steele, Lea, Flood 2014), and seeded shuffles built on it. */
#ifndef HERD_BASE_RNG_H
#define HERD_BASE_RNG_H
#include <stdint.h>

/* One step of splitmix64. */
static inline uint64_t herd_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* perm = a permutation of 0 .. n-1 drawn from (seed, epoch) by Fisher-Yates
 * with unbiased draws: the order of one epoch of a seeded data loader. */
void herd_shuffle_epoch(uint64_t *perm, uint64_t n, uint64_t seed, uint64_t epoch);

#endif

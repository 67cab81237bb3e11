#include "base/rng.h"

/* Uniform in [0, n), n > 0, without modulo bias. */
static uint64_t below(uint64_t *state, uint64_t n)
{
    uint64_t limit = -n % n, r; /* 2^64 mod n values at the bottom are rejected */
    do
        r = herd_splitmix64(state);
    while (r < limit);
    return r % n;
}

void herd_shuffle_epoch(uint64_t *perm, uint64_t n, uint64_t seed, uint64_t epoch)
{
    uint64_t st = seed;
    herd_splitmix64(&st);
    st ^= (epoch + 1) * 0xD1B54A32D192ED03ULL;
    for (uint64_t i = 0; i < n; i++)
        perm[i] = i;
    for (uint64_t i = n > 0 ? n - 1 : 0; i > 0; i--) {
        uint64_t j = below(&st, i + 1), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}

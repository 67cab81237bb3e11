/* Helpers of the quant tests: a fixed random generator, fixture files, and
 * the SIMD levels this CPU runs. */
#ifndef HERD_TESTS_QUANT_TEST_H
#define HERD_TESTS_QUANT_TEST_H
#include "test.h"
#include "quant/quant.h"
#include <stdint.h>

static uint64_t qt_rng = 0x9e3779b97f4a7c15ULL;
static inline uint64_t qt_next(void)
{
    qt_rng ^= qt_rng << 13; qt_rng ^= qt_rng >> 7; qt_rng ^= qt_rng << 17;
    return qt_rng;
}
/* Uniform in [-1, 1). */
static inline float qt_uniform(void)
{
    return (float)((qt_next() >> 11) * (1.0 / 9007199254740992.0)) * 2.0f - 1.0f;
}
/* Roughly normal (sum of 4 uniforms, scaled to unit variance). */
static inline float qt_normal(void)
{
    return (qt_uniform() + qt_uniform() + qt_uniform() + qt_uniform()) * 0.8660254f;
}
/* An integer in [lo, hi]. */
static inline int qt_int(int lo, int hi)
{
    return lo + (int)(qt_next() % (uint64_t)(hi - lo + 1));
}

/* Reads tests/fixtures/quant/name whole; NULL (and a failed check) if it is
 * missing or not want bytes long. */
static inline void *qt_fixture(const char *name, size_t want)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/fixtures/quant/%s", test_source(), name);
    FILE *f = fopen(path, "rb");
    CHECK_MSG(f != NULL, "cannot open %s", path);
    if (!f)
        return NULL;
    void *buf = malloc(want + 1);
    size_t got = fread(buf, 1, want + 1, f);
    fclose(f);
    CHECK_MSG(got == want, "%s: %zu bytes, want %zu", path, got, want);
    if (got != want) {
        free(buf);
        return NULL;
    }
    return buf;
}

#endif

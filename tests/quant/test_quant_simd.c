/* Every SIMD dot product this CPU runs against its scalar twin: exactly
 * where all the arithmetic is in integers (scales of 1, sums below 2^24),
 * within float rounding on random scales; row lengths with odd block
 * counts and float tails; and the run-time choice of level (HERD_SIMD). */
#include "quant_test.h"
#include "base/half.h"
#include <math.h>

#define F16_ONE 0x3c00

/* Random blocks of a weight type and its activation type. unit: every
 * scale 1 and the K-quants' sub-block scales and mins small (so that the
 * sums stay below 2^24, where float holds integers exactly). Quants in the
 * ranges the quantizers write (8-bit ones in [-127, 127]); bsums computed
 * from the quants. */
static void random_blocks(herd_qtype t, int64_t n, void *w, void *x, int unit)
{
    const int64_t nb = n / herd_qtraits_get(t)->blck;
    unsigned char *wb = w;
    for (size_t i = 0; i < herd_qrow_bytes(t, n); i++)
        wb[i] = (unsigned char)qt_next();
    if (t == HERD_QTYPE_Q8_0 || t == HERD_QTYPE_Q4_0) {
        herd_block_q8_0 *xb = x;
        for (int64_t i = 0; i < nb; i++) {
            if (t == HERD_QTYPE_Q8_0) {
                herd_block_q8_0 *b = (herd_block_q8_0 *)w + i;
                b->d = unit ? F16_ONE : herd_f32_to_f16(qt_uniform());
                for (int j = 0; j < 32; j++)
                    b->qs[j] = (int8_t)qt_int(-127, 127);
            } else {
                ((herd_block_q4_0 *)w)[i].d = unit ? F16_ONE : herd_f32_to_f16(qt_uniform());
            }
            xb[i].d = unit ? F16_ONE : herd_f32_to_f16(qt_uniform());
            for (int j = 0; j < 32; j++)
                xb[i].qs[j] = (int8_t)qt_int(-127, 127);
        }
        return;
    }
    herd_block_q8_K *xb = x;
    for (int64_t i = 0; i < nb; i++) {
        if (t == HERD_QTYPE_Q4_K) {
            herd_block_q4_K *b = (herd_block_q4_K *)w + i;
            b->d = unit ? F16_ONE : herd_f32_to_f16(qt_uniform() * 0.01f);
            b->dmin = unit ? F16_ONE : herd_f32_to_f16(qt_uniform() * 0.01f);
            for (int j = 0; unit && j < 12; j++)
                b->scales[j] &= j < 8 ? 0x03 : 0x33;  /* scales and mins 0..3 */
        } else {
            herd_block_q6_K *b = (herd_block_q6_K *)w + i;
            b->d = unit ? F16_ONE : herd_f32_to_f16(qt_uniform() * 0.01f);
            for (int j = 0; unit && j < 16; j++)
                b->scales[j] = (int8_t)qt_int(-2, 2);
        }
        xb[i].d = unit ? 1.0f : qt_uniform();
        for (int j = 0; j < 256; j++)
            xb[i].qs[j] = (int8_t)qt_int(-127, 127);
        for (int j = 0; j < 16; j++) {
            int s = 0;
            for (int k = 0; k < 16; k++)
                s += xb[i].qs[16 * j + k];
            xb[i].bsums[j] = (int16_t)s;
        }
    }
}

/* sum over blocks of |block's dot|, bounding the float rounding. */
static double magnitude(herd_qtype t, int64_t n, const void *w, const void *x)
{
    const herd_qtraits *q = herd_qtraits_get(t), *a = herd_qtraits_get(q->vec_dot_type);
    float *wd = malloc(sizeof(float) * n), *xd = malloc(sizeof(float) * n);
    q->to_float(w, wd, n);
    a->to_float(x, xd, n);
    double m = 0;
    for (int64_t i = 0; i < n; i++)
        m += fabs((double)wd[i] * xd[i]);
    free(wd);
    free(xd);
    return m;
}

static void test_quantized(herd_qtype t, herd_simd_level l)
{
    const herd_qtraits *q = herd_qtraits_get(t);
    herd_vec_dot_fn ref = herd_vec_dot_at(t, HERD_SIMD_SCALAR), fast = herd_vec_dot_at(t, l);
    const int64_t blocks[] = {1, 2, 3, 5, 8, 16, 17, 31};
    void *w = malloc(herd_qrow_bytes(t, 31 * q->blck));
    void *x = malloc(herd_qrow_bytes(q->vec_dot_type, 31 * q->blck));
    int exact_bad = 0, float_bad = 0, exact_runs = 0, runs = 0;
    for (int rep = 0; rep < 40; rep++)
        for (size_t k = 0; k < sizeof blocks / sizeof blocks[0]; k++) {
            const int64_t n = blocks[k] * q->blck;
            /* scales of 1: integer sums, exact while below 2^24 */
            random_blocks(t, n, w, x, 1);
            float a = fast(n, w, x), b = ref(n, w, x);
            int exact = magnitude(t, n, w, x) < 16777216.0;  /* every partial sum too */
            exact_runs += exact;
            runs++;
            if (exact && a != b && exact_bad++ < 3)
                fprintf(stderr, "%s %s n=%lld: %.9g, scalar %.9g\n", q->name,
                        herd_simd_name(l), (long long)n, a, b);
            random_blocks(t, n, w, x, 0);
            a = fast(n, w, x);
            b = ref(n, w, x);
            if (!(fabs((double)a - b) <= 1e-6 * magnitude(t, n, w, x)) && float_bad++ < 3)
                fprintf(stderr, "%s %s n=%lld: %.9g, scalar %.9g (random scales)\n", q->name,
                        herd_simd_name(l), (long long)n, a, b);
        }
    CHECK_MSG(exact_runs > runs * 3 / 4, "%s: only %d of %d integer runs small enough", q->name,
              exact_runs, runs);
    CHECK_MSG(exact_bad == 0, "%s at %s: %d integer dots differ", q->name, herd_simd_name(l),
              exact_bad);
    CHECK_MSG(float_bad == 0, "%s at %s: %d dots beyond rounding", q->name, herd_simd_name(l),
              float_bad);
    free(w);
    free(x);
}

static void test_float(herd_qtype t, herd_simd_level l)
{
    const herd_qtraits *q = herd_qtraits_get(t);
    herd_vec_dot_fn ref = herd_vec_dot_at(t, HERD_SIMD_SCALAR), fast = herd_vec_dot_at(t, l);
    enum { MAX = 4096 + 37 };
    float *x = malloc(sizeof(float) * MAX), *wf = malloc(sizeof(float) * MAX);
    void *w = malloc(4 * MAX);
    int bad = 0;
    for (int64_t n = 0; n < MAX; n = n < 70 ? n + 1 : n * 2 + 13) {
        for (int64_t i = 0; i < n; i++) {
            x[i] = qt_normal();
            wf[i] = qt_normal();
        }
        q->from_float(wf, w, n);
        q->to_float(w, wf, n);
        double mag = 0;
        for (int64_t i = 0; i < n; i++)
            mag += fabs((double)wf[i] * x[i]);
        float a = fast(n, w, x), b = ref(n, w, x);
        if (!(fabs((double)a - b) <= 1e-6 * mag + 1e-30) && bad++ < 3)
            fprintf(stderr, "%s %s n=%lld: %.9g, scalar %.9g\n", q->name, herd_simd_name(l),
                    (long long)n, a, b);
    }
    CHECK_MSG(bad == 0, "%s at %s: %d dots differ", q->name, herd_simd_name(l), bad);
    free(x);
    free(wf);
    free(w);
}

int main(void)
{
    /* HERD_SIMD lowers the level the traits use; set before the first call. */
    setenv("HERD_SIMD", "avx2", 1);
    herd_simd_level sup = herd_simd_supported();
    herd_simd_level want = sup < HERD_SIMD_AVX2 ? sup : HERD_SIMD_AVX2;
    CHECK(herd_simd_active() == want);
    CHECK(herd_qtraits_get(HERD_QTYPE_Q4_K)->vec_dot == herd_vec_dot_at(HERD_QTYPE_Q4_K, want));
    CHECK(strcmp(herd_simd_name(HERD_SIMD_AVX512VNNI), "avx512vnni") == 0);
    printf("this CPU: %s\n", herd_simd_name(sup));

    const herd_qtype qs[] = {HERD_QTYPE_Q8_0, HERD_QTYPE_Q4_0, HERD_QTYPE_Q4_K, HERD_QTYPE_Q6_K};
    const herd_qtype fs[] = {HERD_QTYPE_F32, HERD_QTYPE_F16, HERD_QTYPE_BF16};
    for (int l = 1; l <= (int)sup; l++) {
        for (int i = 0; i < 4; i++) {
            CHECK(herd_vec_dot_at(qs[i], (herd_simd_level)l) !=
                  herd_vec_dot_at(qs[i], HERD_SIMD_SCALAR));
            test_quantized(qs[i], (herd_simd_level)l);
        }
        for (int i = 0; i < 3; i++)
            test_float(fs[i], (herd_simd_level)l);
    }
    if (sup == HERD_SIMD_SCALAR)
        printf("no SIMD level on this CPU: only the scalar kernels ran\n");
    TEST_END();
}

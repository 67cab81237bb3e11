/* The rounding of herd's decoding arithmetic, operation by operation the
 * same as llama.cpp's CPU backend on AVX-512 (ggml-cpu), so that both give
 * the same floats from the same file and the same 8-bit activations come
 * out of them (a float one ulp apart can move a Q8_0 activation by one step,
 * and over 22 layers such steps part the two models' choices):
 *  - exp: a degree-5 polynomial on the reduced argument, scaled by 2^n
 *    (ggml_v_expf, after ARM's optimized-routines expf), in softmax and SiLU;
 *  - sums of n floats (attention's q.k over head_dim and p.V over
 *    positions): 4 x 16 lanes, element i into lane i % 64 by FMA, the lanes
 *    folded as (0 + 2) + (1 + 3) and the 16 left by herd_sum16's tree;
 *  - herd_sum16: halves, then quarters, then pairs;
 *  - rmsnorm's squares in float, RoPE's angles by float recurrence
 *    (herd_rope_table_f32) and its rotation's fma (rope.c);
 *  - Q8_0 / Q4_0 matrices in the order llama.cpp uses for their shape
 *    (quant/gemv.h, herd_gemv_kernel_for).
 *  - F16 matrices in llama.cpp's order for their width, and in models of
 *    block types with activations rounded to F16 as llama.cpp's are
 *    (model/linear.c; F16, BF16 and F32 models keep float activations).
 * Each has a scalar form that the SIMD kernels are tested against. */
#ifndef HERD_KERNELS_ORDER_H
#define HERD_KERNELS_ORDER_H
#include <math.h>
#include <stddef.h>

/* For the scalar functions built on fmaf: a clone for CPUs with FMA, where
 * fmaf is one instruction instead of a call (the same floats either way). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define HERD_FMA_CLONES __attribute__((target_clones("fma", "default")))
#else
#define HERD_FMA_CLONES
#endif

/* e^x as ggml_v_expf computes it: exact twin of herd_expf_poly16. */
static inline float herd_expf_poly(float x)
{
    const float r = 0x1.8p23f, z = fmaf(x, 0x1.715476p+0f, r), n = z - r;
    const float b = fmaf(-n, 0x1.7f7d1cp-20f, fmaf(-n, 0x1.62e4p-1f, x));
    if (fabsf(n) > 192.0f)
        return n <= 0.0f ? 0.0f : INFINITY;
    const float u = b * b;
    const float j = fmaf(fmaf(fmaf(0x1.0e4020p-7f, b, 0x1.573e2ep-5f), u,
                              fmaf(0x1.555e66p-3f, b, 0x1.fffdb6p-2f)),
                         u, fmaf(0x1.ffffecp-1f, b, 1.0f));
    return ldexpf(j, (int)n);
}

/* The sum of 16 floats by the tree of _mm512_reduce_add_ps: lanes i and
 * i + 8, then i and i + 4, then i and i + 2, then the last two. */
static inline float herd_sum16(const float *v)
{
    float a[8], b[4];
    for (int i = 0; i < 8; i++)
        a[i] = v[i] + v[i + 8];
    for (int i = 0; i < 4; i++)
        b[i] = a[i] + a[i + 4];
    return (b[0] + b[2]) + (b[1] + b[3]);
}

/* The sum of 64 lanes in the order above: folded as (0 + 2) + (1 + 3) by
 * quarters, then herd_sum16. */
static inline float herd_sum64(const float *s)
{
    float t[16];
    for (int l = 0; l < 16; l++)
        t[l] = (s[l] + s[l + 32]) + (s[l + 16] + s[l + 48]);
    return herd_sum16(t);
}

/* x . y over n floats (y's elements ys floats apart) in the order above;
 * the n % 64 last ones added one by one. */
static inline float herd_dot64(const float *x, const float *y, size_t ys, int n)
{
    float s[64] = {0};
    int np = n & ~63;
    for (int i = 0; i < np; i += 64)
        for (int l = 0; l < 64; l++)
            s[l] = fmaf(x[i + l], y[(size_t)(i + l) * ys], s[l]);
    float sum = herd_sum64(s);
    for (int i = np; i < n; i++)
        sum += x[i] * y[(size_t)i * ys];
    return sum;
}

#if defined(__x86_64__)
#include <immintrin.h>

/* herd_expf_poly on 16 lanes (ggml_v_expf, AVX-512). */
static inline __attribute__((always_inline, target("avx2,fma,avx512f,avx512dq")))
__m512 herd_expf_poly16(__m512 x)
{
    const __m512 r = _mm512_set1_ps(0x1.8p23f);
    const __m512 z = _mm512_fmadd_ps(x, _mm512_set1_ps(0x1.715476p+0f), r);
    const __m512 n = _mm512_sub_ps(z, r);
    const __m512 b = _mm512_fnmadd_ps(n, _mm512_set1_ps(0x1.7f7d1cp-20f),
                                      _mm512_fnmadd_ps(n, _mm512_set1_ps(0x1.62e4p-1f), x));
    const __mmask16 d = _mm512_cmp_ps_mask(_mm512_abs_ps(n), _mm512_set1_ps(192), _CMP_GT_OQ);
    const __m512 u = _mm512_mul_ps(b, b);
    const __m512 j = _mm512_fmadd_ps(
        _mm512_fmadd_ps(_mm512_fmadd_ps(_mm512_set1_ps(0x1.0e4020p-7f), b,
                                        _mm512_set1_ps(0x1.573e2ep-5f)),
                        u,
                        _mm512_fmadd_ps(_mm512_set1_ps(0x1.555e66p-3f), b,
                                        _mm512_set1_ps(0x1.fffdb6p-2f))),
        u, _mm512_fmadd_ps(_mm512_set1_ps(0x1.ffffecp-1f), b, _mm512_set1_ps(1.0f)));
    const __m512 res = _mm512_scalef_ps(j, n);
    if (!d)
        return res;
    const __m512 alt = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(n, _mm512_setzero_ps(), _CMP_LE_OQ),
                                            _mm512_set1_ps(INFINITY), _mm512_setzero_ps());
    return _mm512_mask_blend_ps(d, res, alt);
}

/* herd_sum16 of one vector's lanes. */
static inline __attribute__((always_inline, target("avx2,fma,avx512f,avx512dq")))
float herd_sum16_avx512(__m512 v)
{
    __m256 a = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
    __m128 b = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    __m128 c = _mm_add_ps(b, _mm_movehl_ps(b, b));
    return _mm_cvtss_f32(_mm_add_ss(c, _mm_movehdup_ps(c)));
}
#endif

#endif

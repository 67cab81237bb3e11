/* AVX-512 (F, BW, VL, DQ) dot products, without VNNI: Q6_K from
 * dot_avx512_body.h, and the float-weight ones. Q8_0, Q4_0 and Q4_K keep
 * their AVX2 kernels at this level (zmm did not pay for them). */
#include "quant/quant_impl.h"
#include "base/half.h"
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#include "quant/dot_x86.h"

#define AVX512_NAME(t) herd_dot_##t##_avx512
#define AVX512_TARGET HERD_TARGET_AVX512
#define MADD_ADD(acc, p, s) _mm512_add_epi32((acc), _mm512_madd_epi16((p), (s)))
#include "quant/dot_avx512_body.h"

/* Mask of the first r (< 16) lanes. */
static inline HERD_TARGET_AVX512 __mmask16 tail(int64_t r) { return (__mmask16)((1u << r) - 1); }

HERD_TARGET_AVX512 float herd_dot_f32_avx512(int64_t n, const void *vw, const void *vx)
{
    const float *w = vw, *x = vx;
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        prefetch_ahead(&w[i], 32 * (int)sizeof w[i]);
        a0 = _mm512_fmadd_ps(_mm512_loadu_ps(w + i), _mm512_loadu_ps(x + i), a0);
        a1 = _mm512_fmadd_ps(_mm512_loadu_ps(w + i + 16), _mm512_loadu_ps(x + i + 16), a1);
    }
    for (; i < n; i += 16) {
        __mmask16 k = n - i >= 16 ? 0xffff : tail(n - i);
        a0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k, w + i), _mm512_maskz_loadu_ps(k, x + i), a0);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
}

HERD_TARGET_AVX512 float herd_dot_f16_avx512(int64_t n, const void *vw, const void *vx)
{
    const uint16_t *w = vw;
    const float *x = vx;
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        prefetch_ahead(&w[i], 32 * (int)sizeof w[i]);
        __m512 w0 = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(w + i)));
        __m512 w1 = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(w + i + 16)));
        a0 = _mm512_fmadd_ps(w0, _mm512_loadu_ps(x + i), a0);
        a1 = _mm512_fmadd_ps(w1, _mm512_loadu_ps(x + i + 16), a1);
    }
    for (; i < n; i += 16) {
        __mmask16 k = n - i >= 16 ? 0xffff : tail(n - i);
        __m512 w0 = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(k, w + i));
        a0 = _mm512_fmadd_ps(w0, _mm512_maskz_loadu_ps(k, x + i), a0);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
}

static inline HERD_TARGET_AVX512 __m512 bf16x16(__m256i v)
{
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(v), 16));
}

HERD_TARGET_AVX512 float herd_dot_bf16_avx512(int64_t n, const void *vw, const void *vx)
{
    const uint16_t *w = vw;
    const float *x = vx;
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        prefetch_ahead(&w[i], 32 * (int)sizeof w[i]);
        __m512 w0 = bf16x16(_mm256_loadu_si256((const __m256i *)(w + i)));
        __m512 w1 = bf16x16(_mm256_loadu_si256((const __m256i *)(w + i + 16)));
        a0 = _mm512_fmadd_ps(w0, _mm512_loadu_ps(x + i), a0);
        a1 = _mm512_fmadd_ps(w1, _mm512_loadu_ps(x + i + 16), a1);
    }
    for (; i < n; i += 16) {
        __mmask16 k = n - i >= 16 ? 0xffff : tail(n - i);
        __m512 w0 = bf16x16(_mm256_maskz_loadu_epi16(k, w + i));
        a0 = _mm512_fmadd_ps(w0, _mm512_maskz_loadu_ps(k, x + i), a0);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
}

#endif

/* Row conversions to float32 with AVX2 + F16C: the same values as the
 * scalar ones (one exact conversion, one multiply each), 3-8x faster. A
 * prompt widens every weight it multiplies, so these set its pace beside
 * sgemm. */
#include "quant/quant_impl.h"
#include "base/half.h"
#if defined(__x86_64__) || defined(__i386__)
#include "quant/dot_x86.h"

HERD_TARGET_AVX2 void herd_f16_to_float_avx2(const void *s, float *d, int64_t n)
{
    const uint16_t *h = s;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(d + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(h + i))));
    for (; i < n; i++)
        d[i] = herd_f16_to_f32(h[i]);
}

static inline HERD_TARGET_AVX2 void store_i8x8(float *y, __m128i q8, __m256 d)
{
    _mm256_storeu_ps(y, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q8)), d));
}

HERD_TARGET_AVX2 void herd_dequantize_q8_0_avx2(const void *vx, float *y, int64_t n)
{
    const herd_block_q8_0 *x = vx;
    for (int64_t i = 0; i < n / HERD_QK8_0; i++, y += HERD_QK8_0) {
        const __m256 d = _mm256_set1_ps(herd_f16_to_f32(x[i].d));
        for (int j = 0; j < HERD_QK8_0; j += 8)
            store_i8x8(y + j, _mm_loadl_epi64((const __m128i *)(x[i].qs + j)), d);
    }
}

HERD_TARGET_AVX2 void herd_dequantize_q4_0_avx2(const void *vx, float *y, int64_t n)
{
    const herd_block_q4_0 *x = vx;
    const __m128i lo4 = _mm_set1_epi8(0x0f), eight = _mm_set1_epi8(8);
    for (int64_t i = 0; i < n / HERD_QK4_0; i++, y += HERD_QK4_0) {
        const __m256 d = _mm256_set1_ps(herd_f16_to_f32(x[i].d));
        __m128i t = _mm_loadu_si128((const __m128i *)x[i].qs);
        __m128i lo = _mm_sub_epi8(_mm_and_si128(t, lo4), eight);   /* values 0..15 */
        __m128i hi = _mm_sub_epi8(_mm_and_si128(_mm_srli_epi16(t, 4), lo4), eight); /* 16..31 */
        store_i8x8(y, lo, d);
        store_i8x8(y + 8, _mm_srli_si128(lo, 8), d);
        store_i8x8(y + 16, hi, d);
        store_i8x8(y + 24, _mm_srli_si128(hi, 8), d);
    }
}
#endif

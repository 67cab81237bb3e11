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
/* 32 values y = d * q - m from 32 unsigned quants (one per byte). */
static inline HERD_TARGET_AVX2 void store_u8x32(float *y, __m256i q, float d, float m)
{
    const __m256 vd = _mm256_set1_ps(d), vm = _mm256_set1_ps(m);
    __m128i lo = _mm256_castsi256_si128(q), hi = _mm256_extracti128_si256(q, 1);
    __m128i part[4] = {lo, _mm_srli_si128(lo, 8), hi, _mm_srli_si128(hi, 8)};
    for (int k = 0; k < 4; k++) {
        __m256 f = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(part[k]));
        _mm256_storeu_ps(y + 8 * k, _mm256_sub_ps(_mm256_mul_ps(vd, f), vm));
    }
}

HERD_TARGET_AVX2 void herd_dequantize_q4_K_avx2(const void *vx, float *y, int64_t n)
{
    const herd_block_q4_K *x = vx;
    const __m256i lo4 = _mm256_set1_epi8(0x0f);
    for (int64_t i = 0; i < n / HERD_QK_K; i++) {
        const float d = herd_f16_to_f32(x[i].d), dmin = herd_f16_to_f32(x[i].dmin);
        uint8_t sc[8], m[8];
        q4_K_scales(x[i].scales, sc, m);
        for (int c = 0; c < 4; c++, y += 64) {
            __m256i q = _mm256_loadu_si256((const __m256i *)(x[i].qs + 32 * c));
            store_u8x32(y, _mm256_and_si256(q, lo4), d * sc[2 * c], dmin * m[2 * c]);
            store_u8x32(y + 32, _mm256_and_si256(_mm256_srli_epi16(q, 4), lo4),
                        d * sc[2 * c + 1], dmin * m[2 * c + 1]);
        }
    }
}

/* 32 values y = s * (q - 32), s changing every 16, from 6-bit quants. */
static inline HERD_TARGET_AVX2 void store_q6x32(float *y, __m256i q, float s0, float s1)
{
    q = _mm256_sub_epi8(q, _mm256_set1_epi8(32));
    __m128i lo = _mm256_castsi256_si128(q), hi = _mm256_extracti128_si256(q, 1);
    __m128i part[4] = {lo, _mm_srli_si128(lo, 8), hi, _mm_srli_si128(hi, 8)};
    for (int k = 0; k < 4; k++) {
        __m256 f = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(part[k]));
        _mm256_storeu_ps(y + 8 * k, _mm256_mul_ps(_mm256_set1_ps(k < 2 ? s0 : s1), f));
    }
}

HERD_TARGET_AVX2 void herd_dequantize_q6_K_avx2(const void *vx, float *y, int64_t n)
{
    const herd_block_q6_K *x = vx;
    const __m256i lo4 = _mm256_set1_epi8(0x0f), three = _mm256_set1_epi8(3);
    for (int64_t i = 0; i < n / HERD_QK_K; i++, y += HERD_QK_K) {
        const float d = herd_f16_to_f32(x[i].d);
        for (int h = 0; h < 2; h++) {
            const uint8_t *ql = x[i].ql + 64 * h, *qh = x[i].qh + 32 * h;
            __m256i l0 = _mm256_loadu_si256((const __m256i *)ql);
            __m256i l1 = _mm256_loadu_si256((const __m256i *)(ql + 32));
            __m256i hb = _mm256_loadu_si256((const __m256i *)qh);
            __m256i lows[4] = {_mm256_and_si256(l0, lo4), _mm256_and_si256(l1, lo4),
                               _mm256_and_si256(_mm256_srli_epi16(l0, 4), lo4),
                               _mm256_and_si256(_mm256_srli_epi16(l1, 4), lo4)};
            for (int part = 0; part < 4; part++) {
                __m256i hi2 = _mm256_and_si256(_mm256_srli_epi16(hb, 2 * part), three);
                __m256i q = _mm256_or_si256(lows[part], _mm256_slli_epi16(hi2, 4));
                int j = 128 * h + 32 * part;
                store_q6x32(y + j, q, d * x[i].scales[j / 16], d * x[i].scales[j / 16 + 1]);
            }
        }
    }
}
#endif

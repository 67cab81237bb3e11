/* NF4 dequantization with AVX2: per block of 64 the 16 products code * c'
 * (the scalar row's very multiplications, so the same bits), then 8 weights
 * at a time looked up from them with two permutes and a blend. About as fast
 * as memory lets a QLoRA matmul widen its frozen weights. */
#include "quant/nf4.h"
#if defined(__x86_64__) || defined(__i386__)
#include "quant/dot_x86.h"

/* 8 weights from 8 indices (bytes 0..7 of idx): lo/hi are code * c' of
 * indices 0..7 and 8..15; bit 3 of each index picks between them. */
static inline HERD_TARGET_AVX2 void store8(float *y, __m128i idx, __m256 lo, __m256 hi)
{
    __m256i i = _mm256_cvtepu8_epi32(idx);
    __m256 pick = _mm256_castsi256_ps(_mm256_slli_epi32(i, 28));
    _mm256_storeu_ps(y, _mm256_blendv_ps(_mm256_permutevar8x32_ps(lo, i),
                                         _mm256_permutevar8x32_ps(hi, i), pick));
}

HERD_TARGET_AVX2 void herd_nf4_dequant_row_avx2(const herd_nf4_tensor *t, int64_t r, float *y)
{
    const __m256 code_lo = _mm256_loadu_ps(herd_nf4_code), code_hi = _mm256_loadu_ps(herd_nf4_code + 8);
    const __m128i low4 = _mm_set1_epi8(0x0f);
    const int64_t per_row = t->cols / HERD_NF4_BLOCK;
    const uint8_t *q = t->qs + r * (t->cols / 2);
    for (int64_t b = 0; b < per_row; b++, q += HERD_NF4_BLOCK / 2, y += HERD_NF4_BLOCK) {
        const __m256 c = _mm256_set1_ps(herd_nf4_absmax(t, r * per_row + b));
        const __m256 lo = _mm256_mul_ps(code_lo, c), hi = _mm256_mul_ps(code_hi, c);
        for (int h = 0; h < 2; h++) {
            __m128i v = _mm_loadu_si128((const __m128i *)(q + 16 * h));
            __m128i first = _mm_and_si128(_mm_srli_epi16(v, 4), low4);  /* elements 2k */
            __m128i second = _mm_and_si128(v, low4);                    /* elements 2k + 1 */
            __m128i in_order[2] = {_mm_unpacklo_epi8(first, second),
                                   _mm_unpackhi_epi8(first, second)};
            for (int k = 0; k < 2; k++) {
                float *o = y + 32 * h + 16 * k;
                store8(o, in_order[k], lo, hi);
                store8(o + 8, _mm_srli_si128(in_order[k], 8), lo, hi);
            }
        }
    }
}
#endif

/* AVX2 dot products (with FMA and F16C). Compiled for that target only;
 * simd.c calls them only where the CPU has it. Quantized blocks are
 * multiplied as unsigned x signed bytes (vpmaddubsw), widened to int32 and
 * scaled in float, as llama.cpp does. */
#include "quant/quant_impl.h"
#include "base/half.h"
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#include "quant/dot_x86.h"

static inline HERD_TARGET_AVX2 float f16(uint16_t h) { return _cvtsh_ss(h); }

/* 32 signed bytes times 32 signed bytes (neither -128), summed in pairs of
 * four into 8 int32 lanes. */
static inline HERD_TARGET_AVX2 __m256i dot_i8(__m256i a, __m256i b)
{
    __m256i p = _mm256_maddubs_epi16(_mm256_sign_epi8(a, a), _mm256_sign_epi8(b, a));
    return _mm256_madd_epi16(p, _mm256_set1_epi16(1));
}

/* The 32 nibbles of a Q4_0 block, in element order, minus 8. */
static inline HERD_TARGET_AVX2 __m256i q4_0_bytes(const uint8_t *qs)
{
    __m128i t = _mm_loadu_si128((const __m128i *)qs);
    __m256i q = _mm256_set_m128i(_mm_srli_epi16(t, 4), t);
    return _mm256_sub_epi8(_mm256_and_si256(q, _mm256_set1_epi8(0x0f)), _mm256_set1_epi8(8));
}

/* One block's dot, scaled, added to acc. */
static inline HERD_TARGET_AVX2 __m256 q8_0_block(const herd_block_q8_0 *w,
                                                 const herd_block_q8_0 *x, __m256 acc)
{
    __m256i p = dot_i8(_mm256_loadu_si256((const __m256i *)w->qs),
                       _mm256_loadu_si256((const __m256i *)x->qs));
    const __m256 d = _mm256_set1_ps(herd_f16_table[w->d] * herd_f16_table[x->d]);
    return _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(p), acc);
}

HERD_TARGET_AVX2 float herd_dot_q8_0_avx2(int64_t n, const void *vw, const void *vx)
{
    const herd_block_q8_0 *w = vw, *x = vx;
    const int64_t nb = n / HERD_QK8_0;
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 2 <= nb; i += 2) {
        prefetch_ahead(&w[i], 2 * (int)sizeof w[i]);
        a0 = q8_0_block(&w[i], &x[i], a0);
        a1 = q8_0_block(&w[i + 1], &x[i + 1], a1);
    }
    if (i < nb)
        a0 = q8_0_block(&w[i], &x[i], a0);
    return hsum_ps(_mm256_add_ps(a0, a1));
}

static inline HERD_TARGET_AVX2 __m256 q4_0_block(const herd_block_q4_0 *w,
                                                 const herd_block_q8_0 *x, __m256 acc)
{
    __m256i p = dot_i8(q4_0_bytes(w->qs), _mm256_loadu_si256((const __m256i *)x->qs));
    const __m256 d = _mm256_set1_ps(herd_f16_table[w->d] * herd_f16_table[x->d]);
    return _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(p), acc);
}

HERD_TARGET_AVX2 float herd_dot_q4_0_avx2(int64_t n, const void *vw, const void *vx)
{
    const herd_block_q4_0 *w = vw;
    const herd_block_q8_0 *x = vx;
    const int64_t nb = n / HERD_QK8_0;
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 2 <= nb; i += 2) {
        prefetch_ahead(&w[i], 2 * (int)sizeof w[i]);
        a0 = q4_0_block(&w[i], &x[i], a0);
        a1 = q4_0_block(&w[i + 1], &x[i + 1], a1);
    }
    if (i < nb)
        a0 = q4_0_block(&w[i], &x[i], a0);
    return hsum_ps(_mm256_add_ps(a0, a1));
}

HERD_TARGET_AVX2 float herd_dot_q4_K_avx2(int64_t n, const void *vw, const void *vx)
{
    const herd_block_q4_K *w = vw;
    const herd_block_q8_K *x = vx;
    const __m256i lo4 = _mm256_set1_epi8(0x0f);
    __m256 acc = _mm256_setzero_ps(), accm = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / HERD_QK_K; i++) {
        prefetch_ahead(&w[i], (int)sizeof w[i]);
        uint8_t sc[8], m[8];
        q4_K_scales(w[i].scales, sc, m);
        const __m256i scv = _mm256_broadcastsi128_si256(
            _mm_cvtepu8_epi16(_mm_loadl_epi64((const __m128i *)sc)));
        __m256i s = _mm256_setzero_si256();
        _Pragma("GCC unroll 4")
        for (int c = 0; c < 4; c++) {
            __m256i q = _mm256_loadu_si256((const __m256i *)(w[i].qs + 32 * c));
            __m256i y0 = _mm256_loadu_si256((const __m256i *)(x[i].qs + 64 * c));
            __m256i y1 = _mm256_loadu_si256((const __m256i *)(x[i].qs + 64 * c + 32));
            __m256i p0 = _mm256_maddubs_epi16(_mm256_and_si256(q, lo4), y0);
            __m256i p1 = _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(q, 4), lo4), y1);
            p0 = _mm256_madd_epi16(p0, _mm256_shuffle_epi8(scv, word_bcast(2 * c)));
            p1 = _mm256_madd_epi16(p1, _mm256_shuffle_epi8(scv, word_bcast(2 * c + 1)));
            s = _mm256_add_epi32(s, _mm256_add_epi32(p0, p1));
        }
        const float yd = x[i].d;
        acc = _mm256_fmadd_ps(_mm256_set1_ps(f16(w[i].d) * yd), _mm256_cvtepi32_ps(s), acc);
        accm = _mm256_fmadd_ps(_mm256_set1_ps(f16(w[i].dmin) * yd),
                               _mm256_cvtepi32_ps(q4_K_mins(x[i].bsums, m)), accm);
    }
    return hsum_ps(acc) - hsum_ps(accm);
}

/* The 6-bit quants of one half (128 values) of a Q6_K block as 4 x 32
 * unsigned bytes in element order. */
static inline HERD_TARGET_AVX2 void q6_K_half(const uint8_t *ql, const uint8_t *qh, __m256i e[4])
{
    const __m256i lo4 = _mm256_set1_epi8(0x0f), m2 = _mm256_set1_epi8(0x30);
    __m256i l0 = _mm256_loadu_si256((const __m256i *)ql);
    __m256i l1 = _mm256_loadu_si256((const __m256i *)(ql + 32));
    __m256i h = _mm256_loadu_si256((const __m256i *)qh);
    /* the high 2 bits of each part, moved to bits 4-5 */
    __m256i h0 = _mm256_and_si256(_mm256_slli_epi16(h, 4), m2);
    __m256i h1 = _mm256_and_si256(_mm256_slli_epi16(h, 2), m2);
    __m256i h2 = _mm256_and_si256(h, m2);
    __m256i h3 = _mm256_and_si256(_mm256_srli_epi16(h, 2), m2);
    e[0] = _mm256_or_si256(_mm256_and_si256(l0, lo4), h0);
    e[1] = _mm256_or_si256(_mm256_and_si256(l1, lo4), h1);
    e[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), lo4), h2);
    e[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), lo4), h3);
}

HERD_TARGET_AVX2 float herd_dot_q6_K_avx2(int64_t n, const void *vw, const void *vx)
{
    const herd_block_q6_K *w = vw;
    const herd_block_q8_K *x = vx;
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / HERD_QK_K; i++) {
        prefetch_ahead(&w[i], (int)sizeof w[i]);
        __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)w[i].scales));
        /* the -32 offset: 32 * sum_j sc_j * (sum of sub-block j's activations) */
        __m256i off = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)x[i].bsums), sc16);
        __m256i s = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(off, 5));
        _Pragma("GCC unroll 2")
        for (int h = 0; h < 2; h++) {
            __m256i e[4];
            q6_K_half(w[i].ql + 64 * h, w[i].qh + 32 * h, e);
            /* scales 8h..8h+7 in both 128-bit lanes */
            const __m256i half = h ? _mm256_permute2x128_si256(sc16, sc16, 0x11)
                                   : _mm256_permute2x128_si256(sc16, sc16, 0x00);
            _Pragma("GCC unroll 4")
            for (int k = 0; k < 4; k++) {
                __m256i y = _mm256_loadu_si256((const __m256i *)(x[i].qs + 128 * h + 32 * k));
                __m256i p = _mm256_maddubs_epi16(e[k], y);
                __m256i scv = _mm256_shuffle_epi8(half, word_bcast2(2 * k, 2 * k + 1));
                s = _mm256_add_epi32(s, _mm256_madd_epi16(p, scv));
            }
        }
        __m256 d = _mm256_set1_ps(f16(w[i].d) * x[i].d);
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(s), acc);
    }
    return hsum_ps(acc);
}

HERD_TARGET_AVX2 float herd_dot_f32_avx2(int64_t n, const void *vw, const void *vx)
{
    const float *w = vw, *x = vx;
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        prefetch_ahead(&w[i], 64);
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i), _mm256_loadu_ps(x + i), a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i + 8), _mm256_loadu_ps(x + i + 8), a1);
    }
    float s = hsum_ps(_mm256_add_ps(a0, a1));
    for (; i < n; i++)
        s += w[i] * x[i];
    return s;
}

HERD_TARGET_AVX2 float herd_dot_f16_avx2(int64_t n, const void *vw, const void *vx)
{
    const uint16_t *w = vw;
    const float *x = vx;
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        prefetch_ahead(&w[i], 32);
        __m256 w0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + i)));
        __m256 w1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + i + 8)));
        a0 = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x + i), a0);
        a1 = _mm256_fmadd_ps(w1, _mm256_loadu_ps(x + i + 8), a1);
    }
    float s = hsum_ps(_mm256_add_ps(a0, a1));
    for (; i < n; i++)
        s += f16(w[i]) * x[i];
    return s;
}

static inline HERD_TARGET_AVX2 __m256 bf16x8(const uint16_t *p)
{
    __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
}

HERD_TARGET_AVX2 float herd_dot_bf16_avx2(int64_t n, const void *vw, const void *vx)
{
    const uint16_t *w = vw;
    const float *x = vx;
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        prefetch_ahead(&w[i], 32);
        a0 = _mm256_fmadd_ps(bf16x8(w + i), _mm256_loadu_ps(x + i), a0);
        a1 = _mm256_fmadd_ps(bf16x8(w + i + 8), _mm256_loadu_ps(x + i + 8), a1);
    }
    float s = hsum_ps(_mm256_add_ps(a0, a1));
    for (; i < n; i++)
        s += herd_bf16_to_f32(w[i]) * x[i];
    return s;
}

#endif

/* Helpers of the x86 dot products and the target attributes their files
 * compile with (no -march flag needed: each function names its own ISA, and
 * simd.c calls one only where the CPU has it). The helpers need AVX2 and
 * inline into AVX-512 functions too. */
#ifndef HERD_QUANT_DOT_X86_H
#define HERD_QUANT_DOT_X86_H
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#define HERD_TARGET_AVX2 __attribute__((target("avx2,fma,f16c")))
#define HERD_TARGET_AVX512 \
    __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq")))
#define HERD_TARGET_AVX512VNNI \
    __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")))

/* Weights stream from memory once per token: prefetching this far ahead
 * keeps enough cache lines in flight that a dot product waits on bandwidth,
 * not latency (3x on a TinyLlama-shape Q4_0 matvec). */
#define HERD_PREFETCH 2048

/* Prefetches the lines of [p + HERD_PREFETCH, + bytes). */
static inline void prefetch_ahead(const void *p, int bytes)
{
    for (int o = 0; o < bytes; o += 64)
        _mm_prefetch((const char *)p + HERD_PREFETCH + o, _MM_HINT_T0);
}

static inline HERD_TARGET_AVX2 float hsum_ps(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* Unpacks a Q4_K block's 6-bit scales and mins into 8 bytes each. */
static inline HERD_TARGET_AVX2 void q4_K_scales(const uint8_t *s, uint8_t sc[8], uint8_t m[8])
{
    uint32_t u[3], o[4];
    memcpy(u, s, 12);
    o[0] = u[0] & 0x3f3f3f3f;
    o[1] = (u[2] & 0x0f0f0f0f) | ((u[0] >> 6) & 0x03030303) << 4;
    o[2] = u[1] & 0x3f3f3f3f;
    o[3] = ((u[2] >> 4) & 0x0f0f0f0f) | ((u[1] >> 6) & 0x03030303) << 4;
    memcpy(sc, o, 8);
    memcpy(m, o + 2, 8);
}

/* The mins' part of a Q4_K super-block, per lane: m_j times the sum of
 * sub-block j's activations (bsums 2j and 2j + 1), 8 int32. */
static inline HERD_TARGET_AVX2 __m256i q4_K_mins(const int16_t *bsums, const uint8_t m[8])
{
    __m128i m16 = _mm_cvtepu8_epi16(_mm_loadl_epi64((const __m128i *)m));
    __m256i pairs = _mm256_set_m128i(_mm_unpackhi_epi16(m16, m16), _mm_unpacklo_epi16(m16, m16));
    return _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)bsums), pairs);
}

/* A pshufb control that fills each 128-bit lane with int16 word k. */
static inline HERD_TARGET_AVX2 __m256i word_bcast(int k)
{
    return _mm256_set1_epi16((short)((2 * k) | (2 * k + 1) << 8));
}

/* Two words: k0 over the low 128-bit lane, k1 over the high one. */
static inline HERD_TARGET_AVX2 __m256i word_bcast2(int k0, int k1)
{
    return _mm256_set_m128i(_mm256_castsi256_si128(word_bcast(k1)),
                            _mm256_castsi256_si128(word_bcast(k0)));
}

#endif

/* AVX-512 grouped-query attention of one query token over a paged cache
 * (kernels.h, herd_attention_group_paged_avx512): the g query heads that
 * share a K/V head are done together, head_dim 64 or 128.
 *  - scores: per head, four (or eight) FMAs a key, and one transposing
 *    reduction per 16 keys instead of a horizontal sum per key;
 *  - softmax: herd_softmax, as the scalar twin;
 *  - out = p V: each V row is loaded once for several heads at a time.
 * Its twin is herd_attention_head_paged for each head; the caller picks
 * this one only where the CPU has AVX-512 (quant/quant.h's level). */
#include "kernels/kernels.h"
#include <math.h>
#if defined(__x86_64__)
#include <immintrin.h>

#define TGT __attribute__((target("avx2,fma,avx512f,avx512dq")))
#define INLINE static inline __attribute__((always_inline))

/* One vector from 16: lane i holds the sum of v[i]'s 16 lanes. */
INLINE TGT __m512 sum16(const __m512 *v)
{
    __m512 u[4];
    for (int g = 0; g < 4; g++) {
        __m512 t[2];
        for (int j = 0; j < 2; j++) {
            __m512 a = v[4 * g + 2 * j], b = v[4 * g + 2 * j + 1];
            t[j] = _mm512_add_ps(_mm512_unpacklo_ps(a, b), _mm512_unpackhi_ps(a, b));
        }
        __m512d lo = _mm512_unpacklo_pd(_mm512_castps_pd(t[0]), _mm512_castps_pd(t[1]));
        __m512d hi = _mm512_unpackhi_pd(_mm512_castps_pd(t[0]), _mm512_castps_pd(t[1]));
        u[g] = _mm512_add_ps(_mm512_castpd_ps(lo), _mm512_castpd_ps(hi));
    }
    /* u[g]'s 128-bit lane L holds the partial sums of v[4g..4g+3] over lane L. */
    __m512 x01 = _mm512_add_ps(_mm512_shuffle_f32x4(u[0], u[1], 0x88),
                               _mm512_shuffle_f32x4(u[0], u[1], 0xdd));
    __m512 x23 = _mm512_add_ps(_mm512_shuffle_f32x4(u[2], u[3], 0x88),
                               _mm512_shuffle_f32x4(u[2], u[3], 0xdd));
    return _mm512_add_ps(_mm512_shuffle_f32x4(x01, x23, 0x88),
                         _mm512_shuffle_f32x4(x01, x23, 0xdd));
}

/* s[t] = scale * q . k_t for one head over the paged keys, 16 at a time. */
INLINE TGT void scores(float *s, const float *q, const float *k, const int *blocks, int block,
                       size_t block_stride, int n_keys, int kv_stride, float scale, const int NV)
{
    __m512 qv[8], acc[16];
    for (int i = 0; i < NV; i++)
        qv[i] = _mm512_loadu_ps(q + 16 * i);
    int filled = 0, first = 0;
    for (int t0 = 0; t0 < n_keys; t0 += block) {
        const float *kb = k + (size_t)blocks[t0 / block] * block_stride;
        int n = n_keys - t0 < block ? n_keys - t0 : block;
        for (int t = 0; t < n; t++) {
            const float *kt = kb + (size_t)t * kv_stride;
            __m512 d = _mm512_mul_ps(qv[0], _mm512_loadu_ps(kt));
            for (int i = 1; i < NV; i++)
                d = _mm512_fmadd_ps(qv[i], _mm512_loadu_ps(kt + 16 * i), d);
            acc[filled++] = d;
            if (filled == 16) {
                _mm512_storeu_ps(s + first, _mm512_mul_ps(sum16(acc), _mm512_set1_ps(scale)));
                first += 16;
                filled = 0;
            }
        }
    }
    if (filled) {
        for (int i = filled; i < 16; i++)
            acc[i] = _mm512_setzero_ps();
        _mm512_mask_storeu_ps(s + first, (__mmask16)((1u << filled) - 1),
                              _mm512_mul_ps(sum16(acc), _mm512_set1_ps(scale)));
    }
}

/* out[h] = sum_t p[h][t] v_t for heads h0 .. h0 + H - 1 (p rows n_keys apart). */
INLINE TGT void weighted_sum(float *out, const float *p, const float *v, const int *blocks,
                             int block, size_t block_stride, int n_keys, int kv_stride,
                             const int H, const int NV)
{
    __m512 acc[16];
    for (int j = 0; j < H * NV; j++)
        acc[j] = _mm512_setzero_ps();
    for (int t0 = 0; t0 < n_keys; t0 += block) {
        const float *vb = v + (size_t)blocks[t0 / block] * block_stride;
        int n = n_keys - t0 < block ? n_keys - t0 : block;
        for (int t = 0; t < n; t++) {
            const float *vt = vb + (size_t)t * kv_stride;
            for (int i = 0; i < NV; i++) {
                __m512 x = _mm512_loadu_ps(vt + 16 * i);
                for (int h = 0; h < H; h++)
                    acc[h * NV + i] = _mm512_fmadd_ps(
                        _mm512_set1_ps(p[(size_t)h * n_keys + t0 + t]), x, acc[h * NV + i]);
            }
        }
    }
    for (int h = 0; h < H; h++)
        for (int i = 0; i < NV; i++)
            _mm512_storeu_ps(out + (size_t)h * NV * 16 + 16 * i, acc[h * NV + i]);
}

INLINE TGT void group(float *out, const float *q, int g, const float *k, const float *v,
                      const int *blocks, int block, size_t block_stride, int n_keys,
                      int kv_stride, float *scratch, const int NV)
{
    const int hd = 16 * NV, per = 16 / NV; /* heads per pass of weighted_sum */
    const float scale = 1.0f / sqrtf((float)hd);
    for (int h = 0; h < g; h++) {
        float *s = scratch + (size_t)h * n_keys;
        scores(s, q + (size_t)h * hd, k, blocks, block, block_stride, n_keys, kv_stride, scale,
               NV);
        herd_softmax(s, n_keys);
    }
    int h = 0;
    for (; h + per <= g; h += per)
        weighted_sum(out + (size_t)h * hd, scratch + (size_t)h * n_keys, v, blocks, block,
                     block_stride, n_keys, kv_stride, per, NV);
    for (; h < g; h++)
        weighted_sum(out + (size_t)h * hd, scratch + (size_t)h * n_keys, v, blocks, block,
                     block_stride, n_keys, kv_stride, 1, NV);
}

TGT int herd_attention_group_paged_avx512(float *out, const float *q, int g, const float *k,
                                          const float *v, const int *blocks, int block,
                                          size_t block_stride, int n_keys, int head_dim,
                                          int kv_stride, float *scratch)
{
    if (head_dim == 64)
        group(out, q, g, k, v, blocks, block, block_stride, n_keys, kv_stride, scratch, 4);
    else if (head_dim == 128)
        group(out, q, g, k, v, blocks, block, block_stride, n_keys, kv_stride, scratch, 8);
    else
        return 0;
    return 1;
}

#else
int herd_attention_group_paged_avx512(float *out, const float *q, int g, const float *k,
                                      const float *v, const int *blocks, int block,
                                      size_t block_stride, int n_keys, int head_dim,
                                      int kv_stride, float *scratch)
{
    (void)out, (void)q, (void)g, (void)k, (void)v, (void)blocks, (void)block;
    (void)block_stride, (void)n_keys, (void)head_dim, (void)kv_stride, (void)scratch;
    return 0;
}
#endif

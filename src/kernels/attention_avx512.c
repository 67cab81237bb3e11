/* AVX-512 grouped-query attention of one query token over a paged cache
 * (kernels.h, herd_attention_group_paged_avx512): the g query heads that
 * share a K/V head are done together, head_dim 64 or 128, in the order of
 * kernels/order.h, bit for bit its twin herd_attention_head_paged run per
 * head:
 *  - scores: per key, 64 lanes of products folded to 16; then one
 *    transposing tree per 16 keys that adds each key's lanes as herd_sum16;
 *  - softmax: herd_expf_poly16, 16 scores at a time;
 *  - out = p V: position t into sum t % 64, one sum at a time over the
 *    positions t, t + 64, ... for several heads, each V row loaded once for
 *    all of them; then the 64 sums folded as herd_dot64's. */
#include "kernels/kernels.h"
#include "kernels/order.h"
#include <math.h>
#if defined(__x86_64__)
#include <immintrin.h>

#define TGT __attribute__((target("avx2,fma,avx512f,avx512dq")))
#define INLINE static inline __attribute__((always_inline))

/* One vector from 16: lane i holds herd_sum16 of v[i]'s lanes. */
INLINE TGT __m512 sum16x16(const __m512 *v)
{
    __m512 w[8], z[4], m[2];
    for (int i = 0; i < 8; i++) /* lanes i and i + 8 */
        w[i] = _mm512_add_ps(_mm512_shuffle_f32x4(v[2 * i], v[2 * i + 1], 0x44),
                             _mm512_shuffle_f32x4(v[2 * i], v[2 * i + 1], 0xee));
    for (int i = 0; i < 4; i++) /* then i and i + 4: 128-bit lane k is key 4i + k */
        z[i] = _mm512_add_ps(_mm512_shuffle_f32x4(w[2 * i], w[2 * i + 1], 0x88),
                             _mm512_shuffle_f32x4(w[2 * i], w[2 * i + 1], 0xdd));
    for (int i = 0; i < 2; i++) /* then i and i + 2 */
        m[i] = _mm512_add_ps(_mm512_shuffle_ps(z[2 * i], z[2 * i + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                             _mm512_shuffle_ps(z[2 * i], z[2 * i + 1], _MM_SHUFFLE(3, 2, 3, 2)));
    /* then the last two: lane 4k + j holds key k + 4j */
    __m512 r = _mm512_add_ps(_mm512_shuffle_ps(m[0], m[1], _MM_SHUFFLE(2, 0, 2, 0)),
                             _mm512_shuffle_ps(m[0], m[1], _MM_SHUFFLE(3, 1, 3, 1)));
    const __m512i idx = _mm512_set_epi32(15, 11, 7, 3, 14, 10, 6, 2, 13, 9, 5, 1, 12, 8, 4, 0);
    return _mm512_permutexvar_ps(idx, r);
}

/* s[t] = scale * q . k_t for one head over the paged keys, 16 at a time. */
INLINE TGT void scores(float *s, const float *q, const float *k, const int *blocks, int block,
                       size_t block_stride, int n_keys, int kv_stride, float scale, const int NV)
{
    __m512 qv[8], acc[16];
    for (int i = 0; i < NV; i++)
        qv[i] = _mm512_loadu_ps(q + 16 * i);
    for (int t0 = 0; t0 < n_keys; t0 += 16) {
        const int n = n_keys - t0 < 16 ? n_keys - t0 : 16;
        for (int t = 0; t < 16; t++) {
            if (t >= n) {
                acc[t] = _mm512_setzero_ps();
                continue;
            }
            const float *kt = herd_paged_row(k, blocks, block, block_stride, t0 + t, kv_stride);
            __m512 p[4];
            for (int g = 0; g < 4; g++)
                p[g] = _mm512_mul_ps(_mm512_loadu_ps(kt + 16 * g), qv[g]);
            for (int g = 4; g < NV; g++)
                p[g - 4] = _mm512_fmadd_ps(_mm512_loadu_ps(kt + 16 * g), qv[g], p[g - 4]);
            acc[t] = _mm512_add_ps(_mm512_add_ps(p[0], p[2]), _mm512_add_ps(p[1], p[3]));
        }
        _mm512_mask_storeu_ps(s + t0, (__mmask16)((1u << n) - 1),
                              _mm512_mul_ps(sum16x16(acc), _mm512_set1_ps(scale)));
    }
}

/* herd_softmax's floats, 16 at a time. */
INLINE TGT void softmax(float *s, int n)
{
    __m512 mx = _mm512_set1_ps(-INFINITY);
    for (int t = 0; t < n; t += 16) {
        const __mmask16 k = n - t >= 16 ? 0xffff : (__mmask16)((1u << (n - t)) - 1);
        mx = _mm512_mask_max_ps(mx, k, mx, _mm512_maskz_loadu_ps(k, s + t));
    }
    const __m512 max = _mm512_set1_ps(_mm512_reduce_max_ps(mx));
    double sum = 0;
    for (int t = 0; t < n; t += 16) {
        const __mmask16 k = n - t >= 16 ? 0xffff : (__mmask16)((1u << (n - t)) - 1);
        __m512 e = _mm512_maskz_mov_ps(k, herd_expf_poly16(_mm512_sub_ps(
                                                 _mm512_maskz_loadu_ps(k, s + t), max)));
        _mm512_mask_storeu_ps(s + t, k, e);
        sum += herd_sum16_avx512(e);
    }
    const __m512 inv = _mm512_set1_ps((float)(1.0 / sum));
    for (int t = 0; t < n; t += 16) {
        const __mmask16 k = n - t >= 16 ? 0xffff : (__mmask16)((1u << (n - t)) - 1);
        _mm512_mask_storeu_ps(s + t, k, _mm512_mul_ps(_mm512_maskz_loadu_ps(k, s + t), inv));
    }
}

/* out[h] = sum_t p[h][t] v_t for heads h0 .. h0 + H - 1 (p rows n_keys
 * apart), with H * NV <= 16: sum l of 64 over positions l, l + 64, ...,
 * then the sums folded as herd_dot64 folds its lanes. */
INLINE TGT void weighted_sum(float *out, const float *p, const float *v, const int *blocks,
                             int block, size_t block_stride, int n_keys, int kv_stride,
                             const int H, const int NV)
{
    __m512 sums[64][16];
    for (int l = 0; l < 64; l++) {
        __m512 acc[16];
        for (int j = 0; j < H * NV; j++)
            acc[j] = _mm512_setzero_ps();
        for (int t = l; t < n_keys; t += 64) {
            const float *vt = herd_paged_row(v, blocks, block, block_stride, t, kv_stride);
            for (int i = 0; i < NV; i++) {
                const __m512 x = _mm512_loadu_ps(vt + 16 * i);
                for (int h = 0; h < H; h++)
                    acc[h * NV + i] = _mm512_fmadd_ps(
                        x, _mm512_set1_ps(p[(size_t)h * n_keys + t]), acc[h * NV + i]);
            }
        }
        for (int j = 0; j < H * NV; j++)
            sums[l][j] = acc[j];
    }
    for (int j = 0; j < H * NV; j++) {
        __m512 f[16];
        for (int l = 0; l < 16; l++)
            f[l] = _mm512_add_ps(_mm512_add_ps(sums[l][j], sums[l + 32][j]),
                                 _mm512_add_ps(sums[l + 16][j], sums[l + 48][j]));
        for (int l = 0; l < 8; l++)
            f[l] = _mm512_add_ps(f[l], f[l + 8]);
        for (int l = 0; l < 4; l++)
            f[l] = _mm512_add_ps(f[l], f[l + 4]);
        const __m512 r = _mm512_add_ps(_mm512_add_ps(f[0], f[2]), _mm512_add_ps(f[1], f[3]));
        _mm512_storeu_ps(out + (size_t)(j / NV) * NV * 16 + 16 * (j % NV), r);
    }
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
        softmax(s, n_keys);
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

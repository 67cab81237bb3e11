#include "kernels/kernels.h"
#include "kernels/order.h"
#include <cblas.h>
#include <math.h>
#include <string.h>

void herd_attention_head(float *out, const float *q, const float *k,
                         const float *v, int n_keys, int head_dim,
                         int kv_stride, float *scratch)
{
    float scale = 1.0f / sqrtf((float)head_dim);
    for (int t = 0; t < n_keys; t++) {
        const float *kt = k + (size_t)t * kv_stride;
        float s = 0;
        for (int i = 0; i < head_dim; i++)
            s += q[i] * kt[i];
        scratch[t] = s * scale;
    }
    herd_softmax(scratch, n_keys);
    memset(out, 0, (size_t)head_dim * sizeof *out);
    for (int t = 0; t < n_keys; t++) {
        const float *vt = v + (size_t)t * kv_stride;
        float a = scratch[t];
        for (int i = 0; i < head_dim; i++)
            out[i] += a * vt[i];
    }
}

void herd_attention(float *out, const float *q, const float *k_cache,
                    const float *v_cache, int n_keys, int n_heads,
                    int n_kv_heads, int head_dim, float *scratch)
{
    int kv_dim = n_kv_heads * head_dim, group = n_heads / n_kv_heads;
    for (int h = 0; h < n_heads; h++) {
        int off = (h / group) * head_dim;
        herd_attention_head(out + (size_t)h * head_dim, q + (size_t)h * head_dim,
                            k_cache + off, v_cache + off, n_keys, head_dim,
                            kv_dim, scratch);
    }
}

/* Decoding's order (kernels/order.h): scores by herd_dot64, softmax, and
 * out[i] = p . V[:, i] with position t in lane t % 64 of herd_dot64's sums. */
HERD_FMA_CLONES
void herd_attention_head_paged(float *out, const float *q, const float *k, const float *v,
                               const int *blocks, int block, size_t block_stride,
                               int n_keys, int head_dim, int kv_stride, float *scratch)
{
    float scale = 1.0f / sqrtf((float)head_dim);
    for (int t = 0; t < n_keys; t++)
        scratch[t] = herd_dot64(herd_paged_row(k, blocks, block, block_stride, t, kv_stride), q, 1,
                                head_dim) * scale;
    herd_softmax(scratch, n_keys);
    for (int i = 0; i < head_dim; i++) {
        float s[64] = {0};
        for (int t = 0; t < n_keys; t++)
            s[t % 64] = fmaf(herd_paged_row(v, blocks, block, block_stride, t, kv_stride)[i],
                             scratch[t], s[t % 64]);
        out[i] = herd_sum64(s);
    }
}

void herd_attention_prefill(float *out, const float *q, const float *k, const float *v,
                            int n, int p0, int head_dim, int q_stride, int kv_stride,
                            float *scores)
{
    int L = p0 + n;
    float scale = 1.0f / sqrtf((float)head_dim);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, L, head_dim, scale, q, q_stride, k,
                kv_stride, 0.0f, scores, L);
    for (int t = 0; t < n; t++) {
        float *row = scores + (size_t)t * L;
        herd_softmax(row, p0 + t + 1);
        memset(row + p0 + t + 1, 0, (size_t)(n - t - 1) * sizeof *row);
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, head_dim, L, 1.0f, scores, L, v,
                kv_stride, 0.0f, out, q_stride);
}

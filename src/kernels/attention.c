#include "kernels/kernels.h"
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

/* q . k over head_dim values in eight independent sums (vectorisable
 * without reassociating one long sum). */
static float dot_lanes(const float *q, const float *k, int d)
{
    float acc[8] = {0};
    int i = 0;
    for (; i + 8 <= d; i += 8)
        for (int j = 0; j < 8; j++)
            acc[j] += q[i + j] * k[i + j];
    float s = 0;
    for (; i < d; i++)
        s += q[i] * k[i];
    return s + ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

void herd_attention_head_paged(float *out, const float *q, const float *k, const float *v,
                               const int *blocks, int block, size_t block_stride,
                               int n_keys, int head_dim, int kv_stride, float *scratch)
{
    float scale = 1.0f / sqrtf((float)head_dim);
    for (int t0 = 0; t0 < n_keys; t0 += block) {
        size_t base = (size_t)blocks[t0 / block] * block_stride;
        int n = n_keys - t0 < block ? n_keys - t0 : block;
        for (int t = 0; t < n; t++)
            scratch[t0 + t] = dot_lanes(q, k + base + (size_t)t * kv_stride, head_dim) * scale;
    }
    herd_softmax(scratch, n_keys);
    memset(out, 0, (size_t)head_dim * sizeof *out);
    for (int t0 = 0; t0 < n_keys; t0 += block) {
        size_t base = (size_t)blocks[t0 / block] * block_stride;
        int n = n_keys - t0 < block ? n_keys - t0 : block;
        for (int t = 0; t < n; t++) {
            const float *vt = v + base + (size_t)t * kv_stride;
            float a = scratch[t0 + t];
            for (int i = 0; i < head_dim; i++)
                out[i] += a * vt[i];
        }
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

#include "kernels/kernels.h"
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

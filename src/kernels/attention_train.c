/* Causal attention over a whole sequence for training, with document
 * masks (each token t sees keys start[t]..t), and its backward. One query
 * head per call; the caller runs heads in parallel. */
#include "kernels/kernels.h"
#include <math.h>
#include <string.h>

static float dot(const float *a, const float *b, int n)
{
    float s[8] = {0}, t = 0;
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++)
            s[j] += a[i + j] * b[i + j];
    for (; i < n; i++)
        t += a[i] * b[i];
    return t + ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
}

static void axpy(float *y, float a, const float *x, int n)
{
    for (int i = 0; i < n; i++)
        y[i] += a * x[i];
}

void herd_attention_train(float *out, float *probs, const float *q, const float *k,
                          const float *v, const int *start, int T, int head_dim,
                          int q_stride, int kv_stride)
{
    float scale = 1.0f / sqrtf((float)head_dim);
    for (int t = 0; t < T; t++) {
        const float *qt = q + (size_t)t * q_stride;
        float *p = probs + (size_t)t * T, *o = out + (size_t)t * q_stride;
        int s0 = start[t];
        memset(p, 0, (size_t)T * sizeof *p);
        float max = -INFINITY;
        for (int j = s0; j <= t; j++) {
            p[j] = dot(qt, k + (size_t)j * kv_stride, head_dim) * scale;
            if (p[j] > max)
                max = p[j];
        }
        double sum = 0;
        for (int j = s0; j <= t; j++) {
            p[j] = expf(p[j] - max);
            sum += p[j];
        }
        float inv = (float)(1.0 / sum);
        memset(o, 0, (size_t)head_dim * sizeof *o);
        for (int j = s0; j <= t; j++) {
            p[j] *= inv;
            axpy(o, p[j], v + (size_t)j * kv_stride, head_dim);
        }
    }
}

/* With dp_j = dout_t . v_j and ds_j = p_j (dp_j - sum_i p_i dp_i):
 * dq_t = scale sum_j ds_j k_j, dk_j += scale ds_j q_t, dv_j += p_j dout_t. */
void herd_attention_train_backward(float *dq, float *dk, float *dv, const float *dout,
                                   const float *probs, const float *q, const float *k,
                                   const float *v, const int *start, int T, int head_dim,
                                   int q_stride, int kv_stride, float *scratch)
{
    float scale = 1.0f / sqrtf((float)head_dim);
    for (int t = 0; t < T; t++) {
        const float *p = probs + (size_t)t * T, *dot_ = dout + (size_t)t * q_stride;
        const float *qt = q + (size_t)t * q_stride;
        float *dqt = dq + (size_t)t * q_stride;
        int s0 = start[t];
        double sum = 0;
        for (int j = s0; j <= t; j++) {
            scratch[j] = dot(dot_, v + (size_t)j * kv_stride, head_dim);
            sum += (double)p[j] * scratch[j];
        }
        memset(dqt, 0, (size_t)head_dim * sizeof *dqt);
        for (int j = s0; j <= t; j++) {
            float ds = p[j] * (scratch[j] - (float)sum) * scale;
            axpy(dqt, ds, k + (size_t)j * kv_stride, head_dim);
            axpy(dk + (size_t)j * kv_stride, ds, qt, head_dim);
            axpy(dv + (size_t)j * kv_stride, p[j], dot_, head_dim);
        }
    }
}

/* Causal attention over a whole sequence for training, with document
 * masks (each token t sees keys start[t]..t), and its backward. One query
 * head per call; the caller runs heads in parallel. The fast versions put
 * the products of queries, keys and values through sgemm over the whole
 * [T][T] score block; the _ref twins loop over the unmasked keys. */
#include "kernels/kernels.h"
#include <cblas.h>
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

void herd_attention_train_ref(float *out, float *probs, const float *q, const float *k,
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
void herd_attention_train_backward_ref(float *dq, float *dk, float *dv, const float *dout,
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

/* Softmax of row t of the scaled scores over keys start[t]..t, zeros
 * elsewhere. */
static void masked_softmax(float *p, int t, int s0, int T)
{
    float max = -INFINITY;
    for (int j = s0; j <= t; j++)
        max = p[j] > max ? p[j] : max;
    float sum = 0;
    for (int j = s0; j <= t; j++) {
        p[j] = expf(p[j] - max);
        sum += p[j];
    }
    float inv = 1.0f / sum;
    for (int j = 0; j < s0; j++)
        p[j] = 0;
    for (int j = s0; j <= t; j++)
        p[j] *= inv;
    for (int j = t + 1; j < T; j++)
        p[j] = 0;
}

void herd_attention_train(float *out, float *probs, const float *q, const float *k,
                          const float *v, const int *start, int T, int head_dim,
                          int q_stride, int kv_stride)
{
    float scale = 1.0f / sqrtf((float)head_dim);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, head_dim, scale, q, q_stride,
                k, kv_stride, 0.0f, probs, T);
    for (int t = 0; t < T; t++)
        masked_softmax(probs + (size_t)t * T, t, start[t], T);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, head_dim, T, 1.0f, probs, T,
                v, kv_stride, 0.0f, out, q_stride);
}

/* dP = dO V^T; dS = P * (dP - rowsum(P * dP)) * scale; dQ = dS K;
 * dK += dS^T Q; dV += P^T dO. */
void herd_attention_train_backward(float *dq, float *dk, float *dv, const float *dout,
                                   const float *probs, const float *q, const float *k,
                                   const float *v, const int *start, int T, int head_dim,
                                   int q_stride, int kv_stride, float *scratch)
{
    float scale = 1.0f / sqrtf((float)head_dim);
    float *ds = scratch;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, head_dim, 1.0f, dout,
                q_stride, v, kv_stride, 0.0f, ds, T);
    for (int t = 0; t < T; t++) {
        const float *p = probs + (size_t)t * T;
        float *d = ds + (size_t)t * T, sum = 0;
        for (int j = start[t]; j <= t; j++)
            sum += p[j] * d[j];
        for (int j = 0; j < T; j++)
            d[j] = p[j] * (d[j] - sum) * scale;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, head_dim, T, 1.0f, ds, T, k,
                kv_stride, 0.0f, dq, q_stride);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, head_dim, T, 1.0f, ds, T, q,
                q_stride, 1.0f, dk, kv_stride);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, head_dim, T, 1.0f, probs, T,
                dout, q_stride, 1.0f, dv, kv_stride);
}

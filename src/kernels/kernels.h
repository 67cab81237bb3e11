/* Numeric kernels of the Llama forward pass over plain float arrays.
 * Each fast kernel has a plain scalar twin (_ref) that the tests compare
 * it with. */
#ifndef HERD_KERNELS_KERNELS_H
#define HERD_KERNELS_KERNELS_H
#include "herd.h"

/* y[n][out] = x[n][in] * W^T for W stored row-major as [out][in].
 * n == 1 runs a threaded matrix-vector product; n > 1 one BLAS sgemm. */
void herd_matmul(float *y, const float *x, const float *w, int n, int in, int out);
void herd_matmul_ref(float *y, const float *x, const float *w, int n, int in, int out);

/* out = x / sqrt(mean(x^2) + eps) * weight, over n values. out may be x. */
void herd_rmsnorm(float *out, const float *x, const float *weight, int n, float eps);

/* Rotary embeddings: cos/sin tables of [n_pos][head_dim/2] for a theta. */
void herd_rope_table(float *cos_t, float *sin_t, int n_pos, int half, const double *freqs);
/* Rotates n_heads vectors of head_dim in place at position pos (row pos of
 * the tables). META rotates pairs (2i, 2i+1); HF rotates (i, i + head_dim/2)
 * with the same frequency i. */
void herd_rope(float *v, int n_heads, int head_dim, const float *cos_row,
               const float *sin_row, herd_rope_layout layout);

/* In-place softmax over n values. */
void herd_softmax(float *x, int n);

/* out[i] = silu(gate[i]) * up[i]; out may be gate. */
void herd_swiglu(float *out, const float *gate, const float *up, int n);

/* One query head over n_keys cached positions: k and v point at the head's
 * first element in row 0, rows are kv_stride floats apart. out and q hold
 * head_dim floats; scratch n_keys floats. */
void herd_attention_head(float *out, const float *q, const float *k,
                         const float *v, int n_keys, int head_dim,
                         int kv_stride, float *scratch);

/* Causal grouped-query attention of one query token over cache positions
 * 0..n_keys-1. q: [n_heads][head_dim]; k_cache, v_cache: [pos][n_kv_heads *
 * head_dim]; out: [n_heads][head_dim]; scratch: n_keys floats. Query head h
 * reads kv head h / (n_heads / n_kv_heads). */
void herd_attention(float *out, const float *q, const float *k_cache,
                    const float *v_cache, int n_keys, int n_heads,
                    int n_kv_heads, int head_dim, float *scratch);

#endif

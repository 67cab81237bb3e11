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
/* The same tables as llama.cpp computes them, in float: pair i's angle at
 * position p is freq_scale * (a_i / div[i]) (div NULL: 1), a_0 = p and
 * a_(i+1) = a_i * theta^(-1 / half) rounded at each step. */
void herd_rope_table_f32(float *cos_t, float *sin_t, int n_pos, int half, float theta,
                         const float *div, float freq_scale);
/* Rotates n_heads vectors of head_dim in place at position pos (row pos of
 * the tables). META rotates pairs (2i, 2i+1); HF rotates (i, i + head_dim/2)
 * with the same frequency i. */
void herd_rope(float *v, int n_heads, int head_dim, const float *cos_row,
               const float *sin_row, herd_rope_layout layout);

/* In-place softmax over n values (exp and sum as kernels/order.h). */
void herd_softmax(float *x, int n);

/* out[i] = silu(gate[i]) * up[i]; out may be gate. silu(g) = g / (1 +
 * exp(-g)) with kernels/order.h's exp. The _avx512 one gives the same
 * floats; call it only where the CPU has AVX-512. */
void herd_swiglu(float *out, const float *gate, const float *up, int n);
void herd_swiglu_avx512(float *out, const float *gate, const float *up, int n);

/* One query head over n_keys cached positions: k and v point at the head's
 * first element in row 0, rows are kv_stride floats apart. out and q hold
 * head_dim floats; scratch n_keys floats. */
void herd_attention_head(float *out, const float *q, const float *k,
                         const float *v, int n_keys, int head_dim,
                         int kv_stride, float *scratch);

/* herd_attention_head over a paged cache (PagedAttention): position p's K
 * row is k + blocks[p / block] * block_stride + (p % block) * kv_stride
 * (V likewise), so a sequence's positions may lie in scattered blocks.
 * Decoding's attention, summed in kernels/order.h's order. */
static inline const float *herd_paged_row(const float *base, const int *blocks, int block,
                                          size_t block_stride, int p, int kv_stride)
{
    return base + (size_t)blocks[p / block] * block_stride + (size_t)(p % block) * kv_stride;
}
void herd_attention_head_paged(float *out, const float *q, const float *k, const float *v,
                               const int *blocks, int block, size_t block_stride,
                               int n_keys, int head_dim, int kv_stride, float *scratch);

/* The g query heads that share one K/V head (grouped-query attention), one
 * query token, over a paged cache as herd_attention_head_paged: q and out
 * hold the g heads' head_dim floats one after another; scratch: g * n_keys
 * floats. AVX-512 (attention_avx512.c), for head_dim 64 or 128: returns 0
 * and does nothing for another head_dim or where built for another CPU;
 * call it only where the CPU has AVX-512. Its twin: herd_attention_head_paged
 * for each of the g heads, whose floats it gives bit for bit. */
int herd_attention_group_paged_avx512(float *out, const float *q, int g, const float *k,
                                      const float *v, const int *blocks, int block,
                                      size_t block_stride, int n_keys, int head_dim,
                                      int kv_stride, float *scratch);

/* Causal attention of n consecutive query tokens at positions p0..p0+n-1
 * of one sequence, for one head, over its keys 0..p0+n-1 (rows kv_stride
 * apart; q and out rows q_stride apart): a prompt's attention as two sgemm
 * calls over the [n][p0 + n] score block (scores: that many floats),
 * single-threaded. Its twin: herd_attention_head for each query. */
void herd_attention_prefill(float *out, const float *q, const float *k, const float *v,
                            int n, int p0, int head_dim, int q_stride, int kv_stride,
                            float *scores);

/* Causal grouped-query attention of one query token over cache positions
 * 0..n_keys-1. q: [n_heads][head_dim]; k_cache, v_cache: [pos][n_kv_heads *
 * head_dim]; out: [n_heads][head_dim]; scratch: n_keys floats. Query head h
 * reads kv head h / (n_heads / n_kv_heads). */
void herd_attention(float *out, const float *q, const float *k_cache,
                    const float *v_cache, int n_keys, int n_heads,
                    int n_kv_heads, int head_dim, float *scratch);

/* ---- training: forward kernels that keep what backward needs, and the
 * backward of each (gradients are added to, never overwritten, where a
 * parameter or an input is used more than once) ---- */

/* dx[n][in] (+)= dy[n][out] . W and dW[out][in] += dy^T . x for
 * y = x . W^T; dx is overwritten unless accumulate. */
void herd_matmul_backward(float *dx, float *dw, const float *dy, const float *x,
                          const float *w, int n, int in, int out, int accumulate);

/* rmsnorm of one row that also returns 1 / sqrt(mean(x^2) + eps). */
float herd_rmsnorm_rstd(float *out, const float *x, const float *weight, int n, float eps);
/* Backward of out = x * rstd * weight over rows rows of n: dx += ..., and
 * dweight += sum over rows of dout * x * rstd. */
void herd_rmsnorm_backward(float *dx, float *dweight, const float *dout, const float *x,
                           const float *weight, const float *rstd, int rows, int n);

/* The transpose of herd_rope: rotates by the negative angle (the gradient
 * of a rotation is the opposite rotation). */
void herd_rope_backward(float *v, int n_heads, int head_dim, const float *cos_row,
                        const float *sin_row, herd_rope_layout layout);

/* out = silu(h1) * h3 and its backward from dout: dh1, dh3 (overwritten). */
void herd_swiglu_backward(float *dh1, float *dh3, const float *dout, const float *h1,
                          const float *h3, int n);

/* Causal attention of one sequence of T tokens for one query head (training):
 * token t attends keys start[t]..t. q: row t at q + t * q_stride; k, v rows
 * kv_stride apart; out like q. probs: [T][T], row t gets the softmax weights
 * (zero outside start[t]..t). */
void herd_attention_train(float *out, float *probs, const float *q, const float *k,
                          const float *v, const int *start, int T, int head_dim,
                          int q_stride, int kv_stride);
/* Its backward from dout (rows like q): dq overwritten, dk and dv added to
 * (heads of a group share them). scratch: T * T floats. The fast versions
 * are single-threaded sgemm calls over the whole [T][T] block (the masked
 * part multiplies zeros); the _ref twins loop over the unmasked keys. */
void herd_attention_train_backward(float *dq, float *dk, float *dv, const float *dout,
                                   const float *probs, const float *q, const float *k,
                                   const float *v, const int *start, int T, int head_dim,
                                   int q_stride, int kv_stride, float *scratch);
void herd_attention_train_ref(float *out, float *probs, const float *q, const float *k,
                              const float *v, const int *start, int T, int head_dim,
                              int q_stride, int kv_stride);
void herd_attention_train_backward_ref(float *dq, float *dk, float *dv, const float *dout,
                                       const float *probs, const float *q, const float *k,
                                       const float *v, const int *start, int T,
                                       int head_dim, int q_stride, int kv_stride,
                                       float *scratch);

/* Cross-entropy of one row of n logits against target: returns
 * -log softmax(logits)[target] (in double); when grad_scale != 0 the logits
 * become grad_scale * (softmax - onehot(target)). */
double herd_cross_entropy(float *logits, int n, int target, float grad_scale);
double herd_cross_entropy_ref(float *logits, int n, int target, float grad_scale);

#endif

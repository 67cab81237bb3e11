/* The matrix products of the training passes for every kind of weight:
 * trainable float32, frozen in the base model's own type (widened tile by
 * tile, model/linear.h), each with an optional LoRA adapter
 *   y = x W^T + scale * (x A^T) B^T.
 * The adapter's x A^T is recomputed in the backward pass (r columns,
 * cheap) rather than kept. */
#include "model/train.h"
#include "base/error.h"
#include "kernels/kernels.h"
#include "model/linear.h"
#include <cblas.h>

/* Whether element idx of the adapter's input survives dropout: a hash of
 * (seed, adapter, idx), so the backward pass redraws the same mask. */
static int keep(uint64_t seed, uint64_t id, uint64_t idx, uint32_t threshold)
{
    uint64_t z = seed ^ (id * 0xD1B54A32D192ED03ull) ^ (idx * 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return (uint32_t)((z ^ (z >> 31)) >> 32) >= threshold;
}

/* The adapter's input: x, or x with dropout (kept values scaled 1/(1-p))
 * written to tm->lora_xd. */
static const float *lora_input(herd_train_model *tm, const herd_lora_mat *a, const float *x,
                               int N, int in)
{
    if (a->dropout <= 0)
        return x;
    uint32_t th = (uint32_t)(a->dropout * 4294967296.0);
    float f = 1.0f / (1.0f - a->dropout);
    #pragma omp parallel for schedule(static) if ((size_t)N * in > HERD_PAR_MIN)
    for (int t = 0; t < N; t++)
        for (int i = 0; i < in; i++) {
            size_t j = (size_t)t * in + i;
            tm->lora_xd[j] = keep(tm->seed, a->id, j, th) ? x[j] * f : 0.0f;
        }
    return tm->lora_xd;
}

herd_status herd_train_linear(herd_train_model *tm, const herd_train_mat *m, float *y,
                              const float *x, int N)
{
    if (m->w)
        herd_matmul(y, x, m->w, N, m->in, m->out);
    else if (m->nf4)
        HERD_TRY(herd_nf4_matmul(y, x, m->nf4, N, m->in, m->out, tm->tile));
    else
        HERD_TRY(herd_linear(y, x, m->base, N, m->in, m->out, tm->xq, tm->tile));
    const herd_lora_mat *a = m->lora;
    if (a) {
        x = lora_input(tm, a, x, N, m->in);
        herd_matmul(tm->lora_u, x, a->a, N, m->in, a->r);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, m->out, a->r, a->scale,
                    tm->lora_u, a->r, a->b, a->r, 1.0f, y, m->out);
    }
    return HERD_OK;
}

/* With xd the adapter's input (x after dropout): u = xd A^T,
 * dB += scale dy^T u, du = scale dy B, dA += du^T xd, dx += du A (times
 * the dropout mask and scale). */
static void lora_backward(herd_train_model *tm, const herd_train_mat *m, float *dx,
                          const float *dy, const float *x, int N)
{
    const herd_lora_mat *a = m->lora;
    int in = m->in, out = m->out, r = a->r;
    float *u = tm->lora_u, *du = tm->lora_du;
    const float *xd = lora_input(tm, a, x, N, in);
    herd_matmul(u, xd, a->a, N, in, r);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, r, N, a->scale, dy, out, u, r,
                1.0f, a->db, r);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, r, out, a->scale, dy, out, a->b,
                r, 0.0f, du, r);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, r, in, N, 1.0f, du, r, xd, in, 1.0f,
                a->da, in);
    if (xd == x) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, in, r, 1.0f, du, r, a->a,
                    in, 1.0f, dx, in);
        return;
    }
    /* Through the mask: where xd is 0 the input got no gradient. */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, in, r, 1.0f, du, r, a->a, in,
                0.0f, tm->lora_dxd, in);
    float f = 1.0f / (1.0f - a->dropout);
    uint32_t th = (uint32_t)(a->dropout * 4294967296.0);
    for (size_t j = 0; j < (size_t)N * in; j++)
        if (keep(tm->seed, a->id, j, th))
            dx[j] += tm->lora_dxd[j] * f;
}

herd_status herd_train_linear_backward(herd_train_model *tm, const herd_train_mat *m,
                                       float *dx, const float *dy, const float *x, int N,
                                       int accumulate)
{
    if (m->w)
        herd_matmul_backward(dx, m->g, dy, x, m->w, N, m->in, m->out, accumulate);
    else if (m->nf4)
        HERD_TRY(herd_nf4_matmul_backward_x(dx, dy, m->nf4, N, m->in, m->out, tm->tile,
                                            accumulate));
    else
        HERD_TRY(herd_linear_backward_x(dx, dy, m->base, N, m->in, m->out, tm->tile,
                                        accumulate));
    if (m->lora)
        lora_backward(tm, m, dx, dy, x, N);
    return HERD_OK;
}

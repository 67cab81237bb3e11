/* The backward pass of one Llama layer (train_forward.c runs it top to
 * bottom): from the gradient at the layer's output (g.dx) to the gradient
 * at its input, adding every weight's gradient on the way. */
#include "model/train.h"
#include "base/error.h"
#include "kernels/kernels.h"
#include "base/threads.h"
#include <omp.h>
#include <string.h>

static void swiglu_backward(herd_grad_scratch *g, const herd_layer_acts *a, size_t n)
{
    size_t step = 4096;
    #pragma omp parallel for schedule(static) if (n > HERD_PAR_MIN)
    for (size_t i = 0; i < n; i += step)
        herd_swiglu_backward(g->dh1 + i, g->dh3 + i, g->dhg + i, a->h1 + i, a->h3 + i,
                             (int)(n - i < step ? n - i : step));
}

/* dq, dk, dv from g.datt; one task per (row, kv head) so that the heads of
 * a group add into their shared dk, dv one after another. */
static void attention_backward(herd_train_model *tm, const herd_layer_acts *a, int B, int T)
{
    const herd_config *c = &tm->cfg;
    int D = c->dim, H = c->n_heads, hd = D / H, KVH = c->n_kv_heads, KV = hd * KVH;
    int group = H / KVH;
    herd_grad_scratch *g = &tm->g;
    memset(g->dk, 0, (size_t)B * T * KV * sizeof(float));
    memset(g->dv, 0, (size_t)B * T * KV * sizeof(float));
    int blas = herd_blas_serial();
    #pragma omp parallel for collapse(2) schedule(dynamic) \
        if ((size_t)B * T * T * c->n_heads > HERD_PAR_MIN)
    for (int b = 0; b < B; b++)
        for (int kh = 0; kh < KVH; kh++) {
            float *scr = g->scores + (size_t)omp_get_thread_num() * T * T;
            size_t ko = (size_t)b * T * KV + (size_t)kh * hd;
            for (int h = kh * group; h < (kh + 1) * group; h++) {
                size_t qo = (size_t)b * T * D + (size_t)h * hd;
                herd_attention_train_backward(g->dq + qo, g->dk + ko, g->dv + ko,
                                              g->datt + qo,
                                              a->probs + ((size_t)b * H + h) * T * T,
                                              a->q + qo, a->k + ko, a->v + ko,
                                              tm->start + (size_t)b * T, T, hd, D, KV, scr);
            }
        }
    herd_blas_restore(blas);
}

static void rope_backward(herd_train_model *tm, int N)
{
    const herd_config *c = &tm->cfg;
    int D = c->dim, hd = D / c->n_heads, KV = hd * c->n_kv_heads, half = hd / 2;
    #pragma omp parallel for schedule(static) if ((size_t)N * D > HERD_PAR_MIN)
    for (int t = 0; t < N; t++) {
        const float *cr = tm->rope_cos + (size_t)tm->pos[t] * half;
        const float *sr = tm->rope_sin + (size_t)tm->pos[t] * half;
        herd_rope_backward(tm->g.dq + (size_t)t * D, c->n_heads, hd, cr, sr, c->rope_layout);
        herd_rope_backward(tm->g.dk + (size_t)t * KV, c->n_kv_heads, hd, cr, sr,
                           c->rope_layout);
    }
}

herd_status herd_train_layer_backward(herd_train_model *tm, int l, int B, int T)
{
    const herd_config *c = &tm->cfg;
    int N = B * T, D = c->dim;
    const herd_layer_acts *a = &tm->acts[l];
    const herd_train_layer *L = &tm->L[l];
    const float *x = tm->x_in + (size_t)l * N * D;
    herd_grad_scratch *g = &tm->g;

    /* x_out = x_mid + w2(silu(w1 xn) * w3 xn), xn = rmsnorm(x_mid) */
    HERD_TRY(herd_train_linear_backward(tm, &L->w2, g->dhg, g->dx, a->hg, N, 0));
    swiglu_backward(g, a, (size_t)N * c->hidden_dim);
    HERD_TRY(herd_train_linear_backward(tm, &L->w1, g->dxn, g->dh1, a->xn_ffn, N, 0));
    HERD_TRY(herd_train_linear_backward(tm, &L->w3, g->dxn, g->dh3, a->xn_ffn, N, 1));
    herd_rmsnorm_backward(g->dx, L->d_ffn_norm, g->dxn, a->x_mid, L->ffn_norm, a->rstd_ffn,
                          N, D);

    /* x_mid = x + wo(attention(rope(wq xn), rope(wk xn), wv xn)), xn = rmsnorm(x) */
    HERD_TRY(herd_train_linear_backward(tm, &L->wo, g->datt, g->dx, a->att, N, 0));
    attention_backward(tm, a, B, T);
    rope_backward(tm, N);
    HERD_TRY(herd_train_linear_backward(tm, &L->wq, g->dxn, g->dq, a->xn_attn, N, 0));
    HERD_TRY(herd_train_linear_backward(tm, &L->wk, g->dxn, g->dk, a->xn_attn, N, 1));
    HERD_TRY(herd_train_linear_backward(tm, &L->wv, g->dxn, g->dv, a->xn_attn, N, 1));
    herd_rmsnorm_backward(g->dx, L->d_attn_norm, g->dxn, x, L->attn_norm, a->rstd_attn, N, D);
    return HERD_OK;
}

/* The Llama forward pass over a batch of n tokens, top to bottom:
 *   x = embedding(tokens)
 *   for each layer: x += attention(rmsnorm(x)); x += ffn(rmsnorm(x))
 *   logits = output(rmsnorm(x))
 * Every matmul takes all n tokens at once (prompt processing in one batched
 * pass); decoding is the same code with n = 1. */
#include "model/context.h"
#include "base/error.h"
#include "kernels/kernels.h"
#include "model/linear.h"
#include "model/adapter.h"
#include <omp.h>
#include <stdlib.h>
#include <string.h>

herd_status herd_context_reserve(herd_context *ctx, int n);

#define F32(t) ((const float *)(t).data)

/* y[n][out] = x[n][in] . w^T with the context's scratch, plus the LoRA
 * adapters attached to matrix i (adapter.h) of layer l. */
#define LINEAR(y, x, w, n, in, out, l, i) do { \
        HERD_TRY(herd_linear(y, x, &(w), n, in, out, ctx->s.xq, ctx->s.tile)); \
        if (ctx->m->n_adapters) \
            HERD_TRY(herd_adapters_apply(ctx->m, l, i, y, x, n)); \
    } while (0)

static void rmsnorm_rows(float *out, const float *x, const herd_tensor *w,
                         int n, int dim, float eps)
{
    for (int t = 0; t < n; t++)
        herd_rmsnorm(out + (size_t)t * dim, x + (size_t)t * dim, F32(*w), dim, eps);
}

/* Self-attention with RoPE and grouped-query heads; adds its output to x. */
static herd_status attention(herd_context *ctx, int l, const int *pos, int n)
{
    const herd_config *c = &ctx->m->cfg;
    const herd_layer_weights *L = &ctx->m->w.layers[l];
    herd_scratch *s = &ctx->s;
    int dim = c->dim, hd = dim / c->n_heads, kv_dim = hd * c->n_kv_heads, half = hd / 2;
    float *kc = ctx->k_cache + (size_t)l * ctx->n_ctx * kv_dim;
    float *vc = ctx->v_cache + (size_t)l * ctx->n_ctx * kv_dim;

    rmsnorm_rows(s->xb, s->x, &L->attn_norm, n, dim, c->norm_eps);
    LINEAR(s->q, s->xb, L->wq, n, dim, dim, l, 0);
    LINEAR(s->k, s->xb, L->wk, n, dim, kv_dim, l, 1);
    LINEAR(s->v, s->xb, L->wv, n, dim, kv_dim, l, 2);
    for (int t = 0; t < n; t++) {
        const float *cr = ctx->rope_cos + (size_t)pos[t] * half;
        const float *sr = ctx->rope_sin + (size_t)pos[t] * half;
        herd_rope(s->q + (size_t)t * dim, c->n_heads, hd, cr, sr, c->rope_layout);
        herd_rope(s->k + (size_t)t * kv_dim, c->n_kv_heads, hd, cr, sr, c->rope_layout);
        memcpy(kc + (size_t)pos[t] * kv_dim, s->k + (size_t)t * kv_dim, kv_dim * sizeof(float));
        memcpy(vc + (size_t)pos[t] * kv_dim, s->v + (size_t)t * kv_dim, kv_dim * sizeof(float));
    }
    /* One task per (token, query head); head h reads kv head h / group. */
    int group = c->n_heads / c->n_kv_heads;
    #pragma omp parallel for collapse(2) schedule(static)
    for (int t = 0; t < n; t++)
        for (int h = 0; h < c->n_heads; h++) {
            float *scr = s->scores + (size_t)omp_get_thread_num() * ctx->n_ctx;
            size_t qo = (size_t)t * dim + (size_t)h * hd, ko = (size_t)(h / group) * hd;
            herd_attention_head(s->att + qo, s->q + qo, kc + ko, vc + ko,
                                pos[t] + 1, hd, kv_dim, scr);
        }
    LINEAR(s->xb, s->att, L->wo, n, dim, dim, l, 3);
    for (size_t i = 0; i < (size_t)n * dim; i++)
        s->x[i] += s->xb[i];
    return HERD_OK;
}

/* SwiGLU feed-forward: x += w2(silu(w1 xb) * w3 xb). */
static herd_status ffn(herd_context *ctx, int l, int n)
{
    const herd_config *c = &ctx->m->cfg;
    const herd_layer_weights *L = &ctx->m->w.layers[l];
    herd_scratch *s = &ctx->s;
    int dim = c->dim, hid = c->hidden_dim;
    rmsnorm_rows(s->xb, s->x, &L->ffn_norm, n, dim, c->norm_eps);
    LINEAR(s->h1, s->xb, L->w1, n, dim, hid, l, 4);
    LINEAR(s->h3, s->xb, L->w3, n, dim, hid, l, 5);
    herd_swiglu(s->h1, s->h1, s->h3, n * hid);
    LINEAR(s->xb, s->h1, L->w2, n, hid, dim, l, 6);
    for (size_t i = 0; i < (size_t)n * dim; i++)
        s->x[i] += s->xb[i];
    return HERD_OK;
}

static herd_status check_input(const herd_context *ctx, const int *tokens,
                               const int *pos, int n)
{
    if (n <= 0)
        return herd_fail(HERD_E_ARG, "no tokens to evaluate");
    for (int t = 0; t < n; t++) {
        if (tokens[t] < 0 || tokens[t] >= ctx->m->cfg.vocab_size)
            return herd_fail(HERD_E_RANGE, "token id %d outside the vocabulary of %d",
                             tokens[t], ctx->m->cfg.vocab_size);
        if (pos[t] < 0 || pos[t] >= ctx->n_ctx)
            return herd_fail(HERD_E_RANGE, "position %d outside the context of %d tokens",
                             pos[t], ctx->n_ctx);
    }
    return HERD_OK;
}

/* Logits of the rows [first, first + rows) of the final normed stream. */
static herd_status output(herd_context *ctx, int first, int rows, float *logits)
{
    const herd_model *m = ctx->m;
    const herd_config *c = &m->cfg;
    const herd_tensor *w = c->tied_embeddings ? &m->w.tok_embeddings : &m->w.output;
    herd_scratch *s = &ctx->s;
    rmsnorm_rows(s->xb, s->x + (size_t)first * c->dim, &m->w.output_norm, rows,
                 c->dim, c->norm_eps);
    return herd_linear(logits, s->xb, w, rows, c->dim, c->vocab_size, s->xq, s->tile);
}

static herd_status eval_at(herd_context *ctx, const int *tokens, const int *pos,
                           int n, float *logits, int all_logits)
{
    const herd_config *c = &ctx->m->cfg;
    HERD_TRY(check_input(ctx, tokens, pos, n));
    HERD_TRY(herd_context_reserve(ctx, n));
    for (int t = 0; t < n; t++)
        HERD_TRY(herd_embedding_row(ctx->s.x + (size_t)t * c->dim, &ctx->m->w.tok_embeddings,
                                    tokens[t]));
    for (int l = 0; l < c->n_layers; l++) {
        HERD_TRY(attention(ctx, l, pos, n));
        HERD_TRY(ffn(ctx, l, n));
    }
    if (logits)
        HERD_TRY(output(ctx, all_logits ? 0 : n - 1, all_logits ? n : 1, logits));
    ctx->pos = pos[n - 1] + 1;
    return HERD_OK;
}

herd_status herd_eval(herd_context *ctx, const int *tokens, const int *pos,
                      int n, float *logits, int all_logits)
{
    if (pos || n <= 0)
        return eval_at(ctx, tokens, pos, n, logits, all_logits);
    int *p = malloc((size_t)n * sizeof *p);
    if (!p)
        return herd_fail(HERD_E_NOMEM, "out of memory");
    for (int t = 0; t < n; t++)
        p[t] = ctx->pos + t;
    herd_status st = eval_at(ctx, tokens, p, n, logits, all_logits);
    free(p);
    return st;
}

herd_status herd_forward_nocache(const herd_model *m, const int *tokens, int n,
                                 float *logits)
{
    if (n <= 0)
        return herd_fail(HERD_E_ARG, "no tokens to evaluate");
    herd_context *ctx;
    int V = m->cfg.vocab_size;
    /* A fresh context per position: position t sees only tokens 0..t,
     * recomputed from scratch, with no cache carried between positions. */
    for (int t = 0; t < n; t++) {
        HERD_TRY(herd_context_new(m, t + 1, &ctx));
        herd_status s = herd_eval(ctx, tokens, NULL, t + 1, NULL, 0);
        if (s == HERD_OK)
            s = output(ctx, t, 1, logits + (size_t)t * V);
        herd_context_free(ctx);
        HERD_TRY(s);
    }
    return HERD_OK;
}

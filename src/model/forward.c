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
#include "model/paged.h"
#include "quant/quant.h"
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

/* LINEAR for count matrices of layer l (adapter indices i0..) that read
 * the same x, in one call (herd_linear_many). */
static herd_status linear_many(herd_context *ctx, int l, int i0, float *const *y, const float *x,
                               const herd_tensor *const *w, const int *out, int count, int n,
                               int in)
{
    HERD_TRY(herd_linear_many(y, x, w, out, count, n, in, ctx->s.xq, ctx->s.tile));
    for (int i = 0; ctx->m->n_adapters && i < count; i++)
        HERD_TRY(herd_adapters_apply(ctx->m, l, i0 + i, y[i], x, n));
    return HERD_OK;
}

static void rmsnorm_rows(float *out, const float *x, const herd_tensor *w,
                         int n, int dim, float eps)
{
    for (int t = 0; t < n; t++)
        herd_rmsnorm(out + (size_t)t * dim, x + (size_t)t * dim, F32(*w), dim, eps);
}

/* x += wo . att: the attention block's output projection. */
static herd_status attention_out(herd_context *ctx, int l, int n)
{
    const herd_config *c = &ctx->m->cfg;
    herd_scratch *s = &ctx->s;
    LINEAR(s->xb, s->att, ctx->m->w.layers[l].wo, n, c->dim, c->dim, l, 3);
    for (size_t i = 0; i < (size_t)n * c->dim; i++)
        s->x[i] += s->xb[i];
    return HERD_OK;
}

/* A prompt: enough consecutive tokens of one sequence in a contiguous cache. */
static int is_prompt(const herd_context *ctx, const herd_batch *b)
{
    if (b->tables || b->n < HERD_PREFILL_MIN || !ctx->s.prefill)
        return 0;
    for (int t = 1; t < b->n; t++)
        if (b->pos[t] != b->pos[0] + t)
            return 0;
    return 1;
}

/* A prompt's attention: per (chunk of queries, head), two sgemm calls over
 * the chunk's score block. */
static herd_status prompt_attention(herd_context *ctx, int l, int n, int p0, const float *kc,
                                    const float *vc)
{
    const herd_config *c = &ctx->m->cfg;
    herd_scratch *s = &ctx->s;
    int dim = c->dim, hd = dim / c->n_heads, kv_dim = hd * c->n_kv_heads;
    int group = c->n_heads / c->n_kv_heads, rows = herd_prefill_rows(ctx->n_ctx);
    int chunks = (n + rows - 1) / rows;
    size_t per_thread = (size_t)rows * ctx->n_ctx;
    #pragma omp parallel for collapse(2) schedule(dynamic, 1)
    for (int ch = 0; ch < chunks; ch++)
        for (int h = 0; h < c->n_heads; h++) {
            int t0 = ch * rows, m = n - t0 < rows ? n - t0 : rows;
            size_t qo = (size_t)t0 * dim + (size_t)h * hd, ko = (size_t)(h / group) * hd;
            herd_attention_prefill(s->att + qo, s->q + qo, kc + ko, vc + ko, m, p0 + t0, hd,
                                   dim, kv_dim,
                                   s->prefill + (size_t)omp_get_thread_num() * per_thread);
        }
    return attention_out(ctx, l, n);
}

/* Row of position p of the sequence with block table tb in layer l's cache. */
static size_t kv_row(const herd_context *ctx, const int *tb, int p, int kv_dim)
{
    return ((size_t)tb[p / ctx->block] * ctx->block + p % ctx->block) * kv_dim;
}

/* Self-attention with RoPE and grouped-query heads; adds its output to x.
 * Each token's K and V go to its sequence's blocks; it attends to its own
 * sequence's positions up to its own. */
static herd_status attention(herd_context *ctx, int l, const herd_batch *b)
{
    static const int contiguous[1] = {0};
    const herd_config *c = &ctx->m->cfg;
    const herd_layer_weights *L = &ctx->m->w.layers[l];
    herd_scratch *s = &ctx->s;
    int n = b->n, dim = c->dim, hd = dim / c->n_heads, kv_dim = hd * c->n_kv_heads;
    int half = hd / 2;
    size_t layer = (size_t)l * ctx->n_blocks * ctx->block * kv_dim;
    float *kc = ctx->k_cache + layer, *vc = ctx->v_cache + layer;

    rmsnorm_rows(s->xb, s->x, &L->attn_norm, n, dim, c->norm_eps);
    float *const qkv[3] = {s->q, s->k, s->v};
    const herd_tensor *const w_qkv[3] = {&L->wq, &L->wk, &L->wv};
    HERD_TRY(linear_many(ctx, l, 0, qkv, s->xb, w_qkv, (int[]){dim, kv_dim, kv_dim}, 3, n, dim));
    for (int t = 0; t < n; t++) {
        const int *tb = b->tables ? b->tables[t] : contiguous;
        const float *cr = ctx->rope_cos + (size_t)b->pos[t] * half;
        const float *sr = ctx->rope_sin + (size_t)b->pos[t] * half;
        herd_rope(s->q + (size_t)t * dim, c->n_heads, hd, cr, sr, c->rope_layout);
        herd_rope(s->k + (size_t)t * kv_dim, c->n_kv_heads, hd, cr, sr, c->rope_layout);
        size_t row = kv_row(ctx, tb, b->pos[t], kv_dim);
        memcpy(kc + row, s->k + (size_t)t * kv_dim, kv_dim * sizeof(float));
        memcpy(vc + row, s->v + (size_t)t * kv_dim, kv_dim * sizeof(float));
    }
    int group = c->n_heads / c->n_kv_heads;
    size_t block_stride = (size_t)ctx->block * kv_dim;
    if (is_prompt(ctx, b))
        return prompt_attention(ctx, l, b->n, b->pos[0], kc, vc);
    /* One task per (token, kv head): the group of query heads that read it. */
    const int simd = herd_simd_active() >= HERD_SIMD_AVX512;
    #pragma omp parallel for collapse(2) schedule(static)
    for (int t = 0; t < n; t++)
        for (int kvh = 0; kvh < c->n_kv_heads; kvh++) {
            float *scr = s->scores + (size_t)omp_get_thread_num() * group * ctx->n_ctx;
            size_t qo = (size_t)t * dim + (size_t)kvh * group * hd, ko = (size_t)kvh * hd;
            const int *tb = b->tables ? b->tables[t] : contiguous;
            if (simd && herd_attention_group_paged_avx512(s->att + qo, s->q + qo, group,
                                                          kc + ko, vc + ko, tb, ctx->block,
                                                          block_stride, b->pos[t] + 1, hd,
                                                          kv_dim, scr))
                continue;
            for (int h = 0; h < group; h++)
                herd_attention_head_paged(s->att + qo + (size_t)h * hd, s->q + qo + (size_t)h * hd,
                                          kc + ko, vc + ko, tb, ctx->block, block_stride,
                                          b->pos[t] + 1, hd, kv_dim, scr);
        }
    return attention_out(ctx, l, n);
}

/* SwiGLU feed-forward: x += w2(silu(w1 xb) * w3 xb). */
static herd_status ffn(herd_context *ctx, int l, int n)
{
    const herd_config *c = &ctx->m->cfg;
    const herd_layer_weights *L = &ctx->m->w.layers[l];
    herd_scratch *s = &ctx->s;
    int dim = c->dim, hid = c->hidden_dim;
    rmsnorm_rows(s->xb, s->x, &L->ffn_norm, n, dim, c->norm_eps);
    float *const gate_up[2] = {s->h1, s->h3};
    const herd_tensor *const w_gate_up[2] = {&L->w1, &L->w3};
    HERD_TRY(linear_many(ctx, l, 4, gate_up, s->xb, w_gate_up, (int[]){hid, hid}, 2, n, dim));
    const int simd = herd_simd_active() >= HERD_SIMD_AVX512;
    for (int t = 0; t < n; t++) { /* row by row: each row's tail rounds as one */
        float *h1 = s->h1 + (size_t)t * hid, *h3 = s->h3 + (size_t)t * hid;
        (simd ? herd_swiglu_avx512 : herd_swiglu)(h1, h1, h3, hid);
    }
    LINEAR(s->xb, s->h1, L->w2, n, hid, dim, l, 6);
    for (size_t i = 0; i < (size_t)n * dim; i++)
        s->x[i] += s->xb[i];
    return HERD_OK;
}

static herd_status check_input(const herd_context *ctx, const herd_batch *b)
{
    if (b->n <= 0)
        return herd_fail(HERD_E_ARG, "no tokens to evaluate");
    for (int t = 0; t < b->n; t++) {
        if (b->tokens[t] < 0 || b->tokens[t] >= ctx->m->cfg.vocab_size)
            return herd_fail(HERD_E_RANGE, "token id %d outside the vocabulary of %d",
                             b->tokens[t], ctx->m->cfg.vocab_size);
        if (b->pos[t] < 0 || b->pos[t] >= ctx->n_ctx)
            return herd_fail(HERD_E_RANGE, "position %d outside the context of %d tokens",
                             b->pos[t], ctx->n_ctx);
        if (!b->tables && ctx->n_blocks != 1)
            return herd_fail(HERD_E_ARG, "a paged context needs block tables");
        int blk = b->tables ? b->tables[t][b->pos[t] / ctx->block] : 0;
        if (blk < 0 || blk >= ctx->n_blocks)
            return herd_fail(HERD_E_RANGE, "KV block %d outside the pool of %d", blk,
                             ctx->n_blocks);
    }
    for (int i = 0; i < b->n_out; i++)
        if (b->out[i] < 0 || b->out[i] >= b->n)
            return herd_fail(HERD_E_RANGE, "logits row %d outside the batch of %d", b->out[i],
                             b->n);
    return HERD_OK;
}

/* Logits of the given rows of the final normed stream (n_out rows). */
static herd_status output(herd_context *ctx, const int *rows, int n_out, float *logits)
{
    const herd_model *m = ctx->m;
    const herd_config *c = &m->cfg;
    const herd_tensor *w = c->tied_embeddings ? &m->w.tok_embeddings : &m->w.output;
    herd_scratch *s = &ctx->s;
    for (int i = 0; i < n_out; i++)
        herd_rmsnorm(s->xb + (size_t)i * c->dim, s->x + (size_t)rows[i] * c->dim,
                     F32(m->w.output_norm), c->dim, c->norm_eps);
    return herd_linear(logits, s->xb, w, n_out, c->dim, c->vocab_size, s->xq, s->tile);
}

herd_status herd_eval_batch(herd_context *ctx, const herd_batch *b, float *logits)
{
    const herd_config *c = &ctx->m->cfg;
    HERD_TRY(check_input(ctx, b));
    HERD_TRY(herd_context_reserve(ctx, b->n));
    for (int t = 0; t < b->n; t++)
        HERD_TRY(herd_embedding_row(ctx->s.x + (size_t)t * c->dim, &ctx->m->w.tok_embeddings,
                                    b->tokens[t]));
    for (int l = 0; l < c->n_layers; l++) {
        HERD_TRY(attention(ctx, l, b));
        HERD_TRY(ffn(ctx, l, b->n));
    }
    if (logits && b->n_out)
        HERD_TRY(output(ctx, b->out, b->n_out, logits));
    return HERD_OK;
}

static herd_status eval_at(herd_context *ctx, const int *tokens, const int *pos,
                           int n, float *logits, int all_logits)
{
    int last = n - 1, *rows = &last, n_out = 1;
    if (all_logits && n > 1) {
        if (!(rows = malloc((size_t)n * sizeof *rows)))
            return herd_fail(HERD_E_NOMEM, "out of memory");
        for (n_out = 0; n_out < n; n_out++)
            rows[n_out] = n_out;
    }
    herd_batch b = {n, tokens, pos, NULL, logits ? n_out : 0, rows};
    herd_status st = herd_eval_batch(ctx, &b, logits);
    if (rows != &last)
        free(rows);
    if (st == HERD_OK)
        ctx->pos = pos[n - 1] + 1;
    return st;
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
            s = output(ctx, &t, 1, logits + (size_t)t * V);
        herd_context_free(ctx);
        HERD_TRY(s);
    }
    return HERD_OK;
}

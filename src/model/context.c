/* Evaluation contexts: the KV cache (one block of n_ctx positions, or a
 * pool of blocks for many sequences), rotary tables and scratch. */
#include "model/context.h"
#include "model/paged.h"
#include "base/error.h"
#include "kernels/kernels.h"
#include "model/linear.h"
#include <omp.h>
#include <stdlib.h>
#include <string.h>

herd_status herd_context_new_paged(const herd_model *m, int n_ctx, int n_blocks, int block,
                                   herd_context **out)
{
    *out = NULL;
    const herd_config *c = &m->cfg;
    if (n_ctx <= 0 || n_ctx > (1 << 24))
        return herd_fail(HERD_E_ARG, "context size %d out of range", n_ctx);
    if (block <= 0 || n_blocks <= 0 || (int64_t)n_blocks * block > (1 << 26))
        return herd_fail(HERD_E_ARG, "a KV cache of %d blocks of %d positions is out of range",
                         n_blocks, block);
    herd_context *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return herd_fail(HERD_E_NOMEM, "out of memory");
    ctx->m = m;
    ctx->n_ctx = n_ctx;
    ctx->n_blocks = n_blocks;
    ctx->block = block;
    int hd = c->dim / c->n_heads;
    size_t kv = (size_t)c->n_layers * n_blocks * block * hd * c->n_kv_heads;
    ctx->k_cache = calloc(kv, sizeof(float));
    ctx->v_cache = calloc(kv, sizeof(float));
    ctx->rope_cos = malloc((size_t)n_ctx * (hd / 2) * sizeof(float));
    ctx->rope_sin = malloc((size_t)n_ctx * (hd / 2) * sizeof(float));
    if (!ctx->k_cache || !ctx->v_cache || !ctx->rope_cos || !ctx->rope_sin) {
        herd_context_free(ctx);
        return herd_fail(HERD_E_NOMEM, "out of memory for a KV cache of %lld positions",
                         (long long)n_blocks * block);
    }
    const float *div = m->w.rope_freqs.data;
    if (c->rope_scaling != HERD_ROPE_SCALING_LLAMA3 || div) {
        /* As llama.cpp: a GGUF's rope_freqs, or linear interpolation. */
        float scale = !div && c->rope_scaling == HERD_ROPE_SCALING_LINEAR ? 1.0f / c->rope_factor
                                                                          : 1.0f;
        herd_rope_table_f32(ctx->rope_cos, ctx->rope_sin, n_ctx, hd / 2, c->rope_theta, div,
                            scale);
    } else {
        double *freqs = malloc((size_t)(hd / 2) * sizeof *freqs);
        if (!freqs) {
            herd_context_free(ctx);
            return herd_fail(HERD_E_NOMEM, "out of memory");
        }
        herd_rope_freqs(m, freqs);
        herd_rope_table(ctx->rope_cos, ctx->rope_sin, n_ctx, hd / 2, freqs);
        free(freqs);
    }
    *out = ctx;
    return HERD_OK;
}

herd_status herd_context_new(const herd_model *m, int n_ctx, herd_context **out)
{
    return herd_context_new_paged(m, n_ctx, 1, n_ctx, out);
}

void herd_kv_copy_block(herd_context *ctx, int dst, int src)
{
    const herd_config *c = &ctx->m->cfg;
    size_t row = (size_t)(c->dim / c->n_heads) * c->n_kv_heads * ctx->block;
    for (int l = 0; l < c->n_layers; l++) {
        size_t layer = (size_t)l * ctx->n_blocks * row;
        memcpy(ctx->k_cache + layer + (size_t)dst * row, ctx->k_cache + layer + (size_t)src * row,
               row * sizeof(float));
        memcpy(ctx->v_cache + layer + (size_t)dst * row, ctx->v_cache + layer + (size_t)src * row,
               row * sizeof(float));
    }
}

static void scratch_free(herd_scratch *s)
{
    free(s->x); free(s->xb); free(s->q); free(s->k); free(s->v);
    free(s->att); free(s->h1); free(s->h3); free(s->scores); free(s->xq); free(s->tile);
    free(s->prefill);
    *s = (herd_scratch){0};
}

void herd_context_free(herd_context *ctx)
{
    if (!ctx)
        return;
    scratch_free(&ctx->s);
    free(ctx->k_cache);
    free(ctx->v_cache);
    free(ctx->rope_cos);
    free(ctx->rope_sin);
    free(ctx);
}

/* Query rows per prompt-attention chunk: up to 256, and score blocks of at
 * most 4M floats per thread. */
int herd_prefill_rows(int n_ctx)
{
    int r = (1 << 22) / n_ctx;
    return r < 1 ? 1 : r > 256 ? 256 : r;
}

/* Grows the scratch buffers to hold n tokens. */
herd_status herd_context_reserve(herd_context *ctx, int n)
{
    int threads = omp_get_max_threads();
    if (n <= ctx->s.cap && threads <= ctx->n_threads)
        return HERD_OK;
    const herd_config *c = &ctx->m->cfg;
    size_t kv_dim = (size_t)(c->dim / c->n_heads) * c->n_kv_heads;
    int cap = n > ctx->s.cap ? n : ctx->s.cap;
    scratch_free(&ctx->s);
    herd_scratch *s = &ctx->s;
    s->x = malloc((size_t)cap * c->dim * sizeof(float));
    s->xb = malloc((size_t)cap * c->dim * sizeof(float));
    s->q = malloc((size_t)cap * c->dim * sizeof(float));
    s->att = malloc((size_t)cap * c->dim * sizeof(float));
    s->k = malloc((size_t)cap * kv_dim * sizeof(float));
    s->v = malloc((size_t)cap * kv_dim * sizeof(float));
    s->h1 = malloc((size_t)cap * c->hidden_dim * sizeof(float));
    s->h3 = malloc((size_t)cap * c->hidden_dim * sizeof(float));
    s->scores = malloc((size_t)threads * (c->n_heads / c->n_kv_heads) * ctx->n_ctx *
                       sizeof(float));
    int64_t max_in = c->dim > c->hidden_dim ? c->dim : c->hidden_dim;
    s->xq = malloc((size_t)HERD_LINEAR_BLOCK_ROWS * herd_linear_xq_bytes(max_in));
    s->tile = malloc(herd_linear_tile_floats(max_in) * sizeof(float));
    if (cap >= HERD_PREFILL_MIN)
        s->prefill = malloc((size_t)threads * herd_prefill_rows(ctx->n_ctx) * ctx->n_ctx *
                            sizeof(float));
    if (!s->x || !s->xb || !s->q || !s->att || !s->k || !s->v || !s->h1 ||
        !s->h3 || !s->scores || !s->xq || !s->tile || (cap >= HERD_PREFILL_MIN && !s->prefill)) {
        scratch_free(s);
        ctx->n_threads = 0;
        return herd_fail(HERD_E_NOMEM, "out of memory for a batch of %d tokens", n);
    }
    s->cap = cap;
    ctx->n_threads = threads;
    return HERD_OK;
}

int herd_context_n_ctx(const herd_context *ctx) { return ctx->n_ctx; }
int herd_context_pos(const herd_context *ctx) { return ctx->pos; }
void herd_context_reset(herd_context *ctx) { ctx->pos = 0; }
int herd_context_block(const herd_context *ctx) { return ctx->block; }
int herd_context_n_blocks(const herd_context *ctx) { return ctx->n_blocks; }

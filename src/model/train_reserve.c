/* The activation and gradient-scratch buffers of a training model, sized
 * for a micro-batch and carved out of two allocations. */
#include "model/train.h"
#include "base/error.h"
#include "kernels/kernels.h"
#include "model/linear.h"
#include <omp.h>
#include <stdlib.h>

static float *take(float **p, size_t n)
{
    float *r = *p;
    *p += n;
    return r;
}

/* Floats of one layer's activations for B x T tokens. */
static size_t layer_floats(const herd_config *c, size_t B, size_t T)
{
    size_t N = B * T, D = c->dim, KV = D / c->n_heads * c->n_kv_heads, H = c->hidden_dim;
    return N * (2 + 5 * D + 2 * KV + 3 * H) + B * c->n_heads * T * T;
}

static void carve_layer(herd_layer_acts *a, float **p, const herd_config *c, size_t B,
                        size_t T)
{
    size_t N = B * T, D = c->dim, KV = D / c->n_heads * c->n_kv_heads, H = c->hidden_dim;
    a->rstd_attn = take(p, N);
    a->xn_attn = take(p, N * D);
    a->q = take(p, N * D);
    a->k = take(p, N * KV);
    a->v = take(p, N * KV);
    a->probs = take(p, B * c->n_heads * T * T);
    a->att = take(p, N * D);
    a->x_mid = take(p, N * D);
    a->rstd_ffn = take(p, N);
    a->xn_ffn = take(p, N * D);
    a->h1 = take(p, N * H);
    a->h3 = take(p, N * H);
    a->hg = take(p, N * H);
}

static herd_status alloc_acts(herd_train_model *tm, int B, int T)
{
    const herd_config *c = &tm->cfg;
    size_t N = (size_t)B * T, D = c->dim, L = c->n_layers;
    size_t sets = tm->recompute ? 1 : L;
    tm->acts = calloc(L, sizeof *tm->acts);
    tm->x_in = malloc((L + 1) * N * D * sizeof(float));
    tm->rstd_out = malloc(N * sizeof(float));
    tm->xn_out = malloc(N * D * sizeof(float));
    tm->act_buf = malloc(sets * layer_floats(c, B, T) * sizeof(float));
    if (!tm->acts || !tm->x_in || !tm->rstd_out || !tm->xn_out || !tm->act_buf)
        return HERD_E_NOMEM;
    float *p = tm->act_buf;
    for (size_t l = 0; l < L; l++) {
        if (l < sets)
            carve_layer(&tm->acts[l], &p, c, B, T);
        else
            tm->acts[l] = tm->acts[0];
    }
    return HERD_OK;
}

static herd_status alloc_grads(herd_train_model *tm, int B, int T)
{
    const herd_config *c = &tm->cfg;
    size_t N = (size_t)B * T, D = c->dim, KV = D / c->n_heads * c->n_kv_heads;
    size_t H = c->hidden_dim, V = c->vocab_size;
    int chunk = (int)((1u << 24) / V);
    chunk = chunk < 16 ? 16 : chunk;
    tm->chunk = (size_t)chunk > N ? (int)N : chunk;
    tm->threads = omp_get_max_threads();
    size_t n = N * (4 * D + 2 * KV + 3 * H) + (size_t)tm->chunk * V + (size_t)tm->threads * T * T;
    tm->g_buf = malloc(n * sizeof(float));
    if (!tm->g_buf)
        return HERD_E_NOMEM;
    float *p = tm->g_buf;
    herd_grad_scratch *g = &tm->g;
    g->dx = take(&p, N * D);
    g->dxn = take(&p, N * D);
    g->datt = take(&p, N * D);
    g->dq = take(&p, N * D);
    g->dk = take(&p, N * KV);
    g->dv = take(&p, N * KV);
    g->dh1 = take(&p, N * H);
    g->dh3 = take(&p, N * H);
    g->dhg = take(&p, N * H);
    g->logits = take(&p, (size_t)tm->chunk * V);
    g->scores = take(&p, (size_t)tm->threads * T * T);
    return HERD_OK;
}

static herd_status alloc_rope(herd_train_model *tm, int B, int T)
{
    size_t N = (size_t)B * T, half = tm->cfg.dim / tm->cfg.n_heads / 2;
    tm->pos = malloc(N * sizeof(int));
    tm->start = malloc(N * sizeof(int));
    tm->rope_cos = malloc((size_t)T * half * sizeof(float));
    tm->rope_sin = malloc((size_t)T * half * sizeof(float));
    double *freqs = malloc(half * sizeof *freqs);
    if (!tm->pos || !tm->start || !tm->rope_cos || !tm->rope_sin || !freqs) {
        free(freqs);
        return HERD_E_NOMEM;
    }
    herd_rope_freqs(&tm->view, freqs);
    herd_rope_table(tm->rope_cos, tm->rope_sin, T, (int)half, freqs);
    free(freqs);
    return HERD_OK;
}

/* LoRA scratch and the tiles for frozen weights. */
static herd_status alloc_frozen(herd_train_model *tm, int B, int T)
{
    const herd_config *c = &tm->cfg;
    size_t N = (size_t)B * T;
    if (tm->n_lora) {
        tm->lora_u = malloc(N * tm->max_r * sizeof(float));
        tm->lora_du = malloc(N * tm->max_r * sizeof(float));
        size_t wide = (size_t)(c->dim > c->hidden_dim ? c->dim : c->hidden_dim);
        tm->lora_xd = malloc(N * wide * sizeof(float));
        tm->lora_dxd = malloc(N * wide * sizeof(float));
        if (!tm->lora_u || !tm->lora_du || !tm->lora_xd || !tm->lora_dxd)
            return HERD_E_NOMEM;
    }
    if (tm->base && !tm->tile) {
        int64_t max_in = c->dim > c->hidden_dim ? c->dim : c->hidden_dim;
        size_t a = herd_linear_tile_floats(max_in), b = herd_nf4_tile_floats(max_in + 64);
        tm->tile = malloc((a > b ? a : b) * sizeof(float));
        tm->xq = malloc((size_t)HERD_LINEAR_BLOCK_ROWS * herd_linear_xq_bytes(max_in));
        if (!tm->tile || !tm->xq)
            return HERD_E_NOMEM;
    }
    return HERD_OK;
}

static void release(herd_train_model *tm)
{
    free(tm->lora_u); free(tm->lora_du); free(tm->lora_xd); free(tm->lora_dxd);
    tm->lora_u = tm->lora_du = tm->lora_xd = tm->lora_dxd = NULL;
    free(tm->acts); free(tm->x_in); free(tm->rstd_out); free(tm->xn_out);
    free(tm->act_buf); free(tm->g_buf); free(tm->pos); free(tm->start);
    free(tm->rope_cos); free(tm->rope_sin);
    tm->acts = NULL; tm->x_in = tm->rstd_out = tm->xn_out = NULL;
    tm->act_buf = tm->g_buf = tm->rope_cos = tm->rope_sin = NULL;
    tm->pos = tm->start = NULL;
    tm->B = tm->T = 0;
}

herd_status herd_train_reserve(herd_train_model *tm, int B, int T)
{
    if (B == tm->B && T == tm->T && omp_get_max_threads() <= tm->threads)
        return HERD_OK;
    release(tm);
    if (alloc_acts(tm, B, T) || alloc_grads(tm, B, T) || alloc_rope(tm, B, T) ||
        alloc_frozen(tm, B, T)) {
        release(tm);
        size_t mb = ((tm->recompute ? 1 : tm->cfg.n_layers) * layer_floats(&tm->cfg, B, T)) >> 18;
        return herd_fail(HERD_E_NOMEM, "out of memory for the activations of a %d x %d "
                         "batch (about %zu MiB)", B, T, mb);
    }
    tm->B = B;
    tm->T = T;
    return HERD_OK;
}

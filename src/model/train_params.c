/* The flat parameter layout of a training model (herd_train.h), its
 * creation (random init or a copy of a loaded model) and the herd_model
 * view over it. */
#include "model/train.h"
#include "base/error.h"
#include "model/linear.h"
#include "formats/convert.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t add(herd_train_model *tm, const char *name, int64_t rows, int64_t cols,
                  int decay)
{
    herd_param_info *p = &tm->info[tm->n_info++];
    snprintf(p->name, sizeof p->name, "%s", name);
    p->offset = tm->n;
    p->rows = rows;
    p->cols = cols;
    p->decay = decay;
    tm->n += (size_t)(rows * cols);
    return p->offset;
}

static void layout(herd_train_model *tm)
{
    const herd_config *c = &tm->cfg;
    int64_t d = c->dim, kv = d / c->n_heads * c->n_kv_heads, h = c->hidden_dim;
    char nm[48];
    tm->off_emb = add(tm, "token_embd", c->vocab_size, d, 1);
    for (int l = 0; l < c->n_layers; l++) {
        herd_layer_off *o = &tm->lo[l];
#define T(field, suffix, r, cl, dec) \
        snprintf(nm, sizeof nm, "blk.%d.%s", l, suffix); o->field = add(tm, nm, r, cl, dec)
        T(attn_norm, "attn_norm", 1, d, 0);
        T(wq, "attn_q", d, d, 1);
        T(wk, "attn_k", kv, d, 1);
        T(wv, "attn_v", kv, d, 1);
        T(wo, "attn_output", d, d, 1);
        T(ffn_norm, "ffn_norm", 1, d, 0);
        T(w1, "ffn_gate", h, d, 1);
        T(w2, "ffn_down", d, h, 1);
        T(w3, "ffn_up", h, d, 1);
#undef T
    }
    tm->off_out_norm = add(tm, "output_norm", 1, d, 0);
    tm->off_out = c->tied_embeddings ? tm->off_emb : add(tm, "output", c->vocab_size, d, 1);
}

/* Points the view's F32 tensors into the parameter buffer. */
static void bind_view(herd_train_model *tm)
{
    herd_model *m = &tm->view;
    const herd_config *c = &tm->cfg;
    int64_t d = c->dim, kv = d / c->n_heads * c->n_kv_heads, h = c->hidden_dim;
    m->cfg = *c;
#define V(t, off, r, cl) (t) = (herd_tensor){tm->params + (off), HERD_TYPE_F32, (r), (cl)}
    V(m->w.tok_embeddings, tm->off_emb, c->vocab_size, d);
    V(m->w.output_norm, tm->off_out_norm, 1, d);
    if (c->tied_embeddings)
        m->w.output = (herd_tensor){NULL, HERD_TYPE_F32, c->vocab_size, d};
    else
        V(m->w.output, tm->off_out, c->vocab_size, d);
    for (int l = 0; l < c->n_layers; l++) {
        herd_layer_weights *L = &m->w.layers[l];
        const herd_layer_off *o = &tm->lo[l];
        V(L->attn_norm, o->attn_norm, 1, d);
        V(L->wq, o->wq, d, d);
        V(L->wk, o->wk, kv, d);
        V(L->wv, o->wv, kv, d);
        V(L->wo, o->wo, d, d);
        V(L->ffn_norm, o->ffn_norm, 1, d);
        V(L->w1, o->w1, h, d);
        V(L->w2, o->w2, d, h);
        V(L->w3, o->w3, h, d);
    }
#undef V
}

static herd_status alloc_model(const herd_config *cfg, herd_train_model **out)
{
    *out = NULL;
    HERD_TRY(herd_config_check(cfg));
    herd_train_model *tm = calloc(1, sizeof *tm);
    if (!tm)
        return herd_fail(HERD_E_NOMEM, "out of memory");
    tm->cfg = *cfg;
    int L = cfg->n_layers;
    tm->info = calloc((size_t)L * 9 + 3, sizeof *tm->info);
    tm->lo = calloc((size_t)L, sizeof *tm->lo);
    tm->view.w.layers = calloc((size_t)L, sizeof *tm->view.w.layers);
    if (tm->info && tm->lo && tm->view.w.layers) {
        layout(tm);
        tm->params = malloc(tm->n * sizeof(float));
        tm->grads = calloc(tm->n, sizeof(float));
    }
    if (!tm->params || !tm->grads) {
        size_t mb = tm->n * 8 >> 20;
        herd_train_model_free(tm);
        return herd_fail(HERD_E_NOMEM, "out of memory for %zu MiB of parameters and gradients",
                         mb);
    }
    bind_view(tm);
    *out = tm;
    return HERD_OK;
}

/* splitmix64, and normal draws by Box-Muller from it. */
static uint64_t next_u64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double normal(uint64_t *s)
{
    double u1 = ((next_u64(s) >> 11) + 1.0) / 9007199254740993.0;
    double u2 = (next_u64(s) >> 11) / 9007199254740992.0;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

herd_status herd_train_model_new(const herd_config *cfg, uint64_t seed,
                                 herd_train_model **out)
{
    herd_train_model *tm;
    HERD_TRY(alloc_model(cfg, &tm));
    uint64_t s = seed;
    double out_std = 0.02 / sqrt(2.0 * cfg->n_layers);
    for (int i = 0; i < tm->n_info; i++) {
        const herd_param_info *p = &tm->info[i];
        float *w = tm->params + p->offset;
        size_t n = (size_t)(p->rows * p->cols);
        int is_out = strstr(p->name, "attn_output") || strstr(p->name, "ffn_down");
        double std = is_out ? out_std : 0.02;
        for (size_t j = 0; j < n; j++)
            w[j] = p->decay ? (float)(std * normal(&s)) : 1.0f;
    }
    *out = tm;
    return HERD_OK;
}

static herd_status copy_tensor(float *dst, const herd_tensor *t, const char *name)
{
    if (!t->data)
        return herd_fail(HERD_E_FORMAT, "the model has no %s tensor", name);
    for (int64_t r = 0; r < t->rows; r++)
        HERD_TRY(herd_embedding_row(dst + r * t->cols, t, (int)r));
    return HERD_OK;
}

/* The config of m with a rope_freqs tensor (llama.cpp's Llama 3.1 scaling)
 * turned into the scaling it stands for. */
static herd_status train_config(const herd_model *m, herd_config *c)
{
    *c = m->cfg;
    const herd_tensor *rf = &m->w.rope_freqs;
    if (!rf->data)
        return HERD_OK;
    int half = c->dim / c->n_heads / 2;
    float *div = malloc((size_t)half * sizeof *div);
    if (!div)
        return herd_fail(HERD_E_NOMEM, "out of memory");
    herd_status st = herd_embedding_row(div, rf, 0);
    if (st == HERD_OK)
        st = herd_llama3_scaling_from_factors(c, div);
    free(div);
    return st;
}

herd_status herd_train_model_from(const herd_model *m, herd_train_model **out)
{
    herd_train_model *tm;
    herd_config cfg;
    HERD_TRY(train_config(m, &cfg));
    HERD_TRY(alloc_model(&cfg, &tm));
    const herd_weights *w = &m->w;
    herd_status st = copy_tensor(tm->params + tm->off_emb, &w->tok_embeddings, "token_embd");
    for (int l = 0; st == HERD_OK && l < m->cfg.n_layers; l++) {
        const herd_layer_weights *L = &w->layers[l];
        const herd_layer_off *o = &tm->lo[l];
        const herd_tensor *src[9] = {&L->attn_norm, &L->wq, &L->wk, &L->wv, &L->wo,
                                     &L->ffn_norm, &L->w1, &L->w2, &L->w3};
        size_t dst[9] = {o->attn_norm, o->wq, o->wk, o->wv, o->wo, o->ffn_norm, o->w1,
                         o->w2, o->w3};
        for (int i = 0; st == HERD_OK && i < 9; i++)
            st = copy_tensor(tm->params + dst[i], src[i], tm->info[1 + l * 9 + i].name);
    }
    if (st == HERD_OK)
        st = copy_tensor(tm->params + tm->off_out_norm, &w->output_norm, "output_norm");
    if (st == HERD_OK && !m->cfg.tied_embeddings)
        st = copy_tensor(tm->params + tm->off_out, &w->output, "output");
    if (st != HERD_OK) {
        herd_train_model_free(tm);
        return st;
    }
    *out = tm;
    return HERD_OK;
}

void herd_train_model_free(herd_train_model *tm)
{
    if (!tm)
        return;
    free(tm->params);
    free(tm->grads);
    free(tm->info);
    free(tm->lo);
    free(tm->view.w.layers);
    free(tm->x_in);
    free(tm->rstd_out);
    free(tm->xn_out);
    free(tm->acts);
    free(tm->act_buf);
    free(tm->g_buf);
    free(tm->pos);
    free(tm->start);
    free(tm->rope_cos);
    free(tm->rope_sin);
    free(tm);
}

const herd_config *herd_train_config(const herd_train_model *tm) { return &tm->cfg; }
int herd_train_n_tensors(const herd_train_model *tm) { return tm->n_info; }
const herd_model *herd_train_as_model(herd_train_model *tm) { return &tm->view; }

float *herd_train_params(herd_train_model *tm, size_t *n)
{
    if (n)
        *n = tm->n;
    return tm->params;
}

float *herd_train_grads(herd_train_model *tm, size_t *n)
{
    if (n)
        *n = tm->n;
    return tm->grads;
}

const herd_param_info *herd_train_tensor(const herd_train_model *tm, int i)
{
    return i >= 0 && i < tm->n_info ? &tm->info[i] : NULL;
}

void herd_train_set_recompute(herd_train_model *tm, int on)
{
    if (!!on != tm->recompute) {
        tm->recompute = !!on;
        tm->B = tm->T = 0;   /* activations are laid out again on the next batch */
    }
}

void herd_train_zero_grad(herd_train_model *tm)
{
    memset(tm->grads, 0, tm->n * sizeof(float));
}

double herd_train_grad_norm(herd_train_model *tm)
{
    double s = 0;
    #pragma omp parallel for reduction(+ : s) schedule(static) if (tm->n > HERD_PAR_MIN)
    for (size_t i = 0; i < tm->n; i++)
        s += (double)tm->grads[i] * tm->grads[i];
    return sqrt(s);
}

double herd_train_clip_grad(herd_train_model *tm, double max_norm)
{
    double norm = herd_train_grad_norm(tm);
    if (max_norm > 0 && norm > max_norm) {
        float f = (float)(max_norm / (norm + 1e-6));
        for (size_t i = 0; i < tm->n; i++)
            tm->grads[i] *= f;
    }
    return norm;
}

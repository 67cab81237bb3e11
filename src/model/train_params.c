/* The flat parameter layout of a training model (herd_train.h), its
 * creation (random init or a copy of a loaded model) and the herd_model
 * view over it. */
#include "model/train.h"
#include "base/error.h"
#include "base/rng.h"
#include "model/linear.h"
#include "formats/convert.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t herd_train_layout_add(herd_train_model *tm, const char *name, int64_t rows,
                             int64_t cols, int decay)
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

/* The full layout of herd_train.h: index 0 the embedding, 1 + 9 l + i the
 * nine tensors of layer l, then output_norm and output. */
static void layout(herd_train_model *tm)
{
    const herd_config *c = &tm->cfg;
    int64_t d = c->dim, kv = d / c->n_heads * c->n_kv_heads, h = c->hidden_dim;
    static const char *names[9] = {"attn_norm", "attn_q", "attn_k", "attn_v", "attn_output",
                                   "ffn_norm", "ffn_gate", "ffn_down", "ffn_up"};
    int64_t rows[9] = {1, d, kv, kv, d, 1, h, d, h}, cols[9] = {d, d, d, d, d, d, d, h, d};
    char nm[48];
    herd_train_layout_add(tm, "token_embd", c->vocab_size, d, 1);
    for (int l = 0; l < c->n_layers; l++)
        for (int i = 0; i < 9; i++) {
            snprintf(nm, sizeof nm, "blk.%d.%s", l, names[i]);
            herd_train_layout_add(tm, nm, rows[i], cols[i], rows[i] > 1);
        }
    herd_train_layout_add(tm, "output_norm", 1, d, 0);
    if (!c->tied_embeddings)
        herd_train_layout_add(tm, "output", c->vocab_size, d, 1);
}

static herd_train_mat mat(herd_train_model *tm, int i)
{
    const herd_param_info *p = &tm->info[i];
    return (herd_train_mat){tm->params + p->offset, tm->grads + p->offset, NULL, NULL, NULL,
                            (int)p->cols, (int)p->rows};
}

/* Points the layer table and the view's F32 tensors into the buffers. */
static void bind_full(herd_train_model *tm)
{
    const herd_config *c = &tm->cfg;
    herd_model *m = &tm->view;
    m->cfg = *c;
#define V(t, i) (t) = (herd_tensor){.data = tm->params + tm->info[i].offset, \
                                     .type = HERD_TYPE_F32, .rows = tm->info[i].rows, \
                                     .cols = tm->info[i].cols}
    tm->emb = mat(tm, 0);
    V(m->w.tok_embeddings, 0);
    for (int l = 0; l < c->n_layers; l++) {
        int k = 1 + 9 * l;
        herd_train_layer *L = &tm->L[l];
        herd_layer_weights *W = &m->w.layers[l];
        L->attn_norm = tm->params + tm->info[k].offset;
        L->d_attn_norm = tm->grads + tm->info[k].offset;
        L->ffn_norm = tm->params + tm->info[k + 5].offset;
        L->d_ffn_norm = tm->grads + tm->info[k + 5].offset;
        L->wq = mat(tm, k + 1); L->wk = mat(tm, k + 2); L->wv = mat(tm, k + 3);
        L->wo = mat(tm, k + 4); L->w1 = mat(tm, k + 6); L->w2 = mat(tm, k + 7);
        L->w3 = mat(tm, k + 8);
        V(W->attn_norm, k); V(W->wq, k + 1); V(W->wk, k + 2); V(W->wv, k + 3);
        V(W->wo, k + 4); V(W->ffn_norm, k + 5); V(W->w1, k + 6); V(W->w2, k + 7);
        V(W->w3, k + 8);
    }
    int k = 1 + 9 * c->n_layers;
    tm->out_norm = tm->params + tm->info[k].offset;
    tm->d_out_norm = tm->grads + tm->info[k].offset;
    V(m->w.output_norm, k);
    if (c->tied_embeddings) {
        tm->out = tm->emb;
        m->w.output = (herd_tensor){.data = NULL, .type = HERD_TYPE_F32,
                                    .rows = c->vocab_size, .cols = c->dim};
    } else {
        tm->out = mat(tm, k + 1);
        V(m->w.output, k + 1);
    }
#undef V
}

herd_status herd_train_alloc(const herd_config *cfg, herd_train_model **out)
{
    *out = NULL;
    HERD_TRY(herd_config_check(cfg));
    herd_train_model *tm = calloc(1, sizeof *tm);
    if (!tm)
        return herd_fail(HERD_E_NOMEM, "out of memory");
    tm->cfg = *cfg;
    size_t L = (size_t)cfg->n_layers;
    tm->info = calloc(L * 14 + 3, sizeof *tm->info);
    tm->L = calloc(L, sizeof *tm->L);
    tm->view.w.layers = calloc(L, sizeof *tm->view.w.layers);
    tm->sink = calloc((size_t)cfg->dim, sizeof(float));
    if (!tm->info || !tm->L || !tm->view.w.layers || !tm->sink) {
        herd_train_model_free(tm);
        return herd_fail(HERD_E_NOMEM, "out of memory");
    }
    *out = tm;
    return HERD_OK;
}

/* The flat buffers for the layout made so far. */
herd_status herd_train_alloc_buffers(herd_train_model *tm)
{
    tm->params = malloc(tm->n * sizeof(float));
    tm->grads = calloc(tm->n, sizeof(float));
    if (!tm->params || !tm->grads)
        return herd_fail(HERD_E_NOMEM, "out of memory for %zu MiB of parameters and gradients",
                         tm->n * 8 >> 20);
    return HERD_OK;
}

static herd_status alloc_model(const herd_config *cfg, herd_train_model **out)
{
    herd_train_model *tm;
    HERD_TRY(herd_train_alloc(cfg, &tm));
    layout(tm);
    herd_status st = herd_train_alloc_buffers(tm);
    if (st != HERD_OK) {
        herd_train_model_free(tm);
        return st;
    }
    bind_full(tm);
    *out = tm;
    return HERD_OK;
}

/* Normal draws by Box-Muller from splitmix64 (base/rng.h). */
static double normal(uint64_t *s)
{
    double u1 = ((herd_splitmix64(s) >> 11) + 1.0) / 9007199254740993.0;
    double u2 = (herd_splitmix64(s) >> 11) / 9007199254740992.0;
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
    const herd_tensor **src = malloc(((size_t)m->cfg.n_layers * 9 + 3) * sizeof *src);
    if (!src) {
        herd_train_model_free(tm);
        return herd_fail(HERD_E_NOMEM, "out of memory");
    }
    int n = 0;
    src[n++] = &w->tok_embeddings;
    for (int l = 0; l < m->cfg.n_layers; l++) {
        const herd_layer_weights *L = &w->layers[l];
        const herd_tensor *t[9] = {&L->attn_norm, &L->wq, &L->wk, &L->wv, &L->wo,
                                   &L->ffn_norm, &L->w1, &L->w2, &L->w3};
        for (int i = 0; i < 9; i++)
            src[n++] = t[i];
    }
    src[n++] = &w->output_norm;
    if (!m->cfg.tied_embeddings)
        src[n++] = &w->output;
    herd_status st = HERD_OK;
    for (int i = 0; st == HERD_OK && i < n; i++)
        st = copy_tensor(tm->params + tm->info[i].offset, src[i], tm->info[i].name);
    free(src);
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
    if (tm->nf4)
        for (int i = 0; i < tm->cfg.n_layers * 7; i++)
            herd_nf4_free(&tm->nf4[i]);
    free(tm->nf4);
    free(tm->L);
    free(tm->loras);
    free(tm->sink);
    free(tm->lora_u);
    free(tm->lora_du);
    free(tm->lora_xd);
    free(tm->lora_dxd);
    free(tm->tile);
    free(tm->xq);
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
const herd_model *herd_train_as_model(herd_train_model *tm)
{
    return tm->base ? NULL : &tm->view;
}

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

void herd_train_set_rope(herd_train_model *tm, herd_rope_scaling s, float factor, int seq_len)
{
    tm->cfg.rope_scaling = s;
    tm->cfg.rope_factor = factor;
    if (seq_len > tm->cfg.seq_len)
        tm->cfg.seq_len = seq_len;
    tm->view.cfg.rope_scaling = s;
    tm->view.cfg.rope_factor = factor;
    tm->view.cfg.seq_len = tm->cfg.seq_len;
    tm->B = tm->T = 0;   /* the rotary tables are made again on the next batch */
}

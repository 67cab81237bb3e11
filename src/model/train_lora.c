/* A LoRA training model (herd_train.h): the base model's weights frozen in
 * place, adapters A and B on the chosen matrices as the only parameters. */
#include "model/train.h"
#include "base/error.h"
#include "base/rng.h"
#include "model/adapter.h"
#include "model/linear.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const mat_names[7] = {"attn_q", "attn_k", "attn_v", "attn_output",
                                         "ffn_gate", "ffn_up", "ffn_down"};

static herd_train_mat *layer_mat(herd_train_layer *L, int i)
{
    herd_train_mat *m[7] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w1, &L->w3, &L->w2};
    return m[i];
}

static herd_train_mat frozen(const herd_tensor *t)
{
    return (herd_train_mat){NULL, NULL, t, NULL, NULL, (int)t->cols, (int)t->rows};
}

/* QLoRA: every layer matrix of the base quantized to NF4 (widened row by
 * row on the way, each row padded with zeros to whole blocks of 64), the
 * products then read only the NF4 copy. */
static herd_status quantize_nf4(herd_train_model *tm)
{
    int L = tm->cfg.n_layers;
    tm->nf4 = calloc((size_t)L * 7, sizeof *tm->nf4);
    if (!tm->nf4)
        return herd_fail(HERD_E_NOMEM, "out of memory");
    for (int l = 0; l < L; l++)
        for (int i = 0; i < 7; i++) {
            herd_train_mat *m = layer_mat(&tm->L[l], i);
            int cols = (m->in + HERD_NF4_BLOCK - 1) / HERD_NF4_BLOCK * HERD_NF4_BLOCK;
            float *w = calloc((size_t)m->out * cols, sizeof *w);
            if (!w)
                return herd_fail(HERD_E_NOMEM, "out of memory");
            herd_status st = HERD_OK;
            for (int r = 0; st == HERD_OK && r < m->out; r++)
                st = herd_embedding_row(w + (size_t)r * cols, m->base, r);
            if (st == HERD_OK)
                st = herd_nf4_quantize(w, m->out, cols, &tm->nf4[l * 7 + i]);
            free(w);
            /* The mapped original is not read again: give its pages back. */
            herd_owned_release(&tm->base->owned, m->base->data,
                               (size_t)m->out * herd_row_bytes(m->base->type, m->in));
            if (st != HERD_OK)
                return herd_fail_prefix(st, "QLoRA: blk.%d.%s", l, mat_names[i]);
            m->nf4 = &tm->nf4[l * 7 + i];
        }
    return HERD_OK;
}

static herd_status bind_frozen(herd_train_model *tm, const herd_model *base)
{
    const herd_weights *w = &base->w;
    tm->emb = frozen(&w->tok_embeddings);
    tm->out = frozen(base->cfg.tied_embeddings ? &w->tok_embeddings : &w->output);
    tm->out_norm = w->output_norm.data;
    tm->d_out_norm = tm->sink;
    if (w->output_norm.type != HERD_TYPE_F32)
        return herd_fail(HERD_E_ARG, "LoRA: the base model's norms must be F32 (open it with "
                         "herd_model_open)");
    for (int l = 0; l < base->cfg.n_layers; l++) {
        const herd_layer_weights *W = &w->layers[l];
        herd_train_layer *L = &tm->L[l];
        if (W->attn_norm.type != HERD_TYPE_F32 || W->ffn_norm.type != HERD_TYPE_F32)
            return herd_fail(HERD_E_ARG, "LoRA: the base model's norms must be F32");
        L->attn_norm = W->attn_norm.data;
        L->ffn_norm = W->ffn_norm.data;
        L->d_attn_norm = L->d_ffn_norm = tm->sink;
        L->wq = frozen(&W->wq); L->wk = frozen(&W->wk); L->wv = frozen(&W->wv);
        L->wo = frozen(&W->wo); L->w1 = frozen(&W->w1); L->w3 = frozen(&W->w3);
        L->w2 = frozen(&W->w2);
    }
    return HERD_OK;
}

/* Lays out the adapters (lora_a then lora_b of each chosen matrix). */
static herd_status layout(herd_train_model *tm, const herd_lora_params *p)
{
    int n = 0;
    for (int l = 0; l < tm->cfg.n_layers; l++)
        for (int i = 0; i < 7; i++) {
            if (!(p->targets >> i & 1))
                continue;
            herd_train_mat *m = layer_mat(&tm->L[l], i);
            int lim = m->in < m->out ? m->in : m->out;
            if (p->r < 1 || p->r > lim)
                return herd_fail(HERD_E_ARG, "LoRA rank %d is outside 1..%d for %s [%d x %d]",
                                 p->r, lim, mat_names[i], m->out, m->in);
            char nm[48];
            snprintf(nm, sizeof nm, "blk.%d.%s.lora_a", l, mat_names[i]);
            herd_train_layout_add(tm, nm, p->r, m->in, 1);
            snprintf(nm, sizeof nm, "blk.%d.%s.lora_b", l, mat_names[i]);
            herd_train_layout_add(tm, nm, m->out, p->r, 1);
            n++;
        }
    if (!n)
        return herd_fail(HERD_E_ARG, "LoRA: no target matrices chosen");
    tm->n_lora = n;
    tm->max_r = p->r;
    tm->loras = calloc((size_t)n, sizeof *tm->loras);
    return tm->loras ? HERD_OK : herd_fail(HERD_E_NOMEM, "out of memory");
}

/* Points each adapter into the buffers; A uniform, B zero. */
static void bind_adapters(herd_train_model *tm, const herd_lora_params *p, uint64_t seed)
{
    int k = 0;
    uint64_t s = seed;
    for (int l = 0; l < tm->cfg.n_layers; l++)
        for (int i = 0; i < 7; i++) {
            if (!(p->targets >> i & 1))
                continue;
            herd_train_mat *m = layer_mat(&tm->L[l], i);
            herd_lora_mat *a = &tm->loras[k];
            const herd_param_info *ia = &tm->info[2 * k], *ib = &tm->info[2 * k + 1];
            *a = (herd_lora_mat){tm->params + ia->offset, tm->params + ib->offset,
                                 tm->grads + ia->offset, tm->grads + ib->offset, p->r,
                                 p->alpha / p->r, p->dropout, (uint64_t)k + 1};
            float bound = 1.0f / sqrtf((float)m->in);
            for (size_t j = 0; j < (size_t)p->r * m->in; j++)
                a->a[j] = bound * (float)((herd_splitmix64(&s) >> 11) / 4503599627370496.0 - 1.0);
            memset(a->b, 0, (size_t)m->out * p->r * sizeof(float));
            m->lora = a;
            k++;
        }
}

herd_status herd_train_model_lora(const herd_model *base, const herd_lora_params *p,
                                  uint64_t seed, herd_train_model **out)
{
    *out = NULL;
    if (!(p->dropout >= 0 && p->dropout < 1) || !(p->alpha > 0))
        return herd_fail(HERD_E_ARG, "LoRA: dropout must be in [0, 1) and alpha positive");
    herd_train_model *tm;
    HERD_TRY(herd_train_alloc(&base->cfg, &tm));
    tm->base = base;
    tm->view.cfg = base->cfg;
    tm->view.w.rope_freqs = base->w.rope_freqs;
    herd_status st = bind_frozen(tm, base);
    if (st == HERD_OK && p->qlora)
        st = quantize_nf4(tm);
    if (st == HERD_OK)
        st = layout(tm, p);
    if (st == HERD_OK)
        st = herd_train_alloc_buffers(tm);
    if (st != HERD_OK) {
        herd_train_model_free(tm);
        return st;
    }
    bind_adapters(tm, p, seed);
    tm->lora_p = *p;
    *out = tm;
    return HERD_OK;
}

void herd_train_set_seed(herd_train_model *tm, uint64_t seed)
{
    tm->seed = seed;
}

herd_status herd_train_lora_adapter(herd_train_model *tm, herd_adapter **out)
{
    *out = NULL;
    if (!tm->n_lora)
        return herd_fail(HERD_E_ARG, "not a LoRA training model");
    const herd_lora_params *p = &tm->lora_p;
    herd_adapter *a;
    HERD_TRY(herd_adapter_new(&tm->cfg, p->r, p->alpha, p->targets, &a));
    for (int l = 0; l < tm->cfg.n_layers; l++)
        for (int i = 0; i < HERD_LORA_MATS; i++) {
            const herd_lora_mat *m = layer_mat(&tm->L[l], i)->lora;
            herd_lora_w *w = &a->w[l * HERD_LORA_MATS + i];
            if (!m)
                continue;
            memcpy(w->a, m->a, (size_t)p->r * w->in * sizeof(float));
            memcpy(w->b, m->b, (size_t)w->out * p->r * sizeof(float));
        }
    *out = a;
    return HERD_OK;
}

size_t herd_train_frozen_bytes(const herd_train_model *tm)
{
    size_t n = 0;
    for (int l = 0; tm->base && l < tm->cfg.n_layers; l++)
        for (int i = 0; i < 7; i++) {
            const herd_train_mat *m = layer_mat((herd_train_layer *)&tm->L[l], i);
            n += m->nf4 ? herd_nf4_bytes(m->nf4->rows, m->nf4->cols)
                        : (size_t)m->out * herd_row_bytes(m->base->type, m->in);
        }
    return n;
}

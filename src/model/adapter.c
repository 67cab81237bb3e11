/* LoRA adapters (adapter.h): allocation, checks against a model. */
#include "model/adapter.h"
#include "base/error.h"
#include "formats/gguf.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

const char *const herd_lora_mat_names[HERD_LORA_MATS] = {
    "attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"};
const char *const herd_lora_hf_names[HERD_LORA_MATS] = {
    "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
    "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"};

const herd_tensor *herd_lora_target(const herd_model *m, int l, int i)
{
    const herd_layer_weights *L = &m->w.layers[l];
    const herd_tensor *t[HERD_LORA_MATS] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w1, &L->w3,
                                            &L->w2};
    return t[i];
}

/* [out][in] of matrix i for a config. */
static void shape(const herd_config *c, int i, int *out, int *in)
{
    int d = c->dim, kv = d / c->n_heads * c->n_kv_heads, h = c->hidden_dim;
    int outs[HERD_LORA_MATS] = {d, kv, kv, d, h, h, d};
    int ins[HERD_LORA_MATS] = {d, d, d, d, d, d, h};
    *out = outs[i];
    *in = ins[i];
}

herd_status herd_adapter_new(const herd_config *cfg, int r, float alpha, unsigned targets,
                             herd_adapter **out)
{
    *out = NULL;
    if (r < 1 || !(alpha > 0) || !(targets & 127))
        return herd_fail(HERD_E_ARG, "adapter: rank %d, alpha %g, no targets", r, alpha);
    herd_adapter *a = calloc(1, sizeof *a);
    if (!a)
        return herd_fail(HERD_E_NOMEM, "out of memory");
    a->n_layers = cfg->n_layers;
    a->r = r;
    a->alpha = alpha;
    a->targets = targets & 127;
    a->w = herd_owned_alloc(&a->owned, (size_t)cfg->n_layers * HERD_LORA_MATS * sizeof *a->w);
    for (int l = 0; a->w && l < cfg->n_layers; l++)
        for (int i = 0; i < HERD_LORA_MATS; i++) {
            herd_lora_w *w = &a->w[l * HERD_LORA_MATS + i];
            shape(cfg, i, &w->out, &w->in);
            if (!(a->targets >> i & 1))
                continue;
            w->a = herd_owned_alloc(&a->owned, (size_t)r * w->in * sizeof(float));
            w->b = herd_owned_alloc(&a->owned, (size_t)w->out * r * sizeof(float));
            if (!w->a || !w->b) {
                herd_adapter_free(a);
                return herd_fail(HERD_E_NOMEM, "out of memory for an adapter");
            }
        }
    if (!a->w) {
        herd_adapter_free(a);
        return herd_fail(HERD_E_NOMEM, "out of memory");
    }
    *out = a;
    return HERD_OK;
}

void herd_adapter_free(herd_adapter *a)
{
    if (!a)
        return;
    herd_owned_free(&a->owned);
    free(a);
}

herd_status herd_adapter_check(const herd_adapter *a, const herd_model *m)
{
    if (a->n_layers != m->cfg.n_layers)
        return herd_fail(HERD_E_ARG, "adapter for a different base model: %d layers, the "
                         "model has %d", a->n_layers, m->cfg.n_layers);
    for (int l = 0; l < a->n_layers; l++)
        for (int i = 0; i < HERD_LORA_MATS; i++) {
            const herd_lora_w *w = &a->w[l * HERD_LORA_MATS + i];
            const herd_tensor *t = herd_lora_target(m, l, i);
            if (w->a && (w->in != t->cols || w->out != t->rows))
                return herd_fail(HERD_E_ARG, "adapter for a different base model: "
                                 "blk.%d.%s is %d x %d, the model's %lld x %lld", l,
                                 herd_lora_mat_names[i], w->out, w->in, (long long)t->rows,
                                 (long long)t->cols);
        }
    return HERD_OK;
}

herd_status herd_lora_permute_b(float *b, int out, int r, int head_dim, int to_hf)
{
    if (head_dim < 2 || head_dim % 2 || out % head_dim)
        return herd_fail(HERD_E_ARG, "adapter: %d rows are no whole heads of an even "
                         "head_dim %d", out, head_dim);
    float *tmp = malloc((size_t)out * r * sizeof *tmp);
    if (!tmp)
        return herd_fail(HERD_E_NOMEM, "out of memory");
    memcpy(tmp, b, (size_t)out * r * sizeof *tmp);
    for (int d = 0; d < out; d++) {
        int64_t s = to_hf ? herd_rope_row_meta_to_hf(d, head_dim)
                          : herd_rope_row_hf_to_meta(d, head_dim);
        memcpy(b + (size_t)d * r, tmp + (size_t)s * r, (size_t)r * sizeof *b);
    }
    free(tmp);
    return HERD_OK;
}

/* Every tensor a loader hands over is checked against the config here, once
 * for all formats. */
#include "model/model.h"
#include "base/error.h"
#include "quant/quant.h"
#include <string.h>
#include <math.h>
#include <stdio.h>

static herd_status want(const herd_tensor *t, const char *name, int layer,
                        int64_t rows, int64_t cols)
{
    char where[64];
    if (layer >= 0)
        snprintf(where, sizeof where, "layer %d %s", layer, name);
    else
        snprintf(where, sizeof where, "%s", name);
    if (!t->data)
        return herd_fail(HERD_E_FORMAT, "tensor %s is missing", where);
    if (herd_row_bytes(t->type, t->cols) == 0 || t->type == (herd_type)HERD_QTYPE_Q8_K) {
        if (!strcmp(herd_type_name(t->type), "unknown") || t->type == (herd_type)HERD_QTYPE_Q8_K)
            return herd_fail(HERD_E_UNSUPPORTED, "tensor %s has unsupported type %d",
                             where, (int)t->type);
        return herd_fail(HERD_E_FORMAT, "tensor %s has %lld columns, not a whole number of "
                         "%s blocks", where, (long long)t->cols, herd_type_name(t->type));
    }
    if (rows == 1 && herd_type_size(t->type) == 0)
        return herd_fail(HERD_E_UNSUPPORTED, "tensor %s is a vector in %s: herd reads norm "
                         "weights in F32, F16 or BF16", where, herd_type_name(t->type));
    if (t->rows != rows || t->cols != cols)
        return herd_fail(HERD_E_FORMAT,
                         "tensor %s has shape [%lld x %lld], the config needs [%lld x %lld]",
                         where, (long long)t->rows, (long long)t->cols,
                         (long long)rows, (long long)cols);
    return HERD_OK;
}

/* Optional; read by herd_rope_freqs before the weights are widened, so it
 * must be float32 already, and every divisor positive. */
static herd_status check_rope_freqs(const herd_tensor *t, int64_t half)
{
    if (!t->data)
        return HERD_OK;
    HERD_TRY(want(t, "rope_freqs", -1, 1, half));
    if (t->type != HERD_TYPE_F32)
        return herd_fail(HERD_E_UNSUPPORTED, "tensor rope_freqs has type %s, want F32",
                         herd_type_name(t->type));
    const float *f = t->data;
    for (int64_t i = 0; i < half; i++)
        if (!(f[i] > 0) || !isfinite(f[i]))
            return herd_fail(HERD_E_FORMAT, "rope_freqs[%lld] = %g is not a positive number",
                             (long long)i, (double)f[i]);
    return HERD_OK;
}

herd_status herd_model_check(const herd_model *m)
{
    const herd_config *c = &m->cfg;
    HERD_TRY(herd_config_check(c));
    int64_t hd = c->dim / c->n_heads, kv = hd * c->n_kv_heads;
    const herd_weights *w = &m->w;
    HERD_TRY(want(&w->tok_embeddings, "token embedding", -1, c->vocab_size, c->dim));
    HERD_TRY(want(&w->output_norm, "output norm", -1, 1, c->dim));
    if (!c->tied_embeddings)
        HERD_TRY(want(&w->output, "output", -1, c->vocab_size, c->dim));
    HERD_TRY(check_rope_freqs(&w->rope_freqs, hd / 2));
    for (int l = 0; l < c->n_layers; l++) {
        const herd_layer_weights *L = &w->layers[l];
        HERD_TRY(want(&L->attn_norm, "attn_norm", l, 1, c->dim));
        HERD_TRY(want(&L->wq, "wq", l, c->dim, c->dim));
        HERD_TRY(want(&L->wk, "wk", l, kv, c->dim));
        HERD_TRY(want(&L->wv, "wv", l, kv, c->dim));
        HERD_TRY(want(&L->wo, "wo", l, c->dim, c->dim));
        HERD_TRY(want(&L->ffn_norm, "ffn_norm", l, 1, c->dim));
        HERD_TRY(want(&L->w1, "w1 (gate)", l, c->hidden_dim, c->dim));
        HERD_TRY(want(&L->w2, "w2 (down)", l, c->dim, c->hidden_dim));
        HERD_TRY(want(&L->w3, "w3 (up)", l, c->hidden_dim, c->dim));
    }
    return HERD_OK;
}

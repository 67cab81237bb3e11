#include "model/model.h"
#include "base/error.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

void herd_config_defaults(herd_config *c)
{
    memset(c, 0, sizeof *c);
    c->norm_eps = 1e-5f;
    c->rope_theta = 10000.0f;
    c->rope_layout = HERD_ROPE_META;
}

/* Limits well beyond any published model, so that a corrupted header is
 * caught before it turns into a huge allocation. */
#define MAX_DIM (1 << 17)
#define MAX_LAYERS 1024
#define MAX_VOCAB (1 << 22)
#define MAX_SEQ (1 << 24)

static herd_status check_rope_scaling(const herd_config *c)
{
    if (c->rope_scaling == HERD_ROPE_SCALING_NONE)
        return HERD_OK;
    if (c->rope_scaling != HERD_ROPE_SCALING_LINEAR && c->rope_scaling != HERD_ROPE_SCALING_LLAMA3)
        return herd_fail(HERD_E_FORMAT, "unknown rope scaling %d", (int)c->rope_scaling);
    if (!(c->rope_factor > 0) || !isfinite(c->rope_factor))
        return herd_fail(HERD_E_FORMAT, "impossible rope scaling factor %g",
                         (double)c->rope_factor);
    if (c->rope_scaling == HERD_ROPE_SCALING_LLAMA3 &&
        (!(c->rope_low_freq_factor > 0) || !(c->rope_high_freq_factor > c->rope_low_freq_factor) ||
         !isfinite(c->rope_high_freq_factor) || c->rope_orig_ctx <= 0))
        return herd_fail(HERD_E_FORMAT, "impossible llama3 rope scaling: low_freq_factor %g, "
                         "high_freq_factor %g, original context %d",
                         (double)c->rope_low_freq_factor, (double)c->rope_high_freq_factor,
                         c->rope_orig_ctx);
    return HERD_OK;
}

herd_status herd_config_check(const herd_config *c)
{
    if (c->dim <= 0 || c->dim > MAX_DIM)
        return herd_fail(HERD_E_FORMAT, "impossible dim %d", c->dim);
    if (c->hidden_dim <= 0 || c->hidden_dim > 8 * MAX_DIM)
        return herd_fail(HERD_E_FORMAT, "impossible hidden_dim %d", c->hidden_dim);
    if (c->n_layers <= 0 || c->n_layers > MAX_LAYERS)
        return herd_fail(HERD_E_FORMAT, "impossible n_layers %d", c->n_layers);
    if (c->n_heads <= 0 || c->dim % c->n_heads != 0)
        return herd_fail(HERD_E_FORMAT, "n_heads %d does not divide dim %d",
                         c->n_heads, c->dim);
    if ((c->dim / c->n_heads) % 2 != 0)
        return herd_fail(HERD_E_FORMAT, "head_dim %d is odd: rotary embeddings need pairs",
                         c->dim / c->n_heads);
    if (c->n_kv_heads <= 0 || c->n_kv_heads > c->n_heads || c->n_heads % c->n_kv_heads != 0)
        return herd_fail(HERD_E_FORMAT, "n_kv_heads %d does not divide n_heads %d",
                         c->n_kv_heads, c->n_heads);
    if (c->vocab_size <= 0 || c->vocab_size > MAX_VOCAB)
        return herd_fail(HERD_E_FORMAT, "impossible vocab_size %d", c->vocab_size);
    if (c->seq_len <= 0 || c->seq_len > MAX_SEQ)
        return herd_fail(HERD_E_FORMAT, "impossible seq_len %d", c->seq_len);
    if (!(c->norm_eps > 0) || !isfinite(c->norm_eps))
        return herd_fail(HERD_E_FORMAT, "impossible norm_eps %g", (double)c->norm_eps);
    if (!(c->rope_theta > 0) || !isfinite(c->rope_theta))
        return herd_fail(HERD_E_FORMAT, "impossible rope_theta %g", (double)c->rope_theta);
    return check_rope_scaling(c);
}

herd_status herd_model_alloc_layers(herd_model *m)
{
    if (m->cfg.n_layers <= 0 || m->cfg.n_layers > MAX_LAYERS)
        return herd_fail(HERD_E_FORMAT, "impossible n_layers %d", m->cfg.n_layers);
    m->w.layers = herd_owned_alloc(&m->owned,
                                   (size_t)m->cfg.n_layers * sizeof *m->w.layers);
    if (!m->w.layers)
        return herd_fail(HERD_E_NOMEM, "out of memory");
    return HERD_OK;
}

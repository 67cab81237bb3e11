/* herd_load_gguf: a llama-architecture GGUF file into a herd_model. The
 * file stays mapped (owned by the model) and the tensors point into it. */
#include "formats/gguf.h"
#include "quant/quant.h"
#include "base/error.h"
#include "base/file.h"
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static herd_status get_count(const herd_gguf *g, const char *key, int required, int def,
                             int *out)
{
    int64_t v;
    herd_gguf_lookup r = herd_gguf_get_int(g, key, &v);
    if (r == HERD_GGUF_MISSING) {
        if (required)
            return herd_fail(HERD_E_FORMAT, "%s: missing key %s", g->path, key);
        *out = def;
        return HERD_OK;
    }
    if (r == HERD_GGUF_WRONG_TYPE)
        return herd_fail(HERD_E_FORMAT, "%s: key %s has type %s, want an integer", g->path,
                         key, herd_gguf_type_name(herd_gguf_find(g, key)->type));
    if (v < 1 || v > INT_MAX)
        return herd_fail(HERD_E_FORMAT, "%s: %s = %lld is out of range", g->path, key,
                         (long long)v);
    *out = (int)v;
    return HERD_OK;
}

static herd_status get_real(const herd_gguf *g, const char *key, float *out)
{
    double v;
    herd_gguf_lookup r = herd_gguf_get_float(g, key, &v);
    if (r == HERD_GGUF_MISSING)
        return HERD_OK; /* keep the default */
    if (r == HERD_GGUF_WRONG_TYPE)
        return herd_fail(HERD_E_FORMAT, "%s: key %s has type %s, want a float", g->path,
                         key, herd_gguf_type_name(herd_gguf_find(g, key)->type));
    *out = (float)v;
    return HERD_OK;
}

static herd_status check_arch(const herd_gguf *g)
{
    herd_gguf_str arch;
    herd_gguf_lookup r = herd_gguf_get_str(g, "general.architecture", &arch);
    if (r == HERD_GGUF_MISSING)
        return herd_fail(HERD_E_FORMAT, "%s: missing key general.architecture", g->path);
    if (r == HERD_GGUF_WRONG_TYPE)
        return herd_fail(HERD_E_FORMAT, "%s: general.architecture is not a string", g->path);
    if (!herd_gguf_str_eq(arch, "llama"))
        return herd_fail(HERD_E_UNSUPPORTED, "%s: unknown architecture %.*s", g->path,
                         (int)(arch.len > 100 ? 100 : arch.len), arch.p);
    return HERD_OK;
}

/* llama.rope.scaling.type "linear" (position interpolation) with its
 * factor; "none" or absent: none. Llama 3.1's scaling comes as the
 * rope_freqs.weight tensor instead (see point_tensors). */
static herd_status read_rope_scaling(const herd_gguf *g, herd_config *c)
{
    herd_gguf_str type;
    herd_gguf_lookup r = herd_gguf_get_str(g, "llama.rope.scaling.type", &type);
    if (r == HERD_GGUF_MISSING || (r == HERD_GGUF_FOUND && herd_gguf_str_eq(type, "none")))
        return HERD_OK;
    if (r == HERD_GGUF_WRONG_TYPE)
        return herd_fail(HERD_E_FORMAT, "%s: llama.rope.scaling.type is not a string", g->path);
    if (!herd_gguf_str_eq(type, "linear"))
        return herd_fail(HERD_E_UNSUPPORTED, "%s: rope scaling %.*s: herd knows linear and "
                         "llama3 (rope_freqs.weight)", g->path,
                         (int)(type.len > 100 ? 100 : type.len), type.p);
    c->rope_scaling = HERD_ROPE_SCALING_LINEAR;
    c->rope_factor = 0;
    HERD_TRY(get_real(g, "llama.rope.scaling.factor", &c->rope_factor));
    return HERD_OK;
}

static herd_status read_config(const herd_gguf *g, herd_config *c)
{
    herd_config_defaults(c);
    c->rope_layout = HERD_ROPE_META;
    HERD_TRY(get_count(g, "llama.embedding_length", 1, 0, &c->dim));
    HERD_TRY(get_count(g, "llama.feed_forward_length", 1, 0, &c->hidden_dim));
    HERD_TRY(get_count(g, "llama.block_count", 1, 0, &c->n_layers));
    HERD_TRY(get_count(g, "llama.attention.head_count", 1, 0, &c->n_heads));
    HERD_TRY(get_count(g, "llama.attention.head_count_kv", 0, c->n_heads, &c->n_kv_heads));
    HERD_TRY(get_count(g, "llama.context_length", 1, 0, &c->seq_len));
    HERD_TRY(get_real(g, "llama.attention.layer_norm_rms_epsilon", &c->norm_eps));
    HERD_TRY(get_real(g, "llama.rope.freq_base", &c->rope_theta));
    HERD_TRY(read_rope_scaling(g, c));
    const herd_gguf_tensor *emb = herd_gguf_find_tensor(g, "token_embd.weight");
    int rows = emb && emb->ne[1] <= INT_MAX ? (int)emb->ne[1] : 0;
    HERD_TRY(get_count(g, "llama.vocab_size", rows == 0, rows, &c->vocab_size));
    return HERD_OK;
}

/* Points t at the named tensor (left empty when absent and not required). */
static herd_status point(const herd_gguf *g, const char *name, int required, herd_tensor *t)
{
    const herd_gguf_tensor *gt = herd_gguf_find_tensor(g, name);
    if (!gt) {
        if (required)
            return herd_fail(HERD_E_FORMAT, "%s: missing tensor %s", g->path, name);
        return HERD_OK;
    }
    if (!herd_row_bytes((herd_type)gt->type, gt->ne[0]) || gt->type == HERD_QTYPE_Q8_K) {
        const char *tn = "?";
        uint32_t blck, bytes;
        herd_ggml_type_info(gt->type, &tn, &blck, &bytes);
        if (herd_row_bytes((herd_type)gt->type, blck) && gt->type != HERD_QTYPE_Q8_K)
            return herd_fail(HERD_E_FORMAT, "%s: tensor %s has rows of %llu values, not a "
                             "whole number of %s blocks of %u", g->path, name,
                             (unsigned long long)gt->ne[0], tn, blck);
        return herd_fail(HERD_E_UNSUPPORTED, "%s: tensor %s has type %s: herd runs F32, F16, "
                         "BF16, Q8_0, Q4_0, Q4_K and Q6_K", g->path, name, tn);
    }
    if (gt->ne[2] != 1 || gt->ne[3] != 1)
        return herd_fail(HERD_E_FORMAT, "%s: tensor %s has %u dimensions, want at most 2",
                         g->path, name, gt->n_dims);
    t->data = gt->data;
    t->type = (herd_type)gt->type;
    t->cols = gt->ne[0];
    t->rows = gt->ne[1];
    return HERD_OK;
}

static herd_status point_layer(const herd_gguf *g, int l, herd_layer_weights *w)
{
    static const char *names[] = {"attn_norm", "attn_q", "attn_k", "attn_v", "attn_output",
                                  "ffn_norm", "ffn_gate", "ffn_down", "ffn_up"};
    herd_tensor *dst[] = {&w->attn_norm, &w->wq, &w->wk, &w->wv, &w->wo,
                          &w->ffn_norm, &w->w1, &w->w2, &w->w3};
    for (int i = 0; i < 9; i++) {
        char name[64];
        snprintf(name, sizeof name, "blk.%d.%s.weight", l, names[i]);
        HERD_TRY(point(g, name, 1, dst[i]));
    }
    return HERD_OK;
}

static herd_status point_tensors(const herd_gguf *g, herd_model *m)
{
    HERD_TRY(point(g, "token_embd.weight", 1, &m->w.tok_embeddings));
    HERD_TRY(point(g, "output_norm.weight", 1, &m->w.output_norm));
    HERD_TRY(point(g, "output.weight", 0, &m->w.output));
    m->cfg.tied_embeddings = m->w.output.data == NULL;
    /* Llama 3.1 scaling as llama.cpp stores it: per-frequency divisors; the
     * config keeps rope_scaling NONE, having no parameters to show. */
    HERD_TRY(point(g, "rope_freqs.weight", 0, &m->w.rope_freqs));
    for (int l = 0; l < m->cfg.n_layers; l++)
        HERD_TRY(point_layer(g, l, &m->w.layers[l]));
    return HERD_OK;
}

static herd_status read_chat_template(const herd_gguf *g, herd_model *m)
{
    herd_gguf_str t;
    herd_gguf_lookup r = herd_gguf_get_str(g, "tokenizer.chat_template", &t);
    if (r != HERD_GGUF_FOUND)
        return HERD_OK; /* absent, or not a string: no template */
    m->chat_template = strndup(t.p, t.len);
    return m->chat_template ? HERD_OK : herd_fail(HERD_E_NOMEM, "out of memory");
}

static herd_status load_parsed(const herd_gguf *g, herd_model *m)
{
    HERD_TRY(check_arch(g));
    HERD_TRY(read_config(g, &m->cfg));
    herd_status s = herd_model_alloc_layers(m);
    if (s != HERD_OK)
        return herd_fail_prefix(s, "%s", g->path);
    HERD_TRY(point_tensors(g, m));
    HERD_TRY(read_chat_template(g, m));
    return herd_gguf_load_tokenizer(g, m);
}

herd_status herd_load_gguf(const char *path, herd_model *m)
{
    herd_map map;
    HERD_TRY(herd_map_weights(path, &map));
    const void *data = map.data;
    size_t size = map.size;
    HERD_TRY(herd_owned_add_map(&m->owned, map));
    herd_gguf g;
    herd_status s = herd_gguf_parse(path, data, size, &g);
    if (s == HERD_OK)
        s = load_parsed(&g, m);
    herd_gguf_free(&g);
    return s;
}

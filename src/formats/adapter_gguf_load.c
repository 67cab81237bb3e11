/* Reading GGUF LoRA adapters (formats/adapter.h): the metadata llama.cpp
 * requires (general.type "adapter", adapter.type "lora", architecture
 * "llama") plus adapter.lora.alpha, then every tensor as a lora_a / lora_b
 * of a known matrix of some block, all of one rank, each with its
 * partner. */
#include "formats/adapter.h"
#include "formats/gguf.h"
#include "base/error.h"
#include "base/file.h"
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* "blk.L.<matrix>.weight.lora_a|b": *l, *i (matrix), *is_b; 0 if not. */
static int parse_name(herd_gguf_str s, int *l, int *i, int *is_b)
{
    char name[128];
    if (s.len >= sizeof name)
        return 0;
    memcpy(name, s.p, s.len);
    name[s.len] = 0;
    if (strncmp(name, "blk.", 4) != 0 || name[4] < '0' || name[4] > '9')
        return 0;
    char *end;
    long v = strtol(name + 4, &end, 10);
    if (v > 100000 || *end != '.' || (name[4] == '0' && end != name + 5))
        return 0;
    for (int k = 0; k < HERD_LORA_MATS; k++) {
        size_t n = strlen(herd_lora_mat_names[k]);
        if (strncmp(end + 1, herd_lora_mat_names[k], n) != 0)
            continue;
        const char *rest = end + 1 + n;
        if (strcmp(rest, ".weight.lora_a") != 0 && strcmp(rest, ".weight.lora_b") != 0)
            continue;
        *l = (int)v;
        *i = k;
        *is_b = rest[13] == 'b';
        return 1;
    }
    return 0;
}

static herd_status check_meta(const herd_gguf *g, float *alpha)
{
    herd_gguf_str s;
    if (herd_gguf_get_str(g, "general.type", &s) != HERD_GGUF_FOUND ||
        !herd_gguf_str_eq(s, "adapter"))
        return herd_fail(HERD_E_FORMAT, "%s: not a LoRA adapter (general.type is not "
                         "\"adapter\": a model file?)", g->path);
    if (herd_gguf_get_str(g, "adapter.type", &s) != HERD_GGUF_FOUND ||
        !herd_gguf_str_eq(s, "lora"))
        return herd_fail(HERD_E_UNSUPPORTED, "%s: an adapter, but adapter.type is not "
                         "\"lora\"", g->path);
    if (herd_gguf_get_str(g, "general.architecture", &s) != HERD_GGUF_FOUND ||
        !herd_gguf_str_eq(s, "llama"))
        return herd_fail(HERD_E_UNSUPPORTED, "%s: a LoRA adapter for another architecture "
                         "than llama", g->path);
    double v;
    herd_gguf_lookup r = herd_gguf_get_float(g, "adapter.lora.alpha", &v);
    if (r == HERD_GGUF_MISSING)
        return herd_fail(HERD_E_FORMAT, "%s: missing key adapter.lora.alpha", g->path);
    if (r != HERD_GGUF_FOUND || !(v >= 0) || v > 1e30)
        return herd_fail(HERD_E_FORMAT, "%s: adapter.lora.alpha is not a float >= 0",
                         g->path);
    *alpha = (float)v;
    return HERD_OK;
}

/* Checks one tensor's type and rank; *rank gets its r. */
static herd_status check_tensor(const herd_gguf *g, const herd_gguf_tensor *t, int is_b,
                                int *rank)
{
    const char *what = is_b ? "lora_b" : "lora_a";
    if (t->type != HERD_TYPE_F32 && t->type != HERD_TYPE_F16 && t->type != HERD_TYPE_BF16)
        return herd_fail(HERD_E_UNSUPPORTED, "%s: %.*s: type %u (herd reads adapters in "
                         "F32, F16 and BF16)", g->path, (int)t->name.len, t->name.p, t->type);
    if (t->n_dims != 2 || t->ne[0] < 1 || t->ne[1] < 1 || t->ne[0] > INT_MAX ||
        t->ne[1] > INT_MAX)
        return herd_fail(HERD_E_FORMAT, "%s: %.*s: a %s must be a matrix", g->path,
                         (int)t->name.len, t->name.p, what);
    *rank = (int)t->ne[is_b ? 0 : 1];
    return HERD_OK;
}

typedef struct {
    const herd_gguf_tensor *a, *b;
} pair;

/* Pass over the tensors: names, types, one rank; *max_l the highest block. */
static herd_status scan(const herd_gguf *g, int *max_l, int *rank)
{
    *max_l = -1;
    *rank = 0;
    for (uint64_t k = 0; k < g->n_tensors; k++) {
        const herd_gguf_tensor *t = &g->tensors[k];
        int l, i, is_b, r = 0;
        if (!parse_name(t->name, &l, &i, &is_b))
            return herd_fail(HERD_E_UNSUPPORTED, "%s: unknown tensor %.*s (herd reads "
                             "blk.N.<matrix>.weight.lora_a/lora_b)", g->path,
                             (int)(t->name.len > 100 ? 100 : t->name.len), t->name.p);
        HERD_TRY(check_tensor(g, t, is_b, &r));
        if (*rank && r != *rank)
            return herd_fail(HERD_E_FORMAT, "%s: %.*s has rank %d, other tensors %d",
                             g->path, (int)t->name.len, t->name.p, r, *rank);
        *rank = r;
        *max_l = l > *max_l ? l : *max_l;
    }
    if (*max_l < 0)
        return herd_fail(HERD_E_FORMAT, "%s: no LoRA tensors", g->path);
    return HERD_OK;
}

static herd_status pair_up(const herd_gguf *g, pair *p, int n_layers)
{
    for (uint64_t k = 0; k < g->n_tensors; k++) {
        int l, i, is_b;
        parse_name(g->tensors[k].name, &l, &i, &is_b);
        pair *q = &p[l * HERD_LORA_MATS + i];
        if (is_b)
            q->b = &g->tensors[k];
        else
            q->a = &g->tensors[k];
    }
    for (int k = 0; k < n_layers * HERD_LORA_MATS; k++)
        if (!p[k].a != !p[k].b)
            return herd_fail(HERD_E_FORMAT, "%s: blk.%d.%s.weight has a lora_%s without "
                             "its lora_%s", g->path, k / HERD_LORA_MATS,
                             herd_lora_mat_names[k % HERD_LORA_MATS], p[k].a ? "a" : "b",
                             p[k].a ? "b" : "a");
    return HERD_OK;
}

/* Fills a from the pairs; matrices absent everywhere get cfg's shape. */
static herd_status fill(herd_adapter *a, const pair *p, const herd_config *cfg)
{
    for (int l = 0; l < a->n_layers; l++)
        for (int i = 0; i < HERD_LORA_MATS; i++) {
            const pair *q = &p[l * HERD_LORA_MATS + i];
            if (!q->a)
                continue;
            int in = (int)q->a->ne[0], out = (int)q->b->ne[1];
            HERD_TRY(herd_adapter_alloc_w(a, l, i, out, in));
            herd_lora_w *w = &a->w[l * HERD_LORA_MATS + i];
            herd_adapter_to_f32(w->a, q->a->data, (herd_type)q->a->type, (size_t)a->r * in);
            herd_adapter_to_f32(w->b, q->b->data, (herd_type)q->b->type, (size_t)out * a->r);
        }
    for (int i = 0; i < HERD_LORA_MATS; i++) {
        int out = 0, in = 0;
        if (cfg)
            herd_lora_shape(cfg, i, &out, &in);
        for (int l = 0; !cfg && l < a->n_layers && !out; l++)
            if (a->w[l * HERD_LORA_MATS + i].a) {
                out = a->w[l * HERD_LORA_MATS + i].out;
                in = a->w[l * HERD_LORA_MATS + i].in;
            }
        for (int l = 0; l < a->n_layers; l++)
            if (!a->w[l * HERD_LORA_MATS + i].a) {
                a->w[l * HERD_LORA_MATS + i].out = out;
                a->w[l * HERD_LORA_MATS + i].in = in;
            }
    }
    return HERD_OK;
}

static herd_status load(const herd_gguf *g, const herd_config *cfg, herd_adapter **out)
{
    float alpha = 0;
    int max_l = -1, r = 0;
    HERD_TRY(check_meta(g, &alpha));
    HERD_TRY(scan(g, &max_l, &r));
    if (cfg && max_l >= cfg->n_layers)
        return herd_fail(HERD_E_ARG, "%s: adapter for a different base model: it has "
                         "blk.%d, the model %d layers", g->path, max_l, cfg->n_layers);
    int n_layers = cfg ? cfg->n_layers : max_l + 1;
    pair *p = calloc((size_t)n_layers * HERD_LORA_MATS, sizeof *p);
    if (!p)
        return herd_fail(HERD_E_NOMEM, "%s: out of memory", g->path);
    herd_adapter *a = NULL;
    /* alpha 0: llama.cpp then scales by 1, which is alpha = r */
    herd_status s = pair_up(g, p, n_layers);
    if (s == HERD_OK)
        s = herd_adapter_empty(n_layers, r, alpha > 0 ? alpha : (float)r, &a);
    if (s == HERD_OK)
        s = fill(a, p, cfg);
    if (s == HERD_OK && cfg)
        s = herd_adapter_fits(a, cfg, g->path);
    free(p);
    if (s != HERD_OK) {
        herd_adapter_free(a);
        return s;
    }
    *out = a;
    return HERD_OK;
}

herd_status herd_adapter_load_gguf_cfg(const char *path, const herd_config *cfg,
                                       herd_adapter **out)
{
    *out = NULL;
    herd_map map;
    HERD_TRY(herd_map_file(path, &map));
    herd_gguf g;
    herd_status s = herd_gguf_parse(path, map.data, map.size, &g);
    if (s == HERD_OK)
        s = load(&g, cfg, out);
    herd_gguf_free(&g);
    herd_unmap(&map);
    return s;
}

herd_status herd_adapter_load_gguf(const char *path, herd_adapter **out)
{
    return herd_adapter_load_gguf_cfg(path, NULL, out);
}

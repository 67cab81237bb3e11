/* Typed lookups in a parsed GGUF. Values were bounds-checked by the parser. */
#include "formats/gguf.h"
#include <string.h>

static uint64_t le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

int herd_gguf_str_eq(herd_gguf_str s, const char *c)
{
    size_t n = strlen(c);
    return s.len == n && (n == 0 || memcmp(s.p, c, n) == 0);
}

const herd_gguf_kv *herd_gguf_find(const herd_gguf *g, const char *key)
{
    for (uint64_t i = 0; i < g->n_kv; i++)
        if (herd_gguf_str_eq(g->kv[i].key, key))
            return &g->kv[i];
    return NULL;
}

const herd_gguf_tensor *herd_gguf_find_tensor(const herd_gguf *g, const char *name)
{
    for (uint64_t i = 0; i < g->n_tensors; i++)
        if (herd_gguf_str_eq(g->tensors[i].name, name))
            return &g->tensors[i];
    return NULL;
}

/* An integer value of type t at p; 0 when t is no integer type. */
static int int_value(uint32_t t, const uint8_t *p, int64_t *out)
{
    switch (t) {
    case HERD_GGUF_UINT8: *out = p[0]; return 1;
    case HERD_GGUF_INT8: *out = (int8_t)p[0]; return 1;
    case HERD_GGUF_UINT16: *out = (int64_t)le(p, 2); return 1;
    case HERD_GGUF_INT16: *out = (int16_t)le(p, 2); return 1;
    case HERD_GGUF_UINT32: *out = (int64_t)le(p, 4); return 1;
    case HERD_GGUF_INT32: *out = (int32_t)le(p, 4); return 1;
    case HERD_GGUF_INT64: *out = (int64_t)le(p, 8); return 1;
    case HERD_GGUF_UINT64: {
        uint64_t v = le(p, 8);
        if (v > INT64_MAX)
            return 0;
        *out = (int64_t)v;
        return 1;
    }
    }
    return 0;
}

static int float_value(uint32_t t, const uint8_t *p, double *out)
{
    if (t == HERD_GGUF_FLOAT32) {
        uint32_t u = (uint32_t)le(p, 4);
        float f;
        memcpy(&f, &u, 4);
        *out = f;
        return 1;
    }
    if (t == HERD_GGUF_FLOAT64) {
        uint64_t u = le(p, 8);
        memcpy(out, &u, 8);
        return 1;
    }
    return 0;
}

herd_gguf_lookup herd_gguf_get_int(const herd_gguf *g, const char *key, int64_t *out)
{
    const herd_gguf_kv *kv = herd_gguf_find(g, key);
    if (!kv)
        return HERD_GGUF_MISSING;
    return int_value(kv->type, kv->val, out) ? HERD_GGUF_FOUND : HERD_GGUF_WRONG_TYPE;
}

herd_gguf_lookup herd_gguf_get_float(const herd_gguf *g, const char *key, double *out)
{
    const herd_gguf_kv *kv = herd_gguf_find(g, key);
    if (!kv)
        return HERD_GGUF_MISSING;
    return float_value(kv->type, kv->val, out) ? HERD_GGUF_FOUND : HERD_GGUF_WRONG_TYPE;
}

herd_gguf_lookup herd_gguf_get_bool(const herd_gguf *g, const char *key, int *out)
{
    const herd_gguf_kv *kv = herd_gguf_find(g, key);
    if (!kv)
        return HERD_GGUF_MISSING;
    if (kv->type != HERD_GGUF_BOOL)
        return HERD_GGUF_WRONG_TYPE;
    *out = kv->val[0] != 0;
    return HERD_GGUF_FOUND;
}

herd_gguf_lookup herd_gguf_get_str(const herd_gguf *g, const char *key, herd_gguf_str *out)
{
    const herd_gguf_kv *kv = herd_gguf_find(g, key);
    if (!kv)
        return HERD_GGUF_MISSING;
    if (kv->type != HERD_GGUF_STRING)
        return HERD_GGUF_WRONG_TYPE;
    out->len = (size_t)le(kv->val, 8);
    out->p = (const char *)kv->val + 8;
    return HERD_GGUF_FOUND;
}

herd_gguf_lookup herd_gguf_get_array(const herd_gguf *g, const char *key, int elem_type,
                                     const herd_gguf_kv **out)
{
    const herd_gguf_kv *kv = herd_gguf_find(g, key);
    if (!kv)
        return HERD_GGUF_MISSING;
    if (kv->type != HERD_GGUF_ARRAY || (elem_type >= 0 && kv->arr_type != (uint32_t)elem_type))
        return HERD_GGUF_WRONG_TYPE;
    *out = kv;
    return HERD_GGUF_FOUND;
}

static size_t elem_size(uint32_t t)
{
    static const unsigned char sz[HERD_GGUF_NTYPES] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    return t < HERD_GGUF_NTYPES ? sz[t] : 0;
}

double herd_gguf_arr_float(const herd_gguf_kv *kv, uint64_t i)
{
    double d = 0;
    int64_t v;
    if (kv->type != HERD_GGUF_ARRAY || i >= kv->arr_n || !elem_size(kv->arr_type))
        return 0;
    const uint8_t *p = kv->val + i * elem_size(kv->arr_type);
    if (!float_value(kv->arr_type, p, &d) && int_value(kv->arr_type, p, &v))
        d = (double)v;
    return d;
}

int64_t herd_gguf_arr_int(const herd_gguf_kv *kv, uint64_t i)
{
    int64_t v = 0;
    if (kv->type != HERD_GGUF_ARRAY || i >= kv->arr_n || !elem_size(kv->arr_type))
        return 0;
    int_value(kv->arr_type, kv->val + i * elem_size(kv->arr_type), &v);
    return v;
}

void herd_gguf_arr_strings(const herd_gguf_kv *kv, const char **p, size_t *len)
{
    const uint8_t *q = kv->val;
    if (kv->type != HERD_GGUF_ARRAY || kv->arr_type != HERD_GGUF_STRING)
        return;
    for (uint64_t i = 0; i < kv->arr_n; i++) {
        len[i] = (size_t)le(q, 8);
        p[i] = (const char *)q + 8;
        q += 8 + len[i];
    }
}

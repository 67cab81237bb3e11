/* GGUF parser: every read goes through a cursor that checks the remaining
 * length first, so nothing outside [base, base + size) is ever touched. */
#include "formats/gguf.h"
#include "base/error.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const uint8_t *b;
    size_t size, pos;
    const char *path;
} cursor;

/* Nested arrays deeper than this are refused (no unbounded recursion). */
#define MAX_ARRAY_DEPTH 8
/* The smallest encoding of one kv pair (key length, type, a byte) and of one
 * tensor info (name length, n_dims, one ne, type, offset). */
#define MIN_KV_BYTES 13
#define MIN_TENSOR_INFO_BYTES 32

static herd_status need(cursor *c, uint64_t n, const char *what)
{
    if (n > c->size - c->pos)
        return herd_fail(HERD_E_FORMAT, "%s: truncated: %s at byte %zu needs %llu bytes, "
                         "%zu left", c->path, what, c->pos, (unsigned long long)n,
                         c->size - c->pos);
    return HERD_OK;
}

static uint64_t le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static herd_status read_u32(cursor *c, uint32_t *v, const char *what)
{
    HERD_TRY(need(c, 4, what));
    *v = (uint32_t)le(c->b + c->pos, 4);
    c->pos += 4;
    return HERD_OK;
}

static herd_status read_u64(cursor *c, uint64_t *v, const char *what)
{
    HERD_TRY(need(c, 8, what));
    *v = le(c->b + c->pos, 8);
    c->pos += 8;
    return HERD_OK;
}

static herd_status read_str(cursor *c, herd_gguf_str *s, const char *what)
{
    uint64_t n;
    HERD_TRY(read_u64(c, &n, what));
    HERD_TRY(need(c, n, what));
    s->p = (const char *)c->b + c->pos;
    s->len = (size_t)n;
    c->pos += (size_t)n;
    return HERD_OK;
}

/* Bytes of a fixed-size value type, 0 for string, array and unknown. */
static size_t fixed_size(uint32_t t)
{
    static const unsigned char sz[HERD_GGUF_NTYPES] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    return t < HERD_GGUF_NTYPES ? sz[t] : 0;
}

static herd_status skip_value(cursor *c, uint32_t type, int depth, const char *what);

static herd_status skip_array(cursor *c, uint32_t at, uint64_t n, int depth,
                              const char *what)
{
    size_t fs = fixed_size(at);
    if (fs) {
        if (n > (c->size - c->pos) / fs)
            return herd_fail(HERD_E_FORMAT, "%s: truncated: %s: %llu elements of %zu bytes "
                             "at byte %zu", c->path, what, (unsigned long long)n, fs, c->pos);
        c->pos += (size_t)n * fs;
        return HERD_OK;
    }
    if (at != HERD_GGUF_STRING && at != HERD_GGUF_ARRAY)
        return herd_fail(HERD_E_FORMAT, "%s: %s: array of unknown type %u", c->path, what, at);
    if (depth >= MAX_ARRAY_DEPTH)
        return herd_fail(HERD_E_FORMAT, "%s: %s: arrays nested too deep", c->path, what);
    /* Each element takes at least 8 (string) or 12 (array) bytes. */
    if (n > (c->size - c->pos) / (at == HERD_GGUF_STRING ? 8 : 12))
        return herd_fail(HERD_E_FORMAT, "%s: truncated: %s: %llu elements at byte %zu",
                         c->path, what, (unsigned long long)n, c->pos);
    for (uint64_t i = 0; i < n; i++)
        HERD_TRY(skip_value(c, at, depth + 1, what));
    return HERD_OK;
}

static herd_status skip_value(cursor *c, uint32_t type, int depth, const char *what)
{
    if (type == HERD_GGUF_STRING) {
        herd_gguf_str s;
        return read_str(c, &s, what);
    }
    if (type == HERD_GGUF_ARRAY) {
        uint32_t at;
        uint64_t n;
        HERD_TRY(read_u32(c, &at, what));
        HERD_TRY(read_u64(c, &n, what));
        return skip_array(c, at, n, depth, what);
    }
    size_t fs = fixed_size(type);
    if (!fs)
        return herd_fail(HERD_E_FORMAT, "%s: %s: unknown value type %u", c->path, what, type);
    HERD_TRY(need(c, fs, what));
    c->pos += fs;
    return HERD_OK;
}

static herd_status read_kv(cursor *c, herd_gguf_kv *kv)
{
    HERD_TRY(read_str(c, &kv->key, "a metadata key"));
    HERD_TRY(read_u32(c, &kv->type, "a metadata value type"));
    char what[160];
    snprintf(what, sizeof what, "the value of %.*s", (int)(kv->key.len > 100 ? 100 : kv->key.len),
             kv->key.p);
    if (kv->type == HERD_GGUF_ARRAY) {
        HERD_TRY(read_u32(c, &kv->arr_type, what));
        HERD_TRY(read_u64(c, &kv->arr_n, what));
        kv->val = c->b + c->pos;
        return skip_array(c, kv->arr_type, kv->arr_n, 1, what);
    }
    kv->val = c->b + c->pos;
    return skip_value(c, kv->type, 0, what);
}

#define SHOWN(s) (int)((s).len > 200 ? 200 : (s).len), (s).p

static herd_status tensor_size(const cursor *c, herd_gguf_tensor *t)
{
    const char *tn;
    uint32_t blck, bytes;
    if (!herd_ggml_type_info(t->type, &tn, &blck, &bytes))
        return herd_fail(HERD_E_FORMAT, "%s: tensor %.*s has unknown type %u", c->path,
                         SHOWN(t->name), t->type);
    if (!blck)
        return herd_fail(HERD_E_UNSUPPORTED, "%s: tensor %.*s has type %s, which herd "
                         "does not handle", c->path, SHOWN(t->name), tn);
    if (t->ne[0] % blck != 0)
        return herd_fail(HERD_E_FORMAT, "%s: tensor %.*s: row length %lld is not a multiple "
                         "of %s's block of %u", c->path, SHOWN(t->name),
                         (long long)t->ne[0], tn, blck);
    int64_t elems = 1;
    uint64_t nb = (uint64_t)(t->ne[0] / blck);
    int bad = __builtin_mul_overflow(nb, (uint64_t)bytes, &nb);
    for (int d = 0; d < HERD_GGUF_MAX_DIMS; d++) {
        bad |= __builtin_mul_overflow(elems, t->ne[d], &elems);
        if (d > 0)
            bad |= __builtin_mul_overflow(nb, (uint64_t)t->ne[d], &nb);
    }
    if (bad)
        return herd_fail(HERD_E_FORMAT, "%s: tensor %.*s: absurd shape", c->path,
                         SHOWN(t->name));
    t->nbytes = nb;
    return HERD_OK;
}

static herd_status read_tensor_info(cursor *c, herd_gguf_tensor *t)
{
    HERD_TRY(read_str(c, &t->name, "a tensor name"));
    char what[260];
    snprintf(what, sizeof what, "tensor %.*s", SHOWN(t->name));
    HERD_TRY(read_u32(c, &t->n_dims, what));
    if (t->n_dims < 1 || t->n_dims > HERD_GGUF_MAX_DIMS)
        return herd_fail(HERD_E_FORMAT, "%s: %s has %u dimensions (1 to %d allowed)",
                         c->path, what, t->n_dims, HERD_GGUF_MAX_DIMS);
    for (int d = 0; d < HERD_GGUF_MAX_DIMS; d++)
        t->ne[d] = 1;
    for (uint32_t d = 0; d < t->n_dims; d++) {
        uint64_t v;
        HERD_TRY(read_u64(c, &v, what));
        if (v > INT64_MAX)
            return herd_fail(HERD_E_FORMAT, "%s: %s: absurd dimension %llu", c->path, what,
                             (unsigned long long)v);
        t->ne[d] = (int64_t)v;
    }
    HERD_TRY(read_u32(c, &t->type, what));
    HERD_TRY(read_u64(c, &t->offset, what));
    return tensor_size(c, t);
}

static int cmp_str(const herd_gguf_str *a, const herd_gguf_str *b)
{
    size_t n = a->len < b->len ? a->len : b->len;
    int r = n ? memcmp(a->p, b->p, n) : 0;
    return r ? r : (a->len > b->len) - (a->len < b->len);
}

static int cmp_str_ptr(const void *a, const void *b)
{
    return cmp_str(*(const herd_gguf_str *const *)a, *(const herd_gguf_str *const *)b);
}

/* Fails when two of n strings (each at stride bytes from the previous) are
 * equal. */
static herd_status check_unique(const char *path, const void *first, size_t stride,
                                uint64_t n, const char *what)
{
    if (n < 2)
        return HERD_OK;
    const herd_gguf_str **v = malloc((size_t)n * sizeof *v);
    if (!v)
        return herd_fail(HERD_E_NOMEM, "%s: out of memory", path);
    for (uint64_t i = 0; i < n; i++)
        v[i] = (const herd_gguf_str *)((const char *)first + i * stride);
    qsort(v, (size_t)n, sizeof *v, cmp_str_ptr);
    herd_status s = HERD_OK;
    for (uint64_t i = 1; i < n && s == HERD_OK; i++)
        if (cmp_str(v[i - 1], v[i]) == 0)
            s = herd_fail(HERD_E_FORMAT, "%s: duplicate %s %.*s", path, what, SHOWN(*v[i]));
    free(v);
    return s;
}

static herd_status read_alignment(herd_gguf *g)
{
    const herd_gguf_kv *kv = herd_gguf_find(g, "general.alignment");
    if (!kv)
        return HERD_OK;
    if (kv->type != HERD_GGUF_UINT32)
        return herd_fail(HERD_E_FORMAT, "%s: general.alignment has type %s, want uint32",
                         g->path, herd_gguf_type_name(kv->type));
    uint64_t a = le(kv->val, 4);
    if (a == 0 || (a & (a - 1)) != 0)
        return herd_fail(HERD_E_FORMAT, "%s: general.alignment %llu is not a power of two",
                         g->path, (unsigned long long)a);
    g->alignment = a;
    return HERD_OK;
}

static int cmp_offset(const void *a, const void *b)
{
    const herd_gguf_tensor *x = *(const herd_gguf_tensor *const *)a;
    const herd_gguf_tensor *y = *(const herd_gguf_tensor *const *)b;
    return (x->offset > y->offset) - (x->offset < y->offset);
}

static herd_status check_overlaps(const herd_gguf *g)
{
    if (g->n_tensors < 2)
        return HERD_OK;
    const herd_gguf_tensor **v = malloc((size_t)g->n_tensors * sizeof *v);
    if (!v)
        return herd_fail(HERD_E_NOMEM, "%s: out of memory", g->path);
    for (uint64_t i = 0; i < g->n_tensors; i++)
        v[i] = &g->tensors[i];
    qsort(v, (size_t)g->n_tensors, sizeof *v, cmp_offset);
    herd_status s = HERD_OK;
    for (uint64_t i = 1; i < g->n_tensors && s == HERD_OK; i++)
        if (v[i - 1]->offset + v[i - 1]->nbytes > v[i]->offset)
            s = herd_fail(HERD_E_FORMAT, "%s: the data of tensors %.*s and %.*s overlap",
                          g->path, SHOWN(v[i - 1]->name), SHOWN(v[i]->name));
    free(v);
    return s;
}

/* Places each tensor's data inside the data section. */
static herd_status place_tensors(herd_gguf *g, size_t header_end)
{
    size_t start = (header_end + (size_t)g->alignment - 1) / (size_t)g->alignment
                   * (size_t)g->alignment;
    if (g->n_tensors && start > g->size)
        return herd_fail(HERD_E_FORMAT, "%s: truncated: no data section after the header",
                         g->path);
    g->data_start = start;
    size_t avail = start <= g->size ? g->size - start : 0;
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        herd_gguf_tensor *t = &g->tensors[i];
        if (t->offset % g->alignment != 0)
            return herd_fail(HERD_E_FORMAT, "%s: tensor %.*s: offset %llu is not a multiple "
                             "of the alignment %llu", g->path, SHOWN(t->name),
                             (unsigned long long)t->offset, (unsigned long long)g->alignment);
        if (t->offset > avail || t->nbytes > avail - t->offset)
            return herd_fail(HERD_E_FORMAT, "%s: tensor %.*s: data (%llu bytes at offset "
                             "%llu) runs past the end of the file", g->path, SHOWN(t->name),
                             (unsigned long long)t->nbytes, (unsigned long long)t->offset);
        t->data = g->base + start + t->offset;
    }
    return check_overlaps(g);
}

static herd_status read_header(cursor *c, herd_gguf *g)
{
    if (c->size < 4 || memcmp(c->b, "GGUF", 4) != 0)
        return herd_fail(HERD_E_FORMAT, "%s: not a GGUF file (bad magic)", c->path);
    c->pos = 4;
    HERD_TRY(read_u32(c, &g->version, "the version"));
    if (g->version != 2 && g->version != 3)
        return herd_fail(HERD_E_UNSUPPORTED, "%s: GGUF version %u (herd reads 2 and 3)",
                         c->path, g->version);
    HERD_TRY(read_u64(c, &g->n_tensors, "the tensor count"));
    HERD_TRY(read_u64(c, &g->n_kv, "the metadata count"));
    size_t left = c->size - c->pos;
    if (g->n_kv > left / MIN_KV_BYTES)
        return herd_fail(HERD_E_FORMAT, "%s: absurd metadata count %llu for a file of %zu "
                         "bytes", c->path, (unsigned long long)g->n_kv, c->size);
    if (g->n_tensors > left / MIN_TENSOR_INFO_BYTES)
        return herd_fail(HERD_E_FORMAT, "%s: absurd tensor count %llu for a file of %zu "
                         "bytes", c->path, (unsigned long long)g->n_tensors, c->size);
    return HERD_OK;
}

herd_status herd_gguf_parse(const char *path, const void *data, size_t size, herd_gguf *g)
{
    memset(g, 0, sizeof *g);
    g->path = path;
    g->base = data;
    g->size = data ? size : 0;
    g->alignment = HERD_GGUF_DEFAULT_ALIGNMENT;
    cursor c = {g->base, g->size, 0, path};
    HERD_TRY(read_header(&c, g));
    g->kv = calloc(g->n_kv ? (size_t)g->n_kv : 1, sizeof *g->kv);
    g->tensors = calloc(g->n_tensors ? (size_t)g->n_tensors : 1, sizeof *g->tensors);
    if (!g->kv || !g->tensors)
        return herd_fail(HERD_E_NOMEM, "%s: out of memory", path);
    for (uint64_t i = 0; i < g->n_kv; i++)
        HERD_TRY(read_kv(&c, &g->kv[i]));
    HERD_TRY(check_unique(path, &g->kv[0].key, sizeof g->kv[0], g->n_kv, "metadata key"));
    HERD_TRY(read_alignment(g));
    for (uint64_t i = 0; i < g->n_tensors; i++)
        HERD_TRY(read_tensor_info(&c, &g->tensors[i]));
    HERD_TRY(check_unique(path, &g->tensors[0].name, sizeof g->tensors[0], g->n_tensors,
                          "tensor"));
    return place_tensors(g, c.pos);
}

void herd_gguf_free(herd_gguf *g)
{
    free(g->kv);
    free(g->tensors);
    g->kv = NULL;
    g->tensors = NULL;
    g->n_kv = g->n_tensors = 0;
}

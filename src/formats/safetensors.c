/* Reading safetensors files: map the file, parse the JSON header with cJSON,
 * check every entry against the file, then hand out tensors that point into
 * the map (see safetensors.h for the layout). */
#include "formats/safetensors.h"
#include "base/error.h"
#include <stdlib.h>
#include <string.h>

/* Integers above 2^53 do not survive a trip through a JSON double. */
#define MAX_JSON_INT 9007199254740992.0

static const struct { const char *name; size_t size; } dtypes[] = {
    {"BOOL", 1}, {"U8", 1}, {"I8", 1}, {"F8_E5M2", 1}, {"F8_E4M3", 1},
    {"I16", 2}, {"U16", 2}, {"F16", 2}, {"BF16", 2},
    {"I32", 4}, {"U32", 4}, {"F32", 4}, {"I64", 8}, {"U64", 8}, {"F64", 8},
};

static size_t dtype_size(const char *name)
{
    for (size_t i = 0; i < sizeof dtypes / sizeof *dtypes; i++)
        if (strcmp(dtypes[i].name, name) == 0)
            return dtypes[i].size;
    return 0;
}

const char *herd_st_dtype_name(herd_type t)
{
    switch (t) {
    case HERD_TYPE_F32: return "F32";
    case HERD_TYPE_F16: return "F16";
    case HERD_TYPE_BF16: return "BF16";
    default: return NULL; /* safetensors has no block types */
    }
}

/* A JSON number that is a non-negative integer a double holds exactly. */
static int json_uint(const cJSON *v, uint64_t *out)
{
    if (!cJSON_IsNumber(v))
        return 0;
    double d = v->valuedouble;
    if (!(d >= 0) || d > MAX_JSON_INT || d != (double)(uint64_t)d)
        return 0;
    *out = (uint64_t)d;
    return 1;
}

static herd_status parse_shape(const herd_st_file *f, const cJSON *sh, herd_st_entry *e,
                               uint64_t *bytes)
{
    const char *name = e->name;
    if (!cJSON_IsArray(sh))
        return herd_fail(HERD_E_FORMAT, "%s: tensor %s: shape is not an array", f->path, name);
    int n = cJSON_GetArraySize(sh);
    if (n > HERD_ST_MAX_DIMS)
        return herd_fail(HERD_E_UNSUPPORTED, "%s: tensor %s has %d dimensions, herd reads "
                         "at most %d", f->path, name, n, HERD_ST_MAX_DIMS);
    uint64_t count = 1;
    const cJSON *d;
    e->n_dims = 0;
    cJSON_ArrayForEach(d, sh) {
        uint64_t v;
        if (!json_uint(d, &v))
            return herd_fail(HERD_E_FORMAT, "%s: tensor %s: shape entry %d is not a "
                             "non-negative integer", f->path, name, e->n_dims);
        if (v != 0 && count > UINT64_MAX / v)
            return herd_fail(HERD_E_FORMAT, "%s: tensor %s: shape is too large", f->path, name);
        count *= v;
        e->shape[e->n_dims++] = (int64_t)v;
    }
    if (count > UINT64_MAX / e->elem_size)
        return herd_fail(HERD_E_FORMAT, "%s: tensor %s: shape is too large", f->path, name);
    *bytes = count * e->elem_size;
    return HERD_OK;
}

static herd_status parse_offsets(const herd_st_file *f, const cJSON *off, herd_st_entry *e,
                                 uint64_t bytes)
{
    const char *name = e->name;
    uint64_t b, end;
    if (!cJSON_IsArray(off) || cJSON_GetArraySize(off) != 2 ||
        !json_uint(cJSON_GetArrayItem(off, 0), &b) || !json_uint(cJSON_GetArrayItem(off, 1), &end))
        return herd_fail(HERD_E_FORMAT, "%s: tensor %s: data_offsets is not a pair of "
                         "non-negative integers", f->path, name);
    if (b > end)
        return herd_fail(HERD_E_FORMAT, "%s: tensor %s: data_offsets [%llu, %llu] are "
                         "reversed", f->path, name, (unsigned long long)b,
                         (unsigned long long)end);
    if (end - b != bytes)
        return herd_fail(HERD_E_FORMAT, "%s: tensor %s: data_offsets [%llu, %llu] hold %llu "
                         "bytes but its %s shape needs %llu", f->path, name,
                         (unsigned long long)b, (unsigned long long)end,
                         (unsigned long long)(end - b), e->dtype, (unsigned long long)bytes);
    if (end > f->data_size)
        return herd_fail(HERD_E_FORMAT, "%s: tensor %s: data ends at byte %llu but the file "
                         "holds only %zu bytes of data: truncated", f->path, name,
                         (unsigned long long)end, f->data_size);
    e->data = f->data + b;
    e->size = (size_t)bytes;
    return HERD_OK;
}

static herd_status parse_entry(const herd_st_file *f, const cJSON *j, herd_st_entry *e)
{
    e->name = j->string;
    if (!cJSON_IsObject(j))
        return herd_fail(HERD_E_FORMAT, "%s: tensor %s: not a JSON object", f->path, e->name);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(j, "dtype");
    if (!cJSON_IsString(dt))
        return herd_fail(HERD_E_FORMAT, "%s: tensor %s: no dtype string", f->path, e->name);
    e->dtype = dt->valuestring;
    e->elem_size = dtype_size(e->dtype);
    if (!e->elem_size)
        return herd_fail(HERD_E_UNSUPPORTED, "%s: tensor %s has unknown dtype %.40s", f->path,
                         e->name, e->dtype);
    uint64_t bytes = 0;
    HERD_TRY(parse_shape(f, cJSON_GetObjectItemCaseSensitive(j, "shape"), e, &bytes));
    return parse_offsets(f, cJSON_GetObjectItemCaseSensitive(j, "data_offsets"), e, bytes);
}

static herd_status check_metadata(const herd_st_file *f, const cJSON *md)
{
    if (!cJSON_IsObject(md))
        return herd_fail(HERD_E_FORMAT, "%s: __metadata__ is not a JSON object", f->path);
    const cJSON *v;
    cJSON_ArrayForEach(v, md)
        if (!cJSON_IsString(v))
            return herd_fail(HERD_E_FORMAT, "%s: __metadata__ value %s is not a string",
                             f->path, v->string);
    return HERD_OK;
}

/* Splits the file into length, JSON header and data, and parses the JSON. */
static herd_status parse_header(herd_st_file *f)
{
    const uint8_t *p = f->map.data;
    size_t size = f->map.size;
    if (size < 8)
        return herd_fail(HERD_E_FORMAT, "%s: truncated: %zu bytes, too short for the "
                         "safetensors header length", f->path, size);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = n << 8 | p[i];
    if (n > HERD_ST_MAX_HEADER)
        return herd_fail(HERD_E_FORMAT, "%s: not a safetensors file: header length %llu "
                         "is beyond the %u-byte limit", f->path, (unsigned long long)n,
                         HERD_ST_MAX_HEADER);
    if (n > size - 8)
        return herd_fail(HERD_E_FORMAT, "%s: truncated: the header is %llu bytes but only "
                         "%zu follow", f->path, (unsigned long long)n, size - 8);
    const char *json = (const char *)p + 8, *end = NULL;
    f->header = cJSON_ParseWithLengthOpts(json, (size_t)n, &end, 0);
    if (!f->header)
        return herd_fail(HERD_E_FORMAT, "%s: the header is not valid JSON (near byte %td)",
                         f->path, end ? end - json : (ptrdiff_t)0);
    for (; end < json + n; end++)
        if (!strchr(" \t\r\n", *end) || !*end)
            return herd_fail(HERD_E_FORMAT, "%s: bytes after the header's JSON at byte %td",
                             f->path, end - json);
    if (!cJSON_IsObject(f->header))
        return herd_fail(HERD_E_FORMAT, "%s: the header is not a JSON object", f->path);
    f->data = p + 8 + n;
    f->data_size = size - 8 - (size_t)n;
    return HERD_OK;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const herd_st_entry *)a)->name, ((const herd_st_entry *)b)->name);
}

static herd_status parse_entries(herd_st_file *f)
{
    int n = cJSON_GetArraySize(f->header);
    f->entries = calloc(n ? (size_t)n : 1, sizeof *f->entries);
    if (!f->entries)
        return herd_fail(HERD_E_NOMEM, "%s: out of memory", f->path);
    const cJSON *j;
    cJSON_ArrayForEach(j, f->header) {
        if (strcmp(j->string, "__metadata__") == 0) {
            HERD_TRY(check_metadata(f, j));
            f->metadata = (cJSON *)j;
            continue;
        }
        HERD_TRY(parse_entry(f, j, &f->entries[f->n_entries]));
        f->n_entries++;
    }
    qsort(f->entries, (size_t)f->n_entries, sizeof *f->entries, by_name);
    for (int i = 1; i < f->n_entries; i++)
        if (strcmp(f->entries[i - 1].name, f->entries[i].name) == 0)
            return herd_fail(HERD_E_FORMAT, "%s: tensor %s appears twice", f->path,
                             f->entries[i].name);
    return HERD_OK;
}

herd_status herd_st_open(const char *path, herd_st_file *f)
{
    memset(f, 0, sizeof *f);
    herd_st_file t = {0};
    if (!(t.path = strdup(path)))
        return herd_fail(HERD_E_NOMEM, "out of memory");
    herd_status s = herd_map_file(path, &t.map);
    if (s == HERD_OK)
        s = parse_header(&t);
    if (s == HERD_OK)
        s = parse_entries(&t);
    if (s != HERD_OK) {
        herd_st_close(&t);
        return s;
    }
    *f = t;
    return HERD_OK;
}

void herd_st_close(herd_st_file *f)
{
    cJSON_Delete(f->header);
    herd_unmap(&f->map);
    free(f->entries);
    free(f->path);
    memset(f, 0, sizeof *f);
}

herd_status herd_st_give_map(herd_st_file *f, herd_owned *o)
{
    herd_map m = f->map;
    f->map.data = NULL;
    f->map.size = 0;
    return m.data ? herd_owned_add_map(o, m) : HERD_OK;
}

const herd_st_entry *herd_st_find(const herd_st_file *f, const char *name)
{
    herd_st_entry key = {.name = name};
    if (!f->n_entries)
        return NULL;
    return bsearch(&key, f->entries, (size_t)f->n_entries, sizeof key, by_name);
}

herd_status herd_st_tensor(const herd_st_file *f, const char *name, herd_tensor *out,
                           int *found)
{
    memset(out, 0, sizeof *out);
    *found = 0;
    const herd_st_entry *e = herd_st_find(f, name);
    if (!e)
        return HERD_OK;
    static const herd_type types[] = {HERD_TYPE_F32, HERD_TYPE_F16, HERD_TYPE_BF16};
    size_t i = 0;
    while (i < 3 && strcmp(e->dtype, herd_st_dtype_name(types[i])) != 0)
        i++;
    if (i == 3)
        return herd_fail(HERD_E_UNSUPPORTED, "%s: tensor %s has dtype %s; herd reads F32, "
                         "F16 and BF16", f->path, name, e->dtype);
    if (e->n_dims > 2)
        return herd_fail(HERD_E_UNSUPPORTED, "%s: tensor %s has %d dimensions; a weight "
                         "has at most 2", f->path, name, e->n_dims);
    out->data = e->data;
    out->type = types[i];
    out->rows = e->n_dims == 2 ? e->shape[0] : 1;
    out->cols = e->n_dims == 0 ? 1 : e->shape[e->n_dims - 1];
    *found = 1;
    return HERD_OK;
}

herd_status herd_st_align(herd_tensor *t, herd_owned *o)
{
    size_t es = herd_type_size(t->type);
    if (!t->data || es == 0 || (uintptr_t)t->data % es == 0)
        return HERD_OK;
    size_t n = (size_t)t->rows * (size_t)t->cols * es;
    void *p = herd_owned_alloc(o, n);
    if (!p)
        return herd_fail(HERD_E_NOMEM, "out of memory copying a %zu-byte tensor", n);
    memcpy(p, t->data, n);
    t->data = p;
    return HERD_OK;
}

/* Writing safetensors files the way the safetensors library lays them out:
 * the header padded with spaces to a multiple of 8, then the data with no
 * gaps, widest element types first, so that every tensor is aligned. */
#include "formats/safetensors.h"
#include "base/error.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static herd_status check_tensors(const char *path, const herd_st_tensor_out *t, int n)
{
    for (int i = 0; i < n; i++) {
        if (!t[i].name || strcmp(t[i].name, "__metadata__") == 0)
            return herd_fail(HERD_E_ARG, "%s: tensor %d has no usable name", path, i);
        if (!herd_st_dtype_name(t[i].type))
            return herd_fail(HERD_E_ARG, "%s: tensor %s: type %d has no safetensors dtype",
                             path, t[i].name, (int)t[i].type);
        if (t[i].n_dims < 0 || t[i].n_dims > HERD_ST_MAX_DIMS)
            return herd_fail(HERD_E_ARG, "%s: tensor %s: %d dimensions", path, t[i].name,
                             t[i].n_dims);
        size_t bytes = herd_type_size(t[i].type);
        for (int d = 0; d < t[i].n_dims; d++) {
            int64_t v = t[i].shape[d];
            if (v < 0 || (v > 0 && bytes > (SIZE_MAX >> 1) / (uint64_t)v))
                return herd_fail(HERD_E_ARG, "%s: tensor %s: impossible shape", path,
                                 t[i].name);
            bytes *= (size_t)v;
        }
        for (int j = 0; j < i; j++)
            if (strcmp(t[i].name, t[j].name) == 0)
                return herd_fail(HERD_E_ARG, "%s: tensor %s given twice", path, t[i].name);
    }
    return HERD_OK;
}

static size_t n_bytes(const herd_st_tensor_out *t)
{
    size_t n = herd_type_size(t->type);
    for (int d = 0; d < t->n_dims; d++)
        n *= (size_t)t->shape[d];
    return n;
}

/* order: tensor indices, widest element type first, otherwise as given. */
static void layout(const herd_st_tensor_out *t, int n, int *order)
{
    int k = 0;
    for (size_t w = 8; w >= 1; w /= 2)
        for (int i = 0; i < n; i++)
            if (herd_type_size(t[i].type) == w)
                order[k++] = i;
}

static cJSON *entry(const herd_st_tensor_out *t, size_t begin)
{
    cJSON *e = cJSON_CreateObject(), *shape = cJSON_CreateArray(), *off = cJSON_CreateArray();
    if (!e || !shape || !off) {
        cJSON_Delete(e);
        cJSON_Delete(shape);
        cJSON_Delete(off);
        return NULL;
    }
    cJSON_AddStringToObject(e, "dtype", herd_st_dtype_name(t->type));
    for (int d = 0; d < t->n_dims; d++)
        cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t->shape[d]));
    cJSON_AddItemToObject(e, "shape", shape);
    cJSON_AddItemToArray(off, cJSON_CreateNumber((double)begin));
    cJSON_AddItemToArray(off, cJSON_CreateNumber((double)(begin + n_bytes(t))));
    cJSON_AddItemToObject(e, "data_offsets", off);
    return e;
}

/* The header JSON, unformatted (malloc'd), or NULL when out of memory. */
static char *header_json(const herd_st_tensor_out *t, int n, const int *order,
                         const cJSON *metadata)
{
    cJSON *h = cJSON_CreateObject();
    int ok = h != NULL;
    if (ok && metadata) {
        cJSON *md = cJSON_Duplicate(metadata, 1);
        ok = md && cJSON_AddItemToObject(h, "__metadata__", md);
        if (!ok)
            cJSON_Delete(md);
    }
    size_t *begin = malloc((n ? (size_t)n : 1) * sizeof *begin), off = 0;
    for (int k = 0; begin && k < n; k++) {
        begin[order[k]] = off;
        off += n_bytes(&t[order[k]]);
    }
    for (int i = 0; ok && begin && i < n; i++) {
        cJSON *e = entry(&t[i], begin[i]);
        ok = e && cJSON_AddItemToObject(h, t[i].name, e);
        if (!ok)
            cJSON_Delete(e);
    }
    char *s = ok && begin ? cJSON_PrintUnformatted(h) : NULL;
    free(begin);
    cJSON_Delete(h);
    return s;
}

static herd_status write_all(FILE *f, const char *json, const herd_st_tensor_out *t,
                             const int *order, int n)
{
    size_t len = strlen(json), padded = (len + 7) / 8 * 8;
    uint8_t le[8];
    for (int i = 0; i < 8; i++)
        le[i] = (uint8_t)((uint64_t)padded >> (8 * i));
    int ok = fwrite(le, 1, 8, f) == 8 && fwrite(json, 1, len, f) == len;
    for (size_t i = len; ok && i < padded; i++)
        ok = fputc(' ', f) != EOF;
    for (int k = 0; ok && k < n; k++) {
        size_t b = n_bytes(&t[order[k]]);
        ok = b == 0 || fwrite(t[order[k]].data, 1, b, f) == b;
    }
    return ok ? HERD_OK : HERD_E_IO;
}

herd_status herd_st_write(const char *path, const herd_st_tensor_out *t, int n,
                          const cJSON *metadata)
{
    HERD_TRY(check_tensors(path, t, n));
    if (metadata && !cJSON_IsObject(metadata))
        return herd_fail(HERD_E_ARG, "%s: metadata is not a JSON object", path);
    int *order = malloc((n ? (size_t)n : 1) * sizeof *order);
    char *json = NULL, tmp[4096];
    if (order) {
        layout(t, n, order);
        json = header_json(t, n, order, metadata);
    }
    if (!json) {
        free(order);
        return herd_fail(HERD_E_NOMEM, "%s: out of memory", path);
    }
    herd_status s = HERD_OK;
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        s = herd_fail(HERD_E_ARG, "%s: path too long", path);
    FILE *f = s == HERD_OK ? fopen(tmp, "wb") : NULL;
    if (s == HERD_OK && !f)
        s = herd_fail(HERD_E_IO, "%s: cannot create", tmp);
    if (f) {
        s = write_all(f, json, t, order, n);
        if (fclose(f) != 0 || s != HERD_OK)
            s = herd_fail(HERD_E_IO, "%s: write error", tmp);
        if (s == HERD_OK && rename(tmp, path) != 0)
            s = herd_fail(HERD_E_IO, "%s: cannot rename to %s", tmp, path);
        if (s != HERD_OK)
            remove(tmp);
    }
    free(json);
    free(order);
    return s;
}

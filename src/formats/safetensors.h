/* safetensors: Hugging Face's tensor file, read through mmap and written.
 *
 * Layout: an 8-byte little-endian u64 N, then N bytes of JSON
 *   {"name": {"dtype": "F32", "shape": [rows, cols], "data_offsets": [b, e]},
 *    ..., "__metadata__": {"key": "value", ...}}
 * then the data; offsets count from the first byte after the JSON.
 * herd_st_open checks every entry against the file before anything is read:
 * a known dtype, non-negative integer shapes, e - b == product(shape) * size,
 * b <= e <= data size. */
#ifndef HERD_FORMATS_SAFETENSORS_H
#define HERD_FORMATS_SAFETENSORS_H
#include <cjson/cJSON.h>
#include <stdint.h>
#include "base/file.h"
#include "base/owned.h"
#include "model/tensor.h"

#define HERD_ST_MAX_DIMS 8
/* The safetensors library refuses larger headers; so does herd. */
#define HERD_ST_MAX_HEADER 100000000u

typedef struct {
    const char *name;       /* points into the file's header */
    const char *dtype;      /* "F32", "BF16", "I64", ... */
    size_t elem_size;       /* bytes per element of dtype */
    int n_dims;
    int64_t shape[HERD_ST_MAX_DIMS];
    const uint8_t *data;    /* may be unaligned: see herd_st_align */
    size_t size;            /* bytes */
} herd_st_entry;

typedef struct {
    char *path;
    herd_map map;           /* emptied by herd_st_give_map */
    cJSON *header;
    cJSON *metadata;        /* "__metadata__" inside header, or NULL */
    const uint8_t *data;    /* the byte after the header */
    size_t data_size;
    herd_st_entry *entries; /* sorted by name */
    int n_entries;
} herd_st_file;

/* Maps and checks a file. On failure f is left empty (nothing to close). */
herd_status herd_st_open(const char *path, herd_st_file *f);
/* Frees the header and unmaps the file (unless the map was given away). */
void herd_st_close(herd_st_file *f);
/* Hands the file's map to o, so that tensors stay valid after
 * herd_st_close. */
herd_status herd_st_give_map(herd_st_file *f, herd_owned *o);

/* The entry of a tensor, or NULL when the file has none of that name. */
const herd_st_entry *herd_st_find(const herd_st_file *f, const char *name);
/* A tensor as the model takes it: 0-, 1- or 2-D (a vector is rows 1) in
 * F32, F16 or BF16; other dtypes or ranks fail HERD_E_UNSUPPORTED. *found
 * is 0 (and out zeroed) when the file lacks the name, which is no error. */
herd_status herd_st_tensor(const herd_st_file *f, const char *name, herd_tensor *out,
                           int *found);
/* Copies t into memory o owns when its data is not aligned to its element
 * size (the format does not promise alignment). */
herd_status herd_st_align(herd_tensor *t, herd_owned *o);

/* The safetensors dtype of a herd type ("F32", "F16", "BF16"), NULL if
 * none. */
const char *herd_st_dtype_name(herd_type t);

/* ---- writing (safetensors_write.c) ---- */

typedef struct {
    const char *name;
    herd_type type;
    int n_dims;
    int64_t shape[HERD_ST_MAX_DIMS];
    const void *data;       /* product(shape) elements of type */
} herd_st_tensor_out;

/* Writes n tensors (and string metadata, may be NULL) to path, laid out as
 * the safetensors library does: header padded with spaces to a multiple of
 * 8, data contiguous with the widest types first, so every tensor is
 * aligned. Writes path.tmp and renames it. */
herd_status herd_st_write(const char *path, const herd_st_tensor_out *t, int n,
                          const cJSON *metadata);

#endif

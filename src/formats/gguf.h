/* GGUF (v2 and v3): a bounds-checked parser over a file map, typed key
 * getters, and a writer.
 *
 * Layout (all little-endian): "GGUF", u32 version, u64 tensor count, u64 kv
 * count; kv pairs (string key, u32 value type, value); tensor infos (string
 * name, u32 n_dims, u64 ne[n_dims], u32 ggml type, u64 offset); padding to
 * general.alignment; the data section, each tensor at its offset from the
 * section's start. A string is a u64 length and that many bytes (no NUL).
 * An array is a u32 element type, a u64 count and the elements. */
#ifndef HERD_FORMATS_GGUF_H
#define HERD_FORMATS_GGUF_H
#include <stddef.h>
#include <stdint.h>
#include "herd.h"
#include "model/model.h"

enum {
    HERD_GGUF_UINT8 = 0, HERD_GGUF_INT8, HERD_GGUF_UINT16, HERD_GGUF_INT16,
    HERD_GGUF_UINT32, HERD_GGUF_INT32, HERD_GGUF_FLOAT32, HERD_GGUF_BOOL,
    HERD_GGUF_STRING, HERD_GGUF_ARRAY, HERD_GGUF_UINT64, HERD_GGUF_INT64,
    HERD_GGUF_FLOAT64, HERD_GGUF_NTYPES
};

#define HERD_GGUF_MAX_DIMS 4
#define HERD_GGUF_DEFAULT_ALIGNMENT 32

/* A string inside the map: not NUL-terminated. */
typedef struct {
    const char *p;
    size_t len;
} herd_gguf_str;

typedef struct {
    herd_gguf_str key;
    uint32_t type;       /* HERD_GGUF_* */
    uint32_t arr_type;   /* element type when type is ARRAY */
    uint64_t arr_n;      /* element count when type is ARRAY */
    const uint8_t *val;  /* the value; for an array its first element */
} herd_gguf_kv;

typedef struct {
    herd_gguf_str name;
    uint32_t n_dims;
    int64_t ne[HERD_GGUF_MAX_DIMS]; /* ne[0] is the fastest; unused dims 1 */
    uint32_t type;                  /* ggml type */
    uint64_t offset;                /* from the start of the data section */
    uint64_t nbytes;
    const void *data;               /* inside the map */
} herd_gguf_tensor;

typedef struct {
    const char *path;    /* for messages; not owned */
    const uint8_t *base;
    size_t size;
    uint32_t version;
    uint64_t n_kv, n_tensors;
    herd_gguf_kv *kv;
    herd_gguf_tensor *tensors;
    uint64_t alignment;
    size_t data_start;   /* offset of the data section in the file */
} herd_gguf;

/* Parses size bytes at data (the whole file). Every string, array, tensor
 * info and tensor's data is checked to lie inside the buffer; tensors must
 * be aligned and must not overlap. The result points into data, which must
 * outlive it. Free with herd_gguf_free (also after a failure). */
herd_status herd_gguf_parse(const char *path, const void *data, size_t size,
                            herd_gguf *g);
void herd_gguf_free(herd_gguf *g);

/* Name and size of a ggml tensor type. blck 0: a valid ggml type whose
 * layout herd does not know; returns 0 for a number that is no ggml type. */
int herd_ggml_type_info(uint32_t type, const char **name, uint32_t *blck,
                        uint32_t *bytes);

/* ---- lookups ---- */
typedef enum {
    HERD_GGUF_FOUND = 0,
    HERD_GGUF_MISSING = 1,
    HERD_GGUF_WRONG_TYPE = 2
} herd_gguf_lookup;

const herd_gguf_kv *herd_gguf_find(const herd_gguf *g, const char *key);
const herd_gguf_tensor *herd_gguf_find_tensor(const herd_gguf *g, const char *name);
const char *herd_gguf_type_name(uint32_t vtype);

/* Any integer type whose value fits in int64 (a uint64 above INT64_MAX is
 * WRONG_TYPE). */
herd_gguf_lookup herd_gguf_get_int(const herd_gguf *g, const char *key, int64_t *out);
/* FLOAT32 or FLOAT64. */
herd_gguf_lookup herd_gguf_get_float(const herd_gguf *g, const char *key, double *out);
herd_gguf_lookup herd_gguf_get_bool(const herd_gguf *g, const char *key, int *out);
herd_gguf_lookup herd_gguf_get_str(const herd_gguf *g, const char *key, herd_gguf_str *out);
/* An array of elem_type (any element type when elem_type < 0). */
herd_gguf_lookup herd_gguf_get_array(const herd_gguf *g, const char *key, int elem_type,
                                     const herd_gguf_kv **out);
/* Compares a map string with a C string. */
int herd_gguf_str_eq(herd_gguf_str s, const char *c);

/* Element i of a parsed array of fixed-size numbers, as double / int64
 * (0 when i is out of range or the elements are not numbers). */
double herd_gguf_arr_float(const herd_gguf_kv *kv, uint64_t i);
int64_t herd_gguf_arr_int(const herd_gguf_kv *kv, uint64_t i);
/* Fills p[i], len[i] for each of the arr_n strings of a STRING array
 * (nothing for another type). */
void herd_gguf_arr_strings(const herd_gguf_kv *kv, const char **p, size_t *len);

/* ---- loading ---- */

/* m->tok from tokenizer.ggml.* metadata when tokenizer.ggml.model is
 * "llama" (SentencePiece) or "gpt2" (Llama 3's byte-level BPE: tokens,
 * token_type, merges; tokenizer.ggml.pre absent or "llama-bpe"); left NULL
 * for no tokenizer or another model. */
herd_status herd_gguf_load_tokenizer(const herd_gguf *g, herd_model *m);

/* ---- writing ---- */

/* Writes m as GGUF v3 with llama metadata and its tokenizer (when it has
 * one). Matrices are stored as type (F32, F16 or BF16); norm vectors are
 * always F32. q/k rows are written in Meta's adjacent-pair order (permuted
 * when m->cfg.rope_layout is HF). Writes PATH.tmp, syncs and renames it, so
 * PATH is never left half written. */
herd_status herd_save_gguf(const herd_model *m, const char *path, herd_type type);

/* The q/k row permutation between rotary layouts, over one projection of
 * n_heads heads of head_dim rows each. Within a head, Meta row 2i+j
 * (j = 0, 1) holds what HF keeps in row i + j * head_dim/2.
 * herd_rope_row_hf_to_meta(r) gives, for Meta row r, the HF row it comes
 * from; herd_rope_row_meta_to_hf(r) gives, for HF row r, the Meta row it
 * comes from. Each is the other's inverse. */
int64_t herd_rope_row_hf_to_meta(int64_t r, int64_t head_dim);
int64_t herd_rope_row_meta_to_hf(int64_t r, int64_t head_dim);

#endif

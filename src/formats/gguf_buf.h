/* A growing byte buffer for the GGUF writer: little-endian numbers,
 * strings and metadata pairs. An allocation failure sets oom and makes
 * every later call do nothing. */
#ifndef HERD_FORMATS_GGUF_BUF_H
#define HERD_FORMATS_GGUF_BUF_H
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint8_t *p;
    size_t n, cap;
    int oom;
    uint64_t n_kv;   /* metadata pairs written */
} herd_gbuf;

void herd_gbuf_put(herd_gbuf *b, const void *d, size_t n);
void herd_gbuf_u32(herd_gbuf *b, uint32_t v);
void herd_gbuf_u64(herd_gbuf *b, uint64_t v);
void herd_gbuf_f32(herd_gbuf *b, float v);
void herd_gbuf_str(herd_gbuf *b, const char *s, size_t len);
void herd_gbuf_free(herd_gbuf *b);

/* A metadata pair: key, value type, value. */
void herd_gbuf_kv_str(herd_gbuf *b, const char *key, const char *val);
void herd_gbuf_kv_u32(herd_gbuf *b, const char *key, uint32_t v);
void herd_gbuf_kv_f32(herd_gbuf *b, const char *key, float v);
void herd_gbuf_kv_bool(herd_gbuf *b, const char *key, int v);
/* An array pair's head; the caller then puts n elements of elem_type. */
void herd_gbuf_kv_array(herd_gbuf *b, const char *key, uint32_t elem_type, uint64_t n);

/* The llama metadata of a model (general.*, llama.*, and tokenizer.ggml.*
 * when it has a tokenizer). */
struct herd_model;
void herd_gguf_put_metadata(herd_gbuf *b, const struct herd_model *m, const char *name,
                            uint32_t file_type);

#endif

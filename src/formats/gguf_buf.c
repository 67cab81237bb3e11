#include "formats/gguf_buf.h"
#include "formats/gguf.h"
#include <stdlib.h>
#include <string.h>

void herd_gbuf_put(herd_gbuf *b, const void *d, size_t n)
{
    if (b->oom || n == 0)
        return;
    if (n > b->cap - b->n) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap - b->n < n)
            cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
}

static void put_le(herd_gbuf *b, uint64_t v, int n)
{
    uint8_t d[8];
    for (int i = 0; i < n; i++)
        d[i] = (uint8_t)(v >> (8 * i));
    herd_gbuf_put(b, d, (size_t)n);
}

void herd_gbuf_u32(herd_gbuf *b, uint32_t v) { put_le(b, v, 4); }
void herd_gbuf_u64(herd_gbuf *b, uint64_t v) { put_le(b, v, 8); }

void herd_gbuf_f32(herd_gbuf *b, float v)
{
    uint32_t u;
    memcpy(&u, &v, 4);
    put_le(b, u, 4);
}

void herd_gbuf_str(herd_gbuf *b, const char *s, size_t len)
{
    herd_gbuf_u64(b, len);
    herd_gbuf_put(b, s, len);
}

void herd_gbuf_free(herd_gbuf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

static void key(herd_gbuf *b, const char *k, uint32_t type)
{
    herd_gbuf_str(b, k, strlen(k));
    herd_gbuf_u32(b, type);
    b->n_kv++;
}

void herd_gbuf_kv_str(herd_gbuf *b, const char *k, const char *val)
{
    key(b, k, HERD_GGUF_STRING);
    herd_gbuf_str(b, val, strlen(val));
}

void herd_gbuf_kv_u32(herd_gbuf *b, const char *k, uint32_t v)
{
    key(b, k, HERD_GGUF_UINT32);
    herd_gbuf_u32(b, v);
}

void herd_gbuf_kv_f32(herd_gbuf *b, const char *k, float v)
{
    key(b, k, HERD_GGUF_FLOAT32);
    herd_gbuf_f32(b, v);
}

void herd_gbuf_kv_bool(herd_gbuf *b, const char *k, int v)
{
    key(b, k, HERD_GGUF_BOOL);
    uint8_t c = v ? 1 : 0;
    herd_gbuf_put(b, &c, 1);
}

void herd_gbuf_kv_array(herd_gbuf *b, const char *k, uint32_t elem_type, uint64_t n)
{
    key(b, k, HERD_GGUF_ARRAY);
    herd_gbuf_u32(b, elem_type);
    herd_gbuf_u64(b, n);
}

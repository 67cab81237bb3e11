/* GGUF LoRA adapters as llama.cpp's convert_lora_to_gguf.py writes them and
 * its llama_adapter_lora_init reads them (formats/adapter.h): metadata
 * general.architecture "llama", general.type "adapter", adapter.type
 * "lora", adapter.lora.alpha; tensors blk.L.<matrix>.weight.lora_a with
 * ne [in, r] and .lora_b with ne [r, out], q/k rows in Meta's order. */
#include "formats/adapter.h"
#include "formats/gguf.h"
#include "formats/gguf_buf.h"
#include "base/error.h"
#include "base/file.h"
#include "base/half.h"
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ALIGN HERD_GGUF_DEFAULT_ALIGNMENT

/* ---- writing ---- */

typedef struct {
    char name[64];
    const float *data;
    int64_t ne0, ne1;   /* ne0: values per row */
} lora_tensor;

/* The tensors of a in file order: per layer and matrix, lora_a then lora_b. */
static int collect(const herd_adapter *a, lora_tensor *t)
{
    int n = 0;
    for (int l = 0; l < a->n_layers; l++)
        for (int i = 0; i < HERD_LORA_MATS; i++) {
            const herd_lora_w *w = &a->w[l * HERD_LORA_MATS + i];
            if (!w->a || !w->b)
                continue;
            snprintf(t[n].name, sizeof t[n].name, "blk.%d.%s.weight.lora_a", l,
                     herd_lora_mat_names[i]);
            t[n].data = w->a;
            t[n].ne0 = w->in;
            t[n++].ne1 = a->r;
            snprintf(t[n].name, sizeof t[n].name, "blk.%d.%s.weight.lora_b", l,
                     herd_lora_mat_names[i]);
            t[n].data = w->b;
            t[n].ne0 = a->r;
            t[n++].ne1 = w->out;
        }
    return n;
}

static uint64_t padded(uint64_t n)
{
    return (n + ALIGN - 1) / ALIGN * ALIGN;
}

static void put_header(herd_gbuf *h, const herd_adapter *a, const lora_tensor *t, int n,
                       herd_type type)
{
    herd_gbuf meta = {0};
    herd_gbuf_kv_str(&meta, "general.architecture", "llama");
    herd_gbuf_kv_str(&meta, "general.type", "adapter");
    herd_gbuf_kv_str(&meta, "general.name", "LoRA adapter");
    herd_gbuf_kv_u32(&meta, "general.alignment", ALIGN);
    herd_gbuf_kv_u32(&meta, "general.file_type", type == HERD_TYPE_F16 ? 1 : 0);
    herd_gbuf_kv_str(&meta, "adapter.type", "lora");
    herd_gbuf_kv_f32(&meta, "adapter.lora.alpha", a->alpha);
    herd_gbuf_put(h, "GGUF", 4);
    herd_gbuf_u32(h, 3);
    herd_gbuf_u64(h, (uint64_t)n);
    herd_gbuf_u64(h, meta.n_kv);
    herd_gbuf_put(h, meta.p, meta.n);
    h->oom |= meta.oom;
    herd_gbuf_free(&meta);
    uint64_t off = 0;
    for (int k = 0; k < n; k++) {
        herd_gbuf_str(h, t[k].name, strlen(t[k].name));
        herd_gbuf_u32(h, 2);
        herd_gbuf_u64(h, (uint64_t)t[k].ne0);
        herd_gbuf_u64(h, (uint64_t)t[k].ne1);
        herd_gbuf_u32(h, (uint32_t)type);
        herd_gbuf_u64(h, off);
        off += padded((uint64_t)(t[k].ne0 * t[k].ne1) * herd_type_size(type));
    }
    static const char zeros[ALIGN];
    herd_gbuf_put(h, zeros, (ALIGN - h->n % ALIGN) % ALIGN);
}

/* One tensor's data, row by row (converted to F16 in buf), then padding. */
static int write_tensor(FILE *f, const lora_tensor *t, herd_type type, uint16_t *buf)
{
    for (int64_t r = 0; r < t->ne1; r++) {
        const float *row = t->data + r * t->ne0;
        if (type == HERD_TYPE_F32) {
            if (fwrite(row, 4, (size_t)t->ne0, f) != (size_t)t->ne0)
                return -1;
            continue;
        }
        for (int64_t c = 0; c < t->ne0; c++)
            buf[c] = herd_f32_to_f16(row[c]);
        if (fwrite(buf, 2, (size_t)t->ne0, f) != (size_t)t->ne0)
            return -1;
    }
    static const char zeros[ALIGN];
    uint64_t bytes = (uint64_t)(t->ne0 * t->ne1) * herd_type_size(type);
    size_t pad = (size_t)(padded(bytes) - bytes);
    return fwrite(zeros, 1, pad, f) == pad ? 0 : -1;
}

static herd_status write_file(const char *path, const herd_gbuf *h, const lora_tensor *t,
                              int n, herd_type type, uint16_t *buf)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return herd_fail(HERD_E_ARG, "%s: path too long", path);
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return herd_fail(HERD_E_IO, "%s: %s", tmp, strerror(errno));
    int rc = fwrite(h->p, 1, h->n, f) == h->n ? 0 : -1;
    for (int k = 0; k < n && rc == 0; k++)
        rc = write_tensor(f, &t[k], type, buf);
    if (rc == 0 && (fflush(f) != 0 || fsync(fileno(f)) != 0))
        rc = -1;
    int e = errno;
    if (fclose(f) != 0 && rc == 0) {
        rc = -1;
        e = errno;
    }
    if (rc == 0 && rename(tmp, path) != 0) {
        rc = -1;
        e = errno;
    }
    if (rc != 0) {
        unlink(tmp);
        return herd_fail(HERD_E_IO, "%s: write failed: %s", path, strerror(e));
    }
    return HERD_OK;
}

static herd_status check_adapter(const herd_adapter *a, const char *path)
{
    if (a->n_layers < 1 || a->r < 1 || !(a->alpha > 0) || !a->w)
        return herd_fail(HERD_E_ARG, "%s: adapter with %d layers, rank %d, alpha %g", path,
                         a->n_layers, a->r, a->alpha);
    for (int k = 0; k < a->n_layers * HERD_LORA_MATS; k++) {
        const herd_lora_w *w = &a->w[k];
        if (!w->a != !w->b || (w->a && (w->in < 1 || w->out < 1)))
            return herd_fail(HERD_E_ARG, "%s: blk.%d.%s: malformed adapter matrix", path,
                             k / HERD_LORA_MATS, herd_lora_mat_names[k % HERD_LORA_MATS]);
    }
    return HERD_OK;
}

herd_status herd_adapter_save_gguf_opts(const herd_adapter *a, const char *path,
                                        const herd_adapter_save_opts *o)
{
    herd_type type = o ? o->type : HERD_TYPE_F32;
    if (type != HERD_TYPE_F32 && type != HERD_TYPE_F16)
        return herd_fail(HERD_E_ARG, "%s: adapters are written as F32 or F16", path);
    HERD_TRY(check_adapter(a, path));
    lora_tensor *t = calloc((size_t)a->n_layers * HERD_LORA_MATS * 2, sizeof *t);
    if (!t)
        return herd_fail(HERD_E_NOMEM, "%s: out of memory", path);
    int n = collect(a, t);
    int64_t widest = 1;
    for (int k = 0; k < n; k++)
        widest = t[k].ne0 > widest ? t[k].ne0 : widest;
    uint16_t *buf = malloc((size_t)widest * sizeof *buf);
    herd_gbuf h = {0};
    herd_status s = HERD_OK;
    if (n == 0)
        s = herd_fail(HERD_E_ARG, "%s: the adapter has no matrices", path);
    if (s == HERD_OK) {
        put_header(&h, a, t, n, type);
        if (h.oom || !buf)
            s = herd_fail(HERD_E_NOMEM, "%s: out of memory", path);
    }
    if (s == HERD_OK)
        s = write_file(path, &h, t, n, type, buf);
    herd_gbuf_free(&h);
    free(buf);
    free(t);
    return s;
}

herd_status herd_adapter_save_gguf(const herd_adapter *a, const char *path)
{
    return herd_adapter_save_gguf_opts(a, path, NULL);
}

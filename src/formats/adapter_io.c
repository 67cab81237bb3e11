/* What the LoRA adapter readers and writers share (formats/adapter.h):
 * shapes from a config, the fit check, building an adapter tensor by
 * tensor, element conversion, atomic file writes, and herd_adapter_load,
 * which picks the format by the path. */
#include "formats/adapter.h"
#include "base/error.h"
#include "base/file.h"
#include "base/half.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void herd_lora_shape(const herd_config *c, int i, int *out, int *in)
{
    int d = c->dim, kv = c->n_heads > 0 ? d / c->n_heads * c->n_kv_heads : 0;
    int h = c->hidden_dim;
    int outs[HERD_LORA_MATS] = {d, kv, kv, d, h, h, d};
    int ins[HERD_LORA_MATS] = {d, d, d, d, d, d, h};
    *out = outs[i];
    *in = ins[i];
}

herd_status herd_adapter_fits(const herd_adapter *a, const herd_config *cfg, const char *where)
{
    if (a->n_layers != cfg->n_layers)
        return herd_fail(HERD_E_ARG, "%s: adapter for a different base model: %d layers, "
                         "the model has %d", where, a->n_layers, cfg->n_layers);
    for (int l = 0; l < a->n_layers; l++)
        for (int i = 0; i < HERD_LORA_MATS; i++) {
            const herd_lora_w *w = &a->w[l * HERD_LORA_MATS + i];
            int out, in;
            herd_lora_shape(cfg, i, &out, &in);
            if (w->a && (w->out != out || w->in != in))
                return herd_fail(HERD_E_ARG, "%s: adapter for a different base model: "
                                 "blk.%d.%s is %d x %d, the model's %d x %d", where, l,
                                 herd_lora_mat_names[i], w->out, w->in, out, in);
        }
    return HERD_OK;
}

herd_status herd_adapter_empty(int n_layers, int r, float alpha, herd_adapter **out)
{
    *out = NULL;
    if (n_layers < 1 || r < 1 || !(alpha > 0))
        return herd_fail(HERD_E_ARG, "adapter: %d layers, rank %d, alpha %g", n_layers, r,
                         alpha);
    herd_adapter *a = calloc(1, sizeof *a);
    if (!a)
        return herd_fail(HERD_E_NOMEM, "out of memory");
    a->n_layers = n_layers;
    a->r = r;
    a->alpha = alpha;
    a->w = herd_owned_alloc(&a->owned, (size_t)n_layers * HERD_LORA_MATS * sizeof *a->w);
    if (!a->w) {
        herd_adapter_free(a);
        return herd_fail(HERD_E_NOMEM, "out of memory");
    }
    *out = a;
    return HERD_OK;
}

herd_status herd_adapter_alloc_w(herd_adapter *a, int l, int i, int out, int in)
{
    herd_lora_w *w = &a->w[l * HERD_LORA_MATS + i];
    w->out = out;
    w->in = in;
    w->a = herd_owned_alloc(&a->owned, (size_t)a->r * (size_t)in * sizeof(float));
    w->b = herd_owned_alloc(&a->owned, (size_t)out * (size_t)a->r * sizeof(float));
    if (!w->a || !w->b)
        return herd_fail(HERD_E_NOMEM, "out of memory for an adapter");
    a->targets |= 1u << i;
    return HERD_OK;
}

void herd_adapter_to_f32(float *dst, const void *src, herd_type t, size_t n)
{
    const uint8_t *p = src;
    for (size_t k = 0; k < n; k++) {
        if (t == HERD_TYPE_F32) {
            memcpy(&dst[k], p + 4 * k, 4);
        } else {
            uint16_t h;
            memcpy(&h, p + 2 * k, 2);
            dst[k] = t == HERD_TYPE_F16 ? herd_f16_to_f32(h) : herd_bf16_to_f32(h);
        }
    }
}

herd_status herd_write_file_atomic(const char *path, const void *data, size_t len)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return herd_fail(HERD_E_ARG, "%s: path too long", path);
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return herd_fail(HERD_E_IO, "%s: %s", tmp, strerror(errno));
    int ok = fwrite(data, 1, len, f) == len && fflush(f) == 0 && fsync(fileno(f)) == 0;
    int e = errno;
    if (fclose(f) != 0 && ok) {
        ok = 0;
        e = errno;
    }
    if (ok && rename(tmp, path) != 0) {
        ok = 0;
        e = errno;
    }
    if (!ok) {
        unlink(tmp);
        return herd_fail(HERD_E_IO, "%s: write failed: %s", path, strerror(e));
    }
    return HERD_OK;
}

herd_status herd_adapter_load(const char *path, const herd_config *cfg, herd_adapter **out)
{
    *out = NULL;
    if (herd_is_dir(path)) {
        if (!cfg)
            return herd_fail(HERD_E_ARG, "%s: a PEFT adapter folder needs the model's config",
                             path);
        return herd_adapter_load_peft(path, cfg, out);
    }
    return herd_adapter_load_gguf_cfg(path, cfg, out);
}

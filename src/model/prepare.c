/* Makes every weight a float32 array the kernels can read: F16 and BF16
 * tensors are widened into memory the model owns; F32 tensors are used in
 * place (in the file's map) unless misaligned. */
#include "model/model.h"
#include "base/error.h"
#include "base/half.h"
#include <stdint.h>
#include <string.h>

static herd_status to_f32(herd_model *m, herd_tensor *t)
{
    if (!t->data)
        return HERD_OK;
    if (t->type == HERD_TYPE_F32 && (uintptr_t)t->data % sizeof(float) == 0)
        return HERD_OK;
    size_t n = (size_t)t->rows * (size_t)t->cols;
    float *f = herd_owned_alloc(&m->owned, n * sizeof *f);
    if (!f)
        return herd_fail(HERD_E_NOMEM, "out of memory widening a %zu-element tensor", n);
    const uint8_t *src = t->data;
    for (size_t i = 0; i < n; i++) {
        uint16_t h;
        switch (t->type) {
        case HERD_TYPE_F32:
            memcpy(&f[i], src + 4 * i, 4);
            break;
        case HERD_TYPE_F16:
            memcpy(&h, src + 2 * i, 2);
            f[i] = herd_f16_to_f32(h);
            break;
        case HERD_TYPE_BF16:
            memcpy(&h, src + 2 * i, 2);
            f[i] = herd_bf16_to_f32(h);
            break;
        }
    }
    t->data = f;
    t->type = HERD_TYPE_F32;
    return HERD_OK;
}

herd_status herd_model_prepare(herd_model *m)
{
    herd_weights *w = &m->w;
    HERD_TRY(to_f32(m, &w->tok_embeddings));
    HERD_TRY(to_f32(m, &w->output_norm));
    HERD_TRY(to_f32(m, &w->output));
    for (int l = 0; l < m->cfg.n_layers; l++) {
        herd_layer_weights *L = &w->layers[l];
        herd_tensor *all[] = {&L->attn_norm, &L->wq, &L->wk, &L->wv, &L->wo,
                              &L->ffn_norm, &L->w1, &L->w2, &L->w3};
        for (size_t i = 0; i < sizeof all / sizeof *all; i++)
            HERD_TRY(to_f32(m, all[i]));
    }
    return HERD_OK;
}

/* Makes the weights ready for the kernels without copying what need not be
 * copied: matrices stay in the file's map in their own type (F32, F16,
 * BF16 or a block type), which the kernels read directly; vectors (the
 * norms) are widened to float32; a tensor whose data is misaligned for its
 * type is copied into aligned memory the model owns. */
#include "model/model.h"
#include "base/error.h"
#include "quant/quant.h"
#include <stdint.h>
#include <string.h>

static herd_status widen(herd_model *m, herd_tensor *t)
{
    size_t n = (size_t)t->rows * (size_t)t->cols;
    const herd_qtraits *q = herd_qtraits_get((herd_qtype)t->type);
    float *f = herd_owned_alloc(&m->owned, n * sizeof *f);
    if (!f)
        return herd_fail(HERD_E_NOMEM, "out of memory widening a %zu-element tensor", n);
    if (!q)
        return herd_fail(HERD_E_UNSUPPORTED, "tensor type %d", (int)t->type);
    size_t row = herd_row_bytes(t->type, t->cols);
    for (int64_t r = 0; r < t->rows; r++)
        q->to_float((const uint8_t *)t->data + (size_t)r * row, f + (size_t)r * t->cols,
                    t->cols);
    t->data = f;
    t->type = HERD_TYPE_F32;
    return HERD_OK;
}

/* The alignment the kernels read a type with: its element, or 4 bytes for
 * blocks (their scales are halves and floats). */
static size_t alignment(herd_type t)
{
    size_t e = herd_type_size(t);
    return e ? e : 4;
}

static herd_status prepare(herd_model *m, herd_tensor *t)
{
    if (!t->data || (t->type == HERD_TYPE_F32 && (uintptr_t)t->data % 4 == 0))
        return HERD_OK;
    if (t->rows == 1 || (uintptr_t)t->data % alignment(t->type) != 0) {
        if (t->rows == 1)
            return widen(m, t);
        size_t bytes = (size_t)t->rows * herd_row_bytes(t->type, t->cols);
        void *copy = herd_owned_alloc(&m->owned, bytes);
        if (!copy)
            return herd_fail(HERD_E_NOMEM, "out of memory copying a misaligned tensor");
        memcpy(copy, t->data, bytes);
        t->data = copy;
    }
    return HERD_OK;
}

herd_status herd_model_prepare(herd_model *m)
{
    herd_weights *w = &m->w;
    HERD_TRY(prepare(m, &w->tok_embeddings));
    HERD_TRY(prepare(m, &w->output_norm));
    HERD_TRY(prepare(m, &w->output));
    for (int l = 0; l < m->cfg.n_layers; l++) {
        herd_layer_weights *L = &w->layers[l];
        herd_tensor *all[] = {&L->attn_norm, &L->wq, &L->wk, &L->wv, &L->wo,
                              &L->ffn_norm, &L->w1, &L->w2, &L->w3};
        for (size_t i = 0; i < sizeof all / sizeof *all; i++)
            HERD_TRY(prepare(m, all[i]));
    }
    return HERD_OK;
}

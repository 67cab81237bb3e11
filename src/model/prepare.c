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

/* Sets x_f16 on the F16 matrices of a model whose layer matrices include a
 * block type (a Q8_0, Q4_0 or K-quant file with a few F16 matrices, as
 * llama-quantize leaves those whose width is not a multiple of its blocks):
 * llama.cpp rounds the activations of F16 weights to F16, and there that
 * costs nothing next to the 8-bit activations of the others, so herd does
 * the same and gives llama.cpp's floats. In F16, BF16 and F32 models the
 * activations stay float. */
static void mark_x_f16(herd_model *m)
{
    herd_weights *w = &m->w;
    int blocks = 0;
    for (int set = 0; set < 2; set++)  /* look, then mark */
        for (int l = 0; l < m->cfg.n_layers; l++) {
            herd_layer_weights *L = &w->layers[l];
            herd_tensor *mats[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w1, &L->w2, &L->w3};
            for (size_t i = 0; i < sizeof mats / sizeof *mats; i++) {
                if (!set)
                    blocks |= mats[i]->data && herd_type_size(mats[i]->type) == 0;
                else
                    mats[i]->x_f16 = blocks && mats[i]->type == HERD_TYPE_F16;
            }
        }
    w->output.x_f16 = blocks && w->output.type == HERD_TYPE_F16;
    w->tok_embeddings.x_f16 = blocks && w->tok_embeddings.type == HERD_TYPE_F16;
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
    mark_x_f16(m);
    return HERD_OK;
}

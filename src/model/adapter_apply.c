/* LoRA adapters at inference: attached to a model, added to each adapted
 * matrix product (y += scale * alpha/r * (x A^T) B^T) without touching the
 * weights; and folded into the weights for herd merge. */
#include "model/adapter.h"
#include "base/error.h"
#include "kernels/kernels.h"
#include "model/linear.h"
#include <cblas.h>
#include <stdlib.h>

herd_status herd_model_attach_adapter(herd_model *m, herd_adapter *a, float scale)
{
    herd_status st = herd_adapter_check(a, m);
    struct herd_adapter **ad = NULL;
    float *sc = NULL;
    if (st == HERD_OK) {
        ad = realloc(m->adapters, (size_t)(m->n_adapters + 1) * sizeof *ad);
        if (ad)
            m->adapters = ad;
        sc = realloc(m->adapter_scale, (size_t)(m->n_adapters + 1) * sizeof *sc);
        if (sc)
            m->adapter_scale = sc;
        if (!ad || !sc)
            st = herd_fail(HERD_E_NOMEM, "out of memory");
    }
    if (st != HERD_OK) {
        herd_adapter_free(a);
        return st;
    }
    m->adapters[m->n_adapters] = a;
    m->adapter_scale[m->n_adapters++] = scale;
    return HERD_OK;
}

herd_status herd_adapters_apply(const herd_model *m, int l, int i, float *y, const float *x,
                                int n)
{
    for (int k = 0; k < m->n_adapters; k++) {
        const herd_adapter *a = m->adapters[k];
        const herd_lora_w *w = &a->w[l * HERD_LORA_MATS + i];
        if (!w->a)
            continue;
        float *u = malloc((size_t)n * a->r * sizeof *u);
        if (!u)
            return herd_fail(HERD_E_NOMEM, "out of memory");
        herd_matmul(u, x, w->a, n, w->in, a->r);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, w->out, a->r,
                    m->adapter_scale[k] * a->alpha / a->r, u, a->r, w->b, a->r, 1.0f, y,
                    w->out);
        free(u);
    }
    return HERD_OK;
}

/* W + scale * alpha/r * B A into a new F32 buffer the model owns. */
static herd_status merge_one(herd_model *m, herd_tensor *t, const herd_adapter *a,
                             const herd_lora_w *w, float scale)
{
    float *dst = herd_owned_alloc(&m->owned, (size_t)t->rows * t->cols * sizeof(float));
    if (!dst)
        return herd_fail(HERD_E_NOMEM, "out of memory merging an adapter");
    for (int64_t r = 0; r < t->rows; r++)
        HERD_TRY(herd_embedding_row(dst + r * t->cols, t, (int)r));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, w->out, w->in, a->r,
                scale * a->alpha / a->r, w->b, a->r, w->a, w->in, 1.0f, dst, w->in);
    t->data = dst;
    t->type = HERD_TYPE_F32;
    return HERD_OK;
}

herd_status herd_model_merge_lora(herd_model *m)
{
    for (int k = 0; k < m->n_adapters; k++) {
        const herd_adapter *a = m->adapters[k];
        for (int l = 0; l < m->cfg.n_layers; l++)
            for (int i = 0; i < HERD_LORA_MATS; i++) {
                const herd_lora_w *w = &a->w[l * HERD_LORA_MATS + i];
                if (w->a)
                    HERD_TRY(merge_one(m, (herd_tensor *)herd_lora_target(m, l, i), a, w,
                                       m->adapter_scale[k]));
            }
    }
    for (int k = 0; k < m->n_adapters; k++)
        herd_adapter_free(m->adapters[k]);
    m->n_adapters = 0;
    return HERD_OK;
}

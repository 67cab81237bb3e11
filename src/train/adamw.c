/* AdamW with decoupled weight decay (herd_train.h), over the flat
 * parameter buffer; the decay flag of each tensor says whether wd applies. */
#include "model/train.h"
#include "base/error.h"
#include <math.h>
#include <stdlib.h>

struct herd_adamw {
    float *m, *v;
    size_t n;
    int64_t t;
};

herd_adamw_params herd_adamw_defaults(void)
{
    return (herd_adamw_params){.beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-5f,
                               .weight_decay = 0.1f};
}

herd_status herd_adamw_new(const herd_train_model *tm, herd_adamw **out)
{
    *out = NULL;
    herd_adamw *o = calloc(1, sizeof *o);
    if (!o)
        return herd_fail(HERD_E_NOMEM, "out of memory");
    o->n = tm->n;
    o->m = calloc(o->n, sizeof(float));
    o->v = calloc(o->n, sizeof(float));
    if (!o->m || !o->v) {
        size_t mb = o->n * 8 >> 20;
        herd_adamw_free(o);
        return herd_fail(HERD_E_NOMEM, "out of memory for the optimizer state (%zu MiB)", mb);
    }
    *out = o;
    return HERD_OK;
}

void herd_adamw_free(herd_adamw *o)
{
    if (!o)
        return;
    free(o->m);
    free(o->v);
    free(o);
}

int64_t *herd_adamw_t(herd_adamw *o) { return &o->t; }

float *herd_adamw_m(herd_adamw *o, size_t *n)
{
    if (n)
        *n = o->n;
    return o->m;
}

float *herd_adamw_v(herd_adamw *o, size_t *n)
{
    if (n)
        *n = o->n;
    return o->v;
}

void herd_adamw_step(herd_adamw *o, herd_train_model *tm, const herd_adamw_params *p,
                     float lr)
{
    o->t++;
    float b1 = p->beta1, b2 = p->beta2;
    float c1 = (float)(1.0 - pow(b1, (double)o->t));
    float c2 = (float)(1.0 - pow(b2, (double)o->t));
    for (int i = 0; i < tm->n_info; i++) {
        const herd_param_info *info = &tm->info[i];
        float wd = info->decay ? p->weight_decay : 0.0f;
        size_t off = info->offset, n = (size_t)(info->rows * info->cols);
        float *w = tm->params + off, *g = tm->grads + off, *m = o->m + off, *v = o->v + off;
        #pragma omp parallel for schedule(static) if (n > 65536)
        for (size_t j = 0; j < n; j++) {
            m[j] = b1 * m[j] + (1 - b1) * g[j];
            v[j] = b2 * v[j] + (1 - b2) * g[j] * g[j];
            float mh = m[j] / c1, vh = v[j] / c2;
            w[j] -= lr * (mh / (sqrtf(vh) + p->eps) + wd * w[j]);
        }
    }
}

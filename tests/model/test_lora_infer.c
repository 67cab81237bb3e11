/* LoRA adapters at inference (model/adapter.h) on the gqa fixture:
 *  - an adapter with B = 0 changes no logit;
 *  - with random A and B, the logits of the unmerged model (adapter added
 *    to each product) equal those of the merged one (W + alpha/r B A);
 *  - they agree with training: the LoRA training model holding the same A
 *    and B gives the cross-entropy the inference logits imply;
 *  - an adapter of another shape is refused as for a different base model. */
#include "test.h"
#include "herd_train.h"
#include "model/adapter.h"

enum { N = 12 };
static const int prompt[N] = {1, 17, 42, 5, 17, 63, 8, 42, 42, 0, 33, 100};
static uint64_t rng = 4242;
static float uni(void)
{
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(rng >> 11) / 9007199254740992.0 * 2 - 1);
}

static void logits_of(herd_model *m, float *out)
{
    herd_context *ctx;
    CHECK_OK(herd_context_new(m, N, &ctx));
    CHECK_OK(herd_eval(ctx, prompt, NULL, N, out, 1));
    herd_context_free(ctx);
}

static float maxdiff(const float *a, const float *b, size_t n)
{
    float d = 0;
    for (size_t i = 0; i < n; i++)
        d = fmaxf(d, fabsf(a[i] - b[i]));
    return d;
}

/* A copy of src, attached to m with scale 1. */
static void attach_copy(herd_model *m, const herd_adapter *src)
{
    herd_adapter *a;
    CHECK_OK(herd_adapter_new(&m->cfg, src->r, src->alpha, src->targets, &a));
    for (int k = 0; k < m->cfg.n_layers * HERD_LORA_MATS; k++) {
        const herd_lora_w *s = &src->w[k];
        if (s->a) {
            memcpy(a->w[k].a, s->a, (size_t)src->r * s->in * 4);
            memcpy(a->w[k].b, s->b, (size_t)s->out * src->r * 4);
        }
    }
    CHECK_OK(herd_model_attach_adapter(m, a, 1.0f));
}

/* Mean cross-entropy of logits [N][V] against the next prompt token. */
static double xent(const float *lg, int V)
{
    double sum = 0;
    for (int t = 0; t + 1 < N; t++) {
        const float *r = lg + (size_t)t * V;
        double mx = r[0], z = 0;
        for (int v = 1; v < V; v++)
            mx = fmax(mx, r[v]);
        for (int v = 0; v < V; v++)
            z += exp(r[v] - mx);
        sum += mx + log(z) - r[prompt[t + 1]];
    }
    return sum / (N - 1);
}

int main(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/tests/fixtures/models/gqa/model.gguf", test_source());
    herd_model *m;
    if (herd_model_open(path, &m) != HERD_OK)
        TEST_SKIP("%s: %s", path, herd_last_error());
    int V = m->cfg.vocab_size, R = 4, nmat = m->cfg.n_layers * HERD_LORA_MATS;
    size_t n = (size_t)N * V;
    float *base = malloc(n * 4), *lo = malloc(n * 4), *mg = malloc(n * 4);
    logits_of(m, base);

    /* B = 0: nothing changes. */
    herd_adapter *ad;
    CHECK_OK(herd_adapter_new(&m->cfg, R, 8.0f, HERD_LORA_ALL, &ad));
    for (int k = 0; k < nmat; k++)
        for (int j = 0; j < R * ad->w[k].in; j++)
            ad->w[k].a[j] = 0.2f * uni();
    attach_copy(m, ad);
    logits_of(m, lo);
    CHECK_MSG(maxdiff(lo, base, n) == 0, "B = 0 changed the logits");
    herd_model_free(m);

    /* Random B: unmerged == merged, and != base. */
    for (int k = 0; k < nmat; k++)
        for (int j = 0; j < ad->w[k].out * R; j++)
            ad->w[k].b[j] = 0.05f * uni();
    CHECK_OK(herd_model_open(path, &m));
    attach_copy(m, ad);
    logits_of(m, lo);
    CHECK_MSG(maxdiff(lo, base, n) > 1e-2, "the adapter changed nothing");
    CHECK_OK(herd_model_merge_lora(m));
    CHECK(m->n_adapters == 0);
    logits_of(m, mg);
    CHECK_MSG(maxdiff(lo, mg, n) < 1e-4, "merged and unmerged differ by %g", maxdiff(lo, mg, n));
    herd_model_free(m);

    /* Training agrees: the same adapter in a LoRA training model. */
    CHECK_OK(herd_model_open(path, &m));
    herd_train_model *tm;
    herd_lora_params lp = {R, 8.0f, 0.0f, HERD_LORA_ALL, 0};
    CHECK_OK(herd_train_model_lora(m, &lp, 1, &tm));
    float *q = herd_train_params(tm, NULL);
    int k = 0;
    for (int l = 0; l < m->cfg.n_layers; l++)
        for (int i = 0; i < HERD_LORA_MATS; i++, k += 2) {
            const herd_lora_w *w = &ad->w[l * HERD_LORA_MATS + i];
            memcpy(q + herd_train_tensor(tm, k)->offset, w->a, (size_t)R * w->in * 4);
            memcpy(q + herd_train_tensor(tm, k + 1)->offset, w->b, (size_t)w->out * R * 4);
        }
    int tg[N];
    for (int t = 0; t < N; t++)
        tg[t] = t + 1 < N ? prompt[t + 1] : -1;
    herd_batch b = {1, N, prompt, tg, NULL};
    float loss;
    CHECK_OK(herd_train_loss(tm, &b, &loss, NULL));
    double want = xent(lo, V);
    CHECK_MSG(fabs(loss - want) < 1e-5 * want, "training loss %.8g, inference %.8g", loss, want);
    herd_adapter *back;
    CHECK_OK(herd_train_lora_adapter(tm, &back));
    CHECK(back->r == R && back->alpha == 8.0f);
    CHECK(!memcmp(back->w[3].b, ad->w[3].b, (size_t)ad->w[3].out * R * 4));
    herd_adapter_free(back);
    herd_train_model_free(tm);

    /* Another shape. */
    herd_config other = m->cfg;
    other.hidden_dim += 8;
    herd_adapter *bad;
    CHECK_OK(herd_adapter_new(&other, R, 8.0f, HERD_LORA_UP, &bad));
    CHECK_FAILS(herd_model_attach_adapter(m, bad, 1.0f), HERD_E_ARG);
    CHECK(strstr(herd_last_error(), "different base model") != NULL);
    herd_model_free(m);
    herd_adapter_free(ad);
    free(base); free(lo); free(mg);
    TEST_END();
}

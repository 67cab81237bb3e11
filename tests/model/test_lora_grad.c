/* LoRA training (herd_train_model_lora) against the full model:
 *  - with B = 0 (as initialised) the loss is the base model's;
 *  - with random A, B the loss equals that of the merged weights
 *    W + (alpha/r) B A, and the adapter gradients equal the full gradient G
 *    of the merged weights projected through them: dA = s B^T G,
 *    dB = s G A^T;
 *  - finite differences along random directions of every adapter tensor,
 *    with and without dropout (a fixed seed fixes the masks);
 *  - a base held in F16 (frozen weights widened tile by tile) gives the
 *    same losses and gradients as its F32 copy;
 *  - a rank larger than a matrix is refused. */
#include "test.h"
#include "herd_train.h"

static herd_config tiny(void)
{
    herd_config c = {0};
    c.dim = 16; c.hidden_dim = 40; c.n_layers = 2; c.n_heads = 4; c.n_kv_heads = 2;
    c.vocab_size = 23; c.seq_len = 16; c.norm_eps = 1e-5f; c.rope_theta = 10000.0f;
    return c;
}

enum { B = 2, T = 9, R = 3 };
static int tokens[B * T], targets[B * T];
static uint8_t doc[B * T];
static const herd_batch batch = {B, T, tokens, targets, doc};
static uint64_t rng = 777;
static float uni(void)
{
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(rng >> 11) / 9007199254740992.0 * 2 - 1);
}

static float loss_of(herd_train_model *tm)
{
    float l;
    CHECK_OK(herd_train_loss(tm, &batch, &l, NULL));
    return l;
}

static int find(herd_train_model *tm, const char *name)
{
    for (int i = 0; i < herd_train_n_tensors(tm); i++)
        if (!strcmp(herd_train_tensor(tm, i)->name, name))
            return i;
    return -1;
}

/* Merges s B A into the full model's copy of each adapted matrix. */
static void merge(herd_train_model *full, herd_train_model *lora, float s)
{
    float *P = herd_train_params(full, NULL), *Q = herd_train_params(lora, NULL);
    for (int k = 0; k < herd_train_n_tensors(lora); k += 2) {
        const herd_param_info *a = herd_train_tensor(lora, k), *b = herd_train_tensor(lora, k + 1);
        char name[48];
        snprintf(name, sizeof name, "%.*s", (int)(strlen(a->name) - 7), a->name);
        const herd_param_info *w = herd_train_tensor(full, find(full, name));
        for (int64_t o = 0; o < w->rows; o++)
            for (int64_t i = 0; i < w->cols; i++) {
                double acc = 0;
                for (int r = 0; r < R; r++)
                    acc += (double)Q[b->offset + o * R + r] * Q[a->offset + r * w->cols + i];
                P[w->offset + o * w->cols + i] += (float)(s * acc);
            }
    }
}

static void check_projection(herd_train_model *full, herd_train_model *lora, float s)
{
    float *G = herd_train_grads(full, NULL), *Q = herd_train_params(lora, NULL);
    float *D = herd_train_grads(lora, NULL);
    for (int k = 0; k < herd_train_n_tensors(lora); k += 2) {
        const herd_param_info *a = herd_train_tensor(lora, k), *b = herd_train_tensor(lora, k + 1);
        char name[48];
        snprintf(name, sizeof name, "%.*s", (int)(strlen(a->name) - 7), a->name);
        const herd_param_info *w = herd_train_tensor(full, find(full, name));
        int64_t out = w->rows, in = w->cols;
        double worst = 0, scale = 1e-8;
        for (int r = 0; r < R; r++)          /* dA[r][i] = s sum_o B[o][r] G[o][i] */
            for (int64_t i = 0; i < in; i++) {
                double e = 0;
                for (int64_t o = 0; o < out; o++)
                    e += (double)Q[b->offset + o * R + r] * G[w->offset + o * in + i];
                e *= s;
                worst = fmax(worst, fabs(e - D[a->offset + r * in + i]));
                scale = fmax(scale, fabs(e));
            }
        for (int64_t o = 0; o < out; o++)    /* dB[o][r] = s sum_i G[o][i] A[r][i] */
            for (int r = 0; r < R; r++) {
                double e = 0;
                for (int64_t i = 0; i < in; i++)
                    e += (double)G[w->offset + o * in + i] * Q[a->offset + r * in + i];
                e *= s;
                worst = fmax(worst, fabs(e - D[b->offset + o * R + r]));
                scale = fmax(scale, fabs(e));
            }
        CHECK_MSG(worst <= 1e-4 * scale, "%s: adapter gradient off by %g (scale %g)", name,
                  worst, scale);
    }
}

/* Directional finite differences over every adapter tensor (Richardson). */
static double central(herd_train_model *tm, float *w, const float *u, size_t n, double h)
{
    float *save = malloc(n * sizeof *save);
    memcpy(save, w, n * sizeof *w);
    for (size_t i = 0; i < n; i++)
        w[i] = save[i] + (float)h * u[i];
    double lp = loss_of(tm);
    for (size_t i = 0; i < n; i++)
        w[i] = save[i] - (float)h * u[i];
    double lm = loss_of(tm);
    memcpy(w, save, n * sizeof *w);
    free(save);
    return (lp - lm) / (2 * h);
}

static void check_fd(herd_train_model *tm, const char *what)
{
    float *p = herd_train_params(tm, NULL), *g = herd_train_grads(tm, NULL);
    herd_train_zero_grad(tm);
    float l;
    CHECK_OK(herd_train_forward_backward(tm, &batch, 1.0f, &l, NULL));
    for (int k = 0; k < herd_train_n_tensors(tm); k++) {
        const herd_param_info *t = herd_train_tensor(tm, k);
        size_t n = (size_t)(t->rows * t->cols);
        float *u = malloc(n * sizeof *u);
        double norm = 0, gu = 0;
        for (size_t i = 0; i < n; i++) {
            u[i] = uni();
            norm += (double)u[i] * u[i];
        }
        for (size_t i = 0; i < n; i++) {
            u[i] /= (float)sqrt(norm);
            gu += (double)g[t->offset + i] * u[i];
        }
        double fd = (4 * central(tm, p + t->offset, u, n, 0.02) -
                     central(tm, p + t->offset, u, n, 0.04)) / 3;
        CHECK_MSG(fabs(fd - gu) <= 2e-3 * fmax(fabs(gu), 1e-2), "%s %s: fd %.6g grad %.6g",
                  what, t->name, fd, gu);
        free(u);
    }
}

int main(void)
{
    herd_set_threads(1);
    for (int i = 0; i < B * T; i++) {
        tokens[i] = (i * 7 + 3) % 23;
        targets[i] = (i * 5 + 1) % 23;
    }
    doc[0] = doc[T] = doc[T + 5] = 1;
    targets[4] = -1;
    herd_config c = tiny();
    herd_train_model *base_tm, *full, *lora;
    CHECK_OK(herd_train_model_new(&c, 3, &base_tm));
    size_t n;
    float *bp = herd_train_params(base_tm, &n);
    for (size_t i = 0; i < n; i++)
        bp[i] += 0.3f * uni();
    const herd_model *base = herd_train_as_model(base_tm);
    herd_lora_params lp = {R, 6.0f, 0.0f, HERD_LORA_ALL, 0};
    CHECK_OK(herd_train_model_lora(base, &lp, 9, &lora));
    CHECK(herd_train_as_model(lora) == NULL);
    CHECK(herd_train_n_tensors(lora) == 2 * 7 * c.n_layers);
    float l0 = loss_of(base_tm), l1 = loss_of(lora);
    CHECK_MSG(l0 == l1, "B = 0: LoRA loss %.8g, base %.8g", l1, l0);

    /* Random B, then the merged full model. */
    size_t nl;
    float *q = herd_train_params(lora, &nl);
    for (int k = 1; k < herd_train_n_tensors(lora); k += 2) {
        const herd_param_info *t = herd_train_tensor(lora, k);
        for (int64_t i = 0; i < t->rows * t->cols; i++)
            q[t->offset + i] = 0.3f * uni();
    }
    CHECK_OK(herd_train_model_new(&c, 3, &full));
    memcpy(herd_train_params(full, NULL), bp, n * sizeof *bp);
    merge(full, lora, lp.alpha / R);
    herd_train_zero_grad(full);
    herd_train_zero_grad(lora);
    float lf, ll;
    CHECK_OK(herd_train_forward_backward(full, &batch, 1.0f, &lf, NULL));
    CHECK_OK(herd_train_forward_backward(lora, &batch, 1.0f, &ll, NULL));
    CHECK_MSG(fabsf(lf - ll) <= 1e-5f * lf, "merged loss %.8g, LoRA %.8g", lf, ll);
    check_projection(full, lora, lp.alpha / R);
    check_fd(lora, "no dropout");

    /* Dropout: other losses, the same for the same seed, right gradients. */
    herd_train_model *drop;
    herd_lora_params dp = lp;
    dp.dropout = 0.3f;
    CHECK_OK(herd_train_model_lora(base, &dp, 9, &drop));
    memcpy(herd_train_params(drop, NULL), q, nl * sizeof *q);
    herd_train_set_seed(drop, 42);
    float d1 = loss_of(drop), d2 = loss_of(drop);
    CHECK(d1 == d2 && fabsf(d1 - ll) > 1e-4f);
    check_fd(drop, "dropout");
    herd_train_model_free(drop);

    /* A rank larger than a matrix (k/v are 8 x 16 here). */
    herd_train_model *bad;
    herd_lora_params big = {9, 1.0f, 0.0f, HERD_LORA_K, 0};
    CHECK_FAILS(herd_train_model_lora(base, &big, 1, &bad), HERD_E_ARG);

    /* The gqa fixture in F16 and in F32 (the same values): same LoRA run. */
    char p16[512], p32[512];
    const char *src = test_source();
    snprintf(p16, sizeof p16, "%s/tests/fixtures/models/gqa/model-f16.gguf", src);
    snprintf(p32, sizeof p32, "%s/tests/fixtures/models/gqa/model.gguf", src);
    herd_model *m16, *m32;
    if (herd_model_open(p16, &m16) == HERD_OK && herd_model_open(p32, &m32) == HERD_OK) {
        herd_train_model *t16, *t32;
        herd_lora_params g = {4, 8.0f, 0.0f, HERD_LORA_ALL, 0};
        CHECK_OK(herd_train_model_lora(m16, &g, 5, &t16));
        CHECK_OK(herd_train_model_lora(m32, &g, 5, &t32));
        size_t n16;
        float *a16 = herd_train_params(t16, &n16), *a32 = herd_train_params(t32, NULL);
        for (size_t i = 0; i < n16; i++)
            a16[i] = a32[i] = 0.05f * uni();
        static int tk[2 * 12], tg[2 * 12];
        for (int i = 0; i < 24; i++) {
            tk[i] = (i * 11 + 1) % 128;
            tg[i] = (i * 13 + 2) % 128;
        }
        herd_batch gb = {2, 12, tk, tg, NULL};
        float x16, x32;
        herd_train_zero_grad(t16);
        herd_train_zero_grad(t32);
        CHECK_OK(herd_train_forward_backward(t16, &gb, 1.0f, &x16, NULL));
        CHECK_OK(herd_train_forward_backward(t32, &gb, 1.0f, &x32, NULL));
        CHECK_MSG(fabsf(x16 - x32) <= 1e-5f * x32, "F16 base %.8g, F32 base %.8g", x16, x32);
        float *g16 = herd_train_grads(t16, NULL), *g32 = herd_train_grads(t32, NULL);
        double worst = 0, mx = 1e-8;
        for (size_t i = 0; i < n16; i++) {
            worst = fmax(worst, fabs(g16[i] - g32[i]));
            mx = fmax(mx, fabs(g32[i]));
        }
        CHECK_MSG(worst <= 1e-4 * mx, "F16 vs F32 base gradients differ by %g", worst);
        herd_train_model_free(t16);
        herd_train_model_free(t32);
        herd_model_free(m16);
        herd_model_free(m32);
    } else {
        CHECK_MSG(0, "cannot open %s / %s: %s", p16, p32, herd_last_error());
    }
    herd_train_model_free(lora);
    herd_train_model_free(full);
    herd_train_model_free(base_tm);
    TEST_END();
}

/* The training backward pass against finite differences: for every tensor
 * of a tiny model, the directional derivative of the loss along a random
 * direction within that tensor, (L(p + h u) - L(p - h u)) / 2h, must equal
 * grad . u. Run for MHA and GQA, tied and untied, with packed documents
 * and unscored targets. Also: recomputation gives the same gradients, and
 * gradients accumulate with grad_scale. */
#include "test.h"
#include "herd_train.h"

static herd_config tiny(int n_kv, int tied)
{
    herd_config c = {0};
    c.dim = 16; c.hidden_dim = 40; c.n_layers = 2; c.n_heads = 4; c.n_kv_heads = n_kv;
    c.vocab_size = 23; c.seq_len = 16; c.norm_eps = 1e-5f; c.rope_theta = 10000.0f;
    c.tied_embeddings = tied;
    return c;
}

enum { B = 2, T = 9 };
static int tokens[B * T], targets[B * T];
static uint8_t doc[B * T];
static const herd_batch batch = {B, T, tokens, targets, doc};

static void make_batch(void)
{
    for (int i = 0; i < B * T; i++) {
        tokens[i] = (i * 7 + 3) % 23;
        targets[i] = (i * 5 + 1) % 23;
        doc[i] = 0;
    }
    targets[2] = -1;            /* unscored */
    doc[0] = doc[T] = 1;
    doc[T + 4] = 1;             /* row 1 holds two documents */
}

static uint64_t rng = 12345;
static double uniform(void)
{
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(rng >> 11) / 9007199254740992.0 * 2 - 1;
}

static double loss_at(herd_train_model *tm)
{
    float l;
    CHECK_OK(herd_train_loss(tm, &batch, &l, NULL));
    return l;
}

/* (L(w + h u) - L(w - h u)) / 2h, w restored after. */
static double central(herd_train_model *tm, float *w, const float *u, size_t len, double h)
{
    float *save = malloc(len * sizeof *save);
    memcpy(save, w, len * sizeof *w);
    for (size_t i = 0; i < len; i++)
        w[i] = save[i] + (float)h * u[i];
    double lp = loss_at(tm);
    for (size_t i = 0; i < len; i++)
        w[i] = save[i] - (float)h * u[i];
    double lm = loss_at(tm);
    memcpy(w, save, len * sizeof *w);
    free(save);
    return (lp - lm) / (2 * h);
}

static void check_model(int n_kv, int tied)
{
    herd_config c = tiny(n_kv, tied);
    herd_train_model *tm;
    CHECK_OK(herd_train_model_new(&c, 7, &tm));
    size_t n;
    float *p = herd_train_params(tm, &n);
    for (size_t i = 0; i < n; i++)      /* larger weights than the 0.02 init */
        p[i] += 0.3f * (float)uniform();
    herd_train_zero_grad(tm);
    float loss;
    int scored;
    CHECK_OK(herd_train_forward_backward(tm, &batch, 1.0f, &loss, &scored));
    CHECK(scored == B * T - 1);
    CHECK(fabs(loss - loss_at(tm)) < 1e-6);
    float *g = herd_train_grads(tm, NULL);
    float *u = malloc(n * sizeof *u);
    for (int k = 0; k < herd_train_n_tensors(tm); k++) {
        const herd_param_info *t = herd_train_tensor(tm, k);
        size_t len = (size_t)(t->rows * t->cols);
        double gu = 0, norm = 0;
        for (size_t i = 0; i < len; i++) {
            u[i] = (float)uniform();
            norm += (double)u[i] * u[i];
        }
        for (size_t i = 0; i < len; i++) {
            u[i] /= (float)sqrt(norm);          /* a unit direction */
            gu += (double)g[t->offset + i] * u[i];
        }
        /* Central differences at h and 2h combined (Richardson) cancel the
         * h^2 error term, leaving float32 rounding as the limit. */
        double fd = (4 * central(tm, p + t->offset, u, len, 0.02) -
                     central(tm, p + t->offset, u, len, 0.04)) / 3;
        CHECK_MSG(fabs(fd - gu) <= 1e-3 * fmax(fabs(gu), 1e-2),
                  "kv %d tied %d %s: finite difference %.6g, gradient %.6g", n_kv, tied,
                  t->name, fd, gu);
    }
    free(u);

    /* Recomputation: the same gradients; two half-scaled passes: the same sum. */
    float *g1 = malloc(n * sizeof *g1);
    memcpy(g1, g, n * sizeof *g);
    herd_train_set_recompute(tm, 1);
    herd_train_zero_grad(tm);
    float loss2;
    CHECK_OK(herd_train_forward_backward(tm, &batch, 0.5f, &loss2, NULL));
    CHECK_OK(herd_train_forward_backward(tm, &batch, 0.5f, &loss2, NULL));
    CHECK(loss2 == loss);
    double worst = 0;
    for (size_t i = 0; i < n; i++)
        worst = fmax(worst, fabs(g[i] - g1[i]) / fmax(fabs(g1[i]), 1e-3));
    CHECK_MSG(worst < 1e-5, "recompute/accumulate differs by %g", worst);
    free(g1);
    herd_train_model_free(tm);
}

int main(void)
{
    herd_set_threads(2);
    make_batch();
    check_model(4, 0);   /* MHA, untied */
    check_model(2, 1);   /* GQA, tied */
    check_model(1, 0);   /* MQA */
    TEST_END();
}

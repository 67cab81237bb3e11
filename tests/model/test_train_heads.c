/* The training API's other heads, on a tiny model:
 *  - herd_train_row_logprobs: the rows' log-probabilities sum to -loss x
 *    scored count, and with coef c the gradient is -c x count times the mean
 *    loss's gradient (c the same for all rows), or the sum of each row's
 *    (c differing per row); herd_train_token_logprobs agrees per token;
 *  - herd_train_hidden / _backward: a scalar head r = w . h(last token) of
 *    each row (a reward model's), its gradient through the trunk checked
 *    against finite differences. */
#include "test.h"
#include "herd_train.h"

enum { B = 3, T = 8 };
static int tokens[B * T], targets[B * T];
static uint8_t doc[B * T];
static const herd_batch batch = {B, T, tokens, targets, doc};

static double reward(herd_train_model *tm, const float *w, float *hidden)
{
    CHECK_OK(herd_train_hidden(tm, &batch, hidden));
    int D = herd_train_config(tm)->dim;
    double s = 0;
    for (int r = 0; r < B; r++) {
        const float *h = hidden + ((size_t)r * T + T - 1) * D;
        double v = 0;
        for (int i = 0; i < D; i++)
            v += (double)w[i] * h[i];
        s += (r + 1) * v;    /* a different weight per row */
    }
    return s;
}

int main(void)
{
    herd_set_threads(1);
    for (int i = 0; i < B * T; i++) {
        tokens[i] = (i * 5 + 2) % 31;
        targets[i] = i % 7 == 3 ? -1 : (i * 11 + 4) % 31;
    }
    doc[0] = doc[T] = doc[2 * T] = doc[T + 3] = 1;
    herd_config c = {0};
    c.dim = 16; c.hidden_dim = 32; c.n_layers = 2; c.n_heads = 4; c.n_kv_heads = 2;
    c.vocab_size = 31; c.seq_len = 16; c.norm_eps = 1e-5f; c.rope_theta = 10000.0f;
    herd_train_model *tm;
    CHECK_OK(herd_train_model_new(&c, 3, &tm));
    size_t n;
    float *p = herd_train_params(tm, &n), *g = herd_train_grads(tm, NULL);
    for (size_t i = 0; i < n; i++)
        p[i] += 0.2f * (float)sin(i * 1.7);

    float loss;
    int count;
    herd_train_zero_grad(tm);
    CHECK_OK(herd_train_forward_backward(tm, &batch, 1.0f, &loss, &count));
    float *g_mean = malloc(n * sizeof *g_mean);
    memcpy(g_mean, g, n * sizeof *g);
    double logp[B], sum = 0;
    float coef[B] = {0.5f, 0.5f, 0.5f};
    herd_train_zero_grad(tm);
    CHECK_OK(herd_train_row_logprobs(tm, &batch, coef, logp));
    for (int r = 0; r < B; r++)
        sum += logp[r];
    CHECK_MSG(fabs(sum + (double)loss * count) < 1e-4 * fabs(sum), "logp sum %.8g, -loss x n %.8g",
              sum, -(double)loss * count);
    double worst = 0, mx = 1e-9;
    for (size_t i = 0; i < n; i++) {
        double want = -0.5 * count * g_mean[i];
        worst = fmax(worst, fabs(g[i] - want));
        mx = fmax(mx, fabs(want));
    }
    CHECK_MSG(worst < 1e-4 * mx, "row logprob gradient off by %g of %g", worst, mx);

    /* Per-row coefficients: the sum of single-row runs. */
    float c2[B] = {1.0f, -2.0f, 0.25f};
    herd_train_zero_grad(tm);
    CHECK_OK(herd_train_row_logprobs(tm, &batch, c2, logp));
    float *g2 = malloc(n * sizeof *g2);
    memcpy(g2, g, n * sizeof *g);
    herd_train_zero_grad(tm);
    for (int r = 0; r < B; r++) {
        float one[B] = {0};
        one[r] = c2[r];
        double lp[B];
        CHECK_OK(herd_train_row_logprobs(tm, &batch, one, lp));
        CHECK(fabs(lp[r] - logp[r]) < 1e-9 * fabs(logp[r]) + 1e-12);
    }
    worst = 0, mx = 1e-9;
    for (size_t i = 0; i < n; i++) {
        worst = fmax(worst, fabs(g[i] - g2[i]));
        mx = fmax(mx, fabs(g2[i]));
    }
    CHECK_MSG(worst < 1e-5 * mx, "per-row coefficients off by %g", worst);

    /* Per token: the logps sum to the rows'; per-token coefficients equal to
     * the row coefficients give the same gradient. */
    float *tl = malloc((size_t)B * T * sizeof *tl), *tc = malloc((size_t)B * T * sizeof *tc);
    for (int i = 0; i < B * T; i++)
        tc[i] = c2[i / T];
    herd_train_zero_grad(tm);
    CHECK_OK(herd_train_token_logprobs(tm, &batch, tc, tl));
    for (int r = 0; r < B; r++) {
        double s = 0;
        for (int t = 0; t < T; t++)
            s += tl[r * T + t];
        CHECK_MSG(fabs(s - logp[r]) < 1e-4 * fabs(logp[r]), "row %d: tokens %.8g, row %.8g", r, s,
                  logp[r]);
    }
    CHECK(tl[3] == 0.0f);   /* target 3 is unscored */
    worst = 0;
    for (size_t i = 0; i < n; i++)
        worst = fmax(worst, fabs(g[i] - g2[i]));
    CHECK_MSG(worst < 1e-5 * mx, "per-token coefficients off by %g", worst);
    free(tl);
    free(tc);

    /* A scalar head on the hidden states, against finite differences. */
    float w[16], *hidden = malloc((size_t)B * T * c.dim * sizeof *hidden);
    float *dh = calloc((size_t)B * T * c.dim, sizeof *dh);
    for (int i = 0; i < c.dim; i++)
        w[i] = (float)cos(i * 0.9);
    herd_train_zero_grad(tm);
    reward(tm, w, hidden);
    for (int r = 0; r < B; r++)
        for (int i = 0; i < c.dim; i++)
            dh[((size_t)r * T + T - 1) * c.dim + i] = (r + 1) * w[i];
    CHECK_OK(herd_train_hidden_backward(tm, &batch, dh));
    for (int k = 0; k < herd_train_n_tensors(tm); k += 4) {
        const herd_param_info *t = herd_train_tensor(tm, k);
        size_t len = (size_t)(t->rows * t->cols), j = len / 3;
        float save = p[t->offset + j];
        double h = 1e-2;
        p[t->offset + j] = save + (float)h;
        double up = reward(tm, w, hidden);
        p[t->offset + j] = save - (float)h;
        double dn = reward(tm, w, hidden);
        p[t->offset + j] = save;
        double fd = (up - dn) / (2 * h), an = g[t->offset + j];
        CHECK_MSG(fabs(fd - an) <= 2e-3 * fmax(fabs(an), 1e-2), "%s[%zu]: fd %.6g, gradient %.6g",
                  t->name, j, fd, an);
    }
    free(g_mean); free(g2); free(hidden); free(dh);
    herd_train_model_free(tm);
    TEST_END();
}

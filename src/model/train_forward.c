/* The training forward pass over a micro-batch (herd_train.h): the same
 * Llama as forward.c, but over whole sequences at once with document
 * masks, keeping every activation the backward pass needs. Then the loss
 * and, for training, the backward pass (train_backward.c) in the order
 * head, layers top to bottom, embedding. */
#include "model/train.h"
#include "model/linear.h"
#include "base/error.h"
#include "kernels/kernels.h"
#include "base/threads.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

void herd_train_positions(herd_train_model *tm, const herd_batch *b)
{
    for (int r = 0; r < b->B; r++) {
        int s = 0;
        for (int t = 0; t < b->T; t++) {
            size_t i = (size_t)r * b->T + t;
            if (b->doc_start && b->doc_start[i])
                s = t;
            tm->start[i] = s;
            tm->pos[i] = t - s;
        }
    }
}

static void rmsnorm_rows(float *out, float *rstd, const float *x, const float *w, int n,
                         int dim, float eps)
{
    #pragma omp parallel for schedule(static) if ((size_t)n * dim > HERD_PAR_MIN)
    for (int t = 0; t < n; t++)
        rstd[t] = herd_rmsnorm_rstd(out + (size_t)t * dim, x + (size_t)t * dim, w, dim, eps);
}

static void rope_rows(herd_train_model *tm, float *q, float *k, int N)
{
    const herd_config *c = &tm->cfg;
    int D = c->dim, hd = D / c->n_heads, KV = hd * c->n_kv_heads, half = hd / 2;
    #pragma omp parallel for schedule(static) if ((size_t)N * D > HERD_PAR_MIN)
    for (int t = 0; t < N; t++) {
        const float *cr = tm->rope_cos + (size_t)tm->pos[t] * half;
        const float *sr = tm->rope_sin + (size_t)tm->pos[t] * half;
        herd_rope(q + (size_t)t * D, c->n_heads, hd, cr, sr, c->rope_layout);
        herd_rope(k + (size_t)t * KV, c->n_kv_heads, hd, cr, sr, c->rope_layout);
    }
}

static void attention(herd_train_model *tm, const herd_layer_acts *a, int B, int T)
{
    const herd_config *c = &tm->cfg;
    int D = c->dim, H = c->n_heads, hd = D / H, KV = hd * c->n_kv_heads;
    int group = H / c->n_kv_heads;
    int blas = herd_blas_serial();
    #pragma omp parallel for collapse(2) schedule(dynamic) \
        if ((size_t)B * T * T * H > HERD_PAR_MIN)
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++) {
            size_t qo = (size_t)b * T * D + (size_t)h * hd;
            size_t ko = (size_t)b * T * KV + (size_t)(h / group) * hd;
            herd_attention_train(a->att + qo, a->probs + ((size_t)b * H + h) * T * T,
                                 a->q + qo, a->k + ko, a->v + ko, tm->start + (size_t)b * T,
                                 T, hd, D, KV);
        }
    herd_blas_restore(blas);
}

static void add(float *y, const float *x, size_t n)
{
    #pragma omp parallel for schedule(static) if (n > HERD_PAR_MIN)
    for (size_t i = 0; i < n; i++)
        y[i] += x[i];
}

herd_status herd_train_layer_forward(herd_train_model *tm, int l, int B, int T)
{
    const herd_config *c = &tm->cfg;
    int N = B * T, D = c->dim;
    const herd_layer_acts *a = &tm->acts[l];
    const herd_train_layer *L = &tm->L[l];
    const float *x = tm->x_in + (size_t)l * N * D;
    float *xo = tm->x_in + (size_t)(l + 1) * N * D;

    rmsnorm_rows(a->xn_attn, a->rstd_attn, x, L->attn_norm, N, D, c->norm_eps);
    HERD_TRY(herd_train_linear(tm, &L->wq, a->q, a->xn_attn, N));
    HERD_TRY(herd_train_linear(tm, &L->wk, a->k, a->xn_attn, N));
    HERD_TRY(herd_train_linear(tm, &L->wv, a->v, a->xn_attn, N));
    rope_rows(tm, a->q, a->k, N);
    attention(tm, a, B, T);
    HERD_TRY(herd_train_linear(tm, &L->wo, a->x_mid, a->att, N));
    add(a->x_mid, x, (size_t)N * D);

    rmsnorm_rows(a->xn_ffn, a->rstd_ffn, a->x_mid, L->ffn_norm, N, D, c->norm_eps);
    HERD_TRY(herd_train_linear(tm, &L->w1, a->h1, a->xn_ffn, N));
    HERD_TRY(herd_train_linear(tm, &L->w3, a->h3, a->xn_ffn, N));
    herd_swiglu(a->hg, a->h1, a->h3, N * c->hidden_dim);
    HERD_TRY(herd_train_linear(tm, &L->w2, xo, a->hg, N));
    add(xo, a->x_mid, (size_t)N * D);
    return HERD_OK;
}

/* Summed loss of rows [r0, r0 + n) whose logits are in lg; with grads the
 * logits become the loss gradient (zero for unscored rows). */
static double chunk_loss(float *lg, const herd_batch *b, int r0, int n, int V,
                         const herd_head *h)
{
    double sum = 0;
    #pragma omp parallel for reduction(+ : sum) schedule(static) \
        if ((size_t)n * V > HERD_PAR_MIN)
    for (int r = 0; r < n; r++) {
        float *row = lg + (size_t)r * V;
        int tg = b->targets[r0 + r], seq = (r0 + r) / b->T;
        float gs = !h->grads ? 0.0f : h->tok_scale ? h->tok_scale[r0 + r]
                 : h->row_scale ? h->row_scale[seq] : h->scale;
        if (tg >= 0) {
            double ce = herd_cross_entropy(row, V, tg, gs);
            if (h->grads && gs == 0.0f)     /* the logits stayed: no gradient here */
                memset(row, 0, (size_t)V * sizeof *row);
            sum += ce;
            if (h->tok_loss)
                h->tok_loss[r0 + r] = (float)ce;
            if (h->row_loss) {
                #pragma omp atomic
                h->row_loss[seq] += ce;
            }
        } else {
            if (h->tok_loss)
                h->tok_loss[r0 + r] = 0.0f;
            if (h->grads)
                memset(row, 0, (size_t)V * sizeof *row);
        }
    }
    return sum;
}

herd_status herd_train_head(herd_train_model *tm, const herd_batch *b, herd_head *h,
                            int *n_scored, double *sum_out)
{
    const herd_config *c = &tm->cfg;
    int N = b->B * b->T, D = c->dim, V = c->vocab_size, L = c->n_layers;
    const float *xf = tm->x_in + (size_t)L * N * D;
    int count = 0;
    for (int i = 0; i < N; i++)
        count += b->targets[i] >= 0;
    *n_scored = count;
    rmsnorm_rows(tm->xn_out, tm->rstd_out, xf, tm->out_norm, N, D, c->norm_eps);
    h->scale = count ? h->scale / count : 0.0f;
    int grads = h->grads;
    if (h->row_loss)
        memset(h->row_loss, 0, (size_t)b->B * sizeof *h->row_loss);
    double sum = 0;
    for (int r0 = 0; r0 < N; r0 += tm->chunk) {
        int n = N - r0 < tm->chunk ? N - r0 : tm->chunk;
        const float *xn = tm->xn_out + (size_t)r0 * D;
        HERD_TRY(herd_train_linear(tm, &tm->out, tm->g.logits, xn, n));
        sum += chunk_loss(tm->g.logits, b, r0, n, V, h);
        if (grads)
            HERD_TRY(herd_train_linear_backward(tm, &tm->out, tm->g.dxn + (size_t)r0 * D,
                                                tm->g.logits, xn, n, 0));
    }
    if (grads) {
        memset(tm->g.dx, 0, (size_t)N * D * sizeof(float));
        herd_rmsnorm_backward(tm->g.dx, tm->d_out_norm, tm->g.dxn, xf, tm->out_norm,
                              tm->rstd_out, N, D);
    }
    *sum_out = sum;
    return HERD_OK;
}

static herd_status check_batch(const herd_train_model *tm, const herd_batch *b)
{
    int V = tm->cfg.vocab_size;
    if (!b || b->B <= 0 || b->T <= 0 || !b->tokens || !b->targets)
        return herd_fail(HERD_E_ARG, "empty batch");
    if ((int64_t)b->B * b->T > (1 << 26) || b->T > (1 << 16))
        return herd_fail(HERD_E_ARG, "batch of %d x %d tokens too large", b->B, b->T);
    for (size_t i = 0; i < (size_t)b->B * b->T; i++) {
        if (b->tokens[i] < 0 || b->tokens[i] >= V)
            return herd_fail(HERD_E_RANGE, "token id %d outside the vocabulary of %d",
                             b->tokens[i], V);
        if (b->targets[i] >= V)
            return herd_fail(HERD_E_RANGE, "target id %d outside the vocabulary of %d",
                             b->targets[i], V);
    }
    return HERD_OK;
}

/* Embedding and every layer forward, into x_in[n_layers]. */
static herd_status trunk(herd_train_model *tm, const herd_batch *b)
{
    HERD_TRY(check_batch(tm, b));
    HERD_TRY(herd_train_reserve(tm, b->B, b->T));
    herd_train_positions(tm, b);
    int N = b->B * b->T, D = tm->cfg.dim;
    for (int t = 0; t < N; t++) {
        float *row = tm->x_in + (size_t)t * D;
        if (tm->emb.w)
            memcpy(row, tm->emb.w + (size_t)b->tokens[t] * D, (size_t)D * sizeof(float));
        else
            HERD_TRY(herd_embedding_row(row, tm->emb.base, b->tokens[t]));
    }
    for (int l = 0; l < tm->cfg.n_layers; l++)
        HERD_TRY(herd_train_layer_forward(tm, l, b->B, b->T));
    return HERD_OK;
}

/* The trunk, then the head's loss in *loss. */
static herd_status forward(herd_train_model *tm, const herd_batch *b, herd_head *h,
                           float *loss, int *n_scored)
{
    int n;
    HERD_TRY(trunk(tm, b));
    double sum;
    HERD_TRY(herd_train_head(tm, b, h, &n, &sum));
    *loss = n ? (float)(sum / n) : NAN;
    if (n_scored)
        *n_scored = n;
    return HERD_OK;
}

herd_status herd_train_loss(herd_train_model *tm, const herd_batch *b, float *loss,
                            int *n_scored)
{
    herd_head h = {0};
    return forward(tm, b, &h, loss, n_scored);
}

/* From g.dx (the gradient at the trunk's output) down through the layers
 * into the embedding. */
static herd_status backward(herd_train_model *tm, const herd_batch *b)
{
    for (int l = tm->cfg.n_layers - 1; l >= 0; l--) {
        if (tm->recompute)
            HERD_TRY(herd_train_layer_forward(tm, l, b->B, b->T));
        HERD_TRY(herd_train_layer_backward(tm, l, b->B, b->T));
    }
    int N = b->B * b->T, D = tm->cfg.dim;
    float *dE = tm->emb.g;
    for (int t = 0; dE && t < N; t++) {
        float *row = dE + (size_t)b->tokens[t] * D;
        const float *g = tm->g.dx + (size_t)t * D;
        for (int i = 0; i < D; i++)
            row[i] += g[i];
    }
    return HERD_OK;
}

herd_status herd_train_forward_backward(herd_train_model *tm, const herd_batch *b,
                                        float grad_scale, float *loss, int *n_scored)
{
    int n;
    herd_head h = {.grads = 1, .scale = grad_scale};
    HERD_TRY(forward(tm, b, &h, loss, &n));
    if (n_scored)
        *n_scored = n;
    return n ? backward(tm, b) : HERD_OK;
}

herd_status herd_train_row_logprobs(herd_train_model *tm, const herd_batch *b,
                                    const float *coef, double *logp)
{
    float *neg = NULL;
    if (coef) {
        neg = malloc((size_t)b->B * sizeof *neg);
        if (!neg)
            return herd_fail(HERD_E_NOMEM, "out of memory");
        for (int r = 0; r < b->B; r++)
            neg[r] = -coef[r];   /* d(coef log p)/dz = -coef (softmax - onehot) */
    }
    herd_head h = {.grads = coef != NULL, .row_scale = neg, .row_loss = logp};
    float loss;
    int n;
    herd_status st = forward(tm, b, &h, &loss, &n);
    for (int r = 0; st == HERD_OK && r < b->B; r++)
        logp[r] = -logp[r];
    if (st == HERD_OK && coef && n)
        st = backward(tm, b);
    free(neg);
    return st;
}

herd_status herd_train_token_logprobs(herd_train_model *tm, const herd_batch *b,
                                      const float *coef, float *logp)
{
    size_t N = (size_t)b->B * b->T;
    float *neg = NULL;
    if (coef) {
        neg = malloc(N * sizeof *neg);
        if (!neg)
            return herd_fail(HERD_E_NOMEM, "out of memory");
        for (size_t t = 0; t < N; t++)
            neg[t] = -coef[t];
    }
    herd_head h = {.grads = coef != NULL, .tok_scale = neg, .tok_loss = logp};
    float loss;
    int n;
    herd_status st = forward(tm, b, &h, &loss, &n);
    for (size_t t = 0; st == HERD_OK && t < N; t++)
        logp[t] = -logp[t];
    if (st == HERD_OK && coef && n)
        st = backward(tm, b);
    free(neg);
    return st;
}

herd_status herd_train_hidden(herd_train_model *tm, const herd_batch *b, float *hidden)
{
    HERD_TRY(trunk(tm, b));
    int N = b->B * b->T, D = tm->cfg.dim;
    const float *xf = tm->x_in + (size_t)tm->cfg.n_layers * N * D;
    rmsnorm_rows(tm->xn_out, tm->rstd_out, xf, tm->out_norm, N, D, tm->cfg.norm_eps);
    memcpy(hidden, tm->xn_out, (size_t)N * D * sizeof *hidden);
    return HERD_OK;
}

herd_status herd_train_hidden_backward(herd_train_model *tm, const herd_batch *b,
                                       const float *dhidden)
{
    int N = b->B * b->T, D = tm->cfg.dim;
    if (b->B != tm->B || b->T != tm->T)
        return herd_fail(HERD_E_ARG, "herd_train_hidden_backward: not the batch of the last "
                         "herd_train_hidden");
    const float *xf = tm->x_in + (size_t)tm->cfg.n_layers * N * D;
    memset(tm->g.dx, 0, (size_t)N * D * sizeof(float));
    herd_rmsnorm_backward(tm->g.dx, tm->d_out_norm, dhidden, xf, tm->out_norm, tm->rstd_out,
                          N, D);
    return backward(tm, b);
}

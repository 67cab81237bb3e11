/* The reward model's ranking loss over a batch of pairs (Llama 2, eq. 1-2):
 *   r = w . h_last + b,  z = r_chosen - r_rejected - margin,
 *   loss = mean over pairs of -log sigmoid(z) = softplus(-z),
 * its gradient on the head directly, and on the backbone through the
 * hidden state of each row's last token (d loss / d h_last = w dr). */
#include "train/reward.h"
#include "base/error.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

herd_status herd_reward_fill(const herd_pref_pair *const *pairs, int P, int T, int *tokens,
                             int *targets, int *last)
{
    for (int p = 0; p < P; p++)
        for (int k = 0; k < 2; k++) {
            int row = 2 * p + k, n = k ? pairs[p]->n_rejected : pairs[p]->n_chosen;
            const int *ids = k ? pairs[p]->rejected : pairs[p]->chosen;
            if (n <= 0 || n > T)
                return herd_fail(HERD_E_ARG, "reward: a sequence of %d tokens in rows of %d "
                                 "(line %lld)", n, T, (long long)pairs[p]->line);
            int *tok = tokens + (size_t)row * T, *tgt = targets + (size_t)row * T;
            memcpy(tok, ids, (size_t)n * sizeof *tok);
            memset(tok + n, 0, (size_t)(T - n) * sizeof *tok);
            for (int t = 0; t < T; t++)
                tgt[t] = -1;
            last[row] = n - 1;
        }
    return HERD_OK;
}

/* softplus(-z) = -log sigmoid(z), without overflow. */
static double neg_log_sigmoid(double z)
{
    return z > 0 ? log1p(exp(-z)) : -z + log1p(exp(z));
}

static double dot(const float *a, const float *b, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++)
        s += (double)a[i] * b[i];
    return s;
}

/* Head and backbone gradients from d loss / d r of each row. */
static herd_status backward(herd_train_model *tm, const herd_batch *b, const int *last,
                            const double *dr, const float *head, float *dhead, float *hidden)
{
    int B = b->B, T = b->T, D = herd_train_config(tm)->dim;
    for (int row = 0; row < B; row++) {
        const float *h = hidden + ((size_t)row * T + last[row]) * D;
        for (int i = 0; i < D; i++)
            dhead[i] += (float)(dr[row] * h[i]);
        dhead[D] += (float)dr[row];
    }
    memset(hidden, 0, (size_t)B * T * D * sizeof *hidden);   /* now d loss / d hidden */
    for (int row = 0; row < B; row++) {
        float *dh = hidden + ((size_t)row * T + last[row]) * D;
        for (int i = 0; i < D; i++)
            dh[i] = (float)(dr[row] * head[i]);
    }
    return herd_train_hidden_backward(tm, b, hidden);
}

herd_status herd_reward_batch(herd_train_model *tm, const herd_batch *b, const int *last,
                              const float *margin, const float *head, float *dhead,
                              float *rewards, herd_reward_stats *st)
{
    if (!b || b->B < 2 || b->B % 2)
        return herd_fail(HERD_E_ARG, "reward: a batch needs two rows per pair");
    int B = b->B, T = b->T, P = B / 2, D = herd_train_config(tm)->dim;
    for (int row = 0; row < B; row++)
        if (last[row] < 0 || last[row] >= T)
            return herd_fail(HERD_E_ARG, "reward: last token %d of row %d outside 0..%d",
                             last[row], row, T - 1);
    float *hidden = malloc((size_t)B * T * D * sizeof *hidden);
    double *r = malloc((size_t)B * 2 * sizeof *r), *dr = r + B;
    if (!hidden || !r) {
        free(hidden);
        free(r);
        return herd_fail(HERD_E_NOMEM, "reward: out of memory for the hidden states");
    }
    herd_status s = herd_train_hidden(tm, b, hidden);
    herd_reward_stats acc = {0, 0, P};
    for (int row = 0; s == HERD_OK && row < B; row++) {
        r[row] = dot(head, hidden + ((size_t)row * T + last[row]) * D, D) + head[D];
        if (rewards)
            rewards[row] = (float)r[row];
    }
    for (int p = 0; s == HERD_OK && p < P; p++) {
        double z = r[2 * p] - r[2 * p + 1] - margin[p];
        acc.loss += neg_log_sigmoid(z) / P;
        acc.correct += r[2 * p] > r[2 * p + 1];
        double g = -1.0 / (1.0 + exp(z)) / P;      /* d softplus(-z) / dz, averaged */
        dr[2 * p] = g;
        dr[2 * p + 1] = -g;
    }
    if (s == HERD_OK && dhead)
        s = backward(tm, b, last, dr, head, dhead, hidden);
    free(hidden);
    free(r);
    if (st)
        *st = acc;
    return s;
}

/* DPO (dpo.h): pairs into rows, the loss and its per-row weights from
 * sequence log-probabilities, the cached reference pass, and one batch's
 * loss and gradient on the policy. */
#include "train/dpo.h"
#include "base/error.h"
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* One sequence into a row of T: inputs ids[0..n-2], targets ids[1..n-1]. */
static herd_status fill_row(const int *ids, const uint8_t *mask, int n, int T, int *tok,
                            int *tgt, const char *which)
{
    for (int t = 0; t < T; t++)
        tok[t] = 0, tgt[t] = -1;
    if (n > T + 1)
        return herd_fail(HERD_E_ARG, "dpo: a %s sequence of %d tokens does not fit rows of %d "
                         "(at most %d)", which, n, T, T + 1);
    int scored = 0;
    for (int t = 0; t + 1 < n; t++) {
        tok[t] = ids[t];
        tgt[t] = mask[t + 1] ? ids[t + 1] : -1;
        scored += mask[t + 1] != 0;
    }
    if (!scored)
        return herd_fail(HERD_E_ARG, "dpo: a %s answer has no scored token", which);
    return HERD_OK;
}

herd_status herd_dpo_fill(const herd_dpo_pair *const *pairs, int P, int T, int *tokens,
                          int *targets)
{
    for (int p = 0; p < P; p++) {
        size_t c = (size_t)p * T, r = (size_t)(P + p) * T;
        const herd_dpo_pair *x = pairs[p];
        if (!x) {
            for (int t = 0; t < T; t++)
                tokens[c + t] = tokens[r + t] = 0, targets[c + t] = targets[r + t] = -1;
            continue;
        }
        HERD_TRY(fill_row(x->chosen, x->chosen_mask, x->n_chosen, T, tokens + c, targets + c,
                          "chosen"));
        HERD_TRY(fill_row(x->rejected, x->rejected_mask, x->n_rejected, T, tokens + r,
                          targets + r, "rejected"));
    }
    return HERD_OK;
}

/* log sigmoid(z) = -softplus(-z), without overflow either way. */
static double log_sigmoid(double z)
{
    return z >= 0 ? -log1p(exp(-z)) : z - log1p(exp(z));
}

static double sigmoid(double z)
{
    return z >= 0 ? 1 / (1 + exp(-z)) : exp(z) / (1 + exp(z));
}

void herd_dpo_loss(const double *logp, const double *ref_logp, int P, int n, double beta,
                   herd_dpo_stats *st, float *coef)
{
    herd_dpo_stats s = {0};
    s.pairs = n;
    for (int p = 0; p < P; p++) {
        if (coef)
            coef[p] = coef[P + p] = 0.0f;
        if (p >= n)
            continue;
        double dc = logp[p] - ref_logp[p], dr = logp[P + p] - ref_logp[P + p];
        double z = beta * (dc - dr);
        s.loss -= log_sigmoid(z);
        s.chosen_reward += beta * dc;
        s.rejected_reward += beta * dr;
        s.margin += z;
        s.accuracy += z > 0;
        s.kl_chosen += dc;
        if (coef) {
            double w = beta * sigmoid(-z) / n;   /* d(-log sigmoid(z))/dz = -sigmoid(-z) */
            coef[p] = (float)-w;
            coef[P + p] = (float)w;
        }
    }
    if (n > 0) {
        s.loss /= n, s.chosen_reward /= n, s.rejected_reward /= n;
        s.margin /= n, s.accuracy /= n, s.kl_chosen /= n;
    }
    if (st)
        *st = s;
}

herd_status herd_dpo_check_ref(const herd_config *policy, const herd_config *ref,
                               const char *ref_name)
{
    if (ref->vocab_size != policy->vocab_size)
        return herd_fail(HERD_E_ARG, "reference %s: vocabulary of %d tokens, the policy has %d "
                         "(the reference must be the policy's model)", ref_name,
                         ref->vocab_size, policy->vocab_size);
    static const struct { const char *name; size_t off; } f[] = {
        {"dim", offsetof(herd_config, dim)}, {"hidden_dim", offsetof(herd_config, hidden_dim)},
        {"n_layers", offsetof(herd_config, n_layers)},
        {"n_heads", offsetof(herd_config, n_heads)},
        {"n_kv_heads", offsetof(herd_config, n_kv_heads)},
    };
    for (size_t i = 0; i < sizeof f / sizeof *f; i++) {
        int a = *(const int *)((const char *)ref + f[i].off);
        int b = *(const int *)((const char *)policy + f[i].off);
        if (a != b)
            return herd_fail(HERD_E_ARG, "reference %s: %s %d, the policy has %d (the "
                             "reference must be the policy's model)", ref_name, f[i].name, a, b);
    }
    return HERD_OK;
}

herd_status herd_dpo_ref_logprobs(herd_train_model *ref, const herd_dpo_pair *pairs, int64_t n,
                                  int P, int T, double *out,
                                  void (*progress)(void *user, int64_t done), void *user)
{
    if (P < 1 || T < 1)
        return herd_fail(HERD_E_ARG, "dpo: batches of %d pairs of %d tokens", P, T);
    size_t rows = (size_t)2 * P;
    int *tokens = malloc(rows * T * sizeof *tokens), *targets = malloc(rows * T * sizeof *targets);
    const herd_dpo_pair **ptr = malloc((size_t)P * sizeof *ptr);
    double *logp = malloc(rows * sizeof *logp);
    herd_status st = tokens && targets && ptr && logp ? HERD_OK
                                                      : herd_fail(HERD_E_NOMEM, "out of memory");
    herd_batch b = {(int)rows, T, tokens, targets, NULL};
    for (int64_t i = 0; st == HERD_OK && i < n; i += P) {
        for (int p = 0; p < P; p++)
            ptr[p] = i + p < n ? &pairs[i + p] : NULL;
        st = herd_dpo_fill(ptr, P, T, tokens, targets);
        if (st != HERD_OK)
            herd_fail_prefix(st, "pair %lld", (long long)(i + 1));
        if (st == HERD_OK)
            st = herd_train_row_logprobs(ref, &b, NULL, logp);
        for (int p = 0; st == HERD_OK && p < P && i + p < n; p++) {
            out[2 * (i + p)] = logp[p];
            out[2 * (i + p) + 1] = logp[P + p];
        }
        if (st == HERD_OK && progress)
            progress(user, i + P < n ? i + P : n);
    }
    free(tokens);
    free(targets);
    free(ptr);
    free(logp);
    return st;
}

void herd_dpo_gather_ref(const double *cache, const int64_t *idx, int P, double *out)
{
    for (int p = 0; p < P; p++) {
        out[p] = idx[p] >= 0 ? cache[2 * idx[p]] : 0;
        out[P + p] = idx[p] >= 0 ? cache[2 * idx[p] + 1] : 0;
    }
}

herd_status herd_dpo_batch_loss(herd_train_model *policy, const herd_batch *b, int n,
                                const double *ref_logp, double beta, int grads, uint64_t seed,
                                herd_dpo_stats *st)
{
    int P = b->B / 2;
    if (b->B != 2 * P || n < 1 || n > P)
        return herd_fail(HERD_E_ARG, "dpo: a batch of %d rows with %d pairs (2 rows a pair)",
                         b->B, n);
    double *logp = malloc((size_t)b->B * sizeof *logp);
    float *coef = malloc((size_t)b->B * sizeof *coef);
    herd_status s = logp && coef ? HERD_OK : herd_fail(HERD_E_NOMEM, "out of memory");
    if (s == HERD_OK) {
        herd_train_set_seed(policy, seed);
        s = herd_train_row_logprobs(policy, b, NULL, logp);
    }
    if (s == HERD_OK) {
        herd_dpo_loss(logp, ref_logp, P, n, beta, st, coef);
        if (grads) {
            herd_train_set_seed(policy, seed);
            s = herd_train_row_logprobs(policy, b, coef, logp);
        }
    }
    free(logp);
    free(coef);
    return s;
}

/* One PPO minibatch's gradients (ppo.h): the clipped surrogate through
 * herd_train_token_logprobs's per-token coefficients, and the value head on
 * the policy's hidden states with its loss's gradient sent back into the
 * trunk through herd_train_hidden_backward. */
#include "train/ppo.h"
#include "base/error.h"
#include <stdlib.h>
#include <string.h>

herd_status herd_ppo_policy_grad(herd_train_model *tm, const herd_batch *b,
                                 const float *logp_old, const float *adv, float clip, int grads,
                                 herd_ppo_pg_stats *st)
{
    size_t N = (size_t)b->B * b->T;
    float *logp = malloc(N * sizeof *logp), *coef = malloc(N * sizeof *coef);
    herd_status s = logp && coef ? HERD_OK : herd_fail(HERD_E_NOMEM, "out of memory");
    if (s == HERD_OK)
        s = herd_train_token_logprobs(tm, b, NULL, logp);
    if (s == HERD_OK) {
        herd_ppo_surrogate(logp, logp_old, adv, b->targets, N, clip, coef, st);
        if (grads)
            s = herd_train_token_logprobs(tm, b, coef, logp);
    }
    free(logp);
    free(coef);
    return s;
}

herd_status herd_ppo_values(herd_train_model *tm, const herd_batch *b, const float *head,
                            float *hidden, float *v)
{
    HERD_TRY(herd_train_hidden(tm, b, hidden));
    int D = herd_train_config(tm)->dim;
    size_t N = (size_t)b->B * b->T;
    for (size_t i = 0; i < N; i++) {
        const float *h = hidden + i * D;
        double s = head[D];
        for (int j = 0; j < D; j++)
            s += (double)head[j] * h[j];
        v[i] = (float)s;
    }
    return HERD_OK;
}

herd_status herd_ppo_value_grad(herd_train_model *tm, const herd_batch *b, const float *head,
                                const float *v_old, const float *ret, float value_clip,
                                float vf_coef, float *dhead, int trunk, double *loss)
{
    int D = herd_train_config(tm)->dim;
    size_t N = (size_t)b->B * b->T;
    float *hidden = malloc(N * D * sizeof *hidden), *v = malloc(N * sizeof *v);
    float *dv = malloc(N * sizeof *dv);
    herd_status s = hidden && v && dv ? HERD_OK : herd_fail(HERD_E_NOMEM, "out of memory");
    if (s == HERD_OK)
        s = herd_ppo_values(tm, b, head, hidden, v);
    if (s == HERD_OK)
        *loss = herd_ppo_value_loss(v, v_old, ret, b->targets, N, value_clip, vf_coef, dv);
    if (s == HERD_OK && dhead) {
        for (size_t i = 0; i < N; i++) {
            float *h = hidden + i * D;
            for (int j = 0; j < D; j++) {
                dhead[j] += dv[i] * h[j];
                h[j] = dv[i] * head[j];   /* now d(loss)/d(hidden) */
            }
            dhead[D] += dv[i];
        }
        if (trunk)
            s = herd_train_hidden_backward(tm, b, hidden);
    }
    free(hidden);
    free(v);
    free(dv);
    return s;
}

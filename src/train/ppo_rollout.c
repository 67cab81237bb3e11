/* PPO's rollouts (ppo.h steps 1-4): a response sampled per prompt from
 * the current policy, its reward model score, the policy's and the
 * reference's per-token log-probabilities, the value head's values, and
 * the per-token rewards, GAE advantages (whitened over the batch) and
 * returns. */
#include "train/ppo_run.h"
#include "base/error.h"
#include <math.h>
#include <string.h>

void herd_ppo_fill_rows(herd_ppo *ppo, int B, herd_batch *b)
{
    int T = 1;
    for (int r = 0; r < B; r++)
        if (ppo->len[ppo->idx[r]] - 1 > T)
            T = ppo->len[ppo->idx[r]] - 1;
    for (int r = 0; r < B; r++) {
        int i = ppo->idx[r], n = ppo->len[i], np = ppo->n_prompt[i];
        const int *ids = ppo->ids + (size_t)i * ppo->n_ctx;
        int *tok = ppo->tokens + (size_t)r * T, *tgt = ppo->targets + (size_t)r * T;
        for (int t = 0; t < T; t++) {
            tok[t] = t < n - 1 ? ids[t] : 0;
            tgt[t] = t + 1 >= np && t + 1 < n ? ids[t + 1] : -1;
        }
    }
    *b = (herd_batch){B, T, ppo->tokens, ppo->targets, NULL};
}

/* Moves between the batch layout and the response arrays: position t of
 * row r is response token t + 1 - n_prompt of rollout idx[r]. */
static void move(const herd_ppo *ppo, const herd_batch *b, const float *src, float *dst,
                 int to_batch)
{
    int M = ppo->p.max_new_tokens;
    for (int r = 0; r < b->B; r++) {
        int i = ppo->idx[r];
        for (int t = 0; t < b->T; t++) {
            size_t bi = (size_t)r * b->T + t;
            if (b->targets[bi] < 0) {
                if (to_batch)
                    dst[bi] = 0;
                continue;
            }
            size_t ri = (size_t)i * M + (t + 1 - ppo->n_prompt[i]);
            if (to_batch)
                dst[bi] = src[ri];
            else
                dst[ri] = src[bi];
        }
    }
}

void herd_ppo_gather(const herd_ppo *ppo, const herd_batch *b, const float *src, float *dst)
{
    move(ppo, b, src, dst, 1);
}

void herd_ppo_scatter(const herd_ppo *ppo, const herd_batch *b, const float *src, float *dst)
{
    move(ppo, b, src, dst, 0);
}

static int is_stop(const herd_ppo *ppo, int id)
{
    return id == ppo->p.stop[0] || id == ppo->p.stop[1];
}

/* Rollout i: the prompt, then tokens drawn one at a time from the policy. */
static herd_status sample(herd_ppo *ppo, int i, const int *prompt, int n_prompt)
{
    if (n_prompt < 1 || n_prompt + 1 > ppo->n_ctx)
        return herd_fail(HERD_E_ARG, "ppo: a prompt of %d tokens (1 to %d with room for an "
                         "answer)", n_prompt, ppo->n_ctx - 1);
    int *ids = ppo->ids + (size_t)i * ppo->n_ctx, n = n_prompt;
    memcpy(ids, prompt, (size_t)n_prompt * sizeof *ids);
    herd_context_reset(ppo->ctx);
    HERD_TRY(herd_eval(ppo->ctx, prompt, NULL, n_prompt, ppo->logits, 0));
    for (int k = 0; k < ppo->p.max_new_tokens && n < ppo->n_ctx; k++) {
        int id = herd_sampler_sample(ppo->smp, ppo->logits);
        ids[n++] = id;
        if (is_stop(ppo, id) || k + 1 == ppo->p.max_new_tokens || n == ppo->n_ctx)
            break;
        HERD_TRY(herd_eval(ppo->ctx, &id, NULL, 1, ppo->logits, 0));
    }
    ppo->len[i] = n;
    ppo->n_prompt[i] = n_prompt;
    return HERD_OK;
}

/* logp_old, logp_ref and the values of every rollout, mb rows at a time. */
static herd_status score_tokens(herd_ppo *ppo)
{
    herd_batch b;
    for (int s = 0; s < ppo->n; s += ppo->mb) {
        int B = ppo->n - s < ppo->mb ? ppo->n - s : ppo->mb;
        for (int r = 0; r < B; r++)
            ppo->idx[r] = s + r;
        herd_ppo_fill_rows(ppo, B, &b);
        HERD_TRY(herd_train_token_logprobs(ppo->policy, &b, NULL, ppo->b_tmp));
        herd_ppo_scatter(ppo, &b, ppo->b_tmp, ppo->logp_old);
        HERD_TRY(herd_train_token_logprobs(ppo->ref, &b, NULL, ppo->b_tmp));
        herd_ppo_scatter(ppo, &b, ppo->b_tmp, ppo->logp_ref);
        HERD_TRY(herd_ppo_values(ppo->policy, &b, ppo->head, ppo->hidden, ppo->b_tmp));
        herd_ppo_scatter(ppo, &b, ppo->b_tmp, ppo->value);
    }
    return HERD_OK;
}

/* Rewards, advantages and returns; the rollout statistics. */
static void advantages(herd_ppo *ppo, herd_ppo_stats *st)
{
    int M = ppo->p.max_new_tokens;
    int64_t tokens = 0;
    double kl = 0, ent = 0, val = 0, score = 0;
    for (int i = 0; i < ppo->n; i++) {
        size_t o = (size_t)i * M;
        int L = ppo->len[i] - ppo->n_prompt[i];
        herd_ppo_token_rewards(ppo->logp_old + o, ppo->logp_ref + o, L, ppo->p.kl_coef,
                               ppo->score[i], ppo->reward + o);
        herd_ppo_gae(ppo->reward + o, ppo->value + o, L, ppo->p.gamma, ppo->p.lam,
                     ppo->adv + o, ppo->ret + o);
        for (int t = 0; t < L; t++) {
            kl += (double)ppo->logp_old[o + t] - ppo->logp_ref[o + t];
            ent -= ppo->logp_old[o + t];
            val += ppo->value[o + t];
        }
        tokens += L;
        score += ppo->score[i];
    }
    st->n = ppo->n;
    st->reward = score / ppo->n;
    st->kl = kl / tokens;
    st->kl_seq = kl / ppo->n;
    st->entropy = ent / tokens;
    st->value = val / tokens;
    st->response_len = (double)tokens / ppo->n;
    if (!ppo->p.whiten)
        return;
    /* whiten over all response tokens: pack, whiten, unpack */
    int64_t k = 0;
    for (int i = 0; i < ppo->n; i++)
        for (int t = 0; t < ppo->len[i] - ppo->n_prompt[i]; t++)
            ppo->b_tmp[k++] = ppo->adv[(size_t)i * M + t];
    herd_ppo_whiten(ppo->b_tmp, k);
    k = 0;
    for (int i = 0; i < ppo->n; i++)
        for (int t = 0; t < ppo->len[i] - ppo->n_prompt[i]; t++)
            ppo->adv[(size_t)i * M + t] = ppo->b_tmp[k++];
}

herd_status herd_ppo_rollouts(herd_ppo *ppo, const int *const *prompts, const int *lens, int n,
                              herd_ppo_reward_fn reward, void *user, herd_ppo_stats *st)
{
    if (n < 1 || n > ppo->p.batch_size)
        return herd_fail(HERD_E_ARG, "ppo: %d prompts for a batch of %d", n, ppo->p.batch_size);
    ppo->n = 0;
    for (int i = 0; i < n; i++)
        HERD_TRY(sample(ppo, i, prompts[i], lens[i]));
    ppo->n = n;
    for (int i = 0; i < n; i++) {
        HERD_TRY(reward(user, ppo->ids + (size_t)i * ppo->n_ctx, ppo->len[i], ppo->n_prompt[i],
                        &ppo->score[i]));
        if (!isfinite(ppo->score[i]))
            return herd_fail(HERD_E_ARG, "ppo: the reward of rollout %d is not finite", i);
    }
    HERD_TRY(score_tokens(ppo));
    advantages(ppo, st);
    return HERD_OK;
}

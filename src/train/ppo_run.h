/* The PPO trainer's state (ppo.h's herd_ppo), shared by ppo.c (setup and
 * the update epochs) and ppo_rollout.c (sampling, scoring, advantages).
 * Internal to src/train. */
#ifndef HERD_TRAIN_PPO_RUN_H
#define HERD_TRAIN_PPO_RUN_H
#include "train/ppo.h"

struct herd_ppo {
    herd_train_model *policy, *ref;
    herd_ppo_params p;
    int n_ctx, dim, vocab, mb;
    int64_t iteration;
    herd_context *ctx;            /* on herd_train_as_model(policy) */
    herd_sampler *smp;
    herd_adamw *opt;
    float *logits;                /* [vocab] */
    float *head, *dhead, *head_m, *head_v;  /* [dim + 1] */
    int64_t head_t;
    uint64_t rng;

    /* the iteration's rollouts: rollout i's ids at ids[i * n_ctx], its
     * response token t's numbers at [i * max_new_tokens + t] */
    int n;
    int *ids, *len, *n_prompt;    /* [batch_size * n_ctx], [batch_size] x 2 */
    float *score;                 /* [batch_size] */
    float *logp_old, *logp_ref, *value, *reward, *adv, *ret;
    int *order;                   /* [batch_size] */

    /* one minibatch of mb rows of at most n_ctx - 1 positions */
    int *idx, *tokens, *targets;
    float *b_logp_old, *b_adv, *b_vold, *b_ret, *b_tmp, *hidden;
};

/* Rows of the rollouts idx[0 .. B-1] into ppo->tokens/targets (targets
 * the response tokens only); *T: the longest less one. */
void herd_ppo_fill_rows(herd_ppo *ppo, int B, herd_batch *b);
/* Response array src (stride max_new_tokens) of the batch's rollouts into
 * the batch layout dst[B*T], and back. */
void herd_ppo_gather(const herd_ppo *ppo, const herd_batch *b, const float *src, float *dst);
void herd_ppo_scatter(const herd_ppo *ppo, const herd_batch *b, const float *src, float *dst);

/* Steps 1-4 of ppo.h: samples, scores, log-probabilities, values and
 * advantages of n prompts; fills st's rollout statistics. */
herd_status herd_ppo_rollouts(herd_ppo *ppo, const int *const *prompts, const int *lens, int n,
                              herd_ppo_reward_fn reward, void *user, herd_ppo_stats *st);

#endif

/* Proximal Policy Optimization for language models (Schulman et al. 2017,
 * as Ouyang et al. 2022 and Llama 2, section 3.2.3, use it): a policy, a
 * frozen reference, a reward model and a value head.
 *
 * One iteration over a batch of prompts:
 *   1. rollouts: a response is sampled per prompt from the current policy
 *      (herd_train_as_model, temperature 1 by default, no top-k/top-p, up
 *      to max_new_tokens, stopping after a stop token, which is kept);
 *   2. the reward model scores each prompt + response (a callback);
 *   3. the policy's log-probabilities of the response tokens (logp_old),
 *      the reference's (logp_ref) and the values v = w . h + b of the value
 *      head on the policy's final normed hidden states h;
 *   4. per-token rewards r_t = -kl_coef (logp_old_t - logp_ref_t), plus the
 *      score at the last response token; GAE advantages (gamma, lambda) and
 *      returns R_t = A_t + V_t, the advantages whitened over the batch;
 *   5. epochs of minibatch steps on
 *        L = mean_t -min(rho_t A_t, clip(rho_t, 1 - eps, 1 + eps) A_t)
 *            + vf_coef mean_t 0.5 max((v_t - R_t)^2, (vclip_t - R_t)^2)
 *      with rho_t = exp(logp_t - logp_old_t), vclip_t = v_old_t +
 *      clip(v_t - v_old_t, -value_clip, value_clip), means over the
 *      minibatch's response tokens: AdamW on the policy, Adam on the head.
 *
 * The value head shares the policy's trunk (as in Ouyang et al.'s
 * implementation lineage and trl): the value loss's gradient on the hidden
 * states flows back into the trunk (herd_train_hidden_backward) and adds to
 * the policy gradient before clipping and the step. The head (dim weights
 * and a bias, starting at 0) is a parameter vector of its own with its own
 * Adam (lr value_lr, no decay).
 *
 * Token t of a response, the prediction of ids[n_prompt + t] from the ids
 * before it, sits at input position n_prompt + t - 1 of its row; its value
 * V(s_t) is read from the hidden state at that same position (the state is
 * everything before the token), and V after the last token is 0.
 *
 * The log-probabilities are the untempered policy's (herd_train.h has no
 * temperature): with temperature != 1 the samples come from another
 * distribution than the one trained (1 is the on-policy default). The
 * entropy reported is the sampled-token estimate -mean(logp_old), which is
 * unbiased for the policy's entropy at temperature 1 (the API gives the
 * sampled token's log-probability only, so there is no entropy bonus). */
#ifndef HERD_TRAIN_PPO_H
#define HERD_TRAIN_PPO_H
#include <stdint.h>
#include "herd_train.h"

/* ---- the math (ppo_math.c), on plain arrays ---- */

/* GAE over one response of n tokens: delta_t = r_t + gamma V_{t+1} - V_t
 * (V_n = 0), A_t = delta_t + gamma lam A_{t+1}; ret_t = A_t + V_t. */
void herd_ppo_gae(const float *rewards, const float *values, int n, float gamma, float lam,
                  float *adv, float *ret);

/* Per-token rewards of one response of n tokens: -kl_coef (logp_old_t -
 * logp_ref_t), plus score at t = n - 1. */
void herd_ppo_token_rewards(const float *logp_old, const float *logp_ref, int n, float kl_coef,
                            float score, float *rewards);

/* Shifts and scales x[n] to mean 0 and standard deviation 1 (no change
 * for n < 2 or no spread beyond 1e-8). */
void herd_ppo_whiten(float *x, int64_t n);

typedef struct {
    double loss;        /* the clipped surrogate loss (mean over scored tokens) */
    double clip_frac;   /* fraction of tokens where the clipped branch is taken */
    double approx_kl;   /* mean of logp_old - logp (the policy's move this step) */
    int n;              /* scored tokens */
} herd_ppo_pg_stats;

/* The clipped surrogate over the N positions with targets[i] >= 0:
 * L = (1/n) sum_i -min(rho_i A_i, clip(rho_i, 1 - clip, 1 + clip) A_i),
 * and coef[i] = dL/dlogp[i]: -rho_i A_i / n where the unclipped branch is
 * taken, 0 where the clip is active ((A > 0, rho > 1 + clip) or (A < 0,
 * rho < 1 - clip)) and at unscored positions: the coefficients
 * herd_train_token_logprobs takes. coef may be NULL. */
void herd_ppo_surrogate(const float *logp, const float *logp_old, const float *adv,
                        const int *targets, size_t N, float clip, float *coef,
                        herd_ppo_pg_stats *st);

/* The clipped value loss 0.5 max((v - R)^2, (vclip - R)^2) averaged over
 * the positions with targets >= 0 (value_clip <= 0: unclipped), times
 * vf_coef, and in dv (may be NULL) its derivative in each v (0 elsewhere).
 * Returns the loss before vf_coef. */
double herd_ppo_value_loss(const float *v, const float *v_old, const float *ret,
                           const int *targets, size_t N, float value_clip, float vf_coef,
                           float *dv);

/* ---- one minibatch's gradients (ppo_grad.c) ---- */

/* The policy loss of batch b given logp_old and adv in its layout [B*T]
 * (read at scored positions), and with grads, dL/dparam added to tm's
 * gradient buffer (two passes: log-probabilities, then the weighted
 * backward). */
herd_status herd_ppo_policy_grad(herd_train_model *tm, const herd_batch *b,
                                 const float *logp_old, const float *adv, float clip, int grads,
                                 herd_ppo_pg_stats *st);

/* The value head's values v = head[0..dim-1] . h + head[dim] at every
 * position of b into v[B*T] (hidden: scratch of B*T*dim floats, left
 * holding the hidden states). */
herd_status herd_ppo_values(herd_train_model *tm, const herd_batch *b, const float *head,
                            float *hidden, float *v);

/* vf_coef times the clipped value loss of batch b (v_old, ret in its
 * layout) in *loss (before vf_coef); with dhead (may be NULL) its gradient
 * in the head added to dhead[dim + 1] and, with trunk, in the trunk's
 * parameters added to tm's gradient buffer. */
herd_status herd_ppo_value_grad(herd_train_model *tm, const herd_batch *b, const float *head,
                                const float *v_old, const float *ret, float value_clip,
                                float vf_coef, float *dhead, int trunk, double *loss);

/* ---- the trainer (ppo.c, ppo_rollout.c) ---- */

/* The reward of one sequence ids[0 .. n-1], the first n_prompt of them the
 * prompt: the reward model's score (herd ppo: herd_reward_score). */
typedef herd_status (*herd_ppo_reward_fn)(void *user, const int *ids, int n, int n_prompt,
                                          float *reward);

typedef struct {
    int batch_size;        /* prompts (rollouts) an iteration: 8 */
    int minibatch_size;    /* rollouts a step: 0 = batch_size */
    int epochs;            /* passes over the rollouts an iteration: 4 */
    int max_new_tokens;    /* most response tokens: 32 */
    float temperature;     /* sampling: 1 */
    float lr;              /* policy AdamW: 1e-5 */
    float value_lr;        /* head Adam: 1e-4 */
    float kl_coef;         /* 0.05 */
    float clip;            /* 0.2 */
    float value_clip;      /* 0.2 (<= 0: unclipped) */
    float gamma, lam;      /* 1, 0.95 */
    float vf_coef;         /* 0.1 */
    float grad_clip;       /* 1.0 (<= 0: off) */
    int whiten;            /* whiten the advantages: 1 */
    int stop[2];           /* ids that end a response (kept), -1: none */
    herd_adamw_params adamw;  /* weight_decay 0 */
    uint64_t seed;         /* the sampler's draws and the minibatch order */
} herd_ppo_params;

herd_ppo_params herd_ppo_defaults(void);

/* Statistics of one iteration. */
typedef struct {
    int64_t iteration;     /* 1-based */
    double reward;         /* mean reward model score */
    double kl;             /* mean over response tokens of logp_old - logp_ref */
    double kl_seq;         /* the same summed per response, mean over responses */
    double entropy;        /* -mean logp_old (sampled-token estimate) */
    double policy_loss, value_loss, clip_frac, approx_kl;  /* means over the steps */
    double value;          /* mean value of the response tokens at rollout */
    double response_len;   /* mean response tokens */
    double grad_norm;      /* mean over the steps, before clipping */
    int n;                 /* rollouts */
} herd_ppo_stats;

typedef struct herd_ppo herd_ppo;

/* A trainer over policy (full training: herd_train_as_model samples from
 * it) and ref (frozen: never stepped) which must be the policy's shape and
 * vocabulary (HERD_E_ARG naming what differs). Neither is owned. n_ctx:
 * the longest prompt plus max_new_tokens, at most the model's context. */
herd_status herd_ppo_new(herd_train_model *policy, herd_train_model *ref,
                         const herd_ppo_params *p, int n_ctx, herd_ppo **out);
void herd_ppo_free(herd_ppo *ppo);
/* The value head: dim weights then the bias. */
float *herd_ppo_head(herd_ppo *ppo);

/* One iteration (steps 1-5 above) on n prompts (n <= batch_size; each of
 * lens[i] >= 1 ids, lens[i] + 1 <= n_ctx). */
herd_status herd_ppo_iteration(herd_ppo *ppo, const int *const *prompts, const int *lens, int n,
                               herd_ppo_reward_fn reward, void *user, herd_ppo_stats *st);

/* The last iteration's rollout i (i < n of that iteration): its ids
 * (prompt then response), count and prompt length; NULL when out of range. */
const int *herd_ppo_rollout(const herd_ppo *ppo, int i, int *n, int *n_prompt);

/* ---- prompts (ppo_data.c) ---- */

/* A JSONL prompt file: each line {"prompt": TEXT or [messages]} or
 * {"messages": [...]} (other keys ignored), rendered as the other trainers
 * render their prompts (train/pref.h: herd_pref_render with the answer
 * still to come): the ids before the answer's first token. Prompts longer
 * than max_len ids are dropped and counted; a bad line is HERD_E_FORMAT
 * "path:line: why"; a file with no usable prompt too. */
typedef struct {
    int64_t n;
    int64_t *off;          /* prompt i: ids[off[i] .. off[i+1]) */
    int *ids;
    int64_t too_long;      /* dropped */
    int max_len;           /* the longest kept */
} herd_ppo_prompts;

herd_status herd_ppo_prompts_load(const char *path, const herd_tokenizer *t,
                                  herd_chat_template tpl, int max_len, herd_ppo_prompts **out);
void herd_ppo_prompts_free(herd_ppo_prompts *p);

/* ---- herd ppo's options (ppo_config.c) ---- */

#define HERD_PPO_PATH 1024

typedef struct {
    char init[HERD_PPO_PATH];       /* the policy's starting model (required) */
    char ref[HERD_PPO_PATH];        /* the reference; "": init */
    char reward[HERD_PPO_PATH];     /* the reward model (required) */
    char tokenizer[HERD_PPO_PATH];  /* "": the policy's */
    char train_data[HERD_PPO_PATH]; /* prompts JSONL (required) */
    char out_dir[HERD_PPO_PATH];    /* "out" */
    char chat_template[16];         /* auto (the reward model's), none, llama2, llama3 */
    int64_t iterations;             /* 0: one pass over the prompts */
    int threads;
    herd_ppo_params p;
} herd_ppo_opts;

void herd_ppo_opts_defaults(herd_ppo_opts *o);
/* Reads a JSON config over the defaults: an unknown key, a wrong type or
 * an impossible value is HERD_E_ARG naming the key. */
herd_status herd_ppo_opts_load(const char *path, herd_ppo_opts *o);

#endif

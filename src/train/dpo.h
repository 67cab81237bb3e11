/* Direct Preference Optimization (Rafailov et al. 2023, as Llama 3 aligns
 * with it): a policy is trained on preference pairs (prompt, chosen,
 * rejected) against a frozen reference model, with the loss
 *
 *   z    = beta * ((pc - rc) - (pr - rr))
 *   loss = mean over pairs of -log sigmoid(z)
 *
 * where pc, pr are the policy's sequence log-probabilities (summed over the
 * response tokens) of the chosen and rejected answers and rc, rr the
 * reference's. beta (pc - rc) and beta (pr - rr) are the implicit rewards.
 *
 * The reference never changes, so its log-probabilities are computed once
 * per pair before training (herd_dpo_ref_logprobs) and cached; each step
 * then runs the policy twice over the batch: once for pc, pr (giving the
 * loss and its weights), once more to add sum_b coef[b] d logp[b]/d param
 * to the gradient (herd_train_row_logprobs).
 *
 * A batch of P pairs is B = 2P rows of T tokens: rows 0..P-1 the chosen
 * answers, rows P..2P-1 the rejected ones, pair p in rows p and P + p;
 * targets -1 outside the response (and in padding), one document per row. */
#ifndef HERD_TRAIN_DPO_H
#define HERD_TRAIN_DPO_H
#include <stdint.h>
#include "herd_train.h"

/* One pair as token ids with loss masks (train/sft.h's convention:
 * mask[i] is 1 when the prediction of ids[i] from the ids before it is
 * scored, i.e. ids[i] belongs to the response). Both sequences usually
 * share the prompt. */
typedef struct {
    const int *chosen, *rejected;
    const uint8_t *chosen_mask, *rejected_mask;
    int n_chosen, n_rejected;
} herd_dpo_pair;

/* The 2P rows of P pairs into tokens[2P*T] and targets[2P*T]: a sequence
 * of n ids gives inputs ids[0 .. n-2] and targets ids[1 .. n-1] (-1 where
 * the mask is 0); the rest of the row is token 0, target -1. A NULL pair
 * pointer in pairs[] (pairs may run short of P at the end of a set) gives
 * two empty rows. HERD_E_ARG for a sequence longer than T + 1 ids, or one
 * with no scored target. */
herd_status herd_dpo_fill(const herd_dpo_pair *const *pairs, int P, int T, int *tokens,
                          int *targets);

/* Means over the pairs of one batch (or, summed by the caller weighted by
 * pairs, over a set). */
typedef struct {
    double loss;            /* -log sigmoid(z) */
    double chosen_reward;   /* beta (pc - rc) */
    double rejected_reward; /* beta (pr - rr) */
    double margin;          /* chosen_reward - rejected_reward = z */
    double accuracy;        /* fraction of pairs with z > 0 */
    double kl_chosen;       /* pc - rc: the policy's drift from the reference
                               on the chosen answers (a KL proxy, in nats) */
    int pairs;
} herd_dpo_stats;

/* The loss of the first n of P pairs (1 <= n <= P; the rest are padding)
 * from sequence log-probabilities in the batch layout: logp[2P] the
 * policy's, ref_logp[2P] the reference's (chosen then rejected). With coef
 * (may be NULL) also d(loss)/d(logp[b]) as float[2P]: -beta sigmoid(-z) / n
 * for a chosen row, +beta sigmoid(-z) / n for a rejected one, 0 for
 * padding: the weights herd_train_row_logprobs takes. st may be NULL. */
void herd_dpo_loss(const double *logp, const double *ref_logp, int P, int n, double beta,
                   herd_dpo_stats *st, float *coef);

/* The reference must be the policy's model: the same shape and vocabulary.
 * HERD_E_ARG naming what differs ("reference REF: vocabulary of 128 tokens,
 * the policy has 96"). ref_name: for the message (a path). */
herd_status herd_dpo_check_ref(const herd_config *policy, const herd_config *ref,
                               const char *ref_name);

/* The reference's log-probabilities of n pairs into out[2n] (out[2i] pair
 * i's chosen answer, out[2i + 1] its rejected one), P pairs at a time in
 * rows of T. ref may be the policy itself before its first step (what the
 * reference is when it is the starting model: a new LoRA adapter adds
 * nothing). progress (may be NULL) is called after each batch with the
 * pairs done. */
herd_status herd_dpo_ref_logprobs(herd_train_model *ref, const herd_dpo_pair *pairs, int64_t n,
                                  int P, int T, double *out,
                                  void (*progress)(void *user, int64_t done), void *user);

/* The policy's loss on a filled batch of P = b->B / 2 pairs, the first n
 * of them real (the rest padding), given their cached reference
 * log-probabilities ref_logp[2P] (batch layout), and, with
 * grads, d(loss)/d(param) added to the gradient buffer (the caller zeroes,
 * clips and steps). seed: the LoRA dropout masks, the same in both passes. */
herd_status herd_dpo_batch_loss(herd_train_model *policy, const herd_batch *b, int n,
                                const double *ref_logp, double beta, int grads, uint64_t seed,
                                herd_dpo_stats *st);

/* ref_logp of pairs idx[0 .. P-1] (cache as herd_dpo_ref_logprobs writes
 * it) into the batch layout out[2P]; idx[i] < 0: an empty row pair (0). */
void herd_dpo_gather_ref(const double *cache, const int64_t *idx, int P, double *out);

/* ---- herd dpo's options (dpo_config.c) ---- */

#define HERD_DPO_PATH 1024

typedef struct {
    char init[HERD_DPO_PATH];       /* the policy's starting model (required) */
    char ref[HERD_DPO_PATH];        /* the reference model; "": init */
    char tokenizer[HERD_DPO_PATH];  /* "": the model's */
    char train_data[HERD_DPO_PATH], val_data[HERD_DPO_PATH];  /* preference JSONL */
    char out_dir[HERD_DPO_PATH];    /* "out" */
    char method[8];                 /* "full" or "lora" */
    herd_lora_params lora;          /* r 8, alpha 16, dropout 0, targets q and v */
    char chat_template[16];         /* auto, none, llama2, llama3 */
    int skip_bad;
    double beta;                    /* 0.1 */
    int batch_size;                 /* pairs a step, 8 */
    int seq_len;                    /* 0: the model's context */
    int64_t steps;                  /* 0: one epoch */
    int64_t warmup;
    float lr, min_lr_ratio, grad_clip;   /* 1e-5 (Llama 3's), 0.1, 1.0 */
    herd_adamw_params adamw;        /* weight_decay 0 */
    int eval_every;                 /* steps; 0: only at the end */
    uint64_t seed;
    int threads;
} herd_dpo_opts;

void herd_dpo_opts_defaults(herd_dpo_opts *o);
/* Reads a JSON config file over the defaults: an unknown key, a wrong type
 * or an impossible value is HERD_E_ARG naming the key. */
herd_status herd_dpo_opts_load(const char *path, herd_dpo_opts *o);

#endif

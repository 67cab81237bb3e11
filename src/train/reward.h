/* Reward models (Llama 2, section 3.2.2): a Llama backbone whose final
 * normed hidden state at the last token of a (prompt, response) sequence
 * goes through a scalar head, r = w . h + b. Trained on preference pairs
 * (train/pref.h) with the binary ranking loss -log(sigmoid(r_chosen -
 * r_rejected - m)), m the pair's margin.
 *
 * On disk a reward model is one GGUF file: the backbone as herd writes a
 * model, plus the head as the tensors "cls.output.weight" [1][dim] and
 * "cls.output.bias" [1] (F32), and the keys "herd.reward_model" = true and
 * "herd.reward_model.chat_template" (string: "none", "llama2" or "llama3",
 * how its training pairs were rendered; reward-score renders the same way).
 * herd_model_open reads such a file as the plain backbone (it never looks
 * at the extra tensors), so herd run / info / convert take it as a model. */
#ifndef HERD_TRAIN_REWARD_H
#define HERD_TRAIN_REWARD_H
#include "herd_train.h"
#include "train/pref.h"

typedef struct herd_reward_model herd_reward_model;

/* Opens a reward model file (inference: the backbone as herd_model_open
 * makes it, and the head). A model without the head or the key is
 * HERD_E_FORMAT. */
herd_status herd_reward_open(const char *path, herd_reward_model **out);
void herd_reward_free(herd_reward_model *rm);
/* The reward of each of n token sequences (each scored at its last token). */
herd_status herd_reward_score(herd_reward_model *rm, const int *const *seqs, const int *lens,
                              int n, float *rewards);
/* The tokenizer the reward model carries (to render text), or NULL. */
herd_tokenizer *herd_reward_tokenizer(herd_reward_model *rm);
/* The template its pairs were rendered with (HERD_CHAT_NONE: plain). */
herd_chat_template herd_reward_template(const herd_reward_model *rm);
const herd_model *herd_reward_backbone(const herd_reward_model *rm);
/* The head: dim weights then the bias. */
const float *herd_reward_head(const herd_reward_model *rm);

/* Writes a reward model: backbone m (its tokenizer and chat template as m
 * carries them) and head[dim + 1] (w, then b), F32, to PATH.tmp, then
 * renamed over path. */
herd_status herd_reward_save(const herd_model *m, const float *head, herd_chat_template tpl,
                             const char *path);

/* ---- the ranking loss ---- */

/* Rows of P pairs into tokens[2P*T]: row 2p pair p's chosen sequence, row
 * 2p + 1 its rejected one, all of its ids as inputs (a reward reads the
 * hidden state of the last), then token 0; targets all -1; last[row] the
 * index of the sequence's last token. HERD_E_ARG for a sequence longer
 * than T or empty. */
herd_status herd_reward_fill(const herd_pref_pair *const *pairs, int P, int T, int *tokens,
                             int *targets, int *last);

typedef struct {
    double loss;       /* mean over pairs of -log sigmoid(r_c - r_r - m) */
    int correct;       /* pairs with r_c > r_r */
    int pairs;
} herd_reward_stats;

/* The loss of a filled batch b (B = 2P rows) with margins margin[P] and
 * the head head[dim + 1]; rewards[2P] (may be NULL) gets each row's reward.
 * With dhead (may be NULL: no gradients) it adds d(loss)/d(head) to
 * dhead[dim + 1] and d(loss)/d(param) to tm's gradient buffer. The bias
 * cancels in r_c - r_r, so its gradient is always 0. */
herd_status herd_reward_batch(herd_train_model *tm, const herd_batch *b, const int *last,
                              const float *margin, const float *head, float *dhead,
                              float *rewards, herd_reward_stats *st);

/* ---- training (herd reward-train) ---- */

#define HERD_REWARD_PATH 1024

typedef struct {
    char init[HERD_REWARD_PATH];      /* the model to start from (required) */
    char tokenizer[HERD_REWARD_PATH]; /* "": the model's */
    char train_data[HERD_REWARD_PATH], val_data[HERD_REWARD_PATH];
    char out_dir[HERD_REWARD_PATH];
    char chat_template[16];           /* auto, none, llama2, llama3 */
    int batch_size;                   /* pairs per step */
    int seq_len;                      /* most tokens of a sequence; 0: the model's context */
    int64_t steps, warmup;            /* warmup < 0: 3% of steps (Llama 2) */
    float lr, min_lr_ratio, grad_clip;
    herd_adamw_params adamw;
    int eval_every;                   /* 0: only at the end */
    int eval_pairs;                   /* 0: the whole validation set */
    int skip_bad;
    uint64_t seed;
    int threads;
} herd_reward_opts;

void herd_reward_opts_defaults(herd_reward_opts *o);
/* Reads a JSON config over the defaults: unknown keys, wrong types and
 * values out of range are errors naming the key. */
herd_status herd_reward_opts_load(const char *path, herd_reward_opts *o);

typedef struct {
    int64_t step, steps;
    double loss, accuracy;            /* this step's batch */
    double val_loss, val_accuracy;    /* NaN unless evaluated after this step */
    int64_t val_pairs;
    float lr;
    double grad_norm, tokens_per_s, elapsed_s;
} herd_reward_record;

typedef struct {
    void (*on_step)(void *user, const herd_reward_record *r);
    void (*on_note)(void *user, const char *msg);
    void *user;
    volatile int *stop;               /* set non-zero: evaluate, save and return */
} herd_reward_callbacks;

/* Trains the reward model the options describe and writes
 * OUT/reward.gguf and OUT/loss.csv. The last record (given to on_step)
 * carries the held-out accuracy when there is validation data. */
herd_status herd_reward_train(const herd_reward_opts *o, const herd_reward_callbacks *cb);

#endif

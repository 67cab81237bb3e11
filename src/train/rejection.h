/* Rejection sampling (Llama 2, section 3.2.3): for each prompt, K responses
 * drawn from a policy model, each scored by a reward model (train/reward.h),
 * and the best kept as SFT data for the next round of finetuning.
 *
 * The two models meet as text: the policy's tokens are decoded to text and
 * the reward model renders prompt + response with its own tokenizer and
 * template, exactly as its training pairs were rendered (herd_pref_render).
 * Policy and reward model may therefore have different tokenizers; both
 * must carry one. A decoded response that is not valid UTF-8 (a random or
 * small model can stop inside a character, or draw a lone byte) has each
 * offending byte, and any NUL, replaced by U+FFFD; that text is the one
 * scored and written.
 *
 * The policy sees the prompt as herd finetune will train on the result
 * (herd_sft_render): with a chat template the messages rendered open for
 * the assistant's reply; with the plain template (base models) a text
 * prompt as it is after BOS, and messages as the plain chat lines ending
 * "Assistant:". A sample ends at EOS or the template's end of turn
 * (herd_chat_is_end; the end token is not part of the response), after
 * n_predict tokens, or when the context is full. The prompt is evaluated
 * once and its cache shared by the K samples.
 *
 * Input lines (JSONL, blank lines skipped):
 *   {"prompt": TEXT}                                    completion shape
 *   {"messages": [{"role": "system"|"user"|"assistant",
 *                  "content": TEXT}, ..., {"role": "user", ...}]}   chat shape
 * Output lines: the input object with the best response added ("completion":
 * best; or {"role": "assistant", "content": best} appended to "messages"),
 * plus "reward" (its score) and "mean_reward" (the mean of the K); other keys
 * of the input are kept. herd finetune reads them as they are. */
#ifndef HERD_TRAIN_REJECTION_H
#define HERD_TRAIN_REJECTION_H
#include <stddef.h>
#include <stdint.h>
#include "herd.h"
#include "train/reward.h"

typedef struct {
    int k;                   /* samples per prompt, >= 1 */
    int n_predict;           /* most tokens in a sample, >= 1 */
    int n_ctx;               /* the policy's context; 0: its seq_len, at most 4096 */
    herd_chat_template tpl;  /* how the policy sees the prompt */
    herd_sampler_params sp;  /* its seed is not used: each call gives one */
} herd_rejection_opts;

typedef struct herd_rejection herd_rejection;

/* A sampler over policy and rm (both must outlive it and carry a
 * tokenizer, else HERD_E_ARG). */
herd_status herd_rejection_new(herd_model *policy, herd_reward_model *rm,
                               const herd_rejection_opts *o, herd_rejection **out);
void herd_rejection_free(herd_rejection *r);

/* A prompt: a text, or messages ending with a user message. */
typedef struct {
    const char *text;
    const herd_chat_msg *msgs;
    int n_msgs;
} herd_rejection_prompt;

typedef struct {
    int k;
    char **text;       /* the k responses (valid UTF-8) */
    int *n_tokens;     /* policy tokens of each (the end token not counted) */
    float *reward;     /* the reward of each */
    int best;          /* the highest reward (the first of equals) */
    double mean;       /* mean reward of the k */
} herd_rejection_result;

/* Draws o->k responses to p (sample j from a sampler seeded from seed and
 * j: the same seed gives the same responses), scores them and picks the
 * best. out is filled anew (free it with herd_rejection_result_free). A
 * prompt longer than the context, or a conversation the templates refuse,
 * is HERD_E_ARG. */
herd_status herd_rejection_sample(herd_rejection *r, const herd_rejection_prompt *p,
                                  uint64_t seed, herd_rejection_result *out);
void herd_rejection_result_free(herd_rejection_result *res);

/* ---- JSONL lines ---- */

typedef struct {
    herd_rejection_prompt p;     /* points into the parsed JSON */
    void *doc_;                  /* internal: the parsed JSON */
    herd_chat_msg *msg_buf_;
    int msg_cap_;
} herd_rejection_line;

/* Parses len bytes of one input line (above) into l, reusing its buffers;
 * HERD_E_FORMAT says why a line is bad, without file:line. */
herd_status herd_rejection_parse(herd_rejection_line *l, const char *text, size_t len);
void herd_rejection_line_free(herd_rejection_line *l);
/* The output line for the parsed line l and a result: one line of JSON,
 * no newline, malloc'd into *out. */
herd_status herd_rejection_format(const herd_rejection_line *l, const herd_rejection_result *res,
                                  char **out);
/* Sample j as herd reward-score reads it: {"prompt": TEXT or messages,
 * "response": TEXT, "reward": R}, malloc'd into *out. */
herd_status herd_rejection_format_sample(const herd_rejection_line *l,
                                         const herd_rejection_result *res, int j, char **out);

#endif

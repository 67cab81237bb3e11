/* Preference data (Llama 2, section 3.2.1): a prompt with a chosen and a
 * rejected response, the data of reward models (train/reward.h) and DPO.
 *
 * Each line of a JSONL file is one object:
 *   {"prompt": P, "chosen": "...", "rejected": "..."}
 * with optionally "margin" (a finite number >= 0) or "strength", one of
 * Llama 2's preference-rating labels, which gives the margin of Table 28's
 * "margin small" column:
 *   "significantly better"  1
 *   "better"                2/3
 *   "slightly better"       1/3
 *   "negligibly better"     0   (also "unsure")
 * (case does not matter; both keys at once is a bad line; neither: 0).
 * P is a text, or chat messages [{"role": "system"|"user"|"assistant",
 * "content": "..."}, ...] that the response answers. Blank lines are skipped.
 *
 * Each pair renders to two sequences, prompt + chosen and prompt +
 * rejected, with herd_sft_render (train/sft.h): with a chat template a text
 * prompt is one user message and the response one assistant message (a
 * message prompt gets the response as its last assistant message); with
 * the plain template (HERD_CHAT_NONE, base models) a text prompt is
 * "{prompt}{response}" EOS, the two as they are, and a message prompt the
 * plain chat lines ("User: ...\nAssistant: {response}" EOS). The mask
 * (sft.h's convention: trained[i] is 1 when token i is predicted from the
 * ones before it and belongs to the response) covers the response and the
 * token that closes it, never earlier assistant turns of a message prompt.
 *
 * Bad lines (not JSON, not an object, a missing or non-string field,
 * chosen == rejected, a bad margin or strength, a conversation the
 * template refuses) stop the load with HERD_E_FORMAT "path:line: why",
 * or are skipped and counted (skip_bad). */
#ifndef HERD_TRAIN_PREF_H
#define HERD_TRAIN_PREF_H
#include <stdint.h>
#include "train/sft.h"

/* One pair: the two rendered sequences and the margin. */
typedef struct {
    const int *chosen, *rejected;
    const uint8_t *chosen_mask, *rejected_mask;
    int n_chosen, n_rejected;
    float margin;
    int64_t line;            /* 1-based line of the file */
} herd_pref_pair;

/* The pairs of a file (their ids and masks live in ids / mask). */
typedef struct {
    int64_t n;
    herd_pref_pair *pairs;
    int *ids;
    uint8_t *mask;
} herd_pref_set;

typedef struct {
    int64_t lines;           /* non-blank lines read */
    int64_t used;            /* pairs kept */
    int64_t bad;             /* skipped as bad (skip_bad) */
    int64_t too_long;        /* dropped: a sequence longer than max_len */
    int64_t tokens;          /* in the pairs kept, both sequences */
    char first_bad[256];     /* "file:line: why" of the first bad line, "" if none */
} herd_pref_stats;

/* Reads and renders a preference file. max_len: most ids in a sequence
 * (0: any); a pair with a longer one is dropped and counted (never cut: a
 * reward is read at the last token). A file with no usable pair is
 * HERD_E_FORMAT. st may be NULL. */
herd_status herd_pref_load(const char *path, const herd_tokenizer *t, herd_chat_template tpl,
                           int max_len, int skip_bad, herd_pref_set **out,
                           herd_pref_stats *st);
void herd_pref_set_free(herd_pref_set *s);

/* ---- one line (herd reward-score) ---- */

/* A parsed line. Besides preference lines, with allow_response a line
 * {"prompt": P, "response": "..."} (response set, chosen/rejected NULL).
 * The strings point into the parsed JSON the line owns. */
typedef struct {
    const char *prompt;          /* a text prompt, or NULL */
    const herd_chat_msg *msgs;   /* or the prompt as messages */
    int n_msgs;
    const char *chosen, *rejected, *response;
    float margin;
    void *doc_;                  /* internal: the parsed JSON */
    herd_chat_msg *msg_buf_;
    int msg_cap_;
} herd_pref_line;

/* Parses len bytes of one line into l (reusing its buffers); the message
 * of a failure says why, without a file:line. */
herd_status herd_pref_parse(herd_pref_line *l, const char *text, size_t len, int allow_response);
void herd_pref_line_free(herd_pref_line *l);
/* Renders l's prompt with response as the answer (as the file loader does). */
herd_status herd_pref_render(const herd_tokenizer *t, herd_chat_template tpl,
                             const herd_pref_line *l, const char *response,
                             herd_sft_tokens *out);

/* The margin of a Llama 2 strength label (above); -1 for an unknown one. */
float herd_pref_strength_margin(const char *label);

#endif

/* Supervised finetuning data: JSONL examples rendered to token ids with a
 * per-token loss mask, and a loader that packs them into batches.
 *
 * Each line of the file is one JSON object in one of these shapes, told
 * apart by its keys:
 *   chat        {"messages": [{"role": "system"|"user"|"assistant",
 *                              "content": "..."}, ...]}            (OpenAI)
 *               {"conversations": [{"from": "system"|"human"|"gpt",
 *                                   "value": "..."}, ...]}         (ShareGPT)
 *   alpaca      {"instruction": "...", "input": "..." (optional), "output": "..."}
 *   completion  {"prompt": "...", "completion": "..."}
 * A chat message may carry "train": false (an assistant message: its
 * answer is context, its loss zeroed; on another role it changes nothing)
 * or "train": true (the default; only an assistant message can be).
 * Blank lines are skipped. Messages after the last trained assistant
 * message train nothing and are left out; a conversation without one is a
 * bad line.
 *
 * Rendering with a chat template (HERD_CHAT_LLAMA2 / LLAMA3): the ids are
 * exactly herd_chat_render's for the conversation; alpaca rows become one
 * user message (instruction, then "\n\n" and the input when there is one)
 * and one assistant message (output), completion rows a user message
 * (prompt) and an assistant message (completion).
 *
 * Rendering for a base model (HERD_CHAT_NONE), BOS first and EOS after each
 * answer:
 *   alpaca      Stanford Alpaca's prompt, then the output:
 *                 "Below is an instruction that describes a task[, paired with
 *                 an input that provides further context]. Write a response
 *                 that appropriately completes the request.\n\n### Instruction:
 *                 \n{instruction}\n\n[### Input:\n{input}\n\n]### Response:\n"
 *                 "{output}" EOS
 *   completion  "{prompt}{completion}" EOS, the two as they are
 *   chat        each turn (the messages up to and including an assistant
 *               message) as lines
 *                 "System: {content}\n" (each system message)
 *                 "User: {content}\n" (each user message)
 *                 "Assistant: {answer}" EOS
 *               each turn tokenized on its own, BOS before the first only
 *               (SentencePiece puts its dummy-prefix space before each
 *               later turn); contents stripped of ASCII whitespace.
 * A piece of plain text is tokenized as one string (prompt and answer
 * together), so the ids are the text's natural tokenization.
 *
 * The mask: trained[i] is 1 when the prediction of token i (from the tokens
 * before it) is trained. Those are the tokens of each assistant answer and
 * the token that ends it (EOS; <|eot_id|> for Llama 3); never BOS, system
 * or user text, role headers or [INST] markup. Every assistant turn of a
 * conversation is trained but those marked "train": false (all of their
 * tokens untrained). Where the prompt's last token and the answer's
 * first would tokenize as one (never with the templates' separators), that
 * token is trained. */
#ifndef HERD_TRAIN_SFT_H
#define HERD_TRAIN_SFT_H
#include <stdint.h>
#include "herd_train.h"

/* The role a chat message's "role" / ShareGPT "from" stands for: "system",
 * "user" ("human") or "assistant" ("gpt"); NULL for another. */
const char *herd_sft_role(const char *r);

/* ---- one example ---- */

typedef enum { HERD_SFT_CHAT = 1, HERD_SFT_ALPACA = 2, HERD_SFT_COMPLETION = 3 } herd_sft_shape;

typedef struct {
    herd_sft_shape shape;
    const herd_chat_msg *msgs;  /* CHAT: roles "system", "user", "assistant" */
    int n_msgs;
    const uint8_t *untrained;   /* CHAT: NULL, or one flag per message, 1 where an
                                 * assistant message is not trained */
    const char *instruction, *input, *output; /* ALPACA; input NULL or "" when none */
    const char *prompt, *completion;          /* COMPLETION */
} herd_sft_example;

/* Ids and mask of one rendered example, grown as needed. */
typedef struct {
    int *ids;
    uint8_t *trained;
    int n, cap;
} herd_sft_tokens;

/* Renders ex into out (replacing what it held). HERD_E_ARG for a
 * conversation the template cannot take (Llama 2's roles out of turn, no
 * assistant message, an unknown role). */
herd_status herd_sft_render(const herd_tokenizer *t, herd_chat_template tpl,
                            const herd_sft_example *ex, herd_sft_tokens *out);
void herd_sft_tokens_free(herd_sft_tokens *tk);

/* ---- a file ---- */

typedef struct {
    herd_chat_template tpl; /* HERD_CHAT_NONE: the plain template */
    int max_len;            /* most tokens in an example (T + 1 for rows of T); 0: any */
    int truncate;           /* longer examples: 1 cut to max_len, 0 dropped */
    int skip_bad;           /* bad lines: 1 skipped and counted, 0 an error */
} herd_sft_opts;

typedef struct {
    int64_t lines;          /* non-blank lines read */
    int64_t used;           /* examples kept */
    int64_t bad;            /* lines skipped as bad (skip_bad) */
    int64_t too_long;       /* dropped: longer than max_len (or nothing trained
                             * left after truncating) */
    int64_t truncated;      /* cut to max_len and kept */
    int64_t tokens;         /* in the examples kept */
    int64_t trained;        /* of them, trained */
    char first_bad[256];    /* "file:line: why" of the first bad line, "" if none */
} herd_sft_stats;

/* The examples of a file, back to back: example i is ids[off[i] .. off[i+1])
 * with mask trained[...]; it came from line line[i] (1-based). */
typedef struct {
    int64_t n;
    int64_t *off;
    int *ids;
    uint8_t *trained;
    int64_t *line;
} herd_sft_set;

/* Reads and renders a JSONL file. A bad line (not JSON, not an object of
 * a known shape, a field that is not a string, a conversation the template
 * refuses) stops it with HERD_E_FORMAT "path:line: why" unless skip_bad.
 * A file with no usable example is HERD_E_FORMAT. st may be NULL. */
herd_status herd_sft_load(const char *path, const herd_tokenizer *t, const herd_sft_opts *o,
                          herd_sft_set **out, herd_sft_stats *st);
void herd_sft_set_free(herd_sft_set *s);

/* ---- batches ----
 * Rows of T tokens filled greedily: examples are taken in an order drawn
 * from (seed, epoch) when shuffling (else in file order), each example
 * once per epoch, and each goes whole into the current row when its n - 1
 * inputs fit there, else the row is closed and it starts the next. An
 * example of n ids gives inputs ids[0 .. n-2] and targets ids[1 .. n-1],
 * target j being -1 where trained[j+1] is 0; doc_start is 1 at its first
 * input. A row's unused tail is token 0, target -1, doc_start 1 at its
 * first position. Packing runs on across the end of an epoch; every batch
 * starts a fresh row, so (epoch, index) says where the stream stands. */

typedef struct herd_sft_loader herd_sft_loader;

typedef struct {
    uint64_t epoch;   /* epochs completed */
    uint64_t index;   /* examples taken in this epoch, < the set's n */
} herd_sft_pos;

/* A loader over s (which must outlive it): every example must fit a row
 * (n <= T + 1), else HERD_E_ARG. */
herd_status herd_sft_loader_new(const herd_sft_set *s, int B, int T, uint64_t seed,
                                int shuffle, herd_sft_loader **out);
void herd_sft_loader_free(herd_sft_loader *l);
/* Fills B*T tokens, targets and doc_start. */
void herd_sft_loader_next(herd_sft_loader *l, int *tokens, int *targets, uint8_t *doc_start);
/* The next batch into buffers the loader owns, valid until the next call. */
void herd_sft_loader_batch(herd_sft_loader *l, herd_batch *b);
/* Rows one epoch fills when packed in file order (an estimate of a
 * shuffled epoch's), for counting steps. */
uint64_t herd_sft_loader_epoch_rows(const herd_sft_loader *l);
herd_sft_pos herd_sft_loader_state(const herd_sft_loader *l);
herd_status herd_sft_loader_set_state(herd_sft_loader *l, herd_sft_pos p);

#endif

/* The generation engine behind herd serve: one model, many requests at
 * once. A scheduler thread runs continuous batching: at every step each
 * running sequence adds its next token (or a chunk of its prompt) to one
 * batch, the batch goes through the model in one forward pass
 * (matrix-matrix), and each sequence samples its token. Requests join and
 * leave between steps. Their K and V live in a paged cache (fixed blocks,
 * a block table per sequence, prefix blocks shared between sequences with
 * the same prompt start, copy-on-write where one must write into a shared
 * block); a request waits in a queue while the pool or the batch is full.
 * Callers block in herd_engine_complete and get their tokens through a
 * callback on their own thread, so a slow client never holds the batch. */
#ifndef HERD_INFER_ENGINE_H
#define HERD_INFER_ENGINE_H
#include "herd.h"

typedef struct herd_engine herd_engine;

typedef struct {
    int n_ctx;        /* most positions of one sequence (0: the model's, at most 8192) */
    int parallel;     /* most sequences in the batch (0: 4) */
    int block;        /* positions per KV block (0: 16) */
    int n_blocks;     /* blocks in the pool (0: parallel sequences of n_ctx) */
    int batch;        /* most tokens in one step, prompt chunks included (0: 512) */
} herd_engine_opts;

typedef struct {
    herd_sampler_params sp;
    int max_tokens;   /* most tokens to generate */
    int chat;         /* also stop at the chat template's end-of-turn token */
} herd_engine_params;

typedef struct {
    int n_prompt;     /* prompt tokens */
    int n_cached;     /* of them, found in the prefix cache */
    int n_gen;        /* tokens handed to the callback */
    int hit_end;      /* stopped at EOS (or the end of a chat turn) */
    int pool_waited;  /* waited in the queue for free KV blocks */
    double queue_s, prompt_s, gen_s;  /* waiting, to the first token, after it */
} herd_engine_result;

typedef struct {
    int running, queued;                 /* sequences */
    int blocks_used, blocks_cached, blocks_total, block;
    unsigned long long steps, batch_tokens, cached_tokens, generated;
    unsigned long long pool_waits;       /* requests that waited for free blocks */
    double busy_s;                       /* time spent in steps */
} herd_engine_stats;

/* Called with each generated token (never EOS); non-zero stops. */
typedef int (*herd_engine_token_fn)(void *user, int id);

/* Opens the model (it must carry a tokenizer) and starts the scheduler.
 * Generation uses as many threads as the calling thread's herd_set_threads
 * gave. */
herd_status herd_engine_new(const char *model_path, const herd_engine_opts *o,
                            herd_engine **out);
/* Waits for the running requests, then stops. */
void herd_engine_free(herd_engine *e);
const herd_tokenizer *herd_engine_tokenizer(const herd_engine *e);
herd_chat_template herd_engine_template(const herd_engine *e);
int herd_engine_n_ctx(const herd_engine *e);
int herd_engine_n_vocab(const herd_engine *e);
void herd_engine_stats_get(herd_engine *e, herd_engine_stats *st);

/* Generates from the prompt ids (a fresh sequence); returns when the
 * sequence has ended and given back its blocks. The prompt plus max_tokens
 * must fit n_ctx. */
herd_status herd_engine_complete(herd_engine *e, const int *ids, int n,
                                 const herd_engine_params *p, herd_engine_token_fn fn,
                                 void *user, herd_engine_result *r);

#endif

/* The generation engine behind herd serve: one model, one KV cache, one
 * request at a time (a mutex around each completion). The server only calls
 * herd_engine_complete, so a batch scheduler over a paged cache can take its
 * place later without touching the HTTP side. */
#ifndef HERD_SERVE_ENGINE_H
#define HERD_SERVE_ENGINE_H
#include "herd.h"

typedef struct herd_engine herd_engine;

typedef struct {
    herd_sampler_params sp;
    int max_tokens;   /* most tokens to generate */
    int chat;         /* also stop at the chat template's end-of-turn token */
} herd_engine_params;

typedef struct {
    int n_prompt;     /* prompt tokens evaluated */
    int n_gen;        /* tokens handed to the callback */
    int hit_end;      /* stopped at EOS (or the end of a chat turn) */
    double prompt_s, gen_s;
} herd_engine_result;

/* Called with each generated token (never EOS); non-zero stops. */
typedef int (*herd_engine_token_fn)(void *user, int id);

/* Opens the model and a context of n_ctx positions (0: the model's, at most
 * 8192). The model must carry a tokenizer. Generation uses as many threads
 * as the calling thread's herd_set_threads gave. */
herd_status herd_engine_new(const char *model_path, int n_ctx, herd_engine **out);
void herd_engine_free(herd_engine *e);
const herd_tokenizer *herd_engine_tokenizer(const herd_engine *e);
herd_chat_template herd_engine_template(const herd_engine *e);
int herd_engine_n_ctx(const herd_engine *e);
int herd_engine_n_vocab(const herd_engine *e);

/* Generates from the prompt ids on an empty cache. Waits while another
 * completion runs. The prompt must fit the context. */
herd_status herd_engine_complete(herd_engine *e, const int *ids, int n,
                                 const herd_engine_params *p, herd_engine_token_fn fn,
                                 void *user, herd_engine_result *r);

#endif

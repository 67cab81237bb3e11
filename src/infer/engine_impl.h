/* Internals of the engine (infer/engine.h) shared by engine.c (requests
 * and their callers) and scheduler.c (the step loop). */
#ifndef HERD_INFER_ENGINE_IMPL_H
#define HERD_INFER_ENGINE_IMPL_H
#include "infer/engine.h"
#include "infer/kv_blocks.h"
#include <pthread.h>

typedef struct herd_request {
    /* Set before the request is queued. */
    int *toks, n_prompt, cap;  /* the prompt, then the generated tokens; cap: most */
    herd_engine_params p;
    herd_sampler *smp;
    int *table;                /* block table, room for cap positions and a copy */
    double t_submit;
    /* The scheduler thread's alone. */
    int n_toks;                /* tokens known */
    int n_done;                /* of them, with K and V in the cache */
    int n_table;               /* blocks held */
    int n_registered;          /* leading blocks offered to the prefix cache */
    int pending;               /* tokens in this step's batch */
    int n_cached, done, pool_waited;
    double t_admit, t_first, t_end;
    /* Shared, under the engine's lock. */
    int n_ready;               /* generated tokens the caller may read */
    int cancel, finished, hit_end;
    herd_status st;
    char err[256];
    pthread_cond_t cv;
    struct herd_request *next;
} herd_request;

struct herd_engine {
    herd_model *m;
    const herd_tokenizer *tok;
    herd_chat_template tpl;
    herd_context *ctx;
    herd_kv_blocks *kb;
    herd_engine_opts o;        /* with the defaults filled in */
    int threads, eos, V;
    pthread_t thread;
    pthread_mutex_t mu;        /* guards the queue, run list, stats, shared fields */
    pthread_cond_t work;       /* a request came, was cancelled, or stop */
    herd_request *queue, *queue_tail;
    herd_request **run;        /* [parallel] admitted sequences */
    int n_run, stopping;
    herd_engine_stats stats;
    /* One step's batch (the scheduler's alone). */
    int *b_tok, *b_pos, *b_out;
    const int **b_tab;
    herd_request **b_req;
    float *logits;             /* [parallel][V] */
};

double herd_engine_now(void);
/* The scheduler thread's body. */
void *herd_engine_loop(void *engine);

#endif

/* The engine's outside: opening the model and the paged cache, starting
 * and stopping the scheduler thread (scheduler.c), and the callers' side of
 * a request: queue it, hand its tokens to the callback as they come, ask
 * for a stop when the callback says so, wait until it has ended. */
#include "infer/engine_impl.h"
#include "base/error.h"
#include "model/paged.h"
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PARALLEL 256

static herd_status resolve(herd_engine *e, const herd_engine_opts *in)
{
    const herd_config *c = herd_model_config(e->m);
    herd_engine_opts o = in ? *in : (herd_engine_opts){0};
    if (!o.n_ctx)
        o.n_ctx = c->seq_len < 8192 ? c->seq_len : 8192;
    if (!o.parallel)
        o.parallel = 4;
    if (!o.block)
        o.block = 16;
    if (!o.batch)
        o.batch = 512;
    int per_seq = (o.n_ctx + o.block - 1) / o.block;
    if (!o.n_blocks)
        o.n_blocks = o.parallel * per_seq + 1;
    if (o.n_ctx < 2 || o.parallel < 1 || o.parallel > MAX_PARALLEL || o.block < 1 ||
        o.batch < 1)
        return herd_fail(HERD_E_ARG, "engine: context %d, parallel %d (1..%d), block %d and "
                         "batch %d must be positive", o.n_ctx, o.parallel, MAX_PARALLEL,
                         o.block, o.batch);
    if (o.n_blocks < per_seq + 1)
        return herd_fail(HERD_E_ARG, "a KV pool of %d blocks of %d cannot hold one sequence of "
                         "%d positions (it needs %d blocks)", o.n_blocks, o.block, o.n_ctx,
                         per_seq + 1);
    e->o = o;
    return HERD_OK;
}

static herd_status open_engine(herd_engine *e, const char *path, const herd_engine_opts *o)
{
    HERD_TRY(herd_model_open(path, &e->m));
    if (!(e->tok = herd_model_tokenizer(e->m)))
        return herd_fail(HERD_E_UNSUPPORTED, "%s carries no tokenizer", path);
    HERD_TRY(resolve(e, o));
    e->tpl = herd_chat_template_detect(herd_model_chat_template(e->m), e->tok);
    e->eos = herd_tokenizer_eos(e->tok);
    e->V = herd_model_config(e->m)->vocab_size;
    HERD_TRY(herd_context_new_paged(e->m, e->o.n_ctx, e->o.n_blocks, e->o.block, &e->ctx));
    HERD_TRY(herd_kv_blocks_new(e->o.n_blocks, e->o.block, &e->kb));
    size_t nb = (size_t)e->o.batch + e->o.parallel, np = (size_t)e->o.parallel;
    e->run = calloc(np, sizeof *e->run);
    e->b_tok = malloc(nb * sizeof *e->b_tok);
    e->b_pos = malloc(nb * sizeof *e->b_pos);
    e->b_tab = malloc(nb * sizeof *e->b_tab);
    e->b_out = malloc(np * sizeof *e->b_out);
    e->b_req = malloc(np * sizeof *e->b_req);
    e->logits = malloc(np * e->V * sizeof *e->logits);
    if (!e->run || !e->b_tok || !e->b_pos || !e->b_tab || !e->b_out || !e->b_req || !e->logits)
        return herd_fail(HERD_E_NOMEM, "out of memory");
    e->stats.blocks_total = e->o.n_blocks;
    e->stats.block = e->o.block;
    return HERD_OK;
}

static void release(herd_engine *e)
{
    herd_kv_blocks_free(e->kb);
    herd_context_free(e->ctx);
    herd_model_free(e->m);
    free(e->run); free(e->b_tok); free(e->b_pos); free(e->b_tab);
    free(e->b_out); free(e->b_req); free(e->logits);
    free(e);
}

herd_status herd_engine_new(const char *model_path, const herd_engine_opts *o,
                            herd_engine **out)
{
    *out = NULL;
    herd_engine *e = calloc(1, sizeof *e);
    if (!e)
        return herd_fail(HERD_E_NOMEM, "out of memory");
    herd_status s = open_engine(e, model_path, o);
    if (s != HERD_OK) {
        release(e);
        return s;
    }
    e->threads = omp_get_max_threads();
    pthread_mutex_init(&e->mu, NULL);
    pthread_cond_init(&e->work, NULL);
    if (pthread_create(&e->thread, NULL, herd_engine_loop, e)) {
        pthread_mutex_destroy(&e->mu);
        pthread_cond_destroy(&e->work);
        release(e);
        return herd_fail(HERD_E_NOMEM, "could not start the scheduler thread");
    }
    *out = e;
    return HERD_OK;
}

void herd_engine_free(herd_engine *e)
{
    if (!e)
        return;
    pthread_mutex_lock(&e->mu);
    e->stopping = 1;
    pthread_cond_signal(&e->work);
    pthread_mutex_unlock(&e->mu);
    pthread_join(e->thread, NULL);
    pthread_mutex_destroy(&e->mu);
    pthread_cond_destroy(&e->work);
    release(e);
}

const herd_tokenizer *herd_engine_tokenizer(const herd_engine *e) { return e->tok; }
herd_chat_template herd_engine_template(const herd_engine *e) { return e->tpl; }
int herd_engine_n_ctx(const herd_engine *e) { return e->o.n_ctx; }
int herd_engine_n_vocab(const herd_engine *e) { return e->V; }

void herd_engine_stats_get(herd_engine *e, herd_engine_stats *st)
{
    pthread_mutex_lock(&e->mu);
    *st = e->stats;
    pthread_mutex_unlock(&e->mu);
}

/* The one-request-at-a-time engine: herd_generate under a mutex. */
#include "serve/engine.h"
#include "base/error.h"
#include <omp.h>
#include <pthread.h>
#include <stdlib.h>

struct herd_engine {
    herd_model *m;
    const herd_tokenizer *tok;
    herd_chat_template tpl;
    herd_context *ctx;
    int threads;           /* the creating thread's, for the threads that generate */
    pthread_mutex_t mu;
};

herd_status herd_engine_new(const char *model_path, int n_ctx, herd_engine **out)
{
    *out = NULL;
    herd_engine *e = calloc(1, sizeof *e);
    if (!e)
        return herd_fail(HERD_E_NOMEM, "out of memory");
    herd_status s = herd_model_open(model_path, &e->m);
    if (s == HERD_OK && !(e->tok = herd_model_tokenizer(e->m)))
        s = herd_fail(HERD_E_UNSUPPORTED, "%s carries no tokenizer", model_path);
    if (s == HERD_OK) {
        const herd_config *c = herd_model_config(e->m);
        if (!n_ctx)
            n_ctx = c->seq_len < 8192 ? c->seq_len : 8192;
        e->tpl = herd_chat_template_detect(herd_model_chat_template(e->m), e->tok);
        s = herd_context_new(e->m, n_ctx, &e->ctx);
    }
    if (s != HERD_OK) {
        herd_model_free(e->m);
        free(e);
        return s;
    }
    e->threads = omp_get_max_threads();
    pthread_mutex_init(&e->mu, NULL);
    *out = e;
    return HERD_OK;
}

void herd_engine_free(herd_engine *e)
{
    if (!e)
        return;
    pthread_mutex_destroy(&e->mu);
    herd_context_free(e->ctx);
    herd_model_free(e->m);
    free(e);
}

const herd_tokenizer *herd_engine_tokenizer(const herd_engine *e) { return e->tok; }
herd_chat_template herd_engine_template(const herd_engine *e) { return e->tpl; }
int herd_engine_n_ctx(const herd_engine *e) { return herd_context_n_ctx(e->ctx); }
int herd_engine_n_vocab(const herd_engine *e) { return herd_model_config(e->m)->vocab_size; }

typedef struct {
    herd_engine *e;
    const herd_engine_params *p;
    herd_engine_token_fn fn;
    void *user;
    herd_engine_result *r;
} run;

static int on_token(void *user, int id)
{
    run *k = user;
    if (k->p->chat && herd_chat_is_end(k->e->tok, k->e->tpl, id)) {
        k->r->hit_end = 1;
        return 1;
    }
    k->r->n_gen++;
    return k->fn ? k->fn(k->user, id) : 0;
}

herd_status herd_engine_complete(herd_engine *e, const int *ids, int n,
                                 const herd_engine_params *p, herd_engine_token_fn fn,
                                 void *user, herd_engine_result *r)
{
    *r = (herd_engine_result){0};
    herd_sampler *smp;
    HERD_TRY(herd_sampler_new(&p->sp, herd_engine_n_vocab(e), &smp));
    pthread_mutex_lock(&e->mu);
    /* omp_set_num_threads is per thread: each server thread sets it again. */
    herd_set_threads(e->threads);
    herd_context_reset(e->ctx);
    run k = {e, p, fn, user, r};
    herd_gen_stats st;
    int eos = herd_tokenizer_eos(e->tok);
    herd_status s = herd_generate(e->ctx, smp, ids, n, p->max_tokens, eos, on_token, &k, &st);
    pthread_mutex_unlock(&e->mu);
    herd_sampler_free(smp);
    /* herd_generate counts EOS but never hands it over. */
    if (st.n_gen > r->n_gen + r->hit_end)
        r->hit_end = 1;
    r->n_prompt = st.n_prompt;
    r->prompt_s = st.prompt_s;
    r->gen_s = st.gen_s;
    return s;
}

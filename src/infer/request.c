/* One request, from the caller's side: it is queued for the scheduler, its
 * tokens go to the callback on the caller's thread as they are published,
 * and when the callback asks to stop, the scheduler is told to drop the
 * sequence (its blocks go back at the next step). */
#include "infer/engine_impl.h"
#include "base/error.h"
#include <stdlib.h>
#include <string.h>

static void request_free(herd_request *r)
{
    if (!r)
        return;
    herd_sampler_free(r->smp);
    free(r->toks);
    free(r->table);
    free(r);
}

static herd_status request_new(herd_engine *e, const int *ids, int n,
                               const herd_engine_params *p, herd_request **out)
{
    *out = NULL;
    if (n <= 0)
        return herd_fail(HERD_E_ARG, "the prompt is empty: it needs at least one token (BOS)");
    if (n >= e->o.n_ctx)
        return herd_fail(HERD_E_RANGE, "the prompt of %d tokens does not fit the context of %d",
                         n, e->o.n_ctx);
    for (int i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= e->V)
            return herd_fail(HERD_E_RANGE, "token id %d outside the vocabulary of %d", ids[i],
                             e->V);
    herd_request *r = calloc(1, sizeof *r);
    if (!r)
        return herd_fail(HERD_E_NOMEM, "out of memory");
    r->p = *p;
    int gen = p->max_tokens > 0 ? p->max_tokens : 0;
    r->cap = gen < e->o.n_ctx - n ? n + gen : e->o.n_ctx;
    r->n_prompt = n;
    r->toks = malloc((size_t)r->cap * sizeof *r->toks);
    r->table = malloc(((size_t)(r->cap + e->o.block - 1) / e->o.block + 1) * sizeof *r->table);
    herd_status s = r->toks && r->table ? herd_sampler_new(&p->sp, e->V, &r->smp)
                                        : herd_fail(HERD_E_NOMEM, "out of memory");
    if (s != HERD_OK) {
        request_free(r);
        return s;
    }
    memcpy(r->toks, ids, (size_t)n * sizeof *ids);
    *out = r;
    return HERD_OK;
}

static void enqueue(herd_engine *e, herd_request *r)
{
    r->t_submit = herd_engine_now();
    if (e->queue)
        e->queue_tail->next = r;
    else
        e->queue = r;
    e->queue_tail = r;
    pthread_cond_signal(&e->work);
}

/* Under the lock: hands the published tokens to fn (unlocking around it)
 * until the request has ended; returns the number handed over. */
static int deliver(herd_engine *e, herd_request *r, herd_engine_token_fn fn, void *user)
{
    int given = 0, stop = r->p.max_tokens <= 0;
    if (stop)
        r->cancel = 1;
    while (!r->finished || given < r->n_ready) {
        if (given == r->n_ready || stop) {
            if (r->finished)
                break;
            pthread_cond_wait(&r->cv, &e->mu);
            continue;
        }
        int id = r->toks[r->n_prompt + given++];
        pthread_mutex_unlock(&e->mu);
        stop = fn && fn(user, id);
        pthread_mutex_lock(&e->mu);
        if (stop) {
            r->cancel = 1;
            pthread_cond_signal(&e->work);
        }
    }
    return given;
}

herd_status herd_engine_complete(herd_engine *e, const int *ids, int n,
                                 const herd_engine_params *p, herd_engine_token_fn fn,
                                 void *user, herd_engine_result *res)
{
    *res = (herd_engine_result){0};
    herd_request *r;
    HERD_TRY(request_new(e, ids, n, p, &r));
    pthread_cond_init(&r->cv, NULL);
    pthread_mutex_lock(&e->mu);
    if (e->stopping) {
        pthread_mutex_unlock(&e->mu);
        pthread_cond_destroy(&r->cv);
        request_free(r);
        return herd_fail(HERD_E_ARG, "the engine is stopping");
    }
    enqueue(e, r);
    res->n_gen = deliver(e, r, fn, user);
    pthread_mutex_unlock(&e->mu);
    herd_status st = r->st;
    if (st != HERD_OK)
        herd_fail(st, "%s", r->err);
    res->n_prompt = n;
    res->n_cached = r->n_cached;
    res->hit_end = r->hit_end;
    res->pool_waited = r->pool_waited > 0;
    if (r->t_admit) {
        res->queue_s = r->t_admit - r->t_submit;
        res->prompt_s = r->t_first ? r->t_first - r->t_admit : r->t_end - r->t_admit;
        res->gen_s = r->t_first ? r->t_end - r->t_first : 0;
    }
    pthread_cond_destroy(&r->cv);
    request_free(r);
    return st;
}

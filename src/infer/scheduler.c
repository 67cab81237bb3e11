/* The engine's scheduler thread: continuous batching over the paged cache.
 * Each step, under the lock: drop cancelled sequences, admit queued
 * requests (FIFO) while the batch has room and the pool has blocks; then,
 * without it: one batch of every running sequence's next token (decoding
 * sequences first, then prompt chunks up to the step's budget), one
 * forward pass, one sample per sequence that reached its last known
 * token; then, under the lock again, publish the tokens and retire the
 * finished. */
#include "infer/engine_impl.h"
#include "base/error.h"
#include "model/paged.h"
#include <stdio.h>
#include <string.h>
#include <time.h>

double herd_engine_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Takes the blocks for r, sharing cached prefix blocks; 0 when the pool
 * cannot hold it now. With the whole prompt cached, its last token is
 * computed again (for its logits) in a copy of its block. */
static int admit(herd_engine *e, herd_request *r)
{
    int B = e->o.block, need = (r->cap + B - 1) / B;
    int m = herd_kv_blocks_match(e->kb, r->toks, r->n_prompt, r->table);
    int cow = m > 0 && m * B >= r->n_prompt;
    if (!herd_kv_blocks_alloc(e->kb, need - m + cow, r->table + m)) {
        herd_kv_blocks_release(e->kb, r->table, m);
        return 0;
    }
    if (cow) {
        herd_kv_copy_block(e->ctx, r->table[need], r->table[m - 1]);
        herd_kv_blocks_release(e->kb, r->table + m - 1, 1);
        r->table[m - 1] = r->table[need];
    }
    r->n_table = need;
    r->n_toks = r->n_prompt;
    r->n_done = cow ? r->n_prompt - 1 : m * B;
    r->n_registered = cow ? m - 1 : m;
    r->n_cached = r->n_done;
    e->stats.cached_tokens += (unsigned long long)r->n_done;
    for (int i = 0; i < r->n_prompt; i++)
        herd_sampler_accept(r->smp, r->toks[i]);
    r->t_admit = herd_engine_now();
    return 1;
}

static void retire(herd_engine *e, int i)
{
    herd_request *r = e->run[i];
    herd_kv_blocks_release(e->kb, r->table, r->n_table);
    r->n_table = 0;
    r->t_end = herd_engine_now();
    r->finished = 1;
    pthread_cond_signal(&r->cv);
    e->run[i] = e->run[--e->n_run];
}

/* Under the lock: the stats that say how things stand now. */
static void gauges(herd_engine *e)
{
    int queued = 0;
    for (herd_request *q = e->queue; q; q = q->next)
        queued++;
    e->stats.running = e->n_run;
    e->stats.queued = queued;
    e->stats.blocks_used = herd_kv_blocks_used(e->kb);
    e->stats.blocks_cached = herd_kv_blocks_cached(e->kb);
}

/* Under the lock: cancelled out, queued in while they fit. */
static void schedule(herd_engine *e)
{
    for (int i = e->n_run - 1; i >= 0; i--)
        if (e->run[i]->cancel)
            retire(e, i);
    e->queue_tail = NULL;
    for (herd_request **q = &e->queue; *q;) {
        herd_request *r = *q;
        if (!r->cancel) {
            e->queue_tail = r;
            q = &r->next;
            continue;
        }
        *q = r->next;   /* cancelled before it ran: nothing to give back */
        r->finished = 1;
        pthread_cond_signal(&r->cv);
    }
    while (e->queue && e->n_run < e->o.parallel) {
        if (!admit(e, e->queue)) {
            if (!e->queue->pool_waited++)
                e->stats.pool_waits++;
            break;
        }
        e->run[e->n_run++] = e->queue;
        e->queue = e->queue->next;
    }
    gauges(e);
}

/* Puts r's next tokens (at most room) in the batch; returns how many. */
static int add(herd_engine *e, herd_request *r, int n, int room, int *n_out)
{
    int take = r->n_toks - r->n_done < room ? r->n_toks - r->n_done : room;
    for (int i = 0; i < take; i++, n++) {
        e->b_tok[n] = r->toks[r->n_done + i];
        e->b_pos[n] = r->n_done + i;
        e->b_tab[n] = r->table;
    }
    r->pending = take;
    if (take > 0 && r->n_done + take == r->n_toks) {
        e->b_out[*n_out] = n - 1;
        e->b_req[(*n_out)++] = r;
    }
    return take;
}

static void sample(herd_engine *e, herd_request *r, float *logits)
{
    int id = herd_sampler_sample(r->smp, logits);
    herd_sampler_accept(r->smp, id);
    if (!r->t_first)
        r->t_first = herd_engine_now();
    if (id == e->eos || (r->p.chat && herd_chat_is_end(e->tok, e->tpl, id))) {
        r->hit_end = r->done = 1;
        return;
    }
    r->toks[r->n_toks++] = id;
    if (r->n_toks - r->n_prompt >= r->p.max_tokens || r->n_toks >= r->cap)
        r->done = 1;
}

/* One forward pass over every running sequence. */
static herd_status step(herd_engine *e, herd_request **run, int n_run)
{
    int n = 0, n_out = 0, budget = e->o.batch;
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < n_run; i++) {
            herd_request *r = run[i];
            int left = r->n_toks - r->n_done;
            if (pass == 0 ? left == 1 : left > 1)
                n += add(e, r, n, pass == 0 ? 1 : budget - n, &n_out);
            else if (pass == 0)
                r->pending = 0;
        }
    double t0 = herd_engine_now();
    herd_batch b = {n, e->b_tok, e->b_pos, e->b_tab, n_out, e->b_out};
    HERD_TRY(herd_eval_batch(e->ctx, &b, e->logits));
    for (int i = 0; i < n_run; i++) {
        herd_request *r = run[i];
        r->n_done += r->pending;
        for (int B = e->o.block; (r->n_registered + 1) * B <= r->n_done; r->n_registered++)
            herd_kv_blocks_register(e->kb, r->table, r->n_registered, r->toks);
    }
    int generated = 0;
    for (int k = 0; k < n_out; k++) {
        int before = e->b_req[k]->n_toks;
        sample(e, e->b_req[k], e->logits + (size_t)k * e->V);
        generated += e->b_req[k]->n_toks - before;
    }
    pthread_mutex_lock(&e->mu);
    e->stats.steps++;
    e->stats.batch_tokens += (unsigned long long)n;
    e->stats.generated += (unsigned long long)generated;
    e->stats.busy_s += herd_engine_now() - t0;
    pthread_mutex_unlock(&e->mu);
    return HERD_OK;
}

/* Under the lock: tokens to the callers, finished sequences out. */
static void publish(herd_engine *e, herd_status st)
{
    for (int i = e->n_run - 1; i >= 0; i--) {
        herd_request *r = e->run[i];
        if (st != HERD_OK) {
            r->st = st;
            snprintf(r->err, sizeof r->err, "%s", herd_last_error());
            r->done = 1;
        }
        if (r->n_ready != r->n_toks - r->n_prompt) {
            r->n_ready = r->n_toks - r->n_prompt;
            pthread_cond_signal(&r->cv);
        }
        if (r->done)
            retire(e, i);
    }
    gauges(e);
}

void *herd_engine_loop(void *arg)
{
    herd_engine *e = arg;
    herd_request *snapshot[256];
    herd_set_threads(e->threads);
    pthread_mutex_lock(&e->mu);
    for (;;) {
        while (!e->n_run && !e->queue && !e->stopping)
            pthread_cond_wait(&e->work, &e->mu);
        schedule(e);
        if (!e->n_run && e->queue) {
            /* An empty pool admits any request herd_engine_complete lets
             * in; should one still not fit, it fails rather than waits. */
            herd_request *r = e->queue;
            e->queue = r->next;
            r->st = herd_fail(HERD_E_NOMEM, "the request does not fit the KV pool");
            snprintf(r->err, sizeof r->err, "%s", herd_last_error());
            r->finished = 1;
            pthread_cond_signal(&r->cv);
            continue;
        }
        if (!e->n_run) {
            if (e->stopping)
                break;
            continue;
        }
        int n_run = e->n_run;
        memcpy(snapshot, e->run, (size_t)n_run * sizeof *snapshot);
        pthread_mutex_unlock(&e->mu);
        herd_status st = step(e, snapshot, n_run);
        pthread_mutex_lock(&e->mu);
        publish(e, st);
    }
    pthread_mutex_unlock(&e->mu);
    return NULL;
}

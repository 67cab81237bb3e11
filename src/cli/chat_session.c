/* The state of one herd chat conversation: the messages as text (to render
 * the conversation again when it has to be shortened), the KV cache with
 * every turn so far, and the ids still to be evaluated before the next turn
 * (the token that ended the last reply). */
#include "cli/chat.h"
#include "base/error.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PENDING 2

struct chat_session {
    const chat_opts *o;
    const herd_tokenizer *tok;
    herd_chat_template tpl;
    herd_context *ctx;
    herd_sampler *smp;
    herd_chat_msg *msgs;   /* role points at a literal; content is owned */
    int n_msgs, cap_msgs;
    int pending[MAX_PENDING], n_pending;
};

static herd_status add_msg(chat_session *cs, const char *role, const char *text, size_t len)
{
    if (cs->n_msgs == cs->cap_msgs) {
        int cap = cs->cap_msgs ? 2 * cs->cap_msgs : 8;
        herd_chat_msg *m = realloc(cs->msgs, (size_t)cap * sizeof *m);
        if (!m)
            return herd_fail(HERD_E_NOMEM, "out of memory");
        cs->msgs = m, cs->cap_msgs = cap;
    }
    char *c = malloc(len + 1);
    if (!c)
        return herd_fail(HERD_E_NOMEM, "out of memory");
    memcpy(c, text, len);
    c[len] = 0;
    cs->msgs[cs->n_msgs++] = (herd_chat_msg){role, c};
    return HERD_OK;
}

/* Drops messages [from, from + n). */
static void drop_msgs(chat_session *cs, int from, int n)
{
    for (int i = from; i < from + n; i++)
        free((char *)cs->msgs[i].content);
    memmove(cs->msgs + from, cs->msgs + from + n,
            (size_t)(cs->n_msgs - from - n) * sizeof *cs->msgs);
    cs->n_msgs -= n;
}

void chat_session_clear(chat_session *cs)
{
    int keep = cs->n_msgs > 0 && !strcmp(cs->msgs[0].role, "system");
    drop_msgs(cs, keep, cs->n_msgs - keep);
    herd_context_reset(cs->ctx);
    cs->n_pending = 0;
}

herd_status chat_session_new(const chat_opts *o, herd_model *m, const herd_tokenizer *tok,
                             chat_session **out)
{
    const herd_config *c = herd_model_config(m);
    chat_session *cs = calloc(1, sizeof *cs);
    if (!cs)
        return herd_fail(HERD_E_NOMEM, "out of memory");
    *out = cs;
    cs->o = o;
    cs->tok = tok;
    cs->tpl = o->tpl ? o->tpl : herd_chat_template_detect(herd_model_chat_template(m), tok);
    int n_ctx = o->n_ctx ? o->n_ctx : (c->seq_len < 8192 ? c->seq_len : 8192);
    HERD_TRY(herd_context_new(m, n_ctx, &cs->ctx));
    HERD_TRY(herd_sampler_new(&o->sp, c->vocab_size, &cs->smp));
    if (o->verbose)
        fprintf(stderr, "herd chat: template %s, context %d\n",
                herd_chat_template_name(cs->tpl), n_ctx);
    if (o->system && *o->system)
        return add_msg(cs, "system", o->system, strlen(o->system));
    return HERD_OK;
}

void chat_session_free(chat_session *cs)
{
    if (!cs)
        return;
    drop_msgs(cs, 0, cs->n_msgs);
    free(cs->msgs);
    herd_sampler_free(cs->smp);
    herd_context_free(cs->ctx);
    free(cs);
}

/* Renders n messages into *ids (grown to fit). */
static herd_status render(chat_session *cs, const herd_chat_msg *msgs, int n, unsigned flags,
                          int **ids, int *n_ids)
{
    int cap = 256;
    for (;;) {
        int *p = realloc(*ids, (size_t)cap * sizeof *p);
        if (!p)
            return herd_fail(HERD_E_NOMEM, "out of memory");
        *ids = p;
        HERD_TRY(herd_chat_render(cs->tok, cs->tpl, msgs, n, flags | HERD_CHAT_OPEN, *ids, cap,
                                  n_ids));
        if (*n_ids <= cap)
            return HERD_OK;
        cap = *n_ids;
    }
}

/* The conversation rendered again from the start, without its oldest turns
 * where needed to leave room for a reply; the cache starts over. Fails,
 * changing nothing, when even the system prompt and the new message do not
 * fit. */
static herd_status rerender(chat_session *cs, int reserve, int **ids, int *n)
{
    int n_ctx = herd_context_n_ctx(cs->ctx);
    int sys = !strcmp(cs->msgs[0].role, "system");
    herd_chat_msg least[2] = {cs->msgs[0], cs->msgs[cs->n_msgs - 1]};
    HERD_TRY(render(cs, least + !sys, 1 + sys, 0, ids, n));
    if (*n + 1 > n_ctx)
        return herd_fail(HERD_E_RANGE, "the message needs %d tokens, more than the context of "
                         "%d holds (-c to change it)", *n, n_ctx);
    herd_context_reset(cs->ctx);
    cs->n_pending = 0;
    for (;;) {
        HERD_TRY(render(cs, cs->msgs, cs->n_msgs, 0, ids, n));
        if (*n + reserve <= n_ctx || cs->n_msgs - sys < 3)
            return HERD_OK;
        drop_msgs(cs, sys, 2); /* the oldest user message and its reply */
        if (cs->o->verbose)
            fprintf(stderr, "herd chat: context full: dropped the oldest turn\n");
    }
}

/* The ids that start this turn: the end of the last reply and the new
 * message when they fit with room for a reply (a quarter of the context, at
 * most -n), else the conversation rendered again. */
static herd_status turn_ids(chat_session *cs, int **ids, int *n)
{
    int pos = herd_context_pos(cs->ctx), n_ctx = herd_context_n_ctx(cs->ctx);
    int reserve = cs->o->n_predict < n_ctx / 4 ? cs->o->n_predict : n_ctx / 4;
    if (reserve < 1)
        reserve = 1;
    if (pos == 0)
        return rerender(cs, reserve, ids, n);
    HERD_TRY(render(cs, cs->msgs + cs->n_msgs - 1, 1, HERD_CHAT_CONTINUE, ids, n));
    if (pos + cs->n_pending + *n + reserve > n_ctx)
        return rerender(cs, reserve, ids, n);
    int *p = realloc(*ids, (size_t)(*n + cs->n_pending) * sizeof *p);
    if (!p)
        return herd_fail(HERD_E_NOMEM, "out of memory");
    *ids = p;
    memmove(p + cs->n_pending, p, (size_t)*n * sizeof *p);
    memcpy(p, cs->pending, (size_t)cs->n_pending * sizeof *p);
    *n += cs->n_pending;
    return HERD_OK;
}

typedef struct {
    chat_session *cs;
    volatile sig_atomic_t *stop;
    int prev, end;         /* end: the id that ended the reply, -1 */
    char *text;            /* the reply as decoded */
    size_t len, cap;
} reply;

static int on_token(void *user, int id)
{
    reply *r = user;
    if (herd_chat_is_end(r->cs->tok, r->cs->tpl, id)) {
        r->end = id;
        return 1;
    }
    if (*r->stop)
        return 1; /* this id is dropped: the reply ends before it */
    char buf[512];
    int n = herd_token_to_bytes(r->cs->tok, r->prev, id, buf);
    if (n > 0) {
        fwrite(buf, 1, (size_t)n, stdout);
        fflush(stdout);
        if (r->len + (size_t)n > r->cap) {
            size_t cap = 2 * (r->len + (size_t)n);
            char *t = realloc(r->text, cap);
            if (!t)
                return 1;
            r->text = t, r->cap = cap;
        }
        memcpy(r->text + r->len, buf, (size_t)n);
        r->len += (size_t)n;
    }
    r->prev = id;
    return 0;
}

/* What must reach the cache before the next turn: the id that ended the
 * reply, or the last id generated (never evaluated) and an end token. */
static void set_pending(chat_session *cs, const reply *r, int stopped)
{
    int end = herd_chat_end_token(cs->tok, cs->tpl);
    cs->n_pending = 0;
    if (r->end >= 0) {
        cs->pending[cs->n_pending++] = r->end;
        return;
    }
    if (!stopped && r->prev >= 0)
        cs->pending[cs->n_pending++] = r->prev;
    cs->pending[cs->n_pending++] = end;
}

herd_status chat_turn(chat_session *cs, const char *user, volatile sig_atomic_t *stop)
{
    HERD_TRY(add_msg(cs, "user", user, strlen(user)));
    int *ids = NULL, n = 0;
    herd_status s = turn_ids(cs, &ids, &n);
    if (s != HERD_OK) {
        drop_msgs(cs, cs->n_msgs - 1, 1);
        free(ids);
        return s;
    }
    reply r = {cs, stop, -1, -1, NULL, 0, 0};
    herd_gen_stats st;
    s = herd_generate(cs->ctx, cs->smp, ids, n, cs->o->n_predict, -1, on_token, &r, &st);
    free(ids);
    fputs(*stop ? " [stopped]\n" : "\n", stdout);
    fflush(stdout);
    if (s == HERD_OK)
        s = add_msg(cs, "assistant", r.text ? r.text : "", r.len);
    set_pending(cs, &r, *stop);
    free(r.text);
    if (cs->o->verbose)
        fprintf(stderr, "[turn: %d new tokens processed, %.1f tok/s; reply: %d tokens, "
                "%.1f tok/s; context %d/%d]\n", st.n_prompt,
                st.prompt_s > 0 ? st.n_prompt / st.prompt_s : 0.0, st.n_gen,
                st.gen_s > 0 ? st.n_gen / st.gen_s : 0.0, herd_context_pos(cs->ctx),
                herd_context_n_ctx(cs->ctx));
    return s;
}

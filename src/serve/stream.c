/* "stream": true: generation runs in its own thread and leaves Server-Sent
 * Events in a buffer that libmicrohttpd's content reader drains. A client
 * that goes away makes MHD free the response: that sets the cancel flag,
 * and the generation stops at its next token. */
#include "serve/http.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    herd_server *s;
    herd_job j;
    herd_text t;
    int prev;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char *buf;               /* SSE bytes not yet read by MHD */
    size_t len, cap, off;
    int done, cancel, refs, oom;
} stream;

static void release(stream *st)
{
    pthread_mutex_lock(&st->mu);
    int last = --st->refs == 0;
    pthread_mutex_unlock(&st->mu);
    if (!last)
        return;
    herd_job_free(&st->j);
    herd_text_free(&st->t);
    pthread_mutex_destroy(&st->mu);
    pthread_cond_destroy(&st->cv);
    free(st->buf);
    free(st);
}

/* Appends "data: JSON\n\n" (or the literal line) under the lock. */
static void emit(stream *st, cJSON *o, const char *literal)
{
    char *js = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    const char *body = js ? js : literal;
    size_t n = body ? strlen(body) + 9 : 0; /* "data: " "\n\n" NUL */
    pthread_mutex_lock(&st->mu);
    if (body && st->len + n > st->cap) {
        size_t cap = 2 * (st->len + n);
        char *b = realloc(st->buf, cap);
        if (b)
            st->buf = b, st->cap = cap;
    }
    if (body && st->len + n <= st->cap)
        st->len += (size_t)snprintf(st->buf + st->len, n, "data: %s\n\n", body);
    else
        st->oom = 1;
    pthread_cond_signal(&st->cv);
    pthread_mutex_unlock(&st->mu);
    free(js);
}

/* Sends the text that can no longer change; 1 when it sent anything. */
static void flush_text(stream *st, int final)
{
    size_t ready = herd_text_ready(&st->t, final);
    if (ready <= st->t.sent)
        return;
    char *text = herd_utf8_clean(st->t.buf + st->t.sent, ready - st->t.sent);
    st->t.sent = ready;
    if (text)
        emit(st, herd_reply_object(st->s, &st->j, text, NULL, NULL, 1), NULL);
    free(text);
}

static int on_token(void *user, int id)
{
    stream *st = user;
    pthread_mutex_lock(&st->mu);
    int cancel = st->cancel || st->oom;
    pthread_mutex_unlock(&st->mu);
    if (cancel)
        return 1;
    char buf[512];
    int n = herd_token_to_bytes(herd_engine_tokenizer(st->s->engine), st->prev, id, buf);
    st->prev = id;
    int r = n > 0 ? herd_text_add(&st->t, buf, (size_t)n) : 0;
    flush_text(st, 0);
    return r != 0;
}

static void *worker(void *arg)
{
    stream *st = arg;
    herd_engine_result r;
    herd_status s = herd_engine_complete(st->s->engine, st->j.ids, st->j.n_ids, &st->j.ep,
                                         on_token, st, &r);
    if (s == HERD_OK) {
        herd_count_request(st->s, &r);
        flush_text(st, 1);
        const char *finish = st->t.stopped || r.hit_end ? "stop" : "length";
        emit(st, herd_reply_object(st->s, &st->j, NULL, finish, &r, 1), NULL);
    } else {
        cJSON *o = cJSON_CreateObject(), *e = cJSON_AddObjectToObject(o, "error");
        cJSON_AddStringToObject(e, "message", herd_last_error());
        cJSON_AddStringToObject(e, "type", "server_error");
        emit(st, o, NULL);
    }
    emit(st, NULL, "[DONE]");
    pthread_mutex_lock(&st->mu);
    st->done = 1;
    pthread_cond_signal(&st->cv);
    pthread_mutex_unlock(&st->mu);
    release(st);
    return NULL;
}

static ssize_t reader(void *cls, uint64_t pos, char *out, size_t max)
{
    (void)pos;
    stream *st = cls;
    pthread_mutex_lock(&st->mu);
    while (st->off == st->len && !st->done)
        pthread_cond_wait(&st->cv, &st->mu);
    size_t n = st->len - st->off;
    if (n > max)
        n = max;
    memcpy(out, st->buf + st->off, n);
    st->off += n;
    if (st->off == st->len)
        st->off = st->len = 0;
    pthread_mutex_unlock(&st->mu);
    return n ? (ssize_t)n : MHD_CONTENT_READER_END_OF_STREAM;
}

static void reader_free(void *cls)
{
    stream *st = cls;
    pthread_mutex_lock(&st->mu);
    st->cancel = 1;
    pthread_mutex_unlock(&st->mu);
    release(st);
}

enum MHD_Result herd_ep_stream(herd_server *s, struct MHD_Connection *c, herd_job *j)
{
    stream *st = calloc(1, sizeof *st);
    if (!st) {
        herd_job_free(j);
        return herd_reply_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "server_error",
                                "out of memory", NULL);
    }
    st->s = s;
    st->j = *j;
    st->t.stop = j->stop;
    st->t.n_stop = j->n_stop;
    st->prev = j->ids[j->n_ids - 1];
    st->refs = 2;
    pthread_mutex_init(&st->mu, NULL);
    pthread_cond_init(&st->cv, NULL);
    if (j->chat)
        emit(st, herd_reply_object(s, j, "", NULL, NULL, 2), NULL);
    struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096,
                                                                  reader, st, reader_free);
    pthread_t th;
    if (!resp || pthread_create(&th, NULL, worker, st)) {
        if (resp)
            MHD_destroy_response(resp); /* calls reader_free */
        else
            st->refs = 1;
        release(st);
        return herd_reply_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "server_error",
                                "could not start the stream", NULL);
    }
    pthread_detach(th);
    MHD_add_response_header(resp, "Content-Type", "text/event-stream");
    MHD_add_response_header(resp, "Cache-Control", "no-cache");
    enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return ret;
}

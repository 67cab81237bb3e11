/* POST /v1/completions and /v1/chat/completions: the job, generation, and
 * the reply in OpenAI's shapes (a whole response, or chunks for streams). */
#include "serve/http.h"
#include <stdlib.h>
#include <string.h>

/* OpenAI's usage, and llama-server's timings (with the time queued). */
static void add_usage(cJSON *o, const herd_engine_result *r)
{
    cJSON *u = cJSON_AddObjectToObject(o, "usage");
    cJSON_AddNumberToObject(u, "prompt_tokens", r->n_prompt);
    cJSON_AddNumberToObject(u, "completion_tokens", r->n_gen);
    cJSON_AddNumberToObject(u, "total_tokens", r->n_prompt + r->n_gen);
    cJSON *t = cJSON_AddObjectToObject(o, "timings");
    cJSON_AddNumberToObject(t, "cache_n", r->n_cached);
    cJSON_AddNumberToObject(t, "prompt_n", r->n_prompt - r->n_cached);
    cJSON_AddNumberToObject(t, "prompt_ms", r->prompt_s * 1e3);
    cJSON_AddNumberToObject(t, "predicted_n", r->n_gen);
    cJSON_AddNumberToObject(t, "predicted_ms", r->gen_s * 1e3);
    cJSON_AddNumberToObject(t, "queue_ms", r->queue_s * 1e3);
}

cJSON *herd_reply_object(herd_server *s, const herd_job *j, const char *text,
                         const char *finish, const herd_engine_result *r, int chunk)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", j->id);
    cJSON_AddStringToObject(o, "object", !j->chat ? "text_completion"
                            : chunk ? "chat.completion.chunk" : "chat.completion");
    cJSON_AddNumberToObject(o, "created", (double)j->created);
    cJSON_AddStringToObject(o, "model", s->model_name);
    cJSON *ch = cJSON_AddArrayToObject(o, "choices"), *c = cJSON_CreateObject();
    cJSON_AddItemToArray(ch, c);
    cJSON_AddNumberToObject(c, "index", 0);
    if (!j->chat) {
        cJSON_AddStringToObject(c, "text", text ? text : "");
        cJSON_AddNullToObject(c, "logprobs");
    } else {
        cJSON *m = cJSON_AddObjectToObject(c, chunk ? "delta" : "message");
        if (!chunk || chunk == 2)
            cJSON_AddStringToObject(m, "role", "assistant");
        if (text)
            cJSON_AddStringToObject(m, "content", text);
    }
    if (finish)
        cJSON_AddStringToObject(c, "finish_reason", finish);
    else
        cJSON_AddNullToObject(c, "finish_reason");
    if (r)
        add_usage(o, r);
    return o;
}

void herd_count_request(herd_server *s, const herd_engine_result *r)
{
    pthread_mutex_lock(&s->mu);
    s->tokens_in += (unsigned long long)r->n_prompt;
    s->tokens_out += (unsigned long long)r->n_gen;
    pthread_mutex_unlock(&s->mu);
}

typedef struct {
    herd_server *s;
    herd_text t;
    int prev;
} whole;

static int collect(void *user, int id)
{
    whole *w = user;
    char buf[512];
    int n = herd_token_to_bytes(herd_engine_tokenizer(w->s->engine), w->prev, id, buf);
    w->prev = id;
    return n > 0 ? herd_text_add(&w->t, buf, (size_t)n) != 0 : 0;
}

static enum MHD_Result run_whole(herd_server *s, struct MHD_Connection *c, herd_job *j)
{
    whole w = {s, {.stop = j->stop, .n_stop = j->n_stop}, j->ids[j->n_ids - 1]};
    herd_engine_result r;
    herd_status st = herd_engine_complete(s->engine, j->ids, j->n_ids, &j->ep, collect, &w, &r);
    if (st != HERD_OK) {
        herd_text_free(&w.t);
        return herd_reply_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "server_error",
                                herd_last_error(), NULL);
    }
    herd_count_request(s, &r);
    const char *finish = w.t.stopped || r.hit_end ? "stop" : "length";
    char *text = herd_utf8_clean(w.t.buf ? w.t.buf : "", w.t.len);
    herd_text_free(&w.t);
    if (!text)
        return herd_reply_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "server_error",
                                "out of memory", NULL);
    cJSON *o = herd_reply_object(s, j, text, finish, &r, 0);
    free(text);
    return herd_reply_json(c, MHD_HTTP_OK, o);
}

enum MHD_Result herd_ep_complete(herd_server *s, struct MHD_Connection *c, const cJSON *body,
                                 int chat)
{
    herd_job j;
    char msg[512];
    const char *param;
    if (!herd_job_parse(s, body, chat, &j, msg, sizeof msg, &param)) {
        herd_job_free(&j);
        return herd_reply_error(c, MHD_HTTP_BAD_REQUEST, "invalid_request_error", msg, param);
    }
    if (j.stream)
        return herd_ep_stream(s, c, &j); /* takes the job */
    enum MHD_Result ret = run_whole(s, c, &j);
    herd_job_free(&j);
    return ret;
}

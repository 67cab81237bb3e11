/* The small endpoints: /v1/models, /metrics, /tokenize, /detokenize; and
 * the JSON reply helpers. */
#include "serve/http.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum MHD_Result herd_reply_text(struct MHD_Connection *c, unsigned status, const char *ctype,
                                const char *text)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), (void *)text,
                                                             MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", ctype);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

enum MHD_Result herd_reply_json(struct MHD_Connection *c, unsigned status, cJSON *j)
{
    char *s = j ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    if (!s)
        return herd_reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "application/json",
                               "{\"error\":{\"message\":\"out of memory\",\"type\":\"server_error\","
                               "\"param\":null,\"code\":null}}");
    enum MHD_Result ret = herd_reply_text(c, status, "application/json", s);
    free(s);
    return ret;
}

enum MHD_Result herd_reply_error(struct MHD_Connection *c, unsigned status, const char *type,
                                 const char *msg, const char *param)
{
    cJSON *o = cJSON_CreateObject(), *e = cJSON_AddObjectToObject(o, "error");
    cJSON_AddStringToObject(e, "message", msg);
    cJSON_AddStringToObject(e, "type", type);
    if (param)
        cJSON_AddStringToObject(e, "param", param);
    else
        cJSON_AddNullToObject(e, "param");
    cJSON_AddNumberToObject(e, "code", status);
    return herd_reply_json(c, status, o);
}

enum MHD_Result herd_ep_models(herd_server *s, struct MHD_Connection *c)
{
    cJSON *o = cJSON_CreateObject(), *d = cJSON_AddArrayToObject(o, "data");
    cJSON_AddStringToObject(o, "object", "list");
    cJSON *m = cJSON_CreateObject();
    cJSON_AddItemToArray(d, m);
    cJSON_AddStringToObject(m, "id", s->model_name);
    cJSON_AddStringToObject(m, "object", "model");
    cJSON_AddNumberToObject(m, "created", (double)time(NULL));
    cJSON_AddStringToObject(m, "owned_by", "herd");
    cJSON *meta = cJSON_AddObjectToObject(m, "meta");
    cJSON_AddNumberToObject(meta, "n_ctx", herd_engine_n_ctx(s->engine));
    cJSON_AddNumberToObject(meta, "n_vocab", herd_engine_n_vocab(s->engine));
    return herd_reply_json(c, MHD_HTTP_OK, o);
}

/* One Prometheus metric: HELP, TYPE and its value. */
static size_t metric(char *buf, size_t at, size_t cap, const char *name, const char *type,
                     const char *help, double v)
{
    if (at >= cap)
        return at;
    int n = snprintf(buf + at, cap - at, "# HELP herd_%s %s\n# TYPE herd_%s %s\nherd_%s %.10g\n",
                     name, help, name, type, name, v);
    return n > 0 ? at + (size_t)n : at;
}

enum MHD_Result herd_ep_metrics(herd_server *s, struct MHD_Connection *c)
{
    char buf[4096];
    size_t at = 0, cap = sizeof buf;
    herd_engine_stats e;
    herd_engine_stats_get(s->engine, &e);
    pthread_mutex_lock(&s->mu);
    at = metric(buf, at, cap, "requests_total", "counter", "HTTP requests received.",
                (double)s->requests);
    at = metric(buf, at, cap, "prompt_tokens_total", "counter", "Prompt tokens processed.",
                (double)s->tokens_in);
    at = metric(buf, at, cap, "tokens_predicted_total", "counter", "Tokens generated.",
                (double)s->tokens_out);
    at = metric(buf, at, cap, "requests_processing", "gauge", "Requests being handled now.",
                s->in_flight);
    pthread_mutex_unlock(&s->mu);
    at = metric(buf, at, cap, "predicted_tokens_seconds", "gauge",
                "Tokens generated per second while the engine was busy.",
                e.busy_s > 0 ? (double)e.generated / e.busy_s : 0);
    at = metric(buf, at, cap, "requests_running", "gauge", "Sequences in the running batch.",
                e.running);
    at = metric(buf, at, cap, "requests_queued", "gauge",
                "Requests waiting for room in the batch or the KV pool.", e.queued);
    at = metric(buf, at, cap, "kv_pool_waits_total", "counter",
                "Requests that waited in the queue for free KV blocks.", (double)e.pool_waits);
    at = metric(buf, at, cap, "kv_blocks_used", "gauge", "KV cache blocks held by sequences.",
                e.blocks_used);
    at = metric(buf, at, cap, "kv_blocks_cached", "gauge",
                "KV cache blocks held by none, kept for their prefix.", e.blocks_cached);
    at = metric(buf, at, cap, "kv_blocks_total", "gauge", "KV cache blocks in the pool.",
                e.blocks_total);
    at = metric(buf, at, cap, "kv_block_size", "gauge", "Positions per KV cache block.",
                e.block);
    at = metric(buf, at, cap, "prefix_cache_tokens_total", "counter",
                "Prompt tokens found in the prefix cache, not computed again.",
                (double)e.cached_tokens);
    at = metric(buf, at, cap, "batch_steps_total", "counter", "Batched forward passes.",
                (double)e.steps);
    metric(buf, at, cap, "batch_tokens_total", "counter", "Tokens in all batched forward passes.",
           (double)e.batch_tokens);
    return herd_reply_text(c, MHD_HTTP_OK, "text/plain; version=0.0.4", buf);
}

enum MHD_Result herd_ep_tokenize(herd_server *s, struct MHD_Connection *c, const cJSON *body)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, "content");
    const cJSON *sp = cJSON_GetObjectItemCaseSensitive(body, "add_special");
    if (!cJSON_IsString(v))
        return herd_reply_error(c, MHD_HTTP_BAD_REQUEST, "invalid_request_error",
                                "'content' must be a string", "content");
    size_t len = strlen(v->valuestring);
    int cap = (int)(len < (1u << 28) ? len : 1u << 28) + 8, n = 0;
    int *ids = malloc((size_t)cap * sizeof *ids);
    herd_status st = ids ? herd_tokenize(herd_engine_tokenizer(s->engine), v->valuestring, len,
                                         cJSON_IsTrue(sp), 0, ids, cap, &n)
                         : HERD_E_NOMEM;
    if (st != HERD_OK || n > cap) {
        free(ids);
        return herd_reply_error(c, MHD_HTTP_BAD_REQUEST, "invalid_request_error",
                                "the content could not be tokenized", "content");
    }
    cJSON *o = cJSON_CreateObject(), *a = cJSON_AddArrayToObject(o, "tokens");
    for (int i = 0; i < n; i++)
        cJSON_AddItemToArray(a, cJSON_CreateNumber(ids[i]));
    free(ids);
    return herd_reply_json(c, MHD_HTTP_OK, o);
}

enum MHD_Result herd_ep_detokenize(herd_server *s, struct MHD_Connection *c, const cJSON *body)
{
    const herd_tokenizer *tok = herd_engine_tokenizer(s->engine);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, "tokens");
    int n = cJSON_GetArraySize(v), V = herd_engine_n_vocab(s->engine), prev;
    if (!cJSON_IsArray(v))
        return herd_reply_error(c, MHD_HTTP_BAD_REQUEST, "invalid_request_error",
                                "'tokens' must be an array of token ids", "tokens");
    char *out = malloc((size_t)n * 256 + 1);
    size_t len = 0;
    if (!out)
        return herd_reply_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "server_error",
                                "out of memory", NULL);
    prev = herd_tokenizer_bos(tok);
    for (const cJSON *x = v->child; x; x = x->next) {
        double d = cJSON_IsNumber(x) ? x->valuedouble : -1;
        int k = d >= 0 && d < V && d == (int)d ? herd_token_to_bytes(tok, prev, (int)d, out + len)
                                               : -1;
        if (k < 0) {
            free(out);
            return herd_reply_error(c, MHD_HTTP_BAD_REQUEST, "invalid_request_error",
                                    "'tokens' must hold token ids of the vocabulary", "tokens");
        }
        len += (size_t)k;
        prev = (int)d;
    }
    char *text = herd_utf8_clean(out, len);
    free(out);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "content", text ? text : "");
    free(text);
    return herd_reply_json(c, MHD_HTTP_OK, o);
}

/* The body of /v1/completions and /v1/chat/completions as a job: prompt ids,
 * sampling parameters, stop strings. Bad requests get an OpenAI-style
 * message naming the parameter. */
#include "serve/http.h"
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    char *msg;
    size_t cap;
    const char **param;
} perr;

static int fail(perr *e, const char *param, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(perr *e, const char *param, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, e->cap, fmt, ap);
    va_end(ap);
    *e->param = param;
    return 0;
}

/* A number field: absent or null leaves *out. 1: fine, 0: error set. */
static int number(const cJSON *b, const char *k, double lo, double hi, int whole,
                  double *out, int *given, perr *e)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(b, k);
    if (!v || cJSON_IsNull(v))
        return 1;
    if (!cJSON_IsNumber(v))
        return fail(e, k, "'%s' must be a number", k);
    double x = v->valuedouble;
    if (whole && x != floor(x))
        return fail(e, k, "'%s' must be an integer, not %g", k, x);
    if (!(x >= lo && x <= hi))
        return fail(e, k, "'%s' is out of range: %g", k, x);
    *out = x;
    if (given)
        *given = 1;
    return 1;
}

static int sampling(herd_server *s, const cJSON *b, herd_job *j, int *max_given, perr *e)
{
    herd_sampler_params *sp = &j->ep.sp;
    double t = sp->temp, p = sp->top_p, k = sp->top_k, m = sp->min_p, r = sp->repeat_penalty;
    double seed = -1, n = 1, mt = -1;
    int ok = number(b, "temperature", 0, 100, 0, &t, NULL, e)
          && number(b, "top_p", 0, 1, 0, &p, NULL, e)
          && number(b, "top_k", 0, 1 << 30, 1, &k, NULL, e)
          && number(b, "min_p", 0, 1, 0, &m, NULL, e)
          && number(b, "repeat_penalty", 0.01, 100, 0, &r, NULL, e)
          && number(b, "seed", -9.2e18, 9.2e18, 1, &seed, NULL, e)
          && number(b, "n", 1, 1 << 30, 1, &n, NULL, e)
          && number(b, "max_tokens", 0, 1 << 30, 1, &mt, max_given, e)
          && (!j->chat || number(b, "max_completion_tokens", 0, 1 << 30, 1, &mt, max_given, e));
    if (!ok)
        return 0;
    if (n != 1)
        return fail(e, "n", "'n' must be 1: herd serve makes one choice per request");
    sp->temp = (float)t, sp->top_p = (float)p, sp->top_k = (int)k, sp->min_p = (float)m;
    sp->repeat_penalty = (float)r;
    if (seed >= 0) {
        sp->seed = (uint64_t)seed;
    } else {
        pthread_mutex_lock(&s->mu);
        sp->seed = (uint64_t)time(NULL) * 0x9E3779B97F4A7C15ull + ++s->seq;
        pthread_mutex_unlock(&s->mu);
    }
    j->ep.max_tokens = (int)mt;
    return 1;
}

static int add_stop(herd_job *j, const cJSON *v, perr *e)
{
    if (!cJSON_IsString(v))
        return fail(e, "stop", "'stop' must be a string or an array of strings");
    if (!*v->valuestring)
        return 1;
    char **p = realloc(j->stop, (size_t)(j->n_stop + 1) * sizeof *p);
    if (!p || !(p[j->n_stop] = strdup(v->valuestring)))
        return fail(e, "stop", "out of memory");
    j->stop = p;
    j->n_stop++;
    return 1;
}

static int stops(const cJSON *b, herd_job *j, perr *e)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(b, "stop");
    if (!v || cJSON_IsNull(v))
        return 1;
    if (!cJSON_IsArray(v))
        return add_stop(j, v, e);
    if (cJSON_GetArraySize(v) > 16)
        return fail(e, "stop", "'stop' holds more than 16 strings");
    for (const cJSON *x = v->child; x; x = x->next)
        if (!add_stop(j, x, e))
            return 0;
    return 1;
}

static int grow(herd_job *j, int cap, perr *e)
{
    int *p = realloc(j->ids, (size_t)(cap > 0 ? cap : 1) * sizeof *p);
    if (!p)
        return fail(e, NULL, "out of memory");
    j->ids = p;
    return 1;
}

static int prompt_text(herd_server *s, const char *text, herd_job *j, perr *e)
{
    const herd_tokenizer *tok = herd_engine_tokenizer(s->engine);
    size_t len = strlen(text);
    int cap = (int)(len < (1u << 28) ? len : 1u << 28) + 8;
    for (int round = 0; round < 2; round++) {
        if (!grow(j, cap, e))
            return 0;
        if (herd_tokenize(tok, text, len, 1, 0, j->ids, cap, &j->n_ids) != HERD_OK)
            return fail(e, "prompt", "the prompt could not be tokenized: %s",
                        herd_last_error());
        if (j->n_ids <= cap)
            return 1;
        cap = j->n_ids;
    }
    return fail(e, "prompt", "the prompt could not be tokenized");
}

static int prompt(herd_server *s, const cJSON *b, herd_job *j, perr *e)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(b, "prompt");
    if (!v)
        return fail(e, "prompt", "'prompt' is required");
    if (cJSON_IsArray(v) && cJSON_GetArraySize(v) == 1 && cJSON_IsString(v->child))
        v = v->child;
    if (cJSON_IsString(v))
        return prompt_text(s, v->valuestring, j, e);
    int n = cJSON_GetArraySize(v), V = herd_engine_n_vocab(s->engine);
    if (!cJSON_IsArray(v) || n == 0)
        return fail(e, "prompt", "'prompt' must be a string or an array of token ids");
    if (!grow(j, n, e))
        return 0;
    j->n_ids = 0;
    for (const cJSON *x = v->child; x; x = x->next) {
        if (!cJSON_IsNumber(x) || x->valuedouble != floor(x->valuedouble) ||
            x->valuedouble < 0 || x->valuedouble >= V)
            return fail(e, "prompt", "'prompt' must be a string or an array of token ids below "
                        "%d (one prompt per request)", V);
        j->ids[j->n_ids++] = (int)x->valuedouble;
    }
    return 1;
}

/* A message's content: a string, or an array of {"type": "text", "text"}
 * parts joined. Returns a malloc'd string or NULL (error set). */
static char *content(const cJSON *m, int i, perr *e)
{
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(m, "content");
    if (cJSON_IsString(c))
        return strdup(c->valuestring);
    if (!cJSON_IsArray(c)) {
        fail(e, "messages", "messages[%d].content must be a string", i);
        return NULL;
    }
    size_t len = 0;
    for (const cJSON *p = c->child; p; p = p->next) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(p, "text");
        if (!cJSON_IsString(t)) {
            fail(e, "messages", "messages[%d].content: only text parts are supported", i);
            return NULL;
        }
        len += strlen(t->valuestring);
    }
    char *out = malloc(len + 1), *o = out;
    if (!out) {
        fail(e, NULL, "out of memory");
        return NULL;
    }
    for (const cJSON *p = c->child; p; p = p->next) {
        const char *t = cJSON_GetObjectItemCaseSensitive(p, "text")->valuestring;
        memcpy(o, t, strlen(t));
        o += strlen(t);
    }
    *o = 0;
    return out;
}

static int render(herd_server *s, const herd_chat_msg *msgs, int n, herd_job *j, perr *e)
{
    int cap = 256;
    for (int round = 0; round < 2; round++) {
        if (!grow(j, cap, e))
            return 0;
        if (herd_chat_render(herd_engine_tokenizer(s->engine), herd_engine_template(s->engine),
                             msgs, n, HERD_CHAT_OPEN, j->ids, cap, &j->n_ids) != HERD_OK)
            return fail(e, "messages", "the messages could not be rendered: %s",
                        herd_last_error());
        if (j->n_ids <= cap)
            return 1;
        cap = j->n_ids;
    }
    return fail(e, "messages", "the messages could not be rendered");
}

static int messages(herd_server *s, const cJSON *b, herd_job *j, perr *e)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(b, "messages");
    int n = cJSON_GetArraySize(v), ok = 1, i = 0;
    if (!v)
        return fail(e, "messages", "'messages' is required");
    if (!cJSON_IsArray(v) || n == 0)
        return fail(e, "messages", "'messages' must be a non-empty array");
    herd_chat_msg *msgs = calloc((size_t)n, sizeof *msgs);
    if (!msgs)
        return fail(e, NULL, "out of memory");
    for (const cJSON *m = v->child; ok && m; m = m->next, i++) {
        const cJSON *r = cJSON_GetObjectItemCaseSensitive(m, "role");
        const char *role = cJSON_IsString(r) ? r->valuestring : "";
        if (strcmp(role, "system") && strcmp(role, "user") && strcmp(role, "assistant"))
            ok = fail(e, "messages", "messages[%d].role must be \"system\", \"user\" or "
                      "\"assistant\"", i);
        else if ((msgs[i].content = content(m, i, e)))
            msgs[i].role = role;
        else
            ok = 0;
    }
    if (ok)
        ok = render(s, msgs, n, j, e);
    for (i = 0; i < n; i++)
        free((char *)msgs[i].content);
    free(msgs);
    return ok;
}

/* The prompt fits with room for max_tokens (default: the completions
 * endpoint's 16, or until the context is full). */
static int fits(herd_server *s, herd_job *j, int max_given, perr *e)
{
    int n_ctx = herd_engine_n_ctx(s->engine);
    const char *what = j->chat ? "messages" : "prompt";
    if (j->n_ids >= n_ctx)
        return fail(e, what, "the %s is %d tokens, the context holds %d", what, j->n_ids, n_ctx);
    int room = n_ctx - j->n_ids;
    if (!max_given)
        j->ep.max_tokens = j->chat ? room : (room < 16 ? room : 16);
    else if (j->ep.max_tokens > room)
        return fail(e, "max_tokens", "max_tokens %d and the %s's %d tokens exceed the context "
                    "of %d", j->ep.max_tokens, what, j->n_ids, n_ctx);
    return 1;
}

int herd_job_parse(herd_server *s, const cJSON *body, int chat, herd_job *j,
                   char *msgbuf, size_t cap, const char **param)
{
    perr e = {msgbuf, cap, param};
    memset(j, 0, sizeof *j);
    j->chat = chat;
    j->ep.chat = chat;
    j->ep.sp = herd_sampler_defaults();
    *param = NULL;
    if (!cJSON_IsObject(body))
        return fail(&e, NULL, "the body must be a JSON object");
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(body, "stream");
    if (st && !cJSON_IsBool(st) && !cJSON_IsNull(st))
        return fail(&e, "stream", "'stream' must be true or false");
    j->stream = cJSON_IsTrue(st);
    int max_given = 0;
    if (!sampling(s, body, j, &max_given, &e) || !stops(body, j, &e))
        return 0;
    if (!(chat ? messages(s, body, j, &e) : prompt(s, body, j, &e)))
        return 0;
    if (!fits(s, j, max_given, &e))
        return 0;
    pthread_mutex_lock(&s->mu);
    unsigned long long n = ++s->seq;
    pthread_mutex_unlock(&s->mu);
    j->created = (long)time(NULL);
    snprintf(j->id, sizeof j->id, "%s-%lx%llx", chat ? "chatcmpl" : "cmpl",
             (unsigned long)j->created, n);
    return 1;
}

void herd_job_free(herd_job *j)
{
    free(j->ids);
    for (int i = 0; i < j->n_stop; i++)
        free(j->stop[i]);
    free(j->stop);
    memset(j, 0, sizeof *j);
}

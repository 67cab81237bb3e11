/* Rejection sampling (train/rejection.h): a prompt's K samples from the
 * policy (prompt evaluated once, each sample from its own sampler), decoded
 * to valid UTF-8, scored by the reward model, the best picked; and the
 * JSONL lines in and out. */
#include "train/rejection.h"
#include "train/pref.h"
#include "base/error.h"
#include "train/jsonl.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct herd_rejection {
    herd_model *policy;
    const herd_tokenizer *ptok;
    herd_reward_model *rm;
    herd_rejection_opts o;
    herd_context *ctx;
    int V, n_ctx;
    float *logits0, *logits;  /* after the prompt; the current step's */
    int *gen;                 /* the sample's ids, n_predict */
    herd_sft_tokens tk;       /* rendering scratch */
};

herd_status herd_rejection_new(herd_model *policy, herd_reward_model *rm,
                               const herd_rejection_opts *o, herd_rejection **out)
{
    *out = NULL;
    if (!policy || !rm || !o || o->k < 1 || o->n_predict < 1 || o->n_ctx < 0)
        return herd_fail(HERD_E_ARG, "rejection: no models, or k, n_predict or n_ctx out of "
                         "range");
    if (!herd_model_tokenizer(policy) || !herd_reward_tokenizer(rm))
        return herd_fail(HERD_E_ARG, "rejection: the %s carries no tokenizer (the models meet "
                         "as text: both need one)",
                         herd_model_tokenizer(policy) ? "reward model" : "policy");
    herd_rejection *r = calloc(1, sizeof *r);
    if (!r)
        return herd_fail(HERD_E_NOMEM, "rejection: out of memory");
    const herd_config *c = herd_model_config(policy);
    *r = (herd_rejection){.policy = policy, .ptok = herd_model_tokenizer(policy), .rm = rm,
                          .o = *o, .V = c->vocab_size};
    r->n_ctx = o->n_ctx ? o->n_ctx : (c->seq_len < 4096 ? c->seq_len : 4096);
    r->logits0 = malloc((size_t)r->V * sizeof *r->logits0);
    r->logits = malloc((size_t)r->V * sizeof *r->logits);
    r->gen = malloc((size_t)o->n_predict * sizeof *r->gen);
    herd_status s = r->logits0 && r->logits && r->gen
                        ? herd_context_new(policy, r->n_ctx, &r->ctx)
                        : herd_fail(HERD_E_NOMEM, "rejection: out of memory");
    if (s != HERD_OK) {
        herd_rejection_free(r);
        return s;
    }
    *out = r;
    return HERD_OK;
}

void herd_rejection_free(herd_rejection *r)
{
    if (!r)
        return;
    herd_context_free(r->ctx);
    free(r->logits0);
    free(r->logits);
    free(r->gen);
    herd_sft_tokens_free(&r->tk);
    free(r);
}

void herd_rejection_result_free(herd_rejection_result *res)
{
    if (!res)
        return;
    for (int j = 0; res->text && j < res->k; j++)
        free(res->text[j]);
    free(res->text);
    free(res->n_tokens);
    free(res->reward);
    memset(res, 0, sizeof *res);
}

/* ---- text ---- */

/* The length of the well-formed UTF-8 character at s (n bytes left), 0 if
 * there is none (or a NUL). */
static size_t utf8_char(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c >= 0x01 && c <= 0x7f)
        return 1;
    size_t len = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3
               : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    if (!len || len > n)
        return 0;
    unsigned char lo = 0x80, hi = 0xbf; /* the second byte's range */
    if (c == 0xe0)
        lo = 0xa0;
    else if (c == 0xed)
        hi = 0x9f;
    else if (c == 0xf0)
        lo = 0x90;
    else if (c == 0xf4)
        hi = 0x8f;
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return len;
}

/* Bytes to a NUL-terminated string with each byte that is not part of a
 * well-formed character replaced by U+FFFD. */
static herd_status utf8_clean(const unsigned char *s, size_t n, char **out)
{
    char *d = malloc(3 * n + 1), *p = d;
    if (!d)
        return herd_fail(HERD_E_NOMEM, "rejection: out of memory");
    for (size_t i = 0; i < n;) {
        size_t len = utf8_char(s + i, n - i);
        if (len) {
            memcpy(p, s + i, len);
            p += len, i += len;
        } else {
            memcpy(p, "\xef\xbf\xbd", 3);
            p += 3, i++;
        }
    }
    *p = 0;
    *out = d;
    return HERD_OK;
}

/* The text of n policy ids following the token prev. */
static herd_status decode(const herd_tokenizer *t, int prev, const int *ids, int n, char **out)
{
    unsigned char *raw = malloc((size_t)n * 256 + 1);
    if (!raw)
        return herd_fail(HERD_E_NOMEM, "rejection: out of memory");
    size_t len = 0;
    char buf[512];
    for (int i = 0; i < n; i++) {
        int b = herd_token_to_bytes(t, prev, ids[i], buf);
        if (b > 0) {
            memcpy(raw + len, buf, (size_t)(b < 256 ? b : 256));
            len += (size_t)(b < 256 ? b : 256);
        }
        prev = ids[i];
    }
    herd_status s = utf8_clean(raw, len, out);
    free(raw);
    return s;
}

/* ---- one prompt ---- */

static herd_status check_prompt(const herd_rejection_prompt *p)
{
    if (p->text)
        return HERD_OK;
    if (!p->msgs || p->n_msgs < 1)
        return herd_fail(HERD_E_ARG, "rejection: no prompt text or messages");
    if (!p->msgs[p->n_msgs - 1].role || strcmp(p->msgs[p->n_msgs - 1].role, "user"))
        return herd_fail(HERD_E_ARG, "the last message is not from the user");
    return HERD_OK;
}

/* The policy's prompt ids (in r->tk.ids[0 .. *n)): the rendering of the
 * prompt with an empty answer, up to where the answer's trained tokens
 * start (herd_pref_render trains only the last answer). */
static herd_status policy_prompt(herd_rejection *r, const herd_pref_line *l, int *n)
{
    HERD_TRY(herd_pref_render(r->ptok, r->o.tpl, l, "", &r->tk));
    int i = 0;
    while (i < r->tk.n && !r->tk.trained[i])
        i++;
    if (i == 0 || i == r->tk.n)
        return herd_fail(HERD_E_ARG, "rejection: the prompt renders to no ids");
    if (i > r->n_ctx)
        return herd_fail(HERD_E_ARG, "the prompt is %d tokens, longer than the context of %d",
                         i, r->n_ctx);
    *n = i;
    return HERD_OK;
}

static uint64_t mix(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* One sample after the prompt (whose cache and logits are ready) into
 * r->gen[0 .. *n_gen): as herd_generate, stopping before an end token. */
static herd_status draw(herd_rejection *r, const int *prompt, int n_prompt, uint64_t seed,
                        int *n_gen)
{
    herd_sampler_params sp = r->o.sp;
    sp.seed = seed;
    herd_sampler *smp;
    HERD_TRY(herd_sampler_new(&sp, r->V, &smp));
    for (int i = 0; i < n_prompt; i++)
        herd_sampler_accept(smp, prompt[i]);
    memcpy(r->logits, r->logits0, (size_t)r->V * sizeof *r->logits);
    herd_status s = HERD_OK;
    int n = 0, pos = n_prompt;
    while (n < r->o.n_predict) {
        int id = herd_sampler_sample(smp, r->logits);
        herd_sampler_accept(smp, id);
        if (herd_chat_is_end(r->ptok, r->o.tpl, id))
            break;
        r->gen[n++] = id;
        if (n == r->o.n_predict || pos >= r->n_ctx)
            break;
        if ((s = herd_eval(r->ctx, &id, &pos, 1, r->logits, 0)) != HERD_OK)
            break;
        pos++;
    }
    herd_sampler_free(smp);
    *n_gen = n;
    return s;
}

static herd_status score(herd_rejection *r, const herd_pref_line *l, const char *text,
                         float *reward)
{
    HERD_TRY(herd_pref_render(herd_reward_tokenizer(r->rm), herd_reward_template(r->rm), l,
                              text, &r->tk));
    const int *ids = r->tk.ids;
    return herd_reward_score(r->rm, &ids, &r->tk.n, 1, reward);
}

static herd_status sample_all(herd_rejection *r, const herd_pref_line *l, uint64_t seed,
                              herd_rejection_result *out)
{
    int n_prompt = 0;
    HERD_TRY(policy_prompt(r, l, &n_prompt));
    int *prompt = malloc((size_t)n_prompt * sizeof *prompt);
    if (!prompt)
        return herd_fail(HERD_E_NOMEM, "rejection: out of memory");
    memcpy(prompt, r->tk.ids, (size_t)n_prompt * sizeof *prompt);
    herd_context_reset(r->ctx);
    herd_status s = herd_eval(r->ctx, prompt, NULL, n_prompt, r->logits0, 0);
    double sum = 0;
    for (int j = 0; s == HERD_OK && j < out->k; j++) {
        s = draw(r, prompt, n_prompt, mix(seed ^ mix((uint64_t)j)), &out->n_tokens[j]);
        if (s == HERD_OK)
            s = decode(r->ptok, prompt[n_prompt - 1], r->gen, out->n_tokens[j], &out->text[j]);
        if (s == HERD_OK)
            s = score(r, l, out->text[j], &out->reward[j]);
        if (s == HERD_OK && out->reward[j] > out->reward[out->best])
            out->best = j;
        sum += s == HERD_OK ? out->reward[j] : 0;
    }
    out->mean = sum / out->k;
    free(prompt);
    return s;
}

herd_status herd_rejection_sample(herd_rejection *r, const herd_rejection_prompt *p,
                                  uint64_t seed, herd_rejection_result *out)
{
    memset(out, 0, sizeof *out);
    HERD_TRY(check_prompt(p));
    int k = r->o.k;
    out->k = k;
    out->text = calloc((size_t)k, sizeof *out->text);
    out->n_tokens = calloc((size_t)k, sizeof *out->n_tokens);
    out->reward = calloc((size_t)k, sizeof *out->reward);
    herd_status s = out->text && out->n_tokens && out->reward
                        ? HERD_OK : herd_fail(HERD_E_NOMEM, "rejection: out of memory");
    herd_pref_line l = {.prompt = p->text, .msgs = p->text ? NULL : p->msgs,
                        .n_msgs = p->text ? 0 : p->n_msgs};
    if (s == HERD_OK)
        s = sample_all(r, &l, seed, out);
    if (s != HERD_OK)
        herd_rejection_result_free(out);
    return s;
}

/* ---- JSONL lines ---- */

void herd_rejection_line_free(herd_rejection_line *l)
{
    if (!l)
        return;
    cJSON_Delete(l->doc_);
    free(l->msg_buf_);
    memset(l, 0, sizeof *l);
}

static herd_status parse_msgs(herd_rejection_line *l, const cJSON *arr)
{
    if (!cJSON_IsArray(arr))
        return herd_fail(HERD_E_FORMAT, "\"messages\" is not an array");
    int n = cJSON_GetArraySize(arr), i = 0;
    if (n < 1)
        return herd_fail(HERD_E_FORMAT, "\"messages\" is empty");
    if (n > l->msg_cap_) {
        herd_chat_msg *m = realloc(l->msg_buf_, (size_t)n * sizeof *m);
        if (!m)
            return herd_fail(HERD_E_NOMEM, "rejection: out of memory");
        l->msg_buf_ = m, l->msg_cap_ = n;
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, arr) {
        const cJSON *ro = cJSON_GetObjectItemCaseSensitive(it, "role");
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(it, "content");
        if (!cJSON_IsString(ro) || !cJSON_IsString(c))
            return herd_fail(HERD_E_FORMAT, "messages[%d] has no string \"role\" and "
                             "\"content\"", i);
        const char *role = ro->valuestring;
        if (strcmp(role, "system") && strcmp(role, "user") && strcmp(role, "assistant"))
            return herd_fail(HERD_E_FORMAT, "messages[%d] has role \"%.40s\" (want system, "
                             "user or assistant)", i, role);
        l->msg_buf_[i++] = (herd_chat_msg){role, c->valuestring};
    }
    if (strcmp(l->msg_buf_[n - 1].role, "user"))
        return herd_fail(HERD_E_FORMAT, "the last message is from the %s, not the user: "
                         "nothing to answer", l->msg_buf_[n - 1].role);
    l->p = (herd_rejection_prompt){NULL, l->msg_buf_, n};
    return HERD_OK;
}

herd_status herd_rejection_parse(herd_rejection_line *l, const char *text, size_t len)
{
    cJSON_Delete(l->doc_);
    l->p = (herd_rejection_prompt){0};
    cJSON *o;
    herd_status st = herd_jsonl_object(text, len, &o);
    l->doc_ = o;
    HERD_TRY(st);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "messages");
    if (v)
        return parse_msgs(l, v);
    v = cJSON_GetObjectItemCaseSensitive(o, "prompt");
    if (!v)
        return herd_fail(HERD_E_FORMAT, "no \"prompt\" or \"messages\"");
    if (!cJSON_IsString(v))
        return herd_fail(HERD_E_FORMAT, "\"prompt\" is not a string");
    l->p.text = v->valuestring;
    return HERD_OK;
}

/* Sets key of o to item (replacing it); 0 when item is NULL. */
static int set(cJSON *o, const char *key, cJSON *item)
{
    if (!item)
        return 0;
    cJSON_DeleteItemFromObjectCaseSensitive(o, key);
    return cJSON_AddItemToObject(o, key, item) ? 1 : (cJSON_Delete(item), 0);
}

/* A reward as reward-score prints it: 7 significant digits. */
static cJSON *number(double x)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%.7g", x);
    return cJSON_CreateNumber(isfinite(x) ? strtod(buf, NULL) : x);
}

static herd_status print(cJSON *o, int ok, char **out)
{
    *out = ok ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return *out ? HERD_OK : herd_fail(HERD_E_NOMEM, "rejection: out of memory");
}

herd_status herd_rejection_format(const herd_rejection_line *l, const herd_rejection_result *res,
                                  char **out)
{
    *out = NULL;
    if (!l->doc_ || res->k < 1)
        return herd_fail(HERD_E_ARG, "herd_rejection_format: no line or result");
    cJSON *o = cJSON_Duplicate(l->doc_, 1);
    if (!o)
        return herd_fail(HERD_E_NOMEM, "rejection: out of memory");
    const char *best = res->text[res->best];
    int ok = 1;
    if (l->p.text) {
        ok = set(o, "completion", cJSON_CreateString(best));
    } else {
        cJSON *msg = cJSON_CreateObject();
        cJSON *arr = cJSON_GetObjectItemCaseSensitive(o, "messages");
        ok = msg && cJSON_AddStringToObject(msg, "role", "assistant") &&
             cJSON_AddStringToObject(msg, "content", best) && cJSON_AddItemToArray(arr, msg);
        if (!ok)
            cJSON_Delete(msg);
    }
    ok = ok && set(o, "reward", number(res->reward[res->best]));
    ok = ok && set(o, "mean_reward", number(res->mean));
    return print(o, ok, out);
}

herd_status herd_rejection_format_sample(const herd_rejection_line *l,
                                         const herd_rejection_result *res, int j, char **out)
{
    *out = NULL;
    if (!l->doc_ || j < 0 || j >= res->k)
        return herd_fail(HERD_E_ARG, "herd_rejection_format_sample: no line or sample %d", j);
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return herd_fail(HERD_E_NOMEM, "rejection: out of memory");
    const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(l->doc_, "messages");
    cJSON *prompt = l->p.text ? cJSON_CreateString(l->p.text) : cJSON_Duplicate(msgs, 1);
    int ok = set(o, "prompt", prompt);
    ok = ok && set(o, "response", cJSON_CreateString(res->text[j]));
    ok = ok && set(o, "reward", number(res->reward[j]));
    return print(o, ok, out);
}

/* PPO's prompts (ppo.h): a JSONL file of {"prompt": TEXT or [messages]}
 * or {"messages": [...]} lines, each rendered as herd_pref_render renders
 * a prompt with its answer still to come, cut before the answer. */
#include "train/ppo.h"
#include "train/pref.h"
#include "base/error.h"
#include "train/jsonl.h"
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const herd_tokenizer *t;
    herd_chat_template tpl;
    int max_len;
    const char *path;
    herd_ppo_prompts *p;
    int64_t cap_n, cap_ids;
    herd_chat_msg *msgs;
    int cap_msgs;
    herd_sft_tokens tk;
} load_state;

static herd_status parse_msgs(load_state *L, const cJSON *arr, herd_pref_line *l)
{
    int n = cJSON_GetArraySize(arr), i = 0;
    if (n < 1)
        return herd_fail(HERD_E_FORMAT, "no messages");
    if (n > L->cap_msgs) {
        herd_chat_msg *m = realloc(L->msgs, (size_t)n * sizeof *m);
        if (!m)
            return herd_fail(HERD_E_NOMEM, "ppo: out of memory");
        L->msgs = m, L->cap_msgs = n;
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, arr) {
        const cJSON *r = cJSON_GetObjectItemCaseSensitive(it, "role");
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(it, "content");
        if (!cJSON_IsString(r) || !cJSON_IsString(c))
            return herd_fail(HERD_E_FORMAT, "message %d has no string \"role\" and \"content\"",
                             i);
        L->msgs[i++] = (herd_chat_msg){r->valuestring, c->valuestring};
    }
    l->msgs = L->msgs, l->n_msgs = n;
    return HERD_OK;
}

static herd_status parse(load_state *L, const cJSON *o, herd_pref_line *l)
{
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(o, "prompt");
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, "messages");
    if (p && m)
        return herd_fail(HERD_E_FORMAT, "both \"prompt\" and \"messages\": give one");
    if (cJSON_IsString(p)) {
        l->prompt = p->valuestring;
        return HERD_OK;
    }
    if (cJSON_IsArray(p) || cJSON_IsArray(m))
        return parse_msgs(L, p ? p : m, l);
    return herd_fail(HERD_E_FORMAT, "no \"prompt\" text or list of messages");
}

static herd_status add(load_state *L, const int *ids, int n)
{
    herd_ppo_prompts *p = L->p;
    if (p->n + 1 >= L->cap_n) {
        int64_t cap = L->cap_n * 2 + 64, *off = realloc(p->off, (size_t)cap * sizeof *off);
        if (!off)
            return herd_fail(HERD_E_NOMEM, "ppo: out of memory");
        p->off = off, L->cap_n = cap;
    }
    if (p->off[p->n] + n > L->cap_ids) {
        int64_t cap = (p->off[p->n] + n) * 2;
        int *x = realloc(p->ids, (size_t)cap * sizeof *x);
        if (!x)
            return herd_fail(HERD_E_NOMEM, "ppo: out of memory");
        p->ids = x, L->cap_ids = cap;
    }
    memcpy(p->ids + p->off[p->n], ids, (size_t)n * sizeof *ids);
    p->off[p->n + 1] = p->off[p->n] + n;
    p->n++;
    if (n > p->max_len)
        p->max_len = n;
    return HERD_OK;
}

/* One line: parsed, rendered with an empty answer, cut before it. */
static herd_status line(void *user, const char *text, size_t len, int64_t lineno)
{
    load_state *L = user;
    cJSON *o = NULL;
    herd_pref_line l = {0};
    herd_status s = herd_jsonl_object(text, len, &o);
    if (s == HERD_OK)
        s = parse(L, o, &l);
    if (s == HERD_OK)
        s = herd_pref_render(L->t, L->tpl, &l, "", &L->tk);
    int n = 0;
    while (s == HERD_OK && n < L->tk.n && !L->tk.trained[n])
        n++;
    if (s == HERD_OK && n == 0)
        s = herd_fail(HERD_E_FORMAT, "the prompt renders to no tokens");
    if (s == HERD_E_ARG)
        s = HERD_E_FORMAT;   /* a conversation the template refuses: a bad line */
    if (s == HERD_OK && L->max_len && n > L->max_len)
        L->p->too_long++;
    else if (s == HERD_OK)
        s = add(L, L->tk.ids, n);
    cJSON_Delete(o);
    if (s != HERD_OK && s != HERD_E_NOMEM)
        herd_fail_prefix(s, "%s:%lld", L->path, (long long)lineno);
    return s;
}

herd_status herd_ppo_prompts_load(const char *path, const herd_tokenizer *t,
                                  herd_chat_template tpl, int max_len, herd_ppo_prompts **out)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return herd_fail(HERD_E_IO, "%s: cannot open: %s", path, strerror(errno));
    load_state L = {.t = t, .tpl = tpl, .max_len = max_len, .path = path};
    L.p = calloc(1, sizeof *L.p);
    if (L.p && (L.p->off = calloc(64, sizeof *L.p->off)))   /* off[0] = 0 */
        L.cap_n = 64;
    herd_status s = L.cap_n ? HERD_OK : herd_fail(HERD_E_NOMEM, "ppo: out of memory");
    if (s == HERD_OK)
        s = herd_jsonl_each(f, path, line, &L, NULL);
    if (s == HERD_OK && L.p->n == 0)
        s = herd_fail(HERD_E_FORMAT, "%s: no usable prompt (%lld too long)", path,
                      (long long)L.p->too_long);
    fclose(f);
    free(L.msgs);
    herd_sft_tokens_free(&L.tk);
    if (s != HERD_OK) {
        herd_ppo_prompts_free(L.p);
        return s;
    }
    *out = L.p;
    return HERD_OK;
}

void herd_ppo_prompts_free(herd_ppo_prompts *p)
{
    if (!p)
        return;
    free(p->off);
    free(p->ids);
    free(p);
}

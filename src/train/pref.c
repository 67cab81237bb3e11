/* Preference JSONL (train/pref.h): each line parsed (prompt as text or
 * messages, chosen/rejected or a response, margin or strength), rendered
 * twice with herd_sft_render, and kept in a set of pairs. */
#include "train/pref.h"
#include "base/error.h"
#include "train/jsonl.h"
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

float herd_pref_strength_margin(const char *label)
{
    static const struct { const char *name; float margin; } labels[] = {
        {"significantly better", 1.0f}, {"better", 2.0f / 3.0f},
        {"slightly better", 1.0f / 3.0f}, {"negligibly better", 0.0f}, {"unsure", 0.0f},
    };
    for (size_t i = 0; label && i < sizeof labels / sizeof *labels; i++)
        if (!strcasecmp(label, labels[i].name))
            return labels[i].margin;
    return -1.0f;
}

/* ---- one line ---- */

void herd_pref_line_free(herd_pref_line *l)
{
    if (!l)
        return;
    cJSON_Delete(l->doc_);
    free(l->msg_buf_);
    memset(l, 0, sizeof *l);
}

static herd_status text_field(const cJSON *o, const char *key, const char **out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v)
        return herd_fail(HERD_E_FORMAT, "no \"%s\"", key);
    if (!cJSON_IsString(v))
        return herd_fail(HERD_E_FORMAT, "\"%s\" is not a string", key);
    *out = v->valuestring;
    return HERD_OK;
}

static herd_status parse_msgs(herd_pref_line *l, const cJSON *arr)
{
    int n = cJSON_GetArraySize(arr), i = 0;
    if (n > l->msg_cap_) {
        herd_chat_msg *m = realloc(l->msg_buf_, (size_t)(n + 1) * sizeof *m);
        if (!m)
            return herd_fail(HERD_E_NOMEM, "pref: out of memory");
        l->msg_buf_ = m, l->msg_cap_ = n;
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, arr) {
        const cJSON *r = cJSON_GetObjectItemCaseSensitive(it, "role");
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(it, "content");
        if (!cJSON_IsString(r) || !cJSON_IsString(c))
            return herd_fail(HERD_E_FORMAT, "prompt[%d] has no string \"role\" and \"content\"",
                             i);
        if (strcmp(r->valuestring, "system") && strcmp(r->valuestring, "user") &&
            strcmp(r->valuestring, "assistant"))
            return herd_fail(HERD_E_FORMAT, "prompt[%d] has role \"%.40s\" (want system, user "
                             "or assistant)", i, r->valuestring);
        l->msg_buf_[i++] = (herd_chat_msg){r->valuestring, c->valuestring};
    }
    l->msgs = l->msg_buf_;
    l->n_msgs = n;
    return HERD_OK;
}

static herd_status parse_prompt(herd_pref_line *l, const cJSON *o)
{
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(o, "prompt");
    if (!p)
        return herd_fail(HERD_E_FORMAT, "no \"prompt\"");
    if (cJSON_IsString(p)) {
        l->prompt = p->valuestring;
        return HERD_OK;
    }
    if (cJSON_IsArray(p))
        return parse_msgs(l, p);
    return herd_fail(HERD_E_FORMAT, "\"prompt\" is neither a string nor a list of messages");
}

static herd_status parse_margin(herd_pref_line *l, const cJSON *o)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, "margin");
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, "strength");
    l->margin = 0;
    if (m && s)
        return herd_fail(HERD_E_FORMAT, "both \"margin\" and \"strength\": give one");
    if (m) {
        if (!cJSON_IsNumber(m) || !isfinite(m->valuedouble) || m->valuedouble < 0)
            return herd_fail(HERD_E_FORMAT, "\"margin\" is not a number >= 0");
        l->margin = (float)m->valuedouble;
    } else if (s) {
        float v = cJSON_IsString(s) ? herd_pref_strength_margin(s->valuestring) : -1.0f;
        if (v < 0)
            return herd_fail(HERD_E_FORMAT, "\"strength\" is not one of \"significantly "
                             "better\", \"better\", \"slightly better\", \"negligibly better\"");
        l->margin = v;
    }
    return HERD_OK;
}

herd_status herd_pref_parse(herd_pref_line *l, const char *text, size_t len, int allow_response)
{
    cJSON_Delete(l->doc_);
    l->doc_ = NULL;
    l->prompt = l->chosen = l->rejected = l->response = NULL;
    l->msgs = NULL;
    l->n_msgs = 0;
    l->margin = 0;
    cJSON *o;
    herd_status st = herd_jsonl_object(text, len, &o);
    l->doc_ = o;
    HERD_TRY(st);
    HERD_TRY(parse_prompt(l, o));
    if (allow_response && cJSON_GetObjectItemCaseSensitive(o, "response") &&
        !cJSON_GetObjectItemCaseSensitive(o, "chosen"))
        return text_field(o, "response", &l->response);
    HERD_TRY(text_field(o, "chosen", &l->chosen));
    HERD_TRY(text_field(o, "rejected", &l->rejected));
    if (!strcmp(l->chosen, l->rejected))
        return herd_fail(HERD_E_FORMAT, "chosen and rejected are identical");
    return parse_margin(l, o);
}

/* Zeroes the mask before the last run of trained tokens: only the final
 * answer of a conversation counts. */
static void keep_last_answer(herd_sft_tokens *tk)
{
    int i = tk->n - 1;
    while (i >= 0 && !tk->trained[i])
        i--;
    while (i >= 0 && tk->trained[i])
        i--;
    if (i >= 0)
        memset(tk->trained, 0, (size_t)i + 1);
}

herd_status herd_pref_render(const herd_tokenizer *t, herd_chat_template tpl,
                             const herd_pref_line *l, const char *response,
                             herd_sft_tokens *out)
{
    if (!response || (!l->prompt && !l->msgs && l->n_msgs))
        return herd_fail(HERD_E_ARG, "herd_pref_render: no prompt or response");
    herd_sft_example ex = {0};
    herd_chat_msg *m = NULL;
    if (l->prompt) {
        ex.shape = HERD_SFT_COMPLETION;
        ex.prompt = l->prompt;
        ex.completion = response;
    } else {
        m = malloc((size_t)(l->n_msgs + 1) * sizeof *m);
        if (!m)
            return herd_fail(HERD_E_NOMEM, "pref: out of memory");
        if (l->n_msgs)
            memcpy(m, l->msgs, (size_t)l->n_msgs * sizeof *m);
        m[l->n_msgs] = (herd_chat_msg){"assistant", response};
        ex.shape = HERD_SFT_CHAT;
        ex.msgs = m;
        ex.n_msgs = l->n_msgs + 1;
    }
    herd_status s = herd_sft_render(t, tpl, &ex, out);
    free(m);
    if (s == HERD_OK)
        keep_last_answer(out);
    return s;
}

/* ---- a file ---- */

typedef struct {
    const char *path;
    const herd_tokenizer *t;
    herd_chat_template tpl;
    int max_len, skip_bad;
    herd_pref_stats *st;
    herd_pref_line line;
    herd_sft_tokens c, r;
    herd_pref_set *s;
    int64_t *off;                /* [2 n + 1] sequence offsets into s->ids */
    int64_t cap_pairs, cap_ids;
} load_state;

static herd_status grow(load_state *L, int64_t more)
{
    herd_pref_set *s = L->s;
    if (s->n + 1 > L->cap_pairs) {
        int64_t cap = L->cap_pairs * 2 + 64;
        herd_pref_pair *p = realloc(s->pairs, (size_t)cap * sizeof *p);
        if (p)
            s->pairs = p;
        int64_t *off = p ? realloc(L->off, (size_t)(2 * cap + 1) * sizeof *off) : NULL;
        if (!off)
            return herd_fail(HERD_E_NOMEM, "pref: out of memory");
        L->off = off, L->cap_pairs = cap;
    }
    int64_t used = L->off[2 * s->n];
    if (used + more > L->cap_ids) {
        int64_t cap = (used + more) * 2;
        int *ids = realloc(s->ids, (size_t)cap * sizeof *ids);
        if (ids)
            s->ids = ids;
        uint8_t *mask = ids ? realloc(s->mask, (size_t)cap) : NULL;
        if (!mask)
            return herd_fail(HERD_E_NOMEM, "pref: out of memory");
        s->mask = mask, L->cap_ids = cap;
    }
    return HERD_OK;
}

static herd_status add_pair(load_state *L, int64_t lineno)
{
    herd_pref_set *s = L->s;
    HERD_TRY(grow(L, (int64_t)L->c.n + L->r.n));
    const herd_sft_tokens *tk[2] = {&L->c, &L->r};
    for (int k = 0; k < 2; k++) {
        int64_t at = L->off[2 * s->n + k];
        memcpy(s->ids + at, tk[k]->ids, (size_t)tk[k]->n * sizeof(int));
        memcpy(s->mask + at, tk[k]->trained, (size_t)tk[k]->n);
        L->off[2 * s->n + k + 1] = at + tk[k]->n;
    }
    s->pairs[s->n] = (herd_pref_pair){.n_chosen = L->c.n, .n_rejected = L->r.n,
                                      .margin = L->line.margin, .line = lineno};
    s->n++;
    L->st->used++;
    L->st->tokens += L->c.n + L->r.n;
    return HERD_OK;
}

static herd_status load_line(load_state *L, const char *text, size_t len, int64_t lineno)
{
    herd_status s = herd_pref_parse(&L->line, text, len, 0);
    if (s == HERD_OK)
        s = herd_pref_render(L->t, L->tpl, &L->line, L->line.chosen, &L->c);
    if (s == HERD_OK)
        s = herd_pref_render(L->t, L->tpl, &L->line, L->line.rejected, &L->r);
    if (s == HERD_E_NOMEM || s == HERD_E_UNSUPPORTED || s == HERD_E_IO)
        return s;
    if (s != HERD_OK) {
        herd_fail_prefix(HERD_E_FORMAT, "%s:%lld", L->path, (long long)lineno);
        if (!L->skip_bad)
            return HERD_E_FORMAT;
        if (!L->st->bad++)
            snprintf(L->st->first_bad, sizeof L->st->first_bad, "%s", herd_last_error());
        return HERD_OK;
    }
    if (L->max_len && (L->c.n > L->max_len || L->r.n > L->max_len)) {
        L->st->too_long++;
        return HERD_OK;
    }
    return add_pair(L, lineno);
}

static herd_status load_one(void *user, const char *text, size_t len, int64_t lineno)
{
    return load_line(user, text, len, lineno);
}

static herd_status load_lines(load_state *L, FILE *f)
{
    return herd_jsonl_each(f, L->path, load_one, L, &L->st->lines);
}

/* The pairs' pointers, once the storage has stopped moving. */
static void point_pairs(herd_pref_set *s, const int64_t *off)
{
    for (int64_t i = 0; i < s->n; i++) {
        herd_pref_pair *p = &s->pairs[i];
        p->chosen = s->ids + off[2 * i];
        p->chosen_mask = s->mask + off[2 * i];
        p->rejected = s->ids + off[2 * i + 1];
        p->rejected_mask = s->mask + off[2 * i + 1];
    }
}

void herd_pref_set_free(herd_pref_set *s)
{
    if (!s)
        return;
    free(s->pairs);
    free(s->ids);
    free(s->mask);
    free(s);
}

herd_status herd_pref_load(const char *path, const herd_tokenizer *t, herd_chat_template tpl,
                           int max_len, int skip_bad, herd_pref_set **out,
                           herd_pref_stats *st)
{
    herd_pref_stats dummy;
    if (!st)
        st = &dummy;
    memset(st, 0, sizeof *st);
    *out = NULL;
    if (!t || max_len < 0 || max_len == 1)
        return herd_fail(HERD_E_ARG, "herd_pref_load: no tokenizer, or max_len %d", max_len);
    if (tpl != HERD_CHAT_NONE && tpl != HERD_CHAT_LLAMA2 && tpl != HERD_CHAT_LLAMA3)
        return herd_fail(HERD_E_ARG, "pref: unknown chat template %d", (int)tpl);
    FILE *f = fopen(path, "rb");
    if (!f)
        return herd_fail(HERD_E_IO, "%s: cannot open: %s", path, strerror(errno));
    load_state L = {.path = path, .t = t, .tpl = tpl, .max_len = max_len,
                    .skip_bad = skip_bad, .st = st};
    L.s = calloc(1, sizeof *L.s);
    L.off = calloc(1, sizeof *L.off);
    herd_status rc = L.s && L.off ? load_lines(&L, f)
                                  : herd_fail(HERD_E_NOMEM, "pref: out of memory");
    fclose(f);
    herd_pref_line_free(&L.line);
    herd_sft_tokens_free(&L.c);
    herd_sft_tokens_free(&L.r);
    if (rc == HERD_OK && L.s->n == 0)
        rc = herd_fail(HERD_E_FORMAT, "%s: no usable pairs (%lld lines, %lld bad, %lld too "
                       "long)", path, (long long)st->lines, (long long)st->bad,
                       (long long)st->too_long);
    if (rc == HERD_OK)
        point_pairs(L.s, L.off);
    free(L.off);
    if (rc != HERD_OK) {
        herd_pref_set_free(L.s);
        return rc;
    }
    *out = L.s;
    return HERD_OK;
}

/* SFT JSONL files: each line parsed into an example of a known shape
 * (train/sft.h), rendered with its loss mask, checked against the length
 * limit and appended to a set; bad lines stop the load or are counted. */
#include "train/sft.h"
#include "base/error.h"
#include "train/jsonl.h"
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- one line ---- */

typedef struct {
    cJSON *doc;            /* owns the strings the example points into */
    herd_chat_msg *msgs;
    uint8_t *untrained;    /* per message: "train": false */
    int cap;
} row_buf;

const char *herd_sft_role(const char *r)
{
    static const char *const names[][2] = {
        {"system", "system"}, {"user", "user"},      {"assistant", "assistant"},
        {"human", "user"},    {"gpt", "assistant"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(r, names[i][0]))
            return names[i][1];
    return NULL;
}

/* A message's optional "train" flag: false marks an assistant message
 * untrained (and is a no-op elsewhere); true is only for an assistant. */
static herd_status parse_train(const cJSON *msg, const char *key, int i, const char *role,
                               uint8_t *untrained)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(msg, "train");
    *untrained = 0;
    if (!v || cJSON_IsNull(v))
        return HERD_OK;
    if (!cJSON_IsBool(v))
        return herd_fail(HERD_E_FORMAT, "%s[%d] has a \"train\" that is not true or false",
                         key, i);
    int assistant = !strcmp(role, "assistant");
    if (cJSON_IsTrue(v) && !assistant)
        return herd_fail(HERD_E_FORMAT, "%s[%d] has \"train\": true on a %s message (only "
                         "assistant messages are trained)", key, i, role);
    *untrained = assistant && cJSON_IsFalse(v);
    return HERD_OK;
}

/* "messages" (role/content) or "conversations" (from/value) into ex. */
static herd_status parse_msgs(const cJSON *arr, const char *key, const char *rk,
                              const char *ck, row_buf *b, herd_sft_example *ex)
{
    if (!cJSON_IsArray(arr))
        return herd_fail(HERD_E_FORMAT, "\"%s\" is not an array", key);
    int n = cJSON_GetArraySize(arr), i = 0;
    if (n > b->cap) {
        herd_chat_msg *m = realloc(b->msgs, (size_t)n * sizeof *m);
        if (m)
            b->msgs = m;
        uint8_t *u = m ? realloc(b->untrained, (size_t)n) : NULL;
        if (!u)
            return herd_fail(HERD_E_NOMEM, "sft: out of memory");
        b->untrained = u, b->cap = n;
    }
    const cJSON *it;
    int any_untrained = 0;
    cJSON_ArrayForEach(it, arr) {
        const cJSON *r = cJSON_GetObjectItemCaseSensitive(it, rk);
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(it, ck);
        if (!cJSON_IsString(r) || !cJSON_IsString(c))
            return herd_fail(HERD_E_FORMAT, "%s[%d] has no string \"%s\" and \"%s\"", key, i,
                             rk, ck);
        const char *role = herd_sft_role(r->valuestring);
        if (!role)
            return herd_fail(HERD_E_FORMAT, "%s[%d] has %s \"%.40s\" (want system, user or "
                             "assistant)", key, i, rk, r->valuestring);
        HERD_TRY(parse_train(it, key, i, role, &b->untrained[i]));
        any_untrained |= b->untrained[i];
        b->msgs[i++] = (herd_chat_msg){role, c->valuestring};
    }
    *ex = (herd_sft_example){.shape = HERD_SFT_CHAT, .msgs = b->msgs, .n_msgs = n,
                             .untrained = any_untrained ? b->untrained : NULL};
    return HERD_OK;
}

/* The string field key of o into *out; absent is an error unless optional. */
static herd_status field(const cJSON *o, const char *key, int optional, const char **out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    *out = NULL;
    if ((!v || cJSON_IsNull(v)) && optional)
        return HERD_OK;
    if (!v)
        return herd_fail(HERD_E_FORMAT, "no \"%s\"", key);
    if (!cJSON_IsString(v))
        return herd_fail(HERD_E_FORMAT, "\"%s\" is not a string", key);
    *out = v->valuestring;
    return HERD_OK;
}

static herd_status parse_row(const char *line, size_t len, row_buf *b, herd_sft_example *ex)
{
    cJSON_Delete(b->doc);
    HERD_TRY(herd_jsonl_object(line, len, &b->doc));
    const cJSON *o = b->doc;
    const cJSON *v;
    if ((v = cJSON_GetObjectItemCaseSensitive(o, "messages")))
        return parse_msgs(v, "messages", "role", "content", b, ex);
    if ((v = cJSON_GetObjectItemCaseSensitive(o, "conversations")))
        return parse_msgs(v, "conversations", "from", "value", b, ex);
    *ex = (herd_sft_example){0};
    if (cJSON_GetObjectItemCaseSensitive(o, "instruction")) {
        ex->shape = HERD_SFT_ALPACA;
        HERD_TRY(field(o, "instruction", 0, &ex->instruction));
        HERD_TRY(field(o, "input", 1, &ex->input));
        return field(o, "output", 0, &ex->output);
    }
    if (cJSON_GetObjectItemCaseSensitive(o, "prompt")) {
        ex->shape = HERD_SFT_COMPLETION;
        HERD_TRY(field(o, "prompt", 0, &ex->prompt));
        return field(o, "completion", 0, &ex->completion);
    }
    return herd_fail(HERD_E_FORMAT, "no \"messages\", \"conversations\", \"instruction\" or "
                     "\"prompt\": not a known example shape");
}

/* ---- the set ---- */

typedef struct {
    herd_sft_set *s;
    int64_t cap_ex, cap_tok;
} set_builder;

static herd_status set_add(set_builder *b, const herd_sft_tokens *tk, int n, int64_t line)
{
    herd_sft_set *s = b->s;
    int64_t used = s->off[s->n];
    if (s->n + 1 >= b->cap_ex) {
        int64_t cap = b->cap_ex * 2;
        int64_t *off = realloc(s->off, (size_t)(cap + 1) * sizeof *off);
        if (off)
            s->off = off;
        int64_t *ln = off ? realloc(s->line, (size_t)cap * sizeof *ln) : NULL;
        if (!ln)
            return herd_fail(HERD_E_NOMEM, "sft: out of memory");
        s->line = ln, b->cap_ex = cap;
    }
    if (used + n > b->cap_tok) {
        int64_t cap = (used + n) * 2;
        int *ids = realloc(s->ids, (size_t)cap * sizeof *ids);
        if (ids)
            s->ids = ids;
        uint8_t *tr = ids ? realloc(s->trained, (size_t)cap) : NULL;
        if (!tr)
            return herd_fail(HERD_E_NOMEM, "sft: out of memory");
        s->trained = tr, b->cap_tok = cap;
    }
    memcpy(s->ids + used, tk->ids, (size_t)n * sizeof *tk->ids);
    memcpy(s->trained + used, tk->trained, (size_t)n);
    s->line[s->n] = line;
    s->off[++s->n] = used + n;
    return HERD_OK;
}

void herd_sft_set_free(herd_sft_set *s)
{
    if (!s)
        return;
    free(s->off);
    free(s->ids);
    free(s->trained);
    free(s->line);
    free(s);
}

/* Applies the length limit: the number of ids to keep, 0 to drop. */
static int fit(const herd_sft_tokens *tk, const herd_sft_opts *o, herd_sft_stats *st)
{
    if (!o->max_len || tk->n <= o->max_len)
        return tk->n;
    int any = 0;
    for (int i = 0; o->truncate && i < o->max_len; i++)
        any |= tk->trained[i];
    if (!any) {
        st->too_long++;
        return 0;
    }
    st->truncated++;
    return o->max_len;
}

typedef struct {
    const char *path;
    const herd_tokenizer *t;
    const herd_sft_opts *o;
    herd_sft_stats *st;
    row_buf row;
    herd_sft_tokens tk;
    set_builder b;
} load_state;

/* One line: parsed, rendered, limited and kept; a bad one per skip_bad. */
static herd_status load_line(load_state *L, const char *line, size_t len, int64_t lineno)
{
    herd_sft_example ex;
    herd_status s = parse_row(line, len, &L->row, &ex);
    if (s == HERD_OK)
        s = herd_sft_render(L->t, L->o->tpl, &ex, &L->tk);
    if (s == HERD_E_NOMEM || s == HERD_E_UNSUPPORTED)
        return s;
    if (s != HERD_OK) {
        herd_fail_prefix(HERD_E_FORMAT, "%s:%lld", L->path, (long long)lineno);
        if (!L->o->skip_bad)
            return HERD_E_FORMAT;
        if (!L->st->bad++)
            snprintf(L->st->first_bad, sizeof L->st->first_bad, "%s", herd_last_error());
        return HERD_OK;
    }
    int n = fit(&L->tk, L->o, L->st);
    if (!n)
        return HERD_OK;
    HERD_TRY(set_add(&L->b, &L->tk, n, lineno));
    L->st->used++;
    L->st->tokens += n;
    for (int i = 0; i < n; i++)
        L->st->trained += L->tk.trained[i];
    return HERD_OK;
}

static herd_status load_one(void *user, const char *text, size_t len, int64_t lineno)
{
    return load_line(user, text, len, lineno);
}

static herd_status load_lines(load_state *L, FILE *f)
{
    return herd_jsonl_each(f, L->path, load_one, L, &L->st->lines);
}

static herd_status check_opts(const herd_tokenizer *t, const herd_sft_opts *o)
{
    if (!t || !o)
        return herd_fail(HERD_E_ARG, "herd_sft_load: no tokenizer or options");
    if (o->max_len < 0 || o->max_len == 1)
        return herd_fail(HERD_E_ARG, "sft: max_len %d (want 0 for any, or at least 2)",
                         o->max_len);
    if (o->tpl != HERD_CHAT_NONE && o->tpl != HERD_CHAT_LLAMA2 && o->tpl != HERD_CHAT_LLAMA3)
        return herd_fail(HERD_E_ARG, "sft: unknown chat template %d", (int)o->tpl);
    return HERD_OK;
}

herd_status herd_sft_load(const char *path, const herd_tokenizer *t, const herd_sft_opts *o,
                          herd_sft_set **out, herd_sft_stats *st)
{
    herd_sft_stats dummy;
    if (!st)
        st = &dummy;
    memset(st, 0, sizeof *st);
    *out = NULL;
    HERD_TRY(check_opts(t, o));
    FILE *f = fopen(path, "rb");
    if (!f)
        return herd_fail(HERD_E_IO, "%s: cannot open: %s", path, strerror(errno));
    load_state L = {.path = path, .t = t, .o = o, .st = st, .b = {.cap_ex = 1024, .cap_tok = 0}};
    herd_sft_set *s = L.b.s = calloc(1, sizeof *s);
    herd_status rc = s && (s->off = calloc(1025, sizeof *s->off)) &&
                             (s->line = malloc(1024 * sizeof *s->line))
                         ? load_lines(&L, f)
                         : herd_fail(HERD_E_NOMEM, "sft: out of memory");
    fclose(f);
    cJSON_Delete(L.row.doc);
    free(L.row.msgs);
    free(L.row.untrained);
    herd_sft_tokens_free(&L.tk);
    if (rc == HERD_OK && s->n == 0)
        rc = herd_fail(HERD_E_FORMAT, "%s: no usable examples (%lld lines, %lld bad, %lld too "
                       "long)", path, (long long)st->lines, (long long)st->bad,
                       (long long)st->too_long);
    if (rc != HERD_OK) {
        herd_sft_set_free(s);
        return rc;
    }
    *out = s;
    return HERD_OK;
}

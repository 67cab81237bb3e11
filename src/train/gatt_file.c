/* Ghost Attention data files (train/gatt.h): each JSONL chat read, its
 * instruction found (its own, the fixed one, or drawn from the pool), the
 * view built and written as one JSON line. */
#include "train/gatt.h"
#include "base/error.h"
#include "train/jsonl.h"
#include "train/sft.h"
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *path;
    FILE *out;
    const herd_gatt_opts *o;
    herd_gatt_stats *st;
    cJSON *doc;
    herd_chat_msg *msgs;
    int cap;
    char inst[HERD_GATT_MAX_COMBINE * 4096];
} gatt_state;

/* The messages of the chat array arr into G->msgs. */
static herd_status read_msgs(gatt_state *G, const cJSON *arr, const char *key, const char *rk,
                             const char *ck, int *n)
{
    if (!cJSON_IsArray(arr))
        return herd_fail(HERD_E_FORMAT, "\"%s\" is not an array", key);
    *n = cJSON_GetArraySize(arr);
    if (*n > G->cap) {
        herd_chat_msg *m = realloc(G->msgs, (size_t)*n * sizeof *m);
        if (!m)
            return herd_fail(HERD_E_NOMEM, "gatt: out of memory");
        G->msgs = m, G->cap = *n;
    }
    int i = 0;
    const cJSON *it;
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
        G->msgs[i++] = (herd_chat_msg){role, c->valuestring};
    }
    return HERD_OK;
}

/* The line's instruction into G->inst: its own, the fixed one, or drawn. */
static herd_status find_instruction(gatt_state *G, const cJSON *o, int64_t lineno)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "instruction");
    const char *fixed = G->o->instruction;
    if (v && !cJSON_IsNull(v) && !cJSON_IsString(v))
        return herd_fail(HERD_E_FORMAT, "\"instruction\" is not a string");
    if (cJSON_IsString(v))
        fixed = v->valuestring;
    if (fixed) {
        if (strlen(fixed) >= sizeof G->inst)
            return herd_fail(HERD_E_FORMAT, "the instruction is longer than %zu bytes",
                             sizeof G->inst - 1);
        strcpy(G->inst, fixed);
        return HERD_OK;
    }
    if (!G->o->n_pool)
        return herd_fail(HERD_E_FORMAT, "no instruction (give one with --instruction or "
                         "--instructions, or an \"instruction\" field on the line)");
    int idx[HERD_GATT_MAX_COMBINE], k = G->o->combine ? G->o->combine : 1;
    herd_gatt_draw(G->o->seed, lineno, G->o->n_pool, k, idx);
    size_t len = 0;
    for (int j = 0; j < k; j++) {
        const char *s = G->o->pool[idx[j]];
        size_t sl = strlen(s);
        if (len + sl + 2 > sizeof G->inst)
            return herd_fail(HERD_E_FORMAT, "the drawn instructions are longer than %zu "
                             "bytes", sizeof G->inst - 1);
        if (j)
            G->inst[len++] = ' ';
        memcpy(G->inst + len, s, sl + 1);
        len += sl;
    }
    G->st->drawn++;
    return HERD_OK;
}

/* {"messages": d, "instruction": inst, the other keys of o} as one line. */
static herd_status write_line(gatt_state *G, const cJSON *o, const herd_gatt_dialog *d)
{
    cJSON *row = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(row, "messages");
    int ok = row && arr && cJSON_AddStringToObject(row, "instruction", G->inst);
    for (int i = 0; ok && i < d->n; i++) {
        cJSON *m = cJSON_CreateObject();
        ok = m && cJSON_AddItemToArray(arr, m) &&
             cJSON_AddStringToObject(m, "role", d->msgs[i].role) &&
             cJSON_AddStringToObject(m, "content", d->msgs[i].content) &&
             (d->train[i] || cJSON_AddFalseToObject(m, "train"));
    }
    for (const cJSON *it = o->child; ok && it; it = it->next)
        if (strcmp(it->string, "messages") && strcmp(it->string, "conversations") &&
            strcmp(it->string, "instruction"))
            ok = cJSON_AddItemToObject(row, it->string, cJSON_Duplicate(it, 1));
    char *text = ok ? cJSON_PrintUnformatted(row) : NULL;
    cJSON_Delete(row);
    if (!text)
        return herd_fail(HERD_E_NOMEM, "gatt: out of memory");
    int bad = fputs(text, G->out) < 0 || fputc('\n', G->out) == EOF;
    free(text);
    if (bad)
        return herd_fail(HERD_E_IO, "gatt: write error: %s", strerror(errno));
    return HERD_OK;
}

/* One line: parsed, its view built and written. */
static herd_status gatt_line(gatt_state *G, const char *line, size_t len, int64_t lineno)
{
    cJSON_Delete(G->doc);
    HERD_TRY(herd_jsonl_object(line, len, &G->doc));
    const cJSON *o = G->doc, *v;
    int n = 0;
    if ((v = cJSON_GetObjectItemCaseSensitive(o, "messages")))
        HERD_TRY(read_msgs(G, v, "messages", "role", "content", &n));
    else if ((v = cJSON_GetObjectItemCaseSensitive(o, "conversations")))
        HERD_TRY(read_msgs(G, v, "conversations", "from", "value", &n));
    else
        return herd_fail(HERD_E_FORMAT, "no \"messages\" or \"conversations\": not a chat");
    HERD_TRY(find_instruction(G, o, lineno));
    herd_gatt_dialog d;
    HERD_TRY(herd_gatt_build(G->o->view, G->o->in_user, G->inst, G->msgs, n, &d));
    herd_status s = write_line(G, o, &d);
    herd_gatt_dialog_free(&d);
    return s;
}

static herd_status gatt_one(void *user, const char *line, size_t len, int64_t lineno)
{
    gatt_state *G = user;
    herd_status s = gatt_line(G, line, len, lineno);
    if (s == HERD_E_ARG || s == HERD_E_FORMAT)
        s = herd_fail_prefix(HERD_E_FORMAT, "%s:%lld", G->path, (long long)lineno);
    G->st->written += s == HERD_OK;
    return s;
}

static herd_status gatt_lines(gatt_state *G, FILE *f)
{
    return herd_jsonl_each(f, G->path, gatt_one, G, &G->st->lines);
}

static herd_status check_opts(const herd_gatt_opts *o)
{
    if (!o || (o->view != HERD_GATT_PROMPTS && o->view != HERD_GATT_TRAIN))
        return herd_fail(HERD_E_ARG, "gatt: no options or an unknown view");
    if (o->n_pool < 0 || (o->n_pool && !o->pool))
        return herd_fail(HERD_E_ARG, "gatt: bad instruction pool");
    if (o->combine < 0 || o->combine > HERD_GATT_MAX_COMBINE)
        return herd_fail(HERD_E_ARG, "gatt: combine %d (want 1 to %d)", o->combine,
                         HERD_GATT_MAX_COMBINE);
    if (o->n_pool && o->combine > o->n_pool)
        return herd_fail(HERD_E_ARG, "gatt: cannot combine %d different instructions from "
                         "%d", o->combine, o->n_pool);
    return HERD_OK;
}

herd_status herd_gatt_file(const char *in_path, FILE *out, const herd_gatt_opts *o,
                           herd_gatt_stats *st)
{
    herd_gatt_stats dummy;
    if (!st)
        st = &dummy;
    memset(st, 0, sizeof *st);
    HERD_TRY(check_opts(o));
    FILE *f = fopen(in_path, "rb");
    if (!f)
        return herd_fail(HERD_E_IO, "%s: cannot open: %s", in_path, strerror(errno));
    gatt_state G = {.path = in_path, .out = out, .o = o, .st = st};
    herd_status s = gatt_lines(&G, f);
    fclose(f);
    cJSON_Delete(G.doc);
    free(G.msgs);
    return s;
}

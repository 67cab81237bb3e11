/* A Hugging Face tokenizer.json with a byte-level BPE model (Llama 3): the
 * vocabulary (tokens spelled in GPT-2's byte mapping), the added tokens
 * (their text as is; "special" ones are CONTROL, the others USER_DEFINED),
 * and the merges ("a b" strings or [a, b] pairs; rank = position).
 * BOS and EOS: the bos_token/eos_token of a tokenizer_config.json beside
 * the file, else <|begin_of_text|> and <|end_of_text|> when present. */
#include "tokenizer/bpe.h"
#include "base/error.h"
#include "base/file.h"
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *path;
    int n;
    const char **pieces;
    size_t *lens;
    int *types;
    char *bytes;           /* decoded vocabulary, back to back */
    size_t used;
} json_vocab;

static herd_status json_id(const char *path, const cJSON *v, const char *what, int *id)
{
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble >= (1 << 24) ||
        v->valuedouble != (double)(int)v->valuedouble)
        return herd_fail(HERD_E_FORMAT, "%s: %s has no valid id", path, what);
    *id = (int)v->valuedouble;
    return HERD_OK;
}

/* The number of ids: one past the largest of the vocabulary and added tokens. */
static herd_status count_ids(const char *path, const cJSON *vocab, const cJSON *added, int *n,
                             size_t *bytes)
{
    const cJSON *e;
    int id = 0;
    *n = 0;
    *bytes = 0;
    cJSON_ArrayForEach(e, vocab) {
        HERD_TRY(json_id(path, e, "a vocabulary entry", &id));
        *n = id + 1 > *n ? id + 1 : *n;
        *bytes += strlen(e->string);
    }
    cJSON_ArrayForEach(e, added) {
        HERD_TRY(json_id(path, cJSON_GetObjectItemCaseSensitive(e, "id"), "an added token", &id));
        *n = id + 1 > *n ? id + 1 : *n;
    }
    return HERD_OK;
}

static herd_status add_vocab(json_vocab *v, const cJSON *vocab)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, vocab) {
        int id = (int)e->valuedouble;
        if (v->types[id] != HERD_PIECE_UNUSED)
            return herd_fail(HERD_E_FORMAT, "%s: id %d is in the vocabulary twice", v->path, id);
        size_t n = strlen(e->string);
        int k = herd_gpt2_decode(e->string, n, v->bytes + v->used);
        if (k <= 0)
            return herd_fail(HERD_E_FORMAT, "%s: token %d is not spelled in GPT-2's byte "
                             "mapping", v->path, id);
        v->pieces[id] = v->bytes + v->used;
        v->lens[id] = (size_t)k;
        v->types[id] = HERD_PIECE_NORMAL;
        v->used += (size_t)k;
    }
    return HERD_OK;
}

static herd_status add_added(json_vocab *v, const cJSON *added)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, added) {
        int id = (int)cJSON_GetObjectItemCaseSensitive(e, "id")->valuedouble;
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(e, "content");
        if (!cJSON_IsString(c) || !c->valuestring[0])
            return herd_fail(HERD_E_FORMAT, "%s: added token %d has no content", v->path, id);
        size_t n = strlen(c->valuestring);
        if (v->types[id] != HERD_PIECE_UNUSED &&
            (v->lens[id] != n || memcmp(v->pieces[id], c->valuestring, n) != 0))
            return herd_fail(HERD_E_FORMAT, "%s: added token %d (%s) takes the id of another "
                             "token", v->path, id, c->valuestring);
        v->pieces[id] = c->valuestring;
        v->lens[id] = n;
        v->types[id] = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "special"))
                           ? HERD_PIECE_CONTROL : HERD_PIECE_USER_DEFINED;
    }
    return HERD_OK;
}

/* The two sides of merge i. */
static herd_status merge_sides(const char *path, const cJSON *m, int i, const char **a,
                               size_t *an, const char **b, size_t *bn)
{
    if (cJSON_IsString(m)) {
        const char *s = m->valuestring, *sp = strchr(s, ' ');
        if (!sp || strchr(sp + 1, ' '))
            return herd_fail(HERD_E_FORMAT, "%s: merge %d is not \"a b\"", path, i);
        *a = s, *an = (size_t)(sp - s), *b = sp + 1, *bn = strlen(sp + 1);
        return HERD_OK;
    }
    const cJSON *x = cJSON_GetArrayItem(m, 0), *y = cJSON_GetArrayItem(m, 1);
    if (!cJSON_IsArray(m) || cJSON_GetArraySize(m) != 2 || !cJSON_IsString(x) ||
        !cJSON_IsString(y))
        return herd_fail(HERD_E_FORMAT, "%s: merge %d is neither \"a b\" nor [a, b]", path, i);
    *a = x->valuestring, *an = strlen(x->valuestring);
    *b = y->valuestring, *bn = strlen(y->valuestring);
    return HERD_OK;
}

static herd_status merge_id(const herd_tokenizer *t, const char *path, int i, const char *s,
                            size_t n, char *buf, int32_t *id)
{
    int k = herd_gpt2_decode(s, n, buf);
    *id = k > 0 ? herd_piece_find(t, buf, (size_t)k) : -1;
    if (*id < 0)
        return herd_fail(HERD_E_FORMAT, "%s: merge %d: \"%.*s\" is not in the vocabulary", path,
                         i, (int)(n < 64 ? n : 64), s);
    return HERD_OK;
}

static herd_status one_merge(const herd_tokenizer *t, const char *path, const cJSON *m, int i,
                             char *buf, int32_t *pair)
{
    const char *a = NULL, *b = NULL;
    size_t an = 0, bn = 0;
    HERD_TRY(merge_sides(path, m, i, &a, &an, &b, &bn));
    if (an > 2048 || bn > 2048)
        return herd_fail(HERD_E_FORMAT, "%s: merge %d is too long", path, i);
    HERD_TRY(merge_id(t, path, i, a, an, buf, &pair[0]));
    return merge_id(t, path, i, b, bn, buf, &pair[1]);
}

static herd_status add_merges(herd_tokenizer *t, const char *path, const cJSON *merges)
{
    if (!cJSON_IsArray(merges))
        return herd_fail(HERD_E_FORMAT, "%s: model.merges is not an array", path);
    int n = cJSON_GetArraySize(merges), i = 0;
    int32_t *pairs = malloc((size_t)(n ? n : 1) * 2 * sizeof *pairs);
    char *buf = malloc(4096);
    herd_status s = !pairs || !buf ? herd_fail(HERD_E_NOMEM, "%s: out of memory", path) : HERD_OK;
    for (const cJSON *m = merges->child; m && s == HERD_OK; m = m->next, i++)
        s = one_merge(t, path, m, i, buf, &pairs[2 * i]);
    if (s == HERD_OK)
        s = herd_bpe_pairs_init(t, pairs, n, path);
    free(pairs);
    free(buf);
    return s;
}

/* The id of bos_token / eos_token in a tokenizer_config.json beside path
 * (a string or {"content": ...}); def when there is none. */
static int config_token(const herd_tokenizer *t, const cJSON *cfg, const char *key, int def)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);
    if (cJSON_IsObject(v))
        v = cJSON_GetObjectItemCaseSensitive(v, "content");
    int id = cJSON_IsString(v) ? herd_token_id(t, v->valuestring) : -1;
    return id >= 0 ? id : def;
}

static void set_bos_eos(herd_tokenizer *t, const char *path)
{
    t->bos = herd_token_id(t, "<|begin_of_text|>");
    t->eos = herd_token_id(t, "<|end_of_text|>");
    const char *slash = strrchr(path, '/');
    int dir = slash ? (int)(slash - path) + 1 : 0;
    char cfg_path[4096];
    if (snprintf(cfg_path, sizeof cfg_path, "%.*stokenizer_config.json", dir, path) >=
            (int)sizeof cfg_path || !herd_file_exists(cfg_path))
        return;
    char *data;
    size_t size;
    if (herd_read_file(cfg_path, &data, &size) != HERD_OK) {
        herd_clear_error();
        return;
    }
    cJSON *cfg = cJSON_ParseWithLength(data, size);
    if (cfg) {
        t->bos = config_token(t, cfg, "bos_token", t->bos);
        t->eos = config_token(t, cfg, "eos_token", t->eos);
    }
    cJSON_Delete(cfg);
    free(data);
}

static herd_status build_vocab(json_vocab *v, const cJSON *vocab, const cJSON *added,
                               herd_tokenizer **out)
{
    size_t bytes;
    HERD_TRY(count_ids(v->path, vocab, added, &v->n, &bytes));
    v->pieces = calloc((size_t)v->n + 1, sizeof *v->pieces);
    v->lens = calloc((size_t)v->n + 1, sizeof *v->lens);
    v->types = malloc(((size_t)v->n + 1) * sizeof *v->types);
    v->bytes = malloc(bytes + 1);
    if (!v->pieces || !v->lens || !v->types || !v->bytes)
        return herd_fail(HERD_E_NOMEM, "%s: out of memory", v->path);
    for (int i = 0; i < v->n; i++)
        v->types[i] = HERD_PIECE_UNUSED;
    HERD_TRY(add_vocab(v, vocab));
    HERD_TRY(add_added(v, added));
    herd_bpe_spec spec = {.n = v->n, .pieces = v->pieces, .lens = v->lens, .types = v->types,
                          .bos = -1, .eos = -1};
    return herd_bpe_build(&spec, v->path, out);
}

static herd_status parse_root(const char *path, const cJSON *root, herd_tokenizer **out)
{
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    HERD_TRY(herd_bpe_json_check_model(path, model));
    HERD_TRY(herd_bpe_json_check_pipeline(path, root));
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab");
    const cJSON *added = cJSON_GetObjectItemCaseSensitive(root, "added_tokens");
    if (!cJSON_IsObject(vocab))
        return herd_fail(HERD_E_FORMAT, "%s: model.vocab is not an object", path);
    if (added && !cJSON_IsArray(added) && !cJSON_IsNull(added))
        return herd_fail(HERD_E_FORMAT, "%s: added_tokens is not an array", path);
    json_vocab v = {.path = path};
    herd_status s = build_vocab(&v, vocab, cJSON_IsArray(added) ? added : NULL, out);
    free(v.pieces);
    free(v.lens);
    free(v.types);
    free(v.bytes);
    if (s == HERD_OK)
        s = add_merges(*out, path, cJSON_GetObjectItemCaseSensitive(model, "merges"));
    if (s != HERD_OK) {
        herd_tokenizer_free(*out);
        *out = NULL;
        return s;
    }
    (*out)->bpe->ignore_merges =
        cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(model, "ignore_merges"));
    set_bos_eos(*out, path);
    return HERD_OK;
}

herd_status herd_bpe_parse_json(const char *path, const char *data, size_t size,
                                herd_tokenizer **out)
{
    *out = NULL;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(data, size, &end, 0);
    if (!root)
        return herd_fail(HERD_E_FORMAT, "%s: not valid JSON (near byte %zu)", path,
                         end && end >= data ? (size_t)(end - data) : (size_t)0);
    herd_status s = cJSON_IsObject(root) ? parse_root(path, root, out)
                                         : herd_fail(HERD_E_FORMAT, "%s: not a JSON object", path);
    cJSON_Delete(root);
    return s;
}

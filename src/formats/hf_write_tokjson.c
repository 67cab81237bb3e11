/* tokenizer.json for a byte-level BPE tokenizer, laid out as Meta's
 * Llama 3 release on Hugging Face has it: the BPE model (vocabulary in GPT-2's
 * byte-to-unicode spelling, merges as "a b"), the special and added tokens,
 * Llama 3's pre-tokenizer (Split on its regex, then ByteLevel), ByteLevel
 * decoding, and a post-processor that puts BOS first. */
#include "formats/convert.h"
#include "tokenizer/bpe.h"
#include "base/error.h"
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A mergeable token in GPT-2 spelling, NUL-terminated (buf: 2 * 256 + 1). */
static const char *spelled(const herd_tokenizer *t, int id, char *buf)
{
    size_t n = herd_gpt2_encode(t->blob + t->off[id], t->len[id], buf);
    buf[n] = 0;
    return buf;
}

static cJSON *vocab(const herd_tokenizer *t)
{
    cJSON *v = cJSON_CreateObject();
    char buf[2 * HERD_MAX_PIECE + 1];
    for (int id = 0; v && id < t->n_vocab; id++)
        if (t->type[id] == HERD_PIECE_NORMAL &&
            !cJSON_AddNumberToObject(v, spelled(t, id, buf), id)) {
            cJSON_Delete(v);
            v = NULL;
        }
    return v;
}

static cJSON *merges(const herd_tokenizer *t)
{
    int32_t *pairs;
    int n;
    if (herd_bpe_merge_list(t, &pairs, &n) != HERD_OK)
        return NULL;
    cJSON *a = cJSON_CreateArray();
    char l[2 * HERD_MAX_PIECE + 1], r[2 * HERD_MAX_PIECE + 1], both[4 * HERD_MAX_PIECE + 2];
    for (int i = 0; a && i < n; i++) {
        snprintf(both, sizeof both, "%s %s", spelled(t, pairs[2 * i], l),
                 spelled(t, pairs[2 * i + 1], r));
        cJSON *s = cJSON_CreateString(both);
        if (!s || !cJSON_AddItemToArray(a, s)) {
            cJSON_Delete(s);
            cJSON_Delete(a);
            a = NULL;
        }
    }
    free(pairs);
    return a;
}

static cJSON *added_token(const herd_tokenizer *t, int id)
{
    cJSON *o = cJSON_CreateObject();
    char *text = strndup(t->blob + t->off[id], t->len[id]);
    cJSON_AddNumberToObject(o, "id", id);
    cJSON_AddStringToObject(o, "content", text ? text : "");
    cJSON_AddBoolToObject(o, "single_word", 0);
    cJSON_AddBoolToObject(o, "lstrip", 0);
    cJSON_AddBoolToObject(o, "rstrip", 0);
    cJSON_AddBoolToObject(o, "normalized", 0);
    cJSON_AddBoolToObject(o, "special", t->type[id] == HERD_PIECE_CONTROL);
    free(text);
    return o;
}

static cJSON *added_tokens(const herd_tokenizer *t)
{
    cJSON *a = cJSON_CreateArray();
    for (int id = 0; a && id < t->n_vocab; id++)
        if ((t->type[id] == HERD_PIECE_CONTROL || t->type[id] == HERD_PIECE_USER_DEFINED) &&
            t->len[id] > 0)
            cJSON_AddItemToArray(a, added_token(t, id));
    return a;
}

/* The fixed parts, as JSON text (the regex is filled in). */
static const char pipeline[] =
    "{\"version\":\"1.0\",\"truncation\":null,\"padding\":null,\"normalizer\":null,"
    "\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":["
    "{\"type\":\"Split\",\"pattern\":{\"Regex\":\"\"},\"behavior\":\"Isolated\","
    "\"invert\":false},{\"type\":\"ByteLevel\",\"add_prefix_space\":false,"
    "\"trim_offsets\":true,\"use_regex\":false}]},"
    "\"decoder\":{\"type\":\"ByteLevel\",\"add_prefix_space\":true,\"trim_offsets\":true,"
    "\"use_regex\":true}}";
static const char model_head[] =
    "{\"type\":\"BPE\",\"dropout\":null,\"unk_token\":null,"
    "\"continuing_subword_prefix\":null,\"end_of_word_suffix\":null,\"fuse_unk\":false,"
    "\"byte_fallback\":false}";
static const char byte_level_post[] =
    "{\"type\":\"ByteLevel\",\"add_prefix_space\":true,\"trim_offsets\":false,"
    "\"use_regex\":true}";

/* {"SpecialToken": {"id": id, "type_id": n}} or {"Sequence": ...}. */
static cJSON *piece_ref(const char *kind, const char *id, int type_id)
{
    cJSON *o = cJSON_CreateObject(), *in = cJSON_AddObjectToObject(o, kind);
    cJSON_AddStringToObject(in, "id", id);
    cJSON_AddNumberToObject(in, "type_id", type_id);
    return o;
}

static cJSON *template_processing(const char *bos, int bos_id)
{
    cJSON *tp = cJSON_CreateObject();
    cJSON_AddStringToObject(tp, "type", "TemplateProcessing");
    cJSON *single = cJSON_AddArrayToObject(tp, "single");
    cJSON_AddItemToArray(single, piece_ref("SpecialToken", bos, 0));
    cJSON_AddItemToArray(single, piece_ref("Sequence", "A", 0));
    cJSON *pair = cJSON_AddArrayToObject(tp, "pair");
    cJSON_AddItemToArray(pair, piece_ref("SpecialToken", bos, 0));
    cJSON_AddItemToArray(pair, piece_ref("Sequence", "A", 0));
    cJSON_AddItemToArray(pair, piece_ref("SpecialToken", bos, 1));
    cJSON_AddItemToArray(pair, piece_ref("Sequence", "B", 1));
    cJSON *st = cJSON_AddObjectToObject(cJSON_AddObjectToObject(tp, "special_tokens"), bos);
    cJSON_AddStringToObject(st, "id", bos);
    cJSON_AddItemToObject(st, "ids", cJSON_CreateIntArray(&bos_id, 1));
    cJSON_AddItemToObject(st, "tokens", cJSON_CreateStringArray(&bos, 1));
    return tp;
}

/* ByteLevel, then BOS before each sequence when there is a BOS. */
static cJSON *post_processor(const herd_tokenizer *t)
{
    int bos_id = herd_tokenizer_bos(t);
    const char *bos = bos_id >= 0 ? herd_token_piece(t, bos_id) : NULL;
    cJSON *bl = cJSON_Parse(byte_level_post);
    if (!bos || !*bos)
        return bl;
    cJSON *seq = cJSON_CreateObject();
    cJSON_AddStringToObject(seq, "type", "Sequence");
    cJSON *procs = cJSON_AddArrayToObject(seq, "processors");
    cJSON_AddItemToArray(procs, bl);
    cJSON_AddItemToArray(procs, template_processing(bos, bos_id));
    return seq;
}

static cJSON *model(const herd_tokenizer *t)
{
    cJSON *m = cJSON_Parse(model_head), *v = vocab(t), *mg = v ? merges(t) : NULL;
    if (!m || !v || !mg) {
        cJSON_Delete(m);
        cJSON_Delete(v);
        cJSON_Delete(mg);
        return NULL;
    }
    cJSON_AddBoolToObject(m, "ignore_merges", t->bpe->ignore_merges);
    cJSON_AddItemToObject(m, "vocab", v);
    cJSON_AddItemToObject(m, "merges", mg);
    return m;
}

herd_status herd_hf_write_tokenizer_json(const herd_tokenizer *t, const char *dir)
{
    if (herd_tokenizer_kind(t) != HERD_TOK_BYTE_BPE)
        return herd_fail(HERD_E_ARG, "tokenizer.json: not a byte-level BPE tokenizer");
    cJSON *j = cJSON_Parse(pipeline), *m = model(t);
    cJSON *split = cJSON_GetArrayItem(
        cJSON_GetObjectItem(cJSON_GetObjectItem(j, "pre_tokenizer"), "pretokenizers"), 0);
    cJSON *re = cJSON_GetObjectItem(cJSON_GetObjectItem(split, "pattern"), "Regex");
    herd_status s = HERD_OK;
    if (!j || !m || !re || !cJSON_SetValuestring(re, HERD_LLAMA3_PATTERN)) {
        s = herd_fail(HERD_E_NOMEM, "tokenizer.json: out of memory");
        cJSON_Delete(m);
    } else {
        cJSON_AddItemToObject(j, "added_tokens", added_tokens(t));
        cJSON_AddItemToObject(j, "post_processor", post_processor(t));
        cJSON_AddItemToObject(j, "model", m);
        s = herd_hf_write_json(dir, "tokenizer.json", j, 1);
    }
    cJSON_Delete(j);
    return s;
}

/* The tokenizer of a GGUF file (tokenizer.ggml.*): SentencePiece for model
 * "llama", Llama 3's byte-level BPE for model "gpt2" (tokens in GPT-2
 * spelling, token_type telling special tokens, merges). */
#include "formats/gguf.h"
#include "base/error.h"
#include "tokenizer/tokenizer.h"
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* An optional numeric array of n elements (NULL when absent). */
static herd_status opt_array(const herd_gguf *g, const char *key, uint64_t n,
                             const herd_gguf_kv **out)
{
    *out = NULL;
    herd_gguf_lookup r = herd_gguf_get_array(g, key, -1, out);
    if (r == HERD_GGUF_MISSING)
        return HERD_OK;
    if (r == HERD_GGUF_WRONG_TYPE || (*out)->arr_type == HERD_GGUF_STRING ||
        (*out)->arr_type == HERD_GGUF_ARRAY || (*out)->arr_type == HERD_GGUF_BOOL)
        return herd_fail(HERD_E_FORMAT, "%s: %s is not an array of numbers", g->path, key);
    if ((*out)->arr_n != n)
        return herd_fail(HERD_E_FORMAT, "%s: %s has %llu entries for %llu tokens", g->path,
                         key, (unsigned long long)(*out)->arr_n, (unsigned long long)n);
    return HERD_OK;
}

/* A token id key: def when absent (or -1 when def is out of range). */
static herd_status token_id(const herd_gguf *g, const char *key, int def, int n, int *out)
{
    int64_t v;
    herd_gguf_lookup r = herd_gguf_get_int(g, key, &v);
    if (r == HERD_GGUF_MISSING) {
        *out = def < n ? def : -1;
        return HERD_OK;
    }
    if (r == HERD_GGUF_WRONG_TYPE || v < 0 || v >= n)
        return herd_fail(HERD_E_FORMAT, "%s: %s is not a token id below %d", g->path, key, n);
    *out = (int)v;
    return HERD_OK;
}

typedef struct {
    const char **pieces;
    size_t *lens;
    float *scores;
    int *types;
} vocab_arrays;

static herd_status fill_vocab(const herd_gguf *g, const herd_gguf_kv *tokens, int n,
                              vocab_arrays *v)
{
    const herd_gguf_kv *scores, *types;
    HERD_TRY(opt_array(g, "tokenizer.ggml.scores", (uint64_t)n, &scores));
    HERD_TRY(opt_array(g, "tokenizer.ggml.token_type", (uint64_t)n, &types));
    v->pieces = malloc((size_t)n * sizeof *v->pieces);
    v->lens = malloc((size_t)n * sizeof *v->lens);
    v->scores = malloc((size_t)n * sizeof *v->scores);
    v->types = types ? malloc((size_t)n * sizeof *v->types) : NULL;
    if (!v->pieces || !v->lens || !v->scores || (types && !v->types))
        return herd_fail(HERD_E_NOMEM, "%s: out of memory", g->path);
    herd_gguf_arr_strings(tokens, v->pieces, v->lens);
    for (int i = 0; i < n; i++) {
        v->scores[i] = scores ? (float)herd_gguf_arr_float(scores, (uint64_t)i) : 0.0f;
        if (!types)
            continue;
        int64_t t = herd_gguf_arr_int(types, (uint64_t)i);
        if (t < HERD_PIECE_NORMAL || t > HERD_PIECE_BYTE)
            return herd_fail(HERD_E_FORMAT, "%s: token %d has unknown type %lld", g->path,
                             i, (long long)t);
        v->types[i] = (int)t;
    }
    return HERD_OK;
}

static herd_status build_spm(const herd_gguf *g, const herd_gguf_kv *tokens, herd_model *m)
{
    if (tokens->arr_n < 1 || tokens->arr_n > INT_MAX)
        return herd_fail(HERD_E_FORMAT, "%s: tokenizer.ggml.tokens has %llu entries",
                         g->path, (unsigned long long)tokens->arr_n);
    int n = (int)tokens->arr_n, bos, eos, unk, add_space = 1;
    /* SentencePiece's own defaults when a file leaves the ids out. */
    HERD_TRY(token_id(g, "tokenizer.ggml.bos_token_id", 1, n, &bos));
    HERD_TRY(token_id(g, "tokenizer.ggml.eos_token_id", 2, n, &eos));
    HERD_TRY(token_id(g, "tokenizer.ggml.unknown_token_id", 0, n, &unk));
    if (herd_gguf_get_bool(g, "tokenizer.ggml.add_space_prefix", &add_space) ==
        HERD_GGUF_WRONG_TYPE)
        return herd_fail(HERD_E_FORMAT, "%s: tokenizer.ggml.add_space_prefix is not a bool",
                         g->path);
    vocab_arrays v = {0};
    herd_status s = fill_vocab(g, tokens, n, &v);
    if (s == HERD_OK) {
        s = herd_spm_from_vocab(n, v.pieces, v.lens, v.scores, v.types, bos, eos, unk,
                                add_space, &m->tok);
        if (s != HERD_OK)
            s = herd_fail_prefix(s, "%s", g->path);
    }
    free(v.pieces);
    free(v.lens);
    free(v.scores);
    free(v.types);
    return s;
}

/* The merges, as "a b" strings. */
static herd_status gpt2_merges(const herd_gguf *g, const herd_gguf_kv **merges)
{
    herd_gguf_lookup r = herd_gguf_get_array(g, "tokenizer.ggml.merges", HERD_GGUF_STRING, merges);
    if (r != HERD_GGUF_FOUND)
        return herd_fail(HERD_E_FORMAT, "%s: tokenizer.ggml.merges is %s", g->path,
                         r == HERD_GGUF_MISSING ? "missing" : "not an array of strings");
    if ((*merges)->arr_n > INT_MAX)
        return herd_fail(HERD_E_FORMAT, "%s: %llu merges", g->path,
                         (unsigned long long)(*merges)->arr_n);
    return HERD_OK;
}

/* Only Llama 3's pre-tokenizer is known ("default" would be GPT-2's regex). */
static herd_status gpt2_pre(const herd_gguf *g)
{
    herd_gguf_str pre;
    herd_gguf_lookup r = herd_gguf_get_str(g, "tokenizer.ggml.pre", &pre);
    if (r == HERD_GGUF_MISSING)
        return HERD_OK;
    if (r == HERD_GGUF_WRONG_TYPE)
        return herd_fail(HERD_E_FORMAT, "%s: tokenizer.ggml.pre is not a string", g->path);
    if (herd_gguf_str_eq(pre, "llama-bpe") || herd_gguf_str_eq(pre, "llama3") ||
        herd_gguf_str_eq(pre, "llama-v3"))
        return HERD_OK;
    return herd_fail(HERD_E_UNSUPPORTED, "%s: tokenizer.ggml.pre \"%.*s\" is not supported "
                     "(herd knows Llama 3's, \"llama-bpe\")", g->path,
                     (int)(pre.len < 64 ? pre.len : 64), pre.p);
}

static herd_status build_gpt2(const herd_gguf *g, const herd_gguf_kv *tokens, herd_model *m)
{
    if (tokens->arr_n < 1 || tokens->arr_n > INT_MAX)
        return herd_fail(HERD_E_FORMAT, "%s: tokenizer.ggml.tokens has %llu entries",
                         g->path, (unsigned long long)tokens->arr_n);
    int n = (int)tokens->arr_n, bos, eos;
    const herd_gguf_kv *merges;
    HERD_TRY(gpt2_pre(g));
    HERD_TRY(gpt2_merges(g, &merges));
    HERD_TRY(token_id(g, "tokenizer.ggml.bos_token_id", -1, n, &bos));
    HERD_TRY(token_id(g, "tokenizer.ggml.eos_token_id", -1, n, &eos));
    vocab_arrays v = {0};
    int nm = (int)merges->arr_n;
    const char **mp = malloc((size_t)(nm ? nm : 1) * sizeof *mp);
    size_t *ml = malloc((size_t)(nm ? nm : 1) * sizeof *ml);
    herd_status s = mp && ml ? fill_vocab(g, tokens, n, &v)
                             : herd_fail(HERD_E_NOMEM, "%s: out of memory", g->path);
    if (s == HERD_OK) {
        herd_gguf_arr_strings(merges, mp, ml);
        s = herd_bpe_from_vocab(n, v.pieces, v.lens, v.types, nm, mp, ml, bos, eos, &m->tok);
        if (s != HERD_OK)
            s = herd_fail_prefix(s, "%s", g->path);
    }
    free(mp);
    free(ml);
    free(v.pieces);
    free(v.lens);
    free(v.scores);
    free(v.types);
    return s;
}

herd_status herd_gguf_load_tokenizer(const herd_gguf *g, herd_model *m)
{
    herd_gguf_str model;
    herd_gguf_lookup r = herd_gguf_get_str(g, "tokenizer.ggml.model", &model);
    if (r == HERD_GGUF_MISSING)
        return HERD_OK;
    if (r == HERD_GGUF_WRONG_TYPE)
        return herd_fail(HERD_E_FORMAT, "%s: tokenizer.ggml.model is not a string", g->path);
    int gpt2 = herd_gguf_str_eq(model, "gpt2");
    if (!gpt2 && !herd_gguf_str_eq(model, "llama"))
        return HERD_OK; /* other tokenizers: none */
    const herd_gguf_kv *tokens;
    r = herd_gguf_get_array(g, "tokenizer.ggml.tokens", HERD_GGUF_STRING, &tokens);
    if (r != HERD_GGUF_FOUND)
        return herd_fail(HERD_E_FORMAT, "%s: tokenizer.ggml.tokens is %s", g->path,
                         r == HERD_GGUF_MISSING ? "missing" : "not an array of strings");
    return gpt2 ? build_gpt2(g, tokens, m) : build_spm(g, tokens, m);
}

/* A byte BPE tokenizer from a vocabulary in GPT-2 spelling and a list of
 * merges, as GGUF "gpt2" metadata (tokenizer.ggml.tokens, token_type,
 * merges) holds Llama 3's tokenizer. */
#include "tokenizer/bpe.h"
#include "base/error.h"
#include <stdlib.h>
#include <string.h>

/* Decodes the NORMAL tokens from GPT-2 spelling; the others stay as text. */
static herd_status decode_tokens(int n, const char *const *tokens, const size_t *lens,
                                 const int *types, const char **pieces, size_t *plens,
                                 int *ptypes, char *bytes)
{
    size_t used = 0;
    for (int i = 0; i < n; i++) {
        int type = types ? types[i] : HERD_PIECE_NORMAL;
        if (type == HERD_PIECE_BYTE)
            type = HERD_PIECE_NORMAL;
        if (type == HERD_PIECE_UNKNOWN)
            type = HERD_PIECE_CONTROL;
        ptypes[i] = type;
        if (type != HERD_PIECE_NORMAL) {
            pieces[i] = tokens[i];
            plens[i] = lens[i];
            continue;
        }
        int k = herd_gpt2_decode(tokens[i], lens[i], bytes + used);
        if (k <= 0)
            return herd_fail(HERD_E_FORMAT, "vocabulary: token %d is not spelled in GPT-2's "
                             "byte mapping", i);
        pieces[i] = bytes + used;
        plens[i] = (size_t)k;
        used += (size_t)k;
    }
    return HERD_OK;
}

/* The merges "a b" as pairs of ids. */
static herd_status merge_ids(const herd_tokenizer *t, int n, const char *const *merges,
                             const size_t *lens, int32_t *pairs)
{
    char buf[2 * HERD_MAX_PIECE + 8];
    for (int i = 0; i < n; i++) {
        const char *s = merges[i], *sp = memchr(s, ' ', lens[i]);
        size_t an = sp ? (size_t)(sp - s) : 0, bn = sp ? lens[i] - an - 1 : 0;
        if (!sp || memchr(sp + 1, ' ', bn) || an > sizeof buf || bn > sizeof buf)
            return herd_fail(HERD_E_FORMAT, "merges: merge %d is not \"a b\"", i);
        int ka = herd_gpt2_decode(s, an, buf);
        int a = ka > 0 ? herd_piece_find(t, buf, (size_t)ka) : -1;
        int kb = herd_gpt2_decode(sp + 1, bn, buf);
        int b = kb > 0 ? herd_piece_find(t, buf, (size_t)kb) : -1;
        if (a < 0 || b < 0)
            return herd_fail(HERD_E_FORMAT, "merges: merge %d (%.*s) joins something that is "
                             "not a token", i, (int)(lens[i] < 64 ? lens[i] : 64), s);
        pairs[2 * i] = a;
        pairs[2 * i + 1] = b;
    }
    return HERD_OK;
}

static herd_status add_merges(herd_tokenizer *t, int n, const char *const *merges,
                              const size_t *lens)
{
    int32_t *pairs = malloc((size_t)(n ? n : 1) * 2 * sizeof *pairs);
    if (!pairs)
        return herd_fail(HERD_E_NOMEM, "merges: out of memory");
    herd_status s = merge_ids(t, n, merges, lens, pairs);
    if (s == HERD_OK)
        s = herd_bpe_pairs_init(t, pairs, n, "merges");
    free(pairs);
    return s;
}

herd_status herd_bpe_from_vocab(int n, const char *const *tokens, const size_t *lens,
                                const int *types, int n_merges, const char *const *merges,
                                const size_t *merge_lens, int bos, int eos, herd_tokenizer **out)
{
    if (!out || n < 1 || !tokens || !lens || n_merges < 0 || (n_merges && (!merges || !merge_lens)))
        return herd_fail(HERD_E_ARG, "herd_bpe_from_vocab: no vocabulary");
    *out = NULL;
    size_t total = 0;
    for (int i = 0; i < n; i++)
        total += lens[i];
    const char **pieces = malloc((size_t)n * sizeof *pieces);
    size_t *plens = malloc((size_t)n * sizeof *plens);
    int *ptypes = malloc((size_t)n * sizeof *ptypes);
    char *bytes = malloc(total + 1);
    herd_status s = !pieces || !plens || !ptypes || !bytes
                        ? herd_fail(HERD_E_NOMEM, "vocabulary: out of memory")
                        : decode_tokens(n, tokens, lens, types, pieces, plens, ptypes, bytes);
    if (s == HERD_OK) {
        herd_bpe_spec spec = {.n = n, .pieces = pieces, .lens = plens, .types = ptypes,
                              .bos = bos, .eos = eos};
        s = herd_bpe_build(&spec, "vocabulary", out);
    }
    free(pieces);
    free(plens);
    free(ptypes);
    free(bytes);
    if (s == HERD_OK)
        s = add_merges(*out, n_merges, merges, merge_lens);
    if (s != HERD_OK) {
        herd_tokenizer_free(*out);
        *out = NULL;
        return s;
    }
    (*out)->bpe->ignore_merges = 1; /* as llama.cpp does for Llama 3 */
    if (bos < 0)
        (*out)->bos = herd_token_id(*out, "<|begin_of_text|>");
    if (eos < 0)
        (*out)->eos = herd_token_id(*out, "<|end_of_text|>");
    return HERD_OK;
}

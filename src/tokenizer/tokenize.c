/* The public tokenizer calls that depend on the kind: encoding and lookup. */
#include "tokenizer/bpe.h"
#include "base/error.h"
#include <string.h>

herd_status herd_tokenize_ex(const herd_tokenizer *t, const char *text, size_t len,
                             unsigned flags, int *ids, int max, int *n_out)
{
    if (!t || !n_out || (!text && len) || max < 0 || (!ids && max > 0))
        return herd_fail(HERD_E_ARG, "herd_tokenize: bad arguments");
    *n_out = 0;
    if (flags & ~(unsigned)(HERD_TOKENIZE_BOS | HERD_TOKENIZE_EOS | HERD_TOKENIZE_SPECIAL))
        return herd_fail(HERD_E_ARG, "herd_tokenize: unknown flags 0x%x", flags);
    if (t->kind == HERD_TOK_BYTE_BPE)
        return herd_bpe_tokenize(t, text, len, flags, ids, max, n_out);
    return herd_spm_tokenize(t, text, len, !!(flags & HERD_TOKENIZE_BOS),
                             !!(flags & HERD_TOKENIZE_EOS), ids, max, n_out);
}

herd_status herd_tokenize(const herd_tokenizer *t, const char *text, size_t len,
                          int add_bos, int add_eos, int *ids, int max, int *n_out)
{
    unsigned flags = (add_bos ? HERD_TOKENIZE_BOS : 0u) | (add_eos ? HERD_TOKENIZE_EOS : 0u);
    return herd_tokenize_ex(t, text, len, flags, ids, max, n_out);
}

herd_tok_kind herd_tokenizer_kind(const herd_tokenizer *t)
{
    return t ? t->kind : (herd_tok_kind)0;
}

int herd_token_id(const herd_tokenizer *t, const char *piece)
{
    if (!t || !piece)
        return -1;
    size_t n = strlen(piece);
    return n > 0 && n <= HERD_MAX_PIECE ? herd_piece_find(t, piece, n) : -1;
}

/* herd_tokenize_ex for byte BPE: BOS, then the text cut at added tokens
 * (special ones only with HERD_TOKENIZE_SPECIAL), each stretch between them
 * pre-tokenized and merged piece by piece, then EOS. */
#include "tokenizer/bpe.h"
#include "base/error.h"

typedef struct {
    const herd_tokenizer *t;
    const char *text;
    int *ids;
    int max, n;
    herd_bpe_merge_work w;
} encoder;

static void put(void *user, int id)
{
    encoder *e = user;
    if (e->n < e->max)
        e->ids[e->n] = id;
    e->n++;
}

static herd_status on_piece(void *user, size_t start, size_t len, int bad)
{
    encoder *e = user;
    const char *s = e->text + start;
    if (bad) {
        put(e, e->t->byte_id[(unsigned char)s[0]]);
        return HERD_OK;
    }
    return herd_bpe_merge_piece(e->t, s, len, &e->w, put, e);
}

static herd_status encode_text(encoder *e, const char *s, size_t n, int with_control)
{
    for (;;) {
        size_t at, len;
        int id = herd_bpe_special_next(e->t, s, n, with_control, &at, &len);
        e->text = s;
        HERD_TRY(herd_bpe_pretokenize(e->t->bpe, s, id < 0 ? n : at, on_piece, e));
        if (id < 0)
            return HERD_OK;
        put(e, id);
        s += at + len;
        n -= at + len;
    }
}

herd_status herd_bpe_tokenize(const herd_tokenizer *t, const char *text, size_t len,
                              unsigned flags, int *ids, int max, int *n_out)
{
    encoder e = {.t = t, .ids = ids, .max = max};
    if ((flags & HERD_TOKENIZE_BOS) && t->bos >= 0)
        put(&e, t->bos);
    herd_status s = len ? encode_text(&e, text, len, !!(flags & HERD_TOKENIZE_SPECIAL)) : HERD_OK;
    herd_bpe_merge_work_free(&e.w);
    if (s != HERD_OK)
        return s;
    if ((flags & HERD_TOKENIZE_EOS) && t->eos >= 0)
        put(&e, t->eos);
    *n_out = e.n;
    return HERD_OK;
}

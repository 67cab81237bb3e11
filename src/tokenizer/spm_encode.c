/* herd_tokenize for SentencePiece BPE (herd_spm_tokenize, called by the
 * dispatch in tokenize.c): normalize, split into characters
 * (user-defined pieces whole), merge (spm_bpe.c), then map each final
 * symbol to its id, with byte fallback or <unk> for what has no piece.
 *
 * When no mergeable piece holds whitespace after another character (Llama's
 * vocabulary), no merge can cross the start of a word, so the text is merged
 * one word at a time: the same result as merging it whole, in less memory. */
#include "tokenizer/spm.h"
#include "base/error.h"
#include <stdlib.h>
#include <string.h>

typedef struct {
    const herd_tokenizer *t;
    const char *norm;      /* the normalized text */
    int *ids;
    int max, n;
    int last_unk;          /* the last id written was a merged run of unknowns */
    herd_bpe_work w;
} encoder;

static void put(encoder *e, int id)
{
    if (e->n < e->max)
        e->ids[e->n] = id;
    e->n++;
    e->last_unk = 0;
}

/* SentencePiece writes one <unk> for a run of unknown symbols. */
static herd_status put_unk(encoder *e)
{
    if (e->t->unk < 0)
        return herd_fail(HERD_E_UNSUPPORTED,
                         "tokenize: a character has no piece and the vocabulary no <unk>");
    if (!e->last_unk)
        put(e, e->t->unk);
    e->last_unk = 1;
    return HERD_OK;
}

static herd_status put_unknown(encoder *e, const char *s, int len)
{
    if (!e->t->byte_fallback)
        return put_unk(e);
    for (int i = 0; i < len; i++) {
        int id = e->t->byte_id[(unsigned char)s[i]];
        if (id >= 0)
            put(e, id);
        else
            HERD_TRY(put_unk(e));
    }
    return HERD_OK;
}

/* The recorded merge that made the unused piece at (start, len), or NULL. */
static const int32_t *find_unused(const herd_bpe_work *w, int32_t start, int32_t len)
{
    for (int i = w->n_unused - 1; i >= 0; i--)
        if (w->unused[i][0] == start && w->unused[i][1] + w->unused[i][2] == len)
            return w->unused[i];
    return NULL;
}

/* Writes the id of one final symbol; an unused piece is split back into the
 * two symbols it was merged from, as SentencePiece does. */
static herd_status put_symbol(encoder *e, int32_t start, int32_t len)
{
    const herd_tokenizer *t = e->t;
    int id = herd_piece_find(t, e->norm + start, (size_t)len);
    if (id >= 0 && t->type[id] == HERD_PIECE_UNUSED) {
        const int32_t *u = find_unused(&e->w, start, len);
        if (u) {
            int32_t l = u[1], r = u[2];
            HERD_TRY(put_symbol(e, start, l));
            return put_symbol(e, start + l, r);
        }
    }
    if (id < 0 || t->type[id] == HERD_PIECE_UNKNOWN)
        return put_unknown(e, e->norm + start, len);
    put(e, id);
    return HERD_OK;
}

/* Merges the symbols gathered so far and writes their ids. */
static herd_status flush(encoder *e)
{
    if (e->w.n_sym == 0)
        return HERD_OK;
    e->w.n_unused = 0;
    HERD_TRY(herd_bpe_merge(e->t, e->norm, &e->w));
    for (int i = 0; i >= 0; i = e->w.sym[i].next)
        HERD_TRY(put_symbol(e, e->w.sym[i].start, e->w.sym[i].len));
    e->w.n_sym = 0;
    return HERD_OK;
}

/* The length of the first symbol of s: a user-defined piece (longest
 * match), one UTF-8 character, or one bad byte (frozen: it stays alone and
 * falls back to its byte piece). */
static int first_symbol(const herd_tokenizer *t, const char *s, size_t n, int *freeze)
{
    unsigned char c = (unsigned char)s[0];
    *freeze = 1;
    if (t->max_user_len && (t->user_first[c >> 3] >> (c & 7) & 1)) {
        for (int l = n < (size_t)t->max_user_len ? (int)n : t->max_user_len; l > 0; l--) {
            int id = herd_piece_find(t, s, (size_t)l);
            if (id >= 0 && t->type[id] == HERD_PIECE_USER_DEFINED)
                return l;
        }
    }
    int l = herd_utf8_len((const unsigned char *)s, n);
    if (l == 0)
        return 1;
    *freeze = 0;
    return l;
}

static herd_status add_symbol(encoder *e, int32_t start, int32_t len, int freeze)
{
    herd_bpe_work *w = &e->w;
    herd_bpe_sym *s = herd_grow(w->sym, &w->cap_sym, w->n_sym + 1, sizeof *s);
    if (!s)
        return herd_fail(HERD_E_NOMEM, "tokenize: out of memory");
    w->sym = s;
    int i = w->n_sym++;
    s[i] = (herd_bpe_sym){start, len, i - 1, -1, freeze};
    if (i > 0)
        s[i - 1].next = i;
    return HERD_OK;
}

static herd_status encode_text(encoder *e, size_t n)
{
    const herd_tokenizer *t = e->t;
    const char *ws = t->escape_ws ? "\xE2\x96\x81" : " ";
    int wn = t->escape_ws ? 3 : 1, prev_ws = 0;
    for (size_t pos = 0; pos < n;) {
        int freeze, l = first_symbol(t, e->norm + pos, n - pos, &freeze);
        int is_ws = !freeze && l == wn && memcmp(e->norm + pos, ws, (size_t)wn) == 0;
        if (t->word_split && is_ws && !prev_ws)
            HERD_TRY(flush(e));
        HERD_TRY(add_symbol(e, (int32_t)pos, l, freeze));
        prev_ws = is_ws;
        pos += (size_t)l;
    }
    return flush(e);
}

herd_status herd_spm_tokenize(const herd_tokenizer *t, const char *text, size_t len,
                              int add_bos, int add_eos, int *ids, int max, int *n_out)
{
    if (!t || !n_out || (!text && len) || max < 0 || (!ids && max > 0))
        return herd_fail(HERD_E_ARG, "herd_tokenize: bad arguments");
    *n_out = 0;
    encoder e = {.t = t, .ids = ids, .max = max};
    if (add_bos && t->bos >= 0)
        put(&e, t->bos);
    char *norm;
    size_t n;
    HERD_TRY(herd_spm_normalize(t, text, len, &norm, &n));
    e.norm = norm;
    herd_status s = norm ? encode_text(&e, n) : HERD_OK;
    herd_bpe_work_free(&e.w);
    free(norm);
    if (s != HERD_OK)
        return s;
    if (add_eos && t->eos >= 0)
        put(&e, t->eos);
    *n_out = e.n;
    return HERD_OK;
}

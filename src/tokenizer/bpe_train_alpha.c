/* The trainer's alphabet, as SentencePiece picks it: count every character
 * of the text, sort by count (most frequent first, ties by code point) and
 * keep characters until the kept ones cover the coverage fraction of the
 * text. The rest, NUL and bytes that are not UTF-8 become one "rare"
 * symbol that never merges. Then every word is written as symbol ids. */
#include "tokenizer/bpe_train_impl.h"
#include "tokenizer/spm.h"
#include "base/error.h"
#include <stdlib.h>
#include <string.h>

#define N_CP 0x110000

typedef struct {
    uint32_t cp;
    int64_t count;
} bt_char;

static uint32_t decode(const unsigned char *s, int l)
{
    static const unsigned char lead[5] = {0, 0x7F, 0x1F, 0x0F, 0x07};
    uint32_t cp = s[0] & lead[l];
    for (int i = 1; i < l; i++)
        cp = cp << 6 | (s[i] & 0x3F);
    return cp;
}

static int encode(uint32_t cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    int n = cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    for (int i = n - 1; i > 0; i--, cp >>= 6)
        out[i] = (char)(0x80 | (cp & 0x3F));
    out[0] = (char)((n == 2 ? 0xC0 : n == 3 ? 0xE0 : 0xF0) | cp);
    return n;
}

/* The code point of the character at s, or -1 for a bad byte or NUL. */
static int64_t next_char(const char *s, size_t n, int *len)
{
    int l = herd_utf8_len((const unsigned char *)s, n);
    *len = l ? l : 1;
    uint32_t cp = l ? decode((const unsigned char *)s, l) : 0;
    return cp ? (int64_t)cp : -1;
}

static int by_count(const void *x, const void *y)
{
    const bt_char *a = x, *b = y;
    if (a->count != b->count)
        return a->count > b->count ? -1 : 1;
    return a->cp < b->cp ? -1 : a->cp > b->cp;
}

/* Every character's count; index[cp] its place in *out. */
static herd_status count_chars(bt_train *t, const herd_bpe_counter *c, int32_t *index,
                               bt_char **out, int *n_out)
{
    bt_char *ch = NULL;
    int n = 0, cap = 0;
    for (size_t w = 0; w < c->n_words; w++) {
        const char *s = c->bytes + c->words[w].off;
        size_t len = c->words[w].len;
        for (size_t i = 0; i < len;) {
            int l;
            int64_t cp = next_char(s + i, len - i, &l);
            i += (size_t)l;
            t->st.n_chars += c->words[w].count;
            if (cp < 0)
                continue;
            if (index[cp] < 0) {
                bt_char *g = herd_grow(ch, &cap, n + 1, sizeof *ch);
                if (!g) {
                    free(ch);
                    return herd_fail(HERD_E_NOMEM, "train-tokenizer: out of memory");
                }
                ch = g;
                ch[n] = (bt_char){(uint32_t)cp, 0};
                index[cp] = n++;
            }
            ch[index[cp]].count += c->words[w].count;
        }
    }
    *out = ch;
    *n_out = n;
    return HERD_OK;
}

/* Makes symbols of the covered characters; index[cp] becomes a symbol id. */
static herd_status pick(bt_train *t, bt_char *ch, int n, int32_t *index, double coverage)
{
    int64_t total = 0, acc = 0;
    for (int k = 0; k < n; k++)
        total += ch[k].count;
    qsort(ch, (size_t)n, sizeof *ch, by_count);
    int keep = 0;
    while (keep < n && (double)acc / (double)total < coverage)
        acc += ch[keep++].count;
    for (int k = 0; k < n; k++) {
        char b[4];
        uint32_t cp = ch[k].cp;
        int l = encode(cp, b), is_ws = cp == 0x2581;
        int flags = cp >= '0' && cp <= '9' ? BT_DIGIT : 0;
        index[cp] = k < keep ? bt_sym_add(&t->sy, b, l, 1, is_ws, is_ws ? 0 : herd_bpe_script(cp),
                                          flags)
                             : -2;
        if (index[cp] == -1)
            return herd_fail(HERD_E_NOMEM, "train-tokenizer: out of memory");
    }
    t->n_chars = keep;
    t->st.n_alphabet = keep;
    t->st.n_rare = n - keep;
    t->rare = bt_sym_add(&t->sy, "", 0, 1, 0, 0, BT_RARE);
    return t->rare < 0 ? herd_fail(HERD_E_NOMEM, "train-tokenizer: out of memory") : HERD_OK;
}

/* Writes every word as symbols. */
static herd_status fill_words(bt_train *t, const herd_bpe_counter *c, const int32_t *index)
{
    size_t nw = c->n_words;
    t->pool = malloc((c->n_bytes + 1) * sizeof *t->pool);
    t->w_off = malloc((nw + 1) * sizeof *t->w_off);
    t->w_len = malloc((nw + 1) * sizeof *t->w_len);
    t->w_stamp = calloc(nw + 1, sizeof *t->w_stamp);
    t->w_count = malloc((nw + 1) * sizeof *t->w_count);
    if (!t->pool || !t->w_off || !t->w_len || !t->w_stamp || !t->w_count)
        return herd_fail(HERD_E_NOMEM, "train-tokenizer: out of memory for %zu words", nw);
    size_t at = 0;
    for (size_t w = 0; w < nw; w++) {
        const char *s = c->bytes + c->words[w].off;
        size_t len = c->words[w].len;
        t->w_off[w] = at;
        for (size_t i = 0; i < len;) {
            int l;
            int64_t cp = next_char(s + i, len - i, &l);
            i += (size_t)l;
            t->pool[at++] = cp < 0 || index[cp] < 0 ? t->rare : index[cp];
        }
        t->w_len[w] = (int32_t)(at - t->w_off[w]);
        t->w_count[w] = c->words[w].count;
    }
    t->n_words = nw;
    t->st.n_words = nw;
    t->st.n_lines = c->n_lines;
    return HERD_OK;
}

herd_status bt_alphabet(bt_train *t, const herd_bpe_counter *c, double coverage)
{
    int32_t *index = malloc(N_CP * sizeof *index);
    if (!index)
        return herd_fail(HERD_E_NOMEM, "train-tokenizer: out of memory");
    memset(index, 0xFF, N_CP * sizeof *index);
    bt_char *ch = NULL;
    int n = 0;
    herd_status s = count_chars(t, c, index, &ch, &n);
    if (s == HERD_OK && n == 0)
        s = herd_fail(HERD_E_ARG, "train-tokenizer: the text has no characters to learn from");
    if (s == HERD_OK)
        s = pick(t, ch, n, index, coverage);
    if (s == HERD_OK)
        s = fill_words(t, c, index);
    free(ch);
    free(index);
    return s;
}

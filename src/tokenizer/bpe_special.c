/* Added tokens in text: special (CONTROL) tokens such as "<|eot_id|>", found
 * only when the caller asks, and USER_DEFINED ones, always found. The
 * leftmost match wins, and of those the longest, as Hugging Face's added
 * vocabulary matches them. */
#include "tokenizer/bpe.h"
#include "base/error.h"
#include <stdlib.h>
#include <string.h>

static uint32_t bytes_hash(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h;
}

static int is_added(const herd_tokenizer *t, int id)
{
    return t->len[id] > 0 &&
           (t->type[id] == HERD_PIECE_CONTROL || t->type[id] == HERD_PIECE_USER_DEFINED);
}

/* The added token with these bytes, -1 when none. */
static int find(const herd_tokenizer *t, const char *s, size_t n)
{
    const herd_bpe_special *sp = &t->bpe->special;
    for (uint32_t i = bytes_hash(s, n) & sp->mask;; i = (i + 1) & sp->mask) {
        int32_t v = sp->slots[i];
        if (v == 0)
            return -1;
        int id = v - 1;
        if (t->len[id] == n && memcmp(t->blob + t->off[id], s, n) == 0)
            return id;
    }
}

herd_status herd_bpe_special_init(herd_tokenizer *t, const char *what)
{
    herd_bpe_special *sp = &t->bpe->special;
    uint32_t cap = 16;
    for (int id = 0; id < t->n_vocab; id++)
        sp->n += is_added(t, id);
    while (cap < 2u * (uint32_t)sp->n)
        cap *= 2;
    sp->slots = calloc(cap, sizeof *sp->slots);
    if (!sp->slots)
        return herd_fail(HERD_E_NOMEM, "%s: out of memory", what);
    sp->mask = cap - 1;
    int has_len[HERD_MAX_PIECE + 1] = {0};
    for (int id = 0; id < t->n_vocab; id++) {
        if (!is_added(t, id) || find(t, t->blob + t->off[id], t->len[id]) >= 0)
            continue; /* a repeat keeps the first id */
        const char *p = t->blob + t->off[id];
        uint32_t i = bytes_hash(p, t->len[id]) & sp->mask;
        while (sp->slots[i])
            i = (i + 1) & sp->mask;
        sp->slots[i] = id + 1;
        sp->n_always += t->type[id] == HERD_PIECE_USER_DEFINED;
        sp->first[(unsigned char)p[0] >> 3] |= (uint8_t)(1u << (p[0] & 7));
        has_len[t->len[id]] = 1;
    }
    for (int l = HERD_MAX_PIECE; l > 0; l--)
        if (has_len[l])
            sp->lens[sp->n_lens++] = l;
    return HERD_OK;
}

int herd_bpe_special_next(const herd_tokenizer *t, const char *s, size_t n, int with_control,
                          size_t *at, size_t *len)
{
    const herd_bpe_special *sp = &t->bpe->special;
    if (sp->n == 0 || (!with_control && sp->n_always == 0))
        return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(sp->first[c >> 3] >> (c & 7) & 1))
            continue;
        for (int k = 0; k < sp->n_lens; k++) {
            size_t l = (size_t)sp->lens[k];
            if (l > n - i)
                continue;
            int id = find(t, s + i, l);
            if (id >= 0 && (with_control || t->type[id] == HERD_PIECE_USER_DEFINED)) {
                *at = i;
                *len = l;
                return id;
            }
        }
    }
    return -1;
}

/* The merges list of a byte-level BPE tokenizer, for the writers of GGUF
 * "gpt2" metadata and tokenizer.json. A tokenizer built from a list keeps it
 * as a hash of pairs with their ranks: sorted back by rank. Meta's tiktoken
 * rank file has no list; it is derived as Hugging Face's
 * TikTokenConverter.extract_vocab_merges_from_model does: for each token in
 * rank order, every way to cut it into two tokens, those cuts ordered by the
 * ranks of their left then right parts. Merging by that list is tiktoken's
 * merging (a pair merges when the joined bytes are a token, lowest rank
 * first). */
#include "formats/convert.h"
#include "tokenizer/bpe.h"
#include "base/error.h"
#include <stdlib.h>
#include <string.h>

typedef struct {
    int32_t *v;      /* pairs, two ids each */
    int n, cap;
} pair_list;

static int push(pair_list *p, int32_t l, int32_t r)
{
    if (p->n == p->cap) {
        int cap = p->cap ? p->cap * 2 : 4096;
        int32_t *v = realloc(p->v, (size_t)cap * 2 * sizeof *v);
        if (!v)
            return -1;
        p->v = v;
        p->cap = cap;
    }
    p->v[2 * p->n] = l;
    p->v[2 * p->n + 1] = r;
    p->n++;
    return 0;
}

typedef struct {
    uint32_t rank;
    int32_t l, r;
} ranked;

static int by_rank(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    return (x->rank > y->rank) - (x->rank < y->rank);
}

static herd_status from_pairs(const struct herd_bpe *b, pair_list *out)
{
    size_t cap = (size_t)b->pair_mask + 1, n = 0;
    ranked *v = malloc(cap * sizeof *v);
    if (!v)
        return herd_fail(HERD_E_NOMEM, "merges: out of memory");
    for (size_t i = 0; i < cap; i++) {
        const herd_bpe_pair_slot *s = &b->pairs[i];
        if (s->key)
            v[n++] = (ranked){s->rank, (int32_t)(s->key >> 32) - 1,
                              (int32_t)(uint32_t)s->key - 1};
    }
    qsort(v, n, sizeof *v, by_rank);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = push(out, v[i].l, v[i].r);
    free(v);
    return rc ? herd_fail(HERD_E_NOMEM, "merges: out of memory") : HERD_OK;
}

static int normal_token(const herd_tokenizer *t, const char *s, size_t n)
{
    int id = herd_piece_find(t, s, n);
    return id >= 0 && t->type[id] == HERD_PIECE_NORMAL ? id : -1;
}

/* Every cut of token id into two tokens, by the ranks (ids) of the parts. */
static int cuts(const herd_tokenizer *t, int id, pair_list *out)
{
    const char *s = t->blob + t->off[id];
    size_t n = t->len[id];
    int32_t found[HERD_MAX_PIECE][2];
    int k = 0;
    for (size_t at = 1; at < n; at++) {
        int l = normal_token(t, s, at), r = l < 0 ? -1 : normal_token(t, s + at, n - at);
        if (r >= 0) {
            int j = k++;
            for (; j > 0 && (found[j - 1][0] > l || (found[j - 1][0] == l && found[j - 1][1] > r));
                 j--) {
                found[j][0] = found[j - 1][0];
                found[j][1] = found[j - 1][1];
            }
            found[j][0] = l;
            found[j][1] = r;
        }
    }
    for (int j = 0; j < k; j++)
        if (push(out, found[j][0], found[j][1]))
            return -1;
    return 0;
}

static herd_status from_ranks(const herd_tokenizer *t, pair_list *out)
{
    for (int id = 0; id < t->n_vocab; id++)
        if (t->type[id] == HERD_PIECE_NORMAL && t->len[id] >= 2 && cuts(t, id, out))
            return herd_fail(HERD_E_NOMEM, "merges: out of memory");
    return HERD_OK;
}

herd_status herd_bpe_merge_list(const herd_tokenizer *t, int32_t **pairs, int *n)
{
    *pairs = NULL;
    *n = 0;
    if (!t || t->kind != HERD_TOK_BYTE_BPE || !t->bpe)
        return herd_fail(HERD_E_ARG, "merges: not a byte-level BPE tokenizer");
    pair_list p = {0};
    herd_status s = t->bpe->pairs ? from_pairs(t->bpe, &p) : from_ranks(t, &p);
    if (s != HERD_OK) {
        free(p.v);
        return s;
    }
    *pairs = p.v;
    *n = p.n;
    return HERD_OK;
}

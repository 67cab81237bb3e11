/* The BPE of one pre-tokenized piece: start from its bytes, repeatedly merge
 * the adjacent pair of lowest rank (leftmost on ties) until none is left.
 * Symbols form a linked list indexed by their first byte; candidate merges
 * wait in a min-heap and are checked when popped (a neighbour may have
 * changed since), as Hugging Face's BPE does: O(n log n) for a piece of n
 * bytes, so a megabyte-long word is no trap. */
#include "tokenizer/bpe.h"
#include "base/error.h"
#include <stdlib.h>
#include <string.h>

struct herd_bpe_msym {
    int32_t id, len;       /* len 0: merged into its left neighbour */
    int32_t prev, next;    /* -1 at the ends */
};

struct herd_bpe_mcand {
    uint32_t rank;
    int32_t pos;           /* the left symbol */
    int32_t left, right;   /* their ids when pushed */
    int32_t id;            /* the merged token */
};

static uint32_t pair_hash(uint64_t key, uint32_t mask)
{
    return (uint32_t)((key * 0x9E3779B97F4A7C15ull) >> 32) & mask;
}

static uint64_t pair_key(int32_t l, int32_t r)
{
    return ((uint64_t)(uint32_t)(l + 1) << 32) | (uint32_t)(r + 1);
}

/* A later duplicate of a pair takes its place, as Hugging Face's map does. */
static void pair_put(struct herd_bpe *b, int32_t l, int32_t r, uint32_t rank, int32_t id)
{
    uint64_t key = pair_key(l, r);
    for (uint32_t i = pair_hash(key, b->pair_mask);; i = (i + 1) & b->pair_mask) {
        herd_bpe_pair_slot *p = &b->pairs[i];
        if (p->key == 0 || p->key == key) {
            *p = (herd_bpe_pair_slot){key, rank, id};
            return;
        }
    }
}

herd_status herd_bpe_pairs_init(herd_tokenizer *t, const int32_t *merges, int n,
                                const char *what)
{
    struct herd_bpe *b = t->bpe;
    uint32_t cap = 16;
    while (cap < 2u * (uint32_t)n)
        cap *= 2;
    b->pairs = calloc(cap, sizeof *b->pairs);
    if (!b->pairs)
        return herd_fail(HERD_E_NOMEM, "%s: out of memory for %d merges", what, n);
    b->pair_mask = cap - 1;
    b->n_merges = n;
    char buf[2 * HERD_MAX_PIECE];
    for (int i = 0; i < n; i++) {
        int32_t l = merges[2 * i], r = merges[2 * i + 1];
        if (l < 0 || l >= t->n_vocab || r < 0 || r >= t->n_vocab ||
            t->type[l] != HERD_PIECE_NORMAL || t->type[r] != HERD_PIECE_NORMAL)
            return herd_fail(HERD_E_FORMAT, "%s: merge %d joins something that is not a token",
                             what, i);
        memcpy(buf, t->blob + t->off[l], t->len[l]);
        memcpy(buf + t->len[l], t->blob + t->off[r], t->len[r]);
        int id = herd_piece_find(t, buf, t->len[l] + t->len[r]);
        if (id < 0 || t->type[id] != HERD_PIECE_NORMAL)
            return herd_fail(HERD_E_FORMAT, "%s: merge %d makes a token the vocabulary lacks",
                             what, i);
        pair_put(b, l, r, (uint32_t)i, id);
    }
    return HERD_OK;
}

/* The rank and result of merging symbols a and b of piece s; 0 when they
 * do not merge. */
static int pair_rank(const herd_tokenizer *t, const char *s, const struct herd_bpe_msym *sym,
                     int32_t a, int32_t c, uint32_t *rank, int32_t *id)
{
    const struct herd_bpe *b = t->bpe;
    if (b->pairs) {
        uint64_t key = pair_key(sym[a].id, sym[c].id);
        for (uint32_t i = pair_hash(key, b->pair_mask);; i = (i + 1) & b->pair_mask) {
            const herd_bpe_pair_slot *p = &b->pairs[i];
            if (p->key == 0)
                return 0;
            if (p->key == key) {
                *rank = p->rank;
                *id = p->id;
                return 1;
            }
        }
    }
    int m = herd_piece_find(t, s + a, (size_t)(sym[a].len + sym[c].len));
    if (m < 0 || t->type[m] != HERD_PIECE_NORMAL)
        return 0;
    *rank = (uint32_t)m; /* tiktoken: a token's rank is its id */
    *id = m;
    return 1;
}

static int cand_less(const struct herd_bpe_mcand *x, const struct herd_bpe_mcand *y)
{
    return x->rank < y->rank || (x->rank == y->rank && x->pos < y->pos);
}

static herd_status push(herd_bpe_merge_work *w, struct herd_bpe_mcand c)
{
    struct herd_bpe_mcand *h = herd_grow(w->heap, &w->cap_heap, w->n_heap + 1, sizeof *h);
    if (!h)
        return herd_fail(HERD_E_NOMEM, "tokenize: out of memory");
    w->heap = h;
    int i = w->n_heap++;
    for (; i > 0 && cand_less(&c, &h[(i - 1) / 2]); i = (i - 1) / 2)
        h[i] = h[(i - 1) / 2];
    h[i] = c;
    return HERD_OK;
}

static struct herd_bpe_mcand pop(herd_bpe_merge_work *w)
{
    struct herd_bpe_mcand *h = w->heap, top = h[0], last = h[--w->n_heap];
    int i = 0, n = w->n_heap;
    for (;;) {
        int k = 2 * i + 1;
        if (k >= n)
            break;
        if (k + 1 < n && cand_less(&h[k + 1], &h[k]))
            k++;
        if (!cand_less(&h[k], &last))
            break;
        h[i] = h[k];
        i = k;
    }
    if (n > 0)
        h[i] = last;
    return top;
}

/* Pushes the merge of symbol a with its right neighbour, when there is one. */
static herd_status consider(const herd_tokenizer *t, const char *s, herd_bpe_merge_work *w,
                            int32_t a)
{
    int32_t c = a < 0 ? -1 : w->sym[a].next;
    uint32_t rank;
    int32_t id;
    if (c < 0 || !pair_rank(t, s, w->sym, a, c, &rank, &id))
        return HERD_OK;
    return push(w, (struct herd_bpe_mcand){rank, a, w->sym[a].id, w->sym[c].id, id});
}

static herd_status merge_all(const herd_tokenizer *t, const char *s, int32_t n,
                             herd_bpe_merge_work *w)
{
    struct herd_bpe_msym *sym = w->sym;
    for (int32_t i = 0; i < n; i++) {
        sym[i] = (struct herd_bpe_msym){t->byte_id[(unsigned char)s[i]], 1, i - 1,
                                        i + 1 < n ? i + 1 : -1};
        if (sym[i].id < 0)
            return herd_fail(HERD_E_UNSUPPORTED, "tokenize: no token for byte 0x%02X",
                             (unsigned char)s[i]);
    }
    w->n_heap = 0;
    for (int32_t i = 0; i + 1 < n; i++)
        HERD_TRY(consider(t, s, w, i));
    while (w->n_heap > 0) {
        struct herd_bpe_mcand c = pop(w);
        struct herd_bpe_msym *a = &sym[c.pos];
        if (a->len == 0 || a->id != c.left || a->next < 0 || sym[a->next].id != c.right)
            continue; /* stale: a neighbour changed since it was pushed */
        struct herd_bpe_msym *r = &sym[a->next];
        a->id = c.id;
        a->len += r->len;
        r->len = 0;
        a->next = r->next;
        if (a->next >= 0)
            sym[a->next].prev = c.pos;
        HERD_TRY(consider(t, s, w, a->prev));
        HERD_TRY(consider(t, s, w, c.pos));
    }
    return HERD_OK;
}

herd_status herd_bpe_merge_piece(const herd_tokenizer *t, const char *s, size_t n,
                                 herd_bpe_merge_work *w, herd_bpe_put_fn put, void *user)
{
    if (n == 0)
        return HERD_OK;
    if (n == 1 || (t->bpe->ignore_merges && n <= HERD_MAX_PIECE)) {
        int id = n == 1 ? t->byte_id[(unsigned char)s[0]] : herd_piece_find(t, s, n);
        if (id >= 0 && t->type[id] == HERD_PIECE_NORMAL) {
            put(user, id);
            return HERD_OK;
        }
    }
    if (n > INT32_MAX / 2)
        return herd_fail(HERD_E_UNSUPPORTED, "tokenize: a piece of %zu bytes is too long", n);
    struct herd_bpe_msym *sym = herd_grow(w->sym, &w->cap_sym, (int)n, sizeof *sym);
    if (!sym)
        return herd_fail(HERD_E_NOMEM, "tokenize: out of memory");
    w->sym = sym;
    HERD_TRY(merge_all(t, s, (int32_t)n, w));
    for (int32_t i = 0; i >= 0; i = w->sym[i].next)
        put(user, w->sym[i].id);
    return HERD_OK;
}

void herd_bpe_merge_work_free(herd_bpe_merge_work *w)
{
    free(w->sym);
    free(w->heap);
    memset(w, 0, sizeof *w);
}

/* The trainer's pairs of adjacent symbols: a hash map from (left, right) to
 * the pair's count and the words it occurs in, and a max-heap of counts
 * with lazy deletion. After each merge every pair whose count changed is
 * pushed again with its new count; an entry whose count is no longer the
 * pair's is stale and dropped when it comes to the top. */
#include "tokenizer/bpe_train_impl.h"
#include <stdlib.h>
#include <string.h>

static uint32_t pair_hash(int32_t a, int32_t b)
{
    uint64_t k = ((uint64_t)(uint32_t)a << 32 | (uint32_t)b) * 0x9E3779B97F4A7C15ull;
    return (uint32_t)(k >> 32);
}

int bt_pair_find(const bt_pairs *pp, int32_t a, int32_t b)
{
    if (!pp->slots)
        return -1;
    for (uint32_t i = pair_hash(a, b) & pp->mask;; i = (i + 1) & pp->mask) {
        uint32_t v = pp->slots[i];
        if (!v)
            return -1;
        const bt_pair *p = &pp->p[v - 1];
        if (p->a == a && p->b == b)
            return (int)v - 1;
    }
}

static int grow_map(bt_pairs *pp)
{
    uint32_t n = pp->slots ? (pp->mask + 1) * 2 : 1 << 16;
    uint32_t *s = calloc(n, sizeof *s);
    if (!s)
        return 0;
    for (int k = 0; k < pp->n; k++) {
        uint32_t i = pair_hash(pp->p[k].a, pp->p[k].b) & (n - 1);
        while (s[i])
            i = (i + 1) & (n - 1);
        s[i] = (uint32_t)k + 1;
    }
    free(pp->slots);
    pp->slots = s;
    pp->mask = n - 1;
    return 1;
}

int bt_pair_get(bt_pairs *pp, int32_t a, int32_t b)
{
    int k = bt_pair_find(pp, a, b);
    if (k >= 0)
        return k;
    if (pp->n >= INT32_MAX / 2)
        return -1;
    if ((!pp->slots || (uint32_t)(pp->n + 1) * 2 > pp->mask) && !grow_map(pp))
        return -1;
    if (pp->n == pp->cap) {
        int cap = pp->cap ? pp->cap * 2 : 1 << 14;
        bt_pair *p = realloc(pp->p, (size_t)cap * sizeof *p);
        if (!p)
            return -1;
        pp->p = p;
        pp->cap = cap;
    }
    k = pp->n++;
    pp->p[k] = (bt_pair){.a = a, .b = b, .stamp = -1};
    uint32_t i = pair_hash(a, b) & pp->mask;
    while (pp->slots[i])
        i = (i + 1) & pp->mask;
    pp->slots[i] = (uint32_t)k + 1;
    return k;
}

/* Entry x comes out of the heap before y. */
static int before(const bt_pairs *pp, bt_entry x, bt_entry y)
{
    if (x.count != y.count)
        return x.count > y.count;
    const bt_pair *p = &pp->p[x.pair], *q = &pp->p[y.pair];
    return p->a != q->a ? p->a < q->a : p->b < q->b;
}

static void sift_down(bt_pairs *pp, size_t i)
{
    bt_entry *h = pp->heap, e = h[i];
    size_t n = pp->n_heap;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && before(pp, h[c + 1], h[c]))
            c++;
        if (!before(pp, h[c], e))
            break;
        h[i] = h[c];
        i = c;
    }
    h[i] = e;
}

static int push(bt_pairs *pp, bt_entry e)
{
    if (pp->n_heap == pp->cap_heap) {
        size_t cap = pp->cap_heap ? pp->cap_heap * 2 : 1 << 16;
        bt_entry *h = realloc(pp->heap, cap * sizeof *h);
        if (!h)
            return 0;
        pp->heap = h;
        pp->cap_heap = cap;
    }
    size_t i = pp->n_heap++;
    while (i > 0 && before(pp, e, pp->heap[(i - 1) / 2])) {
        pp->heap[i] = pp->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    pp->heap[i] = e;
    return 1;
}

/* Drops the stale entries: one entry per pair with a count, heapified. */
static void rebuild(bt_pairs *pp)
{
    pp->n_heap = 0;
    for (int k = 0; k < pp->n; k++)
        if (pp->p[k].count > 0)
            pp->heap[pp->n_heap++] = (bt_entry){pp->p[k].count, k};
    for (size_t i = pp->n_heap / 2; i-- > 0;)
        sift_down(pp, i);
}

int bt_pairs_flush(bt_pairs *pp)
{
    if (pp->n_heap > 2 * (size_t)pp->n + (1u << 20))
        rebuild(pp);
    for (int t = 0; t < pp->n_touched; t++) {
        const bt_pair *p = &pp->p[pp->touched[t]];
        if (p->count > 0 && !push(pp, (bt_entry){p->count, pp->touched[t]}))
            return 0;
    }
    pp->n_touched = 0;
    return 1;
}

int bt_pairs_best(bt_pairs *pp)
{
    while (pp->n_heap > 0) {
        bt_entry top = pp->heap[0];
        pp->heap[0] = pp->heap[--pp->n_heap];
        if (pp->n_heap > 0)
            sift_down(pp, 0);
        if (top.count > 0 && pp->p[top.pair].count == top.count)
            return top.pair;
    }
    return -1;
}

void bt_pairs_free(bt_pairs *pp)
{
    for (int k = 0; k < pp->n; k++)
        free(pp->p[k].words);
    free(pp->p);
    free(pp->slots);
    free(pp->heap);
    free(pp->touched);
    memset(pp, 0, sizeof *pp);
}

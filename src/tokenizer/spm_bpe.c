/* SentencePiece's BPE: start from characters, and while some adjacent pair
 * spells a piece of the vocabulary, merge the pair whose piece has the
 * highest score (the leftmost among equal scores). A max-heap of candidate
 * pairs with lazy deletion keeps this O(n log n): a popped pair whose sides
 * have changed since it was pushed is stale and skipped. */
#include "tokenizer/spm.h"
#include "base/error.h"
#include <stdlib.h>

void *herd_grow(void *p, int *cap, int need, size_t elem)
{
    if (need <= *cap)
        return p;
    int c = *cap ? *cap : 64;
    while (c < need)
        c = c > (1 << 29) ? need : c * 2;
    void *q = realloc(p, (size_t)c * elem);
    if (q)
        *cap = c;
    return q;
}

/* a comes out of the heap before b. */
static int before(const herd_bpe_pair *a, const herd_bpe_pair *b)
{
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

static int heap_push(herd_bpe_work *w, herd_bpe_pair p)
{
    herd_bpe_pair *h = herd_grow(w->heap, &w->cap_heap, w->n_heap + 1, sizeof *h);
    if (!h)
        return 0;
    w->heap = h;
    int i = w->n_heap++;
    while (i > 0 && before(&p, &w->heap[(i - 1) / 2])) {
        w->heap[i] = w->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    w->heap[i] = p;
    return 1;
}

static herd_bpe_pair heap_pop(herd_bpe_work *w)
{
    herd_bpe_pair top = w->heap[0], last = w->heap[--w->n_heap];
    int i = 0, n = w->n_heap;
    for (;;) {
        int c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && before(&w->heap[c + 1], &w->heap[c]))
            c++;
        if (!before(&w->heap[c], &last))
            break;
        w->heap[i] = w->heap[c];
        i = c;
    }
    if (n > 0)
        w->heap[i] = last;
    return top;
}

/* Pushes the pair (l, r) when their concatenation is a mergeable piece. */
static int try_pair(const herd_tokenizer *t, const char *text, herd_bpe_work *w, int l, int r)
{
    if (l < 0 || r < 0)
        return 1;
    const herd_bpe_sym *a = &w->sym[l], *b = &w->sym[r];
    if (a->freeze || b->freeze)
        return 1;
    int id = herd_piece_find(t, text + a->start, (size_t)(a->len + b->len));
    if (id < 0)
        return 1;
    int ty = t->type[id];
    if (ty != HERD_PIECE_NORMAL && ty != HERD_PIECE_USER_DEFINED && ty != HERD_PIECE_UNUSED)
        return 1;
    herd_bpe_pair p = {t->score[id], l, r, a->len + b->len};
    return heap_push(w, p);
}

/* Remembers how an unused piece was made, so that it can be split again. */
static int note_unused(const herd_tokenizer *t, const char *text, herd_bpe_work *w,
                       const herd_bpe_pair *p)
{
    const herd_bpe_sym *a = &w->sym[p->left];
    int id = herd_piece_find(t, text + a->start, (size_t)p->size);
    if (id < 0 || t->type[id] != HERD_PIECE_UNUSED)
        return 1;
    int32_t(*un)[3] = herd_grow(w->unused, &w->cap_unused, w->n_unused + 1, sizeof *un);
    if (!un)
        return 0;
    w->unused = un;
    int32_t *u = w->unused[w->n_unused++];
    u[0] = a->start;
    u[1] = a->len;
    u[2] = w->sym[p->right].len;
    return 1;
}

static herd_status nomem(void)
{
    return herd_fail(HERD_E_NOMEM, "tokenize: out of memory");
}

herd_status herd_bpe_merge(const herd_tokenizer *t, const char *text, herd_bpe_work *w)
{
    w->n_heap = 0;
    for (int i = 0; i + 1 < w->n_sym; i++)
        if (!try_pair(t, text, w, i, i + 1))
            return nomem();
    while (w->n_heap > 0) {
        herd_bpe_pair p = heap_pop(w);
        herd_bpe_sym *a = &w->sym[p.left], *b = &w->sym[p.right];
        if (a->len == 0 || b->len == 0 || a->next != p.right || a->len + b->len != p.size)
            continue; /* stale */
        if (!note_unused(t, text, w, &p))
            return nomem();
        a->len += b->len;
        a->next = b->next;
        if (b->next >= 0)
            w->sym[b->next].prev = p.left;
        b->len = 0;
        if (!try_pair(t, text, w, a->prev, p.left) || !try_pair(t, text, w, p.left, a->next))
            return nomem();
    }
    return HERD_OK;
}

void herd_bpe_work_free(herd_bpe_work *w)
{
    free(w->sym);
    free(w->heap);
    free(w->unused);
    *w = (herd_bpe_work){0};
}

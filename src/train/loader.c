/* Batches from a token shard: windows of T + 1 tokens with stride T, visited
 * once per epoch in a seeded Fisher-Yates order (or in order), packed B to
 * a batch with a document-start mask (semantics in train/data.h). */
#include "train/data.h"
#include "base/error.h"
#include "base/rng.h"
#include <stdlib.h>
#include <string.h>

struct herd_loader {
    const herd_shard *s;
    int B, T, shuffle;
    uint64_t seed, n_windows;
    herd_loader_pos pos;
    uint64_t *perm;        /* the order of epoch perm_epoch (shuffle only) */
    uint64_t perm_epoch;
    int have_perm;
    int *tokens, *targets; /* herd_loader_batch's buffers */
    uint8_t *doc_start;
};

/* The order of epoch l->pos.epoch (base/rng.h). */
static void make_perm(herd_loader *l)
{
    herd_shuffle_epoch(l->perm, l->n_windows, l->seed, l->pos.epoch);
    l->perm_epoch = l->pos.epoch;
    l->have_perm = 1;
}

herd_status herd_loader_new(const herd_shard *s, int B, int T, uint64_t seed, int shuffle,
                            herd_loader **out)
{
    *out = NULL;
    if (!s || B < 1 || T < 1 || (uint64_t)B * (uint64_t)T > (uint64_t)INT32_MAX)
        return herd_fail(HERD_E_ARG, "loader: bad batch shape B=%d T=%d", B, T);
    uint64_t n_windows = s->n_tokens > 0 ? (s->n_tokens - 1) / (uint64_t)T : 0;
    if (n_windows < (uint64_t)B)
        return herd_fail(HERD_E_ARG, "%s: dataset too small: %llu tokens, need at least %llu "
                         "(%d rows of %d tokens and one more target)",
                         s->path ? s->path : "shard", (unsigned long long)s->n_tokens,
                         (unsigned long long)B * (unsigned long long)T + 1, B, T);
    herd_loader *l = calloc(1, sizeof *l);
    size_t n = (size_t)B * (size_t)T;
    if (!l || (shuffle && !(l->perm = malloc(n_windows * sizeof *l->perm))) ||
        !(l->tokens = malloc(n * sizeof *l->tokens)) ||
        !(l->targets = malloc(n * sizeof *l->targets)) || !(l->doc_start = malloc(n))) {
        herd_loader_free(l);
        return herd_fail(HERD_E_NOMEM, "loader: out of memory");
    }
    l->s = s, l->B = B, l->T = T, l->seed = seed, l->shuffle = !!shuffle;
    l->n_windows = n_windows;
    *out = l;
    return HERD_OK;
}

void herd_loader_free(herd_loader *l)
{
    if (!l)
        return;
    free(l->perm);
    free(l->tokens);
    free(l->targets);
    free(l->doc_start);
    free(l);
}

uint64_t herd_loader_windows(const herd_loader *l)
{
    return l->n_windows;
}

/* Window k into one row. */
static void fill_row(const herd_loader *l, uint64_t k, int *tok, int *tgt, uint8_t *ds)
{
    const herd_shard *s = l->s;
    uint64_t g0 = k * (uint64_t)l->T;
    for (int t = 0; t < l->T; t++) {
        tok[t] = herd_shard_token(s, g0 + (uint64_t)t);
        tgt[t] = herd_shard_token(s, g0 + (uint64_t)t + 1);
    }
    if (!ds)
        return;
    uint64_t d = herd_shard_doc_of(s, g0) + 1; /* the next document to begin */
    uint64_t next = herd_shard_doc_offset(s, d);
    for (int t = 0; t < l->T; t++) {
        ds[t] = t == 0 || g0 + (uint64_t)t == next;
        if (g0 + (uint64_t)t == next && d < s->n_docs)
            next = herd_shard_doc_offset(s, ++d);
    }
}

void herd_loader_next(herd_loader *l, int *tokens, int *targets, uint8_t *doc_start)
{
    size_t T = (size_t)l->T;
    for (int b = 0; b < l->B; b++) {
        if (l->shuffle && (!l->have_perm || l->perm_epoch != l->pos.epoch))
            make_perm(l);
        uint64_t k = l->shuffle ? l->perm[l->pos.index] : l->pos.index;
        fill_row(l, k, tokens + b * T, targets + b * T, doc_start ? doc_start + b * T : NULL);
        if (++l->pos.index == l->n_windows)
            l->pos.epoch++, l->pos.index = 0;
    }
}

void herd_loader_batch(herd_loader *l, herd_batch *b)
{
    herd_loader_next(l, l->tokens, l->targets, l->doc_start);
    b->B = l->B;
    b->T = l->T;
    b->tokens = l->tokens;
    b->targets = l->targets;
    b->doc_start = l->doc_start;
}

herd_loader_pos herd_loader_state(const herd_loader *l)
{
    return l->pos;
}

herd_status herd_loader_set_state(herd_loader *l, herd_loader_pos p)
{
    if (p.index >= l->n_windows)
        return herd_fail(HERD_E_ARG, "loader: position %llu is past the %llu windows of an "
                         "epoch (a different dataset or window size?)",
                         (unsigned long long)p.index, (unsigned long long)l->n_windows);
    l->pos = p;
    return HERD_OK;
}

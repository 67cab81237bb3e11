/* SFT batches: whole examples packed greedily into rows of T tokens, in a
 * seeded Fisher-Yates order per epoch (or in file order), with targets
 * masked to the trained tokens and a document start at each example
 * (semantics in train/sft.h). */
#include "train/sft.h"
#include "base/error.h"
#include "base/rng.h"
#include <stdlib.h>
#include <string.h>

struct herd_sft_loader {
    const herd_sft_set *s;
    int B, T, shuffle;
    uint64_t seed, epoch_rows;
    herd_sft_pos pos;
    uint64_t *perm;        /* the order of epoch perm_epoch (shuffle only) */
    uint64_t perm_epoch;
    int have_perm;
    int *tokens, *targets; /* herd_sft_loader_batch's buffers */
    uint8_t *doc_start;
};

/* The order of epoch l->pos.epoch (base/rng.h), as train/loader.c draws. */
static void make_perm(herd_sft_loader *l)
{
    herd_shuffle_epoch(l->perm, (uint64_t)l->s->n, l->seed, l->pos.epoch);
    l->perm_epoch = l->pos.epoch;
    l->have_perm = 1;
}

static int64_t ex_len(const herd_sft_set *s, uint64_t k)
{
    return s->off[k + 1] - s->off[k];
}

/* Rows of T that examples in file order fill. */
static uint64_t count_rows(const herd_sft_set *s, int T)
{
    uint64_t rows = 0;
    int64_t used = T;
    for (int64_t k = 0; k < s->n; k++) {
        int64_t in = ex_len(s, (uint64_t)k) - 1;
        if (used + in > T)
            rows++, used = 0;
        used += in;
    }
    return rows;
}

static herd_status check_set(const herd_sft_set *s, int T)
{
    for (int64_t k = 0; k < s->n; k++) {
        int64_t n = ex_len(s, (uint64_t)k);
        if (n < 2 || n > (int64_t)T + 1)
            return herd_fail(HERD_E_ARG, "sft loader: example %lld (line %lld) has %lld tokens; "
                             "rows of %d take 2 to %d (load with max_len %d)", (long long)k,
                             s->line ? (long long)s->line[k] : 0LL, (long long)n, T, T + 1,
                             T + 1);
    }
    return HERD_OK;
}

herd_status herd_sft_loader_new(const herd_sft_set *s, int B, int T, uint64_t seed,
                                int shuffle, herd_sft_loader **out)
{
    *out = NULL;
    if (!s || s->n < 1 || !s->off)
        return herd_fail(HERD_E_ARG, "sft loader: no examples");
    if (B < 1 || T < 1 || (uint64_t)B * (uint64_t)T > (uint64_t)INT32_MAX)
        return herd_fail(HERD_E_ARG, "sft loader: bad batch shape B=%d T=%d", B, T);
    HERD_TRY(check_set(s, T));
    herd_sft_loader *l = calloc(1, sizeof *l);
    size_t n = (size_t)B * (size_t)T;
    if (!l || (shuffle && !(l->perm = malloc((size_t)s->n * sizeof *l->perm))) ||
        !(l->tokens = malloc(n * sizeof *l->tokens)) ||
        !(l->targets = malloc(n * sizeof *l->targets)) || !(l->doc_start = malloc(n))) {
        herd_sft_loader_free(l);
        return herd_fail(HERD_E_NOMEM, "sft loader: out of memory");
    }
    l->s = s, l->B = B, l->T = T, l->seed = seed, l->shuffle = !!shuffle;
    l->epoch_rows = count_rows(s, T);
    *out = l;
    return HERD_OK;
}

void herd_sft_loader_free(herd_sft_loader *l)
{
    if (!l)
        return;
    free(l->perm);
    free(l->tokens);
    free(l->targets);
    free(l->doc_start);
    free(l);
}

/* The example the stream gives next, without taking it. */
static uint64_t peek(herd_sft_loader *l)
{
    if (l->shuffle && (!l->have_perm || l->perm_epoch != l->pos.epoch))
        make_perm(l);
    return l->shuffle ? l->perm[l->pos.index] : l->pos.index;
}

static void step(herd_sft_loader *l)
{
    if (++l->pos.index == (uint64_t)l->s->n)
        l->pos.epoch++, l->pos.index = 0;
}

/* Example k's inputs and targets at row position t. */
static void place(const herd_sft_set *s, uint64_t k, int *tok, int *tgt, uint8_t *ds)
{
    const int *ids = s->ids + s->off[k];
    const uint8_t *tr = s->trained + s->off[k];
    int n = (int)ex_len(s, k) - 1;
    for (int j = 0; j < n; j++) {
        tok[j] = ids[j];
        tgt[j] = tr[j + 1] ? ids[j + 1] : -1;
        ds[j] = j == 0;
    }
}

static void fill_row(herd_sft_loader *l, int *tok, int *tgt, uint8_t *ds)
{
    int t = 0;
    for (;;) {
        uint64_t k = peek(l);
        int in = (int)ex_len(l->s, k) - 1;
        if (t + in > l->T)
            break;
        step(l);
        place(l->s, k, tok + t, tgt + t, ds + t);
        t += in;
        if (t == l->T)
            break;
    }
    for (int j = t; j < l->T; j++) {
        tok[j] = 0;
        tgt[j] = -1;
        ds[j] = j == t;
    }
}

void herd_sft_loader_next(herd_sft_loader *l, int *tokens, int *targets, uint8_t *doc_start)
{
    size_t T = (size_t)l->T;
    for (int b = 0; b < l->B; b++)
        fill_row(l, tokens + b * T, targets + b * T, doc_start + b * T);
}

void herd_sft_loader_batch(herd_sft_loader *l, herd_batch *b)
{
    herd_sft_loader_next(l, l->tokens, l->targets, l->doc_start);
    b->B = l->B;
    b->T = l->T;
    b->tokens = l->tokens;
    b->targets = l->targets;
    b->doc_start = l->doc_start;
}

uint64_t herd_sft_loader_epoch_rows(const herd_sft_loader *l)
{
    return l->epoch_rows;
}

herd_sft_pos herd_sft_loader_state(const herd_sft_loader *l)
{
    return l->pos;
}

herd_status herd_sft_loader_set_state(herd_sft_loader *l, herd_sft_pos p)
{
    if (p.index >= (uint64_t)l->s->n)
        return herd_fail(HERD_E_ARG, "sft loader: position %llu is past the %lld examples of "
                         "an epoch (a different dataset?)", (unsigned long long)p.index,
                         (long long)l->s->n);
    l->pos = p;
    return HERD_OK;
}

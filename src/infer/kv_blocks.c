/* Block books of the paged KV cache: reference counts, the prefix cache
 * (hash chains over full blocks, tokens compared on a hit) and LRU
 * eviction. Pools are thousands of blocks, so plain scans do. */
#include "infer/kv_blocks.h"
#include "base/error.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int refs;
    int registered;
    uint64_t hash, parent;   /* of this block's chain, and of the one before */
    uint64_t used;           /* clock of the last release, for LRU eviction */
} blk;

struct herd_kv_blocks {
    int n, block;
    blk *b;
    int *tokens;             /* [n][block] the tokens of registered blocks */
    uint64_t clock;
};

herd_status herd_kv_blocks_new(int n_blocks, int block, herd_kv_blocks **out)
{
    *out = NULL;
    if (n_blocks <= 0 || block <= 0)
        return herd_fail(HERD_E_ARG, "a KV pool of %d blocks of %d", n_blocks, block);
    herd_kv_blocks *kb = calloc(1, sizeof *kb);
    if (kb) {
        kb->b = calloc((size_t)n_blocks, sizeof *kb->b);
        kb->tokens = malloc((size_t)n_blocks * block * sizeof *kb->tokens);
    }
    if (!kb || !kb->b || !kb->tokens) {
        herd_kv_blocks_free(kb);
        return herd_fail(HERD_E_NOMEM, "out of memory");
    }
    kb->n = n_blocks;
    kb->block = block;
    *out = kb;
    return HERD_OK;
}

void herd_kv_blocks_free(herd_kv_blocks *kb)
{
    if (!kb)
        return;
    free(kb->b);
    free(kb->tokens);
    free(kb);
}

/* FNV-1a over the parent's hash and the block's tokens. */
static uint64_t chain(uint64_t parent, const int *t, int n)
{
    uint64_t h = 1469598103934665603ull ^ parent;
    for (int i = 0; i < n; i++) {
        uint32_t v = (uint32_t)t[i];
        for (int k = 0; k < 4; k++, v >>= 8)
            h = (h ^ (v & 0xff)) * 1099511628211ull;
    }
    return h;
}

static int find(const herd_kv_blocks *kb, uint64_t parent, uint64_t hash, const int *t)
{
    for (int i = 0; i < kb->n; i++) {
        const blk *b = &kb->b[i];
        if (b->registered && b->hash == hash && b->parent == parent &&
            !memcmp(kb->tokens + (size_t)i * kb->block, t, (size_t)kb->block * sizeof *t))
            return i;
    }
    return -1;
}

int herd_kv_blocks_match(herd_kv_blocks *kb, const int *tokens, int n, int *table)
{
    uint64_t h = 0;
    int m = 0;
    for (; (m + 1) * kb->block <= n; m++) {
        const int *t = tokens + (size_t)m * kb->block;
        uint64_t next = chain(h, t, kb->block);
        int id = find(kb, h, next, t);
        if (id < 0)
            break;
        kb->b[id].refs++;
        table[m] = id;
        h = next;
    }
    return m;
}

int herd_kv_blocks_available(const herd_kv_blocks *kb)
{
    int a = 0;
    for (int i = 0; i < kb->n; i++)
        a += kb->b[i].refs == 0;
    return a;
}

/* A block nobody holds: a never-registered one first, else the least
 * recently used cached one (which leaves the cache). */
static int take(herd_kv_blocks *kb)
{
    int best = -1;
    for (int i = 0; i < kb->n; i++) {
        const blk *b = &kb->b[i];
        if (b->refs)
            continue;
        if (!b->registered)
            return i;
        if (best < 0 || b->used < kb->b[best].used)
            best = i;
    }
    return best;
}

int herd_kv_blocks_alloc(herd_kv_blocks *kb, int n, int *table)
{
    if (herd_kv_blocks_available(kb) < n)
        return 0;
    for (int i = 0; i < n; i++) {
        int id = take(kb);
        kb->b[id] = (blk){.refs = 1};
        table[i] = id;
    }
    return 1;
}

void herd_kv_blocks_release(herd_kv_blocks *kb, const int *table, int n)
{
    for (int i = 0; i < n; i++) {
        blk *b = &kb->b[table[i]];
        if (b->refs > 0 && --b->refs == 0)
            b->used = ++kb->clock;
    }
}

void herd_kv_blocks_register(herd_kv_blocks *kb, const int *table, int i, const int *tokens)
{
    uint64_t parent = 0;
    if (i > 0) {
        const blk *p = &kb->b[table[i - 1]];
        if (!p->registered)
            return;
        parent = p->hash;
    }
    const int *t = tokens + (size_t)i * kb->block;
    blk *b = &kb->b[table[i]];
    uint64_t h = chain(parent, t, kb->block);
    if (b->registered || find(kb, parent, h, t) >= 0)
        return; /* already cached (another sequence computed the same prefix) */
    b->registered = 1;
    b->hash = h;
    b->parent = parent;
    memcpy(kb->tokens + (size_t)table[i] * kb->block, t, (size_t)kb->block * sizeof *t);
}

int herd_kv_blocks_used(const herd_kv_blocks *kb)
{
    return kb->n - herd_kv_blocks_available(kb);
}

int herd_kv_blocks_cached(const herd_kv_blocks *kb)
{
    int c = 0;
    for (int i = 0; i < kb->n; i++)
        c += kb->b[i].refs == 0 && kb->b[i].registered;
    return c;
}

int herd_kv_blocks_refs(const herd_kv_blocks *kb, int id)
{
    return id >= 0 && id < kb->n ? kb->b[id].refs : -1;
}

/* The hash map from piece bytes to token id (open addressing, linear probe). */
#include "tokenizer/spm.h"
#include "base/error.h"
#include <stdlib.h>
#include <string.h>

/* FNV-1a over the bytes. */
static uint32_t piece_hash(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h;
}

int herd_piece_find(const herd_tokenizer *t, const char *s, size_t n)
{
    const herd_piece_map *m = &t->map;
    for (uint32_t i = piece_hash(s, n) & m->mask;; i = (i + 1) & m->mask) {
        uint32_t v = m->slots[i];
        if (v == 0)
            return -1;
        int id = (int)(v - 1);
        if (t->len[id] == n && memcmp(t->blob + t->off[id], s, n) == 0)
            return id;
    }
}

/* Fills the map; a piece that repeats keeps its first id. */
herd_status herd_piece_map_init(herd_tokenizer *t, const char *what)
{
    uint32_t cap = 16;
    while (cap < 2u * (uint32_t)t->n_vocab)
        cap *= 2;
    t->map.slots = calloc(cap, sizeof *t->map.slots);
    if (!t->map.slots)
        return herd_fail(HERD_E_NOMEM, "%s: out of memory for the piece map", what);
    t->map.mask = cap - 1;
    for (int id = 0; id < t->n_vocab; id++) {
        const char *s = t->blob + t->off[id];
        uint32_t i = piece_hash(s, t->len[id]) & t->map.mask;
        for (;; i = (i + 1) & t->map.mask) {
            uint32_t v = t->map.slots[i];
            if (v == 0) {
                t->map.slots[i] = (uint32_t)id + 1;
                break;
            }
            if (t->len[v - 1] == t->len[id] && memcmp(t->blob + t->off[v - 1], s, t->len[id]) == 0)
                break;
        }
    }
    return HERD_OK;
}

/* The books of a paged KV cache (PagedAttention): which of the pool's
 * blocks each sequence holds, reference counts, and a prefix cache. A full
 * block is registered under a hash of its tokens and of every token before
 * it; a new sequence whose prompt starts with the same tokens takes the
 * same blocks (one more reference) instead of computing them again. A block
 * nobody holds stays cached until a fresh block is needed and it is the
 * least recently used. The K and V themselves live in the context
 * (model/paged.h). */
#ifndef HERD_INFER_KV_BLOCKS_H
#define HERD_INFER_KV_BLOCKS_H
#include "herd.h"

typedef struct herd_kv_blocks herd_kv_blocks;

herd_status herd_kv_blocks_new(int n_blocks, int block, herd_kv_blocks **out);
void herd_kv_blocks_free(herd_kv_blocks *kb);

/* The longest run of cached full blocks that tokens[0..n) starts with:
 * their ids go to table[0..], each gets a reference; returns how many. */
int herd_kv_blocks_match(herd_kv_blocks *kb, const int *tokens, int n, int *table);
/* n fresh blocks into table (referenced once), evicting unreferenced cached
 * blocks, oldest first, when no free one is left. All or nothing: returns
 * 0 and takes nothing when fewer than n are available. */
int herd_kv_blocks_alloc(herd_kv_blocks *kb, int n, int *table);
/* Drops one reference to each of table[0..n). */
void herd_kv_blocks_release(herd_kv_blocks *kb, const int *table, int n);
/* Block table[i] now holds tokens[i * block .. (i + 1) * block) of the
 * sequence whose earlier blocks are table[0..i) (registered before). */
void herd_kv_blocks_register(herd_kv_blocks *kb, const int *table, int i, const int *tokens);

int herd_kv_blocks_available(const herd_kv_blocks *kb); /* free or evictable */
int herd_kv_blocks_used(const herd_kv_blocks *kb);      /* held by a sequence */
int herd_kv_blocks_cached(const herd_kv_blocks *kb);    /* registered, held by none */
int herd_kv_blocks_refs(const herd_kv_blocks *kb, int id);

#endif

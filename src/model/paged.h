/* Many sequences in one context (continuous batching over PagedAttention):
 * the KV cache is a pool of n_blocks blocks of `block` positions, and each
 * sequence owns a block table: its position p lives in block
 * table[p / block] at row p % block. Which blocks a sequence holds is the
 * caller's business (infer/kv_blocks.h keeps the books). */
#ifndef HERD_MODEL_PAGED_H
#define HERD_MODEL_PAGED_H
#include "herd.h"

/* A context whose cache is a pool of n_blocks blocks of `block` positions;
 * positions of one sequence are below n_ctx. */
herd_status herd_context_new_paged(const herd_model *m, int n_ctx, int n_blocks, int block,
                                   herd_context **out);

/* One forward step over n tokens of many sequences. Token i of sequence
 * tables[i] sits at pos[i]; its K and V are written to its block, and it
 * attends to positions 0..pos[i] of its own sequence (every earlier one is
 * in the cache already or earlier in this batch). Logits are computed for
 * the rows out[0..n_out-1] only, into logits[n_out][vocab]. */
typedef struct {
    int n;
    const int *tokens, *pos;
    const int *const *tables;
    int n_out;
    const int *out;
} herd_batch;

herd_status herd_eval_batch(herd_context *ctx, const herd_batch *b, float *logits);

/* Copies block src to block dst in every layer (copy-on-write). */
void herd_kv_copy_block(herd_context *ctx, int dst, int src);
int herd_context_block(const herd_context *ctx);
int herd_context_n_blocks(const herd_context *ctx);

#endif

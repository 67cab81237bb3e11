/* An evaluation context: the KV cache of one sequence, the rotary tables
 * and the scratch buffers of the forward pass. */
#ifndef HERD_MODEL_CONTEXT_H
#define HERD_MODEL_CONTEXT_H
#include "model/model.h"

typedef struct {
    int cap;              /* tokens the buffers hold */
    float *x;             /* [cap][dim] residual stream */
    float *xb;            /* [cap][dim] normed input of a block */
    float *q;             /* [cap][dim] */
    float *k, *v;         /* [cap][kv_dim] */
    float *att;           /* [cap][dim] attention output */
    float *h1, *h3;       /* [cap][hidden_dim] */
    float *scores;        /* [threads][n_heads / n_kv_heads][n_ctx] */
    float *prefill;       /* [threads][herd_prefill_rows][n_ctx] score blocks of a
                           * prompt's attention, when cap >= HERD_PREFILL_MIN */
    void *xq;             /* [cap] activation rows quantized for block weights */
    float *tile;          /* weight rows widened for sgemm (model/linear.h) */
} herd_scratch;

/* A batch of at least this many consecutive tokens of one sequence takes
 * its attention through sgemm (herd_attention_prefill), in chunks of
 * herd_prefill_rows queries. */
#define HERD_PREFILL_MIN 16
int herd_prefill_rows(int n_ctx);

struct herd_context {
    const herd_model *m;
    int n_ctx;
    int pos;              /* the next position when herd_eval gets pos NULL */
    float *k_cache;       /* [n_layers][n_blocks][block][kv_dim] */
    float *v_cache;
    int n_blocks, block;  /* 1 x n_ctx, unless paged (model/paged.h) */
    float *rope_cos;      /* [n_ctx][head_dim / 2] */
    float *rope_sin;
    int n_threads;        /* scores rows allocated */
    herd_scratch s;
};

#endif

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
    float *scores;        /* [threads][n_ctx] */
    void *xq;             /* [cap] activation rows quantized for block weights */
    float *tile;          /* weight rows widened for sgemm (model/linear.h) */
} herd_scratch;

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

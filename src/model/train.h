/* The training model behind herd_train.h: parameters and gradients in one
 * flat float buffer each (llm.c's habit: a table of offsets, no autograd),
 * and the activations the backward pass needs, sized for a micro-batch. */
#ifndef HERD_MODEL_TRAIN_H
#define HERD_MODEL_TRAIN_H
#include "herd_train.h"
#include "model/model.h"

/* Offsets (in floats) of one layer's tensors inside a flat buffer. */
typedef struct {
    size_t attn_norm, wq, wk, wv, wo, ffn_norm, w1, w2, w3;
} herd_layer_off;

/* Activations of one layer for N = B * T tokens. With recomputation every
 * layer's pointers alias one set (only x_in is kept per layer). */
typedef struct {
    float *rstd_attn;   /* [N] */
    float *xn_attn;     /* [N][dim] rmsnorm(x_in) * attn_norm */
    float *q, *k, *v;   /* [N][dim], [N][kv_dim] x2; q, k after rope */
    float *probs;       /* [B][n_heads][T][T] attention weights (0 outside the mask) */
    float *att;         /* [N][dim] attention output before wo */
    float *x_mid;       /* [N][dim] residual after attention */
    float *rstd_ffn;    /* [N] */
    float *xn_ffn;      /* [N][dim] */
    float *h1, *h3;     /* [N][hidden] gate and up before SwiGLU */
    float *hg;          /* [N][hidden] silu(h1) * h3 */
} herd_layer_acts;

/* Gradient scratch of the backward pass, one set for all layers. */
typedef struct {
    float *dx;          /* [N][dim] gradient of the residual stream */
    float *dxn;         /* [N][dim] */
    float *datt;        /* [N][dim] */
    float *dq, *dk, *dv;/* [N][dim], [N][kv_dim] x2 */
    float *dh1, *dh3;   /* [N][hidden] */
    float *dhg;         /* [N][hidden] */
    float *logits;      /* [chunk][vocab] */
    float *scores;      /* [threads][T][T] attention backward scratch */
} herd_grad_scratch;

struct herd_train_model {
    herd_config cfg;
    float *params, *grads;
    size_t n;
    herd_param_info *info;
    int n_info;
    size_t off_emb, off_out_norm, off_out;  /* off_out = off_emb when tied */
    herd_layer_off *lo;
    herd_model view;                        /* F32 tensors into params */
    int recompute;
    /* Sized for a micro-batch of B rows of T tokens (grown on demand). */
    int B, T, chunk, threads;
    float *x_in;                            /* [n_layers + 1][N][dim] */
    float *rstd_out, *xn_out;               /* [N], [N][dim] final norm */
    herd_layer_acts *acts;                  /* n_layers */
    float *act_buf;
    herd_grad_scratch g;
    float *g_buf;
    int *pos, *start;                       /* [N] rotary position, first key */
    float *rope_cos, *rope_sin;             /* [T][head_dim / 2] */
};

/* Parallel loops over fewer floats than this run on one thread: for tiny
 * models a fork and barrier cost more than the work. */
#define HERD_PAR_MIN 32768

/* Makes room for a batch of B x T tokens (keeps what fits). */
herd_status herd_train_reserve(herd_train_model *tm, int B, int T);
/* Positions and first keys from the batch's doc_start. */
void herd_train_positions(herd_train_model *tm, const herd_batch *b);
/* Runs layer l forward from x_in[l] into acts[l] and x_in[l + 1]. */
void herd_train_layer_forward(herd_train_model *tm, int l, int B, int T);
/* Adds layer l's parameter gradients and turns g.dx (the gradient at the
 * layer's output) into the gradient at its input. */
void herd_train_layer_backward(herd_train_model *tm, int l, int B, int T);
/* Final norm, output projection and cross-entropy, in chunks of rows; with
 * grads, also the gradient at x_in[n_layers] into g.dx and the output
 * weights' gradients (dloss scaled by scale). Returns the summed loss. */
double herd_train_head(herd_train_model *tm, const herd_batch *b, int grads, float scale,
                       int *n_scored);

#endif

/* The training model behind herd_train.h: parameters and gradients in one
 * flat float buffer each (llm.c's habit: a table of offsets, no autograd),
 * and the activations the backward pass needs, sized for a micro-batch. */
#ifndef HERD_MODEL_TRAIN_H
#define HERD_MODEL_TRAIN_H
#include "herd_train.h"
#include "model/model.h"
#include "quant/nf4.h"

/* A LoRA adapter on one matrix: W x + scale * B (A x), A [r][in],
 * B [out][r], their gradients dA, dB (all inside the flat buffers). */
typedef struct {
    float *a, *b, *da, *db;
    int r;
    float scale, dropout;
    uint64_t id;        /* this adapter's stream of dropout masks */
} herd_lora_mat;

/* One weight matrix [out][in] as the training passes see it: trainable
 * float32 (w and g in the flat buffers), or frozen in the base model's own
 * type (w NULL, base set, g NULL), with an optional LoRA adapter. */
typedef struct {
    const float *w;
    float *g;
    const herd_tensor *base;
    const herd_nf4_tensor *nf4;         /* QLoRA: the frozen weights in NF4 */
    herd_lora_mat *lora;
    int in, out;
} herd_train_mat;

/* One layer's weights as pointers; a frozen norm's gradient goes to a
 * scratch sink. */
typedef struct {
    const float *attn_norm, *ffn_norm;
    float *d_attn_norm, *d_ffn_norm;
    herd_train_mat wq, wk, wv, wo, w1, w2, w3;
} herd_train_layer;

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
    herd_train_layer *L;                    /* n_layers */
    herd_train_mat emb;                     /* [vocab][dim], as a matrix */
    herd_train_mat out;                     /* the output projection (emb's when tied) */
    const float *out_norm;
    float *d_out_norm;
    herd_model view;                        /* F32 tensors into params (full training) */
    const herd_model *base;                 /* LoRA: the frozen model (not owned) */
    herd_lora_mat *loras;                   /* LoRA: n_lora adapters */
    herd_lora_params lora_p;
    herd_nf4_tensor *nf4;                   /* QLoRA: [n_layers * 7], owned */
    int n_lora, max_r;
    float *sink;                            /* [dim] gradients of frozen norms */
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
    float *lora_u, *lora_du;                /* [N][max_r] LoRA scratch */
    float *lora_xd, *lora_dxd;              /* [N][max(dim, hidden)] dropout scratch */
    uint64_t seed;                          /* of the dropout masks */
    float *tile;                            /* frozen weights widened (linear.h) */
    void *xq;
    float *rope_cos, *rope_sin;             /* [T][head_dim / 2] */
};

/* Parallel loops over fewer floats than this run on one thread: for tiny
 * models a fork and barrier cost more than the work. */
#define HERD_PAR_MIN 32768

/* y[N][out] = x W^T (+ the LoRA term) for a weight of any kind. */
herd_status herd_train_linear(herd_train_model *tm, const herd_train_mat *m, float *y,
                              const float *x, int N);
/* dx (+)= dy W (+ the LoRA term); adds to g (trainable) or dA, dB (LoRA). */
herd_status herd_train_linear_backward(herd_train_model *tm, const herd_train_mat *m,
                                       float *dx, const float *dy, const float *x, int N,
                                       int accumulate);

/* Makes room for a batch of B x T tokens (keeps what fits). */
herd_status herd_train_reserve(herd_train_model *tm, int B, int T);
/* Positions and first keys from the batch's doc_start. */
void herd_train_positions(herd_train_model *tm, const herd_batch *b);
/* Runs layer l forward from x_in[l] into acts[l] and x_in[l + 1]. */
herd_status herd_train_layer_forward(herd_train_model *tm, int l, int B, int T);
/* Adds layer l's parameter gradients and turns g.dx (the gradient at the
 * layer's output) into the gradient at its input. */
herd_status herd_train_layer_backward(herd_train_model *tm, int l, int B, int T);
/* Final norm, output projection and cross-entropy, in chunks of rows; with
 * grads, also the gradient at x_in[n_layers] into g.dx and the output
 * weights' gradients (dloss scaled by scale). Returns the summed loss. */
typedef struct {
    int grads;                /* compute the logits' gradient */
    float scale;              /* its scale (divided by the scored count) */
    const float *row_scale;   /* or per row of the batch, used as it is */
    const float *tok_scale;   /* or per token (B*T), used as it is */
    double *row_loss;         /* per-row sums of the loss (may be NULL) */
    float *tok_loss;          /* per-token loss, 0 where unscored (may be NULL) */
} herd_head;
herd_status herd_train_head(herd_train_model *tm, const herd_batch *b, herd_head *h,
                            int *n_scored, double *sum);
/* A model with the flat buffers of n floats and the layer table, no
 * weights bound (train_params.c). */
herd_status herd_train_alloc(const herd_config *cfg, herd_train_model **out);
/* Bytes of the frozen layer matrices a LoRA model reads (NF4 for QLoRA, the
 * base's own type otherwise); 0 for full training. */
size_t herd_train_frozen_bytes(const herd_train_model *tm);
/* Stretches the rotary positions (long-context finetuning): the config's
 * rope scaling and factor, and its context grown to seq_len. */
void herd_train_set_rope(herd_train_model *tm, herd_rope_scaling s, float factor, int seq_len);
/* The flat parameter and gradient buffers for the layout made so far. */
herd_status herd_train_alloc_buffers(herd_train_model *tm);
/* Appends a tensor to the layout; returns its offset. */
size_t herd_train_layout_add(herd_train_model *tm, const char *name, int64_t rows,
                             int64_t cols, int decay);

#endif

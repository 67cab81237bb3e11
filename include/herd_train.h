/* herd: training API (pretraining, finetuning). Public.
 *
 * A herd_train_model holds every parameter of a Llama as one float32 buffer,
 * its gradient in a buffer of the same layout, and the activations of one
 * micro-batch. The layout is the model's own: tensors in the order below,
 * each row-major [rows][cols] as herd_model has them (a matmul weight is
 * [out][in]), back to back:
 *
 *   token_embd            [vocab][dim]
 *   per layer l:
 *     blk.l.attn_norm     [dim]
 *     blk.l.attn_q        [n_heads * head_dim][dim]
 *     blk.l.attn_k        [n_kv_heads * head_dim][dim]
 *     blk.l.attn_v        [n_kv_heads * head_dim][dim]
 *     blk.l.attn_output   [dim][n_heads * head_dim]
 *     blk.l.ffn_norm      [dim]
 *     blk.l.ffn_gate      [hidden_dim][dim]   (w1)
 *     blk.l.ffn_down      [dim][hidden_dim]   (w2)
 *     blk.l.ffn_up        [hidden_dim][dim]   (w3)
 *   output_norm           [dim]
 *   output                [vocab][dim]        (absent when tied)
 *
 * Names are GGUF's. q/k rows keep the rotary layout of the config
 * (cfg.rope_layout): Meta's adjacent pairs for models made here. */
#ifndef HERD_TRAIN_H
#define HERD_TRAIN_H
#include "herd.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct herd_train_model herd_train_model;

/* One tensor of the layout. */
typedef struct {
    char name[48];
    size_t offset;      /* in floats from the start of the buffer */
    int64_t rows, cols; /* a vector has rows 1 */
    int decay;          /* weight decay applies: matrices yes, norms no */
} herd_param_info;

/* A model with weights drawn as the Llama / llama2.c recipe does: matrices
 * normal(0, 0.02), the two output-side projections of each layer (attn_output,
 * ffn_down) scaled by 1/sqrt(2 n_layers), norms 1. Deterministic in seed. */
herd_status herd_train_model_new(const herd_config *cfg, uint64_t seed,
                                 herd_train_model **out);
/* A model holding a copy of m's weights widened to float32 (any type herd
 * reads; the config and its rotary layout as m has them). */
herd_status herd_train_model_from(const herd_model *m, herd_train_model **out);
void herd_train_model_free(herd_train_model *tm);

const herd_config *herd_train_config(const herd_train_model *tm);
float *herd_train_params(herd_train_model *tm, size_t *n);
float *herd_train_grads(herd_train_model *tm, size_t *n);
int herd_train_n_tensors(const herd_train_model *tm);
/* Tensor i of the layout (0 <= i < herd_train_n_tensors). */
const herd_param_info *herd_train_tensor(const herd_train_model *tm, int i);
/* The parameters as a herd_model (F32 tensors pointing into the buffer, no
 * tokenizer): for herd_eval, herd_generate and the writers. Valid until tm
 * is freed; it sees later parameter updates. */
const herd_model *herd_train_as_model(herd_train_model *tm);

/* ---- LoRA (Hu et al. 2021) ----
 * Each chosen matrix W of every layer gets y = W x + (alpha / r) B (A x)
 * with A [r][in] drawn uniform(-1/sqrt(in), 1/sqrt(in)) and B [out][r]
 * zero (so training starts from the base model exactly). The base weights
 * stay frozen where they are (mapped, in the file's own type), never in
 * trainable memory; the flat buffers of herd_train_params/grads hold only
 * the adapters, named blk.L.<matrix>.lora_a / lora_b (matrix: attn_q,
 * attn_k, attn_v, attn_output, ffn_gate, ffn_up, ffn_down). Dropout p on
 * the adapter's input (as PEFT): masks drawn from herd_train_set_seed's
 * seed, so a run repeats exactly. */
enum {
    HERD_LORA_Q = 1, HERD_LORA_K = 2, HERD_LORA_V = 4, HERD_LORA_O = 8,
    HERD_LORA_GATE = 16, HERD_LORA_UP = 32, HERD_LORA_DOWN = 64,
    HERD_LORA_ALL = 127
};

typedef struct {
    int r;              /* rank, 1 .. min(in, out) of every chosen matrix */
    float alpha;        /* scale alpha / r */
    float dropout;      /* 0 <= p < 1 */
    unsigned targets;   /* HERD_LORA_* bits */
    int qlora;          /* QLoRA (Dettmers et al. 2023): the frozen matrices of every
                           layer held in 4-bit NF4 with double-quantized scales,
                           dequantized tile by tile inside each product */
} herd_lora_params;

/* A LoRA training model over base (which must outlive it; its norms F32 as
 * herd_model_open leaves them). herd_train_as_model gives NULL for it. */
herd_status herd_train_model_lora(const herd_model *base, const herd_lora_params *p,
                                  uint64_t seed, herd_train_model **out);
/* The seed of the dropout masks of the next forward/backward (the trainer
 * sets it from the step and micro-batch). */
void herd_train_set_seed(herd_train_model *tm, uint64_t seed);

/* Recompute each layer's activations in the backward pass instead of
 * keeping them: memory of one layer instead of n_layers, the same gradients,
 * about a third more compute. Off by default. */
void herd_train_set_recompute(herd_train_model *tm, int on);

/* A micro-batch: B rows of T tokens. Row b's inputs are tokens[b*T .. b*T+T-1]
 * and the token to predict after input t is targets[b*T + t]; a target < 0
 * is not scored (prompt tokens in SFT, padding). doc_start (may be NULL: one
 * document per row) marks with 1 each token that begins a new document:
 * no token attends across a document boundary and rotary positions restart
 * at 0 in each document, so a packed row computes what its documents would
 * alone. */
typedef struct {
    int B, T;
    const int *tokens;
    const int *targets;
    const uint8_t *doc_start;
} herd_batch;

/* Mean cross-entropy over the scored targets of the batch in *loss (NaN if
 * none), and adds grad_scale * d(loss)/d(param) to the gradient buffer (so
 * micro-batches accumulate; grad_scale 1/k averages k of them). *n_scored
 * (may be NULL) gets the number of scored targets. */
herd_status herd_train_forward_backward(herd_train_model *tm, const herd_batch *b,
                                        float grad_scale, float *loss, int *n_scored);
/* Sums of log p(target) over the scored targets of each row into logp[B]
 * (sequence log-probabilities, as DPO and PPO need them). With coef (NULL:
 * no gradients) it also adds sum_b coef[b] * d logp[b] / d param to the
 * gradient buffer. */
herd_status herd_train_row_logprobs(herd_train_model *tm, const herd_batch *b,
                                    const float *coef, double *logp);
/* The same per token: logp[i] = log p(targets[i]) (0 where unscored), and
 * with coef (per token, NULL: no gradients) adds
 * sum_i coef[i] * d logp[i] / d param (PPO's per-token policy gradient). */
herd_status herd_train_token_logprobs(herd_train_model *tm, const herd_batch *b,
                                      const float *coef, float *logp);
/* The final RMS-normed hidden state of every token, [B*T][dim], for a head
 * of one's own (a reward model's or a value head's). */
herd_status herd_train_hidden(herd_train_model *tm, const herd_batch *b, float *hidden);
/* Adds the gradients of a loss whose gradient on those hidden states is
 * dhidden [B*T][dim]; b is the batch of the last herd_train_hidden. */
herd_status herd_train_hidden_backward(herd_train_model *tm, const herd_batch *b,
                                       const float *dhidden);
/* The same loss without gradients (validation). */
herd_status herd_train_loss(herd_train_model *tm, const herd_batch *b, float *loss,
                            int *n_scored);
void herd_train_zero_grad(herd_train_model *tm);
/* The L2 norm of the whole gradient (in double). */
double herd_train_grad_norm(herd_train_model *tm);

/* ---- AdamW ----
 * Decoupled weight decay (Loshchilov & Hutter), as the Llama papers train:
 *   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
 *   p -= lr * (m / (1 - b1^t) / (sqrt(v / (1 - b2^t)) + eps) + wd * p)
 * with wd only on tensors whose decay flag is set. */
typedef struct {
    float beta1;         /* 0.9 */
    float beta2;         /* 0.95 */
    float eps;           /* 1e-5 */
    float weight_decay;  /* 0.1 */
} herd_adamw_params;

herd_adamw_params herd_adamw_defaults(void);

typedef struct herd_adamw herd_adamw;
herd_status herd_adamw_new(const herd_train_model *tm, herd_adamw **out);
void herd_adamw_free(herd_adamw *opt);
/* One step at learning rate lr with the current gradients (which it leaves
 * as they are). */
void herd_adamw_step(herd_adamw *opt, herd_train_model *tm, const herd_adamw_params *p,
                     float lr);
/* The step count and the moment buffers (n floats each), for checkpoints. */
int64_t *herd_adamw_t(herd_adamw *opt);
float *herd_adamw_m(herd_adamw *opt, size_t *n);
float *herd_adamw_v(herd_adamw *opt, size_t *n);

/* ---- schedule and clipping ---- */

/* Learning rate at step (0-based) of total: linear warmup from 0 over
 * warmup steps to peak, then cosine decay to min_ratio * peak at total. */
float herd_lr_cosine(int64_t step, int64_t warmup, int64_t total, float peak,
                     float min_ratio);
/* Scales the gradient so its global L2 norm is at most max_norm (<= 0: no
 * clipping); returns the norm before clipping. */
double herd_train_clip_grad(herd_train_model *tm, double max_norm);

#ifdef __cplusplus
}
#endif
#endif

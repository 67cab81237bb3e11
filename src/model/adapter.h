/* LoRA adapters outside training: loaded from a PEFT folder or a GGUF LoRA
 * file (formats/adapter_*.c), applied at inference without merging
 * (forward.c), folded into the weights (herd merge), and made from a LoRA
 * training model. Matrices are indexed as HERD_LORA_* bits: 0 attn_q,
 * 1 attn_k, 2 attn_v, 3 attn_output, 4 ffn_gate, 5 ffn_up, 6 ffn_down.
 * q/k rows of B are in Meta's rotary order (as GGUF keeps q/k); readers and
 * writers of Hugging Face files permute them. */
#ifndef HERD_MODEL_ADAPTER_H
#define HERD_MODEL_ADAPTER_H
#include "model/model.h"

#define HERD_LORA_MATS 7

typedef struct {
    float *a;        /* [r][in], NULL: this matrix has no adapter */
    float *b;        /* [out][r] */
    int in, out;
} herd_lora_w;

typedef struct herd_adapter {
    int n_layers, r;
    float alpha;               /* scale = alpha / r */
    unsigned targets;          /* HERD_LORA_* bits present */
    herd_lora_w *w;            /* [n_layers][HERD_LORA_MATS] */
    herd_owned owned;
} herd_adapter;

extern const char *const herd_lora_mat_names[HERD_LORA_MATS];   /* attn_q, ... */
extern const char *const herd_lora_hf_names[HERD_LORA_MATS];    /* self_attn.q_proj, ... */

/* A zeroed adapter for cfg with rank r on the targets; buffers owned. */
herd_status herd_adapter_new(const herd_config *cfg, int r, float alpha, unsigned targets,
                             herd_adapter **out);
void herd_adapter_free(herd_adapter *a);
/* Attaches a for inference (forward.c adds scale * alpha/r * B A x to each
 * adapted matrix); the model takes a over (also on failure). */
herd_status herd_model_attach_adapter(herd_model *m, herd_adapter *a, float scale);
/* y[n][out] += the attached adapters' terms for matrix i of layer l. */
herd_status herd_adapters_apply(const herd_model *m, int l, int i, float *y, const float *x,
                                int n);
/* A copy of a LoRA training model's adapters (train_lora.c). */
struct herd_train_model;
herd_status herd_train_lora_adapter(struct herd_train_model *tm, herd_adapter **out);
/* Folds every attached adapter into the weights (each adapted matrix
 * widened to a new F32 buffer the model owns) and detaches them. */
herd_status herd_model_merge_lora(herd_model *m);
/* Checks that the adapter fits the model (layers, shapes); the message names
 * what differs ("adapter for a different base model: ..."). */
herd_status herd_adapter_check(const herd_adapter *a, const herd_model *m);
/* The model's weight tensor for matrix i of layer l. */
const herd_tensor *herd_lora_target(const herd_model *m, int l, int i);
/* The rows of a q/k adapter's B [out][r] between Meta's and HF's rotary
 * orders, in place (to_hf: Meta -> HF). */
herd_status herd_lora_permute_b(float *b, int out, int r, int head_dim, int to_hf);

#endif

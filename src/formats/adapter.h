/* LoRA adapter files (model/adapter.h holds the adapter in memory), in the
 * two formats other tools load:
 *
 * PEFT folder (Hugging Face peft's save_pretrained): adapter_config.json
 *   {"peft_type": "LORA", "task_type": "CAUSAL_LM", "r", "lora_alpha",
 *    "lora_dropout", "target_modules": ["q_proj", ...], "bias": "none",
 *    "fan_in_fan_out": false, "inference_mode": true,
 *    "base_model_name_or_path": ...}
 *   and adapter_model.safetensors with, for every layer l and matrix,
 *   base_model.model.model.layers.{l}.self_attn.q_proj.lora_A.weight [r][in]
 *   base_model.model.model.layers.{l}.self_attn.q_proj.lora_B.weight [out][r]
 *   (k_proj, v_proj, o_proj, mlp.gate_proj, mlp.up_proj, mlp.down_proj).
 *   Hugging Face keeps q/k rows in its rotary order, so q_proj and k_proj's
 *   lora_B rows are permuted from Meta's order on writing and back on
 *   reading (head_dim = dim / n_heads for both).
 *
 * GGUF LoRA adapter (llama.cpp's convert_lora_to_gguf.py writes it, its
 *   --lora / llama_adapter_lora_init reads it): general.architecture
 *   "llama", general.type "adapter", adapter.type "lora",
 *   adapter.lora.alpha (float32); tensors blk.{l}.attn_q.weight.lora_a
 *   (ne [in, r]: row-major [r][in]) and blk.{l}.attn_q.weight.lora_b
 *   (ne [r, out]: [out][r]) for attn_q, attn_k, attn_v, attn_output,
 *   ffn_gate, ffn_up, ffn_down; q/k in Meta's order as GGUF keeps them.
 *
 * Both are written F32 (or F16 on request), each file to PATH.tmp and
 * renamed over PATH. Readers take F32, F16 and BF16 tensors; every tensor
 * must be a known lora_A/lora_B (lora_a/lora_b) of a known matrix, with its
 * partner, and of one rank r. A matrix of a layer that the file lacks has
 * a and b NULL in the adapter. */
#ifndef HERD_FORMATS_ADAPTER_H
#define HERD_FORMATS_ADAPTER_H
#include "model/adapter.h"

typedef struct {
    herd_type type;     /* HERD_TYPE_F32 (the default, 0) or HERD_TYPE_F16 */
    float dropout;      /* PEFT's lora_dropout, only recorded in the json */
} herd_adapter_save_opts;

/* A PEFT folder dir (made when missing) for an adapter of a model with
 * config cfg (the adapter must fit it). base_name: the json's
 * base_model_name_or_path, or NULL (written as null). */
herd_status herd_adapter_save_peft(const herd_adapter *a, const herd_config *cfg,
                                   const char *dir, const char *base_name);
/* The same with a tensor type and dropout (o NULL: F32, dropout 0). */
herd_status herd_adapter_save_peft_opts(const herd_adapter *a, const herd_config *cfg,
                                        const char *dir, const char *base_name,
                                        const herd_adapter_save_opts *o);
/* Reads a PEFT folder: r and lora_alpha from the json (use_rslora's
 * alpha / sqrt(r) scale becomes alpha * sqrt(r) / r), the targets from the
 * tensors present. Every tensor must fit cfg ("adapter for a different
 * base model" otherwise). Refuses DoRA, rank_pattern / alpha_pattern and
 * fan_in_fan_out. Accepts the prefixes base_model.model.model.layers. (a
 * LlamaForCausalLM) and base_model.model.layers. (a bare LlamaModel). */
herd_status herd_adapter_load_peft(const char *dir, const herd_config *cfg,
                                   herd_adapter **out);

/* A GGUF LoRA adapter at path (F32). */
herd_status herd_adapter_save_gguf(const herd_adapter *a, const char *path);
herd_status herd_adapter_save_gguf_opts(const herd_adapter *a, const char *path,
                                        const herd_adapter_save_opts *o);
/* Reads a GGUF LoRA adapter with no model at hand: n_layers is the highest
 * block index + 1 and the shapes are the tensors' own (a matrix the file
 * lacks in every layer has in = out = 0). adapter.lora.alpha is required;
 * 0 means what llama.cpp makes of it, a scale of 1 (alpha = r). */
herd_status herd_adapter_load_gguf(const char *path, herd_adapter **out);
/* The same checked against cfg (may be NULL): cfg's n_layers, and the
 * shapes of the matrices the file lacks from cfg. */
herd_status herd_adapter_load_gguf_cfg(const char *path, const herd_config *cfg,
                                       herd_adapter **out);

/* Either format, picked by path: a folder is PEFT, a file GGUF. With cfg
 * (required for PEFT, may be NULL for GGUF) the adapter is checked against
 * it and gets cfg's n_layers and the shapes of the matrices it lacks. */
herd_status herd_adapter_load(const char *path, const herd_config *cfg, herd_adapter **out);

/* ---- shared by the readers and writers (adapter_io.c) ---- */

/* [out][in] of matrix i (HERD_LORA_*) of a model with config c. */
void herd_lora_shape(const herd_config *c, int i, int *out, int *in);
/* Checks that a fits cfg (layers, shapes of the matrices it has), naming
 * what differs: "WHERE: adapter for a different base model: ...". */
herd_status herd_adapter_fits(const herd_adapter *a, const herd_config *cfg, const char *where);
/* An empty adapter of n_layers (every a, b NULL, in = out = 0), rank r and
 * alpha; the caller fills it in with herd_adapter_alloc_w. */
herd_status herd_adapter_empty(int n_layers, int r, float alpha, herd_adapter **out);
/* Buffers for matrix i of layer l, [r][in] and [out][r]; sets targets. */
herd_status herd_adapter_alloc_w(herd_adapter *a, int l, int i, int out, int in);
/* n values of type t (F32, F16, BF16; any alignment) as floats. */
void herd_adapter_to_f32(float *dst, const void *src, herd_type t, size_t n);
/* Writes len bytes to path.tmp, syncs it and renames it over path. */
herd_status herd_write_file_atomic(const char *path, const void *data, size_t len);

#endif

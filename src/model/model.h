/* The in-memory model every format loads into. Loaders fill the config and
 * point the tensors at mapped or owned memory in any herd_type; the model
 * layer then checks every shape against the config (model_check.c) and
 * makes the weights ready for the kernels. */
#ifndef HERD_MODEL_MODEL_H
#define HERD_MODEL_MODEL_H
#include "herd.h"
#include "base/owned.h"
#include "model/tensor.h"

typedef struct {
    herd_tensor attn_norm;       /* [dim] */
    herd_tensor wq;              /* [n_heads * head_dim][dim] */
    herd_tensor wk, wv;          /* [n_kv_heads * head_dim][dim] */
    herd_tensor wo;              /* [dim][n_heads * head_dim] */
    herd_tensor ffn_norm;        /* [dim] */
    herd_tensor w1;              /* gate: [hidden_dim][dim] */
    herd_tensor w2;              /* down: [dim][hidden_dim] */
    herd_tensor w3;              /* up:   [hidden_dim][dim] */
} herd_layer_weights;

typedef struct {
    herd_tensor tok_embeddings;  /* [vocab][dim] */
    herd_tensor output_norm;     /* [dim] */
    herd_tensor output;          /* [vocab][dim]; data NULL when tied */
    herd_layer_weights *layers;  /* n_layers, owned by the model */
    herd_tensor rope_freqs;      /* [head_dim / 2] divisors of the rotary
                                    frequencies (GGUF rope_freqs.weight, as
                                    llama.cpp stores Llama 3.1 scaling);
                                    data NULL when absent */
} herd_weights;

struct herd_model {
    herd_config cfg;
    herd_weights w;
    herd_tokenizer *tok;         /* may be NULL */
    char *chat_template;         /* the Jinja template the file carries, or NULL */
    char *path;
    herd_owned owned;
    struct herd_adapter **adapters;  /* LoRA adapters applied at inference (owned) */
    float *adapter_scale;
    int n_adapters;
};

/* Defaults for the fields a format may leave out (eps 1e-5, theta 10000). */
void herd_config_defaults(herd_config *c);
/* Checks a config for impossible shapes (non-positive sizes, dim not a
 * multiple of n_heads, n_heads not a multiple of n_kv_heads, ...). */
herd_status herd_config_check(const herd_config *c);
/* Allocates m->w.layers for cfg.n_layers (zeroed tensors). */
herd_status herd_model_alloc_layers(herd_model *m);

/* The rotary frequency of each pair i < head_dim / 2 of a head:
 * theta^(-2i/head_dim), then scaled as the config and rope_freqs say. */
void herd_rope_freqs(const herd_model *m, double *freqs);

/* herd_model_open without herd_model_prepare: the weights stay as the file
 * has them (converters read them so); tokenizer, when not NULL, replaces
 * the model's own. Checked like herd_model_open. */
herd_status herd_model_load(const char *path, const char *tokenizer, herd_model **out);

/* Checks every tensor's presence, type and shape against the config. */
herd_status herd_model_check(const herd_model *m);
/* Widens every weight to float32 for the kernels (F32 stays in place). */
herd_status herd_model_prepare(herd_model *m);

/* Loaders: fill m (cfg, w, tok, owned) from a file; the caller frees m on
 * failure. Each checks every offset and size against the file. */
herd_status herd_load_llama2c(const char *path, herd_model *m);
herd_status herd_load_gguf(const char *path, herd_model *m);
herd_status herd_load_hf(const char *dir, herd_model *m);

#endif

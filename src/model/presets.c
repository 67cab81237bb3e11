/* The hyper-parameters of every published Llama 1/2/3/3.1/3.2 base model.
 *
 * Sources: the config.json files of the Hugging Face checkpoints
 * (huggyllama/llama-{7b,13b,30b,65b} for Llama 1, meta-llama/Llama-2-*-hf,
 * meta-llama/Meta-Llama-3-*, meta-llama/Llama-3.1-*, meta-llama/Llama-3.2-*),
 * which carry Meta's params.json values:
 *   hidden_size -> dim, intermediate_size -> hidden_dim, num_hidden_layers,
 *   num_attention_heads, num_key_value_heads, vocab_size,
 *   max_position_embeddings -> seq_len, rms_norm_eps, rope_theta,
 *   tie_word_embeddings.
 * Notes:
 * - LLaMA 1 65B was released with norm_eps 1e-5 (its params.json and
 *   huggyllama/llama-65b config.json), the smaller LLaMA 1 sizes with 1e-6.
 * - "llama1-33b" is the model Meta's download and Hugging Face call "30B"
 *   (the paper's 33B / 32.5B).
 * - Llama 3.1 and 3.2 reach 131072 positions through "llama3" rope scaling:
 *   factor 8 (3.1) or 32 (3.2), low_freq_factor 1, high_freq_factor 4,
 *   original_max_position_embeddings 8192.
 * - rope_layout is META: the layout of Meta's original checkpoints. */
#include "herd.h"
#include <string.h>

typedef struct {
    const char *name;
    herd_config cfg;
} preset;

/* dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab, seq_len, eps, theta, tied */
#define P(name, d, h, l, nh, nkv, v, ctx, eps, theta, tied) \
    {name, {d, h, l, nh, nkv, v, ctx, eps, theta, tied, HERD_ROPE_META, \
            HERD_ROPE_SCALING_NONE, 0, 0, 0, 0}}
/* The same with Llama 3.1's rope scaling by factor f. */
#define P3(name, d, h, l, nh, nkv, v, ctx, eps, theta, tied, f) \
    {name, {d, h, l, nh, nkv, v, ctx, eps, theta, tied, HERD_ROPE_META, \
            HERD_ROPE_SCALING_LLAMA3, f, 1.0f, 4.0f, 8192}}

static const preset presets[] = {
    P("llama1-7b",     4096, 11008,  32,  32, 32,  32000,   2048, 1e-6f, 10000.0f, 0),
    P("llama1-13b",    5120, 13824,  40,  40, 40,  32000,   2048, 1e-6f, 10000.0f, 0),
    P("llama1-33b",    6656, 17920,  60,  52, 52,  32000,   2048, 1e-6f, 10000.0f, 0),
    P("llama1-65b",    8192, 22016,  80,  64, 64,  32000,   2048, 1e-5f, 10000.0f, 0),
    P("llama2-7b",     4096, 11008,  32,  32, 32,  32000,   4096, 1e-5f, 10000.0f, 0),
    P("llama2-13b",    5120, 13824,  40,  40, 40,  32000,   4096, 1e-5f, 10000.0f, 0),
    P("llama2-70b",    8192, 28672,  80,  64,  8,  32000,   4096, 1e-5f, 10000.0f, 0),
    P("llama3-8b",     4096, 14336,  32,  32,  8, 128256,   8192, 1e-5f, 500000.0f, 0),
    P("llama3-70b",    8192, 28672,  80,  64,  8, 128256,   8192, 1e-5f, 500000.0f, 0),
    P3("llama3.1-8b",   4096, 14336,  32,  32,  8, 128256, 131072, 1e-5f, 500000.0f, 0, 8.0f),
    P3("llama3.1-70b",  8192, 28672,  80,  64,  8, 128256, 131072, 1e-5f, 500000.0f, 0, 8.0f),
    P3("llama3.1-405b",16384, 53248, 126, 128,  8, 128256, 131072, 1e-5f, 500000.0f, 0, 8.0f),
    P3("llama3.2-1b",   2048,  8192,  16,  32,  8, 128256, 131072, 1e-5f, 500000.0f, 1, 32.0f),
    P3("llama3.2-3b",   3072,  8192,  28,  24,  8, 128256, 131072, 1e-5f, 500000.0f, 1, 32.0f),
};

#define N_PRESETS ((int)(sizeof presets / sizeof *presets))

const herd_config *herd_preset(const char *name)
{
    if (!name)
        return NULL;
    for (int i = 0; i < N_PRESETS; i++)
        if (!strcmp(presets[i].name, name))
            return &presets[i].cfg;
    return NULL;
}

int herd_preset_count(void) { return N_PRESETS; }

const char *herd_preset_name(int i)
{
    return i >= 0 && i < N_PRESETS ? presets[i].name : NULL;
}

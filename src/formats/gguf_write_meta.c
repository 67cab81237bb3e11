/* The metadata the GGUF writer stores: what llama.cpp's converter writes for
 * a llama model with a SentencePiece vocabulary. */
#include "formats/gguf_buf.h"
#include "formats/gguf.h"
#include "tokenizer/tokenizer.h"
#include <string.h>

static void put_hparams(herd_gbuf *b, const herd_config *c, const char *name,
                        uint32_t file_type)
{
    herd_gbuf_kv_str(b, "general.architecture", "llama");
    herd_gbuf_kv_str(b, "general.name", name);
    herd_gbuf_kv_u32(b, "general.alignment", HERD_GGUF_DEFAULT_ALIGNMENT);
    herd_gbuf_kv_u32(b, "general.file_type", file_type);
    herd_gbuf_kv_u32(b, "llama.vocab_size", (uint32_t)c->vocab_size);
    herd_gbuf_kv_u32(b, "llama.context_length", (uint32_t)c->seq_len);
    herd_gbuf_kv_u32(b, "llama.embedding_length", (uint32_t)c->dim);
    herd_gbuf_kv_u32(b, "llama.block_count", (uint32_t)c->n_layers);
    herd_gbuf_kv_u32(b, "llama.feed_forward_length", (uint32_t)c->hidden_dim);
    herd_gbuf_kv_u32(b, "llama.rope.dimension_count", (uint32_t)(c->dim / c->n_heads));
    herd_gbuf_kv_u32(b, "llama.attention.head_count", (uint32_t)c->n_heads);
    herd_gbuf_kv_u32(b, "llama.attention.head_count_kv", (uint32_t)c->n_kv_heads);
    herd_gbuf_kv_f32(b, "llama.attention.layer_norm_rms_epsilon", c->norm_eps);
    herd_gbuf_kv_f32(b, "llama.rope.freq_base", c->rope_theta);
}

static void put_tokenizer(herd_gbuf *b, const herd_tokenizer *t)
{
    int n = herd_tokenizer_n_vocab(t);
    herd_gbuf_kv_str(b, "tokenizer.ggml.model", "llama");
    herd_gbuf_kv_str(b, "tokenizer.ggml.pre", "default");
    herd_gbuf_kv_array(b, "tokenizer.ggml.tokens", HERD_GGUF_STRING, (uint64_t)n);
    for (int i = 0; i < n; i++) {
        const char *p = herd_token_piece(t, i);
        herd_gbuf_str(b, p ? p : "", p ? strlen(p) : 0);
    }
    herd_gbuf_kv_array(b, "tokenizer.ggml.scores", HERD_GGUF_FLOAT32, (uint64_t)n);
    for (int i = 0; i < n; i++)
        herd_gbuf_f32(b, herd_token_score(t, i));
    herd_gbuf_kv_array(b, "tokenizer.ggml.token_type", HERD_GGUF_INT32, (uint64_t)n);
    for (int i = 0; i < n; i++)
        herd_gbuf_u32(b, (uint32_t)herd_token_type(t, i));
    const char *keys[3] = {"tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
                           "tokenizer.ggml.unknown_token_id"};
    int ids[3] = {herd_tokenizer_bos(t), herd_tokenizer_eos(t), herd_tokenizer_unk(t)};
    for (int k = 0; k < 3; k++)
        if (ids[k] >= 0)
            herd_gbuf_kv_u32(b, keys[k], (uint32_t)ids[k]);
    herd_gbuf_kv_bool(b, "tokenizer.ggml.add_bos_token", 1);
    herd_gbuf_kv_bool(b, "tokenizer.ggml.add_eos_token", 0);
    herd_gbuf_kv_bool(b, "tokenizer.ggml.add_space_prefix",
                      herd_tokenizer_add_dummy_prefix(t));
}

void herd_gguf_put_metadata(herd_gbuf *b, const herd_model *m, const char *name,
                            uint32_t file_type)
{
    put_hparams(b, &m->cfg, name, file_type);
    if (m->tok)
        put_tokenizer(b, m->tok);
}

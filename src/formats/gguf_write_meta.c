/* The metadata the GGUF writer stores: what llama.cpp's convert_hf_to_gguf
 * .py writes for a llama model: hyperparameters, linear rope scaling (Llama
 * 3.1's goes in as the rope_freqs.weight tensor), the tokenizer
 * (SentencePiece as "llama"; byte-level BPE as "gpt2" with tokens in GPT-2's
 * byte-to-unicode spelling, token types and merges, pre-tokenizer
 * "llama-bpe") and the chat template. */
#include "formats/gguf_buf.h"
#include "formats/gguf.h"
#include "formats/convert.h"
#include "tokenizer/bpe.h"
#include <stdio.h>
#include <stdlib.h>
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
    if (c->rope_scaling == HERD_ROPE_SCALING_LINEAR) {
        herd_gbuf_kv_str(b, "llama.rope.scaling.type", "linear");
        herd_gbuf_kv_f32(b, "llama.rope.scaling.factor", c->rope_factor);
    }
}

static void put_special_ids(herd_gbuf *b, const herd_tokenizer *t)
{
    const char *keys[3] = {"tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
                           "tokenizer.ggml.unknown_token_id"};
    int ids[3] = {herd_tokenizer_bos(t), herd_tokenizer_eos(t), herd_tokenizer_unk(t)};
    for (int k = 0; k < 3; k++)
        if (ids[k] >= 0)
            herd_gbuf_kv_u32(b, keys[k], (uint32_t)ids[k]);
    herd_gbuf_kv_bool(b, "tokenizer.ggml.add_bos_token", 1);
    herd_gbuf_kv_bool(b, "tokenizer.ggml.add_eos_token", 0);
}

static void put_spm(herd_gbuf *b, const herd_tokenizer *t)
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
    put_special_ids(b, t);
    herd_gbuf_kv_bool(b, "tokenizer.ggml.add_space_prefix",
                      herd_tokenizer_add_dummy_prefix(t));
}

/* A byte BPE token as GGUF "gpt2" spells it: mergeable tokens in GPT-2's
 * byte mapping, added tokens as their text, an id without a token as
 * [PAD<id>] (as convert_hf_to_gguf.py pads). Returns the length. */
static size_t gpt2_spelling(const herd_tokenizer *t, int id, char *out)
{
    const char *p = t->blob + t->off[id];
    size_t n = t->len[id];
    if (t->type[id] == HERD_PIECE_NORMAL)
        return herd_gpt2_encode(p, n, out);
    if (n == 0)
        return (size_t)snprintf(out, 32, "[PAD%d]", id);
    memcpy(out, p, n);
    return n;
}

static void put_merges(herd_gbuf *b, const herd_tokenizer *t)
{
    int32_t *pairs;
    int n;
    if (herd_bpe_merge_list(t, &pairs, &n) != HERD_OK) {
        b->oom = 1;
        return;
    }
    char buf[4 * HERD_MAX_PIECE + 2];
    herd_gbuf_kv_array(b, "tokenizer.ggml.merges", HERD_GGUF_STRING, (uint64_t)n);
    for (int i = 0; i < n; i++) {
        size_t k = gpt2_spelling(t, pairs[2 * i], buf);
        buf[k++] = ' ';
        k += gpt2_spelling(t, pairs[2 * i + 1], buf + k);
        herd_gbuf_str(b, buf, k);
    }
    free(pairs);
}

static void put_gpt2(herd_gbuf *b, const herd_tokenizer *t)
{
    int n = herd_tokenizer_n_vocab(t);
    char buf[2 * HERD_MAX_PIECE + 32];
    herd_gbuf_kv_str(b, "tokenizer.ggml.model", "gpt2");
    herd_gbuf_kv_str(b, "tokenizer.ggml.pre", "llama-bpe");
    herd_gbuf_kv_array(b, "tokenizer.ggml.tokens", HERD_GGUF_STRING, (uint64_t)n);
    for (int i = 0; i < n; i++)
        herd_gbuf_str(b, buf, gpt2_spelling(t, i, buf));
    herd_gbuf_kv_array(b, "tokenizer.ggml.token_type", HERD_GGUF_INT32, (uint64_t)n);
    for (int i = 0; i < n; i++)
        herd_gbuf_u32(b, (uint32_t)herd_token_type(t, i));
    put_merges(b, t);
    put_special_ids(b, t);
}

void herd_gguf_put_metadata(herd_gbuf *b, const herd_model *m, const char *name,
                            uint32_t file_type)
{
    put_hparams(b, &m->cfg, name, file_type);
    if (m->tok && herd_tokenizer_kind(m->tok) == HERD_TOK_BYTE_BPE)
        put_gpt2(b, m->tok);
    else if (m->tok)
        put_spm(b, m->tok);
    if (m->chat_template)
        herd_gbuf_kv_str(b, "tokenizer.chat_template", m->chat_template);
}

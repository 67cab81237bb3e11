/* The metadata the GGUF writer stores: what llama.cpp's convert_hf_to_gguf
 * .py writes for a llama model: hyperparameters, linear rope scaling (Llama
 * 3.1's goes in as the rope_freqs.weight tensor), the tokenizer
 * (SentencePiece as "llama"; byte-level BPE as "gpt2" with tokens in GPT-2's
 * byte-to-unicode spelling, token types and merges, pre-tokenizer
 * "llama-bpe") and the chat template. Or, for a model rewritten from a
 * GGUF file (herd quantize), that file's own metadata copied pair by pair. */
#include "formats/gguf_buf.h"
#include "formats/gguf.h"
#include "formats/convert.h"
#include "formats/quantize.h"
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

/* ---- copying a parsed file's metadata ---- */

static uint64_t le_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* Bytes of a fixed-size value type, 0 for string and array. */
static size_t fixed_bytes(uint32_t t)
{
    static const unsigned char sz[HERD_GGUF_NTYPES] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    return t < HERD_GGUF_NTYPES ? sz[t] : 0;
}

static size_t value_bytes(uint32_t type, const uint8_t *p);

/* Bytes of n elements of type at starting at p. */
static size_t elements_bytes(uint32_t at, uint64_t n, const uint8_t *p)
{
    if (fixed_bytes(at))
        return (size_t)n * fixed_bytes(at);
    size_t len = 0;
    for (uint64_t i = 0; i < n; i++)
        len += value_bytes(at, p + len);
    return len;
}

/* Bytes of one value at p (herd_gguf_parse has checked that it lies in the
 * file, nested arrays included). */
static size_t value_bytes(uint32_t type, const uint8_t *p)
{
    if (type == HERD_GGUF_STRING)
        return 8 + (size_t)le_u64(p);
    if (type == HERD_GGUF_ARRAY) {
        uint32_t at = (uint32_t)(p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24);
        return 12 + elements_bytes(at, le_u64(p + 4), p + 12);
    }
    return fixed_bytes(type);
}

static void copy_kv(herd_gbuf *b, const herd_gguf_kv *kv)
{
    herd_gbuf_str(b, kv->key.p, kv->key.len);
    herd_gbuf_u32(b, kv->type);
    if (kv->type == HERD_GGUF_ARRAY) {
        herd_gbuf_u32(b, kv->arr_type);
        herd_gbuf_u64(b, kv->arr_n);
        herd_gbuf_put(b, kv->val, elements_bytes(kv->arr_type, kv->arr_n, kv->val));
    } else {
        herd_gbuf_put(b, kv->val, value_bytes(kv->type, kv->val));
    }
    b->n_kv++;
}

static int key_is(const herd_gguf_kv *kv, const char *key)
{
    return herd_gguf_str_eq(kv->key, key);
}

void herd_gguf_copy_metadata(herd_gbuf *b, const herd_gguf *g, uint32_t file_type,
                             uint32_t quant_version)
{
    int put_ftype = 0, put_qv = 0;
    for (uint64_t i = 0; i < g->n_kv; i++) {
        const herd_gguf_kv *kv = &g->kv[i];
        if (key_is(kv, "general.file_type")) {
            herd_gbuf_kv_u32(b, "general.file_type", file_type);
            put_ftype = 1;
        } else if (key_is(kv, "general.quantization_version") && quant_version) {
            herd_gbuf_kv_u32(b, "general.quantization_version", quant_version);
            put_qv = 1;
        } else if (key_is(kv, "general.alignment")) {
            herd_gbuf_kv_u32(b, "general.alignment", HERD_GGUF_DEFAULT_ALIGNMENT);
        } else if (kv->key.len < 6 || memcmp(kv->key.p, "split.", 6) != 0) {
            copy_kv(b, kv);
        }
    }
    if (!put_qv && quant_version)
        herd_gbuf_kv_u32(b, "general.quantization_version", quant_version);
    if (!put_ftype)
        herd_gbuf_kv_u32(b, "general.file_type", file_type);
}

/* config.json and tokenizer_config.json of a Hugging Face folder, written
 * as transformers writes them for LlamaForCausalLM. Floats are written as
 * the shortest decimal that reads back as the same float (1e-05, not
 * 9.99999974737875e-06). */
#include "formats/convert.h"
#include "tokenizer/tokenizer.h"
#include "base/error.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static void add_float(cJSON *o, const char *key, float v)
{
    char buf[48];
    if (v == floorf(v) && fabsf(v) < 1e15f) {   /* 500000, not 5e+05 */
        snprintf(buf, sizeof buf, "%.1f", (double)v);
        cJSON_AddItemToObject(o, key, cJSON_CreateRaw(buf));
        return;
    }
    for (int prec = 1; prec <= 9; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, (double)v);
        if (strtof(buf, NULL) == v)
            break;
    }
    cJSON_AddItemToObject(o, key, cJSON_CreateRaw(buf));
}

static cJSON *rope_scaling(const herd_config *c)
{
    if (c->rope_scaling == HERD_ROPE_SCALING_NONE)
        return cJSON_CreateNull();
    cJSON *r = cJSON_CreateObject();
    int linear = c->rope_scaling == HERD_ROPE_SCALING_LINEAR;
    cJSON_AddStringToObject(r, "rope_type", linear ? "linear" : "llama3");
    add_float(r, "factor", c->rope_factor);
    if (!linear) {
        add_float(r, "low_freq_factor", c->rope_low_freq_factor);
        add_float(r, "high_freq_factor", c->rope_high_freq_factor);
        cJSON_AddNumberToObject(r, "original_max_position_embeddings", c->rope_orig_ctx);
    }
    return r;
}

static const char *torch_dtype(herd_type t)
{
    return t == HERD_TYPE_F16 ? "float16" : t == HERD_TYPE_BF16 ? "bfloat16" : "float32";
}

static void add_config_keys(cJSON *j, const herd_model *m, const herd_config *c,
                            herd_type type)
{
    const char *arch[1] = {"LlamaForCausalLM"};
    cJSON_AddItemToObject(j, "architectures", cJSON_CreateStringArray(arch, 1));
    cJSON_AddStringToObject(j, "model_type", "llama");
    cJSON_AddNumberToObject(j, "hidden_size", c->dim);
    cJSON_AddNumberToObject(j, "intermediate_size", c->hidden_dim);
    cJSON_AddNumberToObject(j, "num_hidden_layers", c->n_layers);
    cJSON_AddNumberToObject(j, "num_attention_heads", c->n_heads);
    cJSON_AddNumberToObject(j, "num_key_value_heads", c->n_kv_heads);
    cJSON_AddNumberToObject(j, "head_dim", c->dim / c->n_heads);
    cJSON_AddNumberToObject(j, "vocab_size", c->vocab_size);
    cJSON_AddNumberToObject(j, "max_position_embeddings", c->seq_len);
    add_float(j, "rms_norm_eps", c->norm_eps);
    add_float(j, "rope_theta", c->rope_theta);
    cJSON_AddItemToObject(j, "rope_scaling", rope_scaling(c));
    cJSON_AddBoolToObject(j, "tie_word_embeddings", c->tied_embeddings);
    cJSON_AddStringToObject(j, "hidden_act", "silu");
    cJSON_AddBoolToObject(j, "attention_bias", 0);
    cJSON_AddBoolToObject(j, "mlp_bias", 0);
    add_float(j, "attention_dropout", 0);
    cJSON_AddNumberToObject(j, "initializer_range", 0.02);
    cJSON_AddNumberToObject(j, "pretraining_tp", 1);
    cJSON_AddBoolToObject(j, "use_cache", 1);
    if (m->tok && herd_tokenizer_bos(m->tok) >= 0)
        cJSON_AddNumberToObject(j, "bos_token_id", herd_tokenizer_bos(m->tok));
    if (m->tok && herd_tokenizer_eos(m->tok) >= 0)
        cJSON_AddNumberToObject(j, "eos_token_id", herd_tokenizer_eos(m->tok));
    cJSON_AddStringToObject(j, "torch_dtype", torch_dtype(type));
}

herd_status herd_hf_write_config(const herd_model *m, const char *dir, herd_type type)
{
    herd_config c = m->cfg;
    if (m->w.rope_freqs.data) {
        herd_status s = herd_llama3_scaling_from_factors(&c, m->w.rope_freqs.data);
        if (s != HERD_OK)
            return herd_fail_prefix(s, "%s", m->path ? m->path : "the model");
    }
    cJSON *j = cJSON_CreateObject();
    if (!j)
        return herd_fail(HERD_E_NOMEM, "config.json: out of memory");
    add_config_keys(j, m, &c, type);
    herd_status s = herd_hf_write_json(dir, "config.json", j, 0);
    cJSON_Delete(j);
    return s;
}

/* A token's text for tokenizer_config.json, when the id has one. */
static void add_token(cJSON *j, const char *key, const herd_tokenizer *t, int id)
{
    const char *p = id >= 0 ? herd_token_piece(t, id) : NULL;
    if (p && *p)
        cJSON_AddStringToObject(j, key, p);
}

herd_status herd_hf_write_tokenizer_config(const herd_model *m, const char *dir)
{
    const herd_tokenizer *t = m->tok;
    int spm = herd_tokenizer_kind(t) == HERD_TOK_SPM;
    cJSON *j = cJSON_CreateObject();
    if (!j)
        return herd_fail(HERD_E_NOMEM, "tokenizer_config.json: out of memory");
    cJSON_AddBoolToObject(j, "add_bos_token", 1);
    cJSON_AddBoolToObject(j, "add_eos_token", 0);
    add_token(j, "bos_token", t, herd_tokenizer_bos(t));
    add_token(j, "eos_token", t, herd_tokenizer_eos(t));
    if (spm)
        add_token(j, "unk_token", t, herd_tokenizer_unk(t));
    cJSON_AddBoolToObject(j, "clean_up_tokenization_spaces", !spm);
    cJSON_AddNumberToObject(j, "model_max_length", m->cfg.seq_len);
    cJSON_AddStringToObject(j, "tokenizer_class",
                            spm ? "LlamaTokenizer" : "PreTrainedTokenizerFast");
    if (m->chat_template)
        cJSON_AddStringToObject(j, "chat_template", m->chat_template);
    herd_status s = herd_hf_write_json(dir, "tokenizer_config.json", j, 0);
    cJSON_Delete(j);
    return s;
}

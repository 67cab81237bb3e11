/* herd_load_hf: a Hugging Face Llama folder (config.json, safetensors
 * weights, optionally tokenizer.model) into a herd_model. Tensors point
 * into the mapped files; HF checkpoints rotate q/k halves, so the config
 * says HERD_ROPE_HF and no weight is permuted. Every tensor in the files
 * must be a Llama weight: a stray bias would otherwise be silently
 * ignored. */
#include "formats/hf.h"
#include "base/error.h"
#include "base/file.h"
#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *suffix;
    size_t field;
} layer_tensors[] = {
    {"input_layernorm.weight", offsetof(herd_layer_weights, attn_norm)},
    {"self_attn.q_proj.weight", offsetof(herd_layer_weights, wq)},
    {"self_attn.k_proj.weight", offsetof(herd_layer_weights, wk)},
    {"self_attn.v_proj.weight", offsetof(herd_layer_weights, wv)},
    {"self_attn.o_proj.weight", offsetof(herd_layer_weights, wo)},
    {"post_attention_layernorm.weight", offsetof(herd_layer_weights, ffn_norm)},
    {"mlp.gate_proj.weight", offsetof(herd_layer_weights, w1)},
    {"mlp.down_proj.weight", offsetof(herd_layer_weights, w2)},
    {"mlp.up_proj.weight", offsetof(herd_layer_weights, w3)},
};
#define N_LAYER_TENSORS (sizeof layer_tensors / sizeof *layer_tensors)

static const char *const top_tensors[] = {
    "model.embed_tokens.weight", "model.norm.weight", "lm_head.weight"};

/* Whether name is a weight of an n_layers Llama (or a buffer older
 * checkpoints saved, rotary_emb.inv_freq, which herd recomputes). */
static int known_tensor(const char *name, int n_layers)
{
    for (int i = 0; i < 3; i++)
        if (strcmp(name, top_tensors[i]) == 0)
            return 1;
    const char *inv = "rotary_emb.inv_freq";
    size_t n = strlen(name), k = strlen(inv);
    if (n >= k && strcmp(name + n - k, inv) == 0)
        return 1;
    const char *pre = "model.layers.";
    if (strncmp(name, pre, strlen(pre)) != 0)
        return 0;
    const char *p = name + strlen(pre);
    long l = 0;
    for (; *p >= '0' && *p <= '9' && l <= n_layers; p++)
        l = l * 10 + (*p - '0');
    if (p == name + strlen(pre) || *p != '.' || l >= n_layers)
        return 0;
    for (size_t i = 0; i < N_LAYER_TENSORS; i++)
        if (strcmp(p + 1, layer_tensors[i].suffix) == 0)
            return 1;
    return 0;
}

static herd_status check_names(const herd_hf_weights *w, int n_layers)
{
    for (int s = 0; s < w->n_shards; s++)
        for (int i = 0; i < w->shards[s].n_entries; i++) {
            const char *name = w->shards[s].entries[i].name;
            if (!known_tensor(name, n_layers))
                return herd_fail(HERD_E_UNSUPPORTED, "%s: tensor %s is not a weight of a "
                                 "%d-layer Llama", w->shards[s].path, name, n_layers);
        }
    return HERD_OK;
}

static herd_status take(const herd_hf_weights *w, herd_model *m, const char *name,
                        herd_tensor *t)
{
    int found;
    HERD_TRY(herd_hf_weight(w, name, t, &found));
    if (!found)
        return herd_fail(HERD_E_FORMAT, "%s: tensor %s is missing", w->where, name);
    return herd_st_align(t, &m->owned);
}

static herd_status take_all(const herd_hf_weights *w, herd_model *m)
{
    HERD_TRY(take(w, m, "model.embed_tokens.weight", &m->w.tok_embeddings));
    HERD_TRY(take(w, m, "model.norm.weight", &m->w.output_norm));
    if (!m->cfg.tied_embeddings) {
        herd_status s = take(w, m, "lm_head.weight", &m->w.output);
        if (s != HERD_OK)
            return herd_fail_prefix(s, "tie_word_embeddings is false");
    }
    for (int l = 0; l < m->cfg.n_layers; l++)
        for (size_t i = 0; i < N_LAYER_TENSORS; i++) {
            char name[128];
            snprintf(name, sizeof name, "model.layers.%d.%s", l, layer_tensors[i].suffix);
            herd_tensor *t = (herd_tensor *)((char *)&m->w.layers[l] + layer_tensors[i].field);
            HERD_TRY(take(w, m, name, t));
        }
    return HERD_OK;
}

/* tokenizer.model (SentencePiece for Llama 1/2, Meta's rank file for
 * Llama 3) when the folder has one, else tokenizer.json (byte-level BPE:
 * Llama 2's tokenizer.json is not byte-level, but its folders always carry
 * tokenizer.model too). Neither: no tokenizer. */
static herd_status load_tokenizer(const char *dir, herd_model *m)
{
    static const char *names[] = {"tokenizer.model", "tokenizer.json"};
    char path[HERD_HF_PATH];
    m->tok = NULL;
    for (int i = 0; i < 2; i++) {
        HERD_TRY(herd_path_join(path, sizeof path, dir, names[i]));
        if (!herd_file_exists(path))
            continue;
        herd_status s = herd_tokenizer_open(path, &m->tok);
        if (s != HERD_OK && !strstr(herd_last_error(), path))
            herd_fail_prefix(s, "%s", path);
        return s;
    }
    return HERD_OK;
}

/* tokenizer_config.json's chat_template: a string, or a list of
 * {"name", "template"} of which "default" is the one. Absent or another
 * shape: none. A file that is not JSON is an error. */
static herd_status load_chat_template(const char *dir, herd_model *m)
{
    char path[HERD_HF_PATH], *text;
    size_t size;
    HERD_TRY(herd_path_join(path, sizeof path, dir, "tokenizer_config.json"));
    if (!herd_file_exists(path))
        return HERD_OK;
    HERD_TRY(herd_read_file(path, &text, &size));
    cJSON *root = cJSON_ParseWithLength(text, size);
    free(text);
    if (!root)
        return herd_fail(HERD_E_FORMAT, "%s: not valid JSON", path);
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(root, "chat_template"), *item;
    const cJSON *list = cJSON_IsArray(t) ? t : NULL;
    cJSON_ArrayForEach(item, list) {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(item, "name");
        if (cJSON_IsString(name) && !strcmp(name->valuestring, "default")) {
            t = cJSON_GetObjectItemCaseSensitive(item, "template");
            break;
        }
    }
    herd_status s = HERD_OK;
    if (cJSON_IsString(t) && !(m->chat_template = strdup(t->valuestring)))
        s = herd_fail(HERD_E_NOMEM, "out of memory");
    cJSON_Delete(root);
    return s;
}

herd_status herd_load_hf(const char *dir, herd_model *m)
{
    HERD_TRY(herd_hf_read_config(dir, &m->cfg));
    HERD_TRY(herd_model_alloc_layers(m));
    herd_hf_weights w;
    HERD_TRY(herd_hf_weights_open(dir, &m->owned, &w));
    herd_status s = check_names(&w, m->cfg.n_layers);
    if (s == HERD_OK)
        s = take_all(&w, m);
    herd_hf_weights_close(&w);
    HERD_TRY(s);
    HERD_TRY(load_chat_template(dir, m));
    return load_tokenizer(dir, m);
}

/* A Hugging Face config.json into a herd_config. Keys a Llama config may
 * leave out take transformers' LlamaConfig defaults (num_key_value_heads =
 * num_attention_heads, max_position_embeddings 2048, rms_norm_eps 1e-6,
 * rope_theta 10000, tie_word_embeddings false); rope_scaling "linear" and
 * "llama3" fill the config's scaling fields; options herd does not
 * implement (other scalings, biases, other activations) are refused rather
 * than ignored. */
#include "formats/hf.h"
#include "base/error.h"
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* NULL for a key that is absent or null. */
static const cJSON *get(const cJSON *j, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    return v && !cJSON_IsNull(v) ? v : NULL;
}

static herd_status get_int(const char *path, const cJSON *j, const char *key, int required,
                           int def, int *out)
{
    const cJSON *v = get(j, key);
    if (!v) {
        if (required)
            return herd_fail(HERD_E_FORMAT, "%s: missing key %s", path, key);
        *out = def;
        return HERD_OK;
    }
    double d = cJSON_IsNumber(v) ? v->valuedouble : 0;
    if (!cJSON_IsNumber(v) || !(d >= 1 && d <= INT_MAX) || d != floor(d))
        return herd_fail(HERD_E_FORMAT, "%s: %s is not a positive integer", path, key);
    *out = (int)d;
    return HERD_OK;
}

static herd_status get_real(const char *path, const cJSON *j, const char *key, float *out)
{
    const cJSON *v = get(j, key);
    if (!v)
        return HERD_OK;
    if (!cJSON_IsNumber(v) || !(v->valuedouble > 0) || !isfinite((float)v->valuedouble))
        return herd_fail(HERD_E_FORMAT, "%s: %s is not a positive number", path, key);
    *out = (float)v->valuedouble;
    return HERD_OK;
}

static herd_status get_bool(const char *path, const cJSON *j, const char *key, int *out)
{
    const cJSON *v = get(j, key);
    if (!v)
        return HERD_OK;
    if (!cJSON_IsBool(v))
        return herd_fail(HERD_E_FORMAT, "%s: %s is not true or false", path, key);
    *out = cJSON_IsTrue(v);
    return HERD_OK;
}

/* A string key that, when present, must equal want. */
static herd_status want_str(const char *path, const cJSON *j, const char *key,
                            const char *want)
{
    const cJSON *v = get(j, key);
    if (!v)
        return HERD_OK;
    if (!cJSON_IsString(v))
        return herd_fail(HERD_E_FORMAT, "%s: %s is not a string", path, key);
    if (strcmp(v->valuestring, want) != 0)
        return herd_fail(HERD_E_UNSUPPORTED, "%s: %s is \"%.60s\"; herd reads Llama models "
                         "(%s \"%s\")", path, key, v->valuestring, key, want);
    return HERD_OK;
}

/* A positive number inside rope_scaling, which must be there. */
static herd_status scaling_num(const char *path, const cJSON *rs, const char *key,
                               double *out)
{
    const cJSON *v = get(rs, key);
    if (!v)
        return herd_fail(HERD_E_FORMAT, "%s: rope_scaling has no %s", path, key);
    if (!cJSON_IsNumber(v) || !(v->valuedouble > 0) || !isfinite((float)v->valuedouble))
        return herd_fail(HERD_E_FORMAT, "%s: rope_scaling.%s is not a positive number", path,
                         key);
    *out = v->valuedouble;
    return HERD_OK;
}

/* rope_scaling as transformers reads it for Llama: {"rope_type" (or the
 * older "type"): "default" | "linear" | "llama3", "factor", and for llama3
 * "low_freq_factor", "high_freq_factor", "original_max_position_embeddings"}. */
static herd_status read_rope_scaling(const char *path, const cJSON *j, herd_config *c)
{
    const cJSON *rs = get(j, "rope_scaling");
    if (!rs)
        return HERD_OK;
    if (!cJSON_IsObject(rs))
        return herd_fail(HERD_E_FORMAT, "%s: rope_scaling is not an object", path);
    const cJSON *t = get(rs, "rope_type");
    if (!t)
        t = get(rs, "type");
    if (!cJSON_IsString(t))
        return herd_fail(HERD_E_FORMAT, "%s: rope_scaling has no rope_type string", path);
    const char *type = t->valuestring;
    if (strcmp(type, "default") == 0)
        return HERD_OK;
    int linear = strcmp(type, "linear") == 0;
    if (!linear && strcmp(type, "llama3") != 0)
        return herd_fail(HERD_E_UNSUPPORTED, "%s: rope_scaling type \"%.40s\" is not "
                         "supported (herd has linear and llama3)", path, type);
    double factor, lo, hi, orig;
    HERD_TRY(scaling_num(path, rs, "factor", &factor));
    c->rope_scaling = linear ? HERD_ROPE_SCALING_LINEAR : HERD_ROPE_SCALING_LLAMA3;
    c->rope_factor = (float)factor;
    if (linear)
        return HERD_OK;
    HERD_TRY(scaling_num(path, rs, "low_freq_factor", &lo));
    HERD_TRY(scaling_num(path, rs, "high_freq_factor", &hi));
    HERD_TRY(scaling_num(path, rs, "original_max_position_embeddings", &orig));
    if (orig != floor(orig) || orig > INT_MAX)
        return herd_fail(HERD_E_FORMAT, "%s: rope_scaling.original_max_position_embeddings "
                         "is not an integer", path);
    c->rope_low_freq_factor = (float)lo;
    c->rope_high_freq_factor = (float)hi;
    c->rope_orig_ctx = (int)orig;
    return HERD_OK;
}

/* What the model needs that herd does not do. */
static herd_status refuse_options(const char *path, const cJSON *j, const herd_config *c)
{
    HERD_TRY(want_str(path, j, "hidden_act", "silu"));
    const char *bias[] = {"attention_bias", "mlp_bias"};
    for (int i = 0; i < 2; i++) {
        int on = 0;
        HERD_TRY(get_bool(path, j, bias[i], &on));
        if (on)
            return herd_fail(HERD_E_UNSUPPORTED, "%s: %s is true; herd's Llama has no biases",
                             path, bias[i]);
    }
    int hd = c->n_heads > 0 ? c->dim / c->n_heads : 0;
    HERD_TRY(get_int(path, j, "head_dim", 0, hd, &hd));
    if (c->n_heads > 0 && hd != c->dim / c->n_heads)
        return herd_fail(HERD_E_UNSUPPORTED, "%s: head_dim %d is not hidden_size / "
                         "num_attention_heads = %d", path, hd, c->dim / c->n_heads);
    return HERD_OK;
}

static herd_status read_keys(const char *path, const cJSON *j, herd_config *c)
{
    HERD_TRY(want_str(path, j, "model_type", "llama"));
    HERD_TRY(get_int(path, j, "hidden_size", 1, 0, &c->dim));
    HERD_TRY(get_int(path, j, "intermediate_size", 1, 0, &c->hidden_dim));
    HERD_TRY(get_int(path, j, "num_hidden_layers", 1, 0, &c->n_layers));
    HERD_TRY(get_int(path, j, "num_attention_heads", 1, 0, &c->n_heads));
    HERD_TRY(get_int(path, j, "num_key_value_heads", 0, c->n_heads, &c->n_kv_heads));
    HERD_TRY(get_int(path, j, "vocab_size", 1, 0, &c->vocab_size));
    HERD_TRY(get_int(path, j, "max_position_embeddings", 0, 2048, &c->seq_len));
    c->norm_eps = 1e-6f;
    HERD_TRY(get_real(path, j, "rms_norm_eps", &c->norm_eps));
    c->rope_theta = 10000.0f;
    HERD_TRY(get_real(path, j, "rope_theta", &c->rope_theta));
    c->tied_embeddings = 0;
    HERD_TRY(get_bool(path, j, "tie_word_embeddings", &c->tied_embeddings));
    HERD_TRY(read_rope_scaling(path, j, c));
    HERD_TRY(refuse_options(path, j, c));
    c->rope_layout = HERD_ROPE_HF;
    herd_status s = herd_config_check(c);
    return s == HERD_OK ? s : herd_fail_prefix(s, "%s", path);
}

herd_status herd_hf_read_config(const char *dir, herd_config *c)
{
    char path[HERD_HF_PATH];
    HERD_TRY(herd_path_join(path, sizeof path, dir, "config.json"));
    herd_config_defaults(c);
    if (!herd_file_exists(path))
        return herd_fail(HERD_E_IO, "%s: no such file: %s is not a Hugging Face model folder",
                         path, dir);
    char *text;
    size_t size;
    HERD_TRY(herd_read_file(path, &text, &size));
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithOpts(text, &end, 1);
    herd_status s = HERD_OK;
    if (!j)
        s = herd_fail(HERD_E_FORMAT, "%s: not valid JSON (near byte %td)", path,
                      end ? end - text : (ptrdiff_t)0);
    else if (!cJSON_IsObject(j))
        s = herd_fail(HERD_E_FORMAT, "%s: not a JSON object", path);
    else
        s = read_keys(path, j, c);
    cJSON_Delete(j);
    free(text);
    return s;
}

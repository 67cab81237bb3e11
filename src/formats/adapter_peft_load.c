/* Reading a Hugging Face PEFT LoRA folder (formats/adapter.h):
 * adapter_config.json for r and lora_alpha (and the options herd cannot
 * honour, refused), adapter_model.safetensors for the matrices, each
 * checked against the model's config; q_proj / k_proj lora_B rows go back
 * from Hugging Face's rotary order to Meta's. */
#include "formats/adapter.h"
#include "formats/safetensors.h"
#include "base/error.h"
#include "base/file.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const prefixes[2] = {"base_model.model.model.layers.",
                                        "base_model.model.layers."};

/* PREFIX L.<hf matrix>.lora_A|B.weight: *l, *i, *is_b; 0 if not. */
static int parse_name(const char *name, int *l, int *i, int *is_b)
{
    const char *p = NULL;
    for (int k = 0; k < 2 && !p; k++)
        if (strncmp(name, prefixes[k], strlen(prefixes[k])) == 0)
            p = name + strlen(prefixes[k]);
    if (!p || *p < '0' || *p > '9' || (*p == '0' && p[1] != '.'))
        return 0;
    char *end;
    long v = strtol(p, &end, 10);
    if (v > 100000 || *end != '.')
        return 0;
    for (int k = 0; k < HERD_LORA_MATS; k++) {
        size_t n = strlen(herd_lora_hf_names[k]);
        if (strncmp(end + 1, herd_lora_hf_names[k], n) != 0)
            continue;
        const char *rest = end + 1 + n;
        if (strcmp(rest, ".lora_A.weight") != 0 && strcmp(rest, ".lora_B.weight") != 0)
            continue;
        *l = (int)v;
        *i = k;
        *is_b = rest[6] == 'B';
        return 1;
    }
    return 0;
}

static int is_true(const cJSON *j, const char *key)
{
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, key));
}

static int nonempty_object(const cJSON *j, const char *key)
{
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(j, key);
    return cJSON_IsObject(o) && o->child;
}

/* r and the alpha that gives PEFT's scale as alpha / r. */
static herd_status read_params(const cJSON *j, const char *path, int *r, float *alpha)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "peft_type");
    if (t && (!cJSON_IsString(t) || strcmp(t->valuestring, "LORA") != 0))
        return herd_fail(HERD_E_UNSUPPORTED, "%s: peft_type is not \"LORA\"", path);
    const cJSON *jr = cJSON_GetObjectItemCaseSensitive(j, "r");
    const cJSON *ja = cJSON_GetObjectItemCaseSensitive(j, "lora_alpha");
    if (!jr || !ja)
        return herd_fail(HERD_E_FORMAT, "%s: missing %s", path, jr ? "lora_alpha" : "r");
    double v = cJSON_IsNumber(jr) ? jr->valuedouble : 0;
    if (v < 1 || v > 1e6 || v != floor(v))
        return herd_fail(HERD_E_FORMAT, "%s: r is not a positive integer", path);
    *r = (int)v;
    if (!cJSON_IsNumber(ja) || !(ja->valuedouble > 0) || ja->valuedouble > 1e30)
        return herd_fail(HERD_E_FORMAT, "%s: lora_alpha is not a positive number", path);
    *alpha = (float)ja->valuedouble;
    if (is_true(j, "use_rslora")) /* scale alpha / sqrt(r) */
        *alpha = (float)(ja->valuedouble * sqrt((double)*r));
    const char *no = is_true(j, "use_dora") ? "use_dora (DoRA)"
                     : is_true(j, "fan_in_fan_out") ? "fan_in_fan_out"
                     : nonempty_object(j, "rank_pattern") ? "rank_pattern"
                     : nonempty_object(j, "alpha_pattern") ? "alpha_pattern" : NULL;
    if (no)
        return herd_fail(HERD_E_UNSUPPORTED, "%s: herd does not read adapters with %s", path,
                         no);
    return HERD_OK;
}

static herd_status read_config(const char *dir, int *r, float *alpha)
{
    char path[4096];
    HERD_TRY(herd_path_join(path, sizeof path, dir, "adapter_config.json"));
    if (!herd_file_exists(path))
        return herd_fail(HERD_E_IO, "%s: no adapter_config.json (not a PEFT adapter folder)",
                         dir);
    char *text;
    size_t n;
    HERD_TRY(herd_read_file(path, &text, &n));
    cJSON *j = cJSON_ParseWithLength(text, n);
    free(text);
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return herd_fail(HERD_E_FORMAT, "%s: not a JSON object", path);
    }
    herd_status s = read_params(j, path, r, alpha);
    cJSON_Delete(j);
    return s;
}

/* Checks one entry against cfg and r; *l, *i, *is_b from its name. */
static herd_status check_entry(const herd_st_entry *e, const herd_config *cfg, int r,
                               const char *path, int *l, int *i, int *is_b)
{
    if (!parse_name(e->name, l, i, is_b))
        return herd_fail(HERD_E_UNSUPPORTED, "%s: unknown tensor %s (herd reads the "
                         "lora_A/lora_B of q/k/v/o_proj and gate/up/down_proj)", path, e->name);
    if (*l >= cfg->n_layers)
        return herd_fail(HERD_E_ARG, "%s: adapter for a different base model: %s, the model "
                         "has %d layers", path, e->name, cfg->n_layers);
    int out, in;
    herd_lora_shape(cfg, *i, &out, &in);
    int64_t want0 = *is_b ? out : r, want1 = *is_b ? r : in;
    if (e->n_dims != 2)
        return herd_fail(HERD_E_FORMAT, "%s: %s has %d dimensions, want 2", path, e->name,
                         e->n_dims);
    int64_t rank = *is_b ? e->shape[1] : e->shape[0];
    if (rank != r)
        return herd_fail(HERD_E_FORMAT, "%s: %s has rank %lld, adapter_config.json says "
                         "r = %d", path, e->name, (long long)rank, r);
    if (e->shape[0] != want0 || e->shape[1] != want1)
        return herd_fail(HERD_E_ARG, "%s: adapter for a different base model: %s is "
                         "[%lld, %lld], the model's [%lld, %lld]", path, e->name,
                         (long long)e->shape[0], (long long)e->shape[1], (long long)want0,
                         (long long)want1);
    return HERD_OK;
}

static herd_status fill(herd_adapter *a, const herd_st_file *f, const herd_config *cfg,
                        const char *path)
{
    int hd = cfg->dim / cfg->n_heads;
    for (int k = 0; k < f->n_entries; k++) {
        const herd_st_entry *e = &f->entries[k];
        int l, i, is_b, found;
        HERD_TRY(check_entry(e, cfg, a->r, path, &l, &i, &is_b));
        herd_lora_w *w = &a->w[l * HERD_LORA_MATS + i];
        if (!w->a) {
            herd_lora_shape(cfg, i, &w->out, &w->in);
            HERD_TRY(herd_adapter_alloc_w(a, l, i, w->out, w->in));
        }
        herd_tensor t;
        HERD_TRY(herd_st_tensor(f, e->name, &t, &found));
        herd_adapter_to_f32(is_b ? w->b : w->a, t.data, t.type, (size_t)(t.rows * t.cols));
        if (is_b && i <= 1)
            HERD_TRY(herd_lora_permute_b(w->b, w->out, a->r, hd, 0));
    }
    return HERD_OK;
}

/* Every matrix with an A has its B and the other way round. */
static herd_status check_pairs(const herd_adapter *a, const herd_st_file *f, const char *path)
{
    int *seen = calloc((size_t)a->n_layers * HERD_LORA_MATS, sizeof *seen);
    if (!seen)
        return herd_fail(HERD_E_NOMEM, "out of memory");
    for (int k = 0; k < f->n_entries; k++) {
        int l, i, is_b;
        parse_name(f->entries[k].name, &l, &i, &is_b);
        seen[l * HERD_LORA_MATS + i] |= is_b ? 2 : 1;
    }
    herd_status s = HERD_OK;
    for (int k = 0; k < a->n_layers * HERD_LORA_MATS && s == HERD_OK; k++)
        if (seen[k] == 1 || seen[k] == 2)
            s = herd_fail(HERD_E_FORMAT, "%s: layer %d %s has a lora_%c without its lora_%c",
                          path, k / HERD_LORA_MATS, herd_lora_hf_names[k % HERD_LORA_MATS],
                          seen[k] == 1 ? 'A' : 'B', seen[k] == 1 ? 'B' : 'A');
    free(seen);
    return s;
}

static herd_status load(const herd_st_file *f, const herd_config *cfg, int r, float alpha,
                        const char *path, herd_adapter **out)
{
    if (f->n_entries == 0)
        return herd_fail(HERD_E_FORMAT, "%s: no tensors", path);
    herd_adapter *a;
    HERD_TRY(herd_adapter_empty(cfg->n_layers, r, alpha, &a));
    herd_status s = fill(a, f, cfg, path);
    if (s == HERD_OK)
        s = check_pairs(a, f, path);
    for (int k = 0; s == HERD_OK && k < a->n_layers * HERD_LORA_MATS; k++)
        if (!a->w[k].a)
            herd_lora_shape(cfg, k % HERD_LORA_MATS, &a->w[k].out, &a->w[k].in);
    if (s != HERD_OK) {
        herd_adapter_free(a);
        return s;
    }
    *out = a;
    return HERD_OK;
}

herd_status herd_adapter_load_peft(const char *dir, const herd_config *cfg, herd_adapter **out)
{
    *out = NULL;
    if (cfg->n_layers < 1 || cfg->n_heads < 1 || cfg->dim % cfg->n_heads != 0 ||
        cfg->dim / cfg->n_heads % 2)
        return herd_fail(HERD_E_ARG, "%s: the model's config has no even head_dim", dir);
    int r = 0;
    float alpha = 0;
    HERD_TRY(read_config(dir, &r, &alpha));
    char path[4096];
    HERD_TRY(herd_path_join(path, sizeof path, dir, "adapter_model.safetensors"));
    if (!herd_file_exists(path)) {
        char bin[4096];
        HERD_TRY(herd_path_join(bin, sizeof bin, dir, "adapter_model.bin"));
        if (herd_file_exists(bin))
            return herd_fail(HERD_E_UNSUPPORTED, "%s: herd reads adapter_model.safetensors, "
                             "not PyTorch's pickled adapter_model.bin", dir);
        return herd_fail(HERD_E_IO, "%s: no adapter_model.safetensors", dir);
    }
    herd_st_file f;
    HERD_TRY(herd_st_open(path, &f));
    herd_status s = load(&f, cfg, r, alpha, path, out);
    herd_st_close(&f);
    return s;
}

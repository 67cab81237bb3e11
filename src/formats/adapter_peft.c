/* Writing a LoRA adapter as a Hugging Face PEFT folder (formats/adapter.h):
 * adapter_model.safetensors with PEFT's tensor names (q_proj / k_proj
 * lora_B rows permuted to Hugging Face's rotary order) and
 * adapter_config.json with the fields peft's LoraConfig reads. Each file is
 * written to NAME.tmp and renamed. */
#include "formats/adapter.h"
#include "formats/safetensors.h"
#include "base/error.h"
#include "base/file.h"
#include "base/half.h"
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define PREFIX "base_model.model.model.layers."

static const char *const short_names[HERD_LORA_MATS] = {
    "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"};

/* A float as the shortest decimal that reads back as the same float. */
static cJSON *float_number(float f)
{
    char buf[32];
    for (int p = 1; p <= 9; p++) {
        snprintf(buf, sizeof buf, "%.*g", p, (double)f);
        if ((float)strtod(buf, NULL) == f)
            break;
    }
    return cJSON_CreateNumber(strtod(buf, NULL));
}

/* Layers with any matrix, as a JSON list, or null when all have one. */
static cJSON *layers_list(const herd_adapter *a)
{
    cJSON *list = cJSON_CreateArray();
    int all = 1;
    for (int l = 0; list && l < a->n_layers; l++) {
        int any = 0;
        for (int i = 0; i < HERD_LORA_MATS; i++)
            any |= a->w[l * HERD_LORA_MATS + i].a != NULL;
        if (any)
            cJSON_AddItemToArray(list, cJSON_CreateNumber(l));
        all &= any;
    }
    if (!all)
        return list;
    cJSON_Delete(list);
    return cJSON_CreateNull();
}

static cJSON *config_json(const herd_adapter *a, const char *base_name, float dropout)
{
    cJSON *j = cJSON_CreateObject(), *t = cJSON_CreateArray();
    if (!j || !t) {
        cJSON_Delete(j);
        cJSON_Delete(t);
        return NULL;
    }
    for (int i = 0; i < HERD_LORA_MATS; i++) {
        int any = 0; /* the matrices some layer has (not just targets' bits) */
        for (int l = 0; l < a->n_layers; l++)
            any |= a->w[l * HERD_LORA_MATS + i].a != NULL;
        if (any)
            cJSON_AddItemToArray(t, cJSON_CreateString(short_names[i]));
    }
    cJSON_AddItemToObject(j, "alpha_pattern", cJSON_CreateObject());
    cJSON_AddItemToObject(j, "base_model_name_or_path",
                          base_name ? cJSON_CreateString(base_name) : cJSON_CreateNull());
    cJSON_AddStringToObject(j, "bias", "none");
    cJSON_AddFalseToObject(j, "fan_in_fan_out");
    cJSON_AddTrueToObject(j, "inference_mode");
    cJSON_AddTrueToObject(j, "init_lora_weights");
    cJSON_AddNullToObject(j, "layers_pattern");
    cJSON_AddItemToObject(j, "layers_to_transform", layers_list(a));
    cJSON_AddItemToObject(j, "lora_alpha", float_number(a->alpha));
    cJSON_AddItemToObject(j, "lora_dropout", float_number(dropout));
    cJSON_AddNullToObject(j, "modules_to_save");
    cJSON_AddStringToObject(j, "peft_type", "LORA");
    cJSON_AddNumberToObject(j, "r", a->r);
    cJSON_AddItemToObject(j, "rank_pattern", cJSON_CreateObject());
    cJSON_AddNullToObject(j, "revision");
    cJSON_AddItemToObject(j, "target_modules", t);
    cJSON_AddStringToObject(j, "task_type", "CAUSAL_LM");
    cJSON_AddFalseToObject(j, "use_dora");
    cJSON_AddFalseToObject(j, "use_rslora");
    return j;
}

static herd_status write_config(const herd_adapter *a, const char *dir, const char *base_name,
                                float dropout)
{
    char path[4096];
    HERD_TRY(herd_path_join(path, sizeof path, dir, "adapter_config.json"));
    cJSON *j = config_json(a, base_name, dropout);
    char *s = j ? cJSON_Print(j) : NULL;
    cJSON_Delete(j);
    if (!s)
        return herd_fail(HERD_E_NOMEM, "%s: out of memory", path);
    size_t n = strlen(s);
    s[n] = '\n'; /* over the NUL: the file ends with a newline */
    herd_status st = herd_write_file_atomic(path, s, n + 1);
    free(s);
    return st;
}

/* n floats of x as type t in a new buffer; with hd > 0 x is a q/k B of
 * out rows, whose rows go to Hugging Face's order on the way. */
static void *stored(const float *x, size_t n, herd_type t, int out, int r, int hd)
{
    float *y = malloc(n * sizeof *y);
    if (!y)
        return NULL;
    memcpy(y, x, n * sizeof *y);
    if (hd && herd_lora_permute_b(y, out, r, hd, 1) != HERD_OK) {
        free(y);
        return NULL;
    }
    if (t == HERD_TYPE_F32)
        return y;
    uint16_t *h = malloc(n * sizeof *h);
    for (size_t k = 0; h && k < n; k++)
        h[k] = herd_f32_to_f16(y[k]);
    free(y);
    return h;
}

typedef struct {
    herd_st_tensor_out *t;
    char (*names)[96];
    int n;
} tensor_set;

/* Adds the lora_A and lora_B of matrix i of layer l (q/k B rows permuted
 * with head_dim hd). The data buffers are the set's. */
static herd_status add_pair(tensor_set *s, const herd_adapter *a, int l, int i, int hd,
                            herd_type type)
{
    const herd_lora_w *w = &a->w[l * HERD_LORA_MATS + i];
    for (int k = 0; k < 2; k++) {
        herd_st_tensor_out *t = &s->t[s->n];
        snprintf(s->names[s->n], sizeof s->names[0], PREFIX "%d.%s.lora_%c.weight", l,
                 herd_lora_hf_names[i], k ? 'B' : 'A');
        t->name = s->names[s->n];
        t->type = type;
        t->n_dims = 2;
        t->shape[0] = k ? w->out : a->r;
        t->shape[1] = k ? a->r : w->in;
        t->data = stored(k ? w->b : w->a, (size_t)t->shape[0] * (size_t)t->shape[1], type,
                         w->out, a->r, k && i <= 1 ? hd : 0);
        if (!t->data)
            return herd_fail(HERD_E_NOMEM, "out of memory");
        s->n++;
    }
    return HERD_OK;
}

static herd_status check_out(const herd_adapter *a, const herd_config *cfg, const char *dir,
                             herd_type type)
{
    if (type != HERD_TYPE_F32 && type != HERD_TYPE_F16)
        return herd_fail(HERD_E_ARG, "%s: adapters are written as F32 or F16", dir);
    int any = 0;
    for (int k = 0; a->w && k < a->n_layers * HERD_LORA_MATS; k++)
        any |= a->w[k].a != NULL;
    if (a->r < 1 || !(a->alpha > 0) || !any)
        return herd_fail(HERD_E_ARG, "%s: adapter with rank %d, alpha %g, no matrices", dir,
                         a->r, a->alpha);
    if (cfg->n_heads < 1 || cfg->dim % cfg->n_heads != 0 || cfg->dim / cfg->n_heads % 2)
        return herd_fail(HERD_E_ARG, "%s: the model's config has no even head_dim", dir);
    for (int k = 0; k < a->n_layers * HERD_LORA_MATS; k++)
        if (!a->w[k].a != !a->w[k].b)
            return herd_fail(HERD_E_ARG, "%s: blk.%d.%s: an A without a B", dir,
                             k / HERD_LORA_MATS, herd_lora_mat_names[k % HERD_LORA_MATS]);
    HERD_TRY(herd_adapter_fits(a, cfg, dir));
    struct stat st;
    if (stat(dir, &st) == 0 && !S_ISDIR(st.st_mode))
        return herd_fail(HERD_E_ARG, "%s exists and is not a folder", dir);
    if (stat(dir, &st) != 0 && mkdir(dir, 0777) != 0)
        return herd_fail(HERD_E_IO, "%s: cannot create the folder: %s", dir, strerror(errno));
    return HERD_OK;
}

herd_status herd_adapter_save_peft_opts(const herd_adapter *a, const herd_config *cfg,
                                        const char *dir, const char *base_name,
                                        const herd_adapter_save_opts *o)
{
    herd_type type = o ? o->type : HERD_TYPE_F32;
    HERD_TRY(check_out(a, cfg, dir, type));
    int hd = cfg->dim / cfg->n_heads, max = a->n_layers * HERD_LORA_MATS * 2;
    tensor_set s = {calloc((size_t)max, sizeof *s.t), calloc((size_t)max, sizeof *s.names), 0};
    herd_status st = s.t && s.names ? HERD_OK : herd_fail(HERD_E_NOMEM, "out of memory");
    for (int l = 0; st == HERD_OK && l < a->n_layers; l++)
        for (int i = 0; st == HERD_OK && i < HERD_LORA_MATS; i++)
            if (a->w[l * HERD_LORA_MATS + i].a)
                st = add_pair(&s, a, l, i, hd, type);
    char path[4096];
    if (st == HERD_OK)
        st = herd_path_join(path, sizeof path, dir, "adapter_model.safetensors");
    cJSON *meta = cJSON_CreateObject();
    if (st == HERD_OK && (!meta || !cJSON_AddStringToObject(meta, "format", "pt")))
        st = herd_fail(HERD_E_NOMEM, "out of memory");
    if (st == HERD_OK)
        st = herd_st_write(path, s.t, s.n, meta);
    if (st == HERD_OK)
        st = write_config(a, dir, base_name, o ? o->dropout : 0.0f);
    cJSON_Delete(meta);
    for (int k = 0; s.t && k < s.n; k++)
        free((void *)s.t[k].data);
    free(s.t);
    free(s.names);
    return st;
}

herd_status herd_adapter_save_peft(const herd_adapter *a, const herd_config *cfg,
                                   const char *dir, const char *base_name)
{
    return herd_adapter_save_peft_opts(a, cfg, dir, base_name, NULL);
}

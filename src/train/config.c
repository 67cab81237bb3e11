/* herd train's JSON config: every key, its type and its range. */
#include "train/trainer.h"
#include "base/error.h"
#include "base/file.h"
#include "model/model.h"
#include "train/json_config.h"
#include <stddef.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void herd_train_opts_defaults(herd_train_opts *o)
{
    memset(o, 0, sizeof *o);
    o->model.norm_eps = 1e-5f;
    o->model.rope_theta = 10000.0f;
    o->model.tied_embeddings = 1;
    snprintf(o->out_dir, sizeof o->out_dir, "out");
    o->batch_size = 8;
    o->grad_accum = 1;
    o->steps = 1000;
    o->warmup = 100;
    o->lr = 3e-4f;
    o->min_lr_ratio = 0.1f;
    o->grad_clip = 1.0f;
    o->adamw = herd_adamw_defaults();
    o->eval_every = 100;
    o->eval_batches = 8;
    o->save_every = 500;
    o->seed = 1337;
    o->threads = 0;
    snprintf(o->method, sizeof o->method, "full");
    o->lora = (herd_lora_params){8, 16.0f, 0.05f, HERD_LORA_Q | HERD_LORA_V, 0};
    snprintf(o->chat_template, sizeof o->chat_template, "auto");
}

/* Finetuning keys. */
static int finetune_key(const cJSON *v, herd_train_opts *o, herd_status *st)
{
    const char *k = v->string;
    double d;
    if (!strcmp(k, "method")) {
        if (!cJSON_IsString(v) || (strcmp(v->valuestring, "full") && strcmp(v->valuestring, "lora") &&
                                   strcmp(v->valuestring, "qlora")))
            *st = herd_fail(HERD_E_ARG, "config: \"method\" must be full, lora or qlora");
        else
            snprintf(o->method, sizeof o->method, "%s", v->valuestring);
    } else if (!strcmp(k, "chat_template")) {
        *st = herd_cfg_template(v, o->chat_template, sizeof o->chat_template);
    } else if (!strcmp(k, "lora_r")) {
        if ((*st = herd_cfg_num(v, 1, 65536, &d)) == HERD_OK)
            o->lora.r = (int)d;
    } else if (!strcmp(k, "lora_alpha")) {
        if ((*st = herd_cfg_num(v, 1e-6, 1e6, &d)) == HERD_OK)
            o->lora.alpha = (float)d;
    } else if (!strcmp(k, "lora_dropout")) {
        if ((*st = herd_cfg_num(v, 0, 0.999, &d)) == HERD_OK)
            o->lora.dropout = (float)d;
    } else if (!strcmp(k, "lora_targets")) {
        *st = herd_cfg_lora_targets(v, &o->lora.targets);
    } else if (!strcmp(k, "truncate") || !strcmp(k, "skip_bad")) {
        *st = herd_cfg_bool(v, !strcmp(k, "truncate") ? &o->truncate : &o->skip_bad);
    } else if (!strcmp(k, "rope_scaling")) {
        if (!cJSON_IsString(v) || (strcmp(v->valuestring, "linear") && strcmp(v->valuestring, "none")))
            *st = herd_fail(HERD_E_ARG, "config: \"rope_scaling\" must be linear or none");
        else
            o->rope_scaling = strcmp(v->valuestring, "linear") ? HERD_ROPE_SCALING_NONE
                                                               : HERD_ROPE_SCALING_LINEAR;
    } else if (!strcmp(k, "rope_factor")) {
        if ((*st = herd_cfg_num(v, 1, 1024, &d)) == HERD_OK)
            o->rope_factor = (float)d;
    } else {
        return 0;
    }
    return 1;
}

/* The "model" object: a preset and/or shape fields. */
static herd_status model_key(const cJSON *v, herd_config *c)
{
    const char *k = v->string;
    double d;
    if (!strcmp(k, "preset")) {
        if (!cJSON_IsString(v) || !herd_preset(v->valuestring))
            return herd_fail(HERD_E_ARG, "config: model.preset: unknown preset %s%s%s "
                             "(herd info --presets lists them)", cJSON_IsString(v) ? "'" : "",
                             cJSON_IsString(v) ? v->valuestring : "", cJSON_IsString(v) ? "'" : "");
        *c = *herd_preset(v->valuestring);
        return HERD_OK;
    }
    static const struct { const char *key; size_t off; double lo, hi; int is_float; } f[] = {
#define I(name, lo, hi) {#name, offsetof(herd_config, name), lo, hi, 0}
        I(dim, 2, 65536), I(hidden_dim, 1, 1 << 20), I(n_layers, 1, 1024),
        I(n_heads, 1, 1024), I(n_kv_heads, 1, 1024), I(vocab_size, 1, 1 << 24),
        I(seq_len, 1, 1 << 20),
        {"norm_eps", offsetof(herd_config, norm_eps), 1e-12, 1, 1},
        {"rope_theta", offsetof(herd_config, rope_theta), 1, 1e9, 1},
        {"tied", offsetof(herd_config, tied_embeddings), 0, 1, 0},
#undef I
    };
    for (size_t i = 0; i < sizeof f / sizeof *f; i++) {
        if (strcmp(k, f[i].key))
            continue;
        if (!strcmp(k, "tied") && cJSON_IsBool(v))
            d = cJSON_IsTrue(v);
        else
            HERD_TRY(herd_cfg_num(v, f[i].lo, f[i].hi, &d));
        if (f[i].is_float)
            *(float *)((char *)c + f[i].off) = (float)d;
        else
            *(int *)((char *)c + f[i].off) = (int)d;
        return HERD_OK;
    }
    return herd_fail(HERD_E_ARG, "config: unknown key model.%s", k);
}

static herd_status top_key(const cJSON *v, void *opts)
{
    herd_train_opts *o = opts;
    const char *k = v->string;
    double d;
    if (!strcmp(k, "model")) {
        if (!cJSON_IsObject(v))
            return herd_fail(HERD_E_ARG, "config: \"model\" must be an object");
        for (const cJSON *m = v->child; m; m = m->next)  /* preset first, then overrides */
            if (!strcmp(m->string, "preset"))
                HERD_TRY(model_key(m, &o->model));
        for (const cJSON *m = v->child; m; m = m->next)
            if (strcmp(m->string, "preset"))
                HERD_TRY(model_key(m, &o->model));
        return HERD_OK;
    }
#define S(name) if (!strcmp(k, #name)) return herd_cfg_str(v, o->name, sizeof o->name)
    S(init); S(tokenizer); S(train_data); S(val_data); S(out_dir);
#undef S
#define N(name, lo, hi, type) if (!strcmp(k, #name)) { \
        HERD_TRY(herd_cfg_num(v, lo, hi, &d)); o->name = (type)d; return HERD_OK; }
    N(batch_size, 1, 1 << 16, int); N(seq_len, 1, 1 << 20, int); N(grad_accum, 1, 1 << 16, int);
    N(steps, 1, 1e12, int64_t); N(warmup, 0, 1e12, int64_t);
    N(lr, 0, 10, float); N(min_lr_ratio, 0, 1, float); N(grad_clip, 0, 1e9, float);
    N(eval_every, 0, 1e9, int); N(eval_batches, 1, 1e6, int); N(save_every, 0, 1e9, int);
    N(seed, 0, 9007199254740992.0, uint64_t); N(threads, 0, 1024, int);
#undef N
#define A(name, key, lo, hi) if (!strcmp(k, key)) { \
        HERD_TRY(herd_cfg_num(v, lo, hi, &d)); o->adamw.name = (float)d; return HERD_OK; }
    A(beta1, "beta1", 0, 0.999999); A(beta2, "beta2", 0, 0.999999); A(eps, "eps", 0, 1);
    A(weight_decay, "weight_decay", 0, 10);
#undef A
    herd_status fst = HERD_OK;
    if (finetune_key(v, o, &fst))
        return fst;
    if (!strcmp(k, "recompute"))
        return herd_cfg_bool(v, &o->recompute);
    return herd_fail(HERD_E_ARG, "config: unknown key \"%s\"", k);
}

herd_status herd_train_opts_load(const char *path, herd_train_opts *o)
{
    return herd_cfg_load(path, top_key, o);
}

herd_status herd_train_opts_check(const herd_train_opts *o)
{
    const herd_config *c = &o->model;
    if (c->dim <= 0 || c->n_layers <= 0 || c->n_heads <= 0)
        return herd_fail(HERD_E_ARG, "config: the model needs a preset or dim, n_layers "
                         "and n_heads");
    HERD_TRY(herd_config_check(c));
    if (o->seq_len > c->seq_len)
        return herd_fail(HERD_E_ARG, "config: seq_len %d is longer than the model's context "
                         "of %d", o->seq_len, c->seq_len);
    if (o->warmup > o->steps)
        return herd_fail(HERD_E_ARG, "config: warmup %lld is longer than steps %lld",
                         (long long)o->warmup, (long long)o->steps);
    if (!o->train_data[0])
        return herd_fail(HERD_E_ARG, "config: \"train_data\" is missing");
    return HERD_OK;
}

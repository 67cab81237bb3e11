/* herd train's JSON config: every key, its type and its range. */
#include "train/trainer.h"
#include "base/error.h"
#include "base/file.h"
#include "model/model.h"
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
}

static herd_status num(const cJSON *v, const char *key, double lo, double hi, double *out)
{
    if (!cJSON_IsNumber(v))
        return herd_fail(HERD_E_ARG, "config: \"%s\" must be a number", key);
    if (!(v->valuedouble >= lo && v->valuedouble <= hi))
        return herd_fail(HERD_E_ARG, "config: \"%s\" = %g is outside %g..%g", key,
                         v->valuedouble, lo, hi);
    *out = v->valuedouble;
    return HERD_OK;
}

static herd_status str(const cJSON *v, const char *key, char *out)
{
    if (!cJSON_IsString(v))
        return herd_fail(HERD_E_ARG, "config: \"%s\" must be a string", key);
    if (strlen(v->valuestring) >= HERD_PATH_MAX)
        return herd_fail(HERD_E_ARG, "config: \"%s\" is too long", key);
    strcpy(out, v->valuestring);
    return HERD_OK;
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
            HERD_TRY(num(v, k, f[i].lo, f[i].hi, &d));
        if (f[i].is_float)
            *(float *)((char *)c + f[i].off) = (float)d;
        else
            *(int *)((char *)c + f[i].off) = (int)d;
        return HERD_OK;
    }
    return herd_fail(HERD_E_ARG, "config: unknown key model.%s", k);
}

static herd_status top_key(const cJSON *v, herd_train_opts *o)
{
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
#define S(name) if (!strcmp(k, #name)) return str(v, k, o->name)
    S(init); S(tokenizer); S(train_data); S(val_data); S(out_dir);
#undef S
#define N(name, lo, hi, type) if (!strcmp(k, #name)) { \
        HERD_TRY(num(v, k, lo, hi, &d)); o->name = (type)d; return HERD_OK; }
    N(batch_size, 1, 1 << 16, int); N(seq_len, 1, 1 << 20, int); N(grad_accum, 1, 1 << 16, int);
    N(steps, 1, 1e12, int64_t); N(warmup, 0, 1e12, int64_t);
    N(lr, 0, 10, float); N(min_lr_ratio, 0, 1, float); N(grad_clip, 0, 1e9, float);
    N(eval_every, 0, 1e9, int); N(eval_batches, 1, 1e6, int); N(save_every, 0, 1e9, int);
    N(seed, 0, 9007199254740992.0, uint64_t); N(threads, 0, 1024, int);
#undef N
#define A(name, key, lo, hi) if (!strcmp(k, key)) { \
        HERD_TRY(num(v, k, lo, hi, &d)); o->adamw.name = (float)d; return HERD_OK; }
    A(beta1, "beta1", 0, 0.999999); A(beta2, "beta2", 0, 0.999999); A(eps, "eps", 0, 1);
    A(weight_decay, "weight_decay", 0, 10);
#undef A
    if (!strcmp(k, "recompute")) {
        if (!cJSON_IsBool(v))
            return herd_fail(HERD_E_ARG, "config: \"recompute\" must be true or false");
        o->recompute = cJSON_IsTrue(v);
        return HERD_OK;
    }
    return herd_fail(HERD_E_ARG, "config: unknown key \"%s\"", k);
}

herd_status herd_train_opts_load(const char *path, herd_train_opts *o)
{
    char *text;
    size_t len;
    HERD_TRY(herd_read_file(path, &text, &len));
    cJSON *j = cJSON_ParseWithLength(text, len);
    herd_status st = HERD_OK;
    if (!j || !cJSON_IsObject(j))
        st = herd_fail(HERD_E_FORMAT, "%s: not a JSON object (error near byte %ld)", path,
                       j ? 0L : (long)(cJSON_GetErrorPtr() - text));
    for (const cJSON *v = j ? j->child : NULL; st == HERD_OK && v; v = v->next)
        st = top_key(v, o);
    if (st != HERD_OK && st != HERD_E_FORMAT)
        herd_fail_prefix(st, "%s", path);
    cJSON_Delete(j);
    free(text);
    return st;
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

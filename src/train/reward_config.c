/* herd reward-train's JSON config: every key, its type and its range
 * (defaults after Llama 2's reward model recipe where it gives one: lr
 * 1e-5, cosine to 10%, warmup 3% of the steps, AdamW). */
#include "train/reward.h"
#include "base/error.h"
#include "base/file.h"
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void herd_reward_opts_defaults(herd_reward_opts *o)
{
    memset(o, 0, sizeof *o);
    snprintf(o->out_dir, sizeof o->out_dir, "out");
    snprintf(o->chat_template, sizeof o->chat_template, "auto");
    o->batch_size = 8;
    o->steps = 1000;
    o->warmup = -1;
    o->lr = 1e-5f;
    o->min_lr_ratio = 0.1f;
    o->grad_clip = 1.0f;
    o->adamw = herd_adamw_defaults();
    o->eval_every = 100;
    o->seed = 1337;
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

static herd_status str(const cJSON *v, const char *key, char *out, size_t cap)
{
    if (!cJSON_IsString(v))
        return herd_fail(HERD_E_ARG, "config: \"%s\" must be a string", key);
    if (strlen(v->valuestring) >= cap)
        return herd_fail(HERD_E_ARG, "config: \"%s\" is too long", key);
    strcpy(out, v->valuestring);
    return HERD_OK;
}

static herd_status template_key(const cJSON *v, herd_reward_opts *o)
{
    herd_chat_template t;
    if (!cJSON_IsString(v) || (strcmp(v->valuestring, "auto") && strcmp(v->valuestring, "none") &&
                               herd_chat_template_parse(v->valuestring, &t) != HERD_OK))
        return herd_fail(HERD_E_ARG, "config: \"chat_template\" must be auto, none, llama2 or "
                         "llama3");
    snprintf(o->chat_template, sizeof o->chat_template, "%s", v->valuestring);
    return HERD_OK;
}

static herd_status key(const cJSON *v, herd_reward_opts *o)
{
    const char *k = v->string;
    double d;
#define S(name) if (!strcmp(k, #name)) return str(v, k, o->name, sizeof o->name)
    S(init); S(tokenizer); S(train_data); S(val_data); S(out_dir);
#undef S
#define N(name, lo, hi, type) if (!strcmp(k, #name)) { \
        HERD_TRY(num(v, k, lo, hi, &d)); o->name = (type)d; return HERD_OK; }
    N(batch_size, 1, 1 << 16, int); N(seq_len, 2, 1 << 20, int);
    N(steps, 1, 1e12, int64_t); N(warmup, 0, 1e12, int64_t);
    N(lr, 0, 10, float); N(min_lr_ratio, 0, 1, float); N(grad_clip, 0, 1e9, float);
    N(eval_every, 0, 1e9, int); N(eval_pairs, 0, 1e9, int);
    N(seed, 0, 9007199254740992.0, uint64_t); N(threads, 0, 1024, int);
#undef N
#define A(name) if (!strcmp(k, #name)) { \
        HERD_TRY(num(v, k, 0, !strcmp(k, "weight_decay") ? 10 : 0.999999, &d)); \
        o->adamw.name = (float)d; return HERD_OK; }
    A(beta1); A(beta2); A(eps); A(weight_decay);
#undef A
    if (!strcmp(k, "chat_template"))
        return template_key(v, o);
    if (!strcmp(k, "skip_bad")) {
        if (!cJSON_IsBool(v))
            return herd_fail(HERD_E_ARG, "config: \"skip_bad\" must be true or false");
        o->skip_bad = cJSON_IsTrue(v);
        return HERD_OK;
    }
    return herd_fail(HERD_E_ARG, "config: unknown key \"%s\"", k);
}

herd_status herd_reward_opts_load(const char *path, herd_reward_opts *o)
{
    char *text;
    size_t len;
    HERD_TRY(herd_read_file(path, &text, &len));
    cJSON *j = cJSON_ParseWithLength(text, len);
    herd_status st = HERD_OK;
    if (!j || !cJSON_IsObject(j))
        st = herd_fail(HERD_E_FORMAT, "%s: not a JSON object", path);
    for (const cJSON *v = j ? j->child : NULL; st == HERD_OK && v; v = v->next)
        st = key(v, o);
    if (st == HERD_OK && !o->init[0])
        st = herd_fail(HERD_E_ARG, "config: \"init\" (the model to start from) is required");
    if (st == HERD_OK && !o->train_data[0])
        st = herd_fail(HERD_E_ARG, "config: \"train_data\" (preference JSONL) is required");
    if (st != HERD_OK && st != HERD_E_FORMAT)
        herd_fail_prefix(st, "%s", path);
    cJSON_Delete(j);
    free(text);
    return st;
}

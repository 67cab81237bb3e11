/* herd dpo's JSON config (dpo.h's herd_dpo_opts): every key, its type and
 * its range; anything else is an error naming the key. */
#include "train/dpo.h"
#include "base/error.h"
#include "train/json_config.h"
#include "base/file.h"
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void herd_dpo_opts_defaults(herd_dpo_opts *o)
{
    memset(o, 0, sizeof *o);
    snprintf(o->out_dir, sizeof o->out_dir, "out");
    snprintf(o->method, sizeof o->method, "full");
    o->lora = (herd_lora_params){8, 16.0f, 0.0f, HERD_LORA_Q | HERD_LORA_V, 0};
    snprintf(o->chat_template, sizeof o->chat_template, "auto");
    o->beta = 0.1;
    o->batch_size = 8;
    o->lr = 1e-5f;
    o->min_lr_ratio = 0.1f;
    o->grad_clip = 1.0f;
    o->adamw = herd_adamw_defaults();
    o->adamw.weight_decay = 0;
    o->seed = 1337;
}

/* The keys with a set of allowed words. */
static herd_status word_key(const cJSON *v, herd_dpo_opts *o, int *done)
{
    const char *k = v->string;
    const char *w = cJSON_IsString(v) ? v->valuestring : "";
    *done = 1;
    if (!strcmp(k, "method")) {
        if (strcmp(w, "full") && strcmp(w, "lora"))
            return herd_fail(HERD_E_ARG, "config: \"method\" must be full or lora");
        return herd_cfg_str(v, o->method, sizeof o->method);
    }
    if (!strcmp(k, "chat_template"))
        return herd_cfg_template(v, o->chat_template, sizeof o->chat_template);
    if (!strcmp(k, "skip_bad"))
        return herd_cfg_bool(v, &o->skip_bad);
    if (!strcmp(k, "lora_targets"))
        return herd_cfg_lora_targets(v, &o->lora.targets);
    *done = 0;
    return HERD_OK;
}

static herd_status top_key(const cJSON *v, void *opts)
{
    herd_dpo_opts *o = opts;
    const char *k = v->string;
    double d;
    int done;
#define S(name) if (!strcmp(k, #name)) return herd_cfg_str(v, o->name, sizeof o->name)
    S(init); S(ref); S(tokenizer); S(train_data); S(val_data); S(out_dir);
#undef S
#define N(field, key, lo, hi, type) if (!strcmp(k, key)) { \
        HERD_TRY(herd_cfg_num(v, lo, hi, &d)); o->field = (type)d; return HERD_OK; }
    N(beta, "beta", 1e-6, 1e6, double); N(batch_size, "batch_size", 1, 1 << 16, int);
    N(seq_len, "seq_len", 2, 1 << 20, int); N(steps, "steps", 1, 1e12, int64_t);
    N(warmup, "warmup", 0, 1e12, int64_t); N(lr, "lr", 0, 10, float);
    N(min_lr_ratio, "min_lr_ratio", 0, 1, float); N(grad_clip, "grad_clip", 0, 1e9, float);
    N(eval_every, "eval_every", 0, 1e9, int); N(seed, "seed", 0, 9007199254740992.0, uint64_t);
    N(threads, "threads", 0, 1024, int);
    N(adamw.beta1, "beta1", 0, 0.999999, float); N(adamw.beta2, "beta2", 0, 0.999999, float);
    N(adamw.eps, "eps", 0, 1, float); N(adamw.weight_decay, "weight_decay", 0, 10, float);
    N(lora.r, "lora_r", 1, 65536, int); N(lora.alpha, "lora_alpha", 1e-6, 1e6, float);
    N(lora.dropout, "lora_dropout", 0, 0.999, float);
#undef N
    HERD_TRY(word_key(v, o, &done));
    return done ? HERD_OK : herd_fail(HERD_E_ARG, "config: unknown key \"%s\"", k);
}

herd_status herd_dpo_opts_load(const char *path, herd_dpo_opts *o)
{
    HERD_TRY(herd_cfg_load(path, top_key, o));
    if (o->warmup > 0 && o->steps > 0 && o->warmup > o->steps)
        return herd_fail(HERD_E_ARG, "%s: config: warmup %lld is longer than steps %lld", path,
                         (long long)o->warmup, (long long)o->steps);
    return HERD_OK;
}

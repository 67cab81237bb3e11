/* herd reward-train's JSON config: every key, its type and its range
 * (defaults after Llama 2's reward model recipe where it gives one: lr
 * 1e-5, cosine to 10%, warmup 3% of the steps, AdamW). */
#include "train/reward.h"
#include "base/error.h"
#include "train/json_config.h"
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

static herd_status key(const cJSON *v, void *opts)
{
    herd_reward_opts *o = opts;
    const char *k = v->string;
    double d;
#define S(name) if (!strcmp(k, #name)) return herd_cfg_str(v, o->name, sizeof o->name)
    S(init); S(tokenizer); S(train_data); S(val_data); S(out_dir);
#undef S
#define N(name, lo, hi, type) if (!strcmp(k, #name)) { \
        HERD_TRY(herd_cfg_num(v, lo, hi, &d)); o->name = (type)d; return HERD_OK; }
    N(batch_size, 1, 1 << 16, int); N(seq_len, 2, 1 << 20, int);
    N(steps, 1, 1e12, int64_t); N(warmup, 0, 1e12, int64_t);
    N(lr, 0, 10, float); N(min_lr_ratio, 0, 1, float); N(grad_clip, 0, 1e9, float);
    N(eval_every, 0, 1e9, int); N(eval_pairs, 0, 1e9, int);
    N(seed, 0, 9007199254740992.0, uint64_t); N(threads, 0, 1024, int);
#undef N
#define A(name) if (!strcmp(k, #name)) { \
        HERD_TRY(herd_cfg_num(v, 0, !strcmp(k, "weight_decay") ? 10 : 0.999999, &d)); \
        o->adamw.name = (float)d; return HERD_OK; }
    A(beta1); A(beta2); A(eps); A(weight_decay);
#undef A
    if (!strcmp(k, "chat_template"))
        return herd_cfg_template(v, o->chat_template, sizeof o->chat_template);
    if (!strcmp(k, "skip_bad"))
        return herd_cfg_bool(v, &o->skip_bad);
    return herd_fail(HERD_E_ARG, "config: unknown key \"%s\"", k);
}

herd_status herd_reward_opts_load(const char *path, herd_reward_opts *o)
{
    HERD_TRY(herd_cfg_load(path, key, o));
    if (!o->init[0])
        return herd_fail(HERD_E_ARG, "%s: config: \"init\" (the model to start from) is "
                         "required", path);
    if (!o->train_data[0])
        return herd_fail(HERD_E_ARG, "%s: config: \"train_data\" (preference JSONL) is required",
                         path);
    return HERD_OK;
}

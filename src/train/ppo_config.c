/* herd ppo's JSON config (ppo.h's herd_ppo_opts): every key, its type and
 * its range; anything else is an error naming the key. */
#include "train/ppo.h"
#include "base/error.h"
#include "train/json_config.h"
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void herd_ppo_opts_defaults(herd_ppo_opts *o)
{
    memset(o, 0, sizeof *o);
    snprintf(o->out_dir, sizeof o->out_dir, "out");
    snprintf(o->chat_template, sizeof o->chat_template, "auto");
    o->p = herd_ppo_defaults();
}

/* chat_template and whiten. */
static herd_status word_key(const cJSON *v, herd_ppo_opts *o, int *done)
{
    const char *k = v->string;
    *done = 1;
    if (!strcmp(k, "chat_template"))
        return herd_cfg_template(v, o->chat_template, sizeof o->chat_template);
    if (!strcmp(k, "whiten"))
        return herd_cfg_bool(v, &o->p.whiten);
    *done = 0;
    return HERD_OK;
}

static herd_status top_key(const cJSON *v, void *opts)
{
    herd_ppo_opts *o = opts;
    const char *k = v->string;
    double d;
    int done;
#define S(name) if (!strcmp(k, #name)) return herd_cfg_str(v, o->name, sizeof o->name)
    S(init); S(ref); S(reward); S(tokenizer); S(train_data); S(out_dir);
#undef S
#define N(field, key, lo, hi, type) if (!strcmp(k, key)) { \
        HERD_TRY(herd_cfg_num(v, lo, hi, &d)); o->field = (type)d; return HERD_OK; }
    N(iterations, "iterations", 1, 1e12, int64_t); N(threads, "threads", 0, 1024, int);
    N(p.batch_size, "batch_size", 1, 1 << 16, int);
    N(p.minibatch_size, "minibatch_size", 1, 1 << 16, int);
    N(p.epochs, "epochs", 1, 1000, int); N(p.max_new_tokens, "max_new_tokens", 1, 1 << 20, int);
    N(p.temperature, "temperature", 1e-3, 100, float); N(p.lr, "lr", 0, 10, float);
    N(p.value_lr, "value_lr", 0, 10, float); N(p.kl_coef, "kl_coef", 0, 1e6, float);
    N(p.clip, "clip", 1e-6, 10, float); N(p.value_clip, "value_clip", 0, 1e9, float);
    N(p.gamma, "gamma", 0, 1, float); N(p.lam, "lam", 0, 1, float);
    N(p.vf_coef, "vf_coef", 0, 1e6, float); N(p.grad_clip, "grad_clip", 0, 1e9, float);
    N(p.seed, "seed", 0, 9007199254740992.0, uint64_t);
    N(p.adamw.beta1, "beta1", 0, 0.999999, float); N(p.adamw.beta2, "beta2", 0, 0.999999, float);
    N(p.adamw.eps, "eps", 0, 1, float); N(p.adamw.weight_decay, "weight_decay", 0, 10, float);
#undef N
    HERD_TRY(word_key(v, o, &done));
    return done ? HERD_OK : herd_fail(HERD_E_ARG, "config: unknown key \"%s\"", k);
}

herd_status herd_ppo_opts_load(const char *path, herd_ppo_opts *o)
{
    return herd_cfg_load(path, top_key, o);
}

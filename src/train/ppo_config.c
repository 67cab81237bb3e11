/* herd ppo's JSON config (ppo.h's herd_ppo_opts): every key, its type and
 * its range; anything else is an error naming the key. */
#include "train/ppo.h"
#include "base/error.h"
#include "base/file.h"
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

static herd_status num(const cJSON *v, double lo, double hi, double *out)
{
    if (!cJSON_IsNumber(v))
        return herd_fail(HERD_E_ARG, "config: \"%s\" must be a number", v->string);
    if (!(v->valuedouble >= lo && v->valuedouble <= hi))
        return herd_fail(HERD_E_ARG, "config: \"%s\" = %g is outside %g..%g", v->string,
                         v->valuedouble, lo, hi);
    *out = v->valuedouble;
    return HERD_OK;
}

static herd_status str(const cJSON *v, char *out, size_t cap)
{
    if (!cJSON_IsString(v))
        return herd_fail(HERD_E_ARG, "config: \"%s\" must be a string", v->string);
    if (strlen(v->valuestring) >= cap)
        return herd_fail(HERD_E_ARG, "config: \"%s\" is too long", v->string);
    strcpy(out, v->valuestring);
    return HERD_OK;
}

/* chat_template and whiten. */
static herd_status word_key(const cJSON *v, herd_ppo_opts *o, int *done)
{
    const char *k = v->string;
    *done = 1;
    if (!strcmp(k, "chat_template")) {
        const char *w = cJSON_IsString(v) ? v->valuestring : "";
        herd_chat_template t;
        if (strcmp(w, "auto") && strcmp(w, "none") && herd_chat_template_parse(w, &t) != HERD_OK)
            return herd_fail(HERD_E_ARG, "config: \"chat_template\" must be auto, none, llama2 "
                             "or llama3");
        return str(v, o->chat_template, sizeof o->chat_template);
    }
    if (!strcmp(k, "whiten")) {
        if (!cJSON_IsBool(v))
            return herd_fail(HERD_E_ARG, "config: \"whiten\" must be true or false");
        o->p.whiten = cJSON_IsTrue(v);
        return HERD_OK;
    }
    *done = 0;
    return HERD_OK;
}

static herd_status top_key(const cJSON *v, herd_ppo_opts *o)
{
    const char *k = v->string;
    double d;
    int done;
#define S(name) if (!strcmp(k, #name)) return str(v, o->name, sizeof o->name)
    S(init); S(ref); S(reward); S(tokenizer); S(train_data); S(out_dir);
#undef S
#define N(field, key, lo, hi, type) if (!strcmp(k, key)) { \
        HERD_TRY(num(v, lo, hi, &d)); o->field = (type)d; return HERD_OK; }
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
    char *text;
    size_t len;
    HERD_TRY(herd_read_file(path, &text, &len));
    cJSON *j = cJSON_ParseWithLength(text, len);
    herd_status st = HERD_OK;
    if (!j || !cJSON_IsObject(j))
        st = herd_fail(HERD_E_ARG, "not a JSON object");
    for (const cJSON *v = j ? j->child : NULL; st == HERD_OK && v; v = v->next)
        st = top_key(v, o);
    if (st != HERD_OK)
        herd_fail_prefix(st, "%s", path);
    cJSON_Delete(j);
    free(text);
    return st;
}

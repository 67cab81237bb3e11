/* herd dpo's JSON config (dpo.h's herd_dpo_opts): every key, its type and
 * its range; anything else is an error naming the key. */
#include "train/dpo.h"
#include "base/error.h"
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

/* "q,k,v,o,gate,up,down" (or "all", or the HF names q_proj ...). */
static herd_status targets(const cJSON *v, unsigned *out)
{
    static const char *names[7] = {"q", "k", "v", "o", "gate", "up", "down"};
    char buf[128];
    HERD_TRY(str(v, buf, sizeof buf));
    *out = 0;
    for (char *save, *t = strtok_r(buf, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
        int found = !strcmp(t, "all");
        *out |= found ? HERD_LORA_ALL : 0;
        for (int i = 0; i < 7 && !found; i++) {
            size_t n = strlen(names[i]);
            if (!strncmp(t, names[i], n) && (!t[n] || !strcmp(t + n, "_proj")))
                *out |= 1u << i, found = 1;
        }
        if (!found)
            return herd_fail(HERD_E_ARG, "config: lora_targets: unknown matrix '%s' (q, k, v, "
                             "o, gate, up, down, all)", t);
    }
    return *out ? HERD_OK : herd_fail(HERD_E_ARG, "config: lora_targets is empty");
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
        return str(v, o->method, sizeof o->method);
    }
    if (!strcmp(k, "chat_template")) {
        herd_chat_template t;
        if (strcmp(w, "auto") && strcmp(w, "none") && herd_chat_template_parse(w, &t) != HERD_OK)
            return herd_fail(HERD_E_ARG, "config: \"chat_template\" must be auto, none, llama2 "
                             "or llama3");
        return str(v, o->chat_template, sizeof o->chat_template);
    }
    if (!strcmp(k, "skip_bad")) {
        if (!cJSON_IsBool(v))
            return herd_fail(HERD_E_ARG, "config: \"skip_bad\" must be true or false");
        o->skip_bad = cJSON_IsTrue(v);
        return HERD_OK;
    }
    if (!strcmp(k, "lora_targets"))
        return targets(v, &o->lora.targets);
    *done = 0;
    return HERD_OK;
}

static herd_status top_key(const cJSON *v, herd_dpo_opts *o)
{
    const char *k = v->string;
    double d;
    int done;
#define S(name) if (!strcmp(k, #name)) return str(v, o->name, sizeof o->name)
    S(init); S(ref); S(tokenizer); S(train_data); S(val_data); S(out_dir);
#undef S
#define N(field, key, lo, hi, type) if (!strcmp(k, key)) { \
        HERD_TRY(num(v, lo, hi, &d)); o->field = (type)d; return HERD_OK; }
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
    char *text;
    size_t len;
    HERD_TRY(herd_read_file(path, &text, &len));
    cJSON *j = cJSON_ParseWithLength(text, len);
    herd_status st = HERD_OK;
    if (!j || !cJSON_IsObject(j))
        st = herd_fail(HERD_E_ARG, "not a JSON object");
    for (const cJSON *v = j ? j->child : NULL; st == HERD_OK && v; v = v->next)
        st = top_key(v, o);
    if (st == HERD_OK && o->warmup > 0 && o->steps > 0 && o->warmup > o->steps)
        st = herd_fail(HERD_E_ARG, "config: warmup %lld is longer than steps %lld",
                       (long long)o->warmup, (long long)o->steps);
    if (st != HERD_OK)
        herd_fail_prefix(st, "%s", path);
    cJSON_Delete(j);
    free(text);
    return st;
}

/* herd reward-train's setup: the base model and its tokenizer, the chat
 * template, the preference sets, the trainable backbone, the head and its
 * optimizer state, the batch buffers; and the teardown. */
#include "train/reward_run.h"
#include "model/model.h"
#include "base/error.h"
#include "train/json_config.h"
#include "base/file.h"
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void herd_reward_note(const herd_reward_run *r, const char *fmt, ...)
{
    char msg[2 * HERD_REWARD_PATH + 256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (r->cb && r->cb->on_note)
        r->cb->on_note(r->cb->user, msg);
}

herd_status herd_reward_path(const herd_reward_run *r, const char *name, char *buf)
{
    return herd_path_join(buf, HERD_REWARD_PATH + 32, r->o->out_dir, name);
}

static herd_chat_template pick_template(const herd_reward_run *r)
{
    return herd_cfg_pick_template(r->o->chat_template, r->base, r->tok);
}

static herd_status open_model(herd_reward_run *r)
{
    const herd_reward_opts *o = r->o;
    HERD_TRY(herd_model_open_ex(o->init, o->tokenizer[0] ? o->tokenizer : NULL, &r->base));
    r->tok = herd_model_tokenizer(r->base);
    if (!r->tok)
        return herd_fail(HERD_E_ARG, "%s carries no tokenizer: give \"tokenizer\"", o->init);
    const herd_config *c = herd_model_config(r->base);
    r->T = o->seq_len ? o->seq_len : c->seq_len;
    if (r->T > c->seq_len)
        return herd_fail(HERD_E_ARG, "config: seq_len %d is longer than the context of %s "
                         "(%d)", r->T, o->init, c->seq_len);
    r->tpl = pick_template(r);
    return HERD_OK;
}

static herd_status load_set(herd_reward_run *r, const char *path, const char *what,
                            herd_pref_set **out)
{
    herd_pref_stats st;
    HERD_TRY(herd_pref_load(path, r->tok, r->tpl, r->T, r->o->skip_bad, out, &st));
    herd_reward_note(r, "%s: %lld pairs from %s (%lld lines, %lld bad lines skipped, %lld too "
                     "long for seq_len %d, dropped), %lld tokens, template %s", what,
                     (long long)st.used, path, (long long)st.lines, (long long)st.bad,
                     (long long)st.too_long, r->T, (long long)st.tokens,
                     r->tpl == HERD_CHAT_NONE ? "none" : herd_chat_template_name(r->tpl));
    if (st.bad)
        herd_reward_note(r, "first bad line: %s", st.first_bad);
    return HERD_OK;
}

static herd_status alloc_buffers(herd_reward_run *r)
{
    int D = herd_model_config(r->base)->dim, P = r->P;
    size_t rows = (size_t)2 * P;
    r->head = calloc((size_t)(D + 1) * 4, sizeof(float));
    r->tokens = malloc(rows * r->T * sizeof(int));
    r->targets = malloc(rows * r->T * sizeof(int));
    r->last = malloc(rows * sizeof(int));
    r->margin = malloc((size_t)P * sizeof(float));
    r->batch = malloc((size_t)P * sizeof *r->batch);
    r->order = malloc((size_t)r->train->n * sizeof *r->order);
    if (!r->head || !r->tokens || !r->targets || !r->last || !r->margin || !r->batch ||
        !r->order)
        return herd_fail(HERD_E_NOMEM, "reward: out of memory");
    r->dhead = r->head + (D + 1);
    r->head_m = r->dhead + (D + 1);
    r->head_v = r->head_m + (D + 1);
    return HERD_OK;
}

herd_status herd_reward_setup(herd_reward_run *r, const herd_reward_opts *o,
                              const herd_reward_callbacks *cb)
{
    memset(r, 0, sizeof *r);
    r->o = o;
    r->cb = cb;
    r->P = o->batch_size;
    r->warmup = o->warmup >= 0 ? o->warmup : o->steps * 3 / 100;
    if (o->threads)
        herd_set_threads(o->threads);
    HERD_TRY(open_model(r));
    HERD_TRY(load_set(r, o->train_data, "train", &r->train));
    if (o->val_data[0])
        HERD_TRY(load_set(r, o->val_data, "val", &r->val));
    if (mkdir(o->out_dir, 0777) != 0 && !herd_is_dir(o->out_dir))
        return herd_fail(HERD_E_IO, "%s: cannot create the output folder: %s", o->out_dir,
                         strerror(errno));
    HERD_TRY(herd_train_model_from(r->base, &r->tm));
    HERD_TRY(herd_adamw_new(r->tm, &r->opt));
    return alloc_buffers(r);
}

void herd_reward_teardown(herd_reward_run *r)
{
    if (r->csv)
        fclose(r->csv);
    herd_adamw_free(r->opt);
    herd_train_model_free(r->tm);
    herd_pref_set_free(r->train);
    herd_pref_set_free(r->val);
    herd_model_free(r->base);
    free(r->head);
    free(r->tokens);
    free(r->targets);
    free(r->last);
    free(r->margin);
    free(r->batch);
    free(r->order);
    memset(r, 0, sizeof *r);
}

/* Setting up a training run (run.h): the data sources, the model (new,
 * from a model file, or LoRA / QLoRA over one), the optimizer, a resumed
 * checkpoint; and exporting the result. */
#include "train/run.h"
#include "train/export.h"
#include "base/error.h"
#include "train/json_config.h"
#include "base/file.h"
#include "model/model.h"
#include "model/train.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void herd_run_note(herd_run *r, const char *fmt, const char *arg)
{
    char msg[2 * HERD_PATH_MAX];
    snprintf(msg, sizeof msg, fmt, arg);
    if (r->cb && r->cb->on_note)
        r->cb->on_note(r->cb->user, msg);
}

herd_status herd_run_path(const herd_run *r, const char *name, char *buf)
{
    return herd_path_join(buf, HERD_PATH_MAX + 32, r->o->out_dir, name);
}

static herd_chat_template pick_template(const herd_run *r)
{
    return herd_cfg_pick_template(r->o->chat_template, r->base, r->tok);
}

static herd_status open_data(herd_run *r)
{
    const herd_train_opts *o = r->o;
    herd_sft_opts so = {pick_template(r), r->T + 1, o->truncate, o->skip_bad};
    HERD_TRY(herd_source_open(&r->train, o->train_data, r->tok, &so));
    if (r->train.sft) {
        char msg[HERD_PATH_MAX + 256];
        const herd_sft_stats *s = &r->train.stats;
        snprintf(msg, sizeof msg, "%s: %lld examples (%lld too long%s, %lld truncated, %lld "
                 "bad lines skipped), %lld tokens, %lld trained",
                 o->train_data, (long long)s->used, (long long)s->too_long,
                 o->truncate ? "" : ", dropped", (long long)s->truncated, (long long)s->bad,
                 (long long)s->tokens, (long long)s->trained);
        herd_run_note(r, "%s", msg);
    }
    HERD_TRY(herd_source_start(&r->train, o->batch_size, r->T, o->seed, 1));
    if (o->val_data[0]) {
        HERD_TRY(herd_source_open(&r->val, o->val_data, r->tok, &so));
        r->have_val = 1;
    }
    return HERD_OK;
}

/* The model the method asks for. */
static herd_status make_model(herd_run *r, herd_config *cfg)
{
    const herd_train_opts *o = r->o;
    int lora = strcmp(o->method, "full") != 0;
    if (lora && !o->init[0])
        return herd_fail(HERD_E_ARG, "config: method %s needs \"init\", the model to finetune",
                         o->method);
    if (o->init[0]) {
        HERD_TRY(herd_model_open(o->init, &r->base));
        if (lora) {
            herd_lora_params lp = o->lora;
            lp.qlora = !strcmp(o->method, "qlora");
            HERD_TRY(herd_train_model_lora(r->base, &lp, o->seed, &r->tm));
        } else {
            HERD_TRY(herd_train_model_from(r->base, &r->tm));
        }
        *cfg = *herd_train_config(r->tm);
        return HERD_OK;
    }
    herd_train_opts chk = *o;
    chk.model = *cfg;
    HERD_TRY(herd_train_opts_check(&chk));
    return herd_train_model_new(cfg, o->seed, &r->tm);
}

/* Long-context finetuning: positions stretched by rope_factor (position
 * interpolation) and the context grown to seq_len. */
static herd_status stretch(herd_run *r)
{
    const herd_train_opts *o = r->o;
    if (o->rope_scaling == HERD_ROPE_SCALING_NONE)
        return HERD_OK;
    if (!(o->rope_factor > 1))
        return herd_fail(HERD_E_ARG, "config: rope_scaling linear needs rope_factor > 1");
    herd_train_set_rope(r->tm, o->rope_scaling, o->rope_factor, r->T);
    return HERD_OK;
}

herd_status herd_run_setup(herd_run *r, int resume)
{
    const herd_train_opts *o = r->o;
    herd_config cfg = o->model;
    if (o->tokenizer[0]) {
        HERD_TRY(herd_tokenizer_open(o->tokenizer, &r->own_tok));
        r->tok = r->own_tok;
    }
    r->T = o->seq_len > 0 ? o->seq_len : cfg.seq_len;
    if (cfg.seq_len <= 0)
        cfg.seq_len = o->seq_len;
    if (o->init[0] || cfg.vocab_size > 0 || r->tok) {
        if (cfg.vocab_size <= 0 && r->tok)
            cfg.vocab_size = herd_tokenizer_n_vocab(r->tok);
        HERD_TRY(make_model(r, &cfg));
        if (!r->tok && r->base)
            r->tok = herd_model_tokenizer(r->base);
        if (r->T <= 0)
            r->T = cfg.seq_len;
        HERD_TRY(open_data(r));
    } else {
        HERD_TRY(open_data(r));     /* the vocabulary from the shard */
        cfg.vocab_size = (int)herd_source_vocab(&r->train);
        HERD_TRY(make_model(r, &cfg));
    }
    if (r->T > cfg.seq_len && o->rope_scaling == HERD_ROPE_SCALING_NONE)
        return herd_fail(HERD_E_ARG, "config: seq_len %d is longer than the model's context of "
                         "%d (set rope_scaling for long-context finetuning)", r->T, cfg.seq_len);
    HERD_TRY(stretch(r));
    uint32_t dv = herd_source_vocab(&r->train);
    if (dv > (uint32_t)cfg.vocab_size)
        return herd_fail(HERD_E_ARG, "%s: token ids up to %u, the model's vocabulary has %d",
                         o->train_data, dv - 1, cfg.vocab_size);
    if (r->have_val && herd_source_vocab(&r->val) > (uint32_t)cfg.vocab_size)
        return herd_fail(HERD_E_ARG, "%s: token ids beyond the model's vocabulary", o->val_data);
    if (r->tok && herd_tokenizer_n_vocab(r->tok) != cfg.vocab_size)
        return herd_fail(HERD_E_ARG, "%s: %d tokens, the model has %d",
                         o->tokenizer[0] ? o->tokenizer : "tokenizer",
                         herd_tokenizer_n_vocab(r->tok), cfg.vocab_size);
    herd_train_set_recompute(r->tm, o->recompute);
    if (r->base && strcmp(o->method, "full")) {
        char msg[128];
        size_t n;
        herd_train_params(r->tm, &n);
        snprintf(msg, sizeof msg, "frozen layer weights %.1f MiB (%s), adapters %.2f M parameters",
                 herd_train_frozen_bytes(r->tm) / 1048576.0,
                 strcmp(o->method, "qlora") ? "the base's own type, mapped" : "NF4", n / 1e6);
        herd_run_note(r, "%s", msg);
    }
    HERD_TRY(herd_adamw_new(r->tm, &r->opt));
    r->st.seed = o->seed;
    if (resume && herd_file_exists(r->ckpt)) {
        HERD_TRY(herd_ckpt_load(r->ckpt, r->tm, r->opt, &r->st));
        r->cap = r->st.n_history;
        HERD_TRY(herd_source_set_state(&r->train, r->st.loader));
        herd_run_note(r, "resumed from %s", r->ckpt);
    } else if (resume) {
        return herd_fail(HERD_E_IO, "%s: no checkpoint to resume from", r->ckpt);
    }
    return HERD_OK;
}

herd_status herd_run_export(herd_run *r)
{
    char msg[HERD_PATH_MAX];
    HERD_TRY(herd_train_export(r->tm, r->tok, r->base ? r->base->chat_template : NULL,
                               r->o->out_dir, r->o->init, msg, sizeof msg));
    herd_run_note(r, "%s", msg);
    return HERD_OK;
}

void herd_run_free(herd_run *r)
{
    herd_adamw_free(r->opt);
    herd_train_model_free(r->tm);
    herd_model_free(r->base);
    herd_tokenizer_free(r->own_tok);
    herd_source_close(&r->train);
    if (r->have_val)
        herd_source_close(&r->val);
    free(r->st.history);
}

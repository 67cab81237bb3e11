/* herd train's loop (trainer.h): per optimizer step, grad_accum micro-
 * batches of packed documents, global-norm clipping, AdamW at the cosine
 * schedule's rate; validation, checkpoints, loss.csv and loss.svg on their
 * intervals; the model exported to GGUF at the end. */
#include "train/trainer.h"
#include "train/plot.h"
#include "base/error.h"
#include "base/file.h"
#include "formats/convert.h"
#include "model/model.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

typedef struct {
    const herd_train_opts *o;
    const herd_train_callbacks *cb;
    herd_shard train, val;
    int have_val;
    herd_train_model *tm;
    herd_adamw *opt;
    herd_loader *loader;
    herd_tokenizer *tok;
    herd_ckpt_state st;
    uint32_t cap;
    char ckpt[HERD_PATH_MAX + 32];
} run;

static void note(run *r, const char *fmt, const char *arg)
{
    char msg[2 * HERD_PATH_MAX];
    snprintf(msg, sizeof msg, fmt, arg);
    if (r->cb && r->cb->on_note)
        r->cb->on_note(r->cb->user, msg);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static herd_status out_path(const run *r, const char *name, char *buf)
{
    return herd_path_join(buf, HERD_PATH_MAX + 32, r->o->out_dir, name);
}

/* The data, the model (checkpoint, init model or random) and the optimizer. */
static herd_status setup(run *r, int resume)
{
    const herd_train_opts *o = r->o;
    herd_config cfg = o->model;
    HERD_TRY(herd_shard_open(o->train_data, &r->train));
    if (o->val_data[0]) {
        HERD_TRY(herd_shard_open(o->val_data, &r->val));
        r->have_val = 1;
    }
    if (o->tokenizer[0])
        HERD_TRY(herd_tokenizer_open(o->tokenizer, &r->tok));
    if (cfg.vocab_size <= 0)
        cfg.vocab_size = r->tok ? herd_tokenizer_n_vocab(r->tok) : (int)r->train.vocab;
    if (cfg.seq_len <= 0)
        cfg.seq_len = o->seq_len;
    if (o->init[0]) {
        herd_model *m;
        HERD_TRY(herd_model_open(o->init, &m));
        herd_status s = herd_train_model_from(m, &r->tm);
        herd_model_free(m);
        HERD_TRY(s);
        cfg = *herd_train_config(r->tm);
    } else {
        herd_train_opts chk = *o;
        chk.model = cfg;
        HERD_TRY(herd_train_opts_check(&chk));
        HERD_TRY(herd_train_model_new(&cfg, o->seed, &r->tm));
    }
    if (r->train.vocab > (uint32_t)cfg.vocab_size)
        return herd_fail(HERD_E_ARG, "%s: token ids up to %u, the model's vocabulary has %d",
                         o->train_data, r->train.vocab - 1, cfg.vocab_size);
    if (r->have_val && r->val.vocab > (uint32_t)cfg.vocab_size)
        return herd_fail(HERD_E_ARG, "%s: token ids beyond the model's vocabulary",
                         o->val_data);
    if (r->tok && herd_tokenizer_n_vocab(r->tok) != cfg.vocab_size)
        return herd_fail(HERD_E_ARG, "%s: %d tokens, the model has %d", o->tokenizer,
                         herd_tokenizer_n_vocab(r->tok), cfg.vocab_size);
    herd_train_set_recompute(r->tm, o->recompute);
    HERD_TRY(herd_adamw_new(r->tm, &r->opt));
    int T = o->seq_len > 0 ? o->seq_len : cfg.seq_len;
    HERD_TRY(herd_loader_new(&r->train, o->batch_size, T, o->seed, 1, &r->loader));
    r->st.seed = o->seed;
    if (resume && herd_file_exists(r->ckpt)) {
        HERD_TRY(herd_ckpt_load(r->ckpt, r->tm, r->opt, &r->st));
        r->cap = r->st.n_history;
        HERD_TRY(herd_loader_set_state(r->loader, r->st.loader));
        note(r, "resumed from %s", r->ckpt);
    } else if (resume) {
        return herd_fail(HERD_E_IO, "%s: no checkpoint to resume from", r->ckpt);
    }
    return HERD_OK;
}

/* Mean loss over eval_batches batches from the start of the validation set. */
static herd_status validate(run *r, int T, float *loss)
{
    herd_loader *l;
    HERD_TRY(herd_loader_new(&r->val, r->o->batch_size, T, 0, 0, &l));
    double sum = 0;
    int64_t count = 0;
    uint64_t batches = herd_loader_windows(l) / (uint64_t)r->o->batch_size;
    int n = r->o->eval_batches < (int)batches ? r->o->eval_batches : (int)batches;
    herd_status st = HERD_OK;
    for (int i = 0; st == HERD_OK && i < (n ? n : 1); i++) {
        herd_batch b;
        herd_loader_batch(l, &b);
        float lv;
        int k;
        st = herd_train_loss(r->tm, &b, &lv, &k);
        sum += (double)lv * k;
        count += k;
    }
    herd_loader_free(l);
    *loss = count ? (float)(sum / count) : NAN;
    return st;
}

static herd_status write_csv(run *r)
{
    char path[HERD_PATH_MAX + 32], tmp[HERD_PATH_MAX + 40];
    HERD_TRY(out_path(r, "loss.csv", path));
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return herd_fail(HERD_E_IO, "%s: cannot write", tmp);
    fprintf(f, "step,lr,loss,grad_norm,val_loss,tokens_per_s\n");
    for (uint32_t i = 0; i < r->st.n_history; i++) {
        const herd_ckpt_record *h = &r->st.history[i];
        fprintf(f, "%lld,%.9g,%.9g,%.9g,", (long long)h->step, h->lr, h->loss, h->grad_norm);
        if (isfinite(h->val_loss))
            fprintf(f, "%.9g", h->val_loss);
        fprintf(f, ",%.1f\n", h->tokens_per_s);
    }
    int bad = ferror(f) | fclose(f);
    if (bad || rename(tmp, path) != 0) {
        remove(tmp);
        return herd_fail(HERD_E_IO, "%s: write failed", path);
    }
    return HERD_OK;
}

static herd_status write_plot(run *r)
{
    char path[HERD_PATH_MAX + 32];
    HERD_TRY(out_path(r, "loss.svg", path));
    uint32_t n = r->st.n_history, nv = 0;
    herd_plot_point *tr = malloc((n + 1) * sizeof *tr), *va = malloc((n + 1) * sizeof *va);
    if (!tr || !va) {
        free(tr);
        free(va);
        return herd_fail(HERD_E_NOMEM, "out of memory");
    }
    for (uint32_t i = 0; i < n; i++) {
        const herd_ckpt_record *h = &r->st.history[i];
        tr[i] = (herd_plot_point){(double)h->step, h->loss};
        if (isfinite(h->val_loss))
            va[nv++] = (herd_plot_point){(double)h->step, h->val_loss};
    }
    herd_status st = herd_plot_loss_svg(path, "herd train", tr, (int)n, va, (int)nv);
    free(tr);
    free(va);
    return st;
}

static herd_status save(run *r)
{
    r->st.loader = herd_loader_state(r->loader);
    HERD_TRY(herd_ckpt_save(r->ckpt, r->tm, r->opt, &r->st));
    HERD_TRY(write_csv(r));
    HERD_TRY(write_plot(r));
    note(r, "saved %s", r->ckpt);
    return HERD_OK;
}

static herd_status record(run *r, const herd_ckpt_record *rec)
{
    if (r->st.n_history == r->cap) {
        uint32_t cap = r->cap ? r->cap * 2 : 256;
        herd_ckpt_record *h = realloc(r->st.history, cap * sizeof *h);
        if (!h)
            return herd_fail(HERD_E_NOMEM, "out of memory");
        r->st.history = h;
        r->cap = cap;
    }
    r->st.history[r->st.n_history++] = *rec;
    return HERD_OK;
}

/* One optimizer step: accumulate, check, clip, update. */
static herd_status step(run *r, int T, herd_ckpt_record *rec)
{
    const herd_train_opts *o = r->o;
    double t0 = now(), sum = 0;
    int64_t count = 0;
    herd_train_zero_grad(r->tm);
    for (int a = 0; a < o->grad_accum; a++) {
        herd_batch b;
        herd_loader_batch(r->loader, &b);
        float l;
        int k;
        HERD_TRY(herd_train_forward_backward(r->tm, &b, 1.0f / o->grad_accum, &l, &k));
        sum += (double)l * k;
        count += k;
    }
    rec->step = r->st.step + 1;
    rec->loss = count ? (float)(sum / count) : NAN;
    rec->grad_norm = (float)herd_train_clip_grad(r->tm, o->grad_clip);
    if (!isfinite(rec->loss) || !isfinite(rec->grad_norm))
        return herd_fail(HERD_E_RANGE, "the loss became %s at step %lld; stopped without "
                         "saving, the last checkpoint is kept (lower lr or check the data)",
                         isfinite(rec->loss) ? "finite but the gradient not" : "NaN or inf",
                         (long long)rec->step);
    rec->lr = herd_lr_cosine(r->st.step, o->warmup, o->steps, o->lr, o->min_lr_ratio);
    herd_adamw_step(r->opt, r->tm, &o->adamw, rec->lr);
    r->st.step++;
    rec->tokens_per_s = (double)o->grad_accum * o->batch_size * T / (now() - t0);
    rec->val_loss = NAN;
    return HERD_OK;
}

static herd_status export_model(run *r)
{
    char path[HERD_PATH_MAX + 32];
    HERD_TRY(out_path(r, "model.gguf", path));
    herd_model *m = (herd_model *)herd_train_as_model(r->tm);
    m->tok = r->tok;
    herd_status st = herd_save_gguf_ex(m, path, HERD_TYPE_F32, NULL, NULL);
    m->tok = NULL;
    HERD_TRY(st);
    note(r, "exported %s", path);
    return HERD_OK;
}

static herd_status loop(run *r, int64_t stop_at)
{
    const herd_train_opts *o = r->o;
    int T = o->seq_len > 0 ? o->seq_len : herd_train_config(r->tm)->seq_len;
    if (stop_at > 0 && stop_at <= r->st.step)
        return herd_fail(HERD_E_ARG, "--stop-at %lld: the run is already at step %lld",
                         (long long)stop_at, (long long)r->st.step);
    while (r->st.step < o->steps) {
        herd_ckpt_record rec;
        HERD_TRY(step(r, T, &rec));
        int64_t s = r->st.step;
        int last = s == o->steps || s == stop_at || (r->cb && r->cb->stop && *r->cb->stop);
        if (r->have_val && ((o->eval_every && s % o->eval_every == 0) || s == o->steps))
            HERD_TRY(validate(r, T, &rec.val_loss));
        HERD_TRY(record(r, &rec));
        if (r->cb && r->cb->on_step)
            r->cb->on_step(r->cb->user, &rec, o->steps);
        if (last || (o->save_every && s % o->save_every == 0))
            HERD_TRY(save(r));
        if (last && s != o->steps)
            return HERD_OK;
    }
    return export_model(r);
}

herd_status herd_train_run(const herd_train_opts *o, int resume, int64_t stop_at,
                           const herd_train_callbacks *cb)
{
    run r = {.o = o, .cb = cb};
    if (mkdir(o->out_dir, 0777) != 0 && !herd_is_dir(o->out_dir))
        return herd_fail(HERD_E_IO, "%s: cannot create the output folder", o->out_dir);
    herd_status st = out_path(&r, "checkpoint.bin", r.ckpt);
    if (st == HERD_OK)
        st = setup(&r, resume);
    if (st == HERD_OK)
        st = loop(&r, stop_at);
    herd_loader_free(r.loader);
    herd_adamw_free(r.opt);
    herd_train_model_free(r.tm);
    herd_tokenizer_free(r.tok);
    if (r.have_val)
        herd_shard_close(&r.val);
    herd_shard_close(&r.train);
    free(r.st.history);
    return st;
}

/* herd train's loop (trainer.h): per optimizer step, grad_accum micro-
 * batches of packed documents, global-norm clipping, AdamW at the cosine
 * schedule's rate; validation, checkpoints, loss.csv and loss.svg on their
 * intervals; the model exported to GGUF at the end. */
#include "train/run.h"
#include "train/plot.h"
#include "base/error.h"
#include "base/file.h"
#include "model/model.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

typedef herd_run run;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Mean loss over eval_batches batches from the start of the validation set. */
static herd_status validate(run *r, int T, float *loss)
{
    HERD_TRY(herd_source_start(&r->val, r->o->batch_size, T, 0, 0));
    double sum = 0;
    int64_t count = 0;
    uint64_t batches = herd_source_batches(&r->val, r->o->batch_size);
    int n = r->o->eval_batches < (int)batches ? r->o->eval_batches : (int)batches;
    herd_status st = HERD_OK;
    for (int i = 0; st == HERD_OK && i < n; i++) {
        herd_batch b;
        herd_source_batch(&r->val, &b);
        float lv;
        int k;
        st = herd_train_loss(r->tm, &b, &lv, &k);
        if (k) {
            sum += (double)lv * k;
            count += k;
        }
    }
    herd_loader_free(r->val.sl);
    herd_sft_loader_free(r->val.fl);
    r->val.sl = NULL;
    r->val.fl = NULL;
    *loss = count ? (float)(sum / count) : NAN;
    return st;
}

static herd_status write_csv(run *r)
{
    char path[HERD_PATH_MAX + 32], tmp[HERD_PATH_MAX + 40];
    HERD_TRY(herd_run_path(r, "loss.csv", path));
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
    HERD_TRY(herd_run_path(r, "loss.svg", path));
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
    r->st.loader = herd_source_state(&r->train);
    HERD_TRY(herd_ckpt_save(r->ckpt, r->tm, r->opt, &r->st));
    HERD_TRY(write_csv(r));
    HERD_TRY(write_plot(r));
    herd_run_note(r, "saved %s", r->ckpt);
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
        herd_source_batch(&r->train, &b);
        float l;
        int k;
        herd_train_set_seed(r->tm, o->seed ^ ((uint64_t)r->st.step * 1000003u + (uint64_t)a));
        HERD_TRY(herd_train_forward_backward(r->tm, &b, 1.0f / o->grad_accum, &l, &k));
        if (k) {
            sum += (double)l * k;
            count += k;
        }
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

static herd_status loop(run *r, int64_t stop_at)
{
    const herd_train_opts *o = r->o;
    int T = r->T;
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
    return herd_run_export(r);
}

herd_status herd_train_evaluate(const herd_train_opts *o, int resume, double *loss,
                                int64_t *tokens)
{
    run r = {.o = o};
    herd_status st = herd_run_path(&r, "checkpoint.bin", r.ckpt);
    if (st == HERD_OK && !o->val_data[0])
        st = herd_fail(HERD_E_ARG, "config: \"val_data\" is needed to evaluate");
    if (st == HERD_OK)
        st = herd_run_setup(&r, resume);
    if (st == HERD_OK)
        st = herd_source_start(&r.val, o->batch_size, r.T, 0, 0);
    double sum = 0;
    int64_t count = 0;
    uint64_t n = st == HERD_OK ? herd_source_batches(&r.val, o->batch_size) : 0;
    for (uint64_t i = 0; st == HERD_OK && i < n; i++) {
        herd_batch b;
        herd_source_batch(&r.val, &b);
        float lv;
        int k;
        st = herd_train_loss(r.tm, &b, &lv, &k);
        if (st == HERD_OK && k) {
            sum += (double)lv * k;
            count += k;
        }
    }
    herd_run_free(&r);
    *loss = count ? sum / count : NAN;
    *tokens = count;
    return st;
}

herd_status herd_train_run(const herd_train_opts *o, int resume, int64_t stop_at,
                           const herd_train_callbacks *cb)
{
    run r = {.o = o, .cb = cb};
    if (mkdir(o->out_dir, 0777) != 0 && !herd_is_dir(o->out_dir))
        return herd_fail(HERD_E_IO, "%s: cannot create the output folder", o->out_dir);
    herd_status st = herd_run_path(&r, "checkpoint.bin", r.ckpt);
    if (st == HERD_OK)
        st = herd_run_setup(&r, resume);
    if (st == HERD_OK)
        st = loop(&r, stop_at);
    herd_run_free(&r);
    return st;
}

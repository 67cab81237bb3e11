/* herd reward-train's loop: each step a batch of pairs (shuffled each
 * epoch) as 2P rows, the ranking loss and its gradients (reward_loss.c),
 * clipping by the global norm of backbone and head together, AdamW on both
 * (the head's own small loop: decay on w, none on b) at the cosine
 * schedule's rate; held-out loss and accuracy every eval_every steps and
 * at the end; OUT/loss.csv; OUT/reward.gguf. */
#include "train/reward_run.h"
#include "base/rng.h"
#include "model/model.h"
#include "base/error.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* This epoch's order of the training pairs, drawn from (seed, epoch). */
static void shuffle(herd_reward_run *r)
{
    int64_t n = r->train->n;
    uint64_t s = r->o->seed * 0x100000001b3ULL + r->epoch;
    for (int64_t i = 0; i < n; i++)
        r->order[i] = i;
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)(herd_splitmix64(&s) % (uint64_t)(i + 1));
        int64_t t = r->order[i];
        r->order[i] = r->order[j];
        r->order[j] = t;
    }
    r->next = 0;
}

/* The batch of pairs batch[0 .. P) in rows of the longest one's length
 * (rounded up to 16, at most T): b and the margins; *tokens real ids. */
static herd_status fill(herd_reward_run *r, const herd_pref_pair **pairs, int P, herd_batch *b,
                        int64_t *tokens)
{
    int T = 1;
    *tokens = 0;
    for (int p = 0; p < P; p++) {
        int n = pairs[p]->n_chosen > pairs[p]->n_rejected ? pairs[p]->n_chosen
                                                          : pairs[p]->n_rejected;
        T = n > T ? n : T;
        *tokens += pairs[p]->n_chosen + pairs[p]->n_rejected;
        r->margin[p] = pairs[p]->margin;
    }
    T = (T + 15) / 16 * 16;
    T = T > r->T ? r->T : T;
    *b = (herd_batch){2 * P, T, r->tokens, r->targets, NULL};
    return herd_reward_fill(pairs, P, T, r->tokens, r->targets, r->last);
}

/* Loss and accuracy over the first eval_pairs (0: all) validation pairs. */
static herd_status evaluate(herd_reward_run *r, herd_reward_record *rec)
{
    int64_t n = r->val->n, correct = 0;
    if (r->o->eval_pairs && r->o->eval_pairs < n)
        n = r->o->eval_pairs;
    double loss = 0;
    for (int64_t i = 0; i < n; i += r->P) {
        int P = n - i < r->P ? (int)(n - i) : r->P;
        for (int p = 0; p < P; p++)
            r->batch[p] = &r->val->pairs[i + p];
        herd_batch b;
        int64_t tok;
        herd_reward_stats st;
        HERD_TRY(fill(r, r->batch, P, &b, &tok));
        HERD_TRY(herd_reward_batch(r->tm, &b, r->last, r->margin, r->head, NULL, NULL, &st));
        loss += st.loss * P;
        correct += st.correct;
    }
    rec->val_loss = loss / n;
    rec->val_accuracy = (double)correct / n;
    rec->val_pairs = n;
    return HERD_OK;
}

/* Scales backbone and head gradients together to a global norm of at most
 * max (<= 0: no clipping); the norm before. */
static double clip(herd_reward_run *r, int D, double max)
{
    double bn = herd_train_grad_norm(r->tm), hn = 0;
    for (int i = 0; i <= D; i++)
        hn += (double)r->dhead[i] * r->dhead[i];
    double norm = sqrt(bn * bn + hn);
    if (max > 0 && norm > max) {
        double s = max / norm;
        herd_train_clip_grad(r->tm, bn * s);
        for (int i = 0; i <= D; i++)
            r->dhead[i] = (float)(r->dhead[i] * s);
    }
    return norm;
}

/* AdamW on the head, as herd_adamw_step on the backbone (step t, 1-based). */
static void head_step(herd_reward_run *r, int D, float lr, int64_t t)
{
    const herd_adamw_params *a = &r->o->adamw;
    double c1 = 1 - pow(a->beta1, (double)t), c2 = 1 - pow(a->beta2, (double)t);
    for (int i = 0; i <= D; i++) {
        float g = r->dhead[i];
        r->head_m[i] = a->beta1 * r->head_m[i] + (1 - a->beta1) * g;
        r->head_v[i] = a->beta2 * r->head_v[i] + (1 - a->beta2) * g * g;
        double u = r->head_m[i] / c1 / (sqrt(r->head_v[i] / c2) + a->eps);
        r->head[i] -= (float)(lr * (u + (i < D ? a->weight_decay * r->head[i] : 0)));
    }
}

static herd_status train_step(herd_reward_run *r, int64_t step, herd_reward_record *rec)
{
    int D = herd_train_config(r->tm)->dim, P = r->P;
    double t0 = now();
    for (int p = 0; p < P; p++) {
        if (r->next == r->train->n) {
            r->epoch++;
            shuffle(r);
        }
        r->batch[p] = &r->train->pairs[r->order[r->next++]];
    }
    herd_batch b;
    int64_t tokens;
    herd_reward_stats st;
    HERD_TRY(fill(r, r->batch, P, &b, &tokens));
    herd_train_zero_grad(r->tm);
    memset(r->dhead, 0, (size_t)(D + 1) * sizeof *r->dhead);
    HERD_TRY(herd_reward_batch(r->tm, &b, r->last, r->margin, r->head, r->dhead, NULL, &st));
    if (!isfinite(st.loss))
        return herd_fail(HERD_E_RANGE, "reward: the loss is %g at step %lld", st.loss,
                         (long long)step + 1);
    rec->grad_norm = clip(r, D, r->o->grad_clip);
    rec->lr = herd_lr_cosine(step, r->warmup, r->o->steps, r->o->lr, r->o->min_lr_ratio);
    herd_adamw_step(r->opt, r->tm, &r->o->adamw, rec->lr);
    head_step(r, D, rec->lr, step + 1);
    rec->step = step + 1;
    rec->loss = st.loss;
    rec->accuracy = (double)st.correct / P;
    rec->tokens_per_s = tokens / (now() - t0);
    return HERD_OK;
}

static void log_csv(herd_reward_run *r, const herd_reward_record *rec)
{
    if (!r->csv)
        return;
    fprintf(r->csv, "%lld,%.6f,%.4f,", (long long)rec->step, rec->loss, rec->accuracy);
    if (isfinite(rec->val_loss))
        fprintf(r->csv, "%.6f,%.4f", rec->val_loss, rec->val_accuracy);
    else
        fprintf(r->csv, ",");
    fprintf(r->csv, ",%.3e,%.4f,%.1f\n", rec->lr, rec->grad_norm, rec->tokens_per_s);
    fflush(r->csv);
}

static herd_status save(herd_reward_run *r)
{
    char path[HERD_REWARD_PATH + 32];
    HERD_TRY(herd_reward_path(r, "reward.gguf", path));
    herd_model *m = (herd_model *)herd_train_as_model(r->tm);
    m->tok = (herd_tokenizer *)r->tok;
    m->chat_template = r->base->chat_template;
    herd_status s = herd_reward_save(m, r->head, r->tpl, path);
    m->tok = NULL;
    m->chat_template = NULL;
    HERD_TRY(s);
    herd_reward_note(r, "saved %s", path);
    return HERD_OK;
}

static herd_status loop(herd_reward_run *r)
{
    const herd_reward_opts *o = r->o;
    char path[HERD_REWARD_PATH + 32];
    HERD_TRY(herd_reward_path(r, "loss.csv", path));
    if (!(r->csv = fopen(path, "w")))
        return herd_fail(HERD_E_IO, "%s: cannot write", path);
    fprintf(r->csv, "step,loss,accuracy,val_loss,val_accuracy,lr,grad_norm,tokens_per_s\n");
    shuffle(r);
    double t0 = now();
    for (int64_t step = 0; step < o->steps; step++) {
        herd_reward_record rec = {.steps = o->steps, .val_loss = NAN, .val_accuracy = NAN};
        HERD_TRY(train_step(r, step, &rec));
        int stop = r->cb && r->cb->stop && *r->cb->stop;
        int last = rec.step == o->steps || stop;
        if (r->val && (last || (o->eval_every && rec.step % o->eval_every == 0)))
            HERD_TRY(evaluate(r, &rec));
        rec.elapsed_s = now() - t0;
        log_csv(r, &rec);
        if (r->cb && r->cb->on_step)
            r->cb->on_step(r->cb->user, &rec);
        if (stop) {
            herd_reward_note(r, "stopped after step %lld", (long long)rec.step);
            break;
        }
    }
    return save(r);
}

herd_status herd_reward_train(const herd_reward_opts *o, const herd_reward_callbacks *cb)
{
    herd_reward_run r;
    herd_status s = herd_reward_setup(&r, o, cb);
    if (s == HERD_OK)
        s = loop(&r);
    herd_reward_teardown(&r);
    return s;
}

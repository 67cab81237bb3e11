/* herd dpo: Direct Preference Optimization (src/train/dpo.h) of a model on
 * preference pairs (src/train/pref.h) from a JSON config: the reference's
 * log-probabilities cached in one pass first, then AdamW steps on the DPO
 * loss (full or LoRA), progress lines, validation, OUT/dpo.csv, and the
 * model (full) or adapter (LoRA) at the end. */
#include "cli/cli.h"
#include "train/export.h"
#include "cli/progress.h"
#include "base/error.h"
#include "train/json_config.h"
#include "base/file.h"
#include "model/model.h"
#include "train/dpo.h"
#include "train/pref.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void help(FILE *f)
{
    fprintf(f,
"usage: herd dpo --config FILE [-t N] [-q]\n"
"Aligns the model in \"init\" to preference pairs with Direct Preference\n"
"Optimization (Rafailov et al. 2023; as Llama 3 does): the loss is\n"
"-log sigmoid(beta ((pc - rc) - (pr - rr))), pc and pr the policy's summed\n"
"log-probabilities of the chosen and rejected answers, rc and rr the frozen\n"
"reference's (computed once, before training). Data: JSONL lines\n"
"{\"prompt\": TEXT or [messages], \"chosen\": \"...\", \"rejected\": \"...\"},\n"
"rendered with the chat template, scored on the answers only.\n"
"Prints per step the loss, accuracy (pairs with chosen above rejected),\n"
"reward margin, the chosen and rejected implicit rewards beta (p - r), lr,\n"
"gradient norm and ETA; writes OUT/dpo.csv, and at the end OUT/model.gguf\n"
"(full) or OUT/adapter/ (PEFT) and OUT/adapter.gguf (llama.cpp --lora) (lora).\n\n"
"  --config FILE    the run's JSON config (below)\n"
"  -t, --threads N  threads (overrides the config)\n"
"  -q, --quiet      only validation and the last step\n"
"  -h, --help       this help\n\n"
"Config keys (defaults in brackets):\n"
"  init             the policy's starting model (required)\n"
"  ref              the reference model [init]; same shape and vocabulary\n"
"  tokenizer        a tokenizer file [the model's]\n"
"  train_data       preference JSONL (required); val_data: validation pairs\n"
"  out_dir [out]    method [full] (full or lora), lora_r [8], lora_alpha [16],\n"
"                   lora_dropout [0], lora_targets [\"q,v\"] (q, k, v, o, gate,\n"
"                   up, down, all)\n"
"  beta [0.1]       batch_size [8] (pairs a step), seq_len [model's context;\n"
"                   pairs longer than seq_len + 1 tokens are dropped, counted]\n"
"  steps [one epoch], warmup [0], lr [1e-5], min_lr_ratio [0.1],\n"
"  weight_decay [0], beta1 [0.9], beta2 [0.95], eps [1e-5], grad_clip [1.0],\n"
"  eval_every [0: at the end], seed [1337], threads [all], skip_bad [false],\n"
"  chat_template [auto: the model's; none; llama2; llama3]\n");
}

typedef struct {
    herd_dpo_opts o;
    int quiet;
    herd_model *base;
    herd_model *ref_model;          /* a reference other than init, or NULL */
    const herd_tokenizer *tok;
    herd_train_model *tm;
    herd_adamw *opt;
    herd_pref_set *sets[2];         /* train, val */
    herd_dpo_pair *pairs[2];
    double *cache[2];               /* reference log-probs, 2 a pair */
    int T, P;
    int *tokens, *targets;          /* [2P][T] */
    const herd_dpo_pair **ptr;      /* [P] */
    int64_t *idx;                   /* [P] */
    double *ref;                    /* [2P] */
    FILE *csv;
} dpo_run;

static int fail(herd_status st)
{
    fprintf(stderr, "herd dpo: %s\n", herd_last_error());
    return st == HERD_E_ARG ? 2 : 1;
}

static herd_chat_template pick_template(const dpo_run *r)
{
    return herd_cfg_pick_template(r->o.chat_template, r->base, r->tok);
}

/* The policy (full or LoRA over init) and the tokenizer. */
static herd_status open_policy(dpo_run *r)
{
    const herd_dpo_opts *o = &r->o;
    HERD_TRY(herd_model_open_ex(o->init, o->tokenizer[0] ? o->tokenizer : NULL, &r->base));
    r->tok = herd_model_tokenizer(r->base);
    if (!r->tok)
        return herd_fail(HERD_E_ARG, "%s has no tokenizer: set \"tokenizer\"", o->init);
    const herd_config *c = &r->base->cfg;
    r->T = o->seq_len ? o->seq_len : c->seq_len;
    if (r->T > c->seq_len)
        return herd_fail(HERD_E_ARG, "config: seq_len %d is longer than the model's context of "
                         "%d", r->T, c->seq_len);
    if (o->ref[0] && strcmp(o->ref, o->init)) {
        HERD_TRY(herd_model_open(o->ref, &r->ref_model));
        HERD_TRY(herd_dpo_check_ref(c, &r->ref_model->cfg, o->ref));
    }
    if (!strcmp(o->method, "lora"))
        HERD_TRY(herd_train_model_lora(r->base, &o->lora, o->seed, &r->tm));
    else
        HERD_TRY(herd_train_model_from(r->base, &r->tm));
    return herd_adamw_new(r->tm, &r->opt);
}

/* Set i (0 train, 1 val) read, rendered and viewed as DPO pairs. */
static herd_status load_set(dpo_run *r, int i, const char *path)
{
    herd_pref_stats st;
    HERD_TRY(herd_pref_load(path, r->tok, pick_template(r), r->T + 1, r->o.skip_bad, &r->sets[i],
                            &st));
    const herd_pref_set *s = r->sets[i];
    fprintf(stderr, "herd dpo: %s: %lld pairs (%lld too long, dropped; %lld bad lines skipped), "
            "%lld tokens\n", path, (long long)s->n, (long long)st.too_long, (long long)st.bad,
            (long long)st.tokens);
    if (!(r->pairs[i] = malloc((size_t)s->n * sizeof *r->pairs[i])) ||
        !(r->cache[i] = malloc((size_t)s->n * 2 * sizeof *r->cache[i])))
        return herd_fail(HERD_E_NOMEM, "out of memory");
    for (int64_t k = 0; k < s->n; k++) {
        const herd_pref_pair *p = &s->pairs[k];
        r->pairs[i][k] = (herd_dpo_pair){p->chosen, p->rejected, p->chosen_mask,
                                         p->rejected_mask, p->n_chosen, p->n_rejected};
    }
    return HERD_OK;
}

static void ref_progress(void *user, int64_t done)
{
    progress_update(user, (double)done);
}

/* The reference's log-probabilities of every pair, once: with the policy
 * itself before its first step when the reference is init, else with the
 * reference model (freed after). */
static herd_status cache_ref(dpo_run *r)
{
    herd_train_model *ref = r->tm;
    herd_status st = HERD_OK;
    if (r->ref_model)
        st = herd_train_model_from(r->ref_model, &ref);
    for (int i = 0; i < 2 && st == HERD_OK; i++) {
        if (!r->sets[i])
            continue;
        cli_progress pb;
        progress_start(&pb, i ? "reference (val)" : "reference", "pairs",
                       (double)r->sets[i]->n, 1, r->quiet);
        st = herd_dpo_ref_logprobs(ref, r->pairs[i], r->sets[i]->n, r->P, r->T, r->cache[i],
                                   ref_progress, &pb);
        progress_done(&pb, (double)r->sets[i]->n);
    }
    if (ref != r->tm)
        herd_train_model_free(ref);
    herd_model_free(r->ref_model);
    r->ref_model = NULL;
    return st;
}

/* The batch of pairs r->idx[0 .. P-1] (-1: padding) of a set into r's rows
 * and their reference log-probs into r->ref. */
static herd_status fill(dpo_run *r, int set)
{
    for (int p = 0; p < r->P; p++)
        r->ptr[p] = r->idx[p] >= 0 ? &r->pairs[set][r->idx[p]] : NULL;
    herd_dpo_gather_ref(r->cache[set], r->idx, r->P, r->ref);
    return herd_dpo_fill(r->ptr, r->P, r->T, r->tokens, r->targets);
}

/* Mean statistics over the validation pairs. */
static herd_status validate(dpo_run *r, herd_dpo_stats *out)
{
    herd_batch b = {2 * r->P, r->T, r->tokens, r->targets, NULL};
    int64_t n = r->sets[1]->n;
    herd_dpo_stats s = {0}, st;
    for (int64_t i = 0; i < n; i += r->P) {
        int k = (int)(n - i < r->P ? n - i : r->P);
        for (int p = 0; p < r->P; p++)
            r->idx[p] = p < k ? i + p : -1;
        HERD_TRY(fill(r, 1));
        HERD_TRY(herd_dpo_batch_loss(r->tm, &b, k, r->ref, r->o.beta, 0, 0, &st));
        s.loss += st.loss * k, s.accuracy += st.accuracy * k, s.margin += st.margin * k;
        s.chosen_reward += st.chosen_reward * k, s.rejected_reward += st.rejected_reward * k;
        s.kl_chosen += st.kl_chosen * k;
    }
    s.loss /= n, s.accuracy /= n, s.margin /= n;
    s.chosen_reward /= n, s.rejected_reward /= n, s.kl_chosen /= n;
    s.pairs = (int)n;
    *out = s;
    return HERD_OK;
}

/* A permutation of 0..n-1 from (seed, epoch). */
static void shuffle(int64_t *perm, int64_t n, uint64_t seed, uint64_t epoch)
{
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + epoch + 1;
    for (int64_t i = 0; i < n; i++)
        perm[i] = i;
    for (int64_t i = n - 1; i > 0; i--) {
        s ^= s >> 12, s ^= s << 25, s ^= s >> 27;
        int64_t j = (int64_t)((s * 0x2545F4914F6CDD1Dull) % (uint64_t)(i + 1)), t = perm[i];
        perm[i] = perm[j], perm[j] = t;
    }
}

static void report(dpo_run *r, int64_t step, int64_t total, const herd_dpo_stats *st, float lr,
                   double norm, const herd_dpo_stats *val, double t0)
{
    char eta[16];
    double el = progress_now() - t0;
    if (!r->quiet || step == total)
        fprintf(stderr, "step %lld/%lld | loss %.4f | acc %.2f | margin %+.4f | chosen %+.4f | "
                "rejected %+.4f | lr %.2e | norm %.3f | %.1f pairs/s | ETA %s\n",
                (long long)step, (long long)total, st->loss, st->accuracy, st->margin,
                st->chosen_reward, st->rejected_reward, lr, norm, step * r->P / fmax(el, 1e-9),
                progress_hms(el / step * (total - step), eta));
    if (val)
        fprintf(stderr, "val step %lld | loss %.4f | acc %.3f | margin %+.4f | chosen %+.4f | "
                "rejected %+.4f | chosen drift %+.3f nats\n", (long long)step, val->loss,
                val->accuracy, val->margin, val->chosen_reward, val->rejected_reward,
                val->kl_chosen);
    if (!r->csv)
        return;
    fprintf(r->csv, "%lld,%.6f,%.4f,%.6f,%.6f,%.6f,%.6g,%.6f,", (long long)step, st->loss,
            st->accuracy, st->margin, st->chosen_reward, st->rejected_reward, lr, norm);
    if (val)
        fprintf(r->csv, "%.6f,%.4f,%.6f\n", val->loss, val->accuracy, val->margin);
    else
        fprintf(r->csv, ",,\n");
}

/* The steps: shuffled pairs, P a step (epochs run on into each other). */
static herd_status train(dpo_run *r)
{
    const herd_dpo_opts *o = &r->o;
    int64_t n = r->sets[0]->n, total = o->steps ? o->steps : (n + r->P - 1) / r->P;
    int64_t *perm = malloc((size_t)n * sizeof *perm), pos = 0, epoch = 0;
    if (!perm)
        return herd_fail(HERD_E_NOMEM, "out of memory");
    shuffle(perm, n, o->seed, 0);
    herd_batch b = {2 * r->P, r->T, r->tokens, r->targets, NULL};
    herd_status st = HERD_OK;
    double t0 = progress_now();
    for (int64_t step = 0; st == HERD_OK && step < total; step++) {
        for (int p = 0; p < r->P; p++) {
            if (pos == n)
                shuffle(perm, n, o->seed, (uint64_t)++epoch), pos = 0;
            r->idx[p] = perm[pos++];
        }
        herd_dpo_stats s, v;
        if ((st = fill(r, 0)) != HERD_OK)
            break;
        herd_train_zero_grad(r->tm);
        st = herd_dpo_batch_loss(r->tm, &b, r->P, r->ref, o->beta, 1,
                                 o->seed * 1000003u + (uint64_t)step, &s);
        if (st != HERD_OK)
            break;
        double norm = herd_train_clip_grad(r->tm, o->grad_clip);
        float lr = herd_lr_cosine(step, o->warmup, total, o->lr, o->min_lr_ratio);
        herd_adamw_step(r->opt, r->tm, &o->adamw, lr);
        int eval = r->sets[1] && (step + 1 == total || (o->eval_every &&
                                                        (step + 1) % o->eval_every == 0));
        if (eval && (st = validate(r, &v)) != HERD_OK)
            break;
        report(r, step + 1, total, &s, lr, norm, eval ? &v : NULL, t0);
    }
    free(perm);
    return st;
}

static herd_status export(dpo_run *r)
{
    char msg[2 * HERD_DPO_PATH + 128];
    HERD_TRY(herd_train_export(r->tm, r->tok, r->base->chat_template, r->o.out_dir, r->o.init,
                               msg, sizeof msg));
    fprintf(stderr, "herd dpo: %s\n", msg);
    return HERD_OK;
}

static herd_status setup(dpo_run *r)
{
    const herd_dpo_opts *o = &r->o;
    HERD_TRY(open_policy(r));
    HERD_TRY(load_set(r, 0, o->train_data));
    if (o->val_data[0])
        HERD_TRY(load_set(r, 1, o->val_data));
    r->P = o->batch_size;
    size_t rows = (size_t)2 * r->P;
    r->tokens = malloc(rows * r->T * sizeof *r->tokens);
    r->targets = malloc(rows * r->T * sizeof *r->targets);
    r->ptr = malloc((size_t)r->P * sizeof *r->ptr);
    r->idx = malloc((size_t)r->P * sizeof *r->idx);
    r->ref = malloc(rows * sizeof *r->ref);
    if (!r->tokens || !r->targets || !r->ptr || !r->idx || !r->ref)
        return herd_fail(HERD_E_NOMEM, "out of memory");
    HERD_TRY(cache_ref(r));
    if (mkdir(o->out_dir, 0777) != 0 && !herd_is_dir(o->out_dir))
        return herd_fail(HERD_E_IO, "%s: cannot create the output folder", o->out_dir);
    char path[HERD_DPO_PATH + 32];
    HERD_TRY(herd_path_join(path, sizeof path, o->out_dir, "dpo.csv"));
    if (!(r->csv = fopen(path, "w")))
        return herd_fail(HERD_E_IO, "%s: cannot write", path);
    fprintf(r->csv, "step,loss,accuracy,margin,chosen_reward,rejected_reward,lr,grad_norm,"
            "val_loss,val_accuracy,val_margin\n");
    return HERD_OK;
}

static void cleanup(dpo_run *r)
{
    if (r->csv)
        fclose(r->csv);
    for (int i = 0; i < 2; i++) {
        herd_pref_set_free(r->sets[i]);
        free(r->pairs[i]);
        free(r->cache[i]);
    }
    free(r->tokens); free(r->targets); free(r->ptr); free(r->idx); free(r->ref);
    herd_adamw_free(r->opt);
    herd_train_model_free(r->tm);
    herd_model_free(r->ref_model);
    herd_model_free(r->base);
}

int cli_dpo(int argc, char **argv)
{
    const char *config = NULL;
    int threads = 0;
    dpo_run r = {0};
    int rc = cli_trainer_args(argc, argv, "dpo", help, &config, &threads, &r.quiet);
    if (rc)
        return rc < 0 ? 0 : rc;
    herd_dpo_opts_defaults(&r.o);
    herd_status st = herd_dpo_opts_load(config, &r.o);
    if (st == HERD_OK && (!r.o.init[0] || !r.o.train_data[0]))
        st = herd_fail(HERD_E_ARG, "%s: the config needs \"%s\"", config,
                       r.o.init[0] ? "train_data" : "init");
    if (st != HERD_OK) {
        fprintf(stderr, "herd dpo: %s\n", herd_last_error());
        return 2;
    }
    if (threads)
        r.o.threads = threads;
    if (r.o.threads)
        herd_set_threads(r.o.threads);
    st = setup(&r);
    if (st == HERD_OK)
        st = train(&r);
    if (st == HERD_OK)
        st = export(&r);
    rc = st == HERD_OK ? 0 : fail(st);
    cleanup(&r);
    return rc;
}

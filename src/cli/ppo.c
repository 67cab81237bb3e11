/* herd ppo: PPO (src/train/ppo.h) of a model against a reward model
 * (src/train/reward.h) on a file of prompts, from a JSON config: per
 * iteration a batch of rollouts sampled from the policy, scored, and
 * epochs of clipped policy and value steps; progress lines, OUT/ppo.csv,
 * and OUT/model.gguf at the end. The reward model must share the policy's
 * vocabulary (it scores the policy's own ids) and chat template. */
#include "cli/cli.h"
#include "train/export.h"
#include "cli/progress.h"
#include "base/error.h"
#include "base/file.h"
#include "model/model.h"
#include "train/dpo.h"
#include "train/ppo.h"
#include "train/json_config.h"
#include "train/reward.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void help(FILE *f)
{
    fprintf(f,
"usage: herd ppo --config FILE [-t N] [-q]\n"
"Aligns the model in \"init\" to a reward model with PPO (Ouyang et al. 2022;\n"
"Llama 2, section 3.2.3). Each iteration samples a response per prompt from\n"
"the policy, scores prompt + response with the reward model, and gives each\n"
"response token the reward -kl_coef (logp - logp_ref), plus the score at the\n"
"last token; a value head on the policy's trunk gives GAE advantages\n"
"(whitened) and returns; then epochs of minibatch steps on the clipped\n"
"surrogate plus vf_coef times the clipped value loss.\n"
"Prompts: JSONL lines {\"prompt\": TEXT or [messages]} or {\"messages\": [...]},\n"
"rendered with the chat template. The reward model must have the policy's\n"
"vocabulary (it scores the policy's token ids as they are) and template.\n"
"Prints per iteration the mean reward, the KL to the reference (per response\n"
"token and per response), the entropy estimate -mean(logp) of the sampled\n"
"tokens, the policy and value losses, the clip fraction, the mean response\n"
"length, gradient norm and ETA; writes OUT/ppo.csv and OUT/model.gguf.\n\n"
"  --config FILE    the run's JSON config (below)\n"
"  -t, --threads N  threads (overrides the config)\n"
"  -q, --quiet      only the last iteration\n"
"  -h, --help       this help\n\n"
"Config keys (defaults in brackets):\n"
"  init             the policy's starting model (required; full training)\n"
"  ref              the frozen reference [init]; same shape and vocabulary\n"
"  reward           the reward model (herd reward-train's reward.gguf; required)\n"
"  tokenizer        a tokenizer file [the policy's]\n"
"  train_data       prompts JSONL (required); out_dir [out]\n"
"  chat_template    [auto: the reward model's; none; llama2; llama3]\n"
"  iterations [one pass over the prompts], batch_size [8] (prompts an\n"
"                   iteration), minibatch_size [batch_size], epochs [4]\n"
"  max_new_tokens [32], temperature [1] (the log-probabilities are the\n"
"                   untempered policy's: 1 keeps the samples on-policy)\n"
"  lr [1e-5] (policy AdamW), value_lr [1e-4] (value head Adam), kl_coef [0.05],\n"
"  clip [0.2], value_clip [0.2], gamma [1], lam [0.95], vf_coef [0.1],\n"
"  grad_clip [1.0], whiten [true] (advantages), weight_decay [0], beta1 [0.9],\n"
"  beta2 [0.95], eps [1e-5], seed [1337], threads [all]\n");
}

typedef struct {
    herd_ppo_opts o;
    int quiet;
    herd_model *base;
    const herd_tokenizer *tok;
    herd_chat_template tpl;
    herd_reward_model *rm;
    herd_train_model *policy, *ref;
    herd_ppo_prompts *prompts;
    herd_ppo *ppo;
    FILE *csv;
} ppo_run;

static herd_status reward_fn(void *user, const int *ids, int n, int n_prompt, float *r)
{
    (void)n_prompt;
    return herd_reward_score(user, &ids, &n, 1, r);
}

/* The reward model scores the policy's ids: the same vocabulary, and the
 * template its pairs were rendered with. */
static herd_status open_reward(ppo_run *r)
{
    HERD_TRY(herd_reward_open(r->o.reward, &r->rm));
    int V = r->base->cfg.vocab_size, RV = herd_reward_backbone(r->rm)->cfg.vocab_size;
    if (RV != V)
        return herd_fail(HERD_E_ARG, "reward model %s: vocabulary of %d tokens, the policy has "
                         "%d (the reward model scores the policy's token ids)", r->o.reward, RV, V);
    const herd_tokenizer *rt = herd_reward_tokenizer(r->rm);
    for (int i = 0; rt && i < V; i++) {
        const char *a = herd_token_piece(rt, i), *b = herd_token_piece(r->tok, i);
        if (!a || !b || strcmp(a, b))
            return herd_fail(HERD_E_ARG, "reward model %s: token %d is another piece than the "
                             "policy's (the reward model scores the policy's token ids)",
                             r->o.reward, i);
    }
    herd_chat_template rt_tpl = herd_reward_template(r->rm);
    r->tpl = rt_tpl;
    if (strcmp(r->o.chat_template, "auto"))
        r->tpl = herd_cfg_pick_template(r->o.chat_template, NULL, NULL);
    if (r->tpl != rt_tpl)
        return herd_fail(HERD_E_ARG, "chat_template %s, but the reward model %s was trained on "
                         "pairs rendered with %s", herd_chat_template_name(r->tpl), r->o.reward,
                         herd_chat_template_name(rt_tpl));
    return HERD_OK;
}

static herd_status open_models(ppo_run *r)
{
    const herd_ppo_opts *o = &r->o;
    HERD_TRY(herd_model_open_ex(o->init, o->tokenizer[0] ? o->tokenizer : NULL, &r->base));
    r->tok = herd_model_tokenizer(r->base);
    if (!r->tok)
        return herd_fail(HERD_E_ARG, "%s has no tokenizer: set \"tokenizer\"", o->init);
    HERD_TRY(open_reward(r));
    HERD_TRY(herd_train_model_from(r->base, &r->policy));
    if (o->ref[0] && strcmp(o->ref, o->init)) {
        herd_model *m;
        HERD_TRY(herd_model_open(o->ref, &m));
        herd_status s = herd_dpo_check_ref(&r->base->cfg, &m->cfg, o->ref);
        if (s == HERD_OK)
            s = herd_train_model_from(m, &r->ref);
        herd_model_free(m);
        return s;
    }
    return herd_train_model_from(r->base, &r->ref);
}

static herd_status setup(ppo_run *r)
{
    herd_ppo_opts *o = &r->o;
    HERD_TRY(open_models(r));
    int ctx = r->base->cfg.seq_len;
    HERD_TRY(herd_ppo_prompts_load(o->train_data, r->tok, r->tpl, ctx - 1, &r->prompts));
    fprintf(stderr, "herd ppo: %s: %lld prompts (%lld too long for the context of %d, dropped), "
            "the longest %d tokens\n", o->train_data, (long long)r->prompts->n,
            (long long)r->prompts->too_long, ctx, r->prompts->max_len);
    o->p.stop[0] = herd_tokenizer_eos(r->tok);
    int end = herd_chat_end_token(r->tok, r->tpl);
    o->p.stop[1] = end != o->p.stop[0] ? end : -1;
    int n_ctx = r->prompts->max_len + o->p.max_new_tokens;
    HERD_TRY(herd_ppo_new(r->policy, r->ref, &o->p, n_ctx < ctx ? n_ctx : ctx, &r->ppo));
    if (mkdir(o->out_dir, 0777) != 0 && !herd_is_dir(o->out_dir))
        return herd_fail(HERD_E_IO, "%s: cannot create the output folder", o->out_dir);
    char path[HERD_PPO_PATH + 32];
    HERD_TRY(herd_path_join(path, sizeof path, o->out_dir, "ppo.csv"));
    if (!(r->csv = fopen(path, "w")))
        return herd_fail(HERD_E_IO, "%s: cannot write", path);
    fprintf(r->csv, "iteration,reward,kl,kl_seq,entropy,policy_loss,value_loss,clip_frac,"
            "approx_kl,value,response_len,grad_norm\n");
    return HERD_OK;
}

static void report(ppo_run *r, int64_t total, const herd_ppo_stats *s, double t0)
{
    char eta[16];
    double el = progress_now() - t0;
    if (!r->quiet || s->iteration == total)
        fprintf(stderr, "iter %lld/%lld | reward %+.4f | kl %.4f/tok %.3f/seq | entropy %.3f | "
                "pg %+.4f | vf %.4f | clip %.3f | len %.1f | norm %.3f | %.1f rollouts/s | "
                "ETA %s\n", (long long)s->iteration, (long long)total, s->reward, s->kl,
                s->kl_seq, s->entropy, s->policy_loss, s->value_loss, s->clip_frac,
                s->response_len, s->grad_norm, s->iteration * s->n / fmax(el, 1e-9),
                progress_hms(el / s->iteration * (total - s->iteration), eta));
    fprintf(r->csv, "%lld,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.3f,%.6f\n",
            (long long)s->iteration, s->reward, s->kl, s->kl_seq, s->entropy, s->policy_loss,
            s->value_loss, s->clip_frac, s->approx_kl, s->value, s->response_len, s->grad_norm);
    fflush(r->csv);
}

/* A permutation of 0..n-1 from (seed, pass). */
static void shuffle(int64_t *perm, int64_t n, uint64_t seed, uint64_t pass)
{
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + pass + 1;
    for (int64_t i = 0; i < n; i++)
        perm[i] = i;
    for (int64_t i = n - 1; i > 0; i--) {
        s ^= s >> 12, s ^= s << 25, s ^= s >> 27;
        int64_t j = (int64_t)((s * 0x2545F4914F6CDD1Dull) % (uint64_t)(i + 1)), t = perm[i];
        perm[i] = perm[j], perm[j] = t;
    }
}

/* The iterations: batch_size shuffled prompts each (passes run on into
 * each other). */
static herd_status train(ppo_run *r)
{
    const herd_ppo_prompts *P = r->prompts;
    int B = r->o.p.batch_size;
    int64_t n = P->n, total = r->o.iterations ? r->o.iterations : (n + B - 1) / B, pos = 0;
    int64_t *perm = malloc((size_t)n * sizeof *perm), pass = 0;
    const int **ptr = malloc((size_t)B * sizeof *ptr);
    int *lens = malloc((size_t)B * sizeof *lens);
    herd_status st = perm && ptr && lens ? HERD_OK : herd_fail(HERD_E_NOMEM, "out of memory");
    if (st == HERD_OK)
        shuffle(perm, n, r->o.p.seed, 0);
    double t0 = progress_now();
    for (int64_t it = 0; st == HERD_OK && it < total; it++) {
        for (int b = 0; b < B; b++) {
            if (pos == n)
                shuffle(perm, n, r->o.p.seed, (uint64_t)++pass), pos = 0;
            int64_t k = perm[pos++];
            ptr[b] = P->ids + P->off[k];
            lens[b] = (int)(P->off[k + 1] - P->off[k]);
        }
        herd_ppo_stats s;
        st = herd_ppo_iteration(r->ppo, ptr, lens, B, reward_fn, r->rm, &s);
        if (st == HERD_OK)
            report(r, total, &s, t0);
    }
    free(perm);
    free(ptr);
    free(lens);
    return st;
}

static herd_status export(ppo_run *r)
{
    char msg[HERD_PPO_PATH + 128];
    HERD_TRY(herd_train_export(r->policy, r->tok, r->base->chat_template, r->o.out_dir, NULL,
                               msg, sizeof msg));
    fprintf(stderr, "herd ppo: %s\n", msg);
    return HERD_OK;
}

static void cleanup(ppo_run *r)
{
    if (r->csv)
        fclose(r->csv);
    herd_ppo_free(r->ppo);
    herd_ppo_prompts_free(r->prompts);
    herd_train_model_free(r->policy);
    herd_train_model_free(r->ref);
    herd_reward_free(r->rm);
    herd_model_free(r->base);
}

/* Flags into r; 0: go on, else the exit status (help: 0 after printing). */
int cli_ppo(int argc, char **argv)
{
    const char *config = NULL;
    int threads = 0;
    ppo_run r = {0};
    int rc = cli_trainer_args(argc, argv, "ppo", help, &config, &threads, &r.quiet);
    if (rc)
        return rc < 0 ? 0 : rc;
    herd_ppo_opts_defaults(&r.o);
    herd_status st = herd_ppo_opts_load(config, &r.o);
    const char *need = !r.o.init[0] ? "init" : !r.o.reward[0] ? "reward"
                     : !r.o.train_data[0] ? "train_data" : NULL;
    if (st == HERD_OK && need)
        st = herd_fail(HERD_E_ARG, "%s: the config needs \"%s\"", config, need);
    if (st != HERD_OK) {
        fprintf(stderr, "herd ppo: %s\n", herd_last_error());
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
    if (st != HERD_OK)
        fprintf(stderr, "herd ppo: %s\n", herd_last_error());
    rc = st == HERD_OK ? 0 : st == HERD_E_ARG ? 2 : 1;
    cleanup(&r);
    return rc;
}

/* The PPO trainer (ppo.h): setup, and each iteration's rollouts
 * (ppo_rollout.c) followed by epochs of shuffled minibatch steps: the
 * clipped policy loss and the value loss (ppo_grad.c) into the shared
 * trunk's gradient, clipped, AdamW on the policy and Adam on the head. */
#include "train/ppo_run.h"
#include "base/error.h"
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

herd_ppo_params herd_ppo_defaults(void)
{
    herd_ppo_params p = {0};
    p.batch_size = 8;
    p.epochs = 4;
    p.max_new_tokens = 32;
    p.temperature = 1.0f;
    p.lr = 1e-5f;
    p.value_lr = 1e-4f;
    p.kl_coef = 0.05f;
    p.clip = 0.2f;
    p.value_clip = 0.2f;
    p.gamma = 1.0f;
    p.lam = 0.95f;
    p.vf_coef = 0.1f;
    p.grad_clip = 1.0f;
    p.whiten = 1;
    p.stop[0] = p.stop[1] = -1;
    p.adamw = herd_adamw_defaults();
    p.adamw.weight_decay = 0;
    p.seed = 1337;
    return p;
}

/* The reference must be the policy's model. */
static herd_status check_ref(const herd_config *p, const herd_config *r)
{
    static const struct { const char *name; size_t off; } f[] = {
        {"vocab_size", offsetof(herd_config, vocab_size)}, {"dim", offsetof(herd_config, dim)},
        {"hidden_dim", offsetof(herd_config, hidden_dim)},
        {"n_layers", offsetof(herd_config, n_layers)},
        {"n_heads", offsetof(herd_config, n_heads)},
        {"n_kv_heads", offsetof(herd_config, n_kv_heads)},
        {"tied_embeddings", offsetof(herd_config, tied_embeddings)},
    };
    for (size_t i = 0; i < sizeof f / sizeof *f; i++) {
        int a = *(const int *)((const char *)r + f[i].off);
        int b = *(const int *)((const char *)p + f[i].off);
        if (a != b)
            return herd_fail(HERD_E_ARG, "ppo: the reference has %s %d, the policy %d (the "
                             "reference must be the policy's model)", f[i].name, a, b);
    }
    return HERD_OK;
}

static herd_status check_params(const herd_ppo_params *p, const herd_config *c, int n_ctx)
{
    if (p->batch_size < 1 || p->epochs < 1 || p->max_new_tokens < 1 || p->minibatch_size < 0)
        return herd_fail(HERD_E_ARG, "ppo: batch_size, epochs and max_new_tokens must be >= 1");
    if (!(p->temperature > 0) || !(p->clip > 0) || !(p->gamma >= 0 && p->gamma <= 1) ||
        !(p->lam >= 0 && p->lam <= 1))
        return herd_fail(HERD_E_ARG, "ppo: temperature and clip must be > 0, gamma and lam in "
                         "0..1");
    if (n_ctx < 2 || n_ctx > c->seq_len)
        return herd_fail(HERD_E_ARG, "ppo: a context of %d tokens (2 to the model's %d)", n_ctx,
                         c->seq_len);
    return HERD_OK;
}

static herd_status alloc_buffers(herd_ppo *ppo)
{
    size_t S = (size_t)ppo->p.batch_size, M = (size_t)ppo->p.max_new_tokens, C = ppo->n_ctx;
    size_t BT = (size_t)ppo->mb * C, D = (size_t)ppo->dim, tmp = BT > S * M ? BT : S * M;
    int ok = 1;
#define A(x, n) ok &= (ppo->x = calloc((n), sizeof *ppo->x)) != NULL
    A(logits, (size_t)ppo->vocab); A(head, D + 1); A(dhead, D + 1); A(head_m, D + 1);
    A(head_v, D + 1); A(ids, S * C); A(len, S); A(n_prompt, S); A(score, S);
    A(logp_old, S * M); A(logp_ref, S * M); A(value, S * M); A(reward, S * M); A(adv, S * M);
    A(ret, S * M); A(order, S); A(idx, (size_t)ppo->mb); A(tokens, BT); A(targets, BT);
    A(b_logp_old, BT); A(b_adv, BT); A(b_vold, BT); A(b_ret, BT); A(b_tmp, tmp);
    A(hidden, BT * D);
#undef A
    return ok ? HERD_OK : herd_fail(HERD_E_NOMEM, "ppo: out of memory");
}

herd_status herd_ppo_new(herd_train_model *policy, herd_train_model *ref,
                         const herd_ppo_params *p, int n_ctx, herd_ppo **out)
{
    *out = NULL;
    const herd_config *c = herd_train_config(policy);
    const herd_model *view = herd_train_as_model(policy);
    if (!view)
        return herd_fail(HERD_E_UNSUPPORTED, "ppo: the policy must be fully trained (not LoRA)");
    HERD_TRY(check_ref(c, herd_train_config(ref)));
    HERD_TRY(check_params(p, c, n_ctx));
    herd_ppo *ppo = calloc(1, sizeof *ppo);
    if (!ppo)
        return herd_fail(HERD_E_NOMEM, "ppo: out of memory");
    ppo->policy = policy, ppo->ref = ref, ppo->p = *p, ppo->n_ctx = n_ctx;
    ppo->dim = c->dim, ppo->vocab = c->vocab_size;
    ppo->mb = p->minibatch_size > 0 && p->minibatch_size < p->batch_size ? p->minibatch_size
                                                                        : p->batch_size;
    ppo->rng = p->seed * 0x9E3779B97F4A7C15ull + 1;
    herd_sampler_params sp = herd_sampler_defaults();
    sp.temp = p->temperature, sp.top_k = 0, sp.top_p = 1, sp.min_p = 0;
    sp.repeat_penalty = 1, sp.seed = p->seed;
    herd_status s = alloc_buffers(ppo);
    if (s == HERD_OK)
        s = herd_context_new(view, n_ctx, &ppo->ctx);
    if (s == HERD_OK)
        s = herd_sampler_new(&sp, c->vocab_size, &ppo->smp);
    if (s == HERD_OK)
        s = herd_adamw_new(policy, &ppo->opt);
    if (s != HERD_OK) {
        herd_ppo_free(ppo);
        return s;
    }
    *out = ppo;
    return HERD_OK;
}

void herd_ppo_free(herd_ppo *ppo)
{
    if (!ppo)
        return;
    herd_context_free(ppo->ctx);
    herd_sampler_free(ppo->smp);
    herd_adamw_free(ppo->opt);
    void *bufs[] = {ppo->logits, ppo->head, ppo->dhead, ppo->head_m, ppo->head_v, ppo->ids,
                    ppo->len, ppo->n_prompt, ppo->score, ppo->logp_old, ppo->logp_ref,
                    ppo->value, ppo->reward, ppo->adv, ppo->ret, ppo->order, ppo->idx,
                    ppo->tokens, ppo->targets, ppo->b_logp_old, ppo->b_adv, ppo->b_vold,
                    ppo->b_ret, ppo->b_tmp, ppo->hidden};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++)
        free(bufs[i]);
    free(ppo);
}

float *herd_ppo_head(herd_ppo *ppo)
{
    return ppo->head;
}

const int *herd_ppo_rollout(const herd_ppo *ppo, int i, int *n, int *n_prompt)
{
    if (i < 0 || i >= ppo->n)
        return NULL;
    *n = ppo->len[i];
    *n_prompt = ppo->n_prompt[i];
    return ppo->ids + (size_t)i * ppo->n_ctx;
}

/* Adam on the head (bias-corrected, no decay). */
static void head_step(herd_ppo *ppo)
{
    const herd_adamw_params *a = &ppo->p.adamw;
    double t = (double)++ppo->head_t;
    double c1 = 1 - pow(a->beta1, t), c2 = 1 - pow(a->beta2, t);
    for (int j = 0; j <= ppo->dim; j++) {
        float g = ppo->dhead[j];
        ppo->head_m[j] = a->beta1 * ppo->head_m[j] + (1 - a->beta1) * g;
        ppo->head_v[j] = a->beta2 * ppo->head_v[j] + (1 - a->beta2) * g * g;
        ppo->head[j] -= (float)(ppo->p.value_lr * (ppo->head_m[j] / c1) /
                                (sqrt(ppo->head_v[j] / c2) + a->eps));
    }
}

/* One step on the rollouts idx[0 .. B-1]. */
static herd_status step(herd_ppo *ppo, int B, herd_ppo_stats *st)
{
    herd_batch b;
    herd_ppo_fill_rows(ppo, B, &b);
    herd_ppo_gather(ppo, &b, ppo->logp_old, ppo->b_logp_old);
    herd_ppo_gather(ppo, &b, ppo->adv, ppo->b_adv);
    herd_ppo_gather(ppo, &b, ppo->value, ppo->b_vold);
    herd_ppo_gather(ppo, &b, ppo->ret, ppo->b_ret);
    herd_train_zero_grad(ppo->policy);
    memset(ppo->dhead, 0, (size_t)(ppo->dim + 1) * sizeof *ppo->dhead);
    herd_ppo_pg_stats pg;
    double vl;
    HERD_TRY(herd_ppo_policy_grad(ppo->policy, &b, ppo->b_logp_old, ppo->b_adv, ppo->p.clip, 1,
                                  &pg));
    HERD_TRY(herd_ppo_value_grad(ppo->policy, &b, ppo->head, ppo->b_vold, ppo->b_ret,
                                 ppo->p.value_clip, ppo->p.vf_coef, ppo->dhead, 1, &vl));
    double norm = herd_train_clip_grad(ppo->policy, ppo->p.grad_clip);
    herd_adamw_step(ppo->opt, ppo->policy, &ppo->p.adamw, ppo->p.lr);
    head_step(ppo);
    st->policy_loss += pg.loss, st->clip_frac += pg.clip_frac, st->approx_kl += pg.approx_kl;
    st->value_loss += vl, st->grad_norm += norm;
    return HERD_OK;
}

static void shuffle(herd_ppo *ppo)
{
    for (int i = 0; i < ppo->n; i++)
        ppo->order[i] = i;
    for (int i = ppo->n - 1; i > 0; i--) {
        uint64_t s = ppo->rng;
        s ^= s >> 12, s ^= s << 25, s ^= s >> 27;
        ppo->rng = s;
        int j = (int)((s * 0x2545F4914F6CDD1Dull >> 11) % (uint64_t)(i + 1)), t = ppo->order[i];
        ppo->order[i] = ppo->order[j], ppo->order[j] = t;
    }
}

herd_status herd_ppo_iteration(herd_ppo *ppo, const int *const *prompts, const int *lens, int n,
                               herd_ppo_reward_fn reward, void *user, herd_ppo_stats *st)
{
    herd_ppo_stats s = {0};
    HERD_TRY(herd_ppo_rollouts(ppo, prompts, lens, n, reward, user, &s));
    int steps = 0;
    for (int e = 0; e < ppo->p.epochs; e++) {
        shuffle(ppo);
        for (int k = 0; k < n; k += ppo->mb, steps++) {
            int B = n - k < ppo->mb ? n - k : ppo->mb;
            memcpy(ppo->idx, ppo->order + k, (size_t)B * sizeof *ppo->idx);
            HERD_TRY(step(ppo, B, &s));
        }
    }
    s.policy_loss /= steps, s.value_loss /= steps, s.clip_frac /= steps;
    s.approx_kl /= steps, s.grad_norm /= steps;
    s.iteration = ++ppo->iteration;
    if (st)
        *st = s;
    return HERD_OK;
}

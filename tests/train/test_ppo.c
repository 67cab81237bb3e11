/* PPO (src/train/ppo.h):
 *  - GAE against the direct sum A_t = sum_l (gamma lam)^l delta_{t+l} and
 *    returns A + V; per-token rewards; whitening;
 *  - the clipped surrogate's loss, clip fraction and per-token coefficients
 *    against the formula written here and its finite differences in each
 *    logp (both branches of the clip, both signs of A); the clipped value
 *    loss and its derivative likewise;
 *  - the whole PPO loss of a fixed batch (fixed logp_old, advantages,
 *    v_old, returns) as a function of a tiny model's parameters and of the
 *    value head: the gradients herd_ppo_policy_grad and
 *    herd_ppo_value_grad add against central differences of the loss
 *    computed here from herd_train_token_logprobs and herd_train_hidden;
 *  - a synthetic proof: a tiny random policy (16 tokens, near uniform), a
 *    reward that is the share of one token X in an 8-token response; after
 *    20 iterations the mean reward has risen well above its start (about
 *    1/16) towards the KL-regularised optimum (each X is worth 1/8, so
 *    p(X) -> e^(0.125/kl_coef) / (e^(0.125/kl_coef) + 15) = 0.28 for
 *    kl_coef 0.07) while the KL to the reference stays under 5 nats a
 *    response;
 *  - a reference of another shape is refused by name;
 *  - prompts: a text prompt renders as BOS + its tokens (plain template),
 *    a message prompt as herd_chat_render's open prompt (Llama 2); a long
 *    prompt is dropped and counted, a bad line names file:line. */
#include "test.h"
#include <unistd.h>
#include "herd_train.h"
#include "train/ppo.h"

static uint64_t rng = 4242;
static double uniform(void)   /* in (-1, 1) */
{
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(rng >> 11) / 9007199254740992.0 * 2 - 1;
}

static herd_config tiny(int vocab, int seq_len)
{
    herd_config c = {0};
    c.dim = 16; c.hidden_dim = 40; c.n_layers = 2; c.n_heads = 4; c.n_kv_heads = 2;
    c.vocab_size = vocab; c.seq_len = seq_len; c.norm_eps = 1e-5f; c.rope_theta = 10000.0f;
    return c;
}

/* ---- (a) the math ---- */

static void test_gae(void)
{
    enum { n = 7 };
    float r[n], v[n], adv[n], ret[n];
    const float gamma = 0.9f, lam = 0.8f;
    for (int t = 0; t < n; t++)
        r[t] = (float)uniform(), v[t] = (float)uniform();
    herd_ppo_gae(r, v, n, gamma, lam, adv, ret);
    for (int t = 0; t < n; t++) {
        double a = 0, w = 1;
        for (int k = t; k < n; k++, w *= (double)gamma * lam) {
            double next = k + 1 < n ? v[k + 1] : 0;
            a += w * (r[k] + gamma * next - v[k]);
        }
        CHECK_MSG(fabs(adv[t] - a) < 1e-5, "A[%d] %.7g, direct %.7g", t, adv[t], a);
        CHECK(fabs(ret[t] - (a + v[t])) < 1e-5);
    }
    /* gamma = lam = 1: A_t = sum of rewards from t on minus V_t */
    herd_ppo_gae(r, v, n, 1, 1, adv, ret);
    double tail = 0;
    for (int t = n - 1; t >= 0; t--) {
        tail += r[t];
        CHECK(fabs(adv[t] - (tail - v[t])) < 1e-5 && fabs(ret[t] - tail) < 1e-5);
    }
    float lo[3] = {-1.0f, -2.0f, -0.5f}, lr[3] = {-1.5f, -1.0f, -0.5f}, tr[3];
    herd_ppo_token_rewards(lo, lr, 3, 0.1f, 2.0f, tr);
    CHECK(fabs(tr[0] + 0.05f) < 1e-7 && fabs(tr[1] - 0.1f) < 1e-7 && fabs(tr[2] - 2.0f) < 1e-7);
    float x[5] = {1, 2, 3, 4, 10};
    herd_ppo_whiten(x, 5);
    double s = 0, s2 = 0;
    for (int i = 0; i < 5; i++)
        s += x[i], s2 += (double)x[i] * x[i];
    CHECK(fabs(s) < 1e-5 && fabs(s2 / 4 - 1) < 1e-5);
}

/* The surrogate as the paper writes it, in double. */
static double surrogate(const double *lp, const float *old, const float *a, const int *tg, int N,
                        double eps)
{
    double l = 0;
    int n = 0;
    for (int i = 0; i < N; i++) {
        if (tg[i] < 0)
            continue;
        double r = exp(lp[i] - old[i]), rc = fmin(fmax(r, 1 - eps), 1 + eps);
        l -= fmin(r * a[i], rc * a[i]);
        n++;
    }
    return l / n;
}

static double value_loss(const double *v, const float *old, const float *R, const int *tg, int N,
                         double c)
{
    double l = 0;
    int n = 0;
    for (int i = 0; i < N; i++) {
        if (tg[i] < 0)
            continue;
        double vc = old[i] + fmin(fmax(v[i] - old[i], -c), c);
        l += 0.5 * fmax((v[i] - R[i]) * (v[i] - R[i]), (vc - R[i]) * (vc - R[i]));
        n++;
    }
    return l / n;
}

static void test_surrogate(void)
{
    enum { N = 10 };
    /* log rho away from the clip's corners: both branches, both signs of A */
    const double lr[N] = {0.6, 0.1, -0.05, -0.4, -0.7, 0.6, 0.1, -0.05, -0.4, 0.3};
    const float a[N] = {1.5f, -0.7f, 0.3f, 2.0f, -1.2f, -0.4f, 0.9f, -2.0f, -0.6f, 1.0f};
    const int tg[N] = {3, 4, 5, -1, 6, 7, 8, 9, 10, 11};
    float lp[N], old[N], coef[N];
    double d[N];
    for (int i = 0; i < N; i++) {
        old[i] = (float)(-1.0 - 0.3 * i);
        lp[i] = (float)(old[i] + lr[i]);
        d[i] = lp[i];
    }
    herd_ppo_pg_stats st;
    herd_ppo_surrogate(lp, old, a, tg, N, 0.2f, coef, &st);
    CHECK(st.n == 9);
    CHECK_MSG(fabs(st.loss - surrogate(d, old, a, tg, N, 0.2)) < 1e-6, "loss %.9g", st.loss);
    int clipped = 0;
    for (int i = 0; i < N; i++)
        clipped += tg[i] >= 0 && ((a[i] > 0 && lr[i] > log(1.2)) || (a[i] < 0 && lr[i] < log(0.8)));
    CHECK(clipped > 0 && clipped < 9 && fabs(st.clip_frac - clipped / 9.0) < 1e-12);
    for (int i = 0; i < N; i++) {
        double h = 1e-5, save = d[i];
        d[i] = save + h;
        double up = surrogate(d, old, a, tg, N, 0.2);
        d[i] = save - h;
        double dn = surrogate(d, old, a, tg, N, 0.2);
        d[i] = save;
        double fd = (up - dn) / (2 * h);
        CHECK_MSG(fabs(coef[i] - fd) < 1e-6, "coef[%d] %.8g, finite difference %.8g", i,
                  coef[i], fd);
    }

    /* the value loss: inside and outside the clip range, both sides of R */
    const float dv_[N] = {0.05f, -0.1f, 0.35f, 0.0f, -0.45f, 0.6f, 0.12f, -0.3f, 0.5f, -0.02f};
    const float R[N] = {1.0f, -0.5f, 0.2f, 0.0f, 2.0f, -1.0f, 0.3f, 0.8f, 1.5f, -0.2f};
    float vo[N], vf[N], g[N];
    for (int i = 0; i < N; i++) {
        vo[i] = (float)(0.5 * uniform());
        vf[i] = vo[i] + dv_[i];
        d[i] = vf[i];
    }
    double l = herd_ppo_value_loss(vf, vo, R, tg, N, 0.2f, 0.5f, g);
    CHECK(fabs(l - value_loss(d, vo, R, tg, N, 0.2)) < 1e-6);
    for (int i = 0; i < N; i++) {
        double h = 1e-5, save = d[i];
        d[i] = save + h;
        double up = value_loss(d, vo, R, tg, N, 0.2);
        d[i] = save - h;
        double dn = value_loss(d, vo, R, tg, N, 0.2);
        d[i] = save;
        CHECK_MSG(fabs(g[i] - 0.5 * (up - dn) / (2 * h)) < 1e-6, "dv[%d] %.8g", i, g[i]);
    }
}

/* ---- (b) the gradient of a fixed batch's loss ---- */

enum { B = 2, T = 8 };
static const int toks[B * T] = {1, 5, 7, 9, 11, 13, 2, 4,   1, 6, 3, 8, 10, 0, 0, 0};
static const int tgts[B * T] = {-1, -1, 9, 11, 13, 2, 4, 12,  -1, 3, 8, 10, 14, -1, -1, -1};
static const herd_batch batch = {B, T, toks, tgts, NULL};
static float old[B * T], adv[B * T], vold[B * T], ret[B * T];
static const float clip = 0.2f, vclip = 0.2f, vf_coef = 0.7f;

/* The loss by hand from the model's log-probabilities and hidden states. */
static double ppo_loss(herd_train_model *tm, const float *head)
{
    int D = herd_train_config(tm)->dim;
    float lp[B * T], hid[B * T * 16];
    double d[B * T], v[B * T];
    CHECK_OK(herd_train_token_logprobs(tm, &batch, NULL, lp));
    CHECK_OK(herd_train_hidden(tm, &batch, hid));
    for (int i = 0; i < B * T; i++) {
        d[i] = lp[i];
        v[i] = head[D];
        for (int j = 0; j < D; j++)
            v[i] += (double)head[j] * hid[i * D + j];
    }
    return surrogate(d, old, adv, tgts, B * T, clip) +
           vf_coef * value_loss(v, vold, ret, tgts, B * T, vclip);
}

static double central(herd_train_model *tm, float *head, float *w, const float *u, size_t len,
                      double h)
{
    float *save = malloc(len * sizeof *save);
    memcpy(save, w, len * sizeof *w);
    for (size_t i = 0; i < len; i++)
        w[i] = save[i] + (float)h * u[i];
    double up = ppo_loss(tm, head);
    for (size_t i = 0; i < len; i++)
        w[i] = save[i] - (float)h * u[i];
    double dn = ppo_loss(tm, head);
    memcpy(w, save, len * sizeof *w);
    free(save);
    return (up - dn) / (2 * h);
}

static void test_grad(void)
{
    herd_config c = tiny(16, 16);
    herd_train_model *tm;
    CHECK_OK(herd_train_model_new(&c, 11, &tm));
    size_t n;
    float *p = herd_train_params(tm, &n), *g = herd_train_grads(tm, NULL);
    for (size_t i = 0; i < n; i++)
        p[i] += 0.3f * (float)uniform();
    float head[17], dhead[17] = {0}, lp[B * T], hid[B * T * 16];
    for (int j = 0; j < 17; j++)
        head[j] = (float)(0.5 * uniform());
    CHECK_OK(herd_train_token_logprobs(tm, &batch, NULL, lp));
    float v[B * T];
    CHECK_OK(herd_ppo_values(tm, &batch, head, hid, v));
    /* old log-probs with rho away from the clip's corners; values in and
     * out of the value clip's range */
    const double shift[5] = {0.6, 0.1, -0.05, -0.4, -0.7}, vs[4] = {0.05, -0.4, 0.1, 0.5};
    for (int i = 0; i < B * T; i++) {
        old[i] = lp[i] - (float)shift[i % 5];
        adv[i] = (float)(1.5 * uniform());
        vold[i] = v[i] - (float)vs[i % 4];
        ret[i] = (float)uniform();
    }
    herd_train_zero_grad(tm);
    herd_ppo_pg_stats st;
    double vl;
    CHECK_OK(herd_ppo_policy_grad(tm, &batch, old, adv, clip, 1, &st));
    CHECK_OK(herd_ppo_value_grad(tm, &batch, head, vold, ret, vclip, vf_coef, dhead, 1, &vl));
    double want = ppo_loss(tm, head);
    CHECK_MSG(fabs(st.loss + vf_coef * vl - want) < 1e-5, "loss %.8g, by hand %.8g",
              st.loss + vf_coef * vl, want);
    CHECK(st.clip_frac > 0 && st.clip_frac < 1);
    float *u = malloc(n * sizeof *u);
    for (int k = 0; k < herd_train_n_tensors(tm); k++) {
        const herd_param_info *t = herd_train_tensor(tm, k);
        size_t len = (size_t)(t->rows * t->cols);
        double gu = 0, norm = 0;
        for (size_t i = 0; i < len; i++)
            u[i] = (float)uniform(), norm += (double)u[i] * u[i];
        for (size_t i = 0; i < len; i++)
            u[i] /= (float)sqrt(norm), gu += (double)g[t->offset + i] * u[i];
        double fd = (4 * central(tm, head, p + t->offset, u, len, 0.01) -
                     central(tm, head, p + t->offset, u, len, 0.02)) / 3;
        CHECK_MSG(fabs(fd - gu) <= 3e-3 * fmax(fabs(gu), 1e-2), "%s: finite difference %.6g, "
                  "gradient %.6g", t->name, fd, gu);
    }
    for (int j = 0; j < 17; j++) {
        float e[17] = {0};
        e[j] = 1;
        double fd = central(tm, head, head, e, 17, 1e-3);
        CHECK_MSG(fabs(fd - dhead[j]) <= 2e-3 * fmax(fabs(dhead[j]), 1e-2),
                  "head[%d]: finite difference %.6g, gradient %.6g", j, fd, dhead[j]);
    }
    free(u);
    herd_train_model_free(tm);
}

/* ---- (c) the synthetic proof ---- */

enum { TARGET = 7 };

/* The reward model stand-in: the share of response tokens that are TARGET. */
static herd_status count_reward(void *user, const int *ids, int n, int n_prompt, float *r)
{
    (void)user;
    int k = 0;
    for (int i = n_prompt; i < n; i++)
        k += ids[i] == TARGET;
    *r = (float)k / (float)(n - n_prompt);
    return HERD_OK;
}

static void test_proof(void)
{
    herd_config c = tiny(16, 32);
    herd_train_model *pol, *ref;
    CHECK_OK(herd_train_model_new(&c, 3, &pol));
    CHECK_OK(herd_train_model_new(&c, 3, &ref));
    herd_ppo_params p = herd_ppo_defaults();
    p.batch_size = 16, p.minibatch_size = 8, p.epochs = 4, p.max_new_tokens = 8;
    p.lr = 3e-3f, p.value_lr = 3e-3f, p.kl_coef = 0.07f, p.seed = 6;
    herd_ppo *ppo;
    CHECK_OK(herd_ppo_new(pol, ref, &p, 16, &ppo));
    int prompt_ids[16][3], lens[16];
    const int *prompts[16];
    for (int i = 0; i < 16; i++) {
        prompt_ids[i][0] = 1, prompt_ids[i][1] = 2 + i % 5, prompt_ids[i][2] = 9 + i % 3;
        prompts[i] = prompt_ids[i], lens[i] = 2 + i % 2;
    }
    int iters = 20;
    double first = 0, last = 0, kl_max = 0;
    herd_ppo_stats st;
    for (int it = 0; it < iters; it++) {
        CHECK_OK(herd_ppo_iteration(ppo, prompts, lens, 16, count_reward, NULL, &st));
        if (it < 2)
            first += st.reward / 2;
        if (it >= iters - 4)
            last += st.reward / 4;
        kl_max = fmax(kl_max, st.kl_seq);
        if (getenv("PPO_VERBOSE"))
            printf("iter %d: reward %.3f kl %.4f/tok %.3f/seq entropy %.3f pg %+.4f vf %.4f "
                   "clip %.3f value %.3f len %.1f\n", it + 1, st.reward, st.kl, st.kl_seq,
                   st.entropy, st.policy_loss, st.value_loss, st.clip_frac, st.value,
                   st.response_len);
    }
    int n, np;
    const int *ids = herd_ppo_rollout(ppo, 3, &n, &np);
    CHECK(ids && np == lens[3] && n == np + 8 && !memcmp(ids, prompts[3], (size_t)np * 4));
    CHECK(herd_ppo_rollout(ppo, 16, &n, &np) == NULL);
    printf("proof (%d iterations): mean reward %.3f -> %.3f, KL to the reference at most "
           "%.3f nats a response, last entropy estimate %.3f\n", iters, first, last, kl_max,
           st.entropy);
    CHECK_MSG(last > first + 0.07 && last > 2.0 / 16, "reward %.3f -> %.3f", first, last);
    CHECK_MSG(kl_max < 5, "KL %.3f nats a response", kl_max);
    herd_ppo_free(ppo);
    herd_train_model_free(pol);
    herd_train_model_free(ref);
}

/* ---- (d) bad input ---- */

static void test_bad(void)
{
    herd_config c = tiny(16, 32), w = c;
    w.dim = 32, w.hidden_dim = 64;
    herd_train_model *pol, *ref;
    CHECK_OK(herd_train_model_new(&c, 3, &pol));
    CHECK_OK(herd_train_model_new(&w, 3, &ref));
    herd_ppo_params p = herd_ppo_defaults();
    herd_ppo *ppo = NULL;
    CHECK_FAILS(herd_ppo_new(pol, ref, &p, 16, &ppo), HERD_E_ARG);
    CHECK(strstr(herd_last_error(), "dim 32, the policy 16") != NULL && !ppo);
    CHECK_FAILS(herd_ppo_new(pol, pol, &p, 33, &ppo), HERD_E_ARG);   /* past the context */
    p.epochs = 0;
    CHECK_FAILS(herd_ppo_new(pol, pol, &p, 16, &ppo), HERD_E_ARG);
    p = herd_ppo_defaults();
    CHECK_OK(herd_ppo_new(pol, pol, &p, 16, &ppo));
    int prompt[16] = {1};
    const int *pp[1] = {prompt};
    int len = 16;   /* no room for an answer */
    CHECK_FAILS(herd_ppo_iteration(ppo, pp, &len, 1, count_reward, NULL, NULL), HERD_E_ARG);
    herd_ppo_free(ppo);
    herd_train_model_free(pol);
    herd_train_model_free(ref);
}

/* ---- prompts ---- */

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static void test_prompts(void)
{
    char path[512], dir[] = "/tmp/herd_ppo_XXXXXX", file[600];
    const char *bin = getenv("HERD_BIN");
    snprintf(path, sizeof path, "%s/models/herd-random.gguf", bin ? bin : "build");
    herd_model *m;
    if (herd_model_open(path, &m) != HERD_OK || !mkdtemp(dir)) {
        printf("prompts: skipped (no %s)\n", path);
        return;
    }
    const herd_tokenizer *t = herd_model_tokenizer(m);
    snprintf(file, sizeof file, "%s/p.jsonl", dir);
    write_file(file, "{\"prompt\": \"Say something.\", \"extra\": 1}\n\n"
               "{\"prompt\": [{\"role\": \"user\", \"content\": \"Hi there\"}]}\n"
               "{\"messages\": [{\"role\": \"system\", \"content\": \"Be brief.\"}, "
               "{\"role\": \"user\", \"content\": \"Hi\"}]}\n"
               "{\"prompt\": \"a much longer prompt than all of the others, which is cut "
               "away because it does not fit in the room given to it\"}\n");
    int want[64], n = 0;
    herd_ppo_prompts *p;
    CHECK_OK(herd_ppo_prompts_load(file, t, HERD_CHAT_NONE, 0, &p));
    CHECK_OK(herd_tokenize(t, "Say something.", 14, 1, 0, want, 64, &n));
    CHECK(p && p->n == 4 && p->off[1] == n && !memcmp(p->ids, want, (size_t)n * sizeof *want));
    int64_t longest = 0;
    for (int i = 0; p && i < 4; i++)
        longest = p->off[i + 1] - p->off[i] > longest ? p->off[i + 1] - p->off[i] : longest;
    CHECK(p && p->max_len == longest && p->off[4] - p->off[3] == longest);
    herd_ppo_prompts_free(p);
    CHECK_OK(herd_ppo_prompts_load(file, t, HERD_CHAT_NONE, (int)longest - 1, &p));
    CHECK(p && p->n == 3 && p->too_long == 1 && p->max_len < longest);
    herd_ppo_prompts_free(p);
    CHECK_OK(herd_ppo_prompts_load(file, t, HERD_CHAT_LLAMA2, 0, &p));
    herd_chat_msg msgs[2] = {{"user", "Hi there"}};
    CHECK_OK(herd_chat_render(t, HERD_CHAT_LLAMA2, msgs, 1, HERD_CHAT_OPEN, want, 64, &n));
    CHECK(p && p->n == 4 && p->too_long == 0);
    CHECK(p && p->off[2] - p->off[1] == n && !memcmp(p->ids + p->off[1], want, n * sizeof *want));
    msgs[0] = (herd_chat_msg){"system", "Be brief."}, msgs[1] = (herd_chat_msg){"user", "Hi"};
    CHECK_OK(herd_chat_render(t, HERD_CHAT_LLAMA2, msgs, 2, HERD_CHAT_OPEN, want, 64, &n));
    CHECK(p && p->off[3] - p->off[2] == n && !memcmp(p->ids + p->off[2], want, n * sizeof *want));
    herd_ppo_prompts_free(p);
    write_file(file, "{\"prompt\": \"ok\"}\n{\"response\": \"no prompt\"}\n");
    CHECK_FAILS(herd_ppo_prompts_load(file, t, HERD_CHAT_NONE, 0, &p), HERD_E_FORMAT);
    CHECK(strstr(herd_last_error(), "p.jsonl:2: no \"prompt\"") != NULL);
    unlink(file);
    rmdir(dir);
    herd_model_free(m);
}

int main(void)
{
    test_prompts();
    test_gae();
    test_surrogate();
    test_grad();
    test_bad();
    test_proof();
    TEST_END();
}

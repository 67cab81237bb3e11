/* DPO (src/train/dpo.h):
 *  - rows: herd_dpo_fill lays pairs out as dpo.h says (checked against rows
 *    written by hand), refuses a sequence too long for the row or with no
 *    answer token;
 *  - the loss and its statistics against the closed form computed here
 *    from herd_train_row_logprobs's values; the reference cache equals the
 *    reference's own row log-probabilities; a fresh LoRA policy is its base
 *    model (what lets the policy stand in as its own reference);
 *  - the gradient against finite differences of the DPO loss along a random
 *    direction per tensor, for a full policy and a LoRA one (with dropout:
 *    both passes must draw the same masks);
 *  - golden: loss, log-probabilities and every gradient element against
 *    tests/fixtures/dpo/<model>/ (float64 torch.autograd, written by
 *    tests/reference/dpo_ref.py, never using herd);
 *  - a reference of another shape or vocabulary is refused by name;
 *  - a synthetic preference proof: pairs whose chosen answer ends in token X
 *    and rejected one in Y; after DPO steps the held-out preference accuracy
 *    and reward margin rise from the reference's 0 while the drift on the
 *    chosen answers (pc - rc, a KL proxy) stays bounded. */
#include "test.h"
#include "herd_train.h"
#include "train/dpo.h"

static uint64_t rng = 12345;
static double uniform(void)
{
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(rng >> 11) / 9007199254740992.0 * 2 - 1;
}

static herd_config tiny(int n_kv, int tied, int vocab)
{
    herd_config c = {0};
    c.dim = 16; c.hidden_dim = 40; c.n_layers = 2; c.n_heads = 4; c.n_kv_heads = n_kv;
    c.vocab_size = vocab; c.seq_len = 16; c.norm_eps = 1e-5f; c.rope_theta = 10000.0f;
    c.tied_embeddings = tied;
    return c;
}

/* ---- rows ---- */

enum { P = 2, T = 9 };
static const int c0[] = {1, 5, 7, 9, 11, 2}, r0[] = {1, 5, 7, 3, 2};
static const uint8_t mc0[] = {0, 0, 0, 1, 1, 1}, mr0[] = {0, 0, 0, 1, 1};
static const int c1[] = {1, 4, 6, 8, 10, 12, 14, 16, 18, 2}, r1[] = {1, 4, 13, 2};
static const uint8_t mc1[] = {0, 0, 1, 1, 1, 1, 1, 1, 1, 1}, mr1[] = {0, 0, 1, 1};
static const herd_dpo_pair pairs[P] = {{c0, r0, mc0, mr0, 6, 5}, {c1, r1, mc1, mr1, 10, 4}};
static int tokens[2 * P * T], targets[2 * P * T];
static const herd_batch batch = {2 * P, T, tokens, targets, NULL};

static void test_fill(void)
{
    static const int want_tok[2 * P * T] = {
        1, 5, 7, 9, 11, 0, 0, 0, 0,   1, 4, 6, 8, 10, 12, 14, 16, 18,
        1, 5, 7, 3, 0, 0, 0, 0, 0,    1, 4, 13, 0, 0, 0, 0, 0, 0};
    static const int want_tgt[2 * P * T] = {
        -1, -1, 9, 11, 2, -1, -1, -1, -1,   -1, 6, 8, 10, 12, 14, 16, 18, 2,
        -1, -1, 3, 2, -1, -1, -1, -1, -1,   -1, 13, 2, -1, -1, -1, -1, -1, -1};
    const herd_dpo_pair *ptr[P] = {&pairs[0], &pairs[1]};
    CHECK_OK(herd_dpo_fill(ptr, P, T, tokens, targets));
    CHECK(!memcmp(tokens, want_tok, sizeof want_tok));
    CHECK(!memcmp(targets, want_tgt, sizeof want_tgt));
    int tk[2 * P * T], tg[2 * P * T];
    const herd_dpo_pair *pad[P] = {&pairs[0], NULL};
    CHECK_OK(herd_dpo_fill(pad, P, T, tk, tg));
    for (int t = 0; t < T; t++)
        CHECK(tk[T + t] == 0 && tg[T + t] == -1 && tk[3 * T + t] == 0 && tg[3 * T + t] == -1);
    CHECK_FAILS(herd_dpo_fill(ptr, P, T - 1, tk, tg), HERD_E_ARG);   /* c1 needs T + 1 */
    CHECK(strstr(herd_last_error(), "10 tokens") != NULL);
    static const uint8_t none[] = {0, 0, 0, 0};
    herd_dpo_pair empty = {c0, r1, mc0, none, 6, 4};
    const herd_dpo_pair *pe[1] = {&empty};
    CHECK_FAILS(herd_dpo_fill(pe, 1, T, tk, tg), HERD_E_ARG);
    CHECK(strstr(herd_last_error(), "rejected answer has no scored token") != NULL);
}

/* ---- bad reference ---- */

static void test_check_ref(void)
{
    herd_config a = tiny(2, 0, 23), b = a;
    CHECK_OK(herd_dpo_check_ref(&a, &b, "ref.gguf"));
    b.rope_theta = 500000.0f;   /* not a shape */
    CHECK_OK(herd_dpo_check_ref(&a, &b, "ref.gguf"));
    b = a, b.vocab_size = 32;
    CHECK_FAILS(herd_dpo_check_ref(&a, &b, "ref.gguf"), HERD_E_ARG);
    CHECK_MSG(strstr(herd_last_error(), "reference ref.gguf: vocabulary of 32 tokens, the "
                     "policy has 23"), "%s", herd_last_error());
    b = a, b.n_kv_heads = 4;
    CHECK_FAILS(herd_dpo_check_ref(&a, &b, "other.gguf"), HERD_E_ARG);
    CHECK_MSG(strstr(herd_last_error(), "n_kv_heads 4, the policy has 2"), "%s",
              herd_last_error());
    b = a, b.dim = 32;
    CHECK_FAILS(herd_dpo_check_ref(&a, &b, "other.gguf"), HERD_E_ARG);
    b = a, b.n_layers = 3;
    CHECK_FAILS(herd_dpo_check_ref(&a, &b, "other.gguf"), HERD_E_ARG);
}

/* ---- closed form and finite differences ---- */

static double dpo_loss_at(herd_train_model *tm, const double *ref, double beta)
{
    herd_dpo_stats st;
    CHECK_OK(herd_dpo_batch_loss(tm, &batch, P, ref, beta, 0, 99, &st));
    return st.loss;
}

/* The DPO loss, rewards and accuracy by hand from the rows' log-probs. */
static void check_closed_form(herd_train_model *pol, herd_train_model *ref, double beta)
{
    double lp[2 * P], rl[2 * P], cache[2 * P], gathered[2 * P];
    herd_train_set_seed(pol, 99);
    CHECK_OK(herd_train_row_logprobs(pol, &batch, NULL, lp));
    CHECK_OK(herd_train_row_logprobs(ref, &batch, NULL, rl));
    CHECK_OK(herd_dpo_ref_logprobs(ref, pairs, P, 1, T, cache, NULL, NULL)); /* 1 pair a batch */
    int64_t idx[P] = {0, 1};
    herd_dpo_gather_ref(cache, idx, P, gathered);
    for (int b = 0; b < 2 * P; b++)
        CHECK_MSG(fabs(gathered[b] - rl[b]) <= 1e-5 * fabs(rl[b]), "cache row %d: %.9g vs %.9g",
                  b, gathered[b], rl[b]);
    double loss = 0, rc = 0, rr = 0, acc = 0;
    for (int p = 0; p < P; p++) {
        double z = beta * ((lp[p] - rl[p]) - (lp[P + p] - rl[P + p]));
        loss += log(1 + exp(-z)) / P;
        rc += beta * (lp[p] - rl[p]) / P;
        rr += beta * (lp[P + p] - rl[P + p]) / P;
        acc += (z > 0) / (double)P;
    }
    herd_dpo_stats st;
    herd_train_zero_grad(pol);
    CHECK_OK(herd_dpo_batch_loss(pol, &batch, P, rl, beta, 1, 99, &st));
    CHECK_MSG(fabs(st.loss - loss) <= 1e-9 * loss, "loss %.12g, by hand %.12g", st.loss, loss);
    CHECK(fabs(st.chosen_reward - rc) <= 1e-9 * fabs(rc) + 1e-12);
    CHECK(fabs(st.rejected_reward - rr) <= 1e-9 * fabs(rr) + 1e-12);
    CHECK(fabs(st.margin - (rc - rr)) <= 1e-9 * fabs(rc - rr) + 1e-12);
    CHECK(fabs(st.kl_chosen - rc / beta) <= 1e-9 * fabs(rc / beta) + 1e-12);
    CHECK(st.accuracy == acc && st.pairs == P);

    /* A padded pair counts for nothing: pair 0 alone. */
    herd_dpo_stats one;
    herd_dpo_loss(lp, rl, P, 1, beta, &one, NULL);
    double z0 = beta * ((lp[0] - rl[0]) - (lp[P] - rl[P]));
    CHECK(fabs(one.loss - log(1 + exp(-z0))) <= 1e-12 && one.pairs == 1);
}

/* (L(w + h u) - L(w - h u)) / 2h, w restored after. */
static double central(herd_train_model *tm, const double *ref, double beta, float *w,
                      const float *u, size_t len, double h)
{
    float *save = malloc(len * sizeof *save);
    memcpy(save, w, len * sizeof *w);
    for (size_t i = 0; i < len; i++)
        w[i] = save[i] + (float)h * u[i];
    double lp = dpo_loss_at(tm, ref, beta);
    for (size_t i = 0; i < len; i++)
        w[i] = save[i] - (float)h * u[i];
    double lm = dpo_loss_at(tm, ref, beta);
    memcpy(w, save, len * sizeof *w);
    free(save);
    return (lp - lm) / (2 * h);
}

/* Every tensor: grad . u against Richardson-combined central differences. */
static void check_fd(herd_train_model *tm, const double *ref, double beta, const char *what)
{
    herd_dpo_stats st;
    herd_train_zero_grad(tm);
    CHECK_OK(herd_dpo_batch_loss(tm, &batch, P, ref, beta, 1, 99, &st));
    size_t n;
    float *p = herd_train_params(tm, &n), *g = herd_train_grads(tm, NULL);
    float *u = malloc(n * sizeof *u);
    for (int k = 0; k < herd_train_n_tensors(tm); k++) {
        const herd_param_info *t = herd_train_tensor(tm, k);
        size_t len = (size_t)(t->rows * t->cols);
        double gu = 0, norm = 0;
        for (size_t i = 0; i < len; i++) {
            u[i] = (float)uniform();
            norm += (double)u[i] * u[i];
        }
        for (size_t i = 0; i < len; i++) {
            u[i] /= (float)sqrt(norm);
            gu += (double)g[t->offset + i] * u[i];
        }
        double fd = (4 * central(tm, ref, beta, p + t->offset, u, len, 0.02) -
                     central(tm, ref, beta, p + t->offset, u, len, 0.04)) / 3;
        CHECK_MSG(fabs(fd - gu) <= 2e-3 * fmax(fabs(gu), 1e-2),
                  "%s %s: finite difference %.6g, gradient %.6g", what, t->name, fd, gu);
    }
    free(u);
}

static void perturb(herd_train_model *tm, float scale)
{
    size_t n;
    float *p = herd_train_params(tm, &n);
    for (size_t i = 0; i < n; i++)
        p[i] += scale * (float)uniform();
}

static void test_grad(int n_kv, int tied)
{
    herd_config c = tiny(n_kv, tied, 23);
    herd_train_model *pol, *ref;
    CHECK_OK(herd_train_model_new(&c, 7, &pol));
    CHECK_OK(herd_train_model_new(&c, 8, &ref));
    perturb(pol, 0.3f);
    perturb(ref, 0.3f);
    double beta = 0.5, rl[2 * P];
    CHECK_OK(herd_train_row_logprobs(ref, &batch, NULL, rl));
    check_closed_form(pol, ref, beta);
    check_fd(pol, rl, beta, tied ? "full tied" : "full");

    /* LoRA over the reference (dropout on): new, it is its base exactly. */
    herd_lora_params lp = {2, 4.0f, 0.1f, HERD_LORA_ALL, 0};
    herd_train_model *lora;
    CHECK_OK(herd_train_model_lora(herd_train_as_model(ref), &lp, 5, &lora));
    double fresh[2 * P], base[2 * P];
    CHECK_OK(herd_dpo_ref_logprobs(lora, pairs, P, P, T, fresh, NULL, NULL));
    CHECK_OK(herd_dpo_ref_logprobs(ref, pairs, P, P, T, base, NULL, NULL));
    for (int b = 0; b < 2 * P; b++)
        CHECK_MSG(fabs(fresh[b] - base[b]) <= 1e-6 * fabs(base[b]), "fresh LoRA %.9g, base %.9g",
                  fresh[b], base[b]);
    herd_dpo_stats st;
    CHECK_OK(herd_dpo_batch_loss(lora, &batch, P, rl, beta, 0, 3, &st));
    CHECK(fabs(st.loss - log(2)) < 1e-5 && fabs(st.margin) < 1e-5);
    perturb(lora, 0.3f);
    check_fd(lora, rl, beta, "lora");
    herd_train_model_free(lora);
    herd_train_model_free(pol);
    herd_train_model_free(ref);
}

/* ---- golden ---- */

static char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    char *d = NULL;
    long len;
    if (f && fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (d = malloc((size_t)len + 1))) {
        *n = fread(d, 1, (size_t)len, f);
        d[*n] = 0;
    }
    if (f)
        fclose(f);
    return d;
}

static int read_ints(char **p, int *out, int n)
{
    for (int i = 0; i < n; i++) {
        char *end;
        long v = strtol(*p, &end, 10);
        if (end == *p)
            return 0;
        out[i] = (int)v, *p = end;
    }
    return 1;
}

/* The rest of the current line's ints (at most cap). */
static int line_ints(char **p, int *out, int cap)
{
    int n = 0;
    while (**p == '\n')
        (*p)++;
    while (n < cap && **p && **p != '\n') {
        char *end;
        long v = strtol(*p, &end, 10);
        if (end == *p)
            break;
        out[n++] = (int)v, *p = end;
        while (**p == ' ')
            (*p)++;
    }
    return n;
}

enum { GP = 2, GT = 12 };

typedef struct {
    int ids[GP][2][GT + 1], n[GP][2], prompt[GP];
    uint8_t mask[GP][2][GT + 1];
    herd_dpo_pair pairs[GP];
    int tokens[2 * GP * GT], targets[2 * GP * GT];
    double beta, loss, logp[2][2 * GP];
} golden;

static int read_golden(const char *dir, golden *g)
{
    char path[1100], *s, *p;
    size_t len;
    int hdr[2], ok;
    snprintf(path, sizeof path, "%s/pairs.txt", dir);
    ok = (s = p = slurp(path, &len)) && read_ints(&p, hdr, 2) && hdr[0] == GP && hdr[1] == GT;
    g->beta = ok ? strtod(p, &p) : 0;
    for (int i = 0; ok && i < GP; i++) {
        ok = read_ints(&p, &g->prompt[i], 1);
        for (int k = 0; ok && k < 2; k++) {
            g->n[i][k] = line_ints(&p, g->ids[i][k], GT + 1);
            for (int t = 0; t < g->n[i][k]; t++)
                g->mask[i][k][t] = t >= g->prompt[i];
            ok = g->n[i][k] > g->prompt[i];
        }
        g->pairs[i] = (herd_dpo_pair){g->ids[i][0], g->ids[i][1], g->mask[i][0], g->mask[i][1],
                                      g->n[i][0], g->n[i][1]};
    }
    free(s);
    snprintf(path, sizeof path, "%s/batch.txt", dir);
    ok = ok && (s = p = slurp(path, &len)) && read_ints(&p, hdr, 2) && hdr[0] == 2 * GP &&
         hdr[1] == GT && read_ints(&p, g->tokens, 2 * GP * GT) &&
         read_ints(&p, g->targets, 2 * GP * GT);
    if (ok)
        free(s);
    snprintf(path, sizeof path, "%s/logp.txt", dir);
    ok = ok && (s = p = slurp(path, &len));
    for (int i = 0; ok && i < 4 * GP; i++)
        g->logp[i / (2 * GP)][i % (2 * GP)] = strtod(p, &p);
    if (ok)
        free(s);
    snprintf(path, sizeof path, "%s/loss.txt", dir);
    ok = ok && (s = slurp(path, &len));
    g->loss = ok ? strtod(s, NULL) : NAN;
    if (ok)
        free(s);
    CHECK_MSG(ok && g->beta > 0 && isfinite(g->loss), "%s: unreadable fixture", dir);
    return ok;
}

static void test_golden(const char *name)
{
    char dir[1024], path[1100];
    snprintf(dir, sizeof dir, "%s/tests/fixtures/dpo/%s", test_source(), name);
    golden g;
    memset(&g, 0, sizeof g);
    if (!read_golden(dir, &g))
        return;
    /* The rows from the pairs are the reference's rows. */
    int tok[2 * GP * GT], tgt[2 * GP * GT];
    const herd_dpo_pair *ptr[GP] = {&g.pairs[0], &g.pairs[1]};
    CHECK_OK(herd_dpo_fill(ptr, GP, GT, tok, tgt));
    CHECK_MSG(!memcmp(tok, g.tokens, sizeof tok) && !memcmp(tgt, g.targets, sizeof tgt),
              "%s: herd_dpo_fill differs from batch.txt", name);

    snprintf(path, sizeof path, "%s/tests/fixtures/models/%s/model.gguf", test_source(), name);
    herd_model *m;
    CHECK_OK(herd_model_open(path, &m));
    herd_train_model *pol, *ref;
    CHECK_OK(herd_train_model_from(m, &pol));
    CHECK_OK(herd_train_model_from(m, &ref));
    float *rp = herd_train_params(ref, NULL);
    for (int i = 0; i < herd_train_n_tensors(ref); i++) {   /* the reference: norms x 0.5 */
        const herd_param_info *t = herd_train_tensor(ref, i);
        size_t nl = strlen(t->name);
        for (int64_t j = 0; nl >= 4 && !strcmp(t->name + nl - 4, "norm") && j < t->cols; j++)
            rp[t->offset + j] *= 0.5f;
    }
    double cache[2 * GP], rl[2 * GP], lp[2 * GP];
    CHECK_OK(herd_dpo_ref_logprobs(ref, g.pairs, GP, GP, GT, cache, NULL, NULL));
    int64_t idx[GP] = {0, 1};
    herd_dpo_gather_ref(cache, idx, GP, rl);
    herd_batch b = {2 * GP, GT, tok, tgt, NULL};
    CHECK_OK(herd_train_row_logprobs(pol, &b, NULL, lp));
    for (int r = 0; r < 2 * GP; r++) {
        CHECK_MSG(fabs(lp[r] - g.logp[0][r]) <= 1e-5 * fabs(g.logp[0][r]),
                  "%s: policy row %d log-prob %.9g, want %.9g", name, r, lp[r], g.logp[0][r]);
        CHECK_MSG(fabs(rl[r] - g.logp[1][r]) <= 1e-5 * fabs(g.logp[1][r]),
                  "%s: reference row %d log-prob %.9g, want %.9g", name, r, rl[r], g.logp[1][r]);
    }
    herd_dpo_stats st;
    herd_train_zero_grad(pol);
    CHECK_OK(herd_dpo_batch_loss(pol, &b, GP, rl, g.beta, 1, 0, &st));
    CHECK_MSG(fabs(st.loss - g.loss) <= 1e-4 * g.loss, "%s: loss %.9g, want %.9g", name, st.loss,
              g.loss);

    size_t len = 0, n;
    snprintf(path, sizeof path, "%s/grads.f32", dir);
    float *want = (float *)slurp(path, &len);
    const float *got = herd_train_grads(pol, &n);
    CHECK_MSG(want && len == n * sizeof(float), "%s: %zu bytes of gradients, want %zu", name, len,
              n * sizeof(float));
    for (int i = 0; want && len == n * sizeof(float) && i < herd_train_n_tensors(pol); i++) {
        const herd_param_info *t = herd_train_tensor(pol, i);
        size_t tl = (size_t)(t->rows * t->cols), at = 0;
        double amax = 0, worst = 0;
        for (size_t j = 0; j < tl; j++)
            amax = fmax(amax, fabs(want[t->offset + j]));
        for (size_t j = 0; j < tl; j++) {
            double e = fabs(got[t->offset + j] - want[t->offset + j]) / (amax > 0 ? amax : 1);
            if (!(e <= worst))
                worst = isnan(e) ? INFINITY : e, at = j;
        }
        CHECK_MSG(worst <= 1e-3, "%s: %s element %zu is %g, want %g (max |grad| %g)", name,
                  t->name, at, (double)got[t->offset + at], (double)want[t->offset + at], amax);
    }
    free(want);
    herd_train_model_free(pol);
    herd_train_model_free(ref);
    herd_model_free(m);
}

/* ---- a synthetic preference ---- */

enum { NX = 20, NY = 21, PT = 12 };

typedef struct {
    int ids[2][PT + 1];
    uint8_t mask[2][PT + 1];
} proof_pair;

/* A random prompt (3..5 ids), two shared answer ids, then X (chosen) or Y
 * (rejected). */
static void make_pairs(proof_pair *pp, herd_dpo_pair *v, int n)
{
    for (int i = 0; i < n; i++) {
        int np = 3 + (int)((uniform() + 1) * 1.5), len = np + 3;
        for (int t = 0; t < len - 1; t++) {
            int id = t == 0 ? 1 : 3 + (int)((uniform() + 1) * 7.5);
            pp[i].ids[0][t] = pp[i].ids[1][t] = id;
            pp[i].mask[0][t] = pp[i].mask[1][t] = t >= np;
        }
        pp[i].ids[0][len - 1] = NX, pp[i].ids[1][len - 1] = NY;
        pp[i].mask[0][len - 1] = pp[i].mask[1][len - 1] = 1;
        v[i] = (herd_dpo_pair){pp[i].ids[0], pp[i].ids[1], pp[i].mask[0], pp[i].mask[1], len, len};
    }
}

/* Mean statistics of the policy over n pairs, PP at a time. */
static herd_dpo_stats evaluate(herd_train_model *tm, const herd_dpo_pair *v, int n, int PP,
                               const double *cache, double beta)
{
    herd_dpo_stats sum = {0}, st;
    size_t cells = (size_t)2 * PP * PT;
    int *tok = malloc(cells * sizeof *tok), *tgt = malloc(cells * sizeof *tgt);
    const herd_dpo_pair **ptr = malloc((size_t)PP * sizeof *ptr);
    int64_t *idx = malloc((size_t)PP * sizeof *idx);
    double *ref = malloc((size_t)2 * PP * sizeof *ref);
    herd_batch b = {2 * PP, PT, tok, tgt, NULL};
    for (int i = 0; i < n; i += PP) {
        int k = n - i < PP ? n - i : PP;
        for (int p = 0; p < PP; p++)
            ptr[p] = p < k ? &v[i + p] : NULL, idx[p] = p < k ? i + p : -1;
        CHECK_OK(herd_dpo_fill(ptr, PP, PT, tok, tgt));
        herd_dpo_gather_ref(cache, idx, PP, ref);
        CHECK_OK(herd_dpo_batch_loss(tm, &b, k, ref, beta, 0, 0, &st));
        sum.loss += st.loss * k, sum.margin += st.margin * k, sum.accuracy += st.accuracy * k;
        sum.chosen_reward += st.chosen_reward * k, sum.rejected_reward += st.rejected_reward * k;
        sum.kl_chosen += st.kl_chosen * k, sum.pairs += k;
    }
    sum.loss /= n, sum.margin /= n, sum.accuracy /= n;
    sum.chosen_reward /= n, sum.rejected_reward /= n, sum.kl_chosen /= n;
    free(tok); free(tgt); free(ptr); free(idx); free(ref);
    return sum;
}

static void test_proof(void)
{
    enum { NT = 96, NV = 48, PP = 8 };
    int steps = 40;
    double beta = 0.1;
    static proof_pair tp[NT], vp[NV];
    herd_dpo_pair train[NT], val[NV];
    rng = 2024;
    make_pairs(tp, train, NT);
    make_pairs(vp, val, NV);
    herd_config c = tiny(2, 0, 24);
    c.dim = 32, c.hidden_dim = 64;
    herd_train_model *pol, *ref;
    CHECK_OK(herd_train_model_new(&c, 1, &pol));
    CHECK_OK(herd_train_model_new(&c, 1, &ref));   /* the same weights, kept apart */
    double *tcache = malloc(2 * NT * sizeof *tcache), *vcache = malloc(2 * NV * sizeof *vcache);
    double *check = malloc(2 * NV * sizeof *check);
    /* The policy before its first step is the reference. */
    CHECK_OK(herd_dpo_ref_logprobs(pol, train, NT, PP, PT, tcache, NULL, NULL));
    CHECK_OK(herd_dpo_ref_logprobs(pol, val, NV, PP, PT, vcache, NULL, NULL));
    CHECK_OK(herd_dpo_ref_logprobs(ref, val, NV, 5, PT, check, NULL, NULL));
    for (int i = 0; i < 2 * NV; i++)
        CHECK(fabs(check[i] - vcache[i]) <= 1e-6 * fabs(vcache[i]));
    herd_dpo_stats before = evaluate(pol, val, NV, PP, vcache, beta);
    CHECK(fabs(before.loss - log(2)) < 1e-9 && before.margin == 0 && before.accuracy == 0);

    herd_adamw *opt;
    CHECK_OK(herd_adamw_new(pol, &opt));
    herd_adamw_params ap = herd_adamw_defaults();
    ap.weight_decay = 0;
    int tok[2 * PP * PT], tgt[2 * PP * PT];
    herd_batch b = {2 * PP, PT, tok, tgt, NULL};
    double first = 0, last = 0;
    for (int s = 0; s < steps; s++) {
        const herd_dpo_pair *ptr[PP];
        int64_t idx[PP];
        double refl[2 * PP];
        for (int p = 0; p < PP; p++)
            idx[p] = (s * PP + p) % NT, ptr[p] = &train[idx[p]];
        CHECK_OK(herd_dpo_fill(ptr, PP, PT, tok, tgt));
        herd_dpo_gather_ref(tcache, idx, PP, refl);
        herd_dpo_stats st;
        herd_train_zero_grad(pol);
        CHECK_OK(herd_dpo_batch_loss(pol, &b, PP, refl, beta, 1, (uint64_t)s, &st));
        herd_train_clip_grad(pol, 1.0);
        herd_adamw_step(opt, pol, &ap, herd_lr_cosine(s, 4, steps, 5e-3f, 0.1f));
        if (s == 0)
            first = st.loss;
        last = st.loss;
    }
    herd_dpo_stats after = evaluate(pol, val, NV, PP, vcache, beta);
    printf("proof (%d steps): train loss %.4f -> %.4f; held out: loss %.4f -> %.4f, accuracy "
           "%.2f -> %.2f, margin %.3f -> %.3f, rewards chosen %+.3f rejected %+.3f, "
           "pc - rc %+.3f nats\n", steps, first, last, before.loss, after.loss, before.accuracy,
           after.accuracy, before.margin, after.margin, after.chosen_reward,
           after.rejected_reward, after.kl_chosen);
    CHECK(last < first);
    CHECK_MSG(after.accuracy >= 0.95, "held-out accuracy %.3f", after.accuracy);
    CHECK_MSG(after.margin > 0.5, "held-out margin %.3f", after.margin);
    CHECK_MSG(after.loss < 0.6 * log(2), "held-out loss %.3f", after.loss);
    CHECK_MSG(after.chosen_reward > after.rejected_reward, "rewards %.3f, %.3f",
              after.chosen_reward, after.rejected_reward);
    /* The drift on the chosen answers (3 tokens) stays small: under a nat a
     * token, and well below the gap opened between chosen and rejected. */
    CHECK_MSG(fabs(after.kl_chosen) < 3 && fabs(after.kl_chosen) < 0.5 * after.margin / beta,
              "the chosen answers drifted %.3f nats (gap %.3f nats)", after.kl_chosen,
              after.margin / beta);
    herd_adamw_free(opt);
    free(tcache); free(vcache); free(check);
    herd_train_model_free(pol);
    herd_train_model_free(ref);
}

int main(void)
{
    herd_set_threads(2);
    test_fill();
    test_check_ref();
    test_grad(4, 0);
    test_grad(2, 1);
    test_golden("mha");
    test_golden("gqa_tied");
    test_proof();
    TEST_END();
}

/* The sampler against its definition: greedy is the argmax, the draws follow
 * softmax(logits / temp) restricted to what top-k, top-p and min-p keep, and
 * the repetition penalty moves the argmax as the CTRL rule says. The
 * reference below is written from the definitions, O(V^2), sharing no code
 * with the sampler. */
#include "herd.h"
#include "test.h"
#include <stdint.h>

typedef struct {
    float temp;
    int top_k;
    float top_p, min_p;
} cfg;

/* 1 when token j comes before token i: higher logit, lower id on ties. */
static int before(const float *l, int j, int i)
{
    return l[j] > l[i] || (l[j] == l[i] && j < i);
}

/* The probability of every token after the chain (no penalty here). */
static void reference(const float *l, int V, cfg c, double *prob)
{
    int *keep = calloc((size_t)V, sizeof *keep), *rank = calloc((size_t)V, sizeof *rank);
    double *p = calloc((size_t)V, sizeof *p);
    for (int i = 0; i < V; i++) {
        for (int j = 0; j < V; j++)
            rank[i] += before(l, j, i);
        keep[i] = c.top_k <= 0 || rank[i] < c.top_k;
    }
    /* top-p: softmax of the logits over what top-k kept; token i stays when
     * the mass of the kept tokens before it is still below top_p. */
    double z = 0;
    for (int i = 0; i < V; i++)
        if (keep[i])
            z += exp((double)l[i]);
    int kp[4096];
    for (int i = 0; i < V; i++) {
        double before_mass = 0;
        for (int j = 0; j < V; j++)
            if (keep[j] && before(l, j, i))
                before_mass += exp((double)l[j]) / z;
        kp[i] = keep[i] && (c.top_p >= 1 || rank[i] == 0 || before_mass < c.top_p);
    }
    /* min-p: probability at least min_p times the best one's */
    double best = -INFINITY;
    for (int i = 0; i < V; i++)
        if (kp[i] && l[i] > best)
            best = l[i];
    for (int i = 0; i < V; i++)
        if (kp[i] && c.min_p > 0 && exp((double)l[i]) < c.min_p * exp(best))
            kp[i] = 0;
    z = 0;
    for (int i = 0; i < V; i++)
        z += p[i] = kp[i] ? exp((double)l[i] / c.temp) : 0;
    for (int i = 0; i < V; i++)
        prob[i] = p[i] / z;
    free(keep);
    free(rank);
    free(p);
}

static herd_sampler *make(cfg c, int V, uint64_t seed)
{
    herd_sampler_params p = herd_sampler_defaults();
    p.temp = c.temp;
    p.top_k = c.top_k;
    p.top_p = c.top_p;
    p.min_p = c.min_p;
    p.repeat_penalty = 1.0f;
    p.seed = seed;
    herd_sampler *s = NULL;
    CHECK_OK(herd_sampler_new(&p, V, &s));
    return s;
}

static int sample_copy(herd_sampler *s, const float *l, float *scratch, int V)
{
    memcpy(scratch, l, (size_t)V * sizeof *l);
    return herd_sampler_sample(s, scratch);
}

/* Draws n tokens and compares the counts with the reference: tokens with
 * probability 0 never come; the rest pass a chi-square test. */
static void check_distribution(const char *what, const float *l, int V, cfg c, int n)
{
    double *prob = malloc((size_t)V * sizeof *prob);
    long *count = calloc((size_t)V, sizeof *count);
    float *scratch = malloc((size_t)V * sizeof *scratch);
    reference(l, V, c, prob);
    herd_sampler *s = make(c, V, 1234);
    if (!s)
        return;
    for (int t = 0; t < n; t++) {
        int id = sample_copy(s, l, scratch, V);
        CHECK(id >= 0 && id < V);
        if (id >= 0 && id < V)
            count[id]++;
    }
    double chi2 = 0;
    int df = -1, excluded_drawn = 0;
    for (int i = 0; i < V; i++) {
        if (prob[i] == 0) {
            excluded_drawn += count[i] != 0;
            continue;
        }
        double e = prob[i] * n;
        chi2 += (count[i] - e) * (count[i] - e) / e;
        df++;
    }
    CHECK_MSG(excluded_drawn == 0, "%s: %d excluded tokens were drawn", what, excluded_drawn);
    double limit = df + 5 * sqrt(2.0 * (df > 0 ? df : 1)) + 5;
    CHECK_MSG(chi2 <= limit, "%s: chi2 %.1f over %d dof (limit %.1f)", what, chi2, df, limit);
    herd_sampler_free(s);
    free(prob);
    free(count);
    free(scratch);
}

static void test_distributions(void)
{
    float l[12] = {1.0f, 2.5f, 0.3f, -1.0f, 2.5f, 0.0f, 1.7f, -0.4f, 0.9f, 2.0f, -3.0f, 1.2f};
    int V = 12, n = 60000;
    check_distribution("plain t=1", l, V, (cfg){1.0f, 0, 1.0f, 0.0f}, n);
    check_distribution("plain t=0.5", l, V, (cfg){0.5f, 0, 1.0f, 0.0f}, n);
    check_distribution("plain t=2", l, V, (cfg){2.0f, 0, 1.0f, 0.0f}, n);
    check_distribution("top-k 5", l, V, (cfg){1.0f, 5, 1.0f, 0.0f}, n);
    check_distribution("top-p 0.7", l, V, (cfg){1.0f, 0, 0.7f, 0.0f}, n);
    check_distribution("top-p 0.7 t=0.6", l, V, (cfg){0.6f, 0, 0.7f, 0.0f}, n);
    check_distribution("min-p 0.2", l, V, (cfg){1.0f, 0, 1.0f, 0.2f}, n);
    check_distribution("top-k 8 top-p 0.9 min-p 0.1 t=0.8", l, V, (cfg){0.8f, 8, 0.9f, 0.1f}, n);
    check_distribution("defaults", l, V, (cfg){0.8f, 40, 0.95f, 0.05f}, n);
    check_distribution("top-p 0", l, V, (cfg){1.0f, 0, 0.0f, 0.0f}, 1000);
    check_distribution("min-p 1", l, V, (cfg){1.0f, 0, 1.0f, 1.0f}, 1000);

    /* a flat vocabulary of 300 where top-p keeps ~250: the sampler must sort
     * well past its first stretch */
    enum { W = 300 };
    float w[W];
    uint64_t x = 99;
    for (int i = 0; i < W; i++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        w[i] = (float)((x >> 40) % 1000) / 1000.0f * 2.0f;
    }
    check_distribution("V=300 top-p 0.9", w, W, (cfg){1.0f, 0, 0.9f, 0.0f}, 100000);
    check_distribution("V=300 top-k 100 min-p 0.3", w, W, (cfg){1.3f, 100, 1.0f, 0.3f}, 100000);
}

/* Ties in the logits: top-k breaks them by the lower id, as greedy does. */
static void test_ties_in_top_k(void)
{
    float l[6] = {1.0f, 3.0f, 2.0f, 3.0f, 3.0f, 0.0f};
    check_distribution("ties top-k 2", l, 6, (cfg){1.0f, 2, 1.0f, 0.0f}, 20000);
}

static void test_greedy(void)
{
    float l[8] = {0.1f, -2.0f, 3.5f, 3.5f, NAN, 1.0f, -INFINITY, 2.0f}, t[8];
    herd_sampler *s = make((cfg){0.0f, 40, 0.95f, 0.05f}, 8, 1);
    herd_sampler *neg = make((cfg){-1.0f, 0, 1.0f, 0.0f}, 8, 1);
    if (!s || !neg)
        return;
    CHECK(sample_copy(s, l, t, 8) == 2); /* first of the tied maxima */
    CHECK(sample_copy(neg, l, t, 8) == 2);
    float nan8[8] = {NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN};
    CHECK(sample_copy(s, nan8, t, 8) == 0);
    float n2[8] = {NAN, NAN, -5.0f, NAN, NAN, NAN, NAN, NAN};
    CHECK(sample_copy(s, n2, t, 8) == 2);
    herd_sampler_free(s);
    herd_sampler_free(neg);
    /* NaN logits while sampling: never drawn, no crash */
    herd_sampler *hot = make((cfg){1.0f, 0, 1.0f, 0.0f}, 8, 5);
    if (!hot)
        return;
    for (int i = 0; i < 2000; i++) {
        int id = sample_copy(hot, l, t, 8);
        CHECK(id != 4 && id != 6 && id >= 0 && id < 8);
    }
    CHECK(sample_copy(hot, nan8, t, 8) == 0);
    float inf[8] = {0, 1, INFINITY, 2, INFINITY, NAN, 0, 0};
    CHECK(sample_copy(hot, inf, t, 8) == 2);
    herd_sampler_free(hot);
}

/* top_k = 1 is greedy at any temperature, on a large vocabulary too. */
static void test_top_k_1(void)
{
    enum { V = 50000 };
    float *l = malloc(V * sizeof *l), *t = malloc(V * sizeof *t);
    uint64_t x = 7;
    float temps[] = {0.01f, 0.7f, 1.0f, 5.0f, 1000.0f};
    for (int trial = 0; trial < 20; trial++) {
        int arg = 0;
        for (int i = 0; i < V; i++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            l[i] = (float)((double)(x >> 11) * 0x1.0p-53 * 20.0 - 10.0);
            if (l[i] > l[arg])
                arg = i;
        }
        herd_sampler *s = make((cfg){temps[trial % 5], 1, 1.0f, 0.0f}, V, (uint64_t)trial);
        if (!s)
            break;
        CHECK(sample_copy(s, l, t, V) == arg);
        herd_sampler_free(s);
    }
    free(l);
    free(t);
}

/* top-k 40 over a big vocabulary: every draw is one of the 40 best. */
static void test_top_k_large(void)
{
    enum { V = 128256 };
    float *l = malloc(V * sizeof *l), *t = malloc(V * sizeof *t);
    uint64_t x = 3;
    for (int i = 0; i < V; i++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        l[i] = (float)((x >> 44) % 4000) / 1000.0f; /* many ties */
    }
    herd_sampler *s = make((cfg){1.5f, 40, 1.0f, 0.0f}, V, 11);
    int ok = 1, seen_other_than_best = 0;
    for (int k = 0; s && k < 200; k++) {
        int id = sample_copy(s, l, t, V), ahead = 0;
        for (int j = 0; j < V; j++)
            ahead += before(l, j, id);
        ok &= ahead < 40;
        seen_other_than_best |= ahead > 0;
    }
    CHECK(ok);
    CHECK(seen_other_than_best);
    herd_sampler_free(s);
    free(l);
    free(t);
}

static void draws(uint64_t seed, int *out, int n)
{
    float l[12] = {1.0f, 2.5f, 0.3f, -1.0f, 2.5f, 0.0f, 1.7f, -0.4f, 0.9f, 2.0f, -3.0f, 1.2f};
    float t[12];
    herd_sampler *s = make((cfg){1.0f, 0, 1.0f, 0.0f}, 12, seed);
    for (int i = 0; i < n && s; i++) {
        out[i] = sample_copy(s, l, t, 12);
        herd_sampler_accept(s, out[i]);
    }
    herd_sampler_free(s);
}

static void test_seeds(void)
{
    int a[200], b[200], c[200], z[200];
    draws(42, a, 200);
    draws(42, b, 200);
    draws(43, c, 200);
    draws(0, z, 200);
    CHECK(memcmp(a, b, sizeof a) == 0);
    CHECK(memcmp(a, c, sizeof a) != 0);
    CHECK(memcmp(a, z, sizeof a) != 0);
}

static herd_sampler *penalised(float r, int last_n)
{
    herd_sampler_params p = herd_sampler_defaults();
    p.temp = 0;
    p.repeat_penalty = r;
    p.repeat_last_n = last_n;
    herd_sampler *s = NULL;
    CHECK_OK(herd_sampler_new(&p, 4, &s));
    return s;
}

static void test_penalty(void)
{
    float t[4];
    /* positive logit divided: 2.0 / 1.2 = 1.67 < 1.9 */
    const float pos[4] = {2.0f, 1.9f, -1.0f, 0.0f};
    herd_sampler *s = penalised(1.2f, 64);
    if (!s)
        return;
    CHECK(sample_copy(s, pos, t, 4) == 0);
    herd_sampler_accept(s, 0);
    CHECK(sample_copy(s, pos, t, 4) == 1);
    CHECK(test_close(t[0], 2.0f / 1.2f, 1e-6f) && t[1] == 1.9f);
    herd_sampler_free(s);

    /* negative logit multiplied: -0.5 * 1.5 = -0.75 < -0.6 */
    const float neg[4] = {-0.5f, -0.6f, -2.0f, -3.0f};
    s = penalised(1.5f, 64);
    herd_sampler_accept(s, 0);
    CHECK(sample_copy(s, neg, t, 4) == 1);
    CHECK(test_close(t[0], -0.75f, 1e-6f));
    herd_sampler_free(s);

    /* a token seen twice is penalised once: 2.0 / 1.2 = 1.67 > 1.6 */
    const float twice[4] = {2.0f, 1.6f, 0.0f, 0.0f};
    s = penalised(1.2f, 64);
    herd_sampler_accept(s, 0);
    herd_sampler_accept(s, 0);
    CHECK(sample_copy(s, twice, t, 4) == 0);
    herd_sampler_free(s);

    /* the window: only the last repeat_last_n tokens count */
    s = penalised(1.2f, 2);
    herd_sampler_accept(s, 0);
    herd_sampler_accept(s, 2);
    herd_sampler_accept(s, 3);
    CHECK(sample_copy(s, pos, t, 4) == 0);
    herd_sampler_accept(s, 0);
    CHECK(sample_copy(s, pos, t, 4) == 1);
    herd_sampler_free(s);

    /* repeat_last_n 0 or penalty 1: nothing changes; bad ids are ignored */
    s = penalised(1.2f, 0);
    herd_sampler_accept(s, 0);
    CHECK(sample_copy(s, pos, t, 4) == 0);
    herd_sampler_free(s);
    s = penalised(1.0f, 64);
    herd_sampler_accept(s, 0);
    herd_sampler_accept(s, -1);
    herd_sampler_accept(s, 99);
    CHECK(sample_copy(s, pos, t, 4) == 0);
    herd_sampler_free(s);
    s = penalised(1.2f, 64);
    herd_sampler_accept(s, -1);
    herd_sampler_accept(s, 99);
    CHECK(sample_copy(s, pos, t, 4) == 0);
    herd_sampler_free(s);
}

/* The penalty comes before the filters: a penalised token drops out of a
 * top-k of 1 that it would otherwise win. */
static void test_penalty_then_top_k(void)
{
    herd_sampler_params p = herd_sampler_defaults();
    p.temp = 1.0f;
    p.top_k = 1;
    p.repeat_penalty = 1.2f;
    herd_sampler *s = NULL;
    CHECK_OK(herd_sampler_new(&p, 4, &s));
    if (!s)
        return;
    const float pos[4] = {2.0f, 1.9f, -1.0f, 0.0f};
    float t[4];
    herd_sampler_accept(s, 0);
    for (int i = 0; i < 50; i++)
        CHECK(sample_copy(s, pos, t, 4) == 1);
    herd_sampler_free(s);
}

static void expect_arg(herd_sampler_params p, int V, const char *name)
{
    herd_sampler *s = (herd_sampler *)&s;
    CHECK_FAILS(herd_sampler_new(&p, V, &s), HERD_E_ARG);
    CHECK_MSG(strstr(herd_last_error(), name) != NULL, "message '%s' does not name %s",
              herd_last_error(), name);
    CHECK(s == NULL);
}

static void test_bad_params(void)
{
    herd_sampler_params d = herd_sampler_defaults(), p;
    herd_sampler *s = NULL;
    CHECK_FAILS(herd_sampler_new(NULL, 10, &s), HERD_E_ARG);
    CHECK(strstr(herd_last_error(), "params") != NULL);
    expect_arg(d, 0, "n_vocab");
    expect_arg(d, -5, "n_vocab");
    p = d; p.temp = NAN; expect_arg(p, 10, "temp");
    p = d; p.top_p = -0.1f; expect_arg(p, 10, "top_p");
    p = d; p.top_p = 1.5f; expect_arg(p, 10, "top_p");
    p = d; p.top_p = NAN; expect_arg(p, 10, "top_p");
    p = d; p.min_p = -0.01f; expect_arg(p, 10, "min_p");
    p = d; p.min_p = 2.0f; expect_arg(p, 10, "min_p");
    p = d; p.min_p = NAN; expect_arg(p, 10, "min_p");
    p = d; p.repeat_penalty = 0.0f; expect_arg(p, 10, "repeat_penalty");
    p = d; p.repeat_penalty = -1.0f; expect_arg(p, 10, "repeat_penalty");
    p = d; p.repeat_penalty = NAN; expect_arg(p, 10, "repeat_penalty");
    p = d; p.repeat_last_n = -1; expect_arg(p, 10, "repeat_last_n");
    /* the edges are fine */
    p = d; p.top_p = 0; p.min_p = 1; p.temp = -1; p.top_k = -3;
    CHECK_OK(herd_sampler_new(&p, 1, &s));
    float one = 0.5f;
    CHECK(herd_sampler_sample(s, &one) == 0);
    herd_sampler_free(s);
    herd_sampler_free(NULL);
}

static void test_defaults(void)
{
    herd_sampler_params d = herd_sampler_defaults();
    CHECK(d.temp == 0.8f && d.top_k == 40 && d.top_p == 0.95f && d.min_p == 0.05f);
    CHECK(d.repeat_penalty == 1.0f && d.repeat_last_n == 64);
}

int main(void)
{
    test_defaults();
    test_bad_params();
    test_greedy();
    test_top_k_1();
    test_top_k_large();
    test_seeds();
    test_penalty();
    test_penalty_then_top_k();
    test_ties_in_top_k();
    test_distributions();
    TEST_END();
}

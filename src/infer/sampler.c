/* The sampler: llama.cpp's chain of repetition penalty, top-k, top-p, min-p
 * and temperature, then a seeded draw.
 *
 * Random numbers: xorshift64* (Vigna, "An experimental exploration of
 * Marsaglia's xorshift generators, scrambled", 2016) with its state set by
 * one step of splitmix64 from the seed, so every seed, 0 included, gives a
 * good non-zero state. Each non-greedy sample takes one 64-bit draw and uses
 * its top 53 bits as a uniform number in [0, 1); greedy samples take none.
 * Same seed, same params, same logits and accepted tokens: same tokens.
 *
 * Logits that are NaN are treated as -inf: never picked. If no logit is
 * above -inf the sampler returns 0. If some logit is +inf the lowest id
 * among those is returned. */
#include "herd.h"
#include "base/error.h"
#include "infer/candidates.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A window longer than any context changes nothing: cap the ring there. */
#define MAX_HISTORY (1 << 24)

struct herd_sampler {
    herd_sampler_params p;
    int n_vocab;
    uint64_t rng;
    int *hist;          /* ring of the last hist_cap accepted ids */
    int hist_cap, hist_n, hist_pos;
    unsigned *mark;     /* n_vocab stamps: penalised in this call */
    unsigned stamp;
    herd_cand *cand;    /* n_vocab */
};

herd_sampler_params herd_sampler_defaults(void)
{
    herd_sampler_params p = {
        .temp = 0.8f, .top_k = 40, .top_p = 0.95f, .min_p = 0.05f,
        .repeat_penalty = 1.0f, .repeat_last_n = 64, .seed = 0,
    };
    return p;
}

static herd_status check_params(const herd_sampler_params *p, int n_vocab)
{
    if (!p)
        return herd_fail(HERD_E_ARG, "sampler: params is NULL");
    if (n_vocab <= 0)
        return herd_fail(HERD_E_ARG, "sampler: n_vocab %d is not positive", n_vocab);
    if (isnan(p->temp))
        return herd_fail(HERD_E_ARG, "sampler: temp is NaN");
    if (!(p->top_p >= 0.0f && p->top_p <= 1.0f))
        return herd_fail(HERD_E_ARG, "sampler: top_p %g is outside [0, 1]", (double)p->top_p);
    if (!(p->min_p >= 0.0f && p->min_p <= 1.0f))
        return herd_fail(HERD_E_ARG, "sampler: min_p %g is outside [0, 1]", (double)p->min_p);
    if (!(p->repeat_penalty > 0.0f) || isinf(p->repeat_penalty))
        return herd_fail(HERD_E_ARG, "sampler: repeat_penalty %g must be positive and finite",
                         (double)p->repeat_penalty);
    if (p->repeat_last_n < 0)
        return herd_fail(HERD_E_ARG, "sampler: repeat_last_n %d is negative", p->repeat_last_n);
    return HERD_OK;
}

static uint64_t splitmix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

/* xorshift64*: a uniform double in [0, 1). */
static double next_uniform(herd_sampler *s)
{
    uint64_t x = s->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    s->rng = x;
    return (double)((x * 0x2545F4914F6CDD1DULL) >> 11) * 0x1.0p-53;
}

herd_status herd_sampler_new(const herd_sampler_params *p, int n_vocab, herd_sampler **out)
{
    if (!out)
        return herd_fail(HERD_E_ARG, "sampler: out is NULL");
    *out = NULL;
    HERD_TRY(check_params(p, n_vocab));
    herd_sampler *s = calloc(1, sizeof *s);
    if (!s)
        return herd_fail(HERD_E_NOMEM, "sampler: out of memory");
    s->p = *p;
    s->n_vocab = n_vocab;
    s->rng = splitmix64(p->seed);
    if (!s->rng)
        s->rng = 0x9E3779B97F4A7C15ULL;
    s->hist_cap = p->repeat_last_n < MAX_HISTORY ? p->repeat_last_n : MAX_HISTORY;
    s->hist = malloc((size_t)(s->hist_cap ? s->hist_cap : 1) * sizeof *s->hist);
    s->mark = calloc((size_t)n_vocab, sizeof *s->mark);
    s->cand = malloc((size_t)n_vocab * sizeof *s->cand);
    if (!s->hist || !s->mark || !s->cand) {
        herd_sampler_free(s);
        return herd_fail(HERD_E_NOMEM, "sampler: out of memory for a vocabulary of %d", n_vocab);
    }
    *out = s;
    return HERD_OK;
}

void herd_sampler_free(herd_sampler *s)
{
    if (!s)
        return;
    free(s->hist);
    free(s->mark);
    free(s->cand);
    free(s);
}

void herd_sampler_accept(herd_sampler *s, int id)
{
    if (!s || s->hist_cap == 0)
        return;
    s->hist[s->hist_pos] = id;
    s->hist_pos = (s->hist_pos + 1) % s->hist_cap;
    if (s->hist_n < s->hist_cap)
        s->hist_n++;
}

/* CTRL-style penalty on each distinct id of the window, once: a positive
 * logit is divided by the penalty, a negative one multiplied. */
static void apply_penalty(herd_sampler *s, float *logits)
{
    float r = s->p.repeat_penalty;
    if (r == 1.0f || s->hist_n == 0)
        return;
    if (++s->stamp == 0) { /* wrapped: forget every old stamp */
        memset(s->mark, 0, (size_t)s->n_vocab * sizeof *s->mark);
        s->stamp = 1;
    }
    for (int i = 0; i < s->hist_n; i++) {
        int id = s->hist[i];
        if (id < 0 || id >= s->n_vocab || s->mark[id] == s->stamp)
            continue;
        s->mark[id] = s->stamp;
        logits[id] = logits[id] > 0 ? logits[id] / r : logits[id] * r;
    }
}

/* Argmax, lowest id on ties, NaN never; 0 when nothing is above -inf. */
static int greedy(const float *logits, int n)
{
    int best = 0;
    float bl = -INFINITY;
    for (int i = 0; i < n; i++)
        if (logits[i] > bl) {
            bl = logits[i];
            best = i;
        }
    return best;
}

/* Softmax of (l - max) / temp over the candidates, then one draw. */
static int draw(herd_sampler *s, herd_cands *cs)
{
    float max = herd_cands_max(cs), temp = s->p.temp;
    double total = 0;
    for (int i = 0; i < cs->n; i++) {
        cs->c[i].l = (float)exp(((double)cs->c[i].l - max) / temp);
        total += cs->c[i].l;
    }
    double u = next_uniform(s) * total;
    int last = 0;
    for (int i = 0; i < cs->n; i++) {
        if (cs->c[i].l > 0)
            last = i;
        u -= cs->c[i].l;
        if (u < 0)
            return cs->c[i].id;
    }
    return cs->c[last].id; /* rounding left u a hair above 0 */
}

int herd_sampler_sample(herd_sampler *s, float *logits)
{
    if (!s || !logits)
        return -1;
    apply_penalty(s, logits);
    int best = greedy(logits, s->n_vocab);
    if (!(s->p.temp > 0) || !(logits[best] > -INFINITY) || isinf(logits[best]))
        return best;
    herd_cands cs = {s->cand, 0, 0};
    for (int i = 0; i < s->n_vocab; i++)
        if (logits[i] > -INFINITY) /* drops NaN and -inf: probability 0 */
            cs.c[cs.n++] = (herd_cand){logits[i], i};
    herd_cands_top_k(&cs, s->p.top_k);
    herd_cands_top_p(&cs, s->p.top_p);
    herd_cands_min_p(&cs, s->p.min_p);
    return draw(s, &cs);
}

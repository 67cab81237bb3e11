/* The fast training kernels against their scalar twins: sgemm attention
 * (forward and backward, with document masks and shared kv rows) and the
 * vectorised cross-entropy. */
#include "test.h"
#include "kernels/kernels.h"

static uint64_t rng = 99;
static float uni(void)
{
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(rng >> 11) / 9007199254740992.0 * 2 - 1);
}

static float *rnd(size_t n)
{
    float *p = malloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++)
        p[i] = uni();
    return p;
}

static float maxdiff(const float *a, const float *b, size_t n)
{
    float m = 0;
    for (size_t i = 0; i < n; i++)
        m = fmaxf(m, fabsf(a[i] - b[i]) / fmaxf(1.0f, fabsf(b[i])));
    return m;
}

static void attention(int T, int hd)
{
    int qs = 3 * hd, ks = 2 * hd;   /* rows strided as inside a batch */
    int *start = malloc(T * sizeof *start);
    for (int t = 0, s = 0; t < T; t++) {
        if (t == T / 3 || t == T / 2 + 1)
            s = t;
        start[t] = s;
    }
    float *q = rnd((size_t)T * qs), *k = rnd((size_t)T * ks), *v = rnd((size_t)T * ks);
    float *o1 = calloc((size_t)T * qs, 4), *o2 = calloc((size_t)T * qs, 4);
    float *p1 = rnd((size_t)T * T), *p2 = rnd((size_t)T * T);
    herd_attention_train(o1, p1, q, k, v, start, T, hd, qs, ks);
    herd_attention_train_ref(o2, p2, q, k, v, start, T, hd, qs, ks);
    CHECK_MSG(maxdiff(p1, p2, (size_t)T * T) < 1e-5, "T %d probs", T);
    for (int t = 0; t < T; t++)
        CHECK(maxdiff(o1 + (size_t)t * qs, o2 + (size_t)t * qs, hd) < 1e-5);
    float *dout = rnd((size_t)T * qs), *scr = malloc((size_t)T * T * 4);
    float *dq1 = calloc((size_t)T * qs, 4), *dq2 = calloc((size_t)T * qs, 4);
    float *dk1 = rnd((size_t)T * ks), *dv1 = rnd((size_t)T * ks);
    float *dk2 = malloc((size_t)T * ks * 4), *dv2 = malloc((size_t)T * ks * 4);
    memcpy(dk2, dk1, (size_t)T * ks * 4);   /* both add to what is there */
    memcpy(dv2, dv1, (size_t)T * ks * 4);
    herd_attention_train_backward(dq1, dk1, dv1, dout, p1, q, k, v, start, T, hd, qs, ks, scr);
    herd_attention_train_backward_ref(dq2, dk2, dv2, dout, p2, q, k, v, start, T, hd, qs, ks,
                                      scr);
    for (int t = 0; t < T; t++) {
        CHECK_MSG(maxdiff(dq1 + (size_t)t * qs, dq2 + (size_t)t * qs, hd) < 1e-4, "dq t %d", t);
        CHECK_MSG(maxdiff(dk1 + (size_t)t * ks, dk2 + (size_t)t * ks, hd) < 1e-4, "dk t %d", t);
        CHECK_MSG(maxdiff(dv1 + (size_t)t * ks, dv2 + (size_t)t * ks, hd) < 1e-4, "dv t %d", t);
    }
    free(start); free(q); free(k); free(v); free(o1); free(o2); free(p1); free(p2);
    free(dout); free(scr); free(dq1); free(dq2); free(dk1); free(dk2); free(dv1); free(dv2);
}

static void cross_entropy(int n, float spread)
{
    float *a = rnd(n), *b = malloc(n * sizeof *b);
    for (int i = 0; i < n; i++)
        a[i] *= spread;
    memcpy(b, a, n * sizeof *a);
    int tg = n / 3;
    double l0 = herd_cross_entropy(a, n, tg, 0.0f), l1 = herd_cross_entropy(a, n, tg, 0.25f);
    double l2 = herd_cross_entropy_ref(b, n, tg, 0.25f);
    CHECK_MSG(fabs(l1 - l2) <= 1e-5 * fmax(1, fabs(l2)), "n %d loss %.8g want %.8g", n, l1, l2);
    CHECK(l0 == l1);
    CHECK_MSG(maxdiff(a, b, n) < 1e-6, "n %d gradient", n);
    free(a);
    free(b);
}

int main(void)
{
    attention(1, 16);
    attention(37, 8);
    attention(64, 48);
    cross_entropy(1, 1);
    cross_entropy(7, 3);
    cross_entropy(32000, 10);
    cross_entropy(1000, 80);   /* exponents down to the underflow clamp */
    TEST_END();
}

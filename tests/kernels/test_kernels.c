/* Kernels against their scalar twins and against the definitions. */
#include "herd.h"
#include "kernels/kernels.h"
#include "test.h"

static unsigned long long rng = 88172645463325252ULL;
static float frand(void)
{
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return (float)((rng >> 11) * (1.0 / 9007199254740992.0)) * 2.0f - 1.0f;
}
static void fill(float *x, int n) { for (int i = 0; i < n; i++) x[i] = frand(); }

static void test_matmul(int n, int in, int out)
{
    float *x = malloc(sizeof(float) * n * in), *w = malloc(sizeof(float) * in * out);
    float *y = malloc(sizeof(float) * n * out), *r = malloc(sizeof(float) * n * out);
    fill(x, n * in);
    fill(w, in * out);
    herd_matmul(y, x, w, n, in, out);
    herd_matmul_ref(r, x, w, n, in, out);
    int bad = 0;
    for (int i = 0; i < n * out; i++)
        bad += !test_close(y[i], r[i], 1e-5f);
    CHECK_MSG(bad == 0, "matmul n=%d in=%d out=%d: %d values differ", n, in, out, bad);
    free(x); free(w); free(y); free(r);
}

/* RoPE as the papers define it: the pair (x_a, x_b) of frequency i is the
 * complex number x_a + i x_b multiplied by e^{i pos theta^(-2i/d)}. */
static void test_rope(void)
{
    enum { H = 3, D = 16, P = 40 };
    float cos_t[P * D / 2], sin_t[P * D / 2];
    double theta = 10000;
    double freqs[D / 2];
    for (int i = 0; i < D / 2; i++)
        freqs[i] = pow(theta, -2.0 * i / D);
    herd_rope_table(cos_t, sin_t, P, D / 2, freqs);
    float v[H * D], meta[H * D], hf[H * D];
    fill(v, H * D);
    int pos = 37;
    /* META pairs (2i, 2i+1); HF pairs (i, i + D/2). perm maps Meta's index of
     * a value to HF's: 2i -> i, 2i+1 -> i + D/2. */
    for (int h = 0; h < H; h++)
        for (int i = 0; i < D / 2; i++) {
            meta[h * D + 2 * i] = v[h * D + 2 * i];
            meta[h * D + 2 * i + 1] = v[h * D + 2 * i + 1];
            hf[h * D + i] = v[h * D + 2 * i];
            hf[h * D + i + D / 2] = v[h * D + 2 * i + 1];
        }
    herd_rope(meta, H, D, cos_t + pos * D / 2, sin_t + pos * D / 2, HERD_ROPE_META);
    herd_rope(hf, H, D, cos_t + pos * D / 2, sin_t + pos * D / 2, HERD_ROPE_HF);
    int bad = 0;
    for (int h = 0; h < H; h++)
        for (int i = 0; i < D / 2; i++) {
            double a = pos * pow(theta, -2.0 * i / D);
            double re = v[h * D + 2 * i], im = v[h * D + 2 * i + 1];
            double wr = re * cos(a) - im * sin(a), wi = re * sin(a) + im * cos(a);
            bad += !test_close(meta[h * D + 2 * i], (float)wr, 1e-5f);
            bad += !test_close(meta[h * D + 2 * i + 1], (float)wi, 1e-5f);
            bad += !test_close(hf[h * D + i], (float)wr, 1e-5f);
            bad += !test_close(hf[h * D + i + D / 2], (float)wi, 1e-5f);
        }
    CHECK_MSG(bad == 0, "rope: %d values differ from the complex rotation", bad);
}

/* Grouped-query attention equals multi-head attention with each kv head
 * repeated for its group; and each head equals softmax(qk/sqrt(d)) v. */
static void test_attention(void)
{
    enum { NH = 6, NKV = 2, D = 8, T = 11 };
    float q[NH * D], k[T * NKV * D], v[T * NKV * D], out[NH * D];
    float k2[T * NH * D], v2[T * NH * D], out2[NH * D], scr[T];
    fill(q, NH * D); fill(k, T * NKV * D); fill(v, T * NKV * D);
    for (int t = 0; t < T; t++)
        for (int h = 0; h < NH; h++)
            for (int i = 0; i < D; i++) {
                k2[(t * NH + h) * D + i] = k[(t * NKV + h / (NH / NKV)) * D + i];
                v2[(t * NH + h) * D + i] = v[(t * NKV + h / (NH / NKV)) * D + i];
            }
    herd_attention(out, q, k, v, T, NH, NKV, D, scr);
    herd_attention(out2, q, k2, v2, T, NH, NH, D, scr);
    int bad = 0;
    for (int i = 0; i < NH * D; i++)
        bad += !test_close(out[i], out2[i], 1e-6f);
    CHECK_MSG(bad == 0, "gqa vs repeated-kv mha: %d differ", bad);
    for (int h = 0; h < NH; h++) {
        double s[T], m = -1e30, z = 0;
        const float *kk = k, *vv = v;
        int g = h / (NH / NKV);
        for (int t = 0; t < T; t++) {
            s[t] = 0;
            for (int i = 0; i < D; i++)
                s[t] += (double)q[h * D + i] * kk[(t * NKV + g) * D + i];
            s[t] /= sqrt(D);
            if (s[t] > m) m = s[t];
        }
        for (int t = 0; t < T; t++) z += (s[t] = exp(s[t] - m));
        for (int i = 0; i < D; i++) {
            double o = 0;
            for (int t = 0; t < T; t++)
                o += s[t] / z * vv[(t * NKV + g) * D + i];
            bad += !test_close(out[h * D + i], (float)o, 1e-5f);
        }
    }
    CHECK_MSG(bad == 0, "attention vs definition: %d differ", bad);
}

static void test_small_ops(void)
{
    float x[37], w[37], o[37];
    fill(x, 37); fill(w, 37);
    herd_rmsnorm(o, x, w, 37, 1e-5f);
    double ss = 0;
    for (int i = 0; i < 37; i++) ss += (double)x[i] * x[i];
    int bad = 0;
    for (int i = 0; i < 37; i++)
        bad += !test_close(o[i], (float)(x[i] / sqrt(ss / 37 + 1e-5) * w[i]), 1e-6f);
    CHECK_MSG(bad == 0, "rmsnorm: %d differ", bad);
    float s[5] = {1000, 1001, 999, -5, 1000};
    herd_softmax(s, 5);
    double z = exp(0) + exp(1) + exp(-1) + exp(-1005) + exp(0);
    CHECK(test_close(s[1], (float)(exp(1) / z), 1e-6f));
    CHECK(test_close(s[0] + s[1] + s[2] + s[3] + s[4], 1.0f, 1e-6f));
    float g[4] = {-3, -0.5f, 0, 2.5f}, u[4] = {1, 2, 3, -1}, r[4];
    herd_swiglu(r, g, u, 4);
    for (int i = 0; i < 4; i++)
        CHECK(test_close(r[i], (float)(g[i] / (1 + exp(-g[i])) * u[i]), 1e-6f));
}

int main(void)
{
    herd_set_threads(2);
    test_matmul(1, 64, 96);
    test_matmul(1, 37, 130);
    test_matmul(7, 64, 96);
    test_matmul(33, 129, 65);
    test_rope();
    test_attention();
    test_small_ops();
    TEST_END();
}

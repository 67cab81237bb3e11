/* kernels/order.h, the rounding herd's decoding shares with llama.cpp's CPU
 * backend: the polynomial exp against double exp (its error bound, and its
 * edges); the sums against double sums; softmax, SwiGLU and the float RoPE
 * table against double references; and every AVX-512 form (exp, the
 * 16-lane sum, SwiGLU) against its scalar twin bit for bit, where the CPU
 * has AVX-512. Whether the order is llama.cpp's is measured against
 * llama.cpp itself by bench/greedy_llamacpp.sh. */
#include "herd.h"
#include "kernels/kernels.h"
#include "kernels/order.h"
#include "quant/quant.h"
#include "test.h"

static unsigned long long rng = 0x9e3779b97f4a7c15ULL;
static float frand(void)
{
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return (float)((rng >> 11) * (1.0 / 9007199254740992.0)) * 2.0f - 1.0f;
}

static void check_exp(void)
{
    double worst = 0;
    for (int i = 0; i <= 200000; i++) {
        float x = -87.0f + 175.0f * (float)i / 200000.0f;
        double ref = exp((double)x), got = herd_expf_poly(x);
        worst = fmax(worst, fabs(got - ref) / ref);
    }
    /* ggml_v_expf's bound: 1.45 ulp plus 0.5 for the rounding */
    CHECK_MSG(worst <= 2.0 * 0x1p-23, "exp relative error %g", worst);
    CHECK(herd_expf_poly(0.0f) == 1.0f);
    CHECK(herd_expf_poly(-200.0f) == 0.0f);
    CHECK(herd_expf_poly(-INFINITY) == 0.0f);
    CHECK(isinf(herd_expf_poly(200.0f)));
    CHECK(herd_expf_poly(-100.0f) > 0.0f && herd_expf_poly(-100.0f) < 1e-38f); /* subnormal */
}

static void check_sums(void)
{
    float v[256], w[256];
    for (int i = 0; i < 256; i++)
        v[i] = frand(), w[i] = frand();
    double d16 = 0;
    for (int i = 0; i < 16; i++)
        d16 += v[i];
    CHECK(test_close(herd_sum16(v), (float)d16, 1e-6f));
    const int ns[] = {8, 63, 64, 100, 128, 256};
    for (int k = 0; k < 6; k++) {
        double d = 0;
        for (int i = 0; i < ns[k]; i++)
            d += (double)v[i] * w[i];
        CHECK_MSG(test_close(herd_dot64(v, w, 1, ns[k]), (float)d, 1e-5f), "dot64 n=%d", ns[k]);
    }
    /* strided y: the same as y gathered */
    float ws[2 * 100], g[100];
    for (int i = 0; i < 100; i++)
        ws[2 * i] = g[i] = w[i], ws[2 * i + 1] = 1e30f;
    float a = herd_dot64(v, ws, 2, 100), b = herd_dot64(v, g, 1, 100);
    CHECK(memcmp(&a, &b, sizeof a) == 0);
}

static void check_softmax_swiglu(void)
{
    enum { N = 300 };
    float x[N], g[N], u[N], y[N];
    for (int i = 0; i < N; i++)
        x[i] = 8 * frand(), g[i] = 6 * frand(), u[i] = frand();
    double m = -1e30, s = 0;
    for (int i = 0; i < N; i++)
        m = fmax(m, x[i]);
    for (int i = 0; i < N; i++)
        s += exp(x[i] - m);
    const int ns[] = {1, 15, 16, 17, 172, N};
    for (int k = 0; k < 6; k++) {
        int n = ns[k];
        memcpy(y, x, sizeof(float) * n);
        herd_softmax(y, n);
        double mk = -1e30, sk = 0;
        for (int i = 0; i < n; i++)
            mk = fmax(mk, x[i]);
        for (int i = 0; i < n; i++)
            sk += exp(x[i] - mk);
        int bad = 0;
        for (int i = 0; i < n; i++)
            bad += !test_close(y[i], (float)(exp(x[i] - mk) / sk), 2e-6f);
        CHECK_MSG(bad == 0, "softmax n=%d: %d values off", n, bad);
        herd_swiglu(y, g, u, n);
        bad = 0;
        for (int i = 0; i < n; i++)
            bad += !test_close(y[i], (float)(g[i] / (1 + exp(-(double)g[i])) * u[i]), 1e-6f);
        CHECK_MSG(bad == 0, "swiglu n=%d: %d values off", n, bad);
    }
    (void)s;
}

static void check_rope_table(void)
{
    enum { P = 2048, H = 32 };
    static float c[P * H], s[P * H];
    herd_rope_table_f32(c, s, P, H, 10000.0f, NULL, 1.0f);
    int bad = 0;
    for (int p = 0; p < P; p += 7)
        for (int i = 0; i < H; i++) {
            double a = p * pow(10000.0, -2.0 * i / (2 * H));
            /* the angle is rounded once per pair index: 2048 * 2^-24 * i */
            bad += fabs(c[p * H + i] - cos(a)) > 2e-4 || fabs(s[p * H + i] - sin(a)) > 2e-4;
        }
    CHECK_MSG(bad == 0, "rope table: %d entries off", bad);
    CHECK(c[0] == 1.0f && s[0] == 0.0f);
    /* rope_freqs divisors and linear interpolation */
    float div[H], c2[4 * H], s2[4 * H];
    for (int i = 0; i < H; i++)
        div[i] = 1.0f + i;
    herd_rope_table_f32(c2, s2, 4, H, 10000.0f, div, 0.5f);
    double a = 3 * pow(10000.0, -2.0 * 5 / (2 * H)) / 6.0 * 0.5;
    CHECK(fabs(c2[3 * H + 5] - cos(a)) < 1e-6 && fabs(s2[3 * H + 5] - sin(a)) < 1e-6);
}

#if defined(__x86_64__)
__attribute__((target("avx2,fma,avx512f,avx512dq")))
static int simd_exp_sum_mismatches(void)
{
    int bad = 0;
    float in[16 * 64], out[16];
    for (int i = 0; i < 16 * 64; i++)
        in[i] = 120.0f * frand();
    in[0] = -INFINITY, in[1] = -100.0f, in[2] = 100.0f, in[3] = 0.0f, in[4] = -0.0f;
    for (int b = 0; b < 64; b++) {
        _mm512_storeu_ps(out, herd_expf_poly16(_mm512_loadu_ps(in + 16 * b)));
        for (int l = 0; l < 16; l++) {
            float r = herd_expf_poly(in[16 * b + l]);
            bad += memcmp(&r, &out[l], sizeof r) != 0;
        }
        float s1 = herd_sum16_avx512(_mm512_loadu_ps(in + 16 * b)), s2 = herd_sum16(in + 16 * b);
        bad += memcmp(&s1, &s2, sizeof s1) != 0;
    }
    return bad;
}
#endif

static void check_simd_twins(void)
{
    if (herd_simd_supported() < HERD_SIMD_AVX512) {
        printf("no AVX-512 here: the SIMD twins are not run\n");
        return;
    }
#if defined(__x86_64__)
    CHECK_MSG(simd_exp_sum_mismatches() == 0, "AVX-512 exp / sum16 differ from the scalar");
    enum { N = 5632 };
    static float g[N], u[N], y1[N], y2[N];
    for (int i = 0; i < N; i++)
        g[i] = 10 * frand(), u[i] = frand();
    const int ns[] = {1, 15, 16, 17, 172, N};
    for (int k = 0; k < 6; k++) {
        herd_swiglu(y1, g, u, ns[k]);
        herd_swiglu_avx512(y2, g, u, ns[k]);
        CHECK_MSG(memcmp(y1, y2, sizeof(float) * ns[k]) == 0, "swiglu_avx512 n=%d", ns[k]);
    }
#endif
}

int main(void)
{
    check_exp();
    check_sums();
    check_softmax_swiglu();
    check_rope_table();
    check_simd_twins();
    TEST_END();
}

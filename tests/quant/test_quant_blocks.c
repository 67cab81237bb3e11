/* Block layouts against GGUF's documented formulas, on blocks built by
 * hand here; quantize-then-dequantize error within each type's bound; and
 * each dot product against the float dot of the dequantized rows. */
#include "quant_test.h"
#include "base/half.h"
#include <math.h>

static void test_traits(void)
{
    static const struct {
        herd_qtype t;
        const char *name;
        int64_t blck;
        size_t bytes;
        herd_qtype act;
    } want[] = {
        {HERD_QTYPE_F32, "f32", 1, 4, HERD_QTYPE_F32},
        {HERD_QTYPE_F16, "f16", 1, 2, HERD_QTYPE_F32},
        {HERD_QTYPE_BF16, "bf16", 1, 2, HERD_QTYPE_F32},
        {HERD_QTYPE_Q4_0, "q4_0", 32, 18, HERD_QTYPE_Q8_0},
        {HERD_QTYPE_Q8_0, "q8_0", 32, 34, HERD_QTYPE_Q8_0},
        {HERD_QTYPE_Q4_K, "q4_K", 256, 144, HERD_QTYPE_Q8_K},
        {HERD_QTYPE_Q6_K, "q6_K", 256, 210, HERD_QTYPE_Q8_K},
        {HERD_QTYPE_Q8_K, "q8_K", 256, 292, HERD_QTYPE_Q8_K},
    };
    /* GGUF's ggml_type numbers */
    CHECK(HERD_QTYPE_Q4_0 == 2 && HERD_QTYPE_Q8_0 == 8 && HERD_QTYPE_Q4_K == 12 &&
          HERD_QTYPE_Q6_K == 14 && HERD_QTYPE_Q8_K == 15 && HERD_QTYPE_BF16 == 30);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const herd_qtraits *q = herd_qtraits_get(want[i].t);
        CHECK(q != NULL);
        if (!q)
            continue;
        CHECK(strcmp(q->name, want[i].name) == 0);
        CHECK(q->blck == want[i].blck && q->bytes == want[i].bytes);
        CHECK(q->vec_dot_type == want[i].act);
        CHECK(q->to_float && q->from_float);
        CHECK((q->vec_dot != NULL) == (want[i].t != HERD_QTYPE_Q8_K));
        CHECK(herd_qrow_bytes(want[i].t, 4096) == 4096 / want[i].blck * want[i].bytes);
    }
    CHECK(herd_qtraits_get((herd_qtype)3) == NULL);
    CHECK(herd_qrow_bytes(HERD_QTYPE_Q4_K, 300) == 0);
    CHECK(herd_qrow_bytes(HERD_QTYPE_Q8_0, 64) == 68);
}

static void test_q8_0_q4_0_layout(void)
{
    herd_block_q8_0 b8[2];
    b8[0].d = 0x3800; /* 0.5 */
    b8[1].d = 0xbc00; /* -1 */
    for (int j = 0; j < 32; j++) {
        b8[0].qs[j] = (int8_t)(j - 16);
        b8[1].qs[j] = (int8_t)(127 - 8 * j);
    }
    float y[64];
    herd_dequantize_q8_0(b8, y, 64);
    int bad = 0;
    for (int j = 0; j < 32; j++)
        bad += y[j] != (j - 16) * 0.5f || y[32 + j] != -(127 - 8 * j);
    CHECK_MSG(bad == 0, "q8_0 layout: %d values wrong", bad);

    /* byte j: low nibble is element j, high nibble element j + 16 */
    herd_block_q4_0 b4;
    b4.d = 0x3400; /* 0.25 */
    for (int j = 0; j < 16; j++)
        b4.qs[j] = (uint8_t)(j | (15 - j) << 4);
    herd_dequantize_q4_0(&b4, y, 32);
    bad = 0;
    for (int j = 0; j < 16; j++)
        bad += y[j] != (j - 8) * 0.25f || y[16 + j] != (7 - j) * 0.25f;
    CHECK_MSG(bad == 0, "q4_0 layout: %d values wrong", bad);
}

/* Q4_K's 12 scale bytes from GGUF's description: for sub-block j < 4 the
 * low 6 bits of byte j are its scale, of byte j + 4 its min; for j >= 4 byte
 * j + 4 holds the scale's low 4 bits (low nibble) and the min's (high
 * nibble), and the top 2 bits of byte j - 4 and of byte j the scale's and
 * the min's high 2 bits. */
static void pack_q4_K_scales(uint8_t s[12], const int sc[8], const int m[8])
{
    memset(s, 0, 12);
    for (int j = 0; j < 8; j++)
        if (j < 4) {
            s[j] |= (uint8_t)sc[j];
            s[j + 4] |= (uint8_t)m[j];
        } else {
            s[j + 4] = (uint8_t)((sc[j] & 15) | (m[j] & 15) << 4);
            s[j - 4] |= (uint8_t)((sc[j] >> 4) << 6);
            s[j] |= (uint8_t)((m[j] >> 4) << 6);
        }
}

static void test_q4_K_layout(void)
{
    herd_block_q4_K b;
    int sc[8], m[8], q[256];
    for (int j = 0; j < 8; j++) {
        sc[j] = qt_int(0, 63);
        m[j] = qt_int(0, 63);
    }
    sc[7] = 63; m[6] = 63; sc[1] = 0; m[0] = 0;
    pack_q4_K_scales(b.scales, sc, m);
    b.d = 0x4000;    /* 2 */
    b.dmin = 0x3800; /* 0.5 */
    /* qs byte 32c + l: element 64c + l in the low nibble, 64c + 32 + l high */
    for (int i = 0; i < 256; i++)
        q[i] = qt_int(0, 15);
    for (int c = 0; c < 4; c++)
        for (int l = 0; l < 32; l++)
            b.qs[32 * c + l] = (uint8_t)(q[64 * c + l] | q[64 * c + 32 + l] << 4);
    int bad = 0;
    for (int j = 0; j < 8; j++) {
        uint8_t s, mm;
        herd_q4_K_scale_min(b.scales, j, &s, &mm);
        bad += s != sc[j] || mm != m[j];
    }
    CHECK_MSG(bad == 0, "q4_K scales: %d of 8 sub-blocks wrong", bad);
    float y[256];
    herd_dequantize_q4_K(&b, y, 256);
    bad = 0;
    for (int i = 0; i < 256; i++)
        bad += y[i] != 2.0f * sc[i / 32] * q[i] - 0.5f * m[i / 32];
    CHECK_MSG(bad == 0, "q4_K layout: %d values wrong", bad);
}

/* Q6_K: in each half h of 128 values, element 128h + 32p + l (p 0..3, l
 * 0..31) has its low 4 bits in ql[64h + l + 32 (p & 1)] (low nibble for
 * p < 2, high for p >= 2) and its high 2 bits at bit 2p of qh[32h + l];
 * x = d * scales[i / 16] * (q - 32). */
static void test_q6_K_layout(void)
{
    herd_block_q6_K b;
    int q[256];
    memset(&b, 0, sizeof b);
    for (int i = 0; i < 256; i++)
        q[i] = qt_int(0, 63);
    q[0] = 0; q[255] = 63;
    for (int i = 0; i < 256; i++) {
        int h = i / 128, p = (i % 128) / 32, l = i % 32;
        uint8_t *lo = &b.ql[64 * h + l + 32 * (p & 1)];
        *lo |= (uint8_t)((q[i] & 15) << (p >= 2 ? 4 : 0));
        b.qh[32 * h + l] |= (uint8_t)((q[i] >> 4) << (2 * p));
    }
    for (int j = 0; j < 16; j++)
        b.scales[j] = (int8_t)qt_int(-128, 127);
    b.scales[3] = -128;
    b.scales[4] = 127;
    b.d = 0x3000; /* 0.125 */
    int bad = 0;
    for (int i = 0; i < 256; i++)
        bad += herd_q6_K_get(&b, i) != q[i];
    CHECK_MSG(bad == 0, "q6_K quants: %d wrong", bad);
    float y[256];
    herd_dequantize_q6_K(&b, y, 256);
    bad = 0;
    for (int i = 0; i < 256; i++)
        bad += y[i] != 0.125f * b.scales[i / 16] * (q[i] - 32);
    CHECK_MSG(bad == 0, "q6_K layout: %d values wrong", bad);
}

static void test_q8_K_layout(void)
{
    float x[256], y[256];
    for (int i = 0; i < 256; i++)
        x[i] = qt_normal();
    x[77] = -4.0f; /* the largest magnitude: d = 4/127, q[77] = -127 */
    herd_block_q8_K b;
    herd_quantize_q8_K(x, &b, 256);
    CHECK(b.qs[77] == -127);
    CHECK(fabsf(b.d - 4.0f / 127) <= 1e-7f);
    int bad = 0;
    for (int j = 0; j < 16; j++) {
        int s = 0;
        for (int k = 0; k < 16; k++)
            s += b.qs[16 * j + k];
        bad += b.bsums[j] != s;
    }
    CHECK_MSG(bad == 0, "q8_K bsums: %d wrong", bad);
    herd_dequantize_q8_K(&b, y, 256);
    bad = 0;
    for (int i = 0; i < 256; i++)
        bad += y[i] != b.d * b.qs[i] || fabsf(y[i] - x[i]) > 0.5f * fabsf(b.d) * 1.0001f;
    CHECK_MSG(bad == 0, "q8_K round trip: %d values off", bad);
    memset(x, 0, sizeof x);
    herd_quantize_q8_K(x, &b, 256);
    CHECK(b.d == 0 && b.qs[5] == 0 && b.bsums[3] == 0);
}

/* Rows of several shapes: normal at several scales, with an offset,
 * heavy-tailed, and one-signed. */
static void fill_row(float *x, int n, int kind)
{
    float s = powf(10.0f, (float)(kind % 5) - 3);
    for (int i = 0; i < n; i++) {
        float v = qt_normal();
        switch (kind % 4) {
        case 0: x[i] = v * s; break;
        case 1: x[i] = v * s + 0.5f * s; break;
        case 2: x[i] = v * v * v * s; break;
        default: x[i] = fabsf(v) * s; break;
        }
    }
}

/* The largest error quantization may make on value i, from its block:
 * Q8_0 and Q8_K half a step (amax / 127) plus the f16 rounding of the
 * scale (127 steps times 2^-11); Q4_0 one step (|max| / 8: the value
 * opposite the maximum lands on 7 steps, not 8) plus f16 rounding (8 steps
 * times 2^-11). The K-quants fit a scale per sub-block and quantize those
 * against the super-block's largest, so a value stays within one step of
 * the super-block: (max - min) / 15 for Q4_K (min <= 0 <= max), amax / 31
 * for Q6_K. Scales below f16's normal range are rounded to 2^-24, which
 * adds up to (largest quant) x 2^-25. */
static float block_bound(herd_qtype t, const float *x, int i)
{
    int len = t == HERD_QTYPE_Q8_0 || t == HERD_QTYPE_Q4_0 ? 32 : 256;
    const float *b = x + i / len * len;
    float mn = 0, mx = 0, amax = 0, max = 0;
    for (int k = 0; k < len; k++) {
        mn = fminf(mn, b[k]);
        mx = fmaxf(mx, b[k]);
        if (fabsf(b[k]) > amax) {
            amax = fabsf(b[k]);
            max = b[k];
        }
    }
    const float sub = 1.0f / (1 << 25);
    switch (t) {
    case HERD_QTYPE_Q8_0: return amax / 127 * (0.5f + 127.0f / 2048) * 1.001f + 127 * sub;
    case HERD_QTYPE_Q8_K: return amax / 127 * 0.5f * 1.001f;
    case HERD_QTYPE_Q4_0: return fabsf(max) / 8 * (1 + 8.0f / 2048) * 1.001f + 8 * sub;
    case HERD_QTYPE_Q4_K: return (mx - mn) / 15 * 1.001f + 2 * 15 * 63 * sub;
    default: return amax / 31 * 1.001f + 32 * 128 * sub;
    }
}

static void test_round_trip(herd_qtype t)
{
    enum { N = 1024, ROWS = 40 };
    const herd_qtraits *q = herd_qtraits_get(t);
    float x[N], y[N];
    unsigned char *buf = malloc(herd_qrow_bytes(t, N));
    int bad = 0;
    double err2 = 0, sig2 = 0;
    for (int r = 0; r < ROWS; r++) {
        fill_row(x, N, r);
        q->from_float(x, buf, N);
        q->to_float(buf, y, N);
        for (int i = 0; i < N; i++) {
            float e = fabsf(y[i] - x[i]), lim = block_bound(t, x, i);
            if (!(e <= lim) && bad++ < 3)
                fprintf(stderr, "%s row %d [%d]: %g -> %g, bound %g\n", q->name, r, i, x[i],
                        y[i], lim);
            if (r % 4 == 0) {
                err2 += (double)e * e;
                sig2 += (double)x[i] * x[i];
            }
        }
    }
    CHECK_MSG(bad == 0, "%s: %d values beyond the bound", q->name, bad);
    /* and a guard on each type's usual accuracy on normal data (measured
     * 0.5%, 8%, 7%, 1.7%, 0.65% of the RMS) */
    double rel = sqrt(err2 / sig2);
    double lim = t == HERD_QTYPE_Q8_0 || t == HERD_QTYPE_Q8_K ? 0.01 : t == HERD_QTYPE_Q4_0 ? 0.12 :
                 t == HERD_QTYPE_Q4_K ? 0.09 : 0.03;
    CHECK_MSG(rel < lim, "%s: relative RMS error %.4f, want < %.3f", q->name, rel, lim);
    printf("%s: relative RMS error on normal rows %.4f\n", q->name, rel);
    free(buf);
}

/* The dot product of a weight row with a quantized activation row equals
 * the float dot of both dequantized, up to float rounding. */
static void test_dot_vs_dequant(herd_qtype t)
{
    enum { N = 2048 };
    const herd_qtraits *q = herd_qtraits_get(t), *a = herd_qtraits_get(q->vec_dot_type);
    float x[N], w[N], xd[N], wd[N];
    unsigned char *wq = malloc(herd_qrow_bytes(t, N));
    unsigned char *xq = malloc(herd_qrow_bytes(q->vec_dot_type, N));
    int bad = 0;
    for (int r = 0; r < 20; r++) {
        fill_row(w, N, r);
        fill_row(x, N, r + 1);
        q->from_float(w, wq, N);
        a->from_float(x, xq, N);
        q->to_float(wq, wd, N);
        a->to_float(xq, xd, N);
        double ref = 0, mag = 0;
        for (int i = 0; i < N; i++) {
            ref += (double)wd[i] * xd[i];
            mag += fabs((double)wd[i] * xd[i]);
        }
        float got = q->vec_dot(N, wq, xq);
        if (!(fabs(got - ref) <= 1e-5 * mag) && bad++ < 3)
            fprintf(stderr, "%s dot row %d: %.9g, dequantized %.9g\n", q->name, r, got, ref);
    }
    CHECK_MSG(bad == 0, "%s: %d dots off the dequantized dot", q->name, bad);
    free(wq);
    free(xq);
}

int main(void)
{
    test_traits();
    test_q8_0_q4_0_layout();
    test_q4_K_layout();
    test_q6_K_layout();
    test_q8_K_layout();
    const herd_qtype types[] = {HERD_QTYPE_Q8_0, HERD_QTYPE_Q4_0, HERD_QTYPE_Q4_K,
                                HERD_QTYPE_Q6_K, HERD_QTYPE_Q8_K};
    for (int i = 0; i < 5; i++)
        test_round_trip(types[i]);
    const herd_qtype dots[] = {HERD_QTYPE_Q8_0, HERD_QTYPE_Q4_0, HERD_QTYPE_Q4_K, HERD_QTYPE_Q6_K,
                               HERD_QTYPE_F16, HERD_QTYPE_BF16, HERD_QTYPE_F32};
    for (int i = 0; i < 7; i++)
        test_dot_vs_dequant(dots[i]);
    TEST_END();
}

/* Against llama.cpp itself: bytes of herd's Q8_0, Q4_0, Q4_K, Q6_K and Q8_K
 * quantizers equal those of llama.cpp's reference quantizers on rows with
 * hard cases, and herd's dot products at every SIMD level this CPU runs
 * agree with llama.cpp's ggml_vec_dot_*_generic; dequantized random blocks
 * equal llama.cpp's dequantize_row_*. The golden files are
 * written by tests/reference/quant_golden.py (gguf_write.py for Q8_0/Q4_0,
 * llama.cpp's libraries for the rest). */
#include "quant_test.h"
#include <math.h>

enum { N = 512, R = 32, A = 8 };

static float *weights, *acts;

static void check_bytes(const char *what, herd_from_float_fn q, const float *x, int rows,
                        size_t row_bytes, const char *file)
{
    unsigned char *want = qt_fixture(file, rows * row_bytes), *got = malloc(row_bytes);
    if (!want)
        return;
    int bad = 0;
    for (int r = 0; r < rows; r++) {
        memset(got, 0xa5, row_bytes);
        q(x + (size_t)r * N, got, N);
        for (size_t b = 0; b < row_bytes; b++)
            if (got[b] != want[r * row_bytes + b]) {
                if (bad++ < 5)
                    fprintf(stderr, "%s row %d: byte %zu is %02x, llama.cpp's %02x\n", what, r, b,
                            got[b], want[r * row_bytes + b]);
                break;
            }
    }
    CHECK_MSG(bad == 0, "%s: %d of %d rows differ from llama.cpp's", what, bad, rows);
    free(want);
    free(got);
}

/* Dequantized random blocks equal llama.cpp's, bit for bit. */
static void check_dequant(herd_qtype t)
{
    const herd_qtraits *q = herd_qtraits_get(t);
    char bin[32], f32[32];
    snprintf(bin, sizeof bin, "blocks_%s.bin", q->name);
    snprintf(f32, sizeof f32, "blocks_%s.f32", q->name);
    enum { V = 4096 };
    unsigned char *raw = qt_fixture(bin, herd_qrow_bytes(t, V));
    float *want = qt_fixture(f32, sizeof(float) * V), *got = malloc(sizeof(float) * V);
    if (raw && want) {
        q->to_float(raw, got, V);
        int bad = 0;
        for (int i = 0; i < V; i++)
            bad += memcmp(&got[i], &want[i], 4) != 0;
        CHECK_MSG(bad == 0, "%s: %d of %d dequantized values differ from llama.cpp's",
                  q->name, bad, V);
    }
    free(raw);
    free(want);
    free(got);
}

/* |a - b| small against the sum of |w_i x_i| of the dequantized rows. */
static void check_dots(herd_qtype t, const char *file)
{
    const herd_qtraits *wt = herd_qtraits_get(t), *at = herd_qtraits_get(wt->vec_dot_type);
    size_t wb = herd_qrow_bytes(t, N), ab = herd_qrow_bytes(wt->vec_dot_type, N);
    char wname[32], aname[32];
    snprintf(wname, sizeof wname, "%s.bin", wt->name);
    snprintf(aname, sizeof aname, "acts_%s.bin", at->name);
    unsigned char *wq = qt_fixture(wname, R * wb), *aq = qt_fixture(aname, A * ab);
    float *want = qt_fixture(file, sizeof(float) * R * A);
    if (!wq || !aq || !want)
        return;
    float wd[N], ad[N];
    for (int l = 0; l <= (int)herd_simd_supported(); l++) {
        herd_vec_dot_fn dot = herd_vec_dot_at(t, (herd_simd_level)l);
        int bad = 0;
        for (int r = 0; r < R; r++)
            for (int a = 0; a < A; a++) {
                float got = dot(N, wq + r * wb, aq + a * ab), ref = want[r * A + a];
                wt->to_float(wq + r * wb, wd, N);
                at->to_float(aq + a * ab, ad, N);
                double mag = 0;
                for (int i = 0; i < N; i++)
                    mag += fabs((double)wd[i] * ad[i]);
                int ok = isfinite(ref) ? fabs((double)got - ref) <= 2e-6 * mag + 1e-30
                                       : !isfinite(got);
                if (!ok && bad++ < 3)
                    fprintf(stderr, "%s %s row %d act %d: %.9g, llama.cpp %.9g\n", wt->name,
                            herd_simd_name((herd_simd_level)l), r, a, got, ref);
            }
        CHECK_MSG(bad == 0, "%s dot at %s: %d of %d differ", wt->name,
                  herd_simd_name((herd_simd_level)l), bad, R * A);
    }
    free(wq);
    free(aq);
    free(want);
}

int main(void)
{
    weights = qt_fixture("weights.f32", sizeof(float) * R * N);
    acts = qt_fixture("acts.f32", sizeof(float) * A * N);
    if (!weights || !acts)
        TEST_END();
    check_bytes("q8_0", herd_quantize_q8_0, weights, R, herd_qrow_bytes(HERD_QTYPE_Q8_0, N),
                "q8_0.bin");
    check_bytes("q4_0", herd_quantize_q4_0, weights, R, herd_qrow_bytes(HERD_QTYPE_Q4_0, N),
                "q4_0.bin");
    check_bytes("q4_K", herd_quantize_q4_K, weights, R, herd_qrow_bytes(HERD_QTYPE_Q4_K, N),
                "q4_K.bin");
    check_bytes("q6_K", herd_quantize_q6_K, weights, R, herd_qrow_bytes(HERD_QTYPE_Q6_K, N),
                "q6_K.bin");
    check_bytes("acts q8_0", herd_quantize_q8_0, acts, A, herd_qrow_bytes(HERD_QTYPE_Q8_0, N),
                "acts_q8_0.bin");
    check_bytes("acts q8_K", herd_quantize_q8_K, acts, A, herd_qrow_bytes(HERD_QTYPE_Q8_K, N),
                "acts_q8_K.bin");
    const herd_qtype all[] = {HERD_QTYPE_Q8_0, HERD_QTYPE_Q4_0, HERD_QTYPE_Q4_K,
                              HERD_QTYPE_Q6_K, HERD_QTYPE_Q8_K};
    for (int i = 0; i < 5; i++)
        check_dequant(all[i]);
    check_dots(HERD_QTYPE_Q8_0, "dots_q8_0.f32");
    check_dots(HERD_QTYPE_Q4_0, "dots_q4_0.f32");
    check_dots(HERD_QTYPE_Q4_K, "dots_q4_K.f32");
    check_dots(HERD_QTYPE_Q6_K, "dots_q6_K.f32");
    free(weights);
    free(acts);
    TEST_END();
}

/* The few-token products (quant/gemv.h) against independent references:
 * Q8_0 / Q4_0 against the row dot products of quant.h on activations
 * quantized by herd_quantize_activation (scalar level), exactly where all
 * the arithmetic is in integers; F16 / F32 against double sums. Every
 * SIMD kernel this CPU runs against its scalar twin (Q8_0 / Q4_0 / F16:
 * the same floats, bit for bit, in each order of gemv.h), for 1..8 tokens, row
 * counts that are not multiples of the kernels' tiles and float tails;
 * the threaded herd_gemv against the same references; herd_gemv_parts
 * over three matrices equal to herd_gemv on each. */
#include "quant_test.h"
#include "quant/gemv.h"
#include "quant/quant_impl.h"
#include "base/half.h"

#define MAXN HERD_GEMV_MAX_TOKENS

static float rel_err(const float *a, const float *b, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        num += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        den += (double)b[i] * b[i];
    }
    return den > 0 ? (float)sqrt(num / den) : (float)sqrt(num);
}

/* ref[t * rows + r] = w_r . x_t through quant.h's scalar row dot products. */
static void reference_q(herd_qtype t, const void *w, const float *x, int64_t rows,
                        int64_t cols, int n, float *ref)
{
    const size_t wb = herd_qrow_bytes(t, cols), ab = herd_activation_bytes(t, cols);
    void *xq = malloc(ab);
    herd_vec_dot_fn dot = herd_vec_dot_at(t, HERD_SIMD_SCALAR);
    for (int k = 0; k < n; k++) {
        CHECK_OK(herd_quantize_activation(t, x + k * cols, cols, xq));
        for (int64_t r = 0; r < rows; r++)
            ref[k * rows + r] = dot(cols, (const char *)w + r * wb, xq);
    }
    free(xq);
}

static void reference_f(herd_qtype t, const void *w, const float *x, int64_t rows,
                        int64_t cols, int n, float *ref)
{
    for (int k = 0; k < n; k++)
        for (int64_t r = 0; r < rows; r++) {
            double s = 0;
            for (int64_t i = 0; i < cols; i++) {
                float wv = t == HERD_QTYPE_F32 ? ((const float *)w)[r * cols + i]
                                               : herd_f16_to_f32(((const uint16_t *)w)[r * cols + i]);
                s += (double)wv * x[k * cols + i];
            }
            ref[k * rows + r] = (float)s;
        }
}

/* Weights of type t: quantized from random floats, or (unit) with every
 * scale 1 and random quants; activations random, or (unit) integers with
 * a 127 in each block so that they quantize to themselves with scale 1. */
static void make(herd_qtype t, int64_t rows, int64_t cols, int unit, void *w, float *x)
{
    const size_t wb = herd_qrow_bytes(t, cols);
    float *row = malloc(cols * sizeof(float));
    for (int64_t r = 0; r < rows; r++) {
        char *wr = (char *)w + r * wb;
        if (unit && (t == HERD_QTYPE_Q8_0 || t == HERD_QTYPE_Q4_0)) {
            for (size_t i = 0; i < wb; i++)
                wr[i] = (char)qt_next();
            for (int64_t b = 0; b < cols / 32; b++) {
                if (t == HERD_QTYPE_Q8_0) {
                    herd_block_q8_0 *q = (herd_block_q8_0 *)wr + b;
                    q->d = 0x3c00;
                    for (int j = 0; j < 32; j++)
                        q->qs[j] = (int8_t)qt_int(-127, 127);
                } else {
                    ((herd_block_q4_0 *)wr)[b].d = 0x3c00;
                }
            }
            continue;
        }
        for (int64_t i = 0; i < cols; i++)
            row[i] = qt_normal();
        herd_qtraits_get(t)->from_float(row, wr, cols);
    }
    for (int k = 0; k < MAXN; k++)
        for (int64_t i = 0; i < cols; i++)
            x[k * cols + i] = unit ? (i % 32 == 5 ? 127.0f : (float)qt_int(-127, 127))
                                   : qt_normal();
    free(row);
}

/* Where herd_gemv_kernel_at picks the VBMI kernel, the VNNI one it stands
 * in for (tested too); NULL elsewhere. */
static herd_gemv_kernel vnni_twin(herd_qtype t)
{
#if defined(__x86_64__)
    if (herd_simd_supported() >= HERD_SIMD_AVX512VNNI && t == HERD_QTYPE_Q4_0)
        return herd_gemv_q4_0_avx512vnni;
    if (herd_simd_supported() >= HERD_SIMD_AVX512VNNI && t == HERD_QTYPE_Q8_0)
        return herd_gemv_q8_0_avx512vnni;
#endif
    (void)t;
    return NULL;
}

static void run_case(herd_qtype t, int64_t rows, int64_t cols, int unit)
{
    const int quant = t == HERD_QTYPE_Q8_0 || t == HERD_QTYPE_Q4_0;
    const size_t xs = herd_gemv_act_bytes(t, cols);
    CHECK(xs > 0);
    void *w = malloc(herd_qrow_bytes(t, cols) * rows);
    float *x = malloc(sizeof(float) * MAXN * cols);
    float *ref = malloc(sizeof(float) * MAXN * rows), *ys = malloc(sizeof(float) * MAXN * rows);
    float *yv = malloc(sizeof(float) * MAXN * rows);
    char *xa = malloc(xs * MAXN);
    make(t, rows, cols, unit, w, x);
    /* the kernels herd_gemv picks for this shape (either order) */
    const herd_gemv_kernel scalar = herd_gemv_kernel_for(t, HERD_SIMD_SCALAR, rows, cols);
    const herd_gemv_kernel simd = herd_gemv_kernel_for(t, herd_simd_supported(), rows, cols);
    for (int n = 1; n <= MAXN; n++) {
        if (quant)
            reference_q(t, w, x, rows, cols, n, ref);
        else
            reference_f(t, w, x, rows, cols, n, ref);
        for (int k = 0; k < n; k++)
            herd_gemv_prepare(t, x + k * cols, cols, xa + k * xs);
        scalar(ys, rows, w, herd_qrow_bytes(t, cols), xa, xs, rows, cols, n);
        const float tol = unit ? 0.0f : 2e-6f * sqrtf((float)cols);
        CHECK_MSG(rel_err(ys, ref, (size_t)n * rows) <= tol, "%s scalar rows %lld cols %lld "
                  "n %d: %g", herd_qtraits_get(t)->name, (long long)rows, (long long)cols, n,
                  rel_err(ys, ref, (size_t)n * rows));
        for (int v = 0; v < 2; v++) {
            const herd_gemv_kernel k = v == 0 ? simd : vnni_twin(t);
            if (!k || k == scalar || (v == 1 && k == simd) ||
                (v == 1 && simd != herd_gemv_kernel_at(t, herd_simd_supported())))
                continue;
            k(yv, rows, w, herd_qrow_bytes(t, cols), xa, xs, rows, cols, n);
            /* Q8_0, Q4_0 and F16 sum in the twin's order: the same floats. */
            CHECK_MSG(t != HERD_QTYPE_F32 ? !memcmp(yv, ys, sizeof(float) * n * rows)
                            : rel_err(yv, ys, (size_t)n * rows) <= tol,
                      "%s simd %d rows %lld cols %lld n %d: %g", herd_qtraits_get(t)->name, v,
                      (long long)rows, (long long)cols, n, rel_err(yv, ys, (size_t)n * rows));
        }
        memset(yv, 0, sizeof(float) * n * rows);
        if (herd_gemv(yv, w, t, x, rows, cols, n, xa))
            CHECK_MSG(rel_err(yv, ref, (size_t)n * rows) <= tol, "%s herd_gemv n %d: %g",
                      herd_qtraits_get(t)->name, n, rel_err(yv, ref, (size_t)n * rows));
        else
            CHECK(herd_simd_active() == HERD_SIMD_SCALAR ||
                  herd_gemv_kernel_at(t, herd_simd_active()) == NULL);
    }
    free(w); free(x); free(ref); free(ys); free(yv); free(xa);
}

/* Three matrices of one type in one herd_gemv_parts call: each result the
 * same bits as herd_gemv of that matrix alone. */
static void check_parts(herd_qtype t, int64_t cols)
{
    const int64_t rows[3] = {40, 16, 300};
    const size_t wb = herd_qrow_bytes(t, cols), xs = herd_gemv_act_bytes(t, cols);
    float *x = malloc(sizeof(float) * MAXN * cols);
    char *xa = malloc(xs * MAXN);
    void *w[3];
    float *y[3], *alone[3];
    herd_gemv_part parts[3];
    for (int p = 0; p < 3; p++) {
        w[p] = malloc(wb * rows[p]);
        y[p] = malloc(sizeof(float) * MAXN * rows[p]);
        alone[p] = malloc(sizeof(float) * MAXN * rows[p]);
        make(t, rows[p], cols, 0, w[p], x);
        parts[p] = (herd_gemv_part){y[p], w[p], rows[p]};
    }
    for (int n = 1; n <= 3; n++) {
        if (!herd_gemv_parts(parts, 3, t, x, cols, n, xa)) {
            CHECK(herd_simd_active() == HERD_SIMD_SCALAR ||
                  herd_gemv_kernel_at(t, herd_simd_active()) == NULL);
            break;
        }
        for (int p = 0; p < 3; p++) {
            CHECK(herd_gemv(alone[p], w[p], t, x, rows[p], cols, n, xa));
            CHECK_MSG(!memcmp(alone[p], y[p], sizeof(float) * n * rows[p]),
                      "%s parts: matrix %d n %d differs", herd_qtraits_get(t)->name, p, n);
        }
    }
    for (int p = 0; p < 3; p++) {
        free(w[p]); free(y[p]); free(alone[p]);
    }
    free(x); free(xa);
}

static float prep_scale = 1.0f;

/* The prepared quants and scales are herd_quantize_activation's. */
static void check_prepare(herd_qtype t, int64_t cols)
{
    float *x = malloc(cols * sizeof(float));
    for (int64_t i = 0; i < cols; i++)
        x[i] = prep_scale * qt_normal() * (i % 97 == 0 ? 30.0f : 1.0f);
    for (int64_t i = 64; i < 96; i++)
        x[i] = 0.0f;  /* a block of zeros */
    herd_block_q8_0 *q = malloc(herd_activation_bytes(t, cols));
    char *xa = malloc(herd_gemv_act_bytes(t, cols));
    CHECK_OK(herd_quantize_activation(t, x, cols, q));
    herd_gemv_prepare(t, x, cols, xa);
    int bad = 0;
    for (int64_t b = 0; b < cols / 32; b++) {
        const int8_t *qs;
        float d;
        int32_t corr;
        if (t == HERD_QTYPE_Q4_0) {
            const herd_gemv_q4_0_act *g = (const herd_gemv_q4_0_act *)xa + b / 4;
            int k = (int)(b % 4);
            int8_t tmp[32];
            memcpy(tmp, g->lo + 16 * k, 16);
            memcpy(tmp + 16, g->hi + 16 * k, 16);
            bad += memcmp(tmp, q[b].qs, 32) != 0;
            qs = q[b].qs, d = g->d[4 * k], corr = g->corr[4 * k] / -8;
        } else {
            const herd_gemv_q8_0_act *g = (const herd_gemv_q8_0_act *)xa + b / 2;
            int k = (int)(b % 2);
            bad += memcmp(g->qs + 32 * k, q[b].qs, 32) != 0;
            qs = q[b].qs, d = g->d[8 * k], corr = g->corr[8 * k] / -128;
        }
        int s = 0;
        for (int j = 0; j < 32; j++)
            s += qs[j];
        bad += d != herd_f16_to_f32(q[b].d) || corr != s;
    }
    CHECK_MSG(bad == 0, "%s prepare: %d blocks differ", herd_qtraits_get(t)->name, bad);
    char *xs = malloc(herd_gemv_act_bytes(t, cols));
    herd_gemv_prepare_scalar(t, x, cols, xs);
    CHECK_MSG(memcmp(xs, xa, herd_gemv_act_bytes(t, cols)) == 0, "%s prepare: scalar twin "
              "differs", herd_qtraits_get(t)->name);
    free(xs);
    free(x); free(q); free(xa);
}

int main(void)
{
    CHECK(herd_gemv_act_bytes(HERD_QTYPE_Q4_0, 100) == 0);
    CHECK(herd_gemv_act_bytes(HERD_QTYPE_Q4_0, 160) == 2 * sizeof(herd_gemv_q4_0_act));
    CHECK(herd_gemv_act_bytes(HERD_QTYPE_Q8_0, 96) == 0);
    CHECK(herd_gemv_act_bytes(HERD_QTYPE_Q4_K, 256) == 0);
    CHECK(herd_gemv_kernel_at(HERD_QTYPE_Q6_K, HERD_SIMD_SCALAR) == NULL);
    for (int scale = 0; scale < 3; scale++) {  /* normal, subnormal-f16 and large scales */
        prep_scale = scale == 0 ? 1.0f : scale == 1 ? 1e-4f : 3e4f;
        check_prepare(HERD_QTYPE_Q4_0, 2048);
        check_prepare(HERD_QTYPE_Q4_0, 160);  /* a last group of one block */
        check_prepare(HERD_QTYPE_Q8_0, 2048);
    }
    const herd_qtype types[] = {HERD_QTYPE_Q4_0, HERD_QTYPE_Q8_0, HERD_QTYPE_F16, HERD_QTYPE_F32};
    for (int i = 0; i < 4; i++) {
        const int quant = i < 2;
        run_case(types[i], 37, 256, quant);   /* exact integer sums */
        run_case(types[i], 64, 1024, 0);      /* threaded in herd_gemv */
        run_case(types[i], 5, quant ? 384 : 100, 0);
        run_case(types[i], 40, 256, 0);       /* Q4_0: blocks order, Q8_0: lanes */
        run_case(types[i], 37, 256, 0);       /* lanes order, rounded scales */
        if (i == 0)  /* rows of 2, 3 and 5 blocks: a last, partial group */
            for (int c = 64; c <= 160; c += 32) {
                run_case(types[i], 40, c, 1);  /* blocks order */
                run_case(types[i], 37, c, 0);  /* lanes order */
            }
        if (!quant) {
            run_case(types[i], 9, 2053, 0);   /* float tails */
            run_case(types[i], 6, 172, 0);    /* F16: ggml_vec_dot_f16's order */
        }
        check_parts(types[i], 512);
    }
    TEST_END();
}

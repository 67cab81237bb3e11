/* herd_qgemm: the scalar kernel equals the float product of the dequantized
 * weights and the dequantized quantized activations (in double); the AMX
 * kernel (where the CPU has it) gives the scalar kernel's bits; a scratch
 * that forces several passes over the tokens changes nothing; shapes it does
 * not take fail as values. */
#include "quant_test.h"
#include "quant/qgemm.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static void *scratch_of(size_t bytes)
{
    return aligned_alloc(64, (bytes + 63) & ~(size_t)63);
}

static void test_type(herd_qtype t, int64_t rows, int64_t cols, int64_t n)
{
    const herd_qtraits *q = herd_qtraits_get(t), *a = herd_qtraits_get(q->vec_dot_type);
    const size_t wb = herd_qrow_bytes(t, cols), xb = herd_activation_bytes(t, cols);
    float *wf = malloc(sizeof(float) * rows * cols), *x = malloc(sizeof(float) * n * cols);
    uint8_t *w = malloc(wb * rows), *xq = malloc(xb);
    for (int64_t i = 0; i < rows * cols; i++)
        wf[i] = qt_normal();
    for (int64_t i = 0; i < n * cols; i++)
        x[i] = qt_normal() * (i % 7 == 0 ? 4.0f : 1.0f);
    for (int64_t r = 0; r < rows; r++)
        q->from_float(wf + r * cols, w + r * wb, cols);
    /* dequantized weights and activations */
    float *wd = malloc(sizeof(float) * rows * cols), *xd = malloc(sizeof(float) * n * cols);
    for (int64_t r = 0; r < rows; r++)
        q->to_float(w + r * wb, wd + r * cols, cols);
    for (int64_t j = 0; j < n; j++) {
        CHECK_OK(herd_quantize_activation(t, x + j * cols, cols, xq));
        a->to_float(xq, xd + j * cols, cols);
    }
    size_t big = herd_qgemm_min_scratch(t, cols) + (size_t)(n + 16) * cols * 2;
    void *s = scratch_of(big);
    float *y = malloc(sizeof(float) * n * rows), *y2 = malloc(sizeof(float) * n * rows);
    CHECK_OK(herd_qgemm(y, x, w, t, rows, cols, n, s, big, HERD_QGEMM_SCALAR));
    int near = 0;
    for (int64_t j = 0; j < n; j++)
        for (int64_t r = 0; r < rows; r++) {
            double ref = 0, mag = 0;
            for (int64_t i = 0; i < cols; i++) {
                ref += (double)wd[r * cols + i] * xd[j * cols + i];
                mag += fabs((double)wd[r * cols + i] * xd[j * cols + i]);
            }
            near += fabs(y[j * rows + r] - ref) <= 1e-5 * mag + 1e-6;
        }
    CHECK_MSG(near == rows * n, "%s: %d of %lld outputs off the dequantized product", q->name,
              near, (long long)(rows * n));
    /* the smallest scratch: one 16-token tile per pass */
    size_t small = herd_qgemm_min_scratch(t, cols);
    void *s2 = scratch_of(small);
    CHECK_OK(herd_qgemm(y2, x, w, t, rows, cols, n, s2, small, HERD_QGEMM_SCALAR));
    CHECK_MSG(memcmp(y, y2, sizeof(float) * n * rows) == 0, "%s: passes change the sums",
              q->name);
    if (herd_qgemm_available(HERD_QGEMM_AMX)) {
        memset(y2, 0, sizeof(float) * n * rows);
        CHECK_OK(herd_qgemm(y2, x, w, t, rows, cols, n, s, big, HERD_QGEMM_AMX));
        int same = 0;
        for (int64_t i = 0; i < n * rows; i++)
            same += y[i] == y2[i];
        CHECK_MSG(same == n * rows, "%s amx: %d of %lld outputs differ from scalar", q->name,
                  (int)(n * rows - same), (long long)(n * rows));
        CHECK_OK(herd_qgemm(y2, x, w, t, rows, cols, n, s2, small, HERD_QGEMM_AMX));
        CHECK_MSG(memcmp(y, y2, sizeof(float) * n * rows) == 0, "%s amx: passes differ",
                  q->name);
    }
    free(s); free(s2); free(y); free(y2);
    free(wf); free(x); free(w); free(xq); free(wd); free(xd);
}

static void test_errors(void)
{
    float y[64], x[64 * 32] = {0};
    uint8_t w[48 * 34] = {0};
    size_t need = herd_qgemm_min_scratch(HERD_QTYPE_Q8_0, 32);
    void *s = scratch_of(need);
    CHECK(!herd_qgemm_fits(HERD_QTYPE_Q8_0, 24, 32));
    CHECK(!herd_qgemm_fits(HERD_QTYPE_F16, 32, 32));
    CHECK(!herd_qgemm_fits(HERD_QTYPE_Q4_K, 32, 128));
    CHECK(herd_qgemm_min_scratch(HERD_QTYPE_F32, 32) == 0);
    CHECK_FAILS(herd_qgemm(y, x, w, HERD_QTYPE_Q8_0, 24, 32, 2, s, need, HERD_QGEMM_SCALAR),
                HERD_E_UNSUPPORTED);
    CHECK_FAILS(herd_qgemm(y, x, w, HERD_QTYPE_Q8_0, 32, 32, 2, s, need - 64,
                           HERD_QGEMM_SCALAR), HERD_E_ARG);
    CHECK_FAILS(herd_qgemm(y, x, w, HERD_QTYPE_Q8_0, 32, 32, 2, (char *)s + 8, need - 8,
                           HERD_QGEMM_SCALAR), HERD_E_ARG);
    CHECK_OK(herd_qgemm(y, x, w, HERD_QTYPE_Q8_0, 32, 32, 0, s, need, HERD_QGEMM_SCALAR));
    free(s);
}

int main(void)
{
    printf("amx: %s\n", herd_qgemm_available(HERD_QGEMM_AMX) ? "yes" : "no");
    const herd_qtype types[] = {HERD_QTYPE_Q8_0, HERD_QTYPE_Q4_0, HERD_QTYPE_Q4_K,
                                HERD_QTYPE_Q6_K};
    for (int i = 0; i < 4; i++) {
        test_type(types[i], 32, 512, 17);
        test_type(types[i], 48, 768, 40);
        test_type(types[i], 16, 256, 1);
    }
    test_type(HERD_QTYPE_Q8_0, 16, 96, 33);
    test_errors();
    TEST_END();
}

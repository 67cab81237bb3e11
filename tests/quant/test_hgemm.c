/* herd_hgemm: F16 weights times float activations as three bfloat16
 * products. The scalar kernel is within 2e-5 (of the sum of magnitudes) of
 * the double product of the f16 weights and the float activations (rounding
 * x to f16, as llama.cpp does, costs up to 2.4e-4); the AMX-BF16 kernel
 * (where the CPU has it) agrees with the scalar one to float rounding; a
 * scratch that forces several passes changes nothing; other shapes fail as
 * values. */
#include "quant_test.h"
#include "base/half.h"
#include "quant/qgemm.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static void *scratch_of(size_t bytes)
{
    return aligned_alloc(64, (bytes + 63) & ~(size_t)63);
}

static void test_shape(int64_t rows, int64_t cols, int64_t n)
{
    uint16_t *w = malloc(2 * rows * cols);
    float *x = malloc(sizeof(float) * n * cols);
    for (int64_t i = 0; i < rows * cols; i++)
        w[i] = herd_f32_to_f16(qt_normal() * 0.1f);
    for (int64_t i = 0; i < n * cols; i++)
        x[i] = qt_normal() * (i % 5 == 0 ? 8.0f : 1.0f);
    size_t big = herd_hgemm_min_scratch(cols) + (size_t)(n + 32) * cols * 4;
    void *s = scratch_of(big);
    float *y = malloc(sizeof(float) * n * rows), *y2 = malloc(sizeof(float) * n * rows);
    double *mag = malloc(sizeof(double) * n * rows);
    CHECK_OK(herd_hgemm(y, x, w, rows, cols, n, s, big, HERD_QGEMM_SCALAR));
    int near = 0;
    for (int64_t j = 0; j < n; j++)
        for (int64_t r = 0; r < rows; r++) {
            double ref = 0, m = 0;
            for (int64_t i = 0; i < cols; i++) {
                double p = (double)herd_f16_to_f32(w[r * cols + i]) * x[j * cols + i];
                ref += p;
                m += fabs(p);
            }
            mag[j * rows + r] = m;
            near += fabs(y[j * rows + r] - ref) <= 2e-5 * m;
        }
    CHECK_MSG(near == rows * n, "%lld x %lld: %d of %lld outputs off the double product",
              (long long)rows, (long long)cols, near, (long long)(rows * n));
    size_t small = herd_hgemm_min_scratch(cols);
    void *s2 = scratch_of(small);
    CHECK_OK(herd_hgemm(y2, x, w, rows, cols, n, s2, small, HERD_QGEMM_SCALAR));
    CHECK(memcmp(y, y2, sizeof(float) * n * rows) == 0);
    if (herd_hgemm_available(HERD_QGEMM_AMX)) {
        CHECK_OK(herd_hgemm(y2, x, w, rows, cols, n, s, big, HERD_QGEMM_AMX));
        int close = 0;
        for (int64_t i = 0; i < n * rows; i++)
            close += fabs((double)y2[i] - y[i]) <= 1e-6 * mag[i];
        CHECK_MSG(close == n * rows, "amx: %d of %lld outputs off the scalar kernel's", close,
                  (long long)(n * rows));
        float *y3 = malloc(sizeof(float) * n * rows);
        CHECK_OK(herd_hgemm(y3, x, w, rows, cols, n, s2, small, HERD_QGEMM_AMX));
        CHECK(memcmp(y2, y3, sizeof(float) * n * rows) == 0);
        free(y3);
    }
    free(w); free(x); free(s); free(s2); free(y); free(y2); free(mag);
}

static void test_errors(void)
{
    float y[64], x[64] = {0};
    uint16_t w[32 * 32] = {0};
    size_t need = herd_hgemm_min_scratch(32);
    void *s = scratch_of(need);
    CHECK(!herd_hgemm_fits(HERD_QTYPE_F16, 24, 32));
    CHECK(!herd_hgemm_fits(HERD_QTYPE_F16, 32, 48));
    CHECK(!herd_hgemm_fits(HERD_QTYPE_Q8_0, 32, 32));
    CHECK(herd_hgemm_min_scratch(48) == 0);
    CHECK_FAILS(herd_hgemm(y, x, w, 24, 32, 2, s, need, HERD_QGEMM_SCALAR), HERD_E_UNSUPPORTED);
    CHECK_FAILS(herd_hgemm(y, x, w, 32, 32, 2, s, need - 64, HERD_QGEMM_SCALAR), HERD_E_ARG);
    CHECK_OK(herd_hgemm(y, x, w, 32, 32, 0, s, need, HERD_QGEMM_SCALAR));
    free(s);
}

int main(void)
{
    printf("amx-bf16: %s\n", herd_hgemm_available(HERD_QGEMM_AMX) ? "yes" : "no");
    test_shape(32, 512, 17);
    test_shape(48, 96, 40);
    test_shape(16, 64, 1);
    test_shape(32, 256, 33);
    test_shape(16, 2048 + 96, 18); /* two K-chunks */
    test_errors();
    TEST_END();
}

/* herd_qmatvec and herd_qmatmul: each output is the dot product of its
 * weight row and activation (the same kernel, so equal), close to the float
 * product of the dequantized matrix; threads change nothing; bad arguments
 * fail as values. */
#include "quant_test.h"
#include "base/half.h"
#include <math.h>
#include <omp.h>

static void test_type(herd_qtype t, int64_t rows, int64_t cols, int64_t n)
{
    const herd_qtraits *q = herd_qtraits_get(t);
    const size_t wb = herd_qrow_bytes(t, cols), xb = herd_activation_bytes(t, cols);
    CHECK(wb > 0 && xb > 0);
    float *wf = malloc(sizeof(float) * rows * cols), *x = malloc(sizeof(float) * n * cols);
    float *out = malloc(sizeof(float) * n * rows), *one = malloc(sizeof(float) * rows);
    unsigned char *w = malloc(wb * rows), *xq = malloc(xb * n);
    for (int64_t i = 0; i < rows * cols; i++)
        wf[i] = qt_normal();
    for (int64_t i = 0; i < n * cols; i++)
        x[i] = qt_normal();
    for (int64_t r = 0; r < rows; r++)
        q->from_float(wf + r * cols, w + r * wb, cols);
    for (int64_t t2 = 0; t2 < n; t2++)
        CHECK_OK(herd_quantize_activation(t, x + t2 * cols, cols, xq + t2 * xb));
    CHECK_OK(herd_qmatmul(out, w, t, xq, rows, cols, n));
    int same = 0, near = 0;
    float *wd = malloc(sizeof(float) * cols), *xd = malloc(sizeof(float) * cols);
    const herd_qtraits *a = herd_qtraits_get(q->vec_dot_type);
    for (int64_t t2 = 0; t2 < n; t2++) {
        CHECK_OK(herd_qmatvec(one, w, t, xq + t2 * xb, rows, cols));
        a->to_float(xq + t2 * xb, xd, cols);
        for (int64_t r = 0; r < rows; r++) {
            float d = q->vec_dot(cols, w + r * wb, xq + t2 * xb);
            same += out[t2 * rows + r] == d && one[r] == d;
            q->to_float(w + r * wb, wd, cols);
            double ref = 0, mag = 0;
            for (int64_t i = 0; i < cols; i++) {
                ref += (double)wd[i] * xd[i];
                mag += fabs((double)wd[i] * xd[i]);
            }
            near += fabs(d - ref) <= 1e-5 * mag;
        }
    }
    CHECK_MSG(same == rows * n, "%s: %d of %lld outputs are not the row's dot", q->name, same,
              (long long)(rows * n));
    CHECK_MSG(near == rows * n, "%s: %d of %lld outputs off the dequantized product", q->name,
              near, (long long)(rows * n));
    /* one thread gives the same numbers */
    int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    float *out1 = malloc(sizeof(float) * n * rows);
    CHECK_OK(herd_qmatmul(out1, w, t, xq, rows, cols, n));
    CHECK(memcmp(out, out1, sizeof(float) * n * rows) == 0);
    omp_set_num_threads(threads);
    free(out1);
    free(wd); free(xd); free(wf); free(x); free(out); free(one); free(w); free(xq);
}

static void test_errors(void)
{
    float x[512], out[4];
    unsigned char w[2048], xq[2048];
    memset(x, 0, sizeof x);
    memset(w, 0, sizeof w);
    CHECK_FAILS(herd_quantize_activation(HERD_QTYPE_Q4_K, x, 100, xq), HERD_E_ARG);
    CHECK_FAILS(herd_quantize_activation((herd_qtype)99, x, 256, xq), HERD_E_UNSUPPORTED);
    CHECK_FAILS(herd_quantize_activation(HERD_QTYPE_Q8_K, x, 256, xq), HERD_E_UNSUPPORTED);
    CHECK_FAILS(herd_qmatvec(out, w, HERD_QTYPE_Q4_0, xq, 4, 48), HERD_E_ARG);
    CHECK_FAILS(herd_qmatvec(out, w, HERD_QTYPE_Q6_K, xq, 4, 0), HERD_E_ARG);
    CHECK_FAILS(herd_qmatvec(NULL, w, HERD_QTYPE_Q8_0, xq, 4, 64), HERD_E_ARG);
    CHECK_FAILS(herd_qmatmul(out, w, HERD_QTYPE_Q8_0, xq, -1, 64, 1), HERD_E_ARG);
    CHECK_OK(herd_qmatvec(NULL, NULL, HERD_QTYPE_Q8_0, NULL, 0, 64));
    CHECK(herd_activation_bytes(HERD_QTYPE_Q4_0, 64) == 68);
    CHECK(herd_activation_bytes(HERD_QTYPE_Q6_K, 512) == 584);
    CHECK(herd_activation_bytes(HERD_QTYPE_BF16, 10) == 40);
    CHECK(herd_activation_bytes(HERD_QTYPE_Q4_K, 100) == 0);
    /* an all-zero activation quantizes to zero scales: the products are 0 */
    CHECK_OK(herd_quantize_activation(HERD_QTYPE_Q4_K, x, 512, xq));
    herd_quantize_q4_K(x, w, 512);
    CHECK_OK(herd_qmatvec(out, w, HERD_QTYPE_Q4_K, xq, 1, 512));
    CHECK(out[0] == 0.0f);
}

int main(void)
{
    test_type(HERD_QTYPE_Q8_0, 67, 96, 5);
    test_type(HERD_QTYPE_Q4_0, 130, 256, 3);
    test_type(HERD_QTYPE_Q4_K, 70, 512, 4);
    test_type(HERD_QTYPE_Q6_K, 33, 768, 2);
    test_type(HERD_QTYPE_F16, 40, 100, 3);
    test_type(HERD_QTYPE_BF16, 17, 64, 2);
    test_type(HERD_QTYPE_F32, 9, 33, 2);
    test_type(HERD_QTYPE_Q4_K, 300, 1024, 1);  /* big enough to thread */
    test_errors();
    TEST_END();
}
